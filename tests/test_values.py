"""Shared value helpers: zones, date-times, numbers, code keys, the issued instant."""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext, ReadOptions
from dicomsel.dicom.values import (
    ascii_value,
    code_key,
    date_time,
    issued,
    number_list,
    text,
    zone,
)
from dicomsel.model import Code

PLUS_1 = dt.timezone(dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("+0100", "+01:00"),
        ("-05:30", "-05:30"),
        (" +0000 ", "+00:00"),
        ("+1500", None),
        ("", None),
        (None, None),
        ("0100", None),
    ],
)
def test_zone(raw: str | None, want: str | None) -> None:
    assert zone(raw) == want


@pytest.mark.parametrize(
    ("raw", "default", "want"),
    [
        ("2024", None, ("2024", "")),
        ("20240102", None, ("2024-01-02", "")),
        ("20240102101500.5+0100", None, ("2024-01-02T10:15:00.5+01:00", "")),
        ("202401021015", "+02:00", ("2024-01-02T10:15:00+02:00", "")),
        ("202401021015", None, (None, "zone")),
        ("20241302101500", "+00:00", (None, "range")),
        ("x", None, (None, "format")),
    ],
)
def test_date_time(raw: str, default: str | None, want: tuple[str | None, str]) -> None:
    assert date_time(raw, default) == want


def test_number_list_and_text() -> None:
    assert number_list(None) == [] and number_list("") == []
    assert number_list("3") == ["3"] and number_list([1, 2]) == [1, 2]
    ds = Dataset()
    ds.PatientID = "  P1 "
    ds.SeriesNumber = "7"
    assert text(ds, tags.PatientID) == "P1"
    assert ascii_value(ds, tags.SeriesNumber) == "7"
    assert text(ds, tags.StudyInstanceUID) is None


def test_code_key_both_spellings() -> None:
    code = Code(value=None, text="Lesion")
    assert code_key(Code(value="113000", scheme="DCM")) == "DCM:113000"
    assert code_key(code) == ":Lesion"
    assert code_key(code, text_apart=True) == "::Lesion"


def test_issued_from_another_date_time_pair_names_it() -> None:
    ds = Dataset()
    ds.StructureSetDate = "20240102"
    ctx = ReadContext(path=None, options=ReadOptions(timezone="+01:00"))
    assert issued(ds, ctx, tags.StructureSetDate, tags.StructureSetTime) is None
    assert ctx.warnings == ["StructureSetTime (3006,0009) is missing: issued left out"]
    ds.StructureSetTime = "1015"
    assert issued(ds, ctx, tags.StructureSetDate, tags.StructureSetTime) == (
        dt.datetime(2024, 1, 2, 10, 15, tzinfo=PLUS_1)
    )
