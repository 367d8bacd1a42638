"""Segmentation reader: binary / fractional (66.4) and label map (66.7) SEG.

One :class:`~dicomsel.model.Selection` per segment (the SEG instance, subset
= the segment number, code = Segmented Property Type) and one per series of
source images (code DCM 121233 "Source image for segmentation"); each segment's
``focus`` names the source selections its frames derive from.

The per-frame functional groups are most of a large SEG's header. They are
read only when frame mapping is needed: ``--seg-frames`` on a 66.4 SEG, or
source images that may be multi-frame (their frames are only named per frame),
or source images not listed in the Referenced Series Sequence. Otherwise the
segment-only path reads the Segment Sequence and the Common Instance Reference
module and nothing else.
"""

from __future__ import annotations

import dataclasses
import mmap
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom.common import ReadContext, ReadResult, attr_name, code_from_item, issued, value
from dicomsel.dicom.image import Header, body_site, creator_performers, read_header
from dicomsel.model import Code, Identifier, Instance, Selection

__all__ = [
    "LABEL_MAP_SEGMENTATION",
    "SEGMENTATION",
    "SINGLE_FRAME_CLASSES",
    "SOP_CLASS_UIDS",
    "SOURCE_IMAGE_CODE",
    "per_frame_groups",
    "read_seg",
]

SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.7"
#: Segmentation Storage and Label Map Segmentation Storage
SOP_CLASS_UIDS = frozenset({SEGMENTATION, LABEL_MAP_SEGMENTATION})
#: Code of the source-image selections.
SOURCE_IMAGE_CODE = Code(value="121233", scheme="DCM", meaning="Source image for segmentation")

#: Image classes whose IODs have no Multi-frame Module: their instances are never
#: multi-frame, so a SEG of them needs no per-frame walk to name source frames.
SINGLE_FRAME_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.3.1",  # Digital Intra-Oral X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.2",  # VL Microscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.3",  # VL Slide-Coordinates Microscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image
    }
)

_SEGMENTATION_TYPE = 0x00620001
_SEGMENT_SEQUENCE = 0x00620002
_CATEGORY = 0x00620003
_SEGMENT_NUMBER = 0x00620004
_SEGMENT_LABEL = 0x00620005
_SEGMENT_DESCRIPTION = 0x00620006
_SEGMENT_IDENTIFICATION = 0x0062000A
_REF_SEGMENT = 0x0062000B
_PROPERTY_TYPE = 0x0062000F
_PROPERTY_TYPE_MODIFIER = 0x00620011
_TRACKING_ID = 0x00620020
_TRACKING_UID = 0x00620021
_REF_SERIES = 0x00081115
_REF_INSTANCES = 0x0008114A
_OTHER_STUDIES = 0x00081200
_REF_SOP_CLASS = 0x00081150
_REF_SOP_INSTANCE = 0x00081155
_REF_FRAME = 0x00081160
_STUDY = 0x0020000D
_SERIES = 0x0020000E
_NUMBER_OF_FRAMES = 0x00280008
_SOURCE_IMAGE = 0x00082112
_DERIVATION_IMAGE = 0x00089124
_SHARED_GROUPS = 0x52009229
_PER_FRAME_GROUPS = 0x52009230

_A_SEGMENTS = attr_name("SegmentSequence")
_A_PER_FRAME = attr_name("PerFrameFunctionalGroupsSequence")
_A_REF_SEGMENT = attr_name("ReferencedSegmentNumber")


def per_frame_groups(ds: Dataset) -> list[Dataset]:
    """The Per-frame Functional Groups Sequence, read from the file now if the loader left it.

    :func:`dicomsel.dicom.load` stops before this sequence; it leaves a
    ``_dicomsel_read_rest`` callable on the dataset that reads it (and what
    follows up to Pixel Data) when a reader needs it.
    """
    read_rest = ds.__dict__.get("_dicomsel_read_rest")
    if read_rest is not None:
        read_rest(ds)
    return list(value(ds, _PER_FRAME_GROUPS) or ())


@dataclass(slots=True)
class _Source:
    """One source image: where it is and which of its frames are used."""

    study: str | None
    series: str | None
    sop_class: str | None
    whole: bool = False
    frames: set[int] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"seg|source|{self.study or ''}|{self.series or ''}"


