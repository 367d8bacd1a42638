"""Logs: no PHI at default verbosity, skipped lines, the summary, the progress bar (issue 10, 8)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomsel.cli.logs import ProgressExecutor
from dicomsel.export.executors import SerialExecutor
from dicomsel.redact import MASK, PHI_KEYWORDS, phi_values, redact

from conftest import SAMPLES

KOS = SAMPLES / "kos_single_frame.dcm"


def _patient_id_as_ui(tmp_path: Path) -> tuple[Path, str]:
    """The sample KOS with Patient ID (0010,0020) encoded with VR UI instead of LO."""
    raw = KOS.read_bytes()
    at = raw.find(b"\x10\x00\x20\x00LO")  # explicit VR little endian: tag, then VR
    assert at > 0
    path = tmp_path / "bad_vr.dcm"
    path.write_bytes(raw[: at + 4] + b"UI" + raw[at + 6 :])
    return path, str(pydicom.dcmread(KOS).PatientID)


def test_pydicom_warning_quoting_patient_id_is_redacted(tmp_path: Path, run_cli: Any) -> None:
    path, patient_id = _patient_id_as_ui(tmp_path)
    report = tmp_path / "r.json"
    code, _, err = run_cli("convert", path, "-o", tmp_path / "o.json", "--report", report)
    assert code == 0, err
    assert "Invalid value for VR UI" in err  # the warning is still there...
    assert patient_id not in err  # ...without the value
    text = report.read_text()
    assert "Invalid value for VR UI" in text and patient_id not in text
    # the reader masks it where pydicom's warning becomes a report line: -vv too
    code, _, err = run_cli("convert", path, "-o", tmp_path / "o.json", "-vv")
    assert "Invalid value for VR UI" in err and patient_id not in err


def test_phi_values_and_redact() -> None:
    ds = Dataset()
    ds.PatientName = "Doe^Johnathan^^Dr"
    ds.PatientID = "MRN-0042"
    ds.PatientBirthDate = "19700101"
    ds.StudyDescription = "Chest"
    item = Dataset()
    item.PatientID = "ALT-77"
    ds.OtherPatientIDsSequence = [item]
    values = phi_values(ds)
    assert {"Doe^Johnathan^^Dr", "MRN-0042", "19700101", "ALT-77"} <= set(values)
    assert "Chest" not in values
    message = (
        "x.dcm: pydicom: Invalid value for VR DA: 'MRN-0042'. seen for DOE (Johnathan), "
        "born 19700101, also ALT-77; series 1.2.3 has 12 files"
    )
    out = redact(message, values)
    for secret in ("MRN-0042", "Johnathan", "19700101", "ALT-77"):
        assert secret not in out
    assert "series 1.2.3 has 12 files" in out and out.startswith("x.dcm: pydicom: ")
    assert MASK in out


def test_short_values_masked_as_whole_words_only() -> None:
    assert redact("value length (12) of P1 in P12", ["P1"]) == f"value length (12) of {MASK} in P12"


@pytest.mark.parametrize(
    "message",
    [
        "Invalid value for VR PN: 'Doe^John'. Please see <https://x> for allowed values.",
        "Unable to convert non-conformant value 'Doe^John' to 'DA' object",
        'Value "Doe^John" is not valid for elements with a VR of DS',
    ],
)
def test_pydicom_templates_masked_without_knowing_the_values(message: str) -> None:
    assert "Doe" not in redact(message)


def test_phi_keywords_cover_patient_identity() -> None:
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "OtherPatientIDs",
        "OtherPatientNames",
        "OtherPatientIDsSequence",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "IssuerOfPatientID",
        "PatientMotherBirthName",
    ):
        assert keyword in PHI_KEYWORDS
        assert pydicom.datadict.tag_for_keyword(keyword) is not None  # a real DICOM keyword


def test_to_kos_logs_mask_patient_ids(tmp_path: Path, run_cli: Any) -> None:
    code, out, _ = run_cli("convert", KOS, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0
    src = tmp_path / "in.ndjson"
    src.write_text(out)
    patient_id = str(pydicom.dcmread(KOS).PatientID)
    code, _, err = run_cli("to-kos", src, "--context", KOS, "-o", f"{tmp_path}/", "-v")
    assert code == 0, err
    assert patient_id not in err


# ---- skipped files and the summary at default verbosity


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(KOS, folder / "a.dcm")
    (folder / "notes.txt").write_text("not DICOM")
    (folder / "cut.dcm").write_bytes(KOS.read_bytes()[:700])
    return folder


def test_skipped_files_one_line_each_at_default_verbosity(tmp_path: Path, run_cli: Any) -> None:
    folder = _folder(tmp_path)
    code, _, err = run_cli("convert", folder, "--timezone", "+00:00", "-o", tmp_path / "o.json")
    assert code == 3
    lines = err.splitlines()
    skipped = [ln for ln in lines if "notes.txt" in ln]
    assert len(skipped) == 1 and skipped[0].startswith("dicomsel: skipped ")
    code, _, err = run_cli(
        "convert", folder, "--timezone", "+00:00", "-o", tmp_path / "o.json", "-v"
    )
    assert len([ln for ln in err.splitlines() if "notes.txt" in ln]) == 1  # not twice with -v


def test_summary_line_always(tmp_path: Path, run_cli: Any) -> None:
    folder = _folder(tmp_path)
    code, _, err = run_cli("convert", folder, "--timezone", "+00:00", "-o", tmp_path / "o.json")
    assert code == 3
    last = err.splitlines()[-1]
    assert last.startswith("dicomsel: 1 converted, 1 skipped, 1 failed; ")
    assert " resource(s) in " in last and last.endswith(" s")
    resources = len(json.loads((tmp_path / "o.json").read_text())["entry"])
    assert f"; {resources} resource(s) in " in last


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path, run_cli: Any) -> None:
    _, _, err = run_cli("convert", _folder(tmp_path), "-o", tmp_path / "o.json")
    assert "\r" not in err and "file/s" not in err and "it/s" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_count_rate_eta() -> None:
    term = _Terminal()
    progress = ProgressExecutor(SerialExecutor(), total=4, stream=term)
    assert progress.draws
    results = list(progress.map(lambda batch: [x * 2 for x in batch], [[1, 2], [3, 4]]))
    assert results == [[2, 4], [6, 8]]
    drawn = term.getvalue()
    assert "4/4" in drawn  # count of total
    assert "file/s" in drawn  # rate
    assert "<" in drawn  # elapsed<remaining: the ETA
    assert not ProgressExecutor(SerialExecutor(), stream=io.StringIO()).draws
