"""Helpers shared by the readers: attributes to model values, with tolerant reading.

Every helper reports what it could not read through :class:`ReadContext`, so
a reader never drops anything silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from dicomsel.errors import InvalidInputError, InvalidUIDError
from dicomsel.model import (
    Code,
    Identifier,
    ObservationRecord,
    Performer,
    Reference,
    Selection,
    check_uid,
)

__all__ = [
    "ReadContext",
    "ReadOptions",
    "ReadResult",
    "attr_name",
    "based_on",
    "code_from_item",
    "first_code",
    "issued",
    "observer_performers",
    "subject",
    "value",
]


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Settings that change what readers produce.

    Parameters
    ----------
    timezone : str or None
        UTC offset (``+01:00`` or ``+0100``) to assume when a document has
        Content Date/Time but no Timezone Offset From UTC. None: leave
        ``issued`` out and warn.
    patient_id_system : str or None
        Identifier system for Patient ID when the file names no usable issuer.
    seg_frames : bool
        SEG: list each segment's own frames (walks the per-frame functional groups).
    code : Code or None
        Images: the selection's code (None: DCM 113000 "Of Interest").
    frames : tuple of int
        Images: the frames to select in multi-frame instances (empty: whole instances).
    """

    timezone: str | None = None
    patient_id_system: str | None = None
    seg_frames: bool = False
    code: Code | None = None
    frames: tuple[int, ...] = ()