@dataclass(slots=True)
class _Segment:
    number: int
    item: Dataset
    frames: list[int] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)


def _number(raw: object, what: str, ctx: ReadContext) -> int:
    try:
        n: int = int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError) as e:
        raise ctx.error(f"{raw!r} is not a number", what) from e
    if n < 0:
        raise ctx.error(f"{n} is out of range", what)
    return n


def _segments(ds: Dataset, ctx: ReadContext) -> dict[int, _Segment]:
    items = value(ds, _SEGMENT_SEQUENCE)
    if not items:
        raise ctx.error("missing or empty (Type 1): no segments", _A_SEGMENTS)
    out: dict[int, _Segment] = {}
    for i, item in enumerate(items, 1):
        raw = value(item, _SEGMENT_NUMBER)
        what = f"{_A_SEGMENTS} item {i} > {attr_name('SegmentNumber')}"
        if raw is None or raw == "":
            raise ctx.error("missing (Type 1)", what)
        n = _number(raw, what, ctx)
        if n in out:
            raise ctx.error(f"segment number {n} is used twice", what)
        out[n] = _Segment(n, item)
    return dict(sorted(out.items()))


def _ref_uid(item: Dataset, tag: int, where: str, ctx: ReadContext) -> str | None:
    raw = value(item, tag)
    if raw is None or not str(raw).strip():
        return None
    return ctx.uid(raw, where)


def _listed_sources(ds: Dataset, hdr: Header, ctx: ReadContext) -> dict[str, _Source]:
    """Source instances from the Common Instance Reference module, with their study and series."""
    out: dict[str, _Source] = {}

    def series_items(items: Iterable[Dataset], study: str | None, where: str) -> None:
        for s in items:
            series = _ref_uid(s, _SERIES, f"{where} > {attr_name('SeriesInstanceUID')}", ctx)
            if series is None:
                ctx.warn(
                    f"{where} item without {attr_name('SeriesInstanceUID')}: its series unknown"
                )
            for r in value(s, _REF_INSTANCES) or ():
                uid = _ref_uid(
                    r, _REF_SOP_INSTANCE, f"{where} > {attr_name('ReferencedSOPInstanceUID')}", ctx
                )
                if uid is None:
                    ctx.warn(
                        f"{where}: an item has no {attr_name('ReferencedSOPInstanceUID')}: skipped"
                    )
                    continue
                cls = _ref_uid(
                    r, _REF_SOP_CLASS, f"{where} > {attr_name('ReferencedSOPClassUID')}", ctx
                )
                prior = out.get(uid)
                if prior is not None and (prior.study, prior.series) != (study, series):
                    ctx.warn(
                        f"source image {uid} is listed in two series ({prior.series} and "
                        f"{series}): the first is kept"
                    )
                    continue
                if prior is None:
                    out[uid] = _Source(study, series, cls)

    where = attr_name("ReferencedSeriesSequence")
    series_items(value(ds, _REF_SERIES) or (), hdr.study_instance_uid, where)
    other = attr_name("StudiesContainingOtherReferencedInstancesSequence")
    for st in value(ds, _OTHER_STUDIES) or ():
        study = _ref_uid(st, _STUDY, f"{other} > {attr_name('StudyInstanceUID')}", ctx)
        series_items(value(st, _REF_SERIES) or (), study, f"{other} > {where}")
    return out


# Per-frame facts as read, before any check: (Referenced Segment Number, [(Referenced SOP
# Instance UID, Referenced SOP Class UID, [Referenced Frame Number, ...]), ...]). They come from
# the byte scanner below, or from pydicom when the scanner cannot read the file.
_RawRef = tuple[str, str | None, list[str]]
_RawFrame = tuple[str | None, list[_RawRef]]


