"""RT Structure Set reader (PS3.3 A.19).

One :class:`~dicomsel.model.Selection` per ROI (the RTSTRUCT instance, subset
= the ROI Number) and, for each ROI, one per series of the images its contours
lie on (Contour Image Sequence; code DCM 121233 "Source image for
segmentation"), which the ROI's selection names in ``focus``. Contour Data is
never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomsel.dicom.common import ReadContext, ReadResult, attr_name, code_from_item, issued, value
from dicomsel.dicom.image import Header, body_site, creator_performers, read_header
from dicomsel.dicom.seg import SOURCE_IMAGE_CODE
from dicomsel.model import Code, Identifier, Instance, Performer, Reference, Selection

__all__ = ["SOP_CLASS_UIDS", "read_rtstruct"]

#: RT Structure Set Storage
SOP_CLASS_UIDS = frozenset({"1.2.840.10008.5.1.4.1.1.481.3"})

_STRUCTURE_SET_DATE = 0x30060008
_STRUCTURE_SET_TIME = 0x30060009
_TIMEZONE = 0x00080201
_REF_FRAME_OF_REFERENCE = 0x30060010
_FRAME_OF_REFERENCE = 0x00200052
_RT_REF_STUDY = 0x30060012
_RT_REF_SERIES = 0x30060014
_CONTOUR_IMAGE = 0x30060016
_STRUCTURE_SET_ROI = 0x30060020
_ROI_NUMBER = 0x30060022
_ROI_FRAME_OF_REFERENCE = 0x30060024
_ROI_NAME = 0x30060026
_ROI_DESCRIPTION = 0x30060028
_ROI_CONTOUR = 0x30060039
_CONTOUR = 0x30060040
_RT_ROI_OBSERVATIONS = 0x30060080
_REF_ROI_NUMBER = 0x30060084
_RT_ROI_IDENTIFICATION_CODE = 0x30060086
_INTERPRETED_TYPE = 0x300600A4
_ROI_INTERPRETER = 0x300600A6
_SERIES = 0x0020000E
_REF_SOP_CLASS = 0x00081150
_REF_SOP_INSTANCE = 0x00081155
_REF_FRAME = 0x00081160

_A_ROIS = attr_name("StructureSetROISequence")
_A_CONTOURS = attr_name("ROIContourSequence")
_A_OBSERVATIONS = attr_name("RTROIObservationsSequence")
_A_REF_FOR = attr_name("ReferencedFrameOfReferenceSequence")
_AUTHOR = Code(
    value="AUT",
    system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    meaning="author (originator)",
)


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


def _text(item: Dataset, tag: int) -> str | None:
    raw = value(item, tag)
    text = str(raw).strip() if raw is not None else ""
    return text or None


def _uid(item: Dataset, tag: int, where: str, ctx: ReadContext) -> str | None:
    raw = value(item, tag)
    if raw is None or not str(raw).strip():
        return None
    return ctx.uid(raw, where)


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
    for ref in value(ds, _REF_FRAME_OF_REFERENCE) or ():
        for_uid = _uid(
            ref, _FRAME_OF_REFERENCE, f"{_A_REF_FOR} > {attr_name('FrameOfReferenceUID')}", ctx
        )
        if for_uid:
            frames_of_reference.add(for_uid)
        for study_item in value(ref, _RT_REF_STUDY) or ():
            where = f"{_A_REF_FOR} > {attr_name('RTReferencedStudySequence')}"
            study = _uid(
                study_item,
                _REF_SOP_INSTANCE,
                f"{where} > {attr_name('ReferencedSOPInstanceUID')}",
                ctx,
            )
            for series_item in value(study_item, _RT_REF_SERIES) or ():
                w = f"{where} > {attr_name('RTReferencedSeriesSequence')}"
                series = _uid(series_item, _SERIES, f"{w} > {attr_name('SeriesInstanceUID')}", ctx)
                for img in value(series_item, _CONTOUR_IMAGE) or ():
                    wi = f"{w} > {attr_name('ContourImageSequence')}"
                    uid = _uid(
                        img,
                        _REF_SOP_INSTANCE,
                        f"{wi} > {attr_name('ReferencedSOPInstanceUID')}",
                        ctx,
                    )
                    if uid is None:
                        continue
                    cls = _uid(
                        img, _REF_SOP_CLASS, f"{wi} > {attr_name('ReferencedSOPClassUID')}", ctx
                    )
                    if uid not in images:
                        images[uid] = _Image(study, series, for_uid, cls)
    return images, frames_of_reference


def _rois(ds: Dataset, ctx: ReadContext) -> dict[int, _Roi]:
    items = value(ds, _STRUCTURE_SET_ROI)
    if not items:
        raise ctx.error("missing or empty (Type 1): no ROIs", _A_ROIS)
    out: dict[int, _Roi] = {}
    for i, item in enumerate(items, 1):
        what = f"{_A_ROIS} item {i} > {attr_name('ROINumber')}"
        raw = value(item, _ROI_NUMBER)
        if raw is None or raw == "":
            raise ctx.error("missing (Type 1)", what)
        n = _int(raw, what, ctx)
        if n < 1:
            raise ctx.error(f"{n} is out of range (ROI numbers start at 1)", what)
        if n in out:
            raise ctx.error(f"ROI number {n} is used twice", what)
        for_uid = _uid(
            item,
            _ROI_FRAME_OF_REFERENCE,
            f"{_A_ROIS} ROI {n} > {attr_name('ReferencedFrameOfReferenceUID')}",
            ctx,
        )
        if for_uid is None:
            ctx.warn(
                f"{_A_ROIS} ROI {n}: {attr_name('ReferencedFrameOfReferenceUID')} "
                "is missing (Type 1)"
            )
        out[n] = _Roi(n, _text(item, _ROI_NAME), _text(item, _ROI_DESCRIPTION), for_uid)
    return dict(sorted(out.items()))


def _roi_of(
    item: Dataset, where: str, rois: dict[int, _Roi], ctx: ReadContext, dropped: str
) -> _Roi | None:
    """The ROI an item's Referenced ROI Number names; None (and a warning) if it names none."""
    what = f"{where} > {attr_name('ReferencedROINumber')}"
    raw = value(item, _REF_ROI_NUMBER)
    if raw is None or raw == "":
        ctx.warn(f"{what} is missing (Type 1): {dropped}")
        return None
    roi = rois.get(_int(raw, what, ctx))
    if roi is None:
        ctx.warn(f"{what} {raw} is not in {_A_ROIS}: {dropped}")
    return roi


