"""DICOM values of the KOS writer: the value type of each reference (``dicomsel.kos.values``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dicomsel.errors import InvalidInputError
from dicomsel.kos.values import is_valid_value, parse_instant, value_type

from conftest import ROOT

# SOP classes (PS3.4 B.5) and the IODs they store (PS3.3 Annex A): an IOD with the Image
# Pixel module (or a floating-point pixel module) is referenced as IMAGE, a waveform as
# WAVEFORM, every other one as COMPOSITE
FACTS = [
    ("1.2.840.10008.5.1.4.1.1.2", "IMAGE"),  # CT Image
    ("1.2.840.10008.5.1.4.1.1.4", "IMAGE"),  # MR Image
    ("1.2.840.10008.5.1.4.1.1.4.1", "IMAGE"),  # Enhanced MR Image
    ("1.2.840.10008.5.1.4.1.1.7", "IMAGE"),  # Secondary Capture Image
    ("1.2.840.10008.5.1.4.1.1.77.1.6", "IMAGE"),  # VL Whole Slide Microscopy Image
    ("1.2.840.10008.5.1.4.1.1.66.4", "IMAGE"),  # Segmentation
    ("1.2.840.10008.5.1.4.1.1.66.7", "IMAGE"),  # Label Map Segmentation (not in pydicom 3.0)
    ("1.2.840.10008.5.1.4.1.1.481.2", "IMAGE"),  # RT Dose: has pixel data
    ("1.2.840.10008.5.1.4.1.1.30", "IMAGE"),  # Parametric Map: Float Pixel Data
    ("1.2.840.10008.5.1.4.1.1.6", "IMAGE"),  # Ultrasound Image (retired)
    ("1.2.840.10008.5.1.4.1.1.88.11", "COMPOSITE"),  # Basic Text SR
    ("1.2.840.10008.5.1.4.1.1.88.33", "COMPOSITE"),  # Comprehensive SR
    ("1.2.840.10008.5.1.4.1.1.88.59", "COMPOSITE"),  # Key Object Selection Document
    ("1.2.840.10008.5.1.4.1.1.481.3", "COMPOSITE"),  # RT Structure Set
    ("1.2.840.10008.5.1.4.1.1.11.1", "COMPOSITE"),  # Grayscale Softcopy Presentation State
    ("1.2.840.10008.5.1.4.1.1.104.1", "COMPOSITE"),  # Encapsulated PDF
    ("1.2.840.10008.5.1.4.1.1.66", "COMPOSITE"),  # Raw Data
    ("1.2.840.10008.5.1.4.1.1.66.1", "COMPOSITE"),  # Spatial Registration
    ("1.2.840.10008.5.1.4.1.1.9.1.1", "WAVEFORM"),  # 12-lead ECG
    ("1.2.840.10008.5.1.4.1.1.9.1.2", "WAVEFORM"),  # General ECG
    ("1.2.840.10008.5.1.4.1.1.9.4.1", "WAVEFORM"),  # Basic Voice Audio
    ("1.2.3.4.5", "COMPOSITE"),  # private, unknown
]


@pytest.mark.parametrize(("uid", "expected"), FACTS)
def test_value_type_by_sop_class(uid: str, expected: str) -> None:
    assert value_type(uid) == expected


def test_image_table_is_current() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_image_sop_classes.py"), "--check"],
        env=env,
        check=False,
    )
    assert proc.returncode == 0, (
        "data/image_sop_classes.json is stale: run tools/gen_image_sop_classes.py"
    )


def test_image_table_names_storage_classes() -> None:
    table = json.loads((ROOT / "src/dicomsel/data/image_sop_classes.json").read_text("utf-8"))
    names = table["image_sop_classes"]
    assert all(uid.startswith("1.2.840.10008.") for uid in names)
    assert not any(uid.startswith("1.2.840.10008.5.1.4.1.1.9.") for uid in names)
    assert all("Storage" in name or "Real-Time" in name for name in names.values())


@pytest.mark.parametrize(
    ("vr", "value", "ok"),
    [
        ("PN", "Doe^Jane", True),
        ("LO", "a\\b", False),  # two values
        ("LO", "tab\there", False),  # a control character
        ("LT", "line\nbreak", True),  # text VRs take them
        ("AE", "A" * 17, False),  # 16 at most
        ("DA", "20240102", True),
        ("DA", "2024-01-02", False),
    ],
)
def test_is_valid_value(vr: str, value: str, ok: bool) -> None:
    assert is_valid_value(vr, value) is ok


def test_parse_instant() -> None:
    when, da, tm, zone = parse_instant("2024-01-02T10:15:00.1234567+01:00", "x")
    assert (da, tm, zone) == ("20240102", "101500.123456", "+0100")
    assert when.utcoffset() is not None and when.microsecond == 123456
    assert parse_instant("2024-01-02T10:15:00Z", "x")[1:] == ("20240102", "101500", "+0000")
    for bad in ("2024-01-02", "2024-01-02T10:15:00", "2024-13-02T10:15:00Z"):
        with pytest.raises(InvalidInputError):
            parse_instant(bad, "x")