def _text_of(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _raw_refs(item: Dataset | None) -> list[_RawRef]:
    """Source Image items of a functional groups item's Derivation Image items (pydicom)."""
    out: list[_RawRef] = []
    if item is None:
        return out
    for deriv in value(item, _DERIVATION_IMAGE) or ():
        for src in value(deriv, _SOURCE_IMAGE) or ():
            uid = _text_of(value(src, _REF_SOP_INSTANCE))
            if uid is None:
                continue
            raw = value(src, _REF_FRAME)
            if raw is None or raw == "":
                frames: list[str] = []
            elif isinstance(raw, str | bytes | int | float):
                frames = [str(raw)]
            else:
                frames = [str(v) for v in raw]
            out.append((uid, _text_of(value(src, _REF_SOP_CLASS)), frames))
    return out


def _raw_segment(item: Dataset | None) -> str | None:
    if item is None:
        return None
    ident = value(item, _SEGMENT_IDENTIFICATION)
    if not ident:
        return None
    return _text_of(value(ident[0], _REF_SEGMENT))


def _checked_refs(
    raw: list[_RawRef], where: str, ctx: ReadContext
) -> list[tuple[str, str | None, list[int]]]:
    out = []
    for uid, cls, frame_texts in raw:
        u = ctx.uid(uid, f"{where} > {attr_name('ReferencedSOPInstanceUID')}")
        c = ctx.uid(cls, f"{where} > {attr_name('ReferencedSOPClassUID')}") if cls else None
        frames = []
        for v in frame_texts:
            f = _number(v, f"{where} > {attr_name('ReferencedFrameNumber')}", ctx)
            if f < 1:
                raise ctx.error(
                    f"frame number {f} is out of range (frames start at 1)",
                    f"{where} > {attr_name('ReferencedFrameNumber')}",
                )
            frames.append(f)
        out.append((u, c, frames))
    return out


def _raw_frames(ds: Dataset) -> list[_RawFrame]:
    """Every frame's segment and source images: scanned from the file, else read with pydicom."""
    unread = ds.__dict__.get("_dicomsel_read_rest")
    if unread is not None:
        scanned = _scan_per_frame(ds, unread.keywords["path"], unread.keywords["offset"])
        if scanned is not None:
            return scanned
    return [(_raw_segment(item), _raw_refs(item)) for item in per_frame_groups(ds)]


# ---- a byte scanner for the per-frame functional groups
#
# pydicom builds a Dataset for every item of every nested sequence, which for a SEG of
# thousands of frames costs more than all the rest of the conversion. The scanner walks the
# element headers of the Per-frame Functional Groups Sequence (little endian, explicit or
# implicit VR) and decodes only the five attributes the SEG reader needs. Anything it does not
# expect makes it give up, and pydicom reads the sequence instead (and reports what is wrong).

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_HEADER = struct.Struct("<HHI")
_EXPLICIT = struct.Struct("<HH2sH")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")


class _ScanError(Exception):
    """The scanner met something it does not handle: pydicom reads the sequence instead."""


class _Scanner:
    def __init__(self, buf: mmap.mmap, implicit: bool) -> None:
        self.buf = buf
        self.size = len(buf)
        self.implicit = implicit

    def header(self, pos: int) -> tuple[int, int, int]:
        """(tag, value length, value position) of the element or item at ``pos``."""
        if pos + 8 > self.size:
            raise _ScanError("past the end of the file")
        group, element, length = _HEADER.unpack_from(self.buf, pos)
        tag = group << 16 | element
        if group == 0xFFFE or self.implicit:
            return tag, length, pos + 8
        _, _, vr, short = _EXPLICIT.unpack_from(self.buf, pos)
        if vr in _LONG_VRS:
            if pos + 12 > self.size:
                raise _ScanError("past the end of the file")
            if vr == b"UN" and _U32.unpack_from(self.buf, pos + 8)[0] == _UNDEFINED:
                raise _ScanError("UN of undefined length")  # implicit VR inside: let pydicom
            return tag, _U32.unpack_from(self.buf, pos + 8)[0], pos + 12
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise _ScanError(f"no VR at {pos}")
        return tag, short, pos + 8

    def skip(self, pos: int, length: int) -> int:
        """The position after a value: defined lengths jump, undefined ones walk their items."""
        if length != _UNDEFINED:
            end = pos + length
            if end > self.size:
                raise _ScanError("value past the end of the file")
            return end
        while True:
            tag, ln, vpos = self.header(pos)
            if tag == _SEQUENCE_END:
                return vpos
            if tag != _ITEM:
                raise _ScanError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) where an item belongs")
            pos = self.skip_item(vpos, ln)

    def skip_item(self, pos: int, length: int) -> int:
        if length != _UNDEFINED:
            return self.skip(pos, length)
        while True:
            tag, ln, vpos = self.header(pos)
            if tag == _ITEM_END:
                return vpos
            pos = self.skip(vpos, ln)

    def items(self, pos: int, length: int) -> list[tuple[int, int]]:
        """(content position, length) of each item of a sequence value."""
        out = []
        end = None if length == _UNDEFINED else pos + length
        while end is None or pos < end:
            tag, ln, vpos = self.header(pos)
            if tag == _SEQUENCE_END and end is None:
                break
            if tag != _ITEM:
                raise _ScanError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) where an item belongs")
            out.append((vpos, ln))
            pos = self.skip_item(vpos, ln)
        return out

    def elements(self, pos: int, length: int) -> list[tuple[int, int, int]]:
        """(tag, length, value position) of each element of an item."""
        out = []
        end = None if length == _UNDEFINED else pos + length
        while end is None or pos < end:
            tag, ln, vpos = self.header(pos)
            if tag == _ITEM_END and end is None:
                break
            out.append((tag, ln, vpos))
            pos = self.skip(vpos, ln)
        return out

    def text(self, pos: int, length: int) -> str | None:
        if length == _UNDEFINED or pos + length > self.size:
            raise _ScanError("bad text value")
        t = self.buf[pos : pos + length].decode("latin-1").strip("\x00 ")
        return t or None

    def frame(self, pos: int, length: int) -> _RawFrame:
        segment: str | None = None
        refs: list[_RawRef] = []
        for tag, ln, vpos in self.elements(pos, length):
            if tag == _SEGMENT_IDENTIFICATION:
                for ipos, iln in self.items(vpos, ln)[:1]:
                    for t, l2, p2 in self.elements(ipos, iln):
                        if t == _REF_SEGMENT and l2:
                            if l2 != 2:
                                raise _ScanError("Referenced Segment Number is not US")
                            segment = str(_U16.unpack_from(self.buf, p2)[0])
            elif tag == _DERIVATION_IMAGE:
                for ipos, iln in self.items(vpos, ln):
                    for t, l2, p2 in self.elements(ipos, iln):
                        if t == _SOURCE_IMAGE:
                            for spos, sln in self.items(p2, l2):
                                refs.extend(self.source(spos, sln))
        return segment, refs

    def source(self, pos: int, length: int) -> list[_RawRef]:
        uid = cls = None
        frames: list[str] = []
        for tag, ln, vpos in self.elements(pos, length):
            if tag == _REF_SOP_INSTANCE:
                uid = self.text(vpos, ln)
            elif tag == _REF_SOP_CLASS:
                cls = self.text(vpos, ln)
            elif tag == _REF_FRAME:
                t = self.text(vpos, ln)
                frames = [f for f in (t or "").split("\\") if f.strip()]
        return [(uid, cls, frames)] if uid else []


