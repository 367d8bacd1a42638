"""Attribute values to model values, shared by the readers; tolerant reading.

Every helper that can fail to read something reports it through the
:class:`~dicomsel.dicom.context.ReadContext`, so a reader never drops
anything silently. The model constructions that will change with the neutral
model happen here only: the ``issued`` instant (:func:`instant`), the author
role of a performer (:func:`author`), the kind of an actor (:func:`person`,
:func:`device`, :func:`is_device`).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomsel import personname, terminology
from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import Item, get_seq, get_text, value
from dicomsel.dicom.schemes import declared_system
from dicomsel.errors import InvalidInputError
from dicomsel.model import (
    ActorKind,
    Code,
    Identifier,
    Performer,
    PerformerFunction,
    Reference,
)

__all__ = [
    "ascii_value",
    "attr_name",
    "author",
    "code_from_item",
    "code_key",
    "date_time",
    "device",
    "first_code",
    "is_device",
    "iso_datetime",
    "issued",
    "number_list",
    "person",
    "person_of_pn",
    "sop_class_uid",
    "sop_instance_uid",
    "text",
    "text_of",
    "value",
    "zone",
]


def text_of(raw: object) -> str | None:
    """A value as stripped text; None when absent or empty.

    Parameters
    ----------
    raw : object

    Returns
    -------
    str or None
    """
    if raw is None:
        return None
    stripped = str(raw).strip()
    return stripped or None


def text(ds: Dataset, tag: int) -> str | None:
    """The value of element ``tag`` as stripped text; None when absent or empty.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    tag : int

    Returns
    -------
    str or None
    """
    return text_of(value(ds, tag))


def ascii_value(ds: Dataset, tag: int) -> str | None:
    """The text of an ASCII-only element (UI, IS, CS), stripped; None when absent or empty.

    Reads the raw bytes of an element pydicom has not converted yet: its
    conversion (with value validation) costs more than the rest of an image's
    reading. The callers check the text themselves (UIDs against PS3.5, numbers).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    tag : int

    Returns
    -------
    str or None
    """
    elements = getattr(ds, "_dict", None)
    elem = elements.get(tag) if elements is not None else None
    if isinstance(elem, RawDataElement) and elem.value is not None:
        decoded = elem.value.decode("latin-1").strip("\x00 ")
        return decoded or None
    return text_of(value(ds, tag))


def number_list(raw: object) -> list[Any]:
    """A single or multi-valued element value (IS, DS, US, ...) as a list; [] when empty.

    Parameters
    ----------
    raw : object

    Returns
    -------
    list
        The values, not converted.
    """
    if raw is None or raw == "":
        return []
    if isinstance(raw, str | bytes | int | float):
        return [raw]
    return list(raw)  # type: ignore[call-overload,no-any-return]


@cache
def attr_name(keyword: str) -> str:
    """``"StudyInstanceUID (0020,000D)"``: an attribute as messages name it.

    Parameters
    ----------
    keyword : str
        A DICOM keyword.

    Returns
    -------
    str
    """
    t = Tag(keyword)
    return f"{keyword} ({t.group:04X},{t.element:04X})"


def code_from_item(item: Item) -> Code | None:
    """A :class:`Code` from a code sequence item, or None when it has no usable value.

    Reads Code Value, then Long Code Value and URN Code Value (PS3.3 8.8). The
    designator is made canonical (case-insensitive match, PS3.16 Table 8-1); a
    private one declared in the dataset's Coding Scheme Identification Sequence
    gets its ``urn:oid:`` system (:func:`declared_schemes`). SNOMED-RT codes are
    kept as read: writers give their SNOMED CT id (PS3.16 Annex O).

    Parameters
    ----------
    item : pydicom.dataset.Dataset or dicomsel.dicom.scanner.RawItem

    Returns
    -------
    Code or None
    """
    code_value = get_text(item, tags.CodeValue) or get_text(item, tags.LongCodeValue)
    scheme = get_text(item, tags.CodingSchemeDesignator)
    system = None
    urn = get_text(item, tags.URNCodeValue)
    if code_value is None and urn is not None:
        code_value, system, scheme = urn, "urn:ietf:rfc:3986", None
    meaning = get_text(item, tags.CodeMeaning)
    if code_value is None and meaning is None:
        return None
    if scheme:
        scheme = terminology.canonical_scheme(scheme)
        system = system or declared_system(scheme)
    return Code(
        value=code_value,
        scheme=scheme,
        meaning=meaning,
        system=system,
        scheme_version=get_text(item, tags.CodingSchemeVersion),
        text=None if code_value else meaning,
    )


def first_code(ds: Item, tag: int) -> Code | None:
    """The code in the first item of code sequence ``tag``, or None.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset or dicomsel.dicom.scanner.RawItem
    tag : int
        A code sequence.

    Returns
    -------
    Code or None
    """
    seq = get_seq(ds, tag)
    if not seq:
        return None
    return code_from_item(seq[0])


def code_key(code: Code, *, text_apart: bool = False) -> str:
    """A short, stable text of a code for selection keys: ``DCM:113000``.

    A SNOMED-RT code gives the key of its SNOMED CT id, so that resource ids
    do not depend on which of the two a writer used.

    Parameters
    ----------
    code : Code
    text_apart : bool
        Append the text as a field of its own (``DCM:113000:text``, the SR's keys)
        instead of using it for a code without value.

    Returns
    -------
    str
    """
    value = code.value
    system = code.scheme or code.system or ""
    if code.scheme and value:
        # the same concept, the same key: SRT ids as their SNOMED CT id (PS3.16 Annex O)
        value, system = terminology.normalise_code(value, code.scheme)
    if text_apart:
        return f"{system}:{value or ''}:{code.text or ''}"
    return f"{system}:{value or code.text or ''}"


def person(display: str, person_name: str | None = None) -> Reference:
    """A person known by name (the model's Practitioner reference).

    Parameters
    ----------
    display : str
    person_name : str or None
        The DICOM PN the name was read from, as it stands.

    Returns
    -------
    Reference
    """
    return Reference(ActorKind.PERSON, display=display, person_name=person_name)


def person_of_pn(
    raw: object, what: str, ctx: ReadContext, org: str | None = None
) -> Reference | None:
    """A person named by a PN value: its components kept, a readable display (PS3.5 6.2.1).

    ``Observer^Olivia^^Dr.`` gives display ``Dr. Olivia Observer`` and the PN itself
    as ``person_name``. A value that is not a valid PN (more than three groups or
    five components, a group longer than 64 characters) is reported and kept as
    display text only, its ``^`` read as spaces.

    Parameters
    ----------
    raw : object
        The value (a pydicom PersonName or a string); None or empty for no name.
    what : str
        The attribute, for messages.
    ctx : ReadContext
    org : str or None
        The person's organisation (TID 1003 Person Observer's Organization Name),
        added to the display in parentheses.

    Returns
    -------
    Reference or None
        None for an empty name without an organisation.
    """
    pn = str(raw or "").strip()
    name: str | None = None
    display = ""
    if pn:
        try:
            display = personname.readable(pn, what)
            name = personname.normalise(pn, what)
        except InvalidInputError as e:
            ctx.warn(f"{what}: {e.reason}; kept as display text only", attribute=what)
            display = " ".join(pn.replace("^", " ").replace("=", " ").split())
    if display and org:
        display = f"{display} ({org})"
    display = display or org or ""
    if not display:
        return None
    return person(display, name or None)


def device(identifier: Identifier | None = None, display: str | None = None) -> Reference:
    """A device (equipment, algorithm, device observer).

    Parameters
    ----------
    identifier : Identifier or None
    display : str or None

    Returns
    -------
    Reference
    """
    return Reference(ActorKind.DEVICE, identifier=identifier, display=display)


def is_device(actor: Reference) -> bool:
    """Whether ``actor`` is a device (see :func:`device`).

    Parameters
    ----------
    actor : Reference

    Returns
    -------
    bool
    """
    return actor.kind is ActorKind.DEVICE


def author(actor: Reference) -> Performer:
    """``actor`` as the author of what a reader produces.

    Parameters
    ----------
    actor : Reference

    Returns
    -------
    Performer
    """
    return Performer(actor, PerformerFunction.AUTHOR)


def sop_instance_uid(ds: Dataset, raw: object, ctx: ReadContext, *, required: bool = True) -> str:
    """The object's SOP Instance UID, taken from the file meta (with a warning) when missing.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    raw : object
        SOP Instance UID as the reader read it.
    ctx : ReadContext
    required : bool
        Report a missing UID as missing (Type 1); otherwise as an invalid UID.

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When it is missing from the file meta too, or invalid.
    """
    uid = raw
    if not uid:
        meta = ds.get("file_meta")
        uid = meta.get("MediaStorageSOPInstanceUID") if meta is not None else None
        if uid:
            ctx.warn(f"{attr_name('SOPInstanceUID')} is missing: taken from the file meta")
    if not uid and required:
        raise ctx.error("missing (Type 1)", attr_name("SOPInstanceUID"))
    return ctx.uid(uid, attr_name("SOPInstanceUID"))


def sop_class_uid(ds: Dataset, raw: object, ctx: ReadContext) -> str:
    """The object's SOP Class UID, taken from the file meta when missing.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    raw : object
        SOP Class UID as the reader read it.
    ctx : ReadContext

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When it is missing from the file meta too, or invalid.
    """
    uid = raw
    if not uid:
        meta = ds.get("file_meta")
        uid = text_of(meta.get("MediaStorageSOPClassUID")) if meta is not None else None
    return ctx.uid(uid, attr_name("SOPClassUID"))


_ZONE_RE = re.compile(r"([+-])(\d\d):?(\d\d)")
_TIME_RE = re.compile(r"(\d\d)(?::?(\d\d)(?::?(\d\d)(?:\.(\d{1,6}))?)?)?")
_DT_RE = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(?:\.(\d{1,6}))?([+-]\d{4})?")


def zone(raw: str | None) -> str | None:
    """A UTC offset (``+0100``, ``+01:00``) as ``+01:00``; None when absent or not one.

    Parameters
    ----------
    raw : str or None

    Returns
    -------
    str or None
    """
    if not raw:
        return None
    m = _ZONE_RE.fullmatch(raw.strip())
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def iso_datetime(
    date: str, hh: str, mm: str, ss: str, fraction: str | None, utc_offset: str
) -> str:
    """A date, time and zone as an ISO 8601 date-time (an observation time).

    Parameters
    ----------
    date : str
        ``YYYY-MM-DD``.
    hh, mm, ss : str
        Two digits each.
    fraction : str or None
        Digits of the fraction of a second.
    utc_offset : str
        ``+01:00``.

    Returns
    -------
    str
    """
    frac = f".{fraction}" if fraction else ""
    return f"{date}T{hh}:{mm}:{ss}{frac}{utc_offset}"


def issued(
    ds: Dataset,
    ctx: ReadContext,
    date_tag: int = tags.ContentDate,
    time_tag: int = tags.ContentTime,
) -> dt.datetime | None:
    """A date + time (+ Timezone Offset From UTC) attribute pair as the ``issued`` datetime.

    Content Date and Content Time by default; the RT Structure Set gives its
    Structure Set Date and Time. An instant needs a zone: without Timezone
    Offset From UTC the configured ``ReadOptions.timezone`` is used; with
    neither, None and a warning.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
    date_tag, time_tag : int
        The DA and TM attributes.

    Returns
    -------
    datetime.datetime or None
        With its UTC offset.
    """
    a_date = attr_name(keyword_for_tag(date_tag))
    a_time = attr_name(keyword_for_tag(time_tag))
    date = text(ds, date_tag)
    time = text(ds, time_tag)
    if date is None:
        ctx.warn(f"{a_date} is missing: issued left out")
        return None
    if not re.fullmatch(r"\d{8}", date):
        ctx.warn(f"{a_date} {date!r} is not a DICOM DA: issued left out")
        return None
    if time is None:
        ctx.warn(f"{a_time} is missing: issued left out")
        return None
    m = _TIME_RE.fullmatch(time)
    if not m:
        ctx.warn(f"{a_time} {time!r} is not a DICOM TM: issued left out")
        return None
    hh, mm, ss, frac = m.group(1), m.group(2) or "00", m.group(3) or "00", m.group(4)
    a_zone = attr_name("TimezoneOffsetFromUTC")
    tz_raw = text(ds, tags.TimezoneOffsetFromUTC)
    utc_offset = zone(tz_raw) if tz_raw else None
    if tz_raw and utc_offset is None:
        ctx.warn(f"{a_zone} {tz_raw!r} is not a UTC offset")
    if utc_offset is None and ctx.options.timezone:
        utc_offset = zone(ctx.options.timezone)
    if utc_offset is None:
        ctx.warn(
            f"{a_zone} is missing and no --timezone was given: "
            "issued left out (a FHIR instant needs a zone)"
        )
        return None
    # 2400 is not a valid time; 60 seconds (leap second) is not valid in FHIR either.
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        ctx.warn(f"{a_time} {time!r} is out of range: issued left out")
        return None
    sign = -1 if utc_offset[0] == "-" else 1
    offset = dt.timedelta(hours=int(utc_offset[1:3]), minutes=int(utc_offset[4:6]))
    try:
        return dt.datetime(
            int(date[:4]),
            int(date[4:6]),
            int(date[6:]),
            int(hh),
            int(mm),
            int(ss),
            int(frac.ljust(6, "0")) if frac else 0,
            tzinfo=dt.timezone(sign * offset),
        )
    except ValueError:
        ctx.warn(f"{a_date} {date!r} is not a valid date: issued left out")
        return None


def date_time(raw: str, default_zone: str | None) -> tuple[str | None, str]:
    """A DICOM DT as a FHIR dateTime; a time needs a zone (the DT's own, else ``default_zone``).

    Parameters
    ----------
    raw : str
    default_zone : str or None
        ``+01:00``.

    Returns
    -------
    tuple
        (the dateTime or None, why not: ``""`` when read, ``"format"``,
        ``"zone"`` (a time without a zone) or ``"range"``).
    """
    m = _DT_RE.fullmatch(raw.strip())
    if not m:
        return None, "format"
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    out = year
    if month:
        out += f"-{month}"
        if day:
            out += f"-{day}"
    if not (month and day and hh):
        return out, ""
    utc_offset = zone(tz) if tz else default_zone
    if utc_offset is None:
        return None, "zone"
    if int(month) > 12 or int(day) > 31 or int(hh) > 23 or int(mm or 0) > 59 or int(ss or 0) > 59:
        return None, "range"
    return iso_datetime(out, hh, mm or "00", ss or "00", frac, utc_offset), ""
