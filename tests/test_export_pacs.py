"""``dicomsel export`` from a real Orthanc, over DICOMweb and DIMSE (issue 11, "Done when").

- what an export writes equals what convert writes for the same files, but for
  the Endpoints (which name the PACS);
- kill -9 three times during an export with --state, then the same command:
  every resource exactly once;
- instances that arrive later: only they are converted, their series re-emitted whole.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import REALDATA, SAMPLES, realdata_files
from pacs import CLI_AET
from test_export import _CLI, _ENV, _by_ref, _cli, _images, _kill_three_times, _kos, _lines


def _files() -> list[Path]:
    real = [REALDATA / n for n in realdata_files("")]
    samples = sorted(p for p in SAMPLES.iterdir() if p.suffix == ".dcm")
    return real + samples


def _without_endpoints(lines: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for ref, (res,) in _by_ref(lines).items():
        if res["resourceType"] != "Endpoint":
            out[ref] = {k: v for k, v in res.items() if k != "endpoint"}
    return out


def _convert(files: list[Path], tmp: Path) -> list[str]:
    folder = tmp / "files"
    folder.mkdir(exist_ok=True)
    for f in files:
        if not (folder / f.name).exists():
            os.symlink(f, folder / f.name)
    out = tmp / "convert.ndjson"
    _cli("convert", folder, "--format", "ndjson", "-o", out, "--timezone", "+00:00")
    return _lines(out)


@pytest.mark.parametrize("kind", ["dicomweb", "dimse", "dimse-move"])
def test_export_equals_convert_but_for_endpoints(orthanc: Any, tmp_path: Path, kind: str) -> None:
    orthanc.clear()
    files = [f for f in _files() if f.suffix == ".dcm"]
    orthanc.upload(files)
    source = orthanc.dicomweb if kind == "dicomweb" else orthanc.dimse
    extra = ["--move-port", str(orthanc.cli_move_port)] if kind == "dimse-move" else []
    out, report = tmp_path / "o.ndjson", tmp_path / "r.json"
    proc = _cli(
        "export", "--source", source, "--sink", f"ndjson:{out}", "--aet", CLI_AET,
        "--state", tmp_path / "s.sqlite", "--report", report, "--timezone", "+00:00", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = _lines(out)
    assert _without_endpoints(lines) == _without_endpoints(_convert(files, tmp_path))
    endpoints = [json.loads(x) for x in lines if '"resourceType":"Endpoint"' in x]
    assert len(endpoints) == 1
    (ep,) = endpoints
    if kind == "dicomweb":
        assert ep["address"] == orthanc.dicomweb
        assert ep["connectionType"][0]["coding"][0]["code"] == "dicom-wado-rs"
    else:
        assert ep["address"] == f"urn:dicom:ae:{orthanc.aet}"
    rep = json.loads(report.read_text())
    assert rep["summary"]["inputs"] == len(files)
    assert {i["status"] for i in rep["inputs"]} == {"converted"}


def test_query_narrows_the_export(orthanc: Any, tmp_path: Path) -> None:
    orthanc.clear()
    orthanc.upload(_files())
    out = tmp_path / "o.ndjson"
    _cli(
        "export", "--source", orthanc.dicomweb, "--sink", f"ndjson:{out}",
        "--query", "Modality=SR", "--timezone", "+00:00",
    )  # fmt: skip
    kinds = {json.loads(x)["resourceType"] for x in _lines(out)}
    assert "Observation" in kinds
    srs = [f for f in _files() if f.name.startswith("sr_")]
    assert _without_endpoints(_lines(out)) == _without_endpoints(_convert(srs, tmp_path))


def test_unknown_query_key_is_a_usage_error(orthanc: Any, tmp_path: Path) -> None:
    proc = _cli(
        "export", "--source", orthanc.dicomweb, "--sink", f"ndjson:{tmp_path / 'o'}",
        "--query", "Colour=blue", check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "not a DICOM keyword" in proc.stderr


def test_unreachable_pacs_is_an_error(tmp_path: Path) -> None:
    proc = _cli(
        "export", "--source", "dimse://NOBODY@127.0.0.1:9", "--sink", f"ndjson:{tmp_path / 'o'}",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "NOBODY" in proc.stderr


def test_new_instances_in_the_pacs_are_exported_next_run(orthanc: Any, tmp_path: Path) -> None:
    orthanc.clear()
    src = tmp_path / "in"
    _kos(src, 2)
    _images(src, 0, 6, series=2)
    orthanc.upload(sorted(src.iterdir()))
    out, state = tmp_path / "o.ndjson", tmp_path / "s.sqlite"
    argv = ("export", "--source", orthanc.dicomweb, "--sink", f"ndjson:{out}", "--state", state)
    _cli(*argv, "--timezone", "+00:00")
    first = _lines(out)
    more = tmp_path / "more"
    _images(more, 6, 4, series=2)
    orthanc.upload(sorted(more.iterdir()))
    report = tmp_path / "r.json"
    _cli(*argv, "--timezone", "+00:00", "--report", report)
    lines = _lines(out)
    assert lines[: len(first)] == first
    added = _by_ref(lines[len(first) :])
    assert sorted(r.split("/")[0] for r in added) == ["ImagingSelection", "ImagingSelection"]
    rep = json.loads(report.read_text())
    assert rep["summary"]["converted"] == 4 and rep["summary"]["earlier"] == 8
    latest = {ref: v[-1] for ref, v in _by_ref(lines).items()}
    for ref in added:
        assert len(latest[ref]["instance"]) == 5


@pytest.mark.slow
def test_kill_9_three_times_during_a_pacs_export(orthanc: Any, tmp_path: Path) -> None:
    orthanc.clear()
    src = tmp_path / "in"
    _kos(src, 300)
    _images(src, 0, 300, series=6)
    orthanc.upload(sorted(src.iterdir()))
    expected = _without_endpoints(_convert(sorted(src.iterdir()), tmp_path))
    out, state = tmp_path / "o.ndjson", tmp_path / "s.sqlite"
    argv = [
        *_CLI, "export", "--source", orthanc.dicomweb, "--sink", f"ndjson:{out}",
        "--state", str(state), "--timezone", "+00:00",
    ]  # fmt: skip
    _kill_three_times(argv, state, seed=2026)
    done = subprocess.run(argv, env=_ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = _lines(out)
    assert all(len(v) == 1 for v in _by_ref(lines).values()), "a resource written twice"
    assert _without_endpoints(lines) == expected
