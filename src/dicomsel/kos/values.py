"""DICOM values as a KOS writes them: VR checks, code items, instants, value types.

The leaf of :mod:`dicomsel.kos`: the planner, the content items and the SOP
modules all check values and name value types the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from importlib import resources

from pydicom import config
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from dicomsel.errors import InvalidInputError

__all__ = [
    "WAVEFORM_PREFIX",
    "Instant",
    "code_item",
    "instant_of",
    "is_valid_value",
    "parse_instant",
    "value_type",
]

#: The waveform storage classes (PS3.6 Annex A): referenced with WAVEFORM items.
WAVEFORM_PREFIX = "1.2.840.10008.5.1.4.1.1.9."

_TEXT_VRS = frozenset({"ST", "LT", "UT"})

#: (aware datetime, DICOM DA, DICOM TM, Timezone Offset From UTC)
Instant = tuple[dt.datetime, str, str, str]


@cache
def _image_sop_classes() -> frozenset[str]:
    text = resources.files("dicomsel").joinpath("data/image_sop_classes.json").read_text("utf-8")
    return frozenset(json.loads(text)["image_sop_classes"])


def value_type(sop_class_uid: str) -> str:
    """The TID 2010 value type that references an instance of ``sop_class_uid``.

    Parameters
    ----------
    sop_class_uid : str
        The SOP Class UID of the referenced instance.

    Returns
    -------
    str
        ``WAVEFORM`` for the waveform storage classes, ``IMAGE`` for the
        classes whose IOD has pixel data (``data/image_sop_classes.json``,
        made by ``tools/gen_image_sop_classes.py``), ``COMPOSITE`` for all
        others, unknown and private ones included.
    """
    if sop_class_uid.startswith(WAVEFORM_PREFIX):
        return "WAVEFORM"
    return "IMAGE" if sop_class_uid in _image_sop_classes() else "COMPOSITE"


def is_valid_value(vr: str, value: str) -> bool:
    """Whether ``value`` is a valid single DICOM value of ``vr``.

    Parameters
    ----------
    vr : str
        The value representation (``PN``, ``LO``, ``UR``, ...).
    value : str
        The candidate value: one value (no backslash outside the text VRs), no
        control characters but ESC outside the text VRs.

    Returns
    -------
    bool
        True when pydicom's strict validation of ``vr`` accepts it.
    """
    if vr not in _TEXT_VRS and "\\" in value:
        return False
    if vr not in _TEXT_VRS and re.search(r"[\x00-\x1f\x7f]", value.replace("\x1b", "")):
        return False
    try:
        validate_value(vr, value, config.RAISE)
    except (ValueError, TypeError):
        return False
    return True


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item: Code Value, Coding Scheme Designator and Code Meaning.

    Parameters
    ----------
    value, scheme, meaning : str
        The three attributes of the code.

    Returns
    -------
    pydicom.dataset.Dataset
        The item, ready for a Concept Name or Concept Code Sequence.
    """
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


_INSTANT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def parse_instant(text: str, where: str) -> Instant:
    """A FHIR instant as Content Date, Content Time and Timezone Offset From UTC.

    Parameters
    ----------
    text : str
        ``2024-01-02T10:15:00+01:00``: date, time to the second (a fraction
        kept to microseconds) and a zone, ``Z`` or an offset.
    where : str
        What the value is, for the message.

    Returns
    -------
    Instant
        (aware datetime, DICOM DA, DICOM TM, Timezone Offset From UTC).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When ``text`` is not an instant, or not a valid one.
    """
    m = _INSTANT.fullmatch(text.strip())
    if not m:
        raise InvalidInputError(f"{text!r} is not a FHIR instant", attribute=where)
    year, month, day, hh, mm, ss, frac, zone = m.groups()
    frac6 = (frac or "")[:6]
    offset = "+0000" if zone == "Z" else zone.replace(":", "")
    try:
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
        when = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hh),
            int(mm),
            int(ss),
            int(frac6.ljust(6, "0")) if frac6 else 0,
            tzinfo=tz,
        )
    except ValueError as e:
        raise InvalidInputError(f"{text!r} is not a valid instant ({e})", attribute=where) from e
    tm = f"{hh}{mm}{ss}" + (f".{frac6}" if frac6 else "")
    return when, f"{year}{month}{day}", tm, offset


def instant_of(when: dt.datetime) -> Instant:
    """An aware datetime as Content Date, Content Time and Timezone Offset From UTC.

    Parameters
    ----------
    when : datetime.datetime
        With a UTC offset (the model's ``issued``).

    Returns
    -------
    Instant
        (``when``, DICOM DA, DICOM TM with the fraction it has, ``+hhmm``).
    """
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    tm = when.strftime("%H%M%S")
    if when.microsecond:
        tm += f".{when.microsecond:06d}".rstrip("0")
    return when, when.strftime("%Y%m%d"), tm, zone
