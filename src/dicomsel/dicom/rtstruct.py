"""RT Structure Set reader (PS3.3 A.19).

One :class:`~dicomsel.model.Selection` per ROI (the RTSTRUCT instance, subset
= the ROI Number) and, for each ROI, one per series of the images its contours
lie on (Contour Image Sequence; code DCM 121233 "Source image for
segmentation"), which the ROI's selection names in ``focus``. Contour Data is
never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.image import Header, body_site, creator_performers, read_header
from dicomsel.dicom.references import optional_uid
from dicomsel.dicom.schemes import declared_schemes
from dicomsel.dicom.seg import SOURCE_IMAGE_CODE
from dicomsel.dicom.sopclasses import RT_STRUCTURE_SET
from dicomsel.dicom.values import (
    attr_name,
    author,
    code_from_item,
    issued,
    number_list,
    person_of_pn,
    text,
    value,
)
from dicomsel.model import Code, Identifier, Instance, Provenance, Selection

__all__ = ["SOP_CLASS_UIDS", "read_rtstruct"]

#: RT Structure Set Storage
SOP_CLASS_UIDS = RT_STRUCTURE_SET

_A_ROIS = attr_name("StructureSetROISequence")
_A_CONTOURS = attr_name("ROIContourSequence")
_A_OBSERVATIONS = attr_name("RTROIObservationsSequence")
_A_REF_FOR = attr_name("ReferencedFrameOfReferenceSequence")


@dataclass(slots=True)
class _Image:
    """A referenced image: where the Referenced Frame of Reference Sequence puts it."""

    study: str | None
    series: str | None
    frame_of_reference: str | None
    sop_class: str | None


@dataclass(slots=True)
class _Roi:
    number: int
    name: str | None
    description: str | None
    frame_of_reference: str | None
    observation: Dataset | None = None
    contours: int = 0
    contours_without_image: int = 0
    has_contour_item: bool = False
    images: dict[str, tuple[str | None, bool, set[int]]] = field(default_factory=dict)


def _int(raw: object, what: str, ctx: ReadContext) -> int:
    try:
        n: int = int(raw)  # type: ignore[call-overload]
        return n
    except (TypeError, ValueError) as e:
        raise ctx.error(f"{raw!r} is not a number", what) from e


def _referenced_images(ds: Dataset, ctx: ReadContext) -> tuple[dict[str, _Image], set[str]]:
    """Images of the Referenced Frame of Reference Sequence, and the frames of reference named."""
    images: dict[str, _Image] = {}
    frames_of_reference: set[str] = set()
    for ref in value(ds, tags.ReferencedFrameOfReferenceSequence) or ():
        for_uid = optional_uid(
            ref, tags.FrameOfReferenceUID, f"{_A_REF_FOR} > {attr_name('FrameOfReferenceUID')}", ctx
        )
        if for_uid:
            frames_of_reference.add(for_uid)
        for study_item in value(ref, tags.RTReferencedStudySequence) or ():
            where = f"{_A_REF_FOR} > {attr_name('RTReferencedStudySequence')}"
            study = optional_uid(
                study_item,
                tags.ReferencedSOPInstanceUID,
                f"{where} > {attr_name('ReferencedSOPInstanceUID')}",
                ctx,
            )
            for series_item in value(study_item, tags.RTReferencedSeriesSequence) or ():
                w = f"{where} > {attr_name('RTReferencedSeriesSequence')}"
                series = optional_uid(
                    series_item,
                    tags.SeriesInstanceUID,
                    f"{w} > {attr_name('SeriesInstanceUID')}",
                    ctx,
                )
                for img in value(series_item, tags.ContourImageSequence) or ():
                    wi = f"{w} > {attr_name('ContourImageSequence')}"
                    uid = optional_uid(
                        img,
                        tags.ReferencedSOPInstanceUID,
                        f"{wi} > {attr_name('ReferencedSOPInstanceUID')}",
                        ctx,
                    )
                    if uid is None:
                        continue
                    cls = optional_uid(
                        img,
                        tags.ReferencedSOPClassUID,
                        f"{wi} > {attr_name('ReferencedSOPClassUID')}",
                        ctx,
                    )
                    if uid not in images:
                        images[uid] = _Image(study, series, for_uid, cls)
    return images, frames_of_reference


def _rois(ds: Dataset, ctx: ReadContext) -> dict[int, _Roi]:
    items = value(ds, tags.StructureSetROISequence)
    if not items:
        raise ctx.error("missing or empty (Type 1): no ROIs", _A_ROIS)
    out: dict[int, _Roi] = {}
    for i, item in enumerate(items, 1):
        what = f"{_A_ROIS} item {i} > {attr_name('ROINumber')}"
        raw = value(item, tags.ROINumber)
        if raw is None or raw == "":
            raise ctx.error("missing (Type 1)", what)
        n = _int(raw, what, ctx)
        if n < 1:
            raise ctx.error(f"{n} is out of range (ROI numbers start at 1)", what)
        if n in out:
            raise ctx.error(f"ROI number {n} is used twice", what)
        for_uid = optional_uid(
            item,
            tags.ReferencedFrameOfReferenceUID,
            f"{_A_ROIS} ROI {n} > {attr_name('ReferencedFrameOfReferenceUID')}",
            ctx,
        )
        if for_uid is None:
            ctx.warn(
                f"{_A_ROIS} ROI {n}: {attr_name('ReferencedFrameOfReferenceUID')} "
                "is missing (Type 1)"
            )
        out[n] = _Roi(n, text(item, tags.ROIName), text(item, tags.ROIDescription), for_uid)
    return dict(sorted(out.items()))


def _roi_of(
    item: Dataset, where: str, rois: dict[int, _Roi], ctx: ReadContext, dropped: str
) -> _Roi | None:
    """The ROI an item's Referenced ROI Number names; None (and a warning) if it names none."""
    what = f"{where} > {attr_name('ReferencedROINumber')}"
    raw = value(item, tags.ReferencedROINumber)
    if raw is None or raw == "":
        ctx.warn(f"{what} is missing (Type 1): {dropped}")
        return None
    roi = rois.get(_int(raw, what, ctx))
    if roi is None:
        ctx.warn(f"{what} {raw} is not in {_A_ROIS}: {dropped}")
    return roi


