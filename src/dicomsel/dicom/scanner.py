"""The raw-byte element scanner every fast path of the readers uses.

pydicom builds a :class:`~pydicom.dataset.Dataset` for every item of every
nested sequence it parses; for the large parts of a document that a reader
needs a few attributes of (the per-frame functional groups of a SEG, the
content items of a measurement report) that costs more than the rest of the
conversion. The fast paths read element headers from the bytes instead:

- :func:`split_items` / :func:`iter_items`: the items of a little endian
  sequence value (explicit or implicit VR, defined or undefined lengths), each
  as a tag -> (VR, value bytes) mapping (the KOS and SR content and evidence);
- :class:`Scanner`: a walker over a file's bytes, little endian, explicit or
  implicit VR, defined or undefined lengths (the SEG per-frame groups);
- :func:`element_end`: where an element whose header is at a file offset ends
  (the truncation check).

Anything a fast path does not expect raises :class:`Unsupported`, and the
reader falls back to pydicom, which reads (and reports) what is there.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ITEM",
    "ITEM_END",
    "LONG_VRS",
    "SEQUENCE_END",
    "TEXT_VRS",
    "UNDEFINED",
    "VRS",
    "RawItem",
    "Scanner",
    "Unsupported",
    "count_items",
    "element_end",
    "iter_items",
    "split_items",
]

#: Item (FFFE,E000), Item Delimitation Item (FFFE,E00D), Sequence Delimitation Item (FFFE,E0DD)
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
#: The value length of an undefined-length sequence or item
UNDEFINED = 0xFFFFFFFF
#: VRs whose explicit VR header has two reserved bytes and a 32-bit length (PS3.5 7.1.2)
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)

#: The VRs of PS3.5 Table 6.2-1: any other is left to pydicom (which reports it)
VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV".split()
)
#: VRs whose value is text
TEXT_VRS = frozenset(b"AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())

#: (group, element, 32-bit length): an implicit VR element header, or an item header
_HEADER = struct.Struct("<HHI")
#: (group, element, VR, 16-bit length): an explicit VR element header
_EXPLICIT = struct.Struct("<HH2sH")
#: an item tag read as one little endian 32-bit number, then its length
_ITEM_HEAD = struct.Struct("<II")
_ITEM_AS_U32 = 0xE000FFFE
_SEQUENCE_END_AS_U32 = 0xE0DDFFFE
_U32 = struct.Struct("<I")
#: every explicit VR :meth:`Scanner.header` accepts as a short one: two capitals
_TWO_CAPITALS = frozenset(bytes((a, b)) for a in range(65, 91) for b in range(65, 91))


class Unsupported(Exception):
    """Bytes a fast path does not handle: pydicom reads them instead."""


class RawItem:
    """A sequence item split from little endian bytes (explicit or implicit VR).

    Attributes
    ----------
    elements : dict
        Tag -> (VR, raw value); the VR is None in implicit VR. A reader may
        replace a value by what it decoded.
    encodings : list of str
        The Python codecs the item's text values decode with.
    implicit : bool
        Whether the item's elements have implicit VR (its sequences too).
    """

    __slots__ = ("elements", "encodings", "implicit")

    def __init__(
        self, elements: dict[int, tuple[Any, Any]], encodings: list[str], implicit: bool = False
    ) -> None:
        self.elements = elements
        self.encodings = encodings
        self.implicit = implicit


def split_items(buf: memoryview, encodings: list[str], implicit: bool = False) -> list[RawItem]:
    """The items of a little endian sequence value.

    Parameters
    ----------
    buf : memoryview
        The sequence value (its items, headers included); a Sequence
        Delimitation Item, when there, ends it.
    encodings : list of str
        Codecs handed to each item.
    implicit : bool
        Whether the elements have implicit VR.

    Returns
    -------
    list of RawItem

    Raises
    ------
    Unsupported
        On bytes that are not items and elements of that encoding, lengths past
        the value's end, a missing delimitation item, or UN of undefined length.
    """
    return list(iter_items(buf, encodings, implicit))


def iter_items(buf: memoryview, encodings: list[str], implicit: bool = False) -> Iterator[RawItem]:
    """The items of a little endian sequence value, one at a time (see :func:`split_items`).

    Items of defined or undefined length; elements of defined length, or
    sequences of undefined length (walked to their Sequence Delimitation Item,
    kept as the bytes of their items).

    Parameters
    ----------
    buf : memoryview
    encodings : list of str
    implicit : bool

    Yields
    ------
    RawItem

    Raises
    ------
    Unsupported
        As :func:`split_items`; raised when the bad item is reached.
    """
    pos, end = 0, len(buf)
    walker: Scanner | None = None
    while pos < end:
        if end - pos < 8:
            raise Unsupported("item header past the end")
        tag, length = _ITEM_HEAD.unpack_from(buf, pos)
        if tag == _SEQUENCE_END_AS_U32:
            return
        if tag != _ITEM_AS_U32:
            raise Unsupported("not an item")
        pos += 8
        undefined = length == UNDEFINED
        item_end = end if undefined else pos + length
        if item_end > end:
            raise Unsupported("item past the end")
        elements: dict[int, tuple[Any, Any]] = {}
        while True:
            if pos >= item_end:
                if undefined:
                    raise Unsupported("no item delimitation item")
                break
            if item_end - pos < 8:
                raise Unsupported("element header past the end")
            group, element, length = _HEADER.unpack_from(buf, pos)
            if group == 0xFFFE:
                if undefined and element == 0xE00D:
                    pos += 8
                    break
                raise Unsupported("a delimiter inside an item")
            if implicit:
                vr = None
                pos += 8
            else:
                vr = bytes(buf[pos + 4 : pos + 6])
                if vr in LONG_VRS:
                    if item_end - pos < 12:
                        raise Unsupported("element header past the end")
                    (length,) = _U32.unpack_from(buf, pos + 8)
                    pos += 12
                elif vr in VRS:
                    length >>= 16  # the 16-bit length after the VR
                    pos += 8
                else:
                    raise Unsupported("not explicit VR, or a VR pydicom should report")
            if length == UNDEFINED:
                if vr not in (None, b"SQ"):
                    raise Unsupported("undefined length of a value that is not a sequence")
                if walker is None:
                    walker = Scanner(buf, implicit)
                after = walker.skip(pos, UNDEFINED)
                if after > item_end:
                    raise Unsupported("sequence past the end of its item")
                elements[(group << 16) | element] = (vr, buf[pos : after - 8])
                pos = after
                continue
            if pos + length > item_end:
                raise Unsupported("value past the end of its item")
            elements[(group << 16) | element] = (vr, buf[pos : pos + length])
            pos += length
        yield RawItem(elements, encodings, implicit)


class Scanner:
    """A walker over little endian element headers in a buffer (a file's bytes).

    Parameters
    ----------
    buf : bytes-like
        The bytes (an :class:`mmap.mmap` of the file, say).
    implicit : bool
        Whether elements have implicit VR.
    """

    #: the deepest nesting of undefined-length items walked; deeper is left to pydicom
    MAX_DEPTH = 100

    def __init__(self, buf: Any, implicit: bool) -> None:
        self.buf = buf
        self.size = len(buf)
        self.implicit = implicit
        self.depth = 0

    def header(self, pos: int) -> tuple[int, int, int]:
        """(tag, value length, value position) of the element or item at ``pos``.

        Parameters
        ----------
        pos : int

        Returns
        -------
        tuple of int

        Raises
        ------
        Unsupported
            Past the end, on an explicit VR that is not two capitals, or on UN of
            undefined length (implicit VR inside).
        """
        if pos + 8 > self.size:
            raise Unsupported("past the end of the file")
        group, element, length = _HEADER.unpack_from(self.buf, pos)
        tag = group << 16 | element
        if group == 0xFFFE or self.implicit:
            return tag, length, pos + 8
        _, _, vr, short = _EXPLICIT.unpack_from(self.buf, pos)
        if vr in LONG_VRS:
            if pos + 12 > self.size:
                raise Unsupported("past the end of the file")
            if vr == b"UN" and _U32.unpack_from(self.buf, pos + 8)[0] == UNDEFINED:
                raise Unsupported("UN of undefined length")  # implicit VR inside: let pydicom
            return tag, _U32.unpack_from(self.buf, pos + 8)[0], pos + 12
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise Unsupported(f"no VR at {pos}")
        return tag, short, pos + 8

    def skip(self, pos: int, length: int) -> int:
        """The position after a value: defined lengths jump, undefined ones walk their items.

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        int

        Raises
        ------
        Unsupported
            When the value runs past the end or holds something other than items.
        """
        if length != UNDEFINED:
            end = pos + length
            if end > self.size:
                raise Unsupported("value past the end of the file")
            return end
        return self._walk(pos, False)

    def skip_item(self, pos: int, length: int) -> int:
        """The position after an item's content.

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        int

        Raises
        ------
        Unsupported
            As :meth:`skip`.
        """
        if length != UNDEFINED:
            return self.skip(pos, length)
        if self.depth >= self.MAX_DEPTH:
            raise Unsupported("nested too deeply for the byte walk")
        return self._walk(pos, True)

    def _walk(self, pos: int, in_item: bool) -> int:
        """The position after an undefined-length sequence value (or item, ``in_item``).

        One loop over the element headers, the open undefined-length sequences
        and items on a stack (True: an item): what :meth:`header`, :meth:`skip`
        and :meth:`skip_item` would do by recursion, without a call per element.
        It raises :class:`Unsupported` where they would.
        """
        buf, size, implicit = self.buf, self.size, self.implicit
        unpack, unpack_explicit, unpack_u32 = (
            _HEADER.unpack_from,
            _EXPLICIT.unpack_from,
            _U32.unpack_from,
        )
        long_vrs, capitals = LONG_VRS, _TWO_CAPITALS
        room = self.MAX_DEPTH - self.depth - (1 if in_item else 0)
        stack = [in_item]
        while True:
            if pos + 8 > size:
                raise Unsupported("past the end of the file")
            if in_item:  # an element, or the item's end
                if implicit:
                    group, element, length = unpack(buf, pos)
                    vpos = pos + 8
                else:
                    group, element, vr, length = unpack_explicit(buf, pos)
                    vpos = pos + 8
                    if group == 0xFFFE:  # no VR: a 32-bit length
                        length = unpack_u32(buf, pos + 4)[0]
                    elif vr in long_vrs:
                        if pos + 12 > size:
                            raise Unsupported("past the end of the file")
                        length = unpack_u32(buf, vpos)[0]
                        if vr == b"UN" and length == UNDEFINED:
                            raise Unsupported("UN of undefined length")
                        vpos = pos + 12
                    elif vr not in capitals:
                        raise Unsupported(f"no VR at {pos}")
                if group == 0xFFFE and element == 0xE00D:  # Item Delimitation Item
                    stack.pop()
                    room += 1
                    if not stack:
                        return vpos
                    in_item = stack[-1]
                    pos = vpos
                    continue
                if length == UNDEFINED:
                    stack.append(False)  # a sequence (or encapsulated fragments)
                    in_item = False
                    pos = vpos
                    continue
            else:  # in a sequence: an item, or the sequence's end
                group, element, length = unpack(buf, pos)
                if group != 0xFFFE or element not in (0xE000, 0xE0DD):
                    raise Unsupported(f"({group:04X},{element:04X}) where an item belongs")
                vpos = pos + 8
                if element == 0xE0DD:  # Sequence Delimitation Item
                    stack.pop()
                    if not stack:
                        return vpos
                    in_item = stack[-1]
                    pos = vpos
                    continue
                if length == UNDEFINED:
                    if room <= 0:
                        raise Unsupported("nested too deeply for the byte walk")
                    room -= 1
                    stack.append(True)
                    in_item = True
                    pos = vpos
                    continue
            pos = vpos + length
            if pos > size:
                raise Unsupported("value past the end of the file")

    def items(self, pos: int, length: int) -> list[tuple[int, int]]:
        """(content position, length) of each item of a sequence value.

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        list of tuple

        Raises
        ------
        Unsupported
            As :meth:`skip`.
        """
        return self.items_and_end(pos, length)[0]

    def items_and_end(self, pos: int, length: int) -> tuple[list[tuple[int, int]], int]:
        """:meth:`items`, and the position after the sequence value (as :meth:`skip`).

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        tuple

        Raises
        ------
        Unsupported
            As :meth:`skip`.
        """
        out: list[tuple[int, int]] = []
        end = None if length == UNDEFINED else pos + length
        if end is not None and end > self.size:
            raise Unsupported("value past the end of the file")
        while end is None or pos < end:
            tag, ln, vpos = self.header(pos)
            if tag == SEQUENCE_END and end is None:
                return out, vpos
            if tag != ITEM:
                raise Unsupported(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) where an item belongs")
            out.append((vpos, ln))
            pos = self.skip_item(vpos, ln)
        return out, pos

    def elements(self, pos: int, length: int) -> list[tuple[int, int, int]]:
        """(tag, length, value position) of each element of an item.

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        list of tuple

        Raises
        ------
        Unsupported
            As :meth:`skip`.
        """
        out = []
        end = None if length == UNDEFINED else pos + length
        while end is None or pos < end:
            tag, ln, vpos = self.header(pos)
            if tag == ITEM_END and end is None:
                break
            out.append((tag, ln, vpos))
            pos = self.skip(vpos, ln)
        return out

    def text(self, pos: int, length: int) -> str | None:
        """An ASCII text value, stripped of padding; None when empty.

        Parameters
        ----------
        pos : int
            Where the value starts.
        length : int
            Its length, or :data:`UNDEFINED`.

        Returns
        -------
        str or None

        Raises
        ------
        Unsupported
            On an undefined length or a value past the end.
        """
        if length == UNDEFINED or pos + length > self.size:
            raise Unsupported("bad text value")
        t = self.buf[pos : pos + length].decode("latin-1").strip("\x00 ")
        return t or None


def element_end(path: str, offset: int, implicit: bool, little: bool) -> int | None:
    """End offset of the element whose header starts at ``offset`` in a file.

    Parameters
    ----------
    path : str
        The file.
    offset : int
        Where the element's header starts.
    implicit, little : bool
        The dataset's encoding.

    Returns
    -------
    int or None
        None when the length is undefined; when the file ends inside the header,
        the end of the header it should have.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        head = f.read(12)
    order = "<" if little else ">"
    if len(head) < 8:
        return offset + 8
    if implicit:
        length = int.from_bytes(head[4:8], "little" if little else "big")
        start = offset + 8
    elif head[4:6] in LONG_VRS:
        if len(head) < 12:
            return offset + 12
        length = struct.unpack(order + "I", head[8:12])[0]
        start = offset + 12
    else:
        length = struct.unpack(order + "H", head[6:8])[0]
        start = offset + 8
    if length == UNDEFINED:
        return None
    return int(start + length)


def count_items(path: str, offset: int, tag: int, implicit: bool) -> int | None:
    """The number of items of the sequence whose header is at ``offset`` in a little endian file.

    Parameters
    ----------
    path : str
        The file.
    offset : int
        Where the sequence's element header starts.
    tag : int
        The tag expected there.
    implicit : bool
        Whether the dataset has implicit VR.

    Returns
    -------
    int or None
        None when the bytes there are not that sequence, or cannot be walked.
    """
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            scanner = Scanner(buf, implicit)
            found, length, vpos = scanner.header(offset)
            if found != tag:
                return None
            return len(scanner.items(vpos, length))
    except (Unsupported, OSError, ValueError, struct.error):
        return None
