"""Reading items of either kind: pydicom datasets, or items split from raw sequence bytes.

pydicom keeps a defined-length sequence as raw bytes until it is first used, then
builds a Dataset per item (most of the time of a large KOS or measurement report,
more than everything else the reader does). A little endian sequence (explicit or
implicit VR, defined or undefined lengths) is split instead
(:func:`dicomsel.dicom.scanner.iter_items`) into light items whose values are
decoded only when read; anything else (big endian, deflated, bytes the splitter
does not expect) goes through pydicom. Both kinds answer the same accessors:
:func:`value` (datasets only), :func:`get_text`, :func:`get_seq`, :func:`iter_seq`,
:func:`get_numbers`, :func:`has_items`, and the code readers built on them.

:func:`pydicom_only` turns the raw paths off (the file reader's deferral of
undefined-length sequences too): the tests compare both paths with it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_sequence
from pydicom.multival import MultiValue

from dicomsel import terminology
from dicomsel.dicom.scanner import TEXT_VRS, RawItem, Unsupported, iter_items, split_items
from dicomsel.dicom.schemes import declared_system
from dicomsel.dicom.tags import (
    CodeMeaning,
    CodeValue,
    CodingSchemeDesignator,
    CodingSchemeVersion,
    ConceptNameCodeSequence,
    LongCodeValue,
    URNCodeValue,
)
from dicomsel.errors import InvalidInputError
from dicomsel.model import Code

__all__ = [
    "ITEM_ERRORS",
    "Item",
    "code_of",
    "concept_of",
    "dotted",
    "get_numbers",
    "get_seq",
    "get_text",
    "has_items",
    "iter_seq",
    "pydicom_only",
    "raw_paths",
    "value",
    "why",
]

#: A content item: a pydicom dataset, or one split from the raw bytes of its sequence.
Item = Dataset | RawItem

_TEXT_OR_UNKNOWN = TEXT_VRS | {b"UN"}
#: as pydicom names them (None: implicit VR, looked up when converted)
_TEXT_VR_NAMES = frozenset({None, "UN"} | {v.decode() for v in TEXT_VRS})

_BINARY = {
    b"FL": "f",
    b"FD": "d",
    b"UL": "I",
    b"US": "H",
    b"SL": "i",
    b"SS": "h",
    b"UV": "Q",
    b"SV": "q",
}


#: whether the raw paths are on (:func:`pydicom_only` turns them off)
_RAW = [True]


def raw_paths() -> bool:
    """Whether sequences are split from raw bytes (True unless :func:`pydicom_only`).

    Returns
    -------
    bool
    """
    return _RAW[0]


@contextmanager
def pydicom_only() -> Iterator[None]:
    """Read every sequence through pydicom while in the block (the tests' switch).

    The file reader then lets pydicom parse undefined-length sequences as it
    reads the header, and the accessors build datasets; the output must be the
    same as with the raw paths.

    Yields
    ------
    None
    """
    before = _RAW[0]
    _RAW[0] = False
    try:
        yield
    finally:
        _RAW[0] = before


def value(ds: Dataset, tag: int) -> Any:
    """The value of the element ``tag`` in ``ds``, or None: the fast path for hot loops.

    Access by tag skips pydicom's keyword lookup, which dominates when a
    document holds tens of thousands of references.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    tag : int

    Returns
    -------
    object
        The (converted) value; None when the element is absent.
    """
    # pydicom keeps a dataset's elements in ``_dict`` (tag -> element, raw until first
    # read): looking there first makes a missing element cost a dict lookup instead of
    # a KeyError, and an element already converted skip __getitem__ altogether.
    elements = getattr(ds, "_dict", None)
    if elements is None:  # pragma: no cover - not a pydicom Dataset
        elem = ds.get(tag)
        return None if elem is None else elem.value
    elem = elements.get(tag)
    if elem is None:
        return None
    if isinstance(elem, DataElement):
        return elem.value
    return ds[tag].value  # converts the raw element and stores it


def _encodings(ds: Dataset) -> list[str]:
    """Python codecs of a dataset's character set, inherited from the document for items."""
    codecs = getattr(ds, "_character_set", None)  # pydicom resolves the parent's
    if not codecs:
        return convert_encodings(["ISO_IR 6"])
    return [codecs] if isinstance(codecs, str) else list(codecs)


def _raw_sequence(item: Item, tag: int) -> tuple[memoryview, list[str], bool] | None:
    """(value bytes, codecs, implicit VR) of sequence ``tag`` when it can be split, else None."""
    if not _RAW[0]:
        return None
    if item.__class__ is RawItem:
        entry = item.elements.get(tag)
        if entry is None or entry[0] == b"SQ*":
            return None
        return entry[1], item.encodings, item.implicit
    elements = getattr(item, "_dict", None)
    elem = elements.get(tag) if elements is not None else None
    if (
        elem.__class__ is RawDataElement
        and elem.is_little_endian
        and isinstance(elem.value, bytes)
        and elem.VR in (None, "SQ")
    ):
        return memoryview(elem.value), _encodings(item), bool(elem.is_implicit_VR)  # type: ignore[arg-type]
    return None


def _pydicom_items(raw: memoryview, encodings: list[str], implicit: bool) -> list[Any]:
    """The items of a raw sequence value as pydicom reads them."""
    return list(read_sequence(io.BytesIO(bytes(raw)), implicit, True, len(raw), encodings))


def get_seq(item: Item, tag: int) -> list[Any]:
    """The items of sequence ``tag`` of ``item`` (empty when absent).

    Parameters
    ----------
    item : Item
    tag : int

    Returns
    -------
    list
        Light items split from the bytes where they can be, else datasets.
    """
    if item.__class__ is RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return []
        if entry[0] == b"SQ*":  # already split
            return entry[1]  # type: ignore[no-any-return]
        raw, encodings, implicit = entry[1], item.encodings, item.implicit
        items: list[Any] | None = None
        if _RAW[0]:
            with suppress(Unsupported, struct.error, RecursionError):
                items = split_items(raw, encodings, implicit)
        if items is None:
            items = _pydicom_items(raw, encodings, implicit)
        item.elements[tag] = (b"SQ*", items)
        return items
    split = _raw_sequence(item, tag)
    if split is not None:
        try:
            return split_items(*split)
        except (Unsupported, struct.error, RecursionError):
            pass
    return list(value(item, tag) or ())  # type: ignore[arg-type]


def iter_seq(item: Item, tag: int) -> Iterator[Any]:
    """The items of sequence ``tag`` of ``item``, one at a time (none when absent).

    A large sequence (a KOS's content, its evidence) is split as it is walked,
    so that only the item being read is held. When the splitter meets bytes it
    does not handle, the rest comes from pydicom's reading of the whole value.

    Parameters
    ----------
    item : Item
    tag : int

    Yields
    ------
    RawItem or pydicom.dataset.Dataset
    """
    split = _raw_sequence(item, tag)
    if split is None:
        yield from get_seq(item, tag)
        return
    done = 0
    try:
        for raw_item in iter_items(*split):
            yield raw_item
            done += 1
        return
    except (Unsupported, struct.error, RecursionError):
        pass
    if item.__class__ is RawItem:
        rest: list[Any] = _pydicom_items(*split)
    else:
        rest = list(value(item, tag) or ())  # type: ignore[arg-type]
    yield from rest[done:]


def has_items(item: Item, tag: int) -> bool:
    """Whether sequence ``tag`` is present with at least one item (without splitting it).

    Parameters
    ----------
    item : Item
    tag : int

    Returns
    -------
    bool
    """
    split = _raw_sequence(item, tag)
    if split is not None:
        raw = split[0]
        return len(raw) >= 8 and bytes(raw[:4]) != b"\xfe\xff\xdd\xe0"
    if item.__class__ is RawItem:
        return bool(get_seq(item, tag))
    return bool(value(item, tag))  # type: ignore[arg-type]


def _joined(converted: object) -> str:
    """A converted value as text; a multi-valued one joined with backslashes as encoded."""
    if isinstance(converted, MultiValue | list | tuple):
        return "\\".join(str(v) for v in converted)
    return str(converted)


def get_text(item: Item, tag: int) -> str | None:
    """A string element's value, stripped; None when absent or empty.

    Plain ASCII values are decoded from the raw bytes pydicom keeps until first
    use (its conversion costs more than the rest of the reader); others are
    decoded with the document's character set. A multi-valued element is its
    values joined with backslashes, as they are encoded.

    Parameters
    ----------
    item : Item
    tag : int

    Returns
    -------
    str or None
    """
    if item.__class__ is RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return None
        vr = entry[0]
        if vr is not None and vr not in _TEXT_OR_UNKNOWN:
            raise InvalidInputError(
                f"has VR {vr.decode('latin-1')!r}, not a text VR", attribute=_tag_name(tag)
            )
        raw = bytes(entry[1])
        if not raw:
            return None
        if raw.isascii():
            return raw.decode("ascii").strip(" \x00\t\r\n") or None
        text = decode_bytes(raw, item.encodings, set())
        return text.strip(" \x00\t\r\n") or None
    elements = getattr(item, "_dict", None)
    elem = elements.get(tag) if elements is not None else None
    if elem is None and elements is not None:
        return None
    if elem.__class__ is RawDataElement and _RAW[0] and elem.VR in _TEXT_VR_NAMES:
        raw_value = elem.value
        if not raw_value:
            return None
        if raw_value.isascii():
            return raw_value.decode("ascii").strip(" \x00\t\r\n") or None
    converted = value(item, tag)  # type: ignore[arg-type]
    if converted is None:
        return None
    text = _joined(converted).strip(" \x00\t\r\n")
    return text or None


def get_numbers(item: Item, tag: int) -> list[Any] | None:
    """The values of a numeric element (binary or IS / DS text); None when absent.

    Parameters
    ----------
    item : Item
    tag : int

    Returns
    -------
    list or None
        Numbers for binary VRs, stripped strings for IS / DS.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When a binary value is not a whole number of values.
    """
    if item.__class__ is RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return None
        vr, raw = entry
        if vr is None:
            vr = _dictionary_vr(tag)
        fmt = _BINARY.get(vr)
        if fmt is not None:
            size = struct.calcsize(fmt)
            if len(raw) % size:
                raise InvalidInputError(
                    f"{len(raw)} bytes is not a whole number of {vr.decode()} values",
                    attribute=_tag_name(tag),
                )
            return list(struct.unpack(f"<{len(raw) // size}{fmt}", raw))
        text = bytes(raw).decode("ascii", "replace").strip(" \x00")
        return [v.strip() for v in text.split("\\")] if text else []
    got = value(item, tag)  # type: ignore[arg-type]
    if got is None:
        return None
    if isinstance(got, str | bytes | int | float):
        return [got]
    return list(got)


@lru_cache(maxsize=1024)
def _dictionary_vr(tag: int) -> bytes | None:
    """The VR the data dictionary gives a tag (implicit VR items); None when unknown."""
    try:
        return dictionary_VR(tag).encode()
    except KeyError:
        return None


def _tag_name(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    where = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{keyword} {where}" if keyword else where


def _code_fallback(item: Item) -> Code | None:
    """A code item without Code Value: Long Code Value, URN Code Value, or meaning only."""
    scheme = get_text(item, CodingSchemeDesignator)
    meaning = get_text(item, CodeMeaning)
    long_value = get_text(item, LongCodeValue)
    if long_value is not None:
        canon = terminology.canonical_scheme(scheme) if scheme else None
        return Code(value=long_value, scheme=canon, meaning=meaning, system=declared_system(canon))
    urn = get_text(item, URNCodeValue)
    if urn is not None:
        return Code(value=urn, system="urn:ietf:rfc:3986", meaning=meaning)
    if meaning is not None:
        return Code(value=None, meaning=meaning, text=meaning)
    return None


@lru_cache(maxsize=4096)
def _cached_code(
    code_value: str, scheme: str, meaning: str | None, version: str | None, system: str | None
) -> Code:
    return Code(
        value=code_value,
        scheme=scheme or None,
        meaning=meaning,
        scheme_version=version,
        system=system,
    )


def code_of(item: Item, tag: int) -> Code | None:
    """The code in the first item of code sequence ``tag``, by tag; None when there is none.

    Parameters
    ----------
    item : Item
    tag : int

    Returns
    -------
    Code or None
    """
    seq = get_seq(item, tag)
    if not seq:
        return None
    first = seq[0]
    code_value = get_text(first, CodeValue)
    if code_value is None:
        return _code_fallback(first)
    scheme = get_text(first, CodingSchemeDesignator)
    canon = terminology.canonical_scheme(scheme) if scheme else ""
    return _cached_code(
        code_value,
        canon,
        get_text(first, CodeMeaning),
        get_text(first, CodingSchemeVersion),
        declared_system(canon),
    )


def concept_of(item: Item) -> tuple[str, str] | None:
    """The concept name of a content item as (code value, scheme), or None.

    The pair is normalised as concepts are compared (:func:`dicomsel.terminology.
    normalise_code`): a canonical designator (``RadLex`` is ``RADLEX``) and, for a
    SNOMED-RT id, its SNOMED CT id (PS3.16 Annex O: ``SRT G-C0E3`` is
    ``SCT 363698007``, Finding Site).

    Parameters
    ----------
    item : Item

    Returns
    -------
    tuple of str or None
    """
    seq = get_seq(item, ConceptNameCodeSequence)
    if not seq:
        return None
    first = seq[0]
    code = get_text(first, CodeValue)
    if code is None:
        c = _code_fallback(first)
        if c is None or not c.value:
            return None
        return terminology.normalise_code(str(c.value), str(c.scheme or ""))
    return terminology.normalise_code(code, get_text(first, CodingSchemeDesignator) or "")


def dotted(path: tuple[int, ...]) -> str:
    """A content item's position as messages and keys spell it: ``1.2.3``.

    Parameters
    ----------
    path : tuple of int

    Returns
    -------
    str
    """
    return ".".join(str(p) for p in path)


#: what reading one malformed content item can raise: reported, the item left out
ITEM_ERRORS = (
    InvalidInputError,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    struct.error,
)


def why(e: Exception) -> str:
    """Why a content item could not be read, for the report line that leaves it out.

    Parameters
    ----------
    e : Exception
        One of :data:`ITEM_ERRORS`.

    Returns
    -------
    str
    """
    if isinstance(e, InvalidInputError):
        return f"{e.reason} ({e.attribute})" if e.attribute else e.reason
    return f"malformed ({type(e).__name__}: {e})"
