"""Structured Report reader: TID 1500 measurement reports and any other SR.

Follows the HL7 "DICOM SR to FHIR Resource Mapping" IG (hl7.fhir.uv.dicom-sr)
for what to produce; docs/sr.md gives the mapping and where it differs.

Selections (keys ``sr|...``, unique in one document):

- each SCOORD: an Image Region (DCM 111030) of the image it is SELECTED FROM,
  with its frames and the Graphic Data as the 2D region;
- each SCOORD3D: a region in its frame of reference, anchored on the SR
  instance itself (subset = the item's Observation UID when it has one);
- each IMAGE item with Referenced Segment Numbers: the SEG instance with
  those segments (DCM 121191 Referenced Segment);
- other IMAGE / COMPOSITE / WAVEFORM items: per (measurement group or
  document, concept, series), the instances they name;
- every content item that becomes an observation and has an Observation UID:
  the SR instance with that UID (DCM 111040 Original Source);
- instances of the Current Requested Procedure and Pertinent Other Evidence
  that the content tree does not select: one selection per series.

Observations: a record per Measurement Group (DCM 125007) with members for
its NUM items (measurements) and qualitative CODE / TEXT items; NUM items
outside groups become measurements on their own unless they are context.

The content tree is walked iteratively (trees thousands of levels deep) and
by-reference relationships (Referenced Content Item Identifier) are resolved
with loop detection. Reading is tolerant: a content item that cannot be read
is reported and left out; the rest of the document still converts.
highdicom's parser is not used: real files break it.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_sequence

from dicomsel.dicom.content import observer_performers
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.evidence import retrieve_endpoints
from dicomsel.dicom.identity import based_on, subject
from dicomsel.dicom.values import attr_name, issued, value
from dicomsel.errors import InvalidInputError
from dicomsel.model import (
    Code,
    Endpoint,
    Identifier,
    Instance,
    ObservationKind,
    ObservationRecord,
    Performer,
    Reference,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
    Selection,
    is_valid_uid,
)

__all__ = [
    "EVIDENCE_CODE",
    "IMAGE_REGION",
    "MEASUREMENT_GROUP",
    "ORIGINAL_SOURCE",
    "REFERENCED_SEGMENT",
    "SOP_CLASS_UIDS",
    "read_sr",
]

#: Basic Text, Enhanced, Comprehensive, Comprehensive 3D and Extensible SR Storage
SOP_CLASS_UIDS = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.34",
        "1.2.840.10008.5.1.4.1.1.88.35",
    }
)

IMAGE_REGION = Code(value="111030", scheme="DCM", meaning="Image Region")
VOLUME_SURFACE = Code(value="121231", scheme="DCM", meaning="Volume Surface")
REFERENCED_SEGMENT = Code(value="121191", scheme="DCM", meaning="Referenced Segment")
ORIGINAL_SOURCE = Code(value="111040", scheme="DCM", meaning="Original Source")
MEASUREMENT_GROUP = Code(value="125007", scheme="DCM", meaning="Measurement Group")
#: Code of the selections of evidence instances the content tree does not select.
EVIDENCE_CODE = Code(value="122073", scheme="DCM", meaning="Current procedure evidence")
OTHER_EVIDENCE_CODE = Code(value=None, text="Pertinent Other Evidence")

# tags read per content item: by tag, no keyword lookups
_CONTENT_SEQ = 0x0040A730
_VALUE_TYPE = 0x0040A040
_RELATIONSHIP = 0x0040A010
_CONCEPT_NAME = 0x0040A043
_CONCEPT_CODE = 0x0040A168
_TEXT_VALUE = 0x0040A160
_UID_VALUE = 0x0040A124
_MEASURED_VALUE = 0x0040A300
_NUMERIC_VALUE = 0x0040A30A
_FLOAT_VALUE = 0x0040A161
_UNITS = 0x004008EA
_QUALIFIER = 0x0040A301
_OBSERVATION_UID = 0x0040A171
_OBSERVATION_DT = 0x0040A032
_REF_CONTENT_ITEM = 0x0040DB73
_TEMPLATE_SEQ = 0x0040A504
_TEMPLATE_ID = 0x0040DB00
_GRAPHIC_DATA = 0x00700022
_GRAPHIC_TYPE = 0x00700023
_REF_FOR = 0x30060024
_REF_SOP_SEQ = 0x00081199
_REF_SOP_CLASS = 0x00081150
_REF_SOP_INSTANCE = 0x00081155
_REF_FRAME = 0x00081160
_REF_SEGMENT = 0x0062000B
_REF_CHANNELS = 0x0040A0B0
_CODE_VALUE = 0x00080100
_SCHEME = 0x00080102
_MEANING = 0x00080104
_SCHEME_VERSION = 0x00080103
_LONG_CODE_VALUE = 0x00080119
_URN_CODE_VALUE = 0x00080120
_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_STUDY = 0x0020000D
_SERIES = 0x0020000E
_COMPLETION = 0x0040A491
_VERIFICATION = 0x0040A493
_PRELIMINARY = 0x0040A496
_MANUFACTURER = 0x00080070
_MODEL_NAME = 0x00081090
_DEVICE_UID = 0x00181002
_TZ_OFFSET = 0x00080201
_REF_SERIES_SEQ = 0x00081115
_EVIDENCE_SEQS = (
    (0x0040A375, "CurrentRequestedProcedureEvidenceSequence", "current"),
    (0x0040A385, "PertinentOtherEvidenceSequence", "other"),
)

# concept names, as (code value, scheme)
_GROUP = ("125007", "DCM")
_TRACKING_ID = ("112039", "DCM")
_TRACKING_UID = ("112040", "DCM")
_FINDING = ("121071", "DCM")
_FINDING_CATEGORY = ("276214006", "SCT")
_FINDING_SITE = ("363698007", "SCT")
_METHOD = ("370129005", "SCT")
_DERIVATION = ("121401", "DCM")
_LATERALITY = ("272741003", "SCT")
_TOPOGRAPHICAL = ("106233006", "SCT")
_ALGORITHM_NAME = ("111001", "DCM")
_ALGORITHM_VERSION = ("111003", "DCM")
_ALGORITHM_PARAMETERS = ("111002", "DCM")
_IMAGE_REGION = ("111030", "DCM")
_VOLUME_SURFACE = ("121231", "DCM")
_SOURCE_FOR_SEGMENTATION = ("121233", "DCM")
_GEOMETRIC_PURPOSE = ("130400", "DCM")
_SESSION = ("C67447", "NCIt")
#: CODE / TEXT items of a group that are not qualitative evaluations (the IG's list)
_NOT_QUALITATIVE = frozenset(
    {
        _TRACKING_ID,
        _FINDING,
        _GEOMETRIC_PURPOSE,
        _SESSION,
        _FINDING_CATEGORY,
        _FINDING_SITE,
        _METHOD,
        _ALGORITHM_NAME,
        _ALGORITHM_VERSION,
        _ALGORITHM_PARAMETERS,
    }
)
_CONTEXT_RELATIONSHIPS = frozenset({"HAS OBS CONTEXT", "HAS ACQ CONTEXT"})
_REFERENCE_TYPES = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})
_REGION_TYPES_2D = {t.name: t for t in RegionType2D}
_REGION_TYPES_3D = {t.name: t for t in RegionType3D}

_A_GRAPHIC_DATA = attr_name("GraphicData")
_A_GRAPHIC_TYPE = attr_name("GraphicType")
_A_OBSERVATION_UID = attr_name("ObservationUID")


# ---- the content tree, walked once


class _Node:
    """One content item: where it is, what it is, and what became of it."""

    __slots__ = (
        "children",
        "concept",
        "group",
        "item",
        "keys",
        "owner",
        "parent",
        "path",
        "ref",
        "rel",
        "vt",
    )

    def __init__(self, item: Item, path: tuple[int, ...], parent: _Node | None) -> None:
        self.item = item
        self.path = path
        self.parent = parent
        self.children: list[_Node] = []
        self.vt = (_text(item, _VALUE_TYPE) or "").upper()
        self.rel = (_text(item, _RELATIONSHIP) or "").upper()
        self.concept = _concept(item)
        try:
            ref = _numbers(item, _REF_CONTENT_ITEM)
        except InvalidInputError:
            ref = []
        self.ref: tuple[int, ...] | None = None if ref is None else _ref_path(ref)
        #: the nearest enclosing Measurement Group (itself for a group)
        self.group: _Node | None = None
        #: the nearest enclosing NUM or group: whose selections these are
        self.owner: _Node | None = None
        #: keys of the selections this item produced
        self.keys: list[str] = []

    @property
    def where(self) -> str:
        return f"content item {_dotted(self.path)} ({self.vt or 'by reference'})"

    def name(self) -> str:
        code = _code_of(self.item, _CONCEPT_NAME)
        return repr(code.meaning or code.value) if code is not None else "(no concept name)"


def _ref_path(raw: object) -> tuple[int, ...]:
    """A Referenced Content Item Identifier as a path; () when it cannot be read."""
    try:
        values = [raw] if isinstance(raw, int) else list(raw)  # type: ignore[call-overload]
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        return ()


def _dotted(path: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in path)


def _concept(item: Item) -> tuple[str, str] | None:
    seq = _seq(item, _CONCEPT_NAME)
    if not seq:
        return None
    first = seq[0]
    code = _text(first, _CODE_VALUE)
    if code is None:
        c = _code_fallback(first)
        return (str(c.value), str(c.scheme or "")) if c is not None and c.value else None
    return (code, _text(first, _SCHEME) or "")


def _walk(ds: Dataset) -> list[_Node]:
    """Every content item in document order, root first; iterative, so any depth."""
    root = _Node(ds, (1,), None)
    nodes: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        parent_group = node.parent.group if node.parent is not None else None
        parent_owner = node.parent.owner if node.parent is not None else None
        is_group = node.vt == "CONTAINER" and node.concept == _GROUP
        node.group = node if is_group else parent_group
        node.owner = node if is_group or node.vt == "NUM" else parent_owner
        children = _seq(node.item, _CONTENT_SEQ)
        if children:
            base = node.path
            node.children = [_Node(c, (*base, i), node) for i, c in enumerate(children, 1)]
            stack.extend(reversed(node.children))
    return nodes


def _code_fallback(item: Item) -> Code | None:
    """A code item without Code Value: Long Code Value, URN Code Value, or meaning only."""
    scheme = _text(item, _SCHEME)
    meaning = _text(item, _MEANING)
    long_value = _text(item, _LONG_CODE_VALUE)
    if long_value is not None:
        return Code(value=long_value, scheme=scheme, meaning=meaning)
    urn = _text(item, _URN_CODE_VALUE)
    if urn is not None:
        return Code(value=urn, system="urn:ietf:rfc:3986", meaning=meaning)
    if meaning is not None:
        return Code(value=None, meaning=meaning, text=meaning)
    return None


@lru_cache(maxsize=4096)
def _cached_code(code_value: str, scheme: str, meaning: str | None, version: str | None) -> Code:
    return Code(value=code_value, scheme=scheme or None, meaning=meaning, scheme_version=version)


def _code_of(item: Item, tag: int) -> Code | None:
    """The code in the first item of code sequence ``tag``, by tag; None when there is none."""
    seq = _seq(item, tag)
    if not seq:
        return None
    first = seq[0]
    code_value = _text(first, _CODE_VALUE)
    if code_value is None:
        return _code_fallback(first)
    return _cached_code(
        code_value,
        _text(first, _SCHEME) or "",
        _text(first, _MEANING),
        _text(first, _SCHEME_VERSION),
    )


# ---- reading content items: pydicom datasets, or items split from raw sequence bytes
#
# pydicom keeps a defined-length sequence as raw bytes until it is first used, then
# builds a Dataset per item (most of the time of a large measurement report, more
# than everything else the reader does). An explicit VR little endian sequence is
# split here instead into light items whose values are decoded only when read;
# anything else (implicit VR, big endian, undefined lengths inside) goes through
# pydicom. Both kinds answer the same accessors: _text, _seq, _numbers.

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
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
_ITEM_TAG = 0xE000FFFE  # (FFFE,E000) read as one little endian 32-bit number
_UNDEFINED = 0xFFFFFFFF
_HEAD = struct.Struct("<HH2sH")
_LONG_LENGTH = struct.Struct("<I")
_ITEM_HEAD = struct.Struct("<II")


class _Unsupported(Exception):
    """Sequence bytes the fast splitter does not handle: pydicom reads them."""


class _RawItem:
    """A sequence item split from explicit VR little endian bytes: tag -> (VR, raw value)."""

    __slots__ = ("elements", "encodings")

    def __init__(self, elements: dict[int, tuple[bytes, Any]], encodings: list[str]) -> None:
        self.elements = elements
        self.encodings = encodings


Item = Dataset | _RawItem


def _split(buf: memoryview, encodings: list[str]) -> list[_RawItem]:
    """The items of an explicit VR little endian sequence value; _Unsupported otherwise."""
    items: list[_RawItem] = []
    pos, end = 0, len(buf)
    while pos < end:
        if end - pos < 8:
            raise _Unsupported
        tag, length = _ITEM_HEAD.unpack_from(buf, pos)
        if tag != _ITEM_TAG or length == _UNDEFINED:
            raise _Unsupported
        pos += 8
        item_end = pos + length
        if item_end > end:
            raise _Unsupported
        elements: dict[int, tuple[bytes, Any]] = {}
        while pos < item_end:
            if item_end - pos < 8:
                raise _Unsupported
            group, element, vr, short = _HEAD.unpack_from(buf, pos)
            vr = bytes(vr)
            if vr in _LONG_VRS:
                (length,) = _LONG_LENGTH.unpack_from(buf, pos + 8)
                pos += 12
            elif vr.isalpha() and vr.isupper():
                length = short
                pos += 8
            else:
                raise _Unsupported  # not explicit VR
            if length == _UNDEFINED or pos + length > item_end:
                raise _Unsupported
            elements[(group << 16) | element] = (vr, buf[pos : pos + length])
            pos += length
        items.append(_RawItem(elements, encodings))
    return items


def _encodings(ds: Dataset) -> list[str]:
    """Python codecs of a dataset's character set, inherited from the document for items."""
    codecs = getattr(ds, "_character_set", None)  # pydicom resolves the parent's
    if not codecs:
        return convert_encodings(["ISO_IR 6"])
    return [codecs] if isinstance(codecs, str) else list(codecs)