def _scan_per_frame(ds: Dataset, path: str, offset: int) -> list[_RawFrame] | None:
    """The per-frame facts read from the file's bytes, or None when pydicom must read them."""
    meta = ds.get("file_meta")
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    implicit, little = ds.original_encoding
    if not little or implicit is None or (ts is not None and getattr(ts, "is_deflated", False)):
        return None
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            scanner = _Scanner(buf, bool(implicit))
            tag, length, vpos = scanner.header(offset)
            if tag != _PER_FRAME_GROUPS:
                return None
            return [scanner.frame(p, ln) for p, ln in scanner.items(vpos, length)]
    except (_ScanError, OSError, ValueError, struct.error):
        return None


def _ranges(numbers: list[int]) -> str:
    """``1-3,7``: a compact list of frame numbers for messages."""
    out: list[str] = []
    start = prev = None
    for n in sorted(numbers):
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ",".join(out)


def _walk_frames(
    ds: Dataset,
    segments: dict[int, _Segment],
    sources: dict[str, _Source],
    order: list[str],
    label_map: bool,
    ctx: ReadContext,
) -> None:
    """Map every frame to its segment and its source images (per-frame functional groups)."""
    shared_seq = value(ds, _SHARED_GROUPS)
    shared = shared_seq[0] if shared_seq else None
    where_shared = attr_name("SharedFunctionalGroupsSequence")
    shared_segment = _raw_segment(shared)
    shared_refs = _checked_refs(_raw_refs(shared), where_shared, ctx)
    frames_read = _raw_frames(ds)
    count = value(ds, _NUMBER_OF_FRAMES)
    try:
        n_frames = int(count) if count not in (None, "") else None
    except (TypeError, ValueError):
        n_frames = None
    if n_frames is not None and frames_read and len(frames_read) != n_frames:
        ctx.warn(
            f"{_A_PER_FRAME} has {len(frames_read)} items but {attr_name('NumberOfFrames')} "
            f"is {n_frames}"
        )
    unknown: dict[int, list[int]] = {}
    no_segment: list[int] = []
    unlisted: list[str] = []
    ordered = set(order)
    for i, (raw_segment, raw_refs) in enumerate(frames_read, 1):
        where = f"{_A_PER_FRAME} item {i}"
        refs = _checked_refs(raw_refs, where, ctx) or shared_refs
        uids = set()
        for uid, cls, frames in refs:
            src = sources.get(uid)
            if src is None:
                src = sources[uid] = _Source(None, None, cls)
                unlisted.append(uid)
            if uid not in ordered:
                ordered.add(uid)
                order.append(uid)
            if src.sop_class is None:
                src.sop_class = cls
            if frames:
                src.frames.update(frames)
            else:
                src.whole = True
            uids.add(uid)
        if label_map:
            continue
        raw = raw_segment if raw_segment is not None else shared_segment
        if raw is None:
            no_segment.append(i)
            continue
        number = _number(raw, f"{where} > {_A_REF_SEGMENT}", ctx)
        seg = segments.get(number)
        if seg is None:
            unknown.setdefault(number, []).append(i)
            continue
        seg.frames.append(i)
        seg.sources.update(uids)
    for number, frames in sorted(unknown.items()):
        ctx.warn(
            f"{_A_PER_FRAME}: frame(s) {_ranges(frames)}: {_A_REF_SEGMENT} {number} is not in "
            f"{_A_SEGMENTS}: left out"
        )
    if no_segment:
        ctx.warn(
            f"{_A_PER_FRAME}: frame(s) {_ranges(no_segment)} name no segment "
            f"({attr_name('SegmentIdentificationSequence')} missing): left out"
        )
    if unlisted:
        # study and series of a source image come from the Common Instance Reference module
        ctx.warn(
            f"{len(unlisted)} source image(s) named per frame are not listed in "
            f"{attr_name('ReferencedSeriesSequence')} (first: {unlisted[0]}): "
            "their series is unknown"
        )


