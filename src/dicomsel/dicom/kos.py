"""Key Object Selection Document reader (PS3.3 A.35.4, TID 2010).

One :class:`~dicomsel.model.Selection` per (study, series) of the referenced
instances. References come from the content tree (IMAGE, COMPOSITE and
WAVEFORM items, with their frame and segment numbers, and the presentation
states they name) and from the Current Requested Procedure Evidence Sequence,
which also gives each instance its study and series and the retrieve
locations. Both are read item by item with the accessors of
:mod:`dicomsel.dicom.items`, split from the raw bytes where they can be: a
manifest of 100,000 references never becomes 100,000 pydicom datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.content import is_observer_context, iter_content, observer_performers
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.evidence import read_evidence, retrieve_endpoints
from dicomsel.dicom.identity import based_on, subject
from dicomsel.dicom.items import Item, get_numbers, get_seq, get_text, has_items
from dicomsel.dicom.references import A_FRAME, A_SEGMENT, check_frames, int_list, sop_reference
from dicomsel.dicom.sopclasses import KEY_OBJECT_SELECTION
from dicomsel.dicom.values import attr_name, first_code, issued, sop_instance_uid
from dicomsel.model import Code, Identifier, Instance, Provenance, Selection

__all__ = ["SOP_CLASS_UIDS", "read_kos", "retrieve_endpoints"]

#: Key Object Selection Document Storage
SOP_CLASS_UIDS = KEY_OBJECT_SELECTION

_KEY_OBJECT_DESCRIPTION = "113012"
_REFERENCE_TYPES = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})


@dataclass(slots=True)
class _Ref:
    """What the content tree says of one instance, before grouping."""

    sop_class_uid: str | None
    whole: bool = False
    frames: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


def read_kos(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Key Object Selection Document into selections, one per (study, series).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The KOS, header read (no pixel data in a KOS anyway).
    ctx : dicomsel.dicom.context.ReadContext
        The file path, options and the warning list.

    Returns
    -------
    dicomsel.dicom.context.ReadResult

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the document references nothing, a reference has an invalid UID
        or a duplicate frame/segment number.
    """
    source_uid = sop_instance_uid(ds, ds.get("SOPInstanceUID"), ctx, required=False)

    evidence = read_evidence(ds, ctx)
    where = evidence.where
    if not has_items(ds, tags.CurrentRequestedProcedureEvidenceSequence):
        ctx.warn(
            f"{attr_name('CurrentRequestedProcedureEvidenceSequence')} is missing or empty "
            "(Type 1): series of the referenced instances are unknown"
        )

    if "ContentSequence" not in ds:
        ctx.warn(f"{attr_name('ContentSequence')} is missing (Type 1): only the evidence is read")
    title = first_code(ds, tags.ConceptNameCodeSequence)
    if title is None:
        ctx.warn(
            f"{attr_name('ConceptNameCodeSequence')} (document title) is missing: "
            "code given as text only"
        )
        title = Code(value=None, text="Key Object Selection")

    refs: dict[str, _Ref] = {}
    content_order: list[str] = []
    description_parts: list[str] = []
    observer_items: list[Item] = []  # the root's observer context, kept as the walk goes
    for item, depth in iter_content(ds):
        if depth == 1 and is_observer_context(item):
            observer_items.append(item)
        vt = get_text(item, tags.ValueType) or ""
        if vt == "TEXT":
            concept = first_code(item, tags.ConceptNameCodeSequence)
            if concept is not None and concept.value == _KEY_OBJECT_DESCRIPTION:
                text = get_text(item, tags.TextValue)
                if text:
                    description_parts.append(text)
            elif get_text(item, tags.RelationshipType) != "HAS OBS CONTEXT":
                ctx.warn(
                    f"TEXT item {concept.meaning if concept else '?'!r} has no place in "
                    "ImagingSelection: left out"
                )
            continue
        if vt not in _REFERENCE_TYPES:
            continue
        for sop in get_seq(item, tags.ReferencedSOPSequence):
            _add_ref(sop, vt, refs, content_order, ctx)
            # IMAGE items may name the presentation state to show the image with
            for ps in get_seq(sop, tags.ReferencedSOPSequence):
                _add_ref(ps, "COMPOSITE", refs, content_order, ctx, whole=True)

    if not refs and not where:
        raise ctx.error(
            "references no instance: no evidence and no IMAGE, COMPOSITE or WAVEFORM content item",
            attr_name("CurrentRequestedProcedureEvidenceSequence"),
        )

    # group by series: content tree order first, then evidence-only instances
    groups: dict[str, list[Instance]] = {}
    for uid in content_order + [u for u in evidence.order if u not in refs]:
        r = refs.get(uid)
        ev = where.get(uid)
        ev_class = ev.sop_class if ev else None
        cls = (r.sop_class_uid if r else None) or ev_class
        if r and ev and r.sop_class_uid and ev_class and r.sop_class_uid != ev_class:
            ctx.warn(
                f"instance {uid}: SOP class {r.sop_class_uid} in the content tree but "
                f"{ev_class} in the evidence; the content tree's is kept"
            )
        if ev is None:
            ctx.warn(
                f"instance {uid} is not listed in "
                f"{attr_name('CurrentRequestedProcedureEvidenceSequence')}: "
                "its study and series are unknown"
            )
            key = "|"
        else:
            key = f"{ev.study}|{ev.series}"
        whole = r is None or r.whole
        inst = Instance(
            uid=uid,
            sop_class_uid=cls,
            frames=() if whole or r is None else tuple(r.frames),
            segments=() if whole or r is None else tuple(r.segments),
        )
        groups.setdefault(key, []).append(inst)

    subj = subject(ds, ctx)
    when = issued(ds, ctx)
    requests = based_on(ds)
    performers = observer_performers(observer_items, ctx)
    description = "\n".join(description_parts) or None
    ident = Identifier.dicom_uid(source_uid)

    result = ReadResult(sop_class_uid=str(ds.get("SOPClassUID", "")), sop_instance_uid=source_uid)
    for key in sorted(groups):
        study_uid, series_uid = key.split("|")
        eps = evidence.endpoints.get((study_uid, series_uid))
        result.selections.append(
            Selection(
                provenance=Provenance.KOS,
                key=f"kos|{key}",
                source_uid=source_uid,
                code=title,
                study_instance_uid=study_uid or None,
                series_instance_uid=series_uid or None,
                instances=tuple(groups[key]),
                identifiers=(ident,),
                based_on=requests,
                subject=subj,
                issued=when,
                performers=performers,
                endpoints=tuple(eps) if eps else (),
                description=description,
            )
        )
    result.issues = ctx.issues
    return result


