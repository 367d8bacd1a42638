"""The file reader: per-frame groups left to the read context, the byte scanner."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dicomsel.dicom import filereader, load, read_dataset, tags
from dicomsel.dicom.context import ReadContext, ReadOptions
from dicomsel.dicom.scanner import Scanner, Unsupported, element_end, split_items
from dicomsel.dicom.seg import per_frame_groups

from segfiles import ct_slices, make_seg, save


def test_per_frame_groups_are_deferred_on_the_context_not_the_dataset(tmp_path: Path) -> None:
    path = save(make_seg(ct_slices(3), 2), tmp_path / "seg.dcm")
    header = filereader.read_header_file(path)
    ds, deferred = header.dataset, header.deferred
    assert deferred is not None and deferred.pending
    assert (deferred.path, deferred.little, deferred.deflated) == (str(path), True, False)
    assert not any(k.startswith("_dicomsel") for k in vars(ds))
    assert "PerFrameFunctionalGroupsSequence" not in ds
    ctx = ReadContext(path=str(path), deferred=deferred)
    assert len(per_frame_groups(ds, ctx)) == 2
    assert not deferred.pending and ctx.pending_groups() is None
    assert len(ds.PerFrameFunctionalGroupsSequence) == 2


def test_load_then_read_dataset_finds_the_deferred_groups(tmp_path: Path) -> None:
    path = save(make_seg(ct_slices(3), 2), tmp_path / "seg.dcm")
    ds, _ = load(path)
    assert filereader.deferred_groups(ds) is not None
    result = read_dataset(ds, str(path), ReadOptions(seg_frames=True))
    assert len(result.selections) == 3


def test_an_in_memory_dataset_has_its_groups_in_itself(tmp_path: Path) -> None:
    ds = make_seg(ct_slices(3), 2)
    assert filereader.deferred_groups(ds) is None
    assert len(per_frame_groups(ds, ReadContext(path=None))) == 2


def _explicit(tag: int, vr: bytes, data: bytes) -> bytes:
    if vr in (b"SQ", b"UN", b"OB", b"UT"):
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, len(data)) + data
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(data)) + data


def _item(content: bytes) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(content)) + content


def test_split_items_and_scanner_agree() -> None:
    uid = b"1.2.3\x00"
    item = _explicit(tags.ReferencedSOPInstanceUID, b"UI", uid) + _explicit(
        tags.ReferencedFrameNumber, b"IS", b"1\\2 "
    )
    seq = _item(item) + _item(item)
    first, _ = split_items(memoryview(seq), ["ascii"])
    assert bytes(first.elements[tags.ReferencedSOPInstanceUID][1]) == uid
    assert first.elements[tags.ReferencedFrameNumber][0] == b"IS"
    scanner = Scanner(seq, implicit=False)
    items = scanner.items(0, len(seq))
    assert len(items) == 2
    (e1, e2) = scanner.elements(*items[1])
    assert e1[0] == tags.ReferencedSOPInstanceUID and scanner.text(e1[2], e1[1]) == "1.2.3"
    assert scanner.text(e2[2], e2[1]) == "1\\2"


def test_split_items_gives_up_on_undefined_lengths() -> None:
    undefined = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    with pytest.raises(Unsupported):
        split_items(memoryview(undefined), ["ascii"])
    with pytest.raises(Unsupported):
        Scanner(b"\x00" * 4, implicit=True).header(0)


def test_element_end(tmp_path: Path) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(_explicit(tags.PatientID, b"LO", b"ABCD") + _explicit(0x00081199, b"SQ", b""))
    assert element_end(str(path), 0, implicit=False, little=True) == 12
    assert element_end(str(path), 12, implicit=False, little=True) == 24
    assert element_end(str(path), 0, implicit=True, little=True) == 8 + 0x0004_4F4C
