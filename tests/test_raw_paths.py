"""The raw-byte paths and pydicom's give the same output (issue 14).

Every sample and real KOS, SR, SEG, RTSTRUCT (and the other real objects) is
converted twice in process, once as read and once with
:func:`dicomsel.dicom.items.pydicom_only`: the FHIR output (bytes), the
warnings and the read results must be the same. So must the same files
rewritten with implicit VR little endian, with every sequence and item of
undefined length (as DCMTK-based writers make them), and with explicit VR big
endian (which the raw paths leave to pydicom).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicomsel.dicom import read_file, tags
from dicomsel.dicom.filereader import read_header_file
from dicomsel.dicom.items import get_numbers, get_seq, get_text, iter_seq, pydicom_only
from dicomsel.dicom.scanner import RawItem, Unsupported, split_items

from conftest import REALDATA, SAMPLES, realdata_files

_KINDS = ("ko_", "sr_", "seg_", "rtstruct_", "gsps_", "ann_")
FILES = [SAMPLES / p.name for p in sorted(SAMPLES.glob("*.dcm"))] + [
    REALDATA / name for kind in _KINDS for name in realdata_files(kind)
]
_UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian}


def _undefined_lengths(ds: Dataset) -> None:
    for elem in ds:
        if elem.VR == "SQ":
            elem.value.is_undefined_length = True
            elem.is_undefined_length = True
            for item in elem.value:
                item.is_undefined_length_sequence_item = True
                _undefined_lengths(item)


def _rewrite(src: Path, dst: Path, ts: UID, undefined: bool) -> Path:
    ds = dcmread(src)
    if ds.file_meta.TransferSyntaxUID not in _UNCOMPRESSED | {"1.2.840.10008.1.2.1.99"}:
        pytest.skip(f"{src.name}: compressed pixel data is not rewritten")
    if undefined:
        _undefined_lengths(ds)
    ds.file_meta.TransferSyntaxUID = ts
    if ts == ExplicitVRBigEndian:  # save_as keeps the endianness read
        dcmwrite(dst, ds, implicit_vr=False, little_endian=False, force_encoding=True)
    else:
        ds.save_as(dst, enforce_file_format=True)
    return dst


VARIANTS: dict[str, Callable[[Path, Path], Path]] = {
    "as-is": lambda src, tmp: src,
    "implicit": lambda src, tmp: _rewrite(src, tmp / "i.dcm", ImplicitVRLittleEndian, False),
    "undefined": lambda src, tmp: _rewrite(src, tmp / "u.dcm", ExplicitVRLittleEndian, True),
    "implicit-undefined": lambda src, tmp: _rewrite(
        src, tmp / "iu.dcm", ImplicitVRLittleEndian, True
    ),
    "big-endian": lambda src, tmp: _rewrite(src, tmp / "b.dcm", ExplicitVRBigEndian, True),
}


def _convert(path: Path, run_cli: Any) -> tuple[int, str, str]:
    code, out, err = run_cli("convert", path, "--format", "bundle")
    return code, out, re.sub(r" in [0-9.]+ s$", "", err, flags=re.MULTILINE)  # the summary's time


def _both(path: Path, run_cli: Any) -> tuple[Any, Any]:
    raw = (_convert(path, run_cli), _result(path))
    with pydicom_only():
        old = (_convert(path, run_cli), _result(path))
    return raw, old


def _result(path: Path) -> Any:
    try:
        r = read_file(path)
    except Exception as e:  # the same failure either way
        return type(e).__name__, str(e)
    return r.sop_class_uid, r.sop_instance_uid, r.selections, r.observations, r.warnings


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("src", FILES, ids=lambda p: p.name)
def test_raw_and_pydicom_paths_agree(src: Path, variant: str, tmp_path: Path, run_cli: Any) -> None:
    path = VARIANTS[variant](src, tmp_path)
    raw, old = _both(path, run_cli)
    (code, out, err), result = raw
    assert code in (0, 1)
    assert out == old[0][1]  # the FHIR Bundle, byte for byte
    assert err == old[0][2]  # the warnings as reported
    assert code == old[0][0]
    assert result == old[1]


def _kos_files() -> list[Path]:
    return [p for p in FILES if p.name.startswith(("ko_", "kos_"))]


@pytest.mark.parametrize("src", _kos_files(), ids=lambda p: p.name)
def test_undefined_length_kos_is_kept_raw_and_split(src: Path, tmp_path: Path) -> None:
    """dcmread does not parse the content and evidence: they reach the reader as raw items."""
    path = _rewrite(src, tmp_path / "u.dcm", ImplicitVRLittleEndian, True)
    ds = read_header_file(path).dataset
    for tag in (tags.ContentSequence, tags.CurrentRequestedProcedureEvidenceSequence):
        assert ds.get_item(tag).__class__.__name__ == "RawDataElement"
        items = list(iter_seq(ds, tag))
        assert items and all(type(i) is RawItem for i in items)
    with pydicom_only():
        ds = read_header_file(path).dataset
        assert ds.get_item(tags.ContentSequence).__class__.__name__ == "DataElement"
    study = next(
        iter_seq(read_header_file(path).dataset, tags.CurrentRequestedProcedureEvidenceSequence)
    )
    assert get_text(study, tags.StudyInstanceUID) == str(
        dcmread(src).CurrentRequestedProcedureEvidenceSequence[0].StudyInstanceUID
    )


def _el(tag: int, vr: bytes, data: bytes, implicit: bool) -> bytes:
    if implicit:
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(data)) + data
    if vr in (b"SQ", b"UN", b"OB", b"UT"):
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, len(data)) + data
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(data)) + data


def _undefined_sq(tag: int, items: list[bytes], implicit: bool) -> bytes:
    head = (
        struct.pack("<HHI", tag >> 16, tag & 0xFFFF, 0xFFFFFFFF)
        if implicit
        else struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, b"SQ", 0, 0xFFFFFFFF)
    )
    body = b"".join(
        struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + i + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        for i in items
    )
    return head + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


@pytest.mark.parametrize("implicit", [False, True])
def test_split_items_reads_undefined_lengths_and_implicit_vr(implicit: bool) -> None:
    sop = _el(tags.ReferencedSOPInstanceUID, b"UI", b"1.2.3\x00", implicit) + _el(
        tags.ReferencedSegmentNumber, b"US", struct.pack("<2H", 2, 7), implicit
    )
    item = _el(tags.ValueType, b"CS", b"IMAGE ", implicit) + _undefined_sq(
        tags.ReferencedSOPSequence, [sop], implicit
    )
    seq = _undefined_sq(tags.ContentSequence, [item, item], implicit)
    value = memoryview(seq)[8 if implicit else 12 :]  # the items and the delimiter
    first, second = split_items(value, ["ascii"], implicit)
    for it in (first, second):
        assert get_text(it, tags.ValueType) == "IMAGE"
        (ref,) = get_seq(it, tags.ReferencedSOPSequence)
        assert type(ref) is RawItem
        assert get_text(ref, tags.ReferencedSOPInstanceUID) == "1.2.3"
        assert get_numbers(ref, tags.ReferencedSegmentNumber) == [2, 7]
    with pytest.raises(Unsupported):  # an item without its delimitation item
        split_items(value[: len(value) - 16], ["ascii"], implicit)
