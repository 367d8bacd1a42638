"""Key Object Selection Document reader (PS3.3 A.35.4, TID 2010).

One :class:`~dicomsel.model.Selection` per (study, series) of the referenced
instances. References come from the content tree (IMAGE, COMPOSITE and
WAVEFORM items, with their frame and segment numbers, and the presentation
states they name) and from the Current Requested Procedure Evidence Sequence,
which also gives each instance its study and series and the retrieve
locations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom.common import (
    ReadContext,
    ReadResult,
    attr_name,
    based_on,
    first_code,
    issued,
    iter_content,
    observer_performers,
    subject,
    value,
)
from dicomsel.model import Code, Endpoint, Identifier, Instance, Selection

__all__ = ["SOP_CLASS_UIDS", "read_kos", "retrieve_endpoints"]

#: Key Object Selection Document Storage
SOP_CLASS_UIDS = frozenset({"1.2.840.10008.5.1.4.1.1.88.59"})

_KEY_OBJECT_DESCRIPTION = "113012"

# tags read in the per-reference loops (by tag: no keyword lookup)
_REF_SOP_SEQ = 0x00081199
_REF_SOP_CLASS = 0x00081150
_REF_SOP_INSTANCE = 0x00081155
_REF_FRAME = 0x00081160
_REF_SEGMENT = 0x0062000B
_VALUE_TYPE = 0x0040A040
_RETRIEVE_TAGS = frozenset({0x00080054, 0x00081190, 0x0040E011})  # AE title, URL, location UID
_EVIDENCE = "CurrentRequestedProcedureEvidenceSequence"
_A_EVIDENCE = attr_name(_EVIDENCE)
_A_INSTANCE = attr_name("ReferencedSOPInstanceUID")
_A_CLASS = attr_name("ReferencedSOPClassUID")
_A_FRAME = attr_name("ReferencedFrameNumber")
_A_SEGMENT = attr_name("ReferencedSegmentNumber")
_REFERENCE_TYPES = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})


@dataclass(slots=True)
class _Ref:
    """What the content tree says of one instance, before grouping."""

    sop_class_uid: str | None
    whole: bool = False
    frames: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Series:
    study_instance_uid: str
    series_instance_uid: str
    endpoints: list[Endpoint] = field(default_factory=list)


def _int_list(value: object, what: str, ctx: ReadContext) -> list[int]:
    if value is None or value == "":
        return []
    values = [value] if isinstance(value, str | bytes | int | float) else list(value)  # type: ignore[call-overload]
    out: list[int] = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError) as e:
            raise ctx.error(f"{v!r} is not a number", what) from e
    if len(set(out)) != len(out):
        dup = sorted({v for v in out if out.count(v) > 1})
        raise ctx.error(f"duplicate number(s) {dup} in one reference", what)
    return out


def _evidence(
    ds: Dataset, ctx: ReadContext
) -> tuple[dict[str, tuple[str, str | None]], dict[tuple[str, str], _Series], list[str]]:
    """Read the evidence: instance -> (series key, class); series; instances in order."""
    where: dict[str, tuple[str, str | None]] = {}
    series: dict[tuple[str, str], _Series] = {}
    order: list[str] = []
    attr = attr_name("CurrentRequestedProcedureEvidenceSequence")
    for study_item in ds.get("CurrentRequestedProcedureEvidenceSequence") or ():
        study_uid = ctx.uid(study_item.get("StudyInstanceUID"), f"{attr} > StudyInstanceUID")
        for series_item in study_item.get("ReferencedSeriesSequence") or ():
            series_uid = ctx.uid(
                series_item.get("SeriesInstanceUID"), f"{attr} > SeriesInstanceUID"
            )
            key = (study_uid, series_uid)
            s = series.get(key)
            if s is None:
                s = series[key] = _Series(study_uid, series_uid)
            for ep in retrieve_endpoints(series_item, ctx):
                if ep not in s.endpoints:
                    s.endpoints.append(ep)
            for sop in value(series_item, _REF_SOP_SEQ) or ():
                uid = ctx.uid(
                    value(sop, _REF_SOP_INSTANCE),
                    f"{attr} > {attr_name('ReferencedSOPInstanceUID')}",
                )
                cls = value(sop, _REF_SOP_CLASS)
                cls_uid = (
                    ctx.uid(cls, f"{attr} > {attr_name('ReferencedSOPClassUID')}") if cls else None
                )
                for ep in retrieve_endpoints(sop, ctx):
                    if ep not in s.endpoints:
                        s.endpoints.append(ep)
                prior = where.get(uid)
                if prior is not None and prior[0] != f"{study_uid}|{series_uid}":
                    raise ctx.error(
                        f"instance {uid} is listed in two series ({prior[0]} and "
                        f"{study_uid}|{series_uid})",
                        attr,
                    )
                if prior is None:
                    order.append(uid)
                where[uid] = (f"{study_uid}|{series_uid}", cls_uid or (prior[1] if prior else None))
    return where, series, order


def retrieve_endpoints(item: Dataset, ctx: ReadContext) -> list[Endpoint]:
    """Retrieve AE Title (+ Retrieve Location UID) and Retrieve URL of an evidence item.

    An AE title and a location UID name one DIMSE location and make one
    endpoint; a Retrieve URL is a DICOMweb (or WADO-URI) endpoint of its own.
    """
    out: list[Endpoint] = []
    if _RETRIEVE_TAGS.isdisjoint(item.keys()):
        return out  # the common case, checked without keyword lookups
    loc_raw = str(item.get("RetrieveLocationUID", "") or "").strip()
    loc = ctx.uid(loc_raw, attr_name("RetrieveLocationUID")) if loc_raw else None
    ae = item.get("RetrieveAETitle")
    titles = [] if not ae else [ae] if isinstance(ae, str) else list(ae)
    titles = [str(t).strip() for t in titles if str(t).strip()]
    for t in titles:
        out.append(Endpoint(kind="dicom-dimse", ae_title=t, location_uid=loc))
    if loc and not titles:
        out.append(Endpoint(kind="dicom-dimse", location_uid=loc))
    url = str(item.get("RetrieveURL", "") or "").strip()
    if url:
        kind = "dicom-wado-uri" if "requesttype=wado" in url.lower() else "dicom-wado-rs"
        out.append(Endpoint(kind=kind, address=url))
    return out


def read_kos(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Key Object Selection Document into selections, one per (study, series).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The KOS, header read (no pixel data in a KOS anyway).
    ctx : dicomsel.dicom.common.ReadContext
        The file path, options and the warning list.

    Returns
    -------
    dicomsel.dicom.common.ReadResult

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the document references nothing, a reference has an invalid UID
        or a duplicate frame/segment number.
    """
    sop_uid = ds.get("SOPInstanceUID") or ds.get("file_meta", Dataset()).get(
        "MediaStorageSOPInstanceUID"
    )
    if not ds.get("SOPInstanceUID") and sop_uid:
        ctx.warn(f"{attr_name('SOPInstanceUID')} is missing: taken from the file meta")
    source_uid = ctx.uid(sop_uid, attr_name("SOPInstanceUID"))

    where, series, evidence_order = _evidence(ds, ctx)
    if not ds.get("CurrentRequestedProcedureEvidenceSequence"):
        ctx.warn(
            f"{attr_name('CurrentRequestedProcedureEvidenceSequence')} is missing or empty "
            "(Type 1): series of the referenced instances are unknown"
        )

    if "ContentSequence" not in ds:
        ctx.warn(f"{attr_name('ContentSequence')} is missing (Type 1): only the evidence is read")
    title = first_code(ds, "ConceptNameCodeSequence")
    if title is None:
        ctx.warn(
            f"{attr_name('ConceptNameCodeSequence')} (document title) is missing: "
            "code given as text only"
        )
        title = Code(value=None, text="Key Object Selection")

    refs: dict[str, _Ref] = {}
    content_order: list[str] = []
    description_parts: list[str] = []
    root_items = list(ds.get("ContentSequence") or ())
    for item, _depth in iter_content(ds):
        vt = str(value(item, _VALUE_TYPE) or "").strip()
        if vt == "TEXT":
            concept = first_code(item, "ConceptNameCodeSequence")
            if concept is not None and concept.value == _KEY_OBJECT_DESCRIPTION:
                text = str(item.get("TextValue", "")).strip()
                if text:
                    description_parts.append(text)
            elif str(item.get("RelationshipType", "")) != "HAS OBS CONTEXT":
                ctx.warn(
                    f"TEXT item {concept.meaning if concept else '?'!r} has no place in "
                    "ImagingSelection: left out"
                )
            continue
        if vt not in _REFERENCE_TYPES:
            continue
        for sop in value(item, _REF_SOP_SEQ) or ():
            _add_ref(sop, vt, refs, content_order, ctx)
            # IMAGE items may name the presentation state to show the image with
            for ps in value(sop, _REF_SOP_SEQ) or ():
                _add_ref(ps, "COMPOSITE", refs, content_order, ctx, whole=True)

    if not refs and not where:
        raise ctx.error(
            "references no instance: no evidence and no IMAGE, COMPOSITE or WAVEFORM content item",
            attr_name("CurrentRequestedProcedureEvidenceSequence"),
        )

    # group by series: content tree order first, then evidence-only instances
    groups: dict[str, list[Instance]] = {}
    for uid in content_order + [u for u in evidence_order if u not in refs]:
        r = refs.get(uid)
        ev = where.get(uid)
        cls = (r.sop_class_uid if r else None) or (ev[1] if ev else None)
        if r and ev and r.sop_class_uid and ev[1] and r.sop_class_uid != ev[1]:
            ctx.warn(
                f"instance {uid}: SOP class {r.sop_class_uid} in the content tree but "
                f"{ev[1]} in the evidence; the content tree's is kept"
            )
        if ev is None:
            ctx.warn(
                f"instance {uid} is not listed in "
                f"{attr_name('CurrentRequestedProcedureEvidenceSequence')}: "
                "its study and series are unknown"
            )
            key = "|"
        else:
            key = ev[0]
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
    performers = observer_performers(root_items, ctx)
    description = "\n".join(description_parts) or None
    ident = Identifier.dicom_uid(source_uid)

    result = ReadResult(sop_class_uid=str(ds.get("SOPClassUID", "")), sop_instance_uid=source_uid)
    for key in sorted(groups):
        study_uid, series_uid = key.split("|")
        s = series.get((study_uid, series_uid))
        result.selections.append(
            Selection(
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
                endpoints=tuple(s.endpoints) if s else (),
                description=description,
            )
        )
    result.warnings = ctx.warnings
    return result


def _add_ref(
    sop: Dataset,
    vt: str,
    refs: dict[str, _Ref],
    order: list[str],
    ctx: ReadContext,
    whole: bool = False,
) -> None:
    where = f"ContentSequence {vt} item > {attr_name('ReferencedSOPInstanceUID')}"
    uid = ctx.uid(value(sop, _REF_SOP_INSTANCE), where)
    cls = value(sop, _REF_SOP_CLASS)
    cls_uid = (
        ctx.uid(cls, f"ContentSequence {vt} item > {attr_name('ReferencedSOPClassUID')}")
        if cls
        else None
    )
    if cls_uid is None:
        ctx.warn(
            f"instance {uid}: {attr_name('ReferencedSOPClassUID')} is missing in the content tree"
        )
    frames = _int_list(value(sop, _REF_FRAME), attr_name("ReferencedFrameNumber"), ctx)
    segments = _int_list(value(sop, _REF_SEGMENT), attr_name("ReferencedSegmentNumber"), ctx)
    for f in frames:
        if f < 1:
            raise ctx.error(
                f"frame number {f} is out of range (frames start at 1)",
                attr_name("ReferencedFrameNumber"),
            )
    if vt == "WAVEFORM" and sop.get("ReferencedWaveformChannels"):
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
