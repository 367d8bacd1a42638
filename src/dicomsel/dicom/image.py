"""Image reader: any image instance, single- or multi-frame, as a selection of its series.

Every file gives one :class:`~dicomsel.model.Selection` keyed
``image|<study>|<series>|<code>``; a batch merges the selections of one
series read from many files into one (:mod:`dicomsel.pipeline`). Their
``source_uid`` is the Series Instance UID, so the resource id derives from
the study, series and code, never from one file's SOP Instance UID.

The helpers for the header every image-like object has (patient, study,
series, frame of reference, body site) live here too; the SEG and RT
Structure Set readers use them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pydicom.dataset import Dataset

from dicomsel import terminology
from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.identity import based_on, subject
from dicomsel.dicom.values import (
    ascii_value,
    attr_name,
    author,
    code_from_item,
    code_key,
    device,
    person_of_pn,
    sop_class_uid,
    sop_instance_uid,
    value,
)
from dicomsel.model import Code, Identifier, Instance, Performer, Provenance, Reference, Selection

__all__ = [
    "DEFAULT_CODE",
    "Header",
    "body_part_code",
    "body_site",
    "code_key",
    "creator_performers",
    "is_image_class",
    "is_series_selection",
    "parse_code",
    "parse_frames",
    "read_header",
    "read_image",
]

#: ``--code`` default: DCM 113000 "Of Interest" (CID 7010).
DEFAULT_CODE = Code(value="113000", scheme="DCM", meaning="Of Interest")
#: Keys of the per-series selections a batch merges across files.
_KEY_PREFIX = "image"

# classes whose name does not say "Image Storage" but which are images all the same
_OTHER_IMAGE_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.30"})  # Parametric Map Storage


def is_image_class(sop_class_uid: str) -> bool:
    """Whether a SOP class stores images: its PS3.6 name says "Image Storage" (or Parametric Map).

    Classes pydicom does not name (private or newer than its dictionary) are not
    treated as images.

    Parameters
    ----------
    sop_class_uid : str

    Returns
    -------
    bool
    """
    if sop_class_uid in _OTHER_IMAGE_CLASSES:
        return True
    name = terminology.sop_class_name(sop_class_uid)
    return name is not None and "Image Storage" in name


def is_series_selection(sel: Selection) -> bool:
    """Whether ``sel`` is a per-file image selection that a batch merges per series.

    Parameters
    ----------
    sel : Selection

    Returns
    -------
    bool
    """
    return sel.provenance is Provenance.IMAGE


def parse_code(text: str) -> Code:
    """A ``--code`` value: ``VALUE^SCHEME[^MEANING]``, e.g. ``113000^DCM^Of Interest``.

    The scheme is a DICOM Coding Scheme Designator (``DCM``, ``SCT``, ``LN``, ...).

    Raises
    ------
    ValueError
        When the text is not of that form.
    """
    parts = [p.strip() for p in text.split("^")]
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"{text!r} is not VALUE^SCHEME[^MEANING], e.g. 113000^DCM^Of Interest")
    if any(len(p) > 64 for p in parts):
        raise ValueError(f"{text!r}: a part is longer than 64 characters")
    meaning = parts[2] if len(parts) == 3 and parts[2] else None
    return Code(value=parts[0], scheme=parts[1], meaning=meaning)


def parse_frames(text: str) -> tuple[int, ...]:
    """A ``--frames`` value: numbers and ranges, ``1,3,5-8``; sorted, duplicates dropped.

    Raises
    ------
    ValueError
        On anything else, or a frame number below 1.
    """
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"{part!r} is not a frame number or range (like 1,3,5-8)")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        if first < 1 or last < first:
            raise ValueError(f"{part!r}: frame numbers start at 1 and ranges go upwards")
        if last - first > 1_000_000:
            raise ValueError(f"{part!r}: range too large")
        out.update(range(first, last + 1))
    if not out:
        raise ValueError("no frame numbers given")
    return tuple(sorted(out))


@cache
def _body_parts() -> dict[str, tuple[str, str]]:
    text = resources.files("dicomsel").joinpath("data/body_part_sct.json").read_text("utf-8")
    table = json.loads(text)
    return {k: (v[0], v[1]) for k, v in table.items() if not k.startswith("_")}


def body_part_code(term: str) -> Code | None:
    """The SNOMED CT code of a Body Part Examined defined term (PS3.16 Annex L), or None.

    Parameters
    ----------
    term : str

    Returns
    -------
    Code or None
    """
    row = _body_parts().get(term.strip().upper())
    if row is None:
        return None
    return Code(value=row[0], scheme="SCT", meaning=row[1])


def _int(ds: Dataset, tag: int, keyword: str, ctx: ReadContext) -> int | None:
    raw = ascii_value(ds, tag)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        ctx.warn(f"{attr_name(keyword)} {raw!r} is not a number: left out")
        return None
    if value < 0:  # IS may be negative; Series/Instance Number and a count may not
        ctx.warn(
            f"{attr_name(keyword)} {value} is negative (FHIR unsignedInt cannot carry it): left out"
        )
        return None
    return value


def _uid_or_none(ds: Dataset, tag: int, keyword: str, ctx: ReadContext) -> str | None:
    raw = ascii_value(ds, tag)
    if raw is None:
        return None
    return ctx.uid(raw, attr_name(keyword))


@dataclass(frozen=True, slots=True)
class Header:
    """What every image-like object says of itself."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str | None
    series_instance_uid: str | None
    series_number: int | None
    instance_number: int | None
    frame_of_reference_uid: str | None
    subject: Reference | None
    based_on: tuple[Reference, ...]


