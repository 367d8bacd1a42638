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
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom import segscan, tags
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.image import Header, body_site, creator_performers, read_header
from dicomsel.dicom.references import A_FRAME, check_frames, optional_uid
from dicomsel.dicom.segscan import RawFrame, RawRef
from dicomsel.dicom.sopclasses import LABEL_MAP_SEGMENTATION, SEGMENTATION, SEGMENTATIONS
from dicomsel.dicom.values import attr_name, code_from_item, issued, text, text_of, value
from dicomsel.model import Code, Identifier, Instance, Provenance, Selection
from dicomsel.terminology import SINGLE_FRAME_CLASSES

__all__ = [
    "LABEL_MAP_SEGMENTATION",
    "SEGMENTATION",
    "SINGLE_FRAME_CLASSES",
    "SOP_CLASS_UIDS",
    "SOURCE_IMAGE_CODE",
    "per_frame_groups",
    "read_seg",
]

#: Segmentation Storage and Label Map Segmentation Storage
SOP_CLASS_UIDS = SEGMENTATIONS
#: Code of the source-image selections.
SOURCE_IMAGE_CODE = Code(value="121233", scheme="DCM", meaning="Source image for segmentation")

_A_SEGMENTS = attr_name("SegmentSequence")
_A_PER_FRAME = attr_name("PerFrameFunctionalGroupsSequence")
_A_REF_SEGMENT = attr_name("ReferencedSegmentNumber")


def per_frame_groups(ds: Dataset, ctx: ReadContext) -> list[Dataset]:
    """The Per-frame Functional Groups Sequence, read from the file now if the loader left it.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
        Its ``deferred`` reads the sequence (and what follows up to Pixel Data)
        into ``ds`` when :mod:`dicomsel.dicom.filereader` left it unread.

    Returns
    -------
    list of pydicom.dataset.Dataset

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the sequence cannot be parsed.
    """
    deferred = ctx.pending_groups()
    if deferred is not None:
        deferred.read_into(ds)
    return list(value(ds, tags.PerFrameFunctionalGroupsSequence) or ())


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
    items = value(ds, tags.SegmentSequence)
    if not items:
        raise ctx.error("missing or empty (Type 1): no segments", _A_SEGMENTS)
    out: dict[int, _Segment] = {}
    for i, item in enumerate(items, 1):
        raw = value(item, tags.SegmentNumber)
        what = f"{_A_SEGMENTS} item {i} > {attr_name('SegmentNumber')}"
        if raw is None or raw == "":
            raise ctx.error("missing (Type 1)", what)
        n = _number(raw, what, ctx)
        if n in out:
            raise ctx.error(f"segment number {n} is used twice", what)
        out[n] = _Segment(n, item)
    return dict(sorted(out.items()))