def _seq(item: Item, tag: int) -> list[Any]:
    """The items of sequence ``tag`` of ``item`` (empty when absent)."""
    if item.__class__ is _RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return []
        vr, raw = entry
        if vr == b"SQ*":  # already split
            return raw  # type: ignore[no-any-return]
        encodings = item.encodings
        try:
            items: list[Any] = _split(raw, encodings)
        except (_Unsupported, struct.error):
            items = list(
                read_sequence(
                    io.BytesIO(bytes(raw)),
                    False,
                    True,
                    len(raw),
                    encodings,
                )
            )
        item.elements[tag] = (b"SQ*", items)
        return items
    elements = getattr(item, "_dict", None)
    elem = elements.get(tag) if elements is not None else None
    if (
        elem.__class__ is RawDataElement
        and not elem.is_implicit_VR
        and elem.is_little_endian
        and isinstance(elem.value, bytes)
        and elem.VR in (None, "SQ")
    ):
        try:
            return _split(memoryview(elem.value), _encodings(item))  # type: ignore[arg-type]
        except (_Unsupported, struct.error):
            pass
    return list(value(item, tag) or ())  # type: ignore[arg-type]


def _text(item: Item, tag: int) -> str | None:
    """A string element's value, stripped; None when absent or empty.

    Plain ASCII single values are decoded from the raw bytes pydicom keeps
    until first use (its conversion costs more than the rest of the reader);
    others are decoded with the document's character set.
    """
    if item.__class__ is _RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return None
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
    if elem.__class__ is RawDataElement:
        raw_value = elem.value
        if not raw_value:
            return None
        if raw_value.isascii() and b"\\" not in raw_value:
            return raw_value.decode("ascii").strip(" \x00\t\r\n") or None
    converted = value(item, tag)  # type: ignore[arg-type]
    if converted is None:
        return None
    text = str(converted).strip()
    return text or None