def _may_be_multiframe(sources: dict[str, _Source]) -> bool:
    return any(s.sop_class not in SINGLE_FRAME_CLASSES for s in sources.values())


def _text(item: Dataset, tag: int) -> str | None:
    raw = value(item, tag)
    text = str(raw).strip() if raw is not None else ""
    return text or None


def _segment_code(seg: _Segment, ctx: ReadContext) -> tuple[Code, tuple[Code, ...]]:
    label = _text(seg.item, _SEGMENT_LABEL)
    where = f"{_A_SEGMENTS} segment {seg.number} > "
    types = value(seg.item, _PROPERTY_TYPE)
    code = code_from_item(types[0]) if types else None
    if code is None:
        ctx.warn(
            f"{where}{attr_name('SegmentedPropertyTypeCodeSequence')} is missing or has no code "
            "(Type 1): code given as the segment label"
        )
        code = Code(value=None, text=label or f"Segment {seg.number}")
    else:
        code = dataclasses.replace(code, text=label)
        if types and value(types[0], _PROPERTY_TYPE_MODIFIER):
            ctx.warn(
                f"{where}{attr_name('SegmentedPropertyTypeModifierCodeSequence')} has no place in "
                f"code: modifiers of {code.meaning or code.value!r} left out"
            )
    cats = value(seg.item, _CATEGORY)
    category = code_from_item(cats[0]) if cats else None
    return code, (category,) if category is not None else ()