def read_header(ds: Dataset, ctx: ReadContext) -> Header:
    """SOP, study, series and patient attributes; missing Type 1 UIDs are reported.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext

    Returns
    -------
    Header

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the SOP Instance UID is missing (also from the file meta) or a UID is invalid.
    """
    instance_uid = sop_instance_uid(ds, ascii_value(ds, tags.SOPInstanceUID), ctx)
    class_uid = sop_class_uid(ds, ascii_value(ds, tags.SOPClassUID), ctx)
    study = _uid_or_none(ds, tags.StudyInstanceUID, "StudyInstanceUID", ctx)
    if study is None:
        ctx.warn(f"{attr_name('StudyInstanceUID')} is missing (Type 1): no studyUid")
    series = _uid_or_none(ds, tags.SeriesInstanceUID, "SeriesInstanceUID", ctx)
    if series is None:
        ctx.warn(f"{attr_name('SeriesInstanceUID')} is missing (Type 1): no seriesUid")
    return Header(
        sop_class_uid=class_uid,
        sop_instance_uid=instance_uid,
        study_instance_uid=study,
        series_instance_uid=series,
        series_number=_int(ds, tags.SeriesNumber, "SeriesNumber", ctx),
        instance_number=_int(ds, tags.InstanceNumber, "InstanceNumber", ctx),
        frame_of_reference_uid=_uid_or_none(
            ds, tags.FrameOfReferenceUID, "FrameOfReferenceUID", ctx
        ),
        subject=subject(ds, ctx),
        based_on=based_on(ds),
    )


def creator_performers(ds: Dataset, ctx: ReadContext) -> tuple[Performer, ...]:
    """Who made a derived object: Content Creator's Name, and the equipment that made it.

    The person becomes a Reference(Practitioner) by display; Manufacturer and
    Manufacturer's Model Name a Reference(Device) by display, with Device UID
    as identifier when present. Both with function v3-ParticipationType AUT.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext

    Returns
    -------
    tuple of Performer

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When Device UID is invalid.
    """
    out: list[Performer] = []
    creator = person_of_pn(value(ds, tags.ContentCreatorName), attr_name("ContentCreatorName"), ctx)
    if creator is not None:
        out.append(author(creator))
    parts = [
        str(value(ds, t) or "").strip() for t in (tags.Manufacturer, tags.ManufacturerModelName)
    ]
    display = " ".join(p for p in parts if p) or None
    device_uid = value(ds, tags.DeviceUID)
    ident = None
    if device_uid and str(device_uid).strip():
        ident = Identifier.dicom_uid(ctx.uid(device_uid, attr_name("DeviceUID")))
    if display or ident:
        out.append(author(device(ident, display)))
    return tuple(out)


def _region(holder: Dataset, where: str, ctx: ReadContext) -> Code | None:
    seq = value(holder, tags.AnatomicRegionSequence)
    if not seq:
        return None
    code = code_from_item(seq[0])
    if code is None:
        ctx.warn(f"{where}{attr_name('AnatomicRegionSequence')} has no usable code: left out")
        return None
    if len(seq) > 1:
        ctx.warn(
            f"{where}{attr_name('AnatomicRegionSequence')} has {len(seq)} items: "
            "bodySite holds the first only"
        )
    if value(seq[0], tags.AnatomicRegionModifierSequence):
        ctx.warn(
            f"{where}{attr_name('AnatomicRegionModifierSequence')} has no place in "
            f"bodySite.concept: modifiers of {code.meaning or code.value!r} left out"
        )
    return code


