"""The header of a well-formed little endian Part 10 file, read from its element headers.

pydicom's reader (``dcmread``) makes a Python call, a tag object and a
:class:`~pydicom.dataelem.RawDataElement` per element through a generator with
per-element checks; for a folder of plain images, whose readers need about
twenty of their two hundred elements, that parse is most of the conversion. This
module builds the same :class:`~pydicom.dataset.FileDataset` pydicom would, of
raw elements whose values pydicom converts when a reader first asks, from one
pass over the element headers of the memory-mapped file:

- the File Meta Information (explicit VR little endian, group 0002) and a
  dataset in Implicit VR Little Endian or any explicit VR little endian transfer
  syntax pydicom knows (the native and the encapsulated ones);
- reading stops where :func:`dicomsel.dicom.filereader.read_header_file` stops
  (Pixel Data, Float and Double Float Pixel Data, Per-frame Functional Groups
  Sequence), and the elements left unread are walked by their headers for the
  truncation note;
- an undefined-length sequence is kept raw (its items, without the Sequence
  Delimitation Item), as pydicom keeps a defined-length one, so a reader that
  splits sequences from their bytes gets them unparsed.

It reads only what it recognises exactly; anything else (no ``DICM`` prefix,
big endian, deflated, private transfer syntaxes, a Command Set, an unknown or
missing VR, an undefined length other than a sequence's, an element running
past the end of the file, a wrong File Meta Information Group Length, an empty
dataset) returns None, and pydicom reads the file and reports what is wrong
(:mod:`dicomsel.dicom.filereader`). ``tests/test_rawheader.py`` checks that both
readers (pydicom's under :func:`dicomsel.dicom.items.pydicom_only`) give the same
dataset on every real and sample file.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import (
    DataElement,
    RawDataElement,
    convert_raw_data_element,
    empty_value_for_VR,
)
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.valuerep import VR

from dicomsel.dicom.guard import PARSE_ERRORS
from dicomsel.dicom.items import raw_paths
from dicomsel.dicom.scanner import LONG_VRS, SEQUENCE_END, UNDEFINED, Scanner, Unsupported

__all__ = ["Header", "read_raw_header", "scan_unread", "unread_cut"]

#: Where reading stops (as in :mod:`dicomsel.dicom.filereader`): the three pixel data
#: elements and the Per-frame Functional Groups Sequence.
STOP_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010, 0x52009230})
_PER_FRAME = 0x52009230

_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")
_U32 = struct.Struct("<I")
#: explicit VRs as pydicom names them, by their two bytes
_VRS = {v.value.encode(): v.value for v in VR}
_META_START = 132  # 128-byte preamble and "DICM"


class Header:
    """What :func:`read_raw_header` read.

    Parameters
    ----------
    dataset : pydicom.dataset.FileDataset
    implicit : bool
        Whether the dataset has implicit VR.
    stopped_at : int or None
        The file offset of the element reading stopped at, None at the end of the file.
    stop_tag : int or None
        That element's tag.
    unread_cut : int or None
        The tag of an element after ``stopped_at`` that runs past the end of the file.
    per_frame_items : list of (int, int) or None
        When reading stopped at the Per-frame Functional Groups Sequence and no
        element is cut: the (content position, length) of each of its items.
    """

    __slots__ = (
        "dataset",
        "implicit",
        "per_frame_items",
        "stop_tag",
        "stopped_at",
        "unread_cut",
    )

    def __init__(
        self,
        dataset: FileDataset,
        implicit: bool,
        stopped_at: int | None,
        stop_tag: int | None,
        unread_cut: int | None,
        per_frame_items: list[tuple[int, int]] | None = None,
    ) -> None:
        self.dataset = dataset
        self.implicit = implicit
        self.stopped_at = stopped_at
        self.stop_tag = stop_tag
        self.unread_cut = unread_cut
        self.per_frame_items = per_frame_items


def read_raw_header(path: str) -> Header | None:
    """Read a little endian Part 10 file's header from its element headers, or None.

    Parameters
    ----------
    path : str

    Returns
    -------
    Header or None
        None when the file is anything but a plainly well-formed little
        endian Part 10 file (pydicom then reads it, and reports).

    Raises
    ------
    OSError
        When the file cannot be opened (the caller reports it as pydicom's path does).
    """
    if not raw_paths():  # the tests' switch: pydicom reads everything
        return None
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < _META_START + 12:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[128:132] != b"DICM":
                return None
            try:
                return _read(buf, size)
            except (Unsupported, *PARSE_ERRORS):  # type: ignore[misc]  # pydicom reads it, and reports
                return None


def _read(buf: mmap.mmap, size: int) -> Header | None:
    meta_raw, after_meta = _elements(buf, _META_START, size, False, meta=True)
    if not meta_raw or after_meta is None:
        return None
    pos = after_meta
    meta = FileMetaDataset(meta_raw)
    meta.set_original_encoding(False, True, default_encoding)
    length = meta_raw.get(BaseTag(0x00020000))
    if length is not None and (
        not isinstance(length, RawDataElement)
        or length.VR != "UL"
        or length.length != 4
        or not isinstance(length.value, bytes)
        or _U32.unpack(length.value)[0] != pos - (_META_START + 12)
    ):
        return None  # pydicom notes it; let it read the file
    ts = meta.get("TransferSyntaxUID")
    if ts is None:
        return None
    ts = pydicom.uid.UID(str(ts))
    if ts == pydicom.uid.ImplicitVRLittleEndian:
        implicit = True
    elif (
        ts.is_transfer_syntax
        and not ts.is_implicit_VR
        and ts.is_little_endian
        and not ts.is_deflated
        and ts not in pydicom.uid.PrivateTransferSyntaxes
    ):
        implicit = False
    else:
        return None
    if pos + 8 > size or _IMPLICIT.unpack_from(buf, pos)[0] == 0x0000:
        return None  # nothing after the meta, or a Command Set: pydicom's cases
    looks_explicit = 0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B
    if looks_explicit == implicit:
        return None  # pydicom switches to the encoding the bytes show, and warns
    raw, stop = _elements(buf, pos, size, implicit, meta=False)
    if not raw:
        return None
    dataset = Dataset(raw)
    charset = raw.get(BaseTag(0x00080005))
    encoding: str | list[str] = default_encoding
    if charset is not None:  # as pydicom's read_dataset sets it
        assert isinstance(charset, RawDataElement)  # nothing converted it yet
        encoding = convert_encodings(convert_raw_data_element(charset).value)
    dataset.set_original_encoding(implicit, True, encoding)
    ds = FileDataset(None, dataset, bytes(buf[:128]), meta, implicit, True)  # type: ignore[arg-type]
    ds.set_original_encoding(implicit, True, dataset._character_set)
    if stop is None:
        return Header(ds, implicit, None, None, None)
    group, element, _ = _IMPLICIT.unpack_from(buf, stop)
    cut, spans = scan_unread(buf, stop, size, implicit)
    return Header(ds, implicit, stop, group << 16 | element, cut, spans)


def _elements(
    buf: mmap.mmap, pos: int, size: int, implicit: bool, meta: bool
) -> tuple[dict[BaseTag, RawDataElement | DataElement], int | None]:
    """The elements from ``pos``: the File Meta group, or the dataset up to a stop tag.

    Returns the raw elements by tag and, for the meta, the position after it; for
    the dataset, the offset of the element reading stopped at (None at the end).
    The loop is the hot path of a folder of images: names are bound locally and
    each raw element is made by ``tuple.__new__`` (the named tuple's own
    ``__new__`` is a Python function).
    """
    raw: dict[BaseTag, RawDataElement | DataElement] = {}
    unpack_explicit = _EXPLICIT.unpack_from
    unpack_implicit = _IMPLICIT.unpack_from
    unpack_u32 = _U32.unpack_from
    vrs, long_vrs, stops, make = _VRS, LONG_VRS, STOP_TAGS, tuple.__new__
    element_type = RawDataElement
    last = -1
    while pos < size:
        if pos + 8 > size:
            raise Unsupported("bytes after the last element")
        if implicit:
            group, element, length = unpack_implicit(buf, pos)
            vr = None
            vpos = pos + 8
        else:
            group, element, code, length = unpack_explicit(buf, pos)
            if meta and group != 0x0002:
                return raw, pos
            vr = vrs.get(code)
            if vr is None:
                raise Unsupported("no VR")
            if code in long_vrs:
                if pos + 12 > size:
                    raise Unsupported("past the end")
                (length,) = unpack_u32(buf, pos + 8)
                vpos = pos + 12
            else:
                vpos = pos + 8
        tag = group << 16 | element
        if tag <= last or group == 0xFFFE:
            raise Unsupported("elements out of order")  # pydicom keeps file order; let it
        last = tag
        if tag in stops and not meta:
            return raw, pos
        value: object
        if length == UNDEFINED:
            value, next_pos = _undefined(buf, vpos, size, implicit, tag, vr)
        else:
            next_pos = vpos + length
            if next_pos > size:
                raise Unsupported("past the end")
            value = buf[vpos:next_pos] if length else empty_value_for_VR(vr, raw=True)
        btag = BaseTag(tag)
        raw[btag] = make(element_type, (btag, vr, length, value, vpos, implicit, True, True, False))
        pos = next_pos
    return raw, (pos if meta else None)


def _undefined(
    buf: mmap.mmap, vpos: int, size: int, implicit: bool, tag: int, vr: str | None
) -> tuple[bytes, int]:
    """The items of an undefined-length sequence (without its delimiter), and where it ends."""
    if vr is None:
        if tag >> 16 & 1 or dictionary_VR(tag) != "SQ":
            raise Unsupported("undefined length")
    elif vr != "SQ":
        raise Unsupported("undefined length")
    end = Scanner(buf, implicit).skip(vpos, UNDEFINED)  # after the Sequence Delimitation Item
    if end > size or _U32.unpack_from(buf, end - 8)[0] != _SEQUENCE_END_U32:
        raise Unsupported("sequence delimiter")
    return buf[vpos : end - 8], end


#: (FFFE,E0DD) read as one little endian 32-bit number
_SEQUENCE_END_U32 = (SEQUENCE_END & 0xFFFF) << 16 | SEQUENCE_END >> 16


def unread_cut(buf: Any, pos: int, size: int, implicit: bool) -> int | None:
    """The tag of an element from ``pos`` on that runs past the end of the file, or None.

    Parameters
    ----------
    buf : bytes-like
        The file's bytes (little endian elements from ``pos``).
    pos, size : int
        Where to start, and the file's size.
    implicit : bool
        Whether the elements have implicit VR.

    Returns
    -------
    int or None
        None also when there is no element header at ``pos`` (the truncation check's business).
    """
    return scan_unread(buf, pos, size, implicit)[0]


def scan_unread(
    buf: Any, pos: int, size: int, implicit: bool
) -> tuple[int | None, list[tuple[int, int]] | None]:
    """:func:`unread_cut`, and the items of the Per-frame Functional Groups Sequence at ``pos``.

    The walk that checks the elements left unread for a cut passes over every
    item of that sequence anyway; their (content position, length) spans are
    kept, so that a reader needs not walk the sequence again.

    Returns
    -------
    tuple
        The tag of the element cut by the end of the file, or None; the spans of
        the sequence's items when ``pos`` holds that sequence, else None.
    """
    scanner = Scanner(buf, implicit)
    spans = None
    first = True
    while pos < size:
        tag = None
        try:
            tag, length, vpos = scanner.header(pos)
            if first and tag == _PER_FRAME:
                try:
                    spans, pos = scanner.items_and_end(vpos, length)
                    continue
                except Unsupported:  # not items: walked as any element (a cut, or the reader's)
                    spans = None
            pos = scanner.skip(vpos, length)
        except Unsupported:
            return tag, None
        finally:
            first = False
    return None, spans