def _numbers(item: Item, tag: int) -> list[Any] | None:
    """The values of a numeric element (binary or IS / DS text); None when absent."""
    if item.__class__ is _RawItem:
        entry = item.elements.get(tag)
        if entry is None:
            return None
        vr, raw = entry
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


def _tag_name(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    where = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{keyword} {where}" if keyword else where


def _int_list(raw: object, what: str, node: _Node) -> list[int]:
    if raw is None or raw == "":
        return []
    values = [raw] if isinstance(raw, str | bytes | int | float) else list(raw)  # type: ignore[call-overload]
    out: list[int] = []
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"{node.where}: {v!r} is not a number", attribute=what) from e
        if n not in out:
            out.append(n)
    return out


def _floats(raw: list[Any] | None) -> list[float]:
    try:
        return [float(v) for v in raw or ()]
    except (TypeError, ValueError) as e:
        raise InvalidInputError("is not a list of numbers", attribute=_A_GRAPHIC_DATA) from e


# ---- document header and evidence


@dataclass(slots=True)
class _Where:
    study: str
    series: str
    sop_class: str | None
    kind: str  # current | other


@dataclass(slots=True)
class _Evidence:
    where: dict[str, _Where] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


def _evidence(ds: Dataset, ctx: ReadContext) -> _Evidence:
    """Current Requested Procedure and Pertinent Other Evidence; unreadable entries reported."""
    ev = _Evidence()
    for tag, keyword, kind in _EVIDENCE_SEQS:
        attr = attr_name(keyword)
        for study_item in value(ds, tag) or ():
            try:
                study = ctx.uid(value(study_item, _STUDY), f"{attr} > StudyInstanceUID")
            except InvalidInputError as e:
                ctx.warn(f"{e}: that study's evidence left out")
                continue
            for series_item in value(study_item, _REF_SERIES_SEQ) or ():
                try:
                    series = ctx.uid(value(series_item, _SERIES), f"{attr} > SeriesInstanceUID")
                except InvalidInputError as e:
                    ctx.warn(f"{e}: that series' evidence left out")
                    continue
                eps = ev.endpoints.setdefault((study, series), [])
                for item in (series_item, *(value(series_item, _REF_SOP_SEQ) or ())):
                    for ep in retrieve_endpoints(item, ctx):
                        if ep not in eps:
                            eps.append(ep)
                for sop in value(series_item, _REF_SOP_SEQ) or ():
                    where = f"{attr} > {attr_name('ReferencedSOPInstanceUID')}"
                    try:
                        uid = ctx.uid(_text(sop, _REF_SOP_INSTANCE), where)
                        cls_raw = _text(sop, _REF_SOP_CLASS)
                        cls = (
                            ctx.uid(cls_raw, f"{attr} > {attr_name('ReferencedSOPClassUID')}")
                            if cls_raw
                            else None
                        )
                    except InvalidInputError as e:
                        ctx.warn(f"{e}: left out of the evidence")
                        continue
                    prior = ev.where.get(uid)
                    if prior is not None:
                        if (prior.study, prior.series) != (study, series):
                            ctx.warn(
                                f"{attr}: instance {uid} is listed in series {prior.series} and "
                                f"{series}: the first is kept"
                            )
                        continue
                    ev.where[uid] = _Where(study, series, cls, kind)
                    ev.order.append(uid)
    return ev


def _flag(ds: Dataset, tag: int, keyword: str, allowed: set[str], ctx: ReadContext) -> str | None:
    raw = _text(ds, tag)
    if raw is None:
        return None
    flag = raw.upper()
    if flag not in allowed:
        ctx.warn(f"{attr_name(keyword)} {raw!r} is not one of {sorted(allowed)}: ignored")
        return None
    return flag


_DT_RE = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(?:\.(\d{1,6}))?([+-]\d{4})?")


def _zone(raw: str | None) -> str | None:
    if not raw:
        return None
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", raw.strip())
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


