"""The SR document header: UIDs, title, patient, authors, flags, equipment, times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom.content import is_observer_context, observer_performers
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.identity import based_on, subject
from dicomsel.dicom.items import Item, code_of, get_text, iter_seq
from dicomsel.dicom.tags import (
    CompletionFlag,
    ConceptNameCodeSequence,
    ContentSequence,
    DeviceUID,
    Manufacturer,
    ManufacturerModelName,
    PersonName,
    PreliminaryFlag,
    SeriesInstanceUID,
    SOPClassUID,
    SOPInstanceUID,
    StudyInstanceUID,
    TimezoneOffsetFromUTC,
    ValueType,
    VerificationFlag,
)
from dicomsel.dicom.values import (
    attr_name,
    date_time,
    device,
    is_device,
    issued,
    sop_class_uid,
    sop_instance_uid,
    zone,
)
from dicomsel.document import Equipment, SrDocument
from dicomsel.errors import InvalidInputError
from dicomsel.model import Code, Identifier, Performer, Reference
from dicomsel.uid import is_valid_uid

__all__ = ["Doc", "describe", "document_header", "observation_datetime"]

#: Device Serial Number, Software Versions (not in dicomsel.dicom.tags: only this reads them)
_DEVICE_SERIAL_NUMBER = 0x00181000
_SOFTWARE_VERSIONS = 0x00181020


@dataclass(slots=True)
class Doc:
    """What the whole document says, shared by its selections and observations."""

    source_uid: str
    sop_class_uid: str
    study: str | None
    series: str | None
    title: Code
    subject: Reference | None
    issued: dt.datetime | None
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
    equipment: Equipment | None = None
    person_names: tuple[str, ...] = ()
    #: Algorithm Name and Version (TID 4019) of each algorithm read, in order
    algorithms: list[tuple[str, str | None]] = field(default_factory=list)


def _flag(ds: Dataset, tag: int, keyword: str, allowed: set[str], ctx: ReadContext) -> str | None:
    raw = get_text(ds, tag)
    if raw is None:
        return None
    flag = raw.upper()
    if flag not in allowed:
        ctx.warn(f"{attr_name(keyword)} {raw!r} is not one of {sorted(allowed)}: ignored")
        return None
    return flag


def document_header(ds: Dataset, ctx: ReadContext) -> Doc:
    """What the document says of itself: UIDs, title, patient, authors, flags, times.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext

    Returns
    -------
    Doc

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the SOP Instance UID is missing (also from the file meta), or it or
        the SOP Class UID is invalid.
    """
    source_uid = sop_instance_uid(ds, get_text(ds, SOPInstanceUID), ctx)
    sop_class = sop_class_uid(ds, get_text(ds, SOPClassUID), ctx)

    def optional_uid(tag: int, keyword: str) -> str | None:
        raw = get_text(ds, tag)
        if raw is None:
            ctx.warn(f"{attr_name(keyword)} is missing (Type 1)")
            return None
        try:
            return ctx.uid(raw, attr_name(keyword))
        except InvalidInputError as e:
            ctx.warn(f"{e}: left out")
            return None

    study = optional_uid(StudyInstanceUID, "StudyInstanceUID")
    series = optional_uid(SeriesInstanceUID, "SeriesInstanceUID")
    title = code_of(ds, ConceptNameCodeSequence)
    if title is None:
        ctx.warn(f"{attr_name('ConceptNameCodeSequence')} (document title) is missing")
        title = Code(value=None, text="Structured Report")
    # the root's observer context, read once (the rest of the tree stays unsplit here)
    context = [it for it in iter_seq(ds, ContentSequence) if is_observer_context(it)]
    performers = observer_performers(context, ctx)
    people = tuple(p for p in performers if not is_device(p.actor))
    devices = [p.actor for p in performers if is_device(p.actor)]
    equipment = devices[0] if devices else _equipment(ds, ctx)
    return Doc(
        source_uid=source_uid,
        sop_class_uid=sop_class,
        study=study,
        series=series,
        title=title,
        subject=subject(ds, ctx),
        issued=issued(ds, ctx),
        performers=performers,
        people=people,
        device=equipment,
        based_on=based_on(ds),
        identifier=Identifier.dicom_uid(source_uid),
        completion=_flag(ds, CompletionFlag, "CompletionFlag", {"COMPLETE", "PARTIAL"}, ctx),
        verification=_flag(
            ds, VerificationFlag, "VerificationFlag", {"VERIFIED", "UNVERIFIED"}, ctx
        ),
        preliminary=_flag(ds, PreliminaryFlag, "PreliminaryFlag", {"PRELIMINARY", "FINAL"}, ctx),
        zone=zone(get_text(ds, TimezoneOffsetFromUTC)) or zone(ctx.options.timezone),
        equipment=_general_equipment(ds),
        person_names=_person_names(context),
    )


def _general_equipment(ds: Dataset) -> Equipment | None:
    """General Equipment (PS3.3 C.7.5.1) as it stands; None when it names nothing."""
    raw_versions = ds.get(_SOFTWARE_VERSIONS)
    versions: tuple[str, ...] = ()
    if raw_versions is not None and raw_versions.value:
        values = raw_versions.value
        items = [values] if isinstance(values, str) else list(values)
        versions = tuple(str(v).strip() for v in items if str(v).strip())
    device_uid = get_text(ds, DeviceUID)
    out = Equipment(
        manufacturer=get_text(ds, Manufacturer),
        model_name=get_text(ds, ManufacturerModelName),
        serial_number=get_text(ds, _DEVICE_SERIAL_NUMBER),
        software_versions=versions,
        device_uid=device_uid if device_uid and is_valid_uid(device_uid) else None,
    )
    return None if out == Equipment() else out


def _person_names(context: list[Item]) -> tuple[str, ...]:
    """Person Observer's Name (DCM 121008, PNAME) of the root's observer context, as PN."""
    names: list[str] = []
    for item in context:
        if (get_text(item, ValueType) or "").upper() != "PNAME":
            continue
        concept = code_of(item, ConceptNameCodeSequence)
        if concept is None or concept.value != "121008":
            continue
        name = (get_text(item, PersonName) or "").strip()
        if name:
            names.append(name)
    return tuple(names)


def describe(doc: Doc) -> SrDocument:
    """The document's descriptor for the neutral model (:attr:`ReadResult.document`).

    Parameters
    ----------
    doc : Doc
        The header, after the content tree was read (its algorithms known).

    Returns
    -------
    dicomsel.model.SrDocument
    """
    algorithms: list[tuple[str, str | None]] = []
    for algo in doc.algorithms:
        if algo not in algorithms:
            algorithms.append(algo)
    return SrDocument(
        source_uid=doc.source_uid,
        sop_class_uid=doc.sop_class_uid,
        title=doc.title,
        study_instance_uid=doc.study,
        series_instance_uid=doc.series,
        subject=doc.subject,
        issued=doc.issued,
        based_on=doc.based_on,
        completion_flag=doc.completion,
        verification_flag=doc.verification,
        preliminary_flag=doc.preliminary,
        person_names=doc.person_names,
        people=tuple(doc.people),
        device_observers=tuple(p.actor for p in doc.performers if is_device(p.actor)),
        equipment=doc.equipment,
        algorithms=tuple(algorithms),
    )


def _equipment(ds: Dataset, ctx: ReadContext) -> Reference | None:
    """General Equipment (Manufacturer, Model Name, Device UID) as a device reference."""
    parts = [get_text(ds, t) for t in (Manufacturer, ManufacturerModelName)]
    display = " ".join(p for p in parts if p) or None
    ident = None
    device_uid = get_text(ds, DeviceUID)
    if device_uid:
        if is_valid_uid(device_uid):
            ident = Identifier.dicom_uid(device_uid)
        else:
            ctx.warn(f"{attr_name('DeviceUID')} {device_uid!r} is not a valid UID: left out")
    if display is None and ident is None:
        return None
    return device(ident, display)


def observation_datetime(raw: str, doc: Doc, ctx: ReadContext, what: str) -> str | None:
    """A DICOM DT as a FHIR dateTime; a time needs a zone (the DT's own, the document's).

    Parameters
    ----------
    raw : str
    doc : Doc
        Its ``zone`` is the default; a time without any zone is reported once.
    ctx : ReadContext
    what : str
        The attribute, for messages.

    Returns
    -------
    str or None
    """
    out, why_not = date_time(raw, doc.zone)
    if why_not == "format":
        ctx.warn(f"{what} {raw!r} is not a DICOM DT: left out")
    elif why_not == "zone":
        if not doc.zone_warned:
            doc.zone_warned = True
            ctx.warn(
                f"{what} has a time but no UTC offset, and neither "
                f"{attr_name('TimezoneOffsetFromUTC')} nor --timezone gives one: "
                "observation times left out"
            )
    elif why_not == "range":
        ctx.warn(f"{what} {raw!r} is out of range: left out")
    return out
