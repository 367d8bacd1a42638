"""The byte scanner's walk over undefined lengths, against a recursive reading of PS3.5 7.5.

:meth:`dicomsel.dicom.scanner.Scanner.skip` walks nested undefined-length
sequences and items in one loop with a stack (issue 14: a SEG of 2,000 frames
has ~70,000 element headers under its Per-frame Functional Groups). The oracle
here is the plain recursive form of PS3.5 7.5.2-7.5.3 (a sequence is items up to
(FFFE,E0DD), an item elements up to (FFFE,E00D)), written from the standard, not
from the scanner. Both must end at the same byte, or both refuse, on every real
and sample file, their implicit and undefined-length rewrites, and random damage
of their bytes; and the nesting limit holds.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomsel.dicom.scanner import LONG_VRS, UNDEFINED, Scanner, Unsupported

from conftest import REALDATA, SAMPLES

_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


class _Refused(Exception):
    pass


def _header(buf: bytes, pos: int, implicit: bool) -> tuple[int, int, int]:
    if pos + 8 > len(buf):
        raise _Refused
    group, element, length = struct.unpack_from("<HHI", buf, pos)
    if group == 0xFFFE or implicit:
        return group << 16 | element, length, pos + 8
    vr = buf[pos + 4 : pos + 6]
    if vr in LONG_VRS:
        if pos + 12 > len(buf):
            raise _Refused
        (length,) = struct.unpack_from("<I", buf, pos + 8)
        if vr == b"UN" and length == UNDEFINED:
            raise _Refused
        return group << 16 | element, length, pos + 12
    if not (vr.isalpha() and vr.isupper()):
        raise _Refused
    return group << 16 | element, struct.unpack_from("<H", buf, pos + 6)[0], pos + 8


def _value_end(buf: bytes, pos: int, length: int, implicit: bool, depth: int) -> int:
    """After a value: defined lengths jump; an undefined one is a sequence of items."""
    if length != UNDEFINED:
        if pos + length > len(buf):
            raise _Refused
        return pos + length
    while True:
        tag, ln, vpos = _header(buf, pos, implicit)
        if tag == _SEQ_END:
            return vpos
        if tag != _ITEM:
            raise _Refused
        pos = _item_end(buf, vpos, ln, implicit, depth)


def _item_end(buf: bytes, pos: int, length: int, implicit: bool, depth: int) -> int:
    if length != UNDEFINED:
        return _value_end(buf, pos, length, implicit, depth)
    if depth >= Scanner.MAX_DEPTH:
        raise _Refused
    while True:
        tag, ln, vpos = _header(buf, pos, implicit)
        if tag == _ITEM_END:
            return vpos
        pos = _value_end(buf, vpos, ln, implicit, depth + 1)


def _ends(buf: bytes, implicit: bool, walk: str) -> list[object]:
    """Each top-level element's end from byte 132 on, by the scanner or the oracle."""
    out: list[object] = []
    pos = 132
    scanner = Scanner(buf, implicit)
    while pos < len(buf):
        try:
            if walk == "scanner":
                _, ln, vpos = scanner.header(pos)
                pos = scanner.skip(vpos, ln)
            else:
                _, ln, vpos = _header(buf, pos, implicit)
                pos = _value_end(buf, vpos, ln, implicit, 0)
        except (Unsupported, _Refused):
            out.append("refused")
            break
        out.append(pos)
    return out


def _files() -> Iterator[Path]:
    for folder in (REALDATA, SAMPLES):
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.is_file() and p.read_bytes()[128:132] == b"DICM":
                    yield p


def _rewrites(path: Path) -> Iterator[tuple[str, bytes, bool]]:
    """The file, and its implicit VR / undefined-length rewrites (pydicom writes them)."""
    import pydicom
    from pydicom.uid import ImplicitVRLittleEndian

    data = path.read_bytes()
    ds = pydicom.dcmread(path, force=True)
    implicit = ds.file_meta.get("TransferSyntaxUID") == ImplicitVRLittleEndian
    yield "as is", data, implicit
    for seq in ds.iterall():
        if seq.VR == "SQ":
            seq.is_undefined_length = True
            for item in seq.value:
                item.is_undefined_length_sequence_item = True
    for name, implicit_out in (("undefined", implicit), ("implicit+undefined", True)):
        if implicit_out:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        buf = io.BytesIO()
        ds.save_as(buf, implicit_vr=implicit_out, little_endian=True)
        yield name, buf.getvalue(), implicit_out


_FILES = list(_files())


@pytest.mark.skipif(not _FILES, reason="no real or sample DICOM files")
@pytest.mark.parametrize("path", _FILES, ids=lambda p: p.name)
def test_the_walk_ends_where_the_standard_says(path: Path) -> None:
    rng = random.Random(path.name)
    for name, data, implicit in _rewrites(path):
        expected = _ends(data, implicit, "oracle")
        assert _ends(data, implicit, "scanner") == expected, name
        for _ in range(8):  # damaged bytes: both refuse, or both end at the same places
            damaged = bytearray(data)
            for _ in range(max(1, len(data) // 2000)):
                damaged[rng.randrange(132, len(data))] = rng.randrange(256)
            buf = bytes(damaged)
            assert _ends(buf, implicit, "scanner") == _ends(buf, implicit, "oracle"), name


def _nested(depth: int) -> bytes:
    """An undefined-length sequence of ``depth`` nested undefined-length items (explicit VR)."""
    seq_head = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEFINED)
    item, item_end = (
        struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED),
        struct.pack("<HHI", 0xFFFE, 0xE00D, 0),
    )
    seq_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = b""
    for _ in range(depth):
        body = item + (seq_head + body + seq_end if body else b"") + item_end
    return b"\x00" * 132 + seq_head + body + seq_end


@pytest.mark.parametrize(
    "depth", [1, 2, Scanner.MAX_DEPTH - 1, Scanner.MAX_DEPTH, Scanner.MAX_DEPTH + 1, 150]
)
def test_the_nesting_limit_is_the_recursive_one(depth: int) -> None:
    buf = _nested(depth)
    expected = _ends(buf, False, "oracle")
    assert _ends(buf, False, "scanner") == expected
    assert (expected[-1] == "refused") == (depth > Scanner.MAX_DEPTH)


def _in_an_item(element: bytes) -> bytes:
    seq_head = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEFINED)
    item = struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED)
    ends = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return b"\x00" * 132 + seq_head + item + element + ends


@pytest.mark.parametrize(
    ("case", "element", "refused"),
    [
        ("text", struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 4) + b"ABCD", False),
        ("long", struct.pack("<HH2sHI", 0x0008, 0x0101, b"UT", 0, 2) + b"AB", False),
        ("UN undefined", struct.pack("<HH2sHI", 0x0009, 0x1010, b"UN", 0, UNDEFINED), True),
        ("no VR", struct.pack("<HH2sH", 0x0008, 0x0100, b"s\x01", 4) + b"ABCD", True),
        ("past the end", struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 400), True),
        ("item where an element is", struct.pack("<HHI", 0xFFFE, 0xE000, 0), False),
    ],
)
def test_what_an_item_may_hold(case: str, element: bytes, refused: bool) -> None:
    buf = _in_an_item(element)
    expected = _ends(buf, False, "oracle")
    assert (expected[-1] == "refused") == refused, case
    assert _ends(buf, False, "scanner") == expected, case


def test_a_sequence_holds_only_items() -> None:
    seq_head = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEFINED)
    element = struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 0)
    buf = b"\x00" * 132 + seq_head + element + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    assert _ends(buf, False, "scanner") == _ends(buf, False, "oracle") == ["refused"]