@dataclass(slots=True)
class _Doc:
    """What the whole document says, shared by its selections and observations."""

    source_uid: str
    sop_class_uid: str
    study: str | None
    series: str | None
    title: Code
    subject: Reference | None
    issued: str | None
    performers: tuple[Performer, ...]
    people: tuple[Performer, ...]
    device: Reference | None
    based_on: tuple[Reference, ...]
    identifier: Identifier
    completion: str | None
    verification: str | None
    preliminary: str | None
    zone: str | None
    zone_warned: bool = False


def _header(ds: Dataset, ctx: ReadContext) -> _Doc:
    meta = ds.get("file_meta")
    sop_uid = _text(ds, _SOP_INSTANCE)
    if not sop_uid and meta is not None and meta.get("MediaStorageSOPInstanceUID"):
        sop_uid = str(meta.MediaStorageSOPInstanceUID)
        ctx.warn(f"{attr_name('SOPInstanceUID')} is missing: taken from the file meta")
    if not sop_uid:
        raise ctx.error("missing (Type 1)", attr_name("SOPInstanceUID"))
    source_uid = ctx.uid(sop_uid, attr_name("SOPInstanceUID"))
    cls = _text(ds, _SOP_CLASS)
    if not cls and meta is not None:
        cls = str(meta.get("MediaStorageSOPClassUID", "") or "").strip() or None
    sop_class = ctx.uid(cls, attr_name("SOPClassUID"))

    def optional_uid(tag: int, keyword: str) -> str | None:
        raw = _text(ds, tag)
        if raw is None:
            ctx.warn(f"{attr_name(keyword)} is missing (Type 1)")
            return None
        try:
            return ctx.uid(raw, attr_name(keyword))
        except InvalidInputError as e:
            ctx.warn(f"{e}: left out")
            return None

    study = optional_uid(_STUDY, "StudyInstanceUID")
    series = optional_uid(_SERIES, "SeriesInstanceUID")
    title = _code_of(ds, _CONCEPT_NAME)
    if title is None:
        ctx.warn(f"{attr_name('ConceptNameCodeSequence')} (document title) is missing")
        title = Code(value=None, text="Structured Report")
    root_items = list(value(ds, _CONTENT_SEQ) or ())
    performers = observer_performers(root_items, ctx)
    people = tuple(p for p in performers if p.actor.resource_type != "Device")
    devices = [p.actor for p in performers if p.actor.resource_type == "Device"]
    device = devices[0] if devices else _equipment(ds, ctx)
    return _Doc(
        source_uid=source_uid,
        sop_class_uid=sop_class,
        study=study,
        series=series,
        title=title,
        subject=subject(ds, ctx),
        issued=issued(ds, ctx),
        performers=performers,
        people=people,
        device=device,
        based_on=based_on(ds),
        identifier=Identifier.dicom_uid(source_uid),
        completion=_flag(ds, _COMPLETION, "CompletionFlag", {"COMPLETE", "PARTIAL"}, ctx),
        verification=_flag(ds, _VERIFICATION, "VerificationFlag", {"VERIFIED", "UNVERIFIED"}, ctx),
        preliminary=_flag(ds, _PRELIMINARY, "PreliminaryFlag", {"PRELIMINARY", "FINAL"}, ctx),
        zone=_zone(_text(ds, _TZ_OFFSET)) or _zone(ctx.options.timezone),
    )


def _equipment(ds: Dataset, ctx: ReadContext) -> Reference | None:
    """General Equipment (Manufacturer, Model Name, Device UID) as a Reference(Device)."""
    parts = [_text(ds, t) for t in (_MANUFACTURER, _MODEL_NAME)]
    display = " ".join(p for p in parts if p) or None
    ident = None
    device_uid = _text(ds, _DEVICE_UID)
    if device_uid:
        if is_valid_uid(device_uid):
            ident = Identifier.dicom_uid(device_uid)
        else:
            ctx.warn(f"{attr_name('DeviceUID')} {device_uid!r} is not a valid UID: left out")
    if display is None and ident is None:
        return None
    return Reference("Device", identifier=ident, display=display)


def _datetime(raw: str, doc: _Doc, ctx: ReadContext, what: str) -> str | None:
    """A DICOM DT as a FHIR dateTime; a time needs a zone (the DT's own, the document's)."""
    m = _DT_RE.fullmatch(raw.strip())
    if not m:
        ctx.warn(f"{what} {raw!r} is not a DICOM DT: left out")
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    out = year
    if month:
        out += f"-{month}"
        if day:
            out += f"-{day}"
    if not (month and day and hh):
        return out
    zone = _zone(tz) if tz else doc.zone
    if zone is None:
        if not doc.zone_warned:
            doc.zone_warned = True
            ctx.warn(
                f"{what} has a time but no UTC offset, and neither "
                f"{attr_name('TimezoneOffsetFromUTC')} nor --timezone gives one: "
                "observation times left out"
            )
        return None
    if int(month) > 12 or int(day) > 31 or int(hh) > 23 or int(mm or 0) > 59 or int(ss or 0) > 59:
        ctx.warn(f"{what} {raw!r} is out of range: left out")
        return None
    fraction = f".{frac}" if frac else ""
    return f"{out}T{hh}:{mm or '00'}:{ss or '00'}{fraction}{zone}"


# ---- selections


@dataclass(slots=True)
class _Spec:
    """A selection being assembled."""

    key: str
    code: Code
    study: str | None
    series: str | None
    instances: dict[str, Instance] = field(default_factory=dict)
    frame_of_reference_uid: str | None = None
    focus: list[str] = field(default_factory=list)
    body_site: Code | None = None

    def add(self, inst: Instance) -> None:
        prior = self.instances.get(inst.uid)
        if prior is None:
            self.instances[inst.uid] = inst
            return
        merged = prior.merged(inst)
        if not prior.frames or not inst.frames:  # a whole instance wins over its frames
            merged = dataclasses.replace(merged, frames=())
        self.instances[inst.uid] = merged


def _code_key(code: Code) -> str:
    return f"{code.scheme or code.system or ''}:{code.value or ''}:{code.text or ''}"


