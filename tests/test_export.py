"""``dicomsel export`` from folders: the same output as convert, resumable with --state (issue 11).

The PACS sources have their own tests (test_dicomweb.py, test_dimse.py); here the
source is a folder, so what is tested is the job: the ledger, the resume after
kill -9, incremental runs that re-emit a series whole, and the sinks.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from conftest import REALDATA, ROOT, SAMPLES, realdata_files
from kosfiles import refs_basic
from kosgen import make_kos, save, uid

_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
_CLI = (sys.executable, "-m", "dicomsel")


def _images(folder: Path, first: int, count: int, series: int = 4) -> None:
    """Header-only CT files (pydicom's CT_small with their own UIDs) in ``series`` series."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    folder.mkdir(parents=True, exist_ok=True)
    uids = [generate_uid(entropy_srcs=["export-test", "series", str(s)]) for s in range(series)]
    for i in range(first, first + count):
        ds = template.copy()
        ds.SeriesInstanceUID = uids[i % series]
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["export-test", "instance", str(i)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i
        ds.save_as(folder / f"ct{i:05}.dcm", enforce_file_format=True)


def _kos(folder: Path, count: int) -> None:
    """KOS files, each its own instance (and so its own resources)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        ds = make_kos(refs_basic(), uid=uid("export-kos", str(i)), series_uid=uid("kos-series"))
        save(ds, folder / f"kos{i:05}.dcm")


def _cli(*argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_CLI, *map(str, argv)], env=_ENV, capture_output=True, text=True, check=False
    )
    if check:
        assert proc.returncode in (0, 3), proc.stderr
    return proc


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _by_ref(lines: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        res = json.loads(line)
        out.setdefault(f"{res['resourceType']}/{res['id']}", []).append(res)
    return out


def _convert(src: Path, out: Path) -> list[str]:
    _cli("convert", src, "--format", "ndjson", "-o", out, "--timezone", "+00:00")
    return _lines(out)


def _items_done(state: Path) -> int:
    """How many items the ledger at ``state`` has committed (0 while it cannot be read)."""
    if not state.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=0.05)) as db:
            return int(db.execute("SELECT count(*) FROM item").fetchone()[0])
    except sqlite3.Error:  # not created yet, or locked for a moment
        return 0


def _kill_three_times(argv: list[str], state: Path, seed: int, high: float = 0.5) -> None:
    """Start ``argv`` three times (--jobs 1, 2, 1) and kill -9 its process group each time.

    Each kill comes a random 0 to ``high`` seconds after that run's first committed
    item, so it lands while the job works, however fast the machine or the code.
    """
    rng = random.Random(seed)
    killed = 0
    for k in range(3):
        before = _items_done(state)
        proc = subprocess.Popen(
            [*argv, "--jobs", str(1 + k % 2)],
            env=_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while proc.poll() is None and _items_done(state) <= before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, high))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers
            killed += 1
        proc.wait()
    assert killed, "the export ended before any kill: make the input bigger"


def test_export_of_a_folder_is_convert(tmp_path: Path) -> None:
    """Without --state, and with a new one: the NDJSON convert writes, byte for byte."""
    inputs = [SAMPLES, tmp_path / "real"]
    (tmp_path / "real").mkdir()
    for name in realdata_files(""):
        os.symlink(REALDATA / name, tmp_path / "real" / name)
    for k, src in enumerate(inputs):
        expected = _convert(src, tmp_path / f"c{k}.ndjson")
        assert expected
        plain = tmp_path / f"e{k}.ndjson"
        _cli("export", "--source", src, "--sink", f"ndjson:{plain}", "--timezone", "+00:00")
        assert _lines(plain) == expected
        kept = tmp_path / f"s{k}.ndjson"
        state = tmp_path / f"s{k}.sqlite"
        _cli(
            "export", "--source", src, "--sink", f"ndjson:{kept}", "--state", state,
            "--timezone", "+00:00",
        )  # fmt: skip
        assert _lines(kept) == expected


def test_second_run_writes_nothing_and_reports_the_first(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _kos(src, 5)
    _images(src, 0, 12)
    out, state, report = tmp_path / "o.ndjson", tmp_path / "s.sqlite", tmp_path / "r.json"
    args = ("export", "--source", src, "--sink", f"ndjson:{out}", "--state", state)
    first = _cli(*args, "--timezone", "+00:00")
    assert first.returncode == 0
    before = out.read_bytes()
    again = _cli(*args, "--timezone", "+00:00", "--report", report)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == before
    rep = json.loads(report.read_text())
    assert rep["summary"]["earlier"] == 17 and rep["summary"]["converted"] == 0
    assert {i["status"] for i in rep["inputs"]} == {"converted"}
    assert all(i["run"] == "earlier" for i in rep["inputs"])


def test_other_settings_refuse_the_state(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _kos(src, 2)
    state = tmp_path / "s.sqlite"
    out = tmp_path / "o.ndjson"
    _cli("export", "--source", src, "--sink", f"ndjson:{out}", "--state", state)
    other = _cli(
        "export", "--source", src, "--sink", f"ndjson:{out}", "--state", state,
        "--fhir", "r5-snapshot1", check=False,
    )  # fmt: skip
    assert other.returncode == 1
    assert "other settings" in other.stderr and "fhir: 'r5' -> 'r5-snapshot1'" in other.stderr


def test_a_shortened_output_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _kos(src, 3)
    state, out = tmp_path / "s.sqlite", tmp_path / "o.ndjson"
    args = ("export", "--source", src, "--sink", f"ndjson:{out}", "--state", state)
    _cli(*args)
    out.write_bytes(out.read_bytes()[:10])
    proc = _cli(*args, check=False)
    assert proc.returncode == 2 and "shorter than" in proc.stderr


def test_new_instances_re_emit_their_series_whole(tmp_path: Path) -> None:
    """A later run converts only what is new; a series that gained images is written whole."""
    src = tmp_path / "in"
    _kos(src, 3)
    _images(src, 0, 8, series=2)
    out, state = tmp_path / "o.ndjson", tmp_path / "s.sqlite"
    args = ("export", "--source", src, "--sink", f"ndjson:{out}", "--state", state)
    _cli(*args, "--timezone", "+00:00")
    first = _lines(out)
    _images(src, 8, 4, series=2)  # both series gain two images
    report = tmp_path / "r.json"
    _cli(*args, "--timezone", "+00:00", "--report", report)
    lines = _lines(out)
    assert lines[: len(first)] == first  # appended, never rewritten
    added = _by_ref(lines[len(first) :])
    assert {r.split("/")[0] for r in added} == {"ImagingSelection"}  # the two series only
    assert len(added) == 2
    rep = json.loads(report.read_text())
    assert rep["summary"]["converted"] == 4 and rep["summary"]["earlier"] == 11
    # the last version of each resource is what convert writes for the whole folder
    latest = {ref: versions[-1] for ref, versions in _by_ref(lines).items()}
    expected = {ref: v[0] for ref, v in _by_ref(_convert(src, tmp_path / "c.ndjson")).items()}
    assert latest == expected
    for ref in added:
        assert len(latest[ref]["instance"]) == 6


def test_dir_sink_resumes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _kos(src, 3)
    _images(src, 0, 4)
    folder, state = tmp_path / "out", tmp_path / "s.sqlite"
    args = ("export", "--source", src, "--sink", f"dir:{folder}", "--state", state)
    _cli(*args, "--timezone", "+00:00")
    names = sorted(p.name for p in folder.iterdir())
    expected = _by_ref(_convert(src, tmp_path / "c.ndjson"))
    assert names == sorted(f"{r.replace('/', '-')}.json" for r in expected)
    _images(src, 4, 4)
    _cli(*args, "--timezone", "+00:00")
    expected = _by_ref(_convert(src, tmp_path / "c2.ndjson"))
    for ref, (res,) in expected.items():
        assert json.loads((folder / f"{ref.replace('/', '-')}.json").read_text()) == res


def test_dry_run_lists_and_reads_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _kos(src, 2)
    state = tmp_path / "s.sqlite"
    out = tmp_path / "o.ndjson"
    proc = _cli("export", "--source", src, "--sink", f"ndjson:{out}", "--state", state, "--dry-run")
    assert len(proc.stdout.splitlines()) == 2
    assert not out.exists() and not state.exists()


@pytest.mark.slow
def test_kill_9_three_times_then_every_resource_once(tmp_path: Path) -> None:
    """kill -9 of the whole export (driver and workers) three times, then the same command."""
    src = tmp_path / "in"
    _kos(src, 400)
    _images(src, 0, 400, series=8)
    expected = _convert(src, tmp_path / "c.ndjson")
    out, state = tmp_path / "o.ndjson", tmp_path / "s.sqlite"
    argv = [
        *_CLI, "export", "--source", str(src), "--sink", f"ndjson:{out}",
        "--state", str(state), "--timezone", "+00:00",
    ]  # fmt: skip
    _kill_three_times(argv, state, seed=11)
    assert _items_done(state) > 0  # some progress was recorded before the kills
    done = subprocess.run(argv, env=_ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = _lines(out)
    refs = _by_ref(lines)
    assert all(len(v) == 1 for v in refs.values()), "a resource written twice"
    assert sorted(lines) == sorted(expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dicomsel-")]
