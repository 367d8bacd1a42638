"""Evidence sequences: one rule for an instance listed in two series, in every reader."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset

from dicomsel.dicom import read_dataset
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.evidence import CURRENT, OTHER, read_evidence

from kosfiles import CT, SERIES_A1, SERIES_A2, STUDY_A, basic_kos, invalid_values_allowed, write
from kosgen import uid


def _series(series_uid: str, instance_uid: str) -> Dataset:
    sop = Dataset()
    sop.ReferencedSOPClassUID = CT
    sop.ReferencedSOPInstanceUID = instance_uid
    item = Dataset()
    item.SeriesInstanceUID = series_uid
    item.ReferencedSOPSequence = [sop]
    return item


def _evidence(*series: Dataset) -> Dataset:
    study = Dataset()
    study.StudyInstanceUID = STUDY_A
    study.ReferencedSeriesSequence = list(series)
    return study


def test_an_instance_in_two_series_keeps_the_first_with_a_warning() -> None:
    ds = Dataset()
    twice = uid("ct", 1)
    ds.CurrentRequestedProcedureEvidenceSequence = [
        _evidence(_series(SERIES_A1, twice), _series(SERIES_A2, twice))
    ]
    ctx = ReadContext(path=None)
    ev = read_evidence(ds, ctx)
    assert ev.order == [twice]
    assert (ev.where[twice].study, ev.where[twice].series) == (STUDY_A, SERIES_A1)
    assert ev.where[twice].kind == "current"
    assert set(ev.endpoints) == {(STUDY_A, SERIES_A1), (STUDY_A, SERIES_A2)}
    assert len(ctx.warnings) == 1 and "listed in series" in ctx.warnings[0]


def test_other_evidence_is_read_when_asked() -> None:
    ds = Dataset()
    ds.PertinentOtherEvidenceSequence = [_evidence(_series(SERIES_A2, uid("ct", 9)))]
    assert read_evidence(ds, ReadContext(path=None)).order == []
    ev = read_evidence(ds, ReadContext(path=None), (CURRENT, OTHER))
    assert ev.where[uid("ct", 9)].kind == "other"


def test_tolerant_reading_reports_an_invalid_series_uid() -> None:
    ds = Dataset()
    with invalid_values_allowed():
        ds.CurrentRequestedProcedureEvidenceSequence = [_evidence(_series("1.02", uid("ct", 1)))]
    ctx = ReadContext(path=None)
    assert read_evidence(ds, ctx, tolerant=True).order == []
    assert ctx.warnings and "that series' evidence left out" in ctx.warnings[0]


def test_kos_with_an_instance_in_two_series_warns(tmp_path: Path) -> None:
    ds = basic_kos()
    first = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    listed = first.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence.append(
        _series("1.2.3.999", listed)
    )
    result = read_dataset(ds, str(write(ds, tmp_path, "k.dcm")))
    assert any(f"instance {listed} is listed in series" in w for w in result.warnings)