class _Reader:
    """State of one SR read: the tree, the evidence, and what has been built."""

    def __init__(self, ds: Dataset, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.doc = _header(ds, ctx)
        self.evidence = _evidence(ds, ctx)
        self.nodes = _walk(ds)
        self.root = self.nodes[0]
        self.by_path = {n.path: n for n in self.nodes}
        self.specs: dict[str, _Spec] = {}
        self.selected: set[str] = set()
        self.unlisted: set[str] = set()
        #: SELECTED FROM items consumed by the SCOORD / TCOORD they belong to
        self.consumed: set[int] = set()
        self.item_keys: dict[int, str] = {}  # id(node) -> key of its Original Source selection
        self.finding_sites: dict[int, Code | None] = {}
        self.resolved: dict[int, _Node | None] = {}
        self.obs_uids: dict[int, str | None] = {}

    # -- helpers

    def warn(self, message: str) -> None:
        self.ctx.warn(message)

    def resolve(self, node: _Node) -> _Node | None:
        """The item a by-reference item points to (following chains); None, reported, if none.

        A reference to the item itself or one of its ancestors, or a chain of
        references that comes back on itself, is a loop.
        """
        cached = self.resolved.get(id(node), node)
        if cached is not node:
            return cached
        seen = {node.path}
        current: _Node | None = node
        while current is not None and current.ref is not None:
            current = self._follow(current, node, seen)
        self.resolved[id(node)] = current
        return current

    def _follow(self, current: _Node, node: _Node, seen: set[tuple[int, ...]]) -> _Node | None:
        """One step of :meth:`resolve`: the target of ``current``, or None (reported)."""
        assert current.ref is not None
        target = self.by_path.get(current.ref)
        where = f"{current.where}: {attr_name('ReferencedContentItemIdentifier')}"
        if target is None:
            self.warn(f"{where} {_dotted(current.ref)!r} names no content item: left out")
            return None
        if target.path in seen or node.path[: len(target.path)] == target.path:
            self.warn(
                f"{where} {_dotted(current.ref)}: by-reference loop "
                f"(back to {_dotted(target.path)}): left out"
            )
            return None
        seen.add(target.path)
        return target

    def children(self, node: _Node) -> Iterator[_Node]:
        """The children of ``node``, by-reference ones resolved to their targets."""
        for child in node.children:
            if child.ref is None:
                yield child
            else:
                target = self.resolve(child)
                if target is not None:
                    yield target

    def place(self, uid: str, sop_class: str | None) -> tuple[str | None, str | None, str | None]:
        """Study, series and class of a referenced instance, from the evidence."""
        ev = self.evidence.where.get(uid)
        if ev is None:
            if uid not in self.unlisted:
                self.unlisted.add(uid)
                self.warn(
                    f"instance {uid} is not listed in the evidence "
                    f"({attr_name('CurrentRequestedProcedureEvidenceSequence')}): "
                    "its study and series are unknown"
                )
            return None, None, sop_class
        if sop_class and ev.sop_class and sop_class != ev.sop_class:
            self.warn(
                f"instance {uid}: SOP class {sop_class} in the content tree but {ev.sop_class} "
                "in the evidence; the content tree's is kept"
            )
        return ev.study, ev.series, sop_class or ev.sop_class

    def spec(self, key: str, code: Code, study: str | None, series: str | None) -> _Spec:
        s = self.specs.get(key)
        if s is None:
            s = self.specs[key] = _Spec(key, code, study, series)
        return s

    def referenced(self, node: _Node) -> list[tuple[str, str | None, list[int], list[int]]]:
        """(uid, class, frames, segments) of each Referenced SOP Sequence item of ``node``."""
        out: list[tuple[str, str | None, list[int], list[int]]] = []
        seq = _seq(node.item, _REF_SOP_SEQ)
        if not seq:
            self.warn(f"{node.where}: {attr_name('ReferencedSOPSequence')} is missing: left out")
            return out
        for sop in seq:
            where = f"{node.where} > {attr_name('ReferencedSOPInstanceUID')}"
            uid = self.ctx.uid(_text(sop, _REF_SOP_INSTANCE), where)
            cls_raw = _text(sop, _REF_SOP_CLASS)
            cls = (
                self.ctx.uid(cls_raw, f"{node.where} > {attr_name('ReferencedSOPClassUID')}")
                if cls_raw
                else None
            )
            frames = _int_list(_numbers(sop, _REF_FRAME), attr_name("ReferencedFrameNumber"), node)
            segments = _int_list(
                _numbers(sop, _REF_SEGMENT), attr_name("ReferencedSegmentNumber"), node
            )
            if any(f < 1 for f in frames):
                raise InvalidInputError(
                    f"{node.where}: frame numbers start at 1, not {min(frames)}",
                    attribute=attr_name("ReferencedFrameNumber"),
                )
            out.append((uid, cls, frames, segments))
            if node.vt == "WAVEFORM" and _numbers(sop, _REF_CHANNELS):
                self.warn(
                    f"{node.where}: {attr_name('ReferencedWaveformChannels')} has no place in "
                    "ImagingSelection: the whole waveform is selected"
                )
            for ps in _seq(sop, _REF_SOP_SEQ):  # the presentation state to show it with
                ps_uid = self.ctx.uid(_text(ps, _REF_SOP_INSTANCE), where)
                ps_cls_raw = _text(ps, _REF_SOP_CLASS)
                ps_cls = self.ctx.uid(ps_cls_raw, where) if ps_cls_raw else None
                out.append((ps_uid, ps_cls, [], []))
        return out

    def group_site(self, group: _Node | None) -> Code | None:
        if group is None:
            return None
        key = id(group)
        if key not in self.finding_sites:
            site = None
            for child in self.children(group):
                if child.concept == _FINDING_SITE and child.vt == "CODE":
                    site = _code_of(child.item, _CONCEPT_CODE)
                    break
            self.finding_sites[key] = site
        return self.finding_sites[key]

    def source_item(self, node: _Node) -> str | None:
        """Key of the Original Source selection of ``node`` (the SR, subset = its
        Observation UID); made on first use, None when the item has no valid UID."""
        key = self.item_keys.get(id(node))
        if key is not None:
            return key
        uid = self.observation_uid(node)
        if uid is None:
            return None
        key = f"sr|item|{_dotted(node.path)}"
        s = self.spec(key, ORIGINAL_SOURCE, self.doc.study, self.doc.series)
        s.add(
            Instance(
                uid=self.doc.source_uid,
                sop_class_uid=self.doc.sop_class_uid,
                observation_uids=(uid,),
            )
        )
        self.item_keys[id(node)] = key
        node.keys.append(key)
        return key

    def observation_uid(self, node: _Node) -> str | None:
        """The item's Observation UID; an invalid one is reported (once) and left out."""
        key = id(node)
        if key in self.obs_uids:
            return self.obs_uids[key]
        raw = _text(node.item, _OBSERVATION_UID)
        if raw is not None and not is_valid_uid(raw):
            self.warn(f"{node.where}: {_A_OBSERVATION_UID} {raw!r} is not a valid UID: left out")
            raw = None
        self.obs_uids[key] = raw
        return raw

    def focus_for(self, node: _Node) -> list[str]:
        group = node.group
        if group is None:
            return []
        key = self.source_item(group)
        return [key] if key else []

    # -- selections from content items

    def scoord(self, node: _Node) -> None:
        gtype = (_text(node.item, _GRAPHIC_TYPE) or "").upper()
        rtype = _REGION_TYPES_2D.get(gtype)
        if rtype is None:
            self.warn(
                f"{node.where}: {_A_GRAPHIC_TYPE} {gtype or '(none)'!r} is not a 2D graphic type: "
                "region left out"
            )
            return
        try:
            region = Region2D(rtype, tuple(_floats(_numbers(node.item, _GRAPHIC_DATA))))
        except InvalidInputError as e:
            self.warn(f"{node.where}: {_A_GRAPHIC_DATA} {e.reason}: region left out")
            return
        images = [c for c in node.children if c.rel == "SELECTED FROM"]
        targets = []
        for child in images:
            self.consumed.add(id(child))
            target = child if child.ref is None else self.resolve(child)
            if target is not None and target.vt == "IMAGE":
                targets.append(target)
            elif target is not None:
                self.warn(f"{node.where}: SELECTED FROM {target.where} is not an IMAGE item")
        if not targets:
            self.warn(
                f"{node.where}: SCOORD has no SELECTED FROM image: its {rtype} region "
                "has no image to be on and is left out"
            )
            return
        refs = self.referenced(targets[0])
        if not refs:
            return
        if len(targets) > 1 or len(refs) > 1:
            self.warn(f"{node.where}: SCOORD selected from more than one image: the first is used")
        uid, cls, frames, _segments = refs[0]
        study, series, cls = self.place(uid, cls)
        if node.concept is not None and node.concept != _IMAGE_REGION:
            self.warn(
                f"{node.where}: concept name {node.name()} is not kept: "
                "the selection's code is DCM 111030 Image Region"
            )
        key = f"sr|region|{_dotted(node.path)}"
        s = self.spec(key, IMAGE_REGION, study, series)
        s.add(Instance(uid=uid, sop_class_uid=cls, frames=tuple(frames), regions_2d=(region,)))
        s.focus = self.focus_for(node)
        s.body_site = self.group_site(node.group)
        self.selected.add(uid)
        node.keys.append(key)

    def scoord3d(self, node: _Node) -> None:
        gtype = (_text(node.item, _GRAPHIC_TYPE) or "").upper()
        rtype = _REGION_TYPES_3D.get(gtype)
        if rtype is None:
            self.warn(
                f"{node.where}: {_A_GRAPHIC_TYPE} {gtype or '(none)'!r} is not a 3D graphic type: "
                "region left out"
            )
            return
        for_uid = _text(node.item, _REF_FOR)
        if for_uid is None or not is_valid_uid(for_uid):
            self.warn(
                f"{node.where}: {attr_name('ReferencedFrameOfReferenceUID')} "
                f"{'is missing' if for_uid is None else repr(for_uid) + ' is not a valid UID'}: "
                "3D region left out"
            )
            return
        try:
            region = Region3D(rtype, tuple(_floats(_numbers(node.item, _GRAPHIC_DATA))), for_uid)
        except InvalidInputError as e:
            self.warn(f"{node.where}: {_A_GRAPHIC_DATA} {e.reason}: region left out")
            return
        code = VOLUME_SURFACE if node.concept == _VOLUME_SURFACE else IMAGE_REGION
        uid = self.observation_uid(node)
        key = f"sr|region3d|{_dotted(node.path)}"
        s = self.spec(key, code, self.doc.study, self.doc.series)
        s.frame_of_reference_uid = for_uid
        s.add(
            Instance(
                uid=self.doc.source_uid,
                sop_class_uid=self.doc.sop_class_uid,
                observation_uids=(uid,) if uid else (),
                regions_3d=(region,),
            )
        )
        s.focus = self.focus_for(node)
        s.body_site = self.group_site(node.group)
        node.keys.append(key)

    def reference(self, node: _Node) -> None:
        refs = self.referenced(node)
        if not refs:
            return
        concept = _code_of(node.item, _CONCEPT_NAME) if node.concept else None
        scope = _dotted(node.group.path) if node.group is not None else "doc"
        for uid, cls, frames, segments in refs:
            study, series, cls = self.place(uid, cls)
            self.selected.add(uid)
            if segments:
                key = f"sr|segment|{_dotted(node.path)}|{uid}"
                s = self.spec(key, concept or REFERENCED_SEGMENT, study, series)
                s.add(
                    Instance(
                        uid=uid, sop_class_uid=cls, segments=tuple(segments), frames=tuple(frames)
                    )
                )
                s.focus = self.focus_for(node)
                s.body_site = self.group_site(node.group)
                node.keys.append(key)
                continue
            code = concept or self.container_code(node)
            key = f"sr|ref|{scope}|{_code_key(code)}|{study or ''}|{series or ''}"
            s = self.spec(key, code, study, series)
            s.add(Instance(uid=uid, sop_class_uid=cls, frames=tuple(frames)))
            if not s.focus:
                s.focus = self.focus_for(node)
            if s.body_site is None:
                s.body_site = self.group_site(node.group)
            if key not in node.keys:
                node.keys.append(key)

    def container_code(self, node: _Node) -> Code:
        """The concept name of the nearest enclosing container, else the document title."""
        current = node.parent
        while current is not None:
            if current.vt == "CONTAINER" and current.parent is not None:
                code = _code_of(current.item, _CONCEPT_NAME)
                if code is not None:
                    return code
            current = current.parent
        return self.doc.title

    def segment_focus(self) -> None:
        """Referenced segments focus on their group's Source Image for Segmentation selections."""
        sources: dict[int, list[str]] = {}
        segments: dict[int, list[str]] = {}
        for node in self.nodes:
            if node.group is None:
                continue
            if node.concept == _SOURCE_FOR_SEGMENTATION:
                sources.setdefault(id(node.group), []).extend(node.keys)
            segments.setdefault(id(node.group), []).extend(
                k for k in node.keys if k.startswith("sr|segment|")
            )
        for group, keys in sources.items():
            for key in segments.get(group, ()):
                spec = self.specs[key]
                spec.focus = [*dict.fromkeys(k for k in keys if k not in spec.focus), *spec.focus]

    def evidence_selections(self) -> None:
        """Evidence instances the content tree does not select: one selection per series."""
        for uid in self.evidence.order:
            if uid in self.selected:
                continue
            ev = self.evidence.where[uid]
            code = EVIDENCE_CODE if ev.kind == "current" else OTHER_EVIDENCE_CODE
            key = f"sr|evidence|{ev.kind}|{ev.study}|{ev.series}"
            self.spec(key, code, ev.study, ev.series).add(
                Instance(uid=uid, sop_class_uid=ev.sop_class)
            )

    # -- observations

    def observation_time(self, node: _Node) -> str | None:
        current: _Node | None = node
        while current is not None:
            raw = _text(current.item, _OBSERVATION_DT)
            if raw:
                return _datetime(raw, self.doc, self.ctx, attr_name("ObservationDateTime"))
            current = current.parent
        return None

    def algorithm(self, node: _Node) -> Reference | None:
        name = version = None
        for child in node.children:
            if child.concept == _ALGORITHM_NAME:
                name = _text(child.item, _TEXT_VALUE)
            elif child.concept == _ALGORITHM_VERSION:
                version = _text(child.item, _TEXT_VALUE)
        if not name:
            return None
        return Reference("Device", display=f"{name} {version}" if version else name)

    def own_keys(self, node: _Node) -> list[str]:
        """Keys of the selections made from items ``node`` owns, by-reference targets included."""
        keys: list[str] = []
        stack = list(reversed(node.children))
        while stack:
            child = stack.pop()
            if id(child) in self.consumed:
                continue  # a SCOORD's SELECTED FROM image: the region holds it
            if child.ref is not None:
                target = self.resolve(child)
                if target is not None:
                    keys.extend(k for k in target.keys if k not in keys)
                continue
            if child.owner is not node:
                continue  # a NUM inside: its own
            keys.extend(k for k in child.keys if k not in keys)
            stack.extend(reversed(child.children))
        return keys

    def record(self, node: _Node, kind: ObservationKind, **kw: object) -> ObservationRecord:
        doc = self.doc
        return ObservationRecord(
            key=f"sr|obs|{_dotted(node.path)}",
            source_uid=doc.source_uid,
            kind=kind,
            observation_uid=self.observation_uid(node),
            template_id=_template(node.item),
            completion_flag=doc.completion,
            verification_flag=doc.verification,
            preliminary_flag=doc.preliminary,
            study_instance_uid=doc.study,
            subject=doc.subject,
            issued=doc.issued,
            observation_datetime=self.observation_time(node),
            performers=doc.people,
            based_on=doc.based_on,
            **kw,  # type: ignore[arg-type]
        )

    def modifiers(self, node: _Node) -> dict[str, Code]:
        """Concept modifiers of a NUM or group: finding site, method, derivation."""
        out: dict[str, Code] = {}
        for child in self.children(node):
            if child.vt != "CODE":
                continue
            code = _code_of(child.item, _CONCEPT_CODE)
            if code is None:
                continue
            if child.concept == _FINDING_SITE:
                out.setdefault("finding_site", code)
                for mod in child.children:
                    if mod.concept in (_LATERALITY, _TOPOGRAPHICAL):
                        mcode = _code_of(mod.item, _CONCEPT_CODE)
                        self.warn(
                            f"{mod.where}: {mod.name()} "
                            f"{(mcode.meaning or mcode.value) if mcode else ''!r} of finding site "
                            f"{code.meaning or code.value!r} has no place in bodySite: left out"
                        )
            elif child.concept == _METHOD:
                out.setdefault("method", code)
            elif child.concept == _DERIVATION:
                out.setdefault("derivation", code)
            elif child.concept == _FINDING_CATEGORY:
                out.setdefault("finding_category", code)
            elif child.concept == _FINDING:
                out.setdefault("finding", code)
        return out

    def measured_value(self, node: _Node) -> tuple[float | None, Code | None, Code | None]:
        """(value, unit, qualifier) of a NUM: Floating Point Value, else Numeric Value.

        A NUM without a value (an empty Measured Value Sequence, as some
        exporters write) keeps its Numeric Value Qualifier as the reason; one
        without either is reported.
        """
        qualifier = _code_of(node.item, _QUALIFIER)
        mv = _seq(node.item, _MEASURED_VALUE)
        if not mv:
            if qualifier is None:
                self.warn(
                    f"{node.where}: NUM {node.name()} has no "
                    f"{attr_name('MeasuredValueSequence')} and no "
                    f"{attr_name('NumericValueQualifierCodeSequence')}: written without a value"
                )
            return None, None, qualifier
        item = mv[0]
        unit = _code_of(item, _UNITS)
        if unit is None:
            self.warn(f"{node.where}: {attr_name('MeasurementUnitsCodeSequence')} is missing")
        numeric: float | None = None
        fp = _numbers(item, _FLOAT_VALUE)
        raw = _text(item, _NUMERIC_VALUE)
        try:
            if fp:
                numeric = float(fp[0])
            elif raw is not None:
                numeric = float(raw)
        except (TypeError, ValueError, IndexError):
            self.warn(f"{node.where}: {attr_name('NumericValue')} {raw!r} is not a number")
        if numeric is None:
            if qualifier is None:
                self.warn(f"{node.where}: NUM {node.name()} has no value: written without one")
            return None, unit, qualifier
        if not math.isfinite(numeric):
            self.warn(f"{node.where}: NUM value {numeric} is not finite: written without a value")
            if math.isnan(numeric):
                nan = Code(value="114000", scheme="DCM", meaning="Not a number")
                return None, unit, qualifier or nan
            inf = Code(
                value="114002" if numeric > 0 else "114001",
                scheme="DCM",
                meaning="Positive Infinity" if numeric > 0 else "Negative Infinity",
            )
            return None, unit, qualifier or inf
        return numeric, unit, None

    def measurement(self, node: _Node, fallback: list[str]) -> ObservationRecord | None:
        code = _code_of(node.item, _CONCEPT_NAME)
        if code is None:
            self.warn(f"{node.where}: NUM without a concept name: left out")
            return None
        numeric, unit, qualifier = self.measured_value(node)
        mods = self.modifiers(node)
        own = self.own_keys(node)
        derived = own or list(fallback)
        src = self.source_item(node)
        if src and src not in derived:
            derived.append(src)
        return self.record(
            node,
            ObservationKind.MEASUREMENT,
            code=code,
            numeric_value=numeric,
            unit=unit,
            value_qualifier=qualifier,
            finding_site=mods.get("finding_site"),
            method=mods.get("method"),
            derivation=mods.get("derivation"),
            device=self.algorithm(node)
            or (self.algorithm(node.group) if node.group else None)
            or self.doc.device,
            derived_from=tuple(derived),
        )

    def group(self, node: _Node, nums: list[_Node], out: list[ObservationRecord]) -> None:
        """A Measurement Group, then its members (NUMs at any depth, qualitative items)."""
        tracking_id = tracking_uid = None
        qualitative: list[_Node] = []
        for child in self.children(node):
            if child.concept == _TRACKING_ID:
                tracking_id = _text(child.item, _TEXT_VALUE)
            elif child.concept == _TRACKING_UID:
                raw = _text(child.item, _UID_VALUE)
                if raw and is_valid_uid(raw):
                    tracking_uid = raw
                elif raw:
                    self.warn(f"{child.where}: Tracking Unique Identifier {raw!r} is not a UID")
            elif child.vt in ("CODE", "TEXT") and child.concept not in _NOT_QUALITATIVE:
                if child.rel in _CONTEXT_RELATIONSHIPS:
                    self.warn(f"{child.where}: context item {child.name()} left out")
                else:
                    qualitative.append(child)
        src = self.source_item(node)
        # the selections the group names itself: what its measurements are of, unless
        # a measurement names its own (a SCOORD INFERRED FROM a NUM)
        fallback = [k for k in self.own_keys(node) if k != src]
        derived = list(fallback)
        index = len(out)
        members: list[str] = []
        for num in nums:
            if num.rel in _CONTEXT_RELATIONSHIPS:
                self.warn(
                    f"{num.where}: NUM {num.name()} is context ({num.rel}): not a measurement"
                )
                continue
            try:
                rec = self.measurement(num, fallback)
            except _ITEM_ERRORS as e:
                self.warn(f"{num.where}: {_why(e)}: left out")
                continue
            if rec is not None:
                out.append(rec)
                members.append(rec.key)
                derived.extend(k for k in rec.derived_from if k not in derived)
        for child in qualitative:
            rec = self.evaluation(child, node, fallback)
            if rec is not None:
                out.append(rec)
                members.append(rec.key)
        if src and src not in derived:
            derived.append(src)
        mods = self.modifiers(node)
        out.insert(
            index,
            self.record(
                node,
                ObservationKind.GROUP,
                code=MEASUREMENT_GROUP,
                finding_category=mods.get("finding_category"),
                finding=mods.get("finding"),
                finding_site=mods.get("finding_site"),
                method=mods.get("method"),
                tracking_id=tracking_id,
                tracking_uid=tracking_uid,
                device=self.algorithm(node) or self.doc.device,
                derived_from=tuple(derived),
                members=tuple(members),
            ),
        )

    def evaluation(
        self, child: _Node, group: _Node, fallback: list[str]
    ) -> ObservationRecord | None:
        """A qualitative evaluation: a CODE or TEXT item of a measurement group."""
        code = _code_of(child.item, _CONCEPT_NAME)
        if code is None:
            self.warn(f"{child.where}: {child.vt} without a concept name: left out")
            return None
        value_code = _code_of(child.item, _CONCEPT_CODE) if child.vt == "CODE" else None
        value_text = _text(child.item, _TEXT_VALUE) if child.vt == "TEXT" else None
        if value_code is None and value_text is None:
            self.warn(f"{child.where}: {child.name()} has no value: left out")
            return None
        derived = list(fallback)
        own_src = self.source_item(child)
        if own_src:
            derived.append(own_src)
        return self.record(
            child,
            ObservationKind.QUALITATIVE,
            code=code,
            value_code=value_code,
            value_text=value_text,
            device=self.algorithm(group) or self.doc.device,
            derived_from=tuple(derived),
        )

    # -- the whole document

    def read(self) -> ReadResult:
        for node in self.nodes[1:]:
            if node.ref is not None or id(node) in self.consumed:
                continue
            try:
                if node.vt == "SCOORD":
                    self.scoord(node)
                elif node.vt == "SCOORD3D":
                    self.scoord3d(node)
                elif node.vt == "TCOORD":
                    self.tcoord(node)
                elif node.vt in _REFERENCE_TYPES:
                    self.reference(node)
            except _ITEM_ERRORS as e:
                self.warn(f"{node.where}: {_why(e)}: left out")
        self.segment_focus()
        self.evidence_selections()
        nums: dict[int, list[_Node]] = {}
        for node in self.nodes[1:]:
            if node.ref is None and node.vt == "NUM":
                nums.setdefault(id(node.group) if node.group is not None else 0, []).append(node)
        observations: list[ObservationRecord] = []
        for node in self.nodes[1:]:
            if node.ref is None and node.vt == "CONTAINER" and node.concept == _GROUP:
                self.guarded(node, lambda n: self.group(n, nums.get(id(n), []), observations))
        for node in nums.get(0, []):
            self.guarded(node, lambda n: self.loose_num(n, observations))
        return self.result(observations)

    def guarded(self, node: _Node, step: Callable[[_Node], None]) -> None:
        """Run one step on ``node``; a content item that cannot be read is reported and left out."""
        try:
            step(node)
        except _ITEM_ERRORS as e:
            self.warn(f"{node.where}: {_why(e)}: left out")

    def tcoord(self, node: _Node) -> None:
        for child in node.children:
            if child.rel == "SELECTED FROM":
                self.consumed.add(id(child))
        self.warn(
            f"{node.where}: TCOORD {node.name()} (a temporal range) has no place in "
            "ImagingSelection: left out"
        )

    def loose_num(self, node: _Node, out: list[ObservationRecord]) -> None:
        if node.rel in _CONTEXT_RELATIONSHIPS:
            self.warn(
                f"{node.where}: NUM {node.name()} is context ({node.rel}): not an observation"
            )
            return
        rec = self.measurement(node, [])
        if rec is not None:
            out.append(rec)

    def result(self, observations: list[ObservationRecord]) -> ReadResult:
        doc = self.doc
        result = ReadResult(sop_class_uid=doc.sop_class_uid, sop_instance_uid=doc.source_uid)
        for s in self.specs.values():
            eps: tuple[Endpoint, ...] = ()
            if s.study and s.series:
                eps = tuple(self.evidence.endpoints.get((s.study, s.series), ()))
            result.selections.append(
                Selection(
                    key=s.key,
                    source_uid=doc.source_uid,
                    code=s.code,
                    study_instance_uid=s.study,
                    series_instance_uid=s.series,
                    frame_of_reference_uid=s.frame_of_reference_uid,
                    instances=tuple(s.instances.values()),
                    identifiers=(doc.identifier,),
                    based_on=doc.based_on,
                    subject=doc.subject,
                    issued=doc.issued,
                    performers=doc.performers,
                    endpoints=eps,
                    body_site=s.body_site,
                    focus=tuple(k for k in s.focus if k != s.key),
                )
            )
        result.observations = observations
        if not result.selections and not observations:
            self.warn("no image reference, region, evidence or measurement: nothing to convert")
        result.warnings = self.ctx.warnings
        return result


#: what reading one malformed content item can raise: reported, the item left out
_ITEM_ERRORS = (
    InvalidInputError,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    struct.error,
)


def _why(e: Exception) -> str:
    if isinstance(e, InvalidInputError):
        return f"{e.reason} ({e.attribute})" if e.attribute else e.reason
    return f"malformed ({type(e).__name__}: {e})"


def _template(item: Item) -> str | None:
    seq = _seq(item, _TEMPLATE_SEQ)
    if not seq:
        return None
    return _text(seq[0], _TEMPLATE_ID)


def read_sr(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Structured Report into selections and observations.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The SR document, header read with :func:`dicomsel.dicom.load`.
    ctx : dicomsel.dicom.common.ReadContext
        The file path, options and the warning list.

    Returns
    -------
    dicomsel.dicom.common.ReadResult
        ``selections`` (keys ``sr|...``) and ``observations`` whose
        ``derived_from`` name those selections.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the document's own SOP Instance or Class UID is missing or
        invalid. Anything wrong inside the content tree is reported and
        that content item left out.
    """
    return _Reader(ds, ctx).read()