def _contours(ds: Dataset, rois: dict[int, _Roi], ctx: ReadContext) -> None:
    for i, item in enumerate(value(ds, tags.ROIContourSequence) or (), 1):
        roi = _roi_of(item, f"{_A_CONTOURS} item {i}", rois, ctx, "its contours are left out")
        if roi is None:
            continue
        roi.has_contour_item = True
        for contour in value(item, tags.ContourSequence) or ():
            roi.contours += 1
            images = value(contour, tags.ContourImageSequence)
            if not images:
                roi.contours_without_image += 1
                continue
            for img in images:
                wi = f"{_A_CONTOURS} ROI {roi.number} > {attr_name('ContourImageSequence')}"
                uid = optional_uid(
                    img,
                    tags.ReferencedSOPInstanceUID,
                    f"{wi} > {attr_name('ReferencedSOPInstanceUID')}",
                    ctx,
                )
                if uid is None:
                    continue
                cls = optional_uid(
                    img,
                    tags.ReferencedSOPClassUID,
                    f"{wi} > {attr_name('ReferencedSOPClassUID')}",
                    ctx,
                )
                frames: list[int] = []
                rf = number_list(value(img, tags.ReferencedFrameNumber))
                if rf:
                    frames = [
                        _int(v, f"{wi} > {attr_name('ReferencedFrameNumber')}", ctx) for v in rf
                    ]
                    if any(f < 1 for f in frames):
                        raise ctx.error(
                            "frame numbers start at 1",
                            f"{wi} > {attr_name('ReferencedFrameNumber')}",
                        )
                prior = roi.images.get(uid)
                if prior is None:
                    roi.images[uid] = (cls, not frames, set(frames))
                else:
                    prior[2].update(frames)
                    roi.images[uid] = (prior[0] or cls, prior[1] or not frames, prior[2])


def _observations(ds: Dataset, rois: dict[int, _Roi], ctx: ReadContext) -> None:
    for i, item in enumerate(value(ds, tags.RTROIObservationsSequence) or (), 1):
        roi = _roi_of(item, f"{_A_OBSERVATIONS} item {i}", rois, ctx, "observation left out")
        if roi is None:
            continue
        if roi.observation is not None:
            ctx.warn(
                f"{_A_OBSERVATIONS}: ROI {roi.number} has several observations; the first is used"
            )
            continue
        roi.observation = item


def _roi_code(roi: _Roi) -> tuple[Code, tuple[Code, ...]]:
    """Code and categories of an ROI.

    Code: RT ROI Identification Code (else text only), text the ROI Name;
    category: RT ROI Interpreted Type, as text.
    """
    name = roi.name or f"ROI {roi.number}"
    obs = roi.observation
    code: Code | None = None
    categories: tuple[Code, ...] = ()
    if obs is not None:
        ids = value(obs, tags.RTROIIdentificationCodeSequence)
        code = code_from_item(ids[0]) if ids else None
        kind = text(obs, tags.RTROIInterpretedType)
        if kind:
            categories = (Code(value=None, text=kind),)
    if code is None:
        return Code(value=None, text=name), categories
    return Code(
        value=code.value,
        scheme=code.scheme,
        meaning=code.meaning,
        system=code.system,
        scheme_version=code.scheme_version,
        text=name,
    ), categories