def _contours(ds: Dataset, rois: dict[int, _Roi], ctx: ReadContext) -> None:
    for i, item in enumerate(value(ds, _ROI_CONTOUR) or (), 1):
        roi = _roi_of(item, f"{_A_CONTOURS} item {i}", rois, ctx, "its contours are left out")
        if roi is None:
            continue
        roi.has_contour_item = True
        for contour in value(item, _CONTOUR) or ():
            roi.contours += 1
            images = value(contour, _CONTOUR_IMAGE)
            if not images:
                roi.contours_without_image += 1
                continue
            for img in images:
                wi = f"{_A_CONTOURS} ROI {roi.number} > {attr_name('ContourImageSequence')}"
                uid = _uid(
                    img, _REF_SOP_INSTANCE, f"{wi} > {attr_name('ReferencedSOPInstanceUID')}", ctx
                )
                if uid is None:
                    continue
                cls = _uid(img, _REF_SOP_CLASS, f"{wi} > {attr_name('ReferencedSOPClassUID')}", ctx)
                frames: list[int] = []
                rf = value(img, _REF_FRAME)
                if rf is not None and rf != "":
                    values = [rf] if isinstance(rf, str | bytes | int | float) else list(rf)
                    frames = [
                        _int(v, f"{wi} > {attr_name('ReferencedFrameNumber')}", ctx) for v in values
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
    for i, item in enumerate(value(ds, _RT_ROI_OBSERVATIONS) or (), 1):
        roi = _roi_of(item, f"{_A_OBSERVATIONS} item {i}", rois, ctx, "observation left out")
        if roi is None:
            continue
        if roi.observation is not None:
            ctx.warn(
                f"{_A_OBSERVATIONS}: ROI {roi.number} has several observations; the first is used"
            )
            continue
        roi.observation = item


def _structure_set_issued(ds: Dataset, ctx: ReadContext) -> str | None:
    """Structure Set Date + Time (+ Timezone Offset From UTC) as an instant."""
    tmp = Dataset()
    for src, dst, vr in (
        (_STRUCTURE_SET_DATE, 0x00080023, "DA"),
        (_STRUCTURE_SET_TIME, 0x00080033, "TM"),
        (_TIMEZONE, _TIMEZONE, "SH"),
    ):
        raw = value(ds, src)
        if raw is not None and str(raw).strip():
            tmp[dst] = DataElement(dst, vr, str(raw).strip(), validation_mode=config.IGNORE)
    sub = ReadContext(path=ctx.path, options=ctx.options)
    when = issued(tmp, sub)
    for w in sub.warnings:
        w = w.replace(attr_name("ContentDate"), attr_name("StructureSetDate"))
        ctx.warn(w.replace(attr_name("ContentTime"), attr_name("StructureSetTime")))
    return when


def _roi_code(roi: _Roi) -> tuple[Code, tuple[Code, ...]]:
    """Code and categories of an ROI.

    Code: RT ROI Identification Code (else text only), text the ROI Name;
    category: RT ROI Interpreted Type, as text.
    """
    text = roi.name or f"ROI {roi.number}"
    obs = roi.observation
    code: Code | None = None
    categories: tuple[Code, ...] = ()
    if obs is not None:
        ids = value(obs, _RT_ROI_IDENTIFICATION_CODE)
        code = code_from_item(ids[0]) if ids else None
        kind = _text(obs, _INTERPRETED_TYPE)
        if kind:
            categories = (Code(value=None, text=kind),)
    if code is None:
        return Code(value=None, text=text), categories
    return Code(
        value=code.value,
        scheme=code.scheme,
        meaning=code.meaning,
        system=code.system,
        scheme_version=code.scheme_version,
        text=text,
    ), categories


def read_rtstruct(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read an RT Structure Set into one selection per ROI and per series of its contour images.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The RT Structure Set.
    ctx : dicomsel.dicom.common.ReadContext

    Returns
    -------
    dicomsel.dicom.common.ReadResult

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
    _observations(ds, rois, ctx)
    when = _structure_set_issued(ds, ctx)
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
            interpreter = str(value(roi.observation, _ROI_INTERPRETER) or "").replace("^", " ")
            interpreter = " ".join(interpreter.split())
            if interpreter:
                performers.append(
                    Performer(Reference("Practitioner", display=interpreter), _AUTHOR)
                )
        description = roi.description if roi.description and roi.description != roi.name else None
        result.selections.append(
            Selection(
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
    result.warnings = ctx.warnings
    return result