def _add_ref(
    sop: Item,
    vt: str,
    refs: dict[str, _Ref],
    order: list[str],
    ctx: ReadContext,
    whole: bool = False,
) -> None:
    where = f"ContentSequence {vt} item > "
    uid, cls_uid = sop_reference(
        sop,
        ctx,
        where + attr_name("ReferencedSOPInstanceUID"),
        where + attr_name("ReferencedSOPClassUID"),
    )
    if cls_uid is None:
        ctx.warn(
            f"instance {uid}: {attr_name('ReferencedSOPClassUID')} is missing in the content tree"
        )
    frames = int_list(get_numbers(sop, tags.ReferencedFrameNumber), A_FRAME, ctx)
    segments = int_list(get_numbers(sop, tags.ReferencedSegmentNumber), A_SEGMENT, ctx)
    check_frames(frames, ctx)
    if vt == "WAVEFORM" and get_numbers(sop, tags.ReferencedWaveformChannels):
        ctx.warn(
            f"instance {uid}: {attr_name('ReferencedWaveformChannels')} has no place in "
            "ImagingSelection: the whole waveform is selected"
        )
    r = refs.get(uid)
    if r is None:
        r = refs[uid] = _Ref(cls_uid)
        order.append(uid)
    elif r.sop_class_uid is None:
        r.sop_class_uid = cls_uid
    if whole or not (frames or segments):
        r.whole = True
    r.frames.update(frames)
    r.segments.update(segments)
