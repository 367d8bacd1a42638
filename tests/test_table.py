"""``dicomsel.measurements`` and ``dicomsel table``: every SR measurement with its image reference.

Expected values are extracted from the real TID 1500 SRs with pydicom here, walking
the content tree independently of dicomsel's readers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pydicom
import pytest

import dicomsel
from dicomsel.measurements import COLUMNS

from conftest import realdata, realdata_files

SRS = realdata_files("sr_tid1500_")


def _uids(item: Any) -> set[str]:
    """Referenced SOP Instance UIDs anywhere below ``item``."""
    out: set[str] = set()
    for child in getattr(item, "ContentSequence", []):
        for ref in getattr(child, "ReferencedSOPSequence", []):
            out.add(str(ref.ReferencedSOPInstanceUID))
        out |= _uids(child)
    return out


def _nums(item: Any, parent: Any) -> list[tuple[str, float, set[str], set[str]]]:
    """(concept code, value, UIDs below the NUM, UIDs below its container) of every NUM."""
    found = []
    for child in getattr(item, "ContentSequence", []):
        if child.ValueType == "NUM" and getattr(child, "MeasuredValueSequence", None):
            mv = child.MeasuredValueSequence[0]
            fp = getattr(mv, "FloatingPointValue", None)
            value = float(fp) if fp is not None else float(mv.NumericValue)
            code = str(child.ConceptNameCodeSequence[0].CodeValue)
            found.append((code, value, _uids(child), _uids(item)))
        found += _nums(child, item)
    return found


def test_real_srs_are_present() -> None:
    assert len(SRS) >= 2 or not SRS  # an empty list means the folder is absent (skips)


@pytest.mark.realdata
@pytest.mark.parametrize("name", SRS)
def test_every_measured_value_is_a_row_with_its_image(name: str) -> None:
    path = realdata(name)
    ds = pydicom.dcmread(path)
    expected = _nums(ds, None)
    assert expected
    rows = dicomsel.measurements([path])
    assert len(rows) == len(expected)
    for code, value, own, group in expected:
        matching = [r for r in rows if r["concept_code"] == code and r["value"] == value]
        assert matching, (code, value)
        refs = {u for r in matching for u in r["referenced_sop_instance_uid"].split(";") if u}
        if own:
            assert own <= refs, (code, own, refs)
        else:
            assert refs & group, (code, group, refs)
        for r in matching:
            assert r["sop_instance_uid"] == ds.SOPInstanceUID
            assert r["study_instance_uid"] == ds.StudyInstanceUID
            assert r["series_instance_uid"] == ds.SeriesInstanceUID


@pytest.mark.realdata
def test_graphic_data_and_evaluations() -> None:
    path = realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")
    ds = pydicom.dcmread(path)
    scoords = []

    def walk(item: Any) -> None:
        for c in getattr(item, "ContentSequence", []):
            if c.ValueType == "SCOORD":
                scoords.append((str(c.GraphicType), [float(v) for v in c.GraphicData]))
            walk(c)

    walk(ds)
    rows = dicomsel.measurements([path])
    got = {(r["graphic_type"], r["graphic_data"]) for r in rows}
    for gtype, data in scoords:
        assert (gtype, " ".join(repr(v) for v in data)) in got
    nodule = [r for r in rows if r["tracking_identifier"] == "LungNodule0001"]
    assert nodule and "Level of Significance=" in nodule[0]["qualitative_evaluations"]


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", ["bundle", "ndjson"])
def test_fhir_input_gives_the_same_rows(fmt: str, tmp_path: Path, run_cli: Any) -> None:
    path = realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")
    out = tmp_path / f"out.{fmt}"
    code, _, _ = run_cli("convert", path, "--format", fmt, "-o", out)
    assert code == 0
    fhir = dicomsel.measurements([out])
    dicom = dicomsel.measurements([path])
    assert len(fhir) == len(dicom)
    skip = {"source", "series_instance_uid", "observation_uid"}
    for a, b in zip(fhir, dicom, strict=True):
        assert {k: v for k, v in a.items() if k not in skip} == {
            k: v for k, v in b.items() if k not in skip
        }


@pytest.mark.realdata
def test_cli_csv_and_parquet(tmp_path: Path, run_cli: Any) -> None:
    path = realdata("sr_tid1500_dcmjs_small_scoord.dcm")
    code, out, _ = run_cli("table", path)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 2
    assert {float(r["value"]) for r in rows} == {r["value"] for r in dicomsel.measurements([path])}
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "m.parquet"
    assert run_cli("table", path, "-o", target)[0] == 0
    table = pq.read_table(target)
    assert table.column_names == list(COLUMNS)
    assert table.column("value").to_pylist() == [float(r["value"]) for r in rows]
    assert run_cli("table", path, "-o", tmp_path / "m.xlsx")[0] == 2


def test_not_dicom_is_a_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    with pytest.raises(dicomsel.DicomselError):
        dicomsel.measurements([bad])