def read_rtstruct(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read an RT Structure Set into one selection per ROI and per series of its contour images.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The RT Structure Set.
    ctx : dicomsel.dicom.context.ReadContext

    Returns
    -------
    dicomsel.dicom.context.ReadResult

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the Structure Set ROI Sequence is missing, an ROI Number is
        missing, repeated or not a number, or a UID is invalid.
    """
    hdr: Header = read_header(ds, ctx)
    images, frames_of_reference = _referenced_images(ds, ctx)
    rois = _rois(ds, ctx)
    _contours(ds, rois, ctx)
    with declared_schemes(ds, ctx):  # PS3.3 C.12.1.1.2: private schemes' UIDs
        _observations(ds, rois, ctx)
    when = issued(ds, ctx, tags.StructureSetDate, tags.StructureSetTime)
    creators = creator_performers(ds, ctx)
    site = body_site(ds, ctx)
    ident = Identifier.dicom_uid(hdr.sop_instance_uid)

    result = ReadResult(sop_class_uid=hdr.sop_class_uid, sop_instance_uid=hdr.sop_instance_uid)
    for roi in rois.values():
        label = f"ROI {roi.number} ({roi.name or 'no name'})"
        if (
            roi.frame_of_reference
            and frames_of_reference
            and roi.frame_of_reference not in frames_of_reference
        ):
            ctx.warn(
                f"{label}: its frame of reference {roi.frame_of_reference} is not in {_A_REF_FOR}"
            )
        if not roi.has_contour_item or roi.contours == 0:
            ctx.warn(f"{label} has no contours: no contour images selected")
        elif roi.contours_without_image == roi.contours:
            ctx.warn(
                f"{label}: none of its {roi.contours} contour(s) names an image "
                f"({attr_name('ContourImageSequence')} absent): no contour images selected"
            )
        elif roi.contours_without_image:
            ctx.warn(
                f"{label}: {roi.contours_without_image} of its {roi.contours} contours name "
                f"no image ({attr_name('ContourImageSequence')} absent)"
            )
        # contour images grouped by series, in order of first appearance
        groups: dict[tuple[str | None, str | None], list[Instance]] = {}
        frame_of_reference: dict[tuple[str | None, str | None], str | None] = {}
        outside: list[str] = []
        for uid, (cls, whole, frames) in roi.images.items():
            where = images.get(uid)
            key: tuple[str | None, str | None] = (None, None)
            fref: str | None = None
            if where is None:
                outside.append(uid)
            else:
                key = (where.study, where.series)
                fref = where.frame_of_reference
                if roi.frame_of_reference and fref and fref != roi.frame_of_reference:
                    ctx.warn(
                        f"{label}: contour image {uid} is in frame of reference {fref}, "
                        f"the ROI in {roi.frame_of_reference}"
                    )
            frame_of_reference.setdefault(key, fref)
            groups.setdefault(key, []).append(
                Instance(
                    uid=uid,
                    sop_class_uid=cls or (where.sop_class if where else None),
                    frames=() if whole else tuple(frames),
                )
            )
        if outside:
            ctx.warn(
                f"{label}: {len(outside)} contour image(s) are outside the referenced series "
                f"(not in {_A_REF_FOR} > ... > {attr_name('ContourImageSequence')}; first: "
                f"{outside[0]}): their study and series are unknown"
            )
        image_keys = {
            k: f"rtstruct|roi|{roi.number}|images|{k[0] or ''}|{k[1] or ''}" for k in groups
        }
        code, categories = _roi_code(roi)
        performers = list(creators)
        if roi.observation is not None:
            interpreter = person_of_pn(
                value(roi.observation, tags.ROIInterpreter), attr_name("ROIInterpreter"), ctx
            )
            if interpreter is not None:
                performers.append(author(interpreter))
        description = roi.description if roi.description and roi.description != roi.name else None
        result.selections.append(
            Selection(
                provenance=Provenance.RTSTRUCT,
                key=f"rtstruct|roi|{roi.number}",
                source_uid=hdr.sop_instance_uid,
                code=code,
                categories=categories,
                study_instance_uid=hdr.study_instance_uid,
                series_instance_uid=hdr.series_instance_uid,
                series_number=hdr.series_number,
                frame_of_reference_uid=roi.frame_of_reference,
                instances=(
                    Instance(
                        uid=hdr.sop_instance_uid,
                        sop_class_uid=hdr.sop_class_uid,
                        number=hdr.instance_number,
                        rois=(roi.number,),
                    ),
                ),
                identifiers=(ident,),
                based_on=hdr.based_on,
                subject=hdr.subject,
                issued=when,
                performers=tuple(performers),
                body_site=site,
                focus=tuple(sorted(image_keys.values())),
                description=description,
            )
        )
        for k in sorted(groups, key=lambda k: image_keys[k]):
            result.selections.append(
                Selection(
                    provenance=Provenance.RTSTRUCT,
                    key=image_keys[k],
                    source_uid=hdr.sop_instance_uid,
                    code=SOURCE_IMAGE_CODE,
                    study_instance_uid=k[0],
                    series_instance_uid=k[1],
                    frame_of_reference_uid=frame_of_reference[k],
                    instances=tuple(groups[k]),
                    identifiers=(ident,),
                    based_on=hdr.based_on,
                    subject=hdr.subject,
                    issued=when,
                    performers=creators,
                )
            )
    result.issues = ctx.issues
    return result