def _listed_sources(ds: Dataset, hdr: Header, ctx: ReadContext) -> dict[str, _Source]:
    """Source instances from the Common Instance Reference module, with their study and series."""
    out: dict[str, _Source] = {}

    def series_items(items: Iterable[Dataset], study: str | None, where: str) -> None:
        for s in items:
            series = optional_uid(
                s, tags.SeriesInstanceUID, f"{where} > {attr_name('SeriesInstanceUID')}", ctx
            )
            if series is None:
                ctx.warn(
                    f"{where} item without {attr_name('SeriesInstanceUID')}: its series unknown"
                )
            for r in value(s, tags.ReferencedInstanceSequence) or ():
                uid = optional_uid(
                    r,
                    tags.ReferencedSOPInstanceUID,
                    f"{where} > {attr_name('ReferencedSOPInstanceUID')}",
                    ctx,
                )
                if uid is None:
                    ctx.warn(
                        f"{where}: an item has no {attr_name('ReferencedSOPInstanceUID')}: skipped"
                    )
                    continue
                cls = optional_uid(
                    r,
                    tags.ReferencedSOPClassUID,
                    f"{where} > {attr_name('ReferencedSOPClassUID')}",
                    ctx,
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
    series_items(value(ds, tags.ReferencedSeriesSequence) or (), hdr.study_instance_uid, where)
    other = attr_name("StudiesContainingOtherReferencedInstancesSequence")
    for st in value(ds, tags.StudiesContainingOtherReferencedInstancesSequence) or ():
        study = optional_uid(
            st, tags.StudyInstanceUID, f"{other} > {attr_name('StudyInstanceUID')}", ctx
        )
        series_items(value(st, tags.ReferencedSeriesSequence) or (), study, f"{other} > {where}")
    return out


def _raw_refs(item: Dataset | None) -> list[RawRef]:
    """Source Image items of a functional groups item's Derivation Image items (pydicom)."""
    out: list[RawRef] = []
    if item is None:
        return out
    for deriv in value(item, tags.DerivationImageSequence) or ():
        for src in value(deriv, tags.SourceImageSequence) or ():
            uid = text_of(value(src, tags.ReferencedSOPInstanceUID))
            if uid is None:
                continue
            raw = value(src, tags.ReferencedFrameNumber)
            if raw is None or raw == "":
                frames: list[str] = []
            elif isinstance(raw, str | bytes | int | float):
                frames = [str(raw)]
            else:
                frames = [str(v) for v in raw]
            out.append((uid, text_of(value(src, tags.ReferencedSOPClassUID)), frames))
    return out


def _raw_segment(item: Dataset | None) -> str | None:
    if item is None:
        return None
    ident = value(item, tags.SegmentIdentificationSequence)
    if not ident:
        return None
    return text_of(value(ident[0], tags.ReferencedSegmentNumber))


def _checked_refs(
    raw: list[RawRef], where: str, ctx: ReadContext
) -> list[tuple[str, str | None, list[int]]]:
    out = []
    for uid, cls, frame_texts in raw:
        u = ctx.uid(uid, f"{where} > {attr_name('ReferencedSOPInstanceUID')}")
        c = ctx.uid(cls, f"{where} > {attr_name('ReferencedSOPClassUID')}") if cls else None
        frames = []
        what = f"{where} > {A_FRAME}"
        for v in frame_texts:
            f = _number(v, what, ctx)
            check_frames([f], ctx, what)
            frames.append(f)
        out.append((u, c, frames))
    return out


def _raw_frames(ds: Dataset, ctx: ReadContext) -> list[RawFrame]:
    """Every frame's segment and source images: scanned from the file, else read with pydicom."""
    deferred = ctx.pending_groups()
    if deferred is not None:
        scanned = segscan.scan_per_frame(deferred)
        if scanned is not None:
            return scanned
    return [(_raw_segment(item), _raw_refs(item)) for item in per_frame_groups(ds, ctx)]


def _check_frame_count(ds: Dataset, n_items: int | None, ctx: ReadContext) -> None:
    """Warn when Number of Frames is not the number of per-frame functional groups."""
    count = value(ds, tags.NumberOfFrames)
    try:
        n_frames = int(count) if count not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        n_frames = None
    if n_frames is not None and n_items is not None and n_items != n_frames:
        ctx.warn(
            f"{_A_PER_FRAME} has {n_items} items but {attr_name('NumberOfFrames')} is {n_frames}",
            attr_name("NumberOfFrames"),
        )


def _count_groups(ds: Dataset, ctx: ReadContext) -> int | None:
    """The number of per-frame functional groups, counted from the bytes when left unread."""
    deferred = ctx.pending_groups()
    if deferred is None:
        return len(value(ds, tags.PerFrameFunctionalGroupsSequence) or ())
    return segscan.count_per_frame(deferred)


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
    shared_seq = value(ds, tags.SharedFunctionalGroupsSequence)
    shared = shared_seq[0] if shared_seq else None
    where_shared = attr_name("SharedFunctionalGroupsSequence")
    shared_segment = _raw_segment(shared)
    shared_refs = _checked_refs(_raw_refs(shared), where_shared, ctx)
    frames_read = _raw_frames(ds, ctx)
    _check_frame_count(ds, len(frames_read), ctx)
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


def _segment_code(seg: _Segment, ctx: ReadContext) -> tuple[Code, tuple[Code, ...]]:
    label = text(seg.item, tags.SegmentLabel)
    where = f"{_A_SEGMENTS} segment {seg.number} > "
    types = value(seg.item, tags.SegmentedPropertyTypeCodeSequence)
    code = code_from_item(types[0]) if types else None
    if code is None:
        ctx.warn(
            f"{where}{attr_name('SegmentedPropertyTypeCodeSequence')} is missing or has no code "
            "(Type 1): code given as the segment label"
        )
        code = Code(value=None, text=label or f"Segment {seg.number}")
    else:
        code = dataclasses.replace(code, text=label)
        if types and value(types[0], tags.SegmentedPropertyTypeModifierCodeSequence):
            ctx.warn(
                f"{where}{attr_name('SegmentedPropertyTypeModifierCodeSequence')} has no place in "
                f"code: modifiers of {code.meaning or code.value!r} left out"
            )
    cats = value(seg.item, tags.SegmentedPropertyCategoryCodeSequence)
    category = code_from_item(cats[0]) if cats else None
    return code, (category,) if category is not None else ()


def read_seg(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Segmentation into one selection per segment and one per source series.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The SEG header, as :func:`dicomsel.dicom.load` reads it (per-frame
        functional groups read on demand).
    ctx : dicomsel.dicom.context.ReadContext
        ``ctx.options.seg_frames`` asks for each segment's frames.

    Returns
    -------
    dicomsel.dicom.context.ReadResult

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the Segment Sequence is missing, a segment number is missing,
        repeated or not a number, or a UID is invalid.
    """
    hdr = read_header(ds, ctx)
    label_map = hdr.sop_class_uid == LABEL_MAP_SEGMENTATION or (
        str(value(ds, tags.SegmentationType) or "").strip().upper() == "LABELMAP"
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
    else:
        _check_frame_count(ds, _count_groups(ds, ctx), ctx)
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
    n_frames_raw = value(ds, tags.NumberOfFrames)
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
        tracking_uid = text(seg.item, tags.TrackingUID)
        if tracking_uid:
            identifiers.append(
                Identifier.dicom_uid(ctx.uid(tracking_uid, where + attr_name("TrackingUID")))
            )
        notes = []
        label = text(seg.item, tags.SegmentLabel)
        description = text(seg.item, tags.SegmentDescription)
        if description and description != label:
            notes.append(description)
        tracking_id = text(seg.item, tags.TrackingID)
        if tracking_id:
            notes.append(f"Tracking ID: {tracking_id}")
        result.selections.append(
            Selection(
                provenance=Provenance.SEG,
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
                provenance=Provenance.SEG,
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
    result.issues = ctx.issues
    return result