@dataclass(slots=True)
class ReadContext:
    """Per-file state of one read: where we are and what was reported."""

    path: str | None
    options: ReadOptions = field(default_factory=ReadOptions)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record something that was read tolerantly or left out."""
        self.warnings.append(message)

    def error(self, reason: str, attribute: str | None = None) -> InvalidInputError:
        """Build an error naming this file."""
        return InvalidInputError(reason, path=self.path, attribute=attribute)

    def uid(self, value: object, attribute: str) -> str:
        """Check a UID read from the file, naming the file and attribute when it is bad."""
        try:
            return check_uid(value if value is None else str(value).strip(), attribute)
        except InvalidUIDError as e:
            raise InvalidUIDError(e.reason, path=self.path, attribute=attribute) from e


@dataclass(slots=True)
class ReadResult:
    """What a reader produced from one DICOM object.

    ``observations`` are the measurements and evaluations an SR holds; their
    ``derived_from`` name selections of ``selections`` by key.
    """

    sop_class_uid: str
    sop_instance_uid: str
    selections: list[Selection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    observations: list[ObservationRecord] = field(default_factory=list)


def value(ds: Dataset, tag: int) -> Any:
    """The value of the element ``tag`` in ``ds``, or None: the fast path for hot loops.

    Access by tag skips pydicom's keyword lookup, which dominates when a
    document holds tens of thousands of references.
    """
    # pydicom keeps a dataset's elements in ``_dict`` (tag -> element, raw until first
    # read): looking there first makes a missing element cost a dict lookup instead of
    # a KeyError, and an element already converted skip __getitem__ altogether.
    elements = getattr(ds, "_dict", None)
    if elements is None:  # pragma: no cover - not a pydicom Dataset
        elem = ds.get(tag)
        return None if elem is None else elem.value
    elem = elements.get(tag)
    if elem is None:
        return None
    if isinstance(elem, DataElement):
        return elem.value
    return ds[tag].value  # converts the raw element and stores it


@cache
def attr_name(keyword: str) -> str:
    """``"StudyInstanceUID (0020,000D)"``: an attribute as messages name it."""
    t = Tag(keyword)
    return f"{keyword} ({t.group:04X},{t.element:04X})"


def _str(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def code_from_item(item: Dataset) -> Code | None:
    """A :class:`Code` from a code sequence item, or None when it has no usable value.

    Reads Code Value, then Long Code Value and URN Code Value (PS3.3 8.8).
    """
    value = _str(item, "CodeValue") or _str(item, "LongCodeValue")
    scheme = _str(item, "CodingSchemeDesignator")
    system = None
    urn = _str(item, "URNCodeValue")
    if value is None and urn is not None:
        value, system, scheme = urn, "urn:ietf:rfc:3986", None
    meaning = _str(item, "CodeMeaning")
    if value is None and meaning is None:
        return None
    return Code(
        value=value,
        scheme=scheme,
        meaning=meaning,
        system=system,
        scheme_version=_str(item, "CodingSchemeVersion"),
        text=None if value else meaning,
    )


def first_code(ds: Dataset, keyword: str) -> Code | None:
    """The code in the first item of code sequence ``keyword``, or None."""
    seq = ds.get(keyword)
    if not seq:
        return None
    return code_from_item(seq[0])


def subject(ds: Dataset, ctx: ReadContext) -> Reference | None:
    """Patient ID (+ Issuer of Patient ID) as a Reference(Patient) by identifier.

    The identifier system is, in order: the issuer's Universal Entity ID when
    its type is ISO (``urn:oid:``), Issuer of Patient ID when it is an OID,
    ``ReadOptions.patient_id_system``; otherwise no system and the issuer is
    kept as the identifier's assigner.
    """
    pid = _str(ds, "PatientID")
    if pid is None:
        ctx.warn(f"{attr_name('PatientID')} is missing or empty: no subject")
        return None
    issuer = _str(ds, "IssuerOfPatientID")
    system = None
    quals = ds.get("IssuerOfPatientIDQualifiersSequence")
    if quals:
        q = quals[0]
        uei = _str(q, "UniversalEntityID")
        if uei and _str(q, "UniversalEntityIDType") == "ISO":
            system = f"urn:oid:{uei}"
    if system is None and issuer and re.fullmatch(r"[0-2](\.(0|[1-9][0-9]*))+", issuer):
        system = f"urn:oid:{issuer}"
    if system is None:
        system = ctx.options.patient_id_system
    assigner = issuer if issuer and system != f"urn:oid:{issuer}" else None
    return Reference("Patient", identifier=Identifier(value=pid, system=system, assigner=assigner))


_TZ_RE = re.compile(r"^([+-])(\d\d):?(\d\d)$")


def _zone(value: str) -> str | None:
    m = _TZ_RE.match(value.strip())
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def issued(ds: Dataset, ctx: ReadContext) -> str | None:
    """Content Date + Content Time (+ Timezone Offset From UTC) as a FHIR instant.

    An instant needs a zone: without Timezone Offset From UTC the configured
    ``ReadOptions.timezone`` is used; with neither, None and a warning.
    """
    date = _str(ds, "ContentDate")
    time = _str(ds, "ContentTime")
    if date is None:
        ctx.warn(f"{attr_name('ContentDate')} is missing: issued left out")
        return None
    if not re.fullmatch(r"\d{8}", date):
        ctx.warn(f"{attr_name('ContentDate')} {date!r} is not a DICOM DA: issued left out")
        return None
    if time is None:
        ctx.warn(f"{attr_name('ContentTime')} is missing: issued left out")
        return None
    m = re.fullmatch(r"(\d\d)(?::?(\d\d)(?::?(\d\d)(?:\.(\d{1,6}))?)?)?", time)
    if not m:
        ctx.warn(f"{attr_name('ContentTime')} {time!r} is not a DICOM TM: issued left out")
        return None
    hh, mm, ss, frac = m.group(1), m.group(2) or "00", m.group(3) or "00", m.group(4)
    tz_raw = _str(ds, "TimezoneOffsetFromUTC")
    zone = _zone(tz_raw) if tz_raw else None
    if tz_raw and zone is None:
        ctx.warn(f"{attr_name('TimezoneOffsetFromUTC')} {tz_raw!r} is not a UTC offset")
    if zone is None and ctx.options.timezone:
        zone = _zone(ctx.options.timezone)
    if zone is None:
        ctx.warn(
            f"{attr_name('TimezoneOffsetFromUTC')} is missing and no --timezone was given: "
            "issued left out (a FHIR instant needs a zone)"
        )
        return None
    # 2400 is not a valid time; 60 seconds (leap second) is not valid in FHIR either.
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        ctx.warn(f"{attr_name('ContentTime')} {time!r} is out of range: issued left out")
        return None
    fraction = f".{frac}" if frac else ""
    return f"{date[:4]}-{date[4:6]}-{date[6:]}T{hh}:{mm}:{ss}{fraction}{zone}"


def _accession(value: str, issuer_seq: Sequence | None) -> Identifier:
    system = None
    assigner = None
    if issuer_seq:
        q = issuer_seq[0]
        uei = _str(q, "UniversalEntityID")
        if uei and _str(q, "UniversalEntityIDType") == "ISO":
            system = f"urn:oid:{uei}"
        assigner = _str(q, "LocalNamespaceEntityID")
    return Identifier(value=value, system=system, type_code="ACSN", assigner=assigner)


def based_on(ds: Dataset) -> tuple[Reference, ...]:
    """Accession Number and Referenced Request Sequence as Reference(ServiceRequest).

    Each request gives one reference; its identifier is the accession number
    (type ACSN) or else the placer / filler order number (PLAC / FILL).
    Duplicates are dropped.
    """
    out: list[Reference] = []

    def add(ref: Reference) -> None:
        if ref not in out:
            out.append(ref)

    acc = _str(ds, "AccessionNumber")
    if acc:
        add(Reference("ServiceRequest", _accession(acc, ds.get("IssuerOfAccessionNumberSequence"))))
    for req in ds.get("ReferencedRequestSequence") or ():
        racc = _str(req, "AccessionNumber")
        if racc:
            ident = _accession(racc, req.get("IssuerOfAccessionNumberSequence"))
        elif placer := _str(req, "PlacerOrderNumberImagingServiceRequest"):
            ident = Identifier(value=placer, type_code="PLAC")
        elif filler := _str(req, "FillerOrderNumberImagingServiceRequest"):
            ident = Identifier(value=filler, type_code="FILL")
        else:
            continue
        add(Reference("ServiceRequest", ident))
    return tuple(out)


_RELATIONSHIP_TYPE = 0x0040A010

# TID 1002 observer context concept names (DCM)
_OBSERVER_TYPE = "121005"
_PERSON_NAME = "121008"
_PERSON_ORG = "121009"
_DEVICE_UID = "121012"
_DEVICE_NAME = "121013"
_DEVICE_MANUFACTURER = "121014"
_DEVICE_MODEL = "121015"
_AUTHOR = Code(
    value="AUT",
    system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    meaning="author (originator)",
)


def _concept(item: Dataset) -> str | None:
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return None
    return _str(seq[0], "CodeValue")


def observer_performers(items: Sequence | list[Dataset], ctx: ReadContext) -> tuple[Performer, ...]:
    """Observer context (TID 1002, HAS OBS CONTEXT items) as performers.

    Each Observer Type item starts a new observer; a person becomes a
    Reference(Practitioner) by display (the Person Observer's Name), a device
    a Reference(Device) by identifier (Device Observer UID) and display.
    """
    observers: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for item in items:
        # by tag: this runs over every root item, tens of thousands in a large manifest
        if value(item, _RELATIONSHIP_TYPE) != "HAS OBS CONTEXT":
            continue
        concept = _concept(item)
        vt = _str(item, "ValueType")
        if concept == _OBSERVER_TYPE:
            ctype = first_code(item, "ConceptCodeSequence")
            current = {"type": "DEVICE" if ctype and ctype.value == "121007" else "PERSON"}
            observers.append(current)
            continue
        if current is None:
            # TID 1002 defaults to a person observer when the type is left out
            if concept in (_PERSON_NAME, _PERSON_ORG):
                current = {"type": "PERSON"}
                observers.append(current)
            elif concept in (_DEVICE_UID, _DEVICE_NAME, _DEVICE_MANUFACTURER, _DEVICE_MODEL):
                current = {"type": "DEVICE"}
                observers.append(current)
            else:
                continue
        if vt == "PNAME":
            current["name"] = str(item.get("PersonName", "")).replace("^", " ").strip()
        elif vt == "UIDREF":
            current["uid"] = str(item.get("UID", "")).strip()
        elif vt == "TEXT" and concept is not None:
            current[concept] = str(item.get("TextValue", "")).strip()
    out: list[Performer] = []
    for obs in observers:
        if obs["type"] == "PERSON":
            name = obs.get("name") or None
            org = obs.get(_PERSON_ORG)
            display = f"{name} ({org})" if name and org else name or org
            if not display:
                ctx.warn("a person observer has no Person Observer's Name: left out")
                continue
            out.append(Performer(Reference("Practitioner", display=display), _AUTHOR))
        else:
            uid = obs.get("uid")
            ident = None
            if uid:
                ident = Identifier.dicom_uid(ctx.uid(uid, "Device Observer UID (DCM 121012)"))
            parts = [obs.get(_DEVICE_NAME), obs.get(_DEVICE_MANUFACTURER), obs.get(_DEVICE_MODEL)]
            display = " ".join(p for p in parts if p) or None
            if ident is None and display is None:
                ctx.warn("a device observer has neither UID nor name: left out")
                continue
            out.append(Performer(Reference("Device", identifier=ident, display=display), _AUTHOR))
    return tuple(out)


_CONTENT_SEQUENCE = 0x0040A730


def iter_content(root: Dataset) -> Iterator[tuple[Dataset, int]]:
    """Every content item below ``root``, depth first, with its depth; iterative, not recursive."""
    stack: list[tuple[Dataset, int]] = [
        (item, 1) for item in reversed(value(root, _CONTENT_SEQUENCE) or ())
    ]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        children = value(item, _CONTENT_SEQUENCE)
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
