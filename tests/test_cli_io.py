"""The CLI's files: /dev/null, output checks before any work, --report -, stdin (issue 10, 7)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from conftest import SAMPLES, resources_of

KOS = SAMPLES / "kos_single_frame.dcm"


class _Stdin:
    """What ``sys.stdin`` offers: text and a binary ``buffer``."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def read(self) -> str:
        return self.buffer.read().decode("utf-8")

    def close(self) -> None:  # what a forked worker does to its stdin
        self.buffer.close()


def _fhir(tmp_path: Path, run_cli: Any) -> Path:
    code, out, err = run_cli("convert", KOS, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0, err
    path = tmp_path / "in.ndjson"
    path.write_text(out)
    return path


def test_convert_to_dev_null_keeps_the_device(run_cli: Any) -> None:
    code, _, err = run_cli("convert", KOS, "-o", "/dev/null")
    assert code == 0, err
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_convert_to_a_fifo(tmp_path: Path, run_cli: Any) -> None:
    import threading

    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run_cli("convert", KOS, "-o", fifo, "--timezone", "+00:00")
    reader.join(timeout=60)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    resources_of(got[0].decode("utf-8"))


def test_output_mode_follows_umask(tmp_path: Path, run_cli: Any) -> None:
    old = os.umask(0o022)
    try:
        code, _, err = run_cli(
            "convert", KOS, "-o", tmp_path / "o.json", "--report", tmp_path / "r.json"
        )
    finally:
        os.umask(old)
    assert code == 0, err
    for name in ("o.json", "r.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("option", "where"),
    [("-o", "missing-folder"), ("--report", "missing-folder"), ("--report", "existing-folder")],
)
def test_convert_bad_output_path_is_a_usage_error_before_any_work(
    tmp_path: Path, run_cli: Any, option: str, where: str
) -> None:
    bad = tmp_path / "missing" / "out.json" if where == "missing-folder" else tmp_path
    other = ["--report", tmp_path / "r.json"] if option == "-o" else ["-o", tmp_path / "o.json"]
    code, out, err = run_cli("convert", KOS, option, bad, *other)
    assert code == 2, err
    assert err.count("\n") == 1 and f"{option}: " in err and "internal error" not in err
    assert out == "" and "converted" not in err  # nothing converted, no summary
    assert not (tmp_path / "missing").exists()
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "o.json").exists()


def test_fhir_convert_bad_output_paths(tmp_path: Path, run_cli: Any) -> None:
    src = _fhir(tmp_path, run_cli)
    code, _, err = run_cli("fhir-convert", src, "--to", "r5-snapshot1", "-o", tmp_path / "no" / "x")
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli("fhir-convert", src, "--to", "r5-snapshot1", "--report", tmp_path)
    assert code == 2 and "is a folder" in err


def test_to_kos_missing_folder_is_not_created(tmp_path: Path, run_cli: Any) -> None:
    src = _fhir(tmp_path, run_cli)
    missing = tmp_path / "missing"
    code, out, err = run_cli("to-kos", src, "--context", KOS, "-o", f"{missing}/")
    assert code == 2 and "does not exist" in err and out == ""
    assert not missing.exists()
    code, _, err = run_cli("to-kos", src, "--context", KOS, "-o", missing / "sub" / "k.dcm")
    assert code == 2 and not missing.exists()


def test_report_dash_goes_to_stdout(tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("convert", KOS, "-o", tmp_path / "o.json", "--report", "-")
    assert code == 0, err
    report = json.loads(out)
    assert report["summary"]["converted"] == 1
    assert not Path("-").exists()
    src = _fhir(tmp_path, run_cli)
    code, out, err = run_cli(
        "fhir-convert", src, "--to", "r5-snapshot1", "-o", tmp_path / "s.json", "--report", "-"
    )
    assert code == 0, err
    assert json.loads(out)["summary"]["converted"] == 1


def test_report_and_output_both_on_stdout_is_a_usage_error(run_cli: Any) -> None:
    code, out, err = run_cli("convert", KOS, "--report", "-")
    assert code == 2 and out == "" and "standard output" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_convert_reads_one_object_from_stdin(
    tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    expected = run_cli("convert", KOS, "--timezone", "+00:00")[1]
    monkeypatch.setattr("sys.stdin", _Stdin(KOS.read_bytes()))
    report = tmp_path / "r.json"
    code, out, err = run_cli(
        "convert", "-", "--timezone", "+00:00", "--report", report, "--jobs", jobs
    )
    assert code == 0, err
    assert out == expected  # the same resources as from the file
    (entry,) = json.loads(report.read_text())["inputs"]
    assert entry["path"] == "<stdin>" and entry["status"] == "converted"


def test_convert_stdin_not_dicom_names_stdin(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(b"hello, not DICOM\n" * 20))
    code, out, err = run_cli("convert", "-")
    assert code == 1 and out == ""
    assert "<stdin>: not a DICOM file" in err and "dicomsel-stdin-" not in err


def test_convert_stdin_twice_is_a_usage_error(run_cli: Any) -> None:
    code, _, err = run_cli("convert", "-", "-")
    assert code == 2 and "once" in err


def test_convert_follows_symlinked_subfolders(tmp_path: Path, run_cli: Any) -> None:
    top = tmp_path / "top"
    top.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "k.dcm").write_bytes(KOS.read_bytes())
    (top / "link").symlink_to(elsewhere)
    (top / "loop").symlink_to(top)
    report = tmp_path / "r.json"
    code, _, err = run_cli("convert", top, "--report", report, "--timezone", "+00:00")
    assert code == 0, err
    paths = [e["path"] for e in json.loads(report.read_text())["inputs"]]
    assert paths == [str(top / "link" / "k.dcm")]


def test_temp_files_of_a_killed_run_swept_even_when_nothing_is_written(
    tmp_path: Path, run_cli: Any
) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    # the name a killed run's temp file has: the host tag taken from a real write's temp name
    probe: list[str] = []
    from dicomsel.io.files import TEMP_PREFIX, replace_atomically

    replace_atomically(
        str(tmp_path / "p"),
        lambda f: probe.extend(n for n in os.listdir(tmp_path) if n.startswith(TEMP_PREFIX)),
    )
    host = probe[0][len(TEMP_PREFIX) :].split("-")[1]
    left = tmp_path / f"{TEMP_PREFIX}{child.pid}-{host}-dead.json"
    left.write_text("half")
    not_dicom = tmp_path / "x.txt"
    not_dicom.write_text("not DICOM")
    code, _, _ = run_cli("convert", not_dicom, "-o", tmp_path / "o.json")
    assert code == 1 and not (tmp_path / "o.json").exists()
    assert not left.exists()


def test_convert_into_a_folder_writes_one_file_per_resource(tmp_path: Path, run_cli: Any) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    code, _, err = run_cli("convert", KOS, "-o", folder)
    assert code == 0, err
    code, out, err = run_cli("convert", KOS, "--format", "ndjson")
    expected = {f"{r['resourceType']}-{r['id']}.json": r for r in resources_of(out)}
    written = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.iterdir()}
    assert written == expected
    code, _, err = run_cli("convert", KOS, "-o", folder, "--xml")
    assert code == 2 and "--xml" in err


def test_missing_output_folder_is_a_usage_error(tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("convert", KOS, "-o", f"{tmp_path / 'missing'}/")
    assert code == 2 and "internal error" not in err and out == ""
    assert not (tmp_path / "missing").exists()
