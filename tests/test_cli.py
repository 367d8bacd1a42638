"""``dicomsel convert`` end to end: formats, report, exit codes, determinism, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, resources_of
from kosfiles import basic_kos, content_refs, empty_kos, invalid_values_allowed, set_invalid, write


@pytest.fixture
def kos(tmp_path: Path) -> Path:
    return write(basic_kos(tz_offset="+0100"), tmp_path, "kos.dcm")


def test_bundle_to_stdout(kos: Path, run_cli: Any) -> None:
    code, out, err = run_cli("convert", kos)
    assert code == 0, err
    resources_of(out)  # the Bundle and every resource valid against HL7's R5 package
    bundle = json.loads(out)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["ImagingSelection"] * 3 + ["Endpoint"] * 2
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        assert e["fullUrl"] == f"urn:uuid:{e['resource']['id']}"
        for ref in e["resource"].get("endpoint", ()):
            assert ref["reference"] in full_urls  # resolves inside the Bundle


def test_transaction_bundle_puts(kos: Path, run_cli: Any) -> None:
    code, out, _ = run_cli("convert", kos, "--format", "transaction")
    assert code == 0
    resources_of(out)
    bundle = json.loads(out)
    assert bundle["type"] == "transaction"
    for e in bundle["entry"]:
        r = e["resource"]
        assert e["request"] == {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        for ref in r.get("endpoint", ()):
            assert ref["reference"].startswith("Endpoint/")


def test_ndjson_one_resource_a_line(kos: Path, run_cli: Any) -> None:
    code, out, _ = run_cli("convert", kos, "--format", "ndjson")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 5
    assert len(resources_of(out)) == 5
    assert all(json.loads(line)["resourceType"] for line in lines)


def test_output_file_and_report(kos: Path, tmp_path: Path, run_cli: Any) -> None:
    out_file = tmp_path / "out.json"
    report = tmp_path / "report.json"
    (tmp_path / "notes.txt").write_text("not dicom")
    code, out, err = run_cli("convert", tmp_path, "-o", out_file, "--report", report)
    assert code == 0, err
    assert out == ""
    assert json.loads(out_file.read_text())["resourceType"] == "Bundle"
    rep = json.loads(report.read_text())
    status = {Path(i["path"]).name: i["status"] for i in rep["inputs"]}
    assert status == {"kos.dcm": "converted", "notes.txt": "skipped"}
    assert rep["summary"]["converted"] == 1 and rep["summary"]["skipped"] == 1
    converted = next(i for i in rep["inputs"] if i["status"] == "converted")
    assert len(converted["resources"]) == 5
    assert not list(tmp_path.glob(".dicomsel-*"))  # no temporary file left behind


def test_same_input_same_bytes(kos: Path, tmp_path: Path, run_cli: Any) -> None:
    for fmt in ("bundle", "transaction", "ndjson"):
        a = run_cli("convert", kos, "--format", fmt)[1]
        copy = tmp_path / "again" / "kos.dcm"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(kos.read_bytes())
        b = run_cli("convert", copy, "--format", fmt)[1]
        assert a == b and a


def test_strict_fails_on_warnings(tmp_path: Path, run_cli: Any) -> None:
    kos = write(basic_kos(), tmp_path, "k.dcm")  # no timezone: issued left out, a warning
    code, out, err = run_cli("convert", kos)
    assert code == 0 and "TimezoneOffsetFromUTC" in err
    code, out, err = run_cli("convert", kos, "--strict")
    assert code == 1 and out == ""
    assert "--strict" in err


def test_usage_errors(run_cli: Any) -> None:
    assert run_cli("convert")[0] == 2
    assert run_cli("convert", "x.dcm", "--format", "xml")[0] == 2
    assert run_cli("convert", "x.dcm", "--timezone", "CET")[0] == 2
    assert run_cli("bogus")[0] == 2


def _one_line_error(err: str, path: Path | str, reason: str) -> None:
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert errors, err
    assert any(str(path) in line and reason in line for line in errors), err
    assert "Traceback" not in err


def test_bad_non_dicom_file(tmp_path: Path, run_cli: Any) -> None:
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + b"x" * 300)
    code, out, err = run_cli("convert", bad)
    assert code == 1 and out == ""
    _one_line_error(err, bad, "not a DICOM file")


def test_bad_truncated_file(kos: Path, tmp_path: Path, run_cli: Any) -> None:
    data = kos.read_bytes()
    bad = tmp_path / "truncated.dcm"
    bad.write_bytes(data[: len(data) // 2])
    code, out, err = run_cli("convert", bad)
    assert code == 1 and out == ""
    _one_line_error(err, bad, "truncated")


def test_bad_kos_without_evidence_or_content(tmp_path: Path, run_cli: Any) -> None:
    bad = write(empty_kos(), tmp_path, "empty.dcm")
    code, out, err = run_cli("convert", bad)
    assert code == 1 and out == ""
    _one_line_error(err, bad, "references no instance")


def test_bad_invalid_uid(tmp_path: Path, run_cli: Any) -> None:
    ds = basic_kos()
    set_invalid(content_refs(ds)[1], "ReferencedSOPInstanceUID", "1.2.840.abc")
    with invalid_values_allowed():
        bad = write(ds, tmp_path, "baduid.dcm")
    code, out, err = run_cli("convert", bad)
    assert code == 1 and out == ""
    _one_line_error(err, bad, "ReferencedSOPInstanceUID (0008,1155)")


def test_bad_duplicate_frame(tmp_path: Path, run_cli: Any) -> None:
    ds = basic_kos()
    content_refs(ds)[2].ReferencedFrameNumber = [4, 4]
    bad = write(ds, tmp_path, "dupframe.dcm")
    code, out, err = run_cli("convert", bad)
    assert code == 1 and out == ""
    _one_line_error(err, bad, "duplicate")


def test_bad_empty_folder(tmp_path: Path, run_cli: Any) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli("convert", empty)
    assert code == 1 and out == ""
    _one_line_error(err, empty, "no files")


def test_bad_missing_path(tmp_path: Path, run_cli: Any) -> None:
    missing = tmp_path / "nope.dcm"
    code, out, err = run_cli("convert", missing)
    assert code == 1 and out == ""
    _one_line_error(err, missing, "no such file")


def test_partial_batch_exit_3_keeps_the_good(kos: Path, tmp_path: Path, run_cli: Any) -> None:
    bad = write(empty_kos(), tmp_path / "bad", "empty.dcm")
    report = tmp_path / "r.json"
    code, out, _ = run_cli("convert", kos, bad, tmp_path / "missing", "--report", report)
    assert code == 3
    assert len(resources_of(out)) == 5
    rep = json.loads(report.read_text())
    assert [i["status"] for i in rep["inputs"]] == ["converted", "failed", "failed"]
    assert all(i.get("reason") for i in rep["inputs"][1:])


def test_traceback_only_with_verbose(
    tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    module = importlib.import_module("dicomsel.pipeline")

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "run", boom)
    kos = write(basic_kos(), tmp_path, "k.dcm")
    code, _, err = run_cli("convert", kos)
    assert code == 1 and "internal error: RuntimeError: boom" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        run_cli("convert", kos, "-v")


def test_python_m_and_console_script(kos: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "dicomsel", "convert", str(kos), "--format", "ndjson"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 5
    version = subprocess.run(
        [sys.executable, "-m", "dicomsel", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert version.returncode == 0 and version.stdout.startswith("dicomsel ")
