"""Scenario KOS files for tests, built with sample_dicom/kosgen.py and edited with pydicom."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydicom import config
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from kosgen import Ref, make_kos, save, uid

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ENH_MR = "1.2.840.10008.5.1.4.1.1.4.1"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
SR = "1.2.840.10008.5.1.4.1.1.88.22"

STUDY_A = uid("study", "A")
STUDY_B = uid("study", "B")
SERIES_A1 = uid("series", "A1")
SERIES_A2 = uid("series", "A2")
SERIES_B1 = uid("series", "B1")


def refs_basic() -> list[Ref]:
    """Two studies, three series: single-frame CT, frames of an enhanced MR, segments of a SEG."""
    return [
        Ref(STUDY_A, SERIES_A1, CT, uid("ct", 1), retrieve_ae="PACS_A"),
        Ref(STUDY_A, SERIES_A1, CT, uid("ct", 2), retrieve_ae="PACS_A"),
        Ref(STUDY_A, SERIES_A2, ENH_MR, uid("mr", 1), frames=(5, 2, 7)),
        Ref(
            STUDY_B,
            SERIES_B1,
            SEG,
            uid("seg", 1),
            segments=(2, 1),
            retrieve_url="https://pacs.example.org/dicomweb/studies/" + STUDY_B,
        ),
    ]


def basic_kos(**kw: object) -> Dataset:
    return make_kos(refs_basic(), uid=uid("kos", "basic"), series_uid=uid("kos-series"), **kw)  # type: ignore[arg-type]


def write(ds: Dataset, folder: Path, name: str) -> Path:
    return save(ds, folder / name)


def content_refs(ds: Dataset) -> list[Dataset]:
    """The Referenced SOP Sequence items of the content tree's IMAGE/COMPOSITE/WAVEFORM items."""
    return [
        item.ReferencedSOPSequence[0]
        for item in ds.ContentSequence
        if item.ValueType in ("IMAGE", "COMPOSITE", "WAVEFORM")
    ]


def empty_kos() -> Dataset:
    """A KOS with no evidence and no content items."""
    ds = basic_kos()
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence()
    ds.ContentSequence = Sequence()
    return ds


@contextmanager
def invalid_values_allowed() -> Iterator[None]:
    """Let pydicom store invalid values, to build bad input on purpose."""
    old = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        yield
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = old


def set_invalid(ds: Dataset, keyword: str, value: object) -> None:
    """Store an invalid value in ``ds`` without pydicom's validation."""
    with invalid_values_allowed():
        if keyword in ds:
            del ds[keyword]
        setattr(ds, keyword, value)