def read_seg(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Segmentation into one selection per segment and one per source series.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The SEG header, as :func:`dicomsel.dicom.load` reads it (per-frame
        functional groups read on demand).
    ctx : dicomsel.dicom.common.ReadContext
        ``ctx.options.seg_frames`` asks for each segment's frames.

    Returns
    -------
    dicomsel.dicom.common.ReadResult

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the Segment Sequence is missing, a segment number is missing,
        repeated or not a number, or a UID is invalid.
    """
    hdr = read_header(ds, ctx)
    label_map = hdr.sop_class_uid == LABEL_MAP_SEGMENTATION or (
        str(value(ds, _SEGMENTATION_TYPE) or "").strip().upper() == "LABELMAP"
    )
    segments = _segments(ds, ctx)
    sources = _listed_sources(ds, hdr, ctx)
    order = list(sources)

    want_frames = ctx.options.seg_frames and not label_map
    if ctx.options.seg_frames and label_map:
        ctx.warn(
            "--seg-frames: every frame of a label map holds all its segments; which frames a "
            "segment is in needs the pixel data: segment frames not listed"
        )
    walk = want_frames or not sources or _may_be_multiframe(sources)
    if walk:
        _walk_frames(ds, segments, sources, order, label_map, ctx)
    if not sources:
        ctx.warn(
            f"no source images: {attr_name('ReferencedSeriesSequence')} and the per-frame "
            f"{attr_name('DerivationImageSequence')} name none"
        )
    exact_focus = walk and not label_map

    # source selections, one per (study, series), in key order
    by_key: dict[str, list[str]] = {}
    for uid in order:
        by_key.setdefault(sources[uid].key, []).append(uid)
    source_keys = sorted(by_key)

    ident = Identifier.dicom_uid(hdr.sop_instance_uid)
    when = issued(ds, ctx)
    performers = creator_performers(ds, ctx)
    n_frames_raw = value(ds, _NUMBER_OF_FRAMES)
    try:
        n_frames = int(n_frames_raw) if n_frames_raw not in (None, "") else None
    except (TypeError, ValueError):
        n_frames = None

    result = ReadResult(sop_class_uid=hdr.sop_class_uid, sop_instance_uid=hdr.sop_instance_uid)
    for seg in segments.values():
        code, categories = _segment_code(seg, ctx)
        where = f"{_A_SEGMENTS} segment {seg.number} > "
        frames: tuple[int, ...] = ()
        if want_frames and not (n_frames is not None and len(seg.frames) == n_frames):
            frames = tuple(seg.frames)
        if exact_focus:
            focus = tuple(sorted({sources[u].key for u in seg.sources}))
        else:
            focus = tuple(source_keys)
        identifiers = [ident]
        tracking_uid = _text(seg.item, _TRACKING_UID)
        if tracking_uid:
            identifiers.append(
                Identifier.dicom_uid(ctx.uid(tracking_uid, where + attr_name("TrackingUID")))
            )
        notes = []
        label = _text(seg.item, _SEGMENT_LABEL)
        description = _text(seg.item, _SEGMENT_DESCRIPTION)
        if description and description != label:
            notes.append(description)
        tracking_id = _text(seg.item, _TRACKING_ID)
        if tracking_id:
            notes.append(f"Tracking ID: {tracking_id}")
        result.selections.append(
            Selection(
                key=f"seg|segment|{seg.number}",
                code=code,
                categories=categories,
                study_instance_uid=hdr.study_instance_uid,
                series_instance_uid=hdr.series_instance_uid,
                series_number=hdr.series_number,
                frame_of_reference_uid=hdr.frame_of_reference_uid,
                instances=(
                    Instance(
                        uid=hdr.sop_instance_uid,
                        sop_class_uid=hdr.sop_class_uid,
                        number=hdr.instance_number,
                        segments=(seg.number,),
                        frames=frames,
                    ),
                ),
                identifiers=tuple(identifiers),
                body_site=body_site(ds, ctx, seg.item, where),
                focus=focus,
                description="\n".join(notes) or None,
                source_uid=hdr.sop_instance_uid,
                subject=hdr.subject,
                issued=when,
                performers=performers,
                based_on=hdr.based_on,
            )
        )
    for key in source_keys:
        uids = by_key[key]
        first = sources[uids[0]]
        instances = []
        for uid in uids:
            s = sources[uid]
            instances.append(
                Instance(
                    uid=uid,
                    sop_class_uid=s.sop_class,
                    frames=() if s.whole or not s.frames else tuple(s.frames),
                )
            )
        result.selections.append(
            Selection(
                key=key,
                code=SOURCE_IMAGE_CODE,
                study_instance_uid=first.study,
                series_instance_uid=first.series,
                instances=tuple(instances),
                identifiers=(ident,),
                source_uid=hdr.sop_instance_uid,
                subject=hdr.subject,
                issued=when,
                performers=performers,
                based_on=hdr.based_on,
            )
        )
    result.warnings = ctx.warnings
    return result