def body_site(
    ds: Dataset, ctx: ReadContext, item: Dataset | None = None, where: str = ""
) -> Code | None:
    """The body site: Anatomic Region Sequence, else Body Part Examined via PS3.16 Annex L.

    Looked for in ``item`` (a segment, say) first, then at the top level, then
    in the Shared Functional Groups' Frame Anatomy Sequence. A Body Part
    Examined value that is not in the shipped table is kept as text, with a
    warning.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
    item : pydicom.dataset.Dataset or None
        Where to look first.
    where : str
        How messages name ``item``.

    Returns
    -------
    Code or None
    """
    if item is not None:
        code = _region(item, where, ctx)
        if code is not None:
            return code
    code = _region(ds, "", ctx)
    if code is not None:
        return code
    shared = value(ds, tags.SharedFunctionalGroupsSequence)
    if shared:
        anatomy = value(shared[0], tags.FrameAnatomySequence)
        if anatomy:
            code = _region(anatomy[0], f"{attr_name('SharedFunctionalGroupsSequence')} > ", ctx)
            if code is not None:
                return code
    term = ascii_value(ds, tags.BodyPartExamined)
    if term is None:
        return None
    code = body_part_code(term)
    if code is None:
        ctx.warn(
            f"{attr_name('BodyPartExamined')} {term!r} is not in the PS3.16 Annex L table: "
            "bodySite given as text"
        )
        return Code(value=None, text=term)
    return code


def _frames(ds: Dataset, ctx: ReadContext) -> tuple[int, ...]:
    """The frames ``--frames`` asks for, checked against Number of Frames."""
    wanted = ctx.options.frames
    if not wanted:
        return ()
    count = _int(ds, tags.NumberOfFrames, "NumberOfFrames", ctx)
    if count is None:
        if wanted == (1,):
            return ()  # frame 1 of a single-frame image is the image
        raise ctx.error(
            f"--frames {_list(wanted)} given, but this is a single-frame instance "
            "(no Number of Frames)",
            attr_name("NumberOfFrames"),
        )
    beyond = [f for f in wanted if f > count]
    if beyond:
        raise ctx.error(
            f"frame number(s) {_list(beyond)} beyond Number of Frames {count}",
            attr_name("NumberOfFrames"),
        )
    return () if len(wanted) == count else wanted


def _list(numbers: tuple[int, ...] | list[int]) -> str:
    return ",".join(str(n) for n in numbers)


def read_image(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read an image instance into one selection of its series.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The image header (Pixel Data is never read).
    ctx : dicomsel.dicom.context.ReadContext
        ``ctx.options.code`` is the selection's code (default DCM 113000 "Of
        Interest"), ``ctx.options.frames`` the frames to select.

    Returns
    -------
    dicomsel.dicom.context.ReadResult
        One selection keyed ``image|<study>|<series>|<code>`` with one instance;
        a batch merges those of one series.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the series is unknown, a UID is invalid, or a ``--frames`` number
        is beyond Number of Frames.
    """
    hdr = read_header(ds, ctx)
    if hdr.series_instance_uid is None:
        raise ctx.error(
            "missing (Type 1): the image cannot be put in a series", attr_name("SeriesInstanceUID")
        )
    code = ctx.options.code or DEFAULT_CODE
    instance = Instance(
        uid=hdr.sop_instance_uid,
        sop_class_uid=hdr.sop_class_uid,
        number=hdr.instance_number,
        frames=_frames(ds, ctx),
    )
    sel = Selection(
        provenance=Provenance.IMAGE,
        key="|".join(
            (_KEY_PREFIX, hdr.study_instance_uid or "", hdr.series_instance_uid, code_key(code))
        ),
        source_uid=hdr.series_instance_uid,
        code=code,
        study_instance_uid=hdr.study_instance_uid,
        series_instance_uid=hdr.series_instance_uid,
        series_number=hdr.series_number,
        frame_of_reference_uid=hdr.frame_of_reference_uid,
        instances=(instance,),
        subject=hdr.subject,
        based_on=hdr.based_on,
        body_site=body_site(ds, ctx),
    )
    return ReadResult(
        sop_class_uid=hdr.sop_class_uid,
        sop_instance_uid=hdr.sop_instance_uid,
        selections=[sel],
        issues=ctx.issues,
    )
