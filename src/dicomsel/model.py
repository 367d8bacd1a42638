"""The neutral model: what a DICOM object selects, independent of any FHIR version.

Readers build these frozen dataclasses; writers are pure functions of them.
Nothing here knows FHIR's element names. Values are checked when built:
UIDs against PS3.5 section 9, subsets (frames, segments, ROIs) sorted and
without duplicates, region coordinates against their graphic type.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dicomsel.errors import InvalidInputError
from dicomsel.personname import normalise
from dicomsel.uid import check_uid

__all__ = [
    "ActorKind",
    "Code",
    "Endpoint",
    "EndpointKind",
    "Identifier",
    "IdentifierKind",
    "Instance",
    "ObservationKind",
    "ObservationRecord",
    "Performer",
    "PerformerFunction",
    "Provenance",
    "Reference",
    "Region2D",
    "Region3D",
    "RegionType2D",
    "RegionType3D",
    "Selection",
    "Status",
]


def _positive_set(values: Iterable[int], what: str, *, allow_zero: bool = False) -> tuple[int, ...]:
    seen: list[int] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidInputError(f"{v!r} is not an integer", attribute=what)
        if v < (0 if allow_zero else 1):
            raise InvalidInputError(f"{v} is out of range (numbers start at 1)", attribute=what)
        seen.append(v)
    out = tuple(sorted(set(seen)))
    if len(out) != len(seen):
        dup = sorted({v for v in seen if seen.count(v) > 1})
        raise InvalidInputError(f"duplicate number(s) {dup}", attribute=what)
    return out


@dataclass(frozen=True, slots=True)
class Code:
    """A coded concept: DICOM (code value, coding scheme designator, meaning) or a FHIR system.

    ``scheme`` is the DICOM Coding Scheme Designator when the code came from
    DICOM; writers map it to a FHIR system URI through :mod:`dicomsel.terminology`.
    ``system`` may be given directly (a URI) instead.
    """

    value: str | None
    scheme: str | None = None
    meaning: str | None = None
    system: str | None = None
    scheme_version: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if not self.value and not self.text:
            raise InvalidInputError("a code needs a value or a text")


class IdentifierKind(StrEnum):
    """What a business identifier is, when the model knows (writers choose its encoding)."""

    #: a DICOM UID (SOP Instance, Study Instance, Device UID, ...); ``value`` is the bare UID
    DICOM_UID = "dicom-uid"
    #: an Accession Number
    ACCESSION = "accession"
    #: a Placer Order Number / Imaging Service Request
    PLACER = "placer"
    #: a Filler Order Number / Imaging Service Request
    FILLER = "filler"


@dataclass(frozen=True, slots=True)
class Identifier:
    """A business identifier: ``system`` (URI or None) and ``value``.

    ``kind`` says what the identifier is: a :class:`IdentifierKind` when dicomsel
    knows it (a DICOM UID, an accession number, ...), any other type as a code;
    ``assigner`` is the display of who assigned it.
    """

    value: str
    system: str | None = None
    kind: IdentifierKind | Code | None = None
    assigner: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and not isinstance(self.kind, Code):
            object.__setattr__(self, "kind", IdentifierKind(self.kind))
            if self.kind is IdentifierKind.DICOM_UID:
                check_uid(self.value)

    @classmethod
    def dicom_uid(cls, uid: str) -> Identifier:
        """The identifier of a DICOM UID (checked against PS3.5)."""
        return cls(value=check_uid(uid), kind=IdentifierKind.DICOM_UID)


class ActorKind(StrEnum):
    """What a :class:`Reference` points at, in neutral terms (writers name resource types)."""

    PATIENT = "patient"
    GROUP = "group"
    LOCATION = "location"
    PROCEDURE = "procedure"
    SPECIMEN = "specimen"
    MEDICATION = "medication"
    SUBSTANCE = "substance"
    #: a person acting in a professional role (an observer, an RT ROI interpreter)
    PERSON = "person"
    PERSON_ROLE = "person-role"
    RELATED_PERSON = "related-person"
    DEVICE = "device"
    ORGANIZATION = "organization"
    CARE_TEAM = "care-team"
    HEALTHCARE_SERVICE = "healthcare-service"
    #: an order or request (the imaging service request an accession number names)
    REQUEST = "request"
    CARE_PLAN = "care-plan"
    APPOINTMENT = "appointment"
    APPOINTMENT_RESPONSE = "appointment-response"
    TASK = "task"
    #: an imaging study
    STUDY = "study"
    #: an imaging selection
    SELECTION = "selection"


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference to another resource by business identifier (not by id).

    ``person_name`` is the DICOM Person Name (PS3.5 6.2.1) of a person known by name
    (an observer, a content creator), its components and groups as DICOM has them
    (insignificant spaces and trailing delimiters left out); ``display`` is then a
    readable form of it.
    """

    kind: ActorKind
    identifier: Identifier | None = None
    display: str | None = None
    person_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ActorKind(self.kind))
        if self.person_name is not None:
            object.__setattr__(self, "person_name", normalise(self.person_name) or None)
        if self.identifier is None and not self.display and not self.person_name:
            raise InvalidInputError("a reference needs an identifier, a display or a name")


class PerformerFunction(StrEnum):
    """The part a performer played, where DICOM says it (observers are authors)."""

    AUTHOR = "author"


@dataclass(frozen=True, slots=True)
class Performer:
    """Who made the selection: a person or a device; ``function`` a role or any code."""

    actor: Reference
    function: PerformerFunction | Code | None = None


class EndpointKind(StrEnum):
    """How selected instances can be retrieved."""

    #: a DICOMweb (WADO-RS) base or Retrieve URL
    DICOMWEB = "dicomweb"
    #: a WADO-URI address
    WADO_URI = "wado-uri"
    #: a DICOMweb QIDO-RS base URL
    QIDO_RS = "qido-rs"
    #: a DIMSE peer (Retrieve AE Title) or a retrieve location UID
    DIMSE = "dimse"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the selected instances can be retrieved from (``address`` None for a DIMSE peer)."""

    kind: EndpointKind
    address: str | None = None
    ae_title: str | None = None
    location_uid: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EndpointKind(self.kind))
        if not (self.address or self.ae_title or self.location_uid):
            raise InvalidInputError("an endpoint needs an address, an AE title or a location UID")
        if self.location_uid is not None:
            check_uid(self.location_uid, "RetrieveLocationUID (0040,E011)")


class Provenance(StrEnum):
    """The kind of DICOM object (or other source) a selection was read from."""

    KOS = "kos"
    SR = "sr"
    SEG = "seg"
    RTSTRUCT = "rtstruct"
    #: one image file; the batch merges the selections of a series' images into one
    IMAGE = "image"
    #: a Softcopy Presentation State (graphic annotations)
    PRESENTATION_STATE = "pstate"
    #: Microscopy Bulk Simple Annotations
    ANNOTATION = "annotation"
    FHIR = "fhir"


class Status(StrEnum):
    """The state of a selection."""

    AVAILABLE = "available"
    ENTERED_IN_ERROR = "entered-in-error"
    UNKNOWN = "unknown"


def _aware(value: dt.datetime | None, what: str) -> None:
    if value is not None and (not isinstance(value, dt.datetime) or value.utcoffset() is None):
        raise InvalidInputError(
            f"{value!r} is not a date and time with a UTC offset", attribute=what
        )


class RegionType2D(StrEnum):
    """2D graphic types (DICOM SCOORD and presentation-state graphic types)."""

    POINT = "point"
    MULTIPOINT = "multipoint"
    POLYLINE = "polyline"
    INTERPOLATED = "interpolated"
    CIRCLE = "circle"
    ELLIPSE = "ellipse"


class RegionType3D(StrEnum):
    """3D graphic types (DICOM SCOORD3D)."""

    POINT = "point"
    MULTIPOINT = "multipoint"
    POLYLINE = "polyline"
    POLYGON = "polygon"
    ELLIPSE = "ellipse"
    ELLIPSOID = "ellipsoid"


# number of coordinate tuples: exact count, or minimum when negative
_POINTS_2D = {
    RegionType2D.POINT: 1,
    RegionType2D.MULTIPOINT: -1,
    RegionType2D.POLYLINE: -2,
    RegionType2D.INTERPOLATED: -2,
    RegionType2D.CIRCLE: 2,
    RegionType2D.ELLIPSE: 4,
}
_POINTS_3D = {
    RegionType3D.POINT: 1,
    RegionType3D.MULTIPOINT: -1,
    RegionType3D.POLYLINE: -2,
    RegionType3D.POLYGON: -3,
    RegionType3D.ELLIPSE: 4,
    RegionType3D.ELLIPSOID: 6,
}


def _check_coordinates(
    coordinates: Iterable[float], dims: int, rule: int, what: str
) -> tuple[float, ...]:
    coords = tuple(float(c) for c in coordinates)
    if len(coords) % dims:
        raise InvalidInputError(
            f"{len(coords)} coordinates is not a multiple of {dims}", attribute=what
        )
    n = len(coords) // dims
    if (rule > 0 and n != rule) or (rule < 0 and n < -rule):
        need = f"exactly {rule}" if rule > 0 else f"at least {-rule}"
        raise InvalidInputError(f"{n} point(s) given, {need} needed", attribute=what)
    return coords


@dataclass(frozen=True, slots=True)
class Region2D:
    """A 2D region in image pixel coordinates: (column, row) pairs as in DICOM Graphic Data."""

    region_type: RegionType2D
    coordinates: tuple[float, ...]

    def __post_init__(self) -> None:
        rt = RegionType2D(self.region_type)
        object.__setattr__(self, "region_type", rt)
        coords = _check_coordinates(self.coordinates, 2, _POINTS_2D[rt], f"{rt} region")
        object.__setattr__(self, "coordinates", coords)


@dataclass(frozen=True, slots=True)
class Region3D:
    """A 3D region in the patient coordinates of ``frame_of_reference_uid``: (x, y, z) triples."""

    region_type: RegionType3D
    coordinates: tuple[float, ...]
    frame_of_reference_uid: str

    def __post_init__(self) -> None:
        rt = RegionType3D(self.region_type)
        object.__setattr__(self, "region_type", rt)
        coords = _check_coordinates(self.coordinates, 3, _POINTS_3D[rt], f"{rt} 3D region")
        object.__setattr__(self, "coordinates", coords)
        check_uid(self.frame_of_reference_uid, "ReferencedFrameOfReferenceUID (3006,0024)")


@dataclass(frozen=True, slots=True)
class Instance:
    """One selected SOP instance and, optionally, the parts of it that are selected.

    Empty ``frames`` / ``segments`` / ``rois`` / ``observation_uids`` mean the
    whole instance. Numbered subsets are sorted; a duplicate is an error.
    """

    uid: str
    sop_class_uid: str | None = None
    number: int | None = None
    frames: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    rois: tuple[int, ...] = ()
    observation_uids: tuple[str, ...] = ()
    regions_2d: tuple[Region2D, ...] = ()
    regions_3d: tuple[Region3D, ...] = ()

    def __post_init__(self) -> None:
        check_uid(self.uid, "SOP Instance UID")
        if self.sop_class_uid is not None:
            check_uid(self.sop_class_uid, "SOP Class UID")
        object.__setattr__(
            self, "frames", _positive_set(self.frames, "ReferencedFrameNumber (0008,1160)")
        )
        object.__setattr__(
            self,
            "segments",
            _positive_set(self.segments, "ReferencedSegmentNumber (0062,000B)", allow_zero=True),
        )
        object.__setattr__(self, "rois", _positive_set(self.rois, "ROINumber (3006,0022)"))
        obs = tuple(self.observation_uids)
        for u in obs:
            check_uid(u, "ObservationUID (0040,A171)")
        if len(set(obs)) != len(obs):
            raise InvalidInputError("duplicate observation UID", attribute="ObservationUID")
        object.__setattr__(self, "observation_uids", tuple(sorted(obs)))
        object.__setattr__(self, "regions_2d", tuple(self.regions_2d))
        object.__setattr__(self, "regions_3d", tuple(self.regions_3d))

    def merged(self, other: Instance) -> Instance:
        """Join two selections of the same instance (union of their subsets)."""
        if other.uid != self.uid:
            raise ValueError("merging different instances")
        return Instance(
            uid=self.uid,
            sop_class_uid=self.sop_class_uid or other.sop_class_uid,
            number=self.number if self.number is not None else other.number,
            frames=tuple(set(self.frames) | set(other.frames)),
            segments=tuple(set(self.segments) | set(other.segments)),
            rois=tuple(set(self.rois) | set(other.rois)),
            observation_uids=tuple(set(self.observation_uids) | set(other.observation_uids)),
            regions_2d=self.regions_2d
            + tuple(r for r in other.regions_2d if r not in self.regions_2d),
            regions_3d=self.regions_3d
            + tuple(r for r in other.regions_3d if r not in self.regions_3d),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """A selection of instances within one series of one study.

    Parameters
    ----------
    key : str
        A stable key that makes the selection unique among those one source
        produces; writers derive resource ids from ``(source_uid, key)``.
    source_uid : str
        SOP Instance UID of the DICOM object the selection was read from.
    code : Code
        What the selection is (a KOS title, DCM 111030 Image Region, ...).
    focus : tuple of str
        Keys of other selections from the same source that this one is about
        (a segment's source images, an ROI's contour images).
    regions_3d : tuple of Region3D
        3D regions not anchored on an instance (Snapshot #1 carries them at the
        top level; R5 needs an instance, so readers anchor them as DESIGN.md says).
    description : str or None
        Free text that has no element of its own (a KOS's Key Object Description).
    issued : datetime.datetime or None
        When the source was made (Content Date/Time), with its UTC offset.
    provenance : Provenance or None
        What kind of object the selection was read from.
    """

    key: str
    source_uid: str
    code: Code
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    series_number: int | None = None
    frame_of_reference_uid: str | None = None
    instances: tuple[Instance, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    based_on: tuple[Reference, ...] = ()
    subject: Reference | None = None
    issued: dt.datetime | None = None
    performers: tuple[Performer, ...] = ()
    status: Status = Status.AVAILABLE
    categories: tuple[Code, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    body_site: Code | None = None
    focus: tuple[str, ...] = ()
    regions_3d: tuple[Region3D, ...] = ()
    description: str | None = None
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        check_uid(self.source_uid, "SOPInstanceUID (0008,0018)")
        if self.provenance is not None:
            object.__setattr__(self, "provenance", Provenance(self.provenance))
        if self.study_instance_uid is not None:
            check_uid(self.study_instance_uid, "StudyInstanceUID (0020,000D)")
        if self.series_instance_uid is not None:
            check_uid(self.series_instance_uid, "SeriesInstanceUID (0020,000E)")
        if self.frame_of_reference_uid is not None:
            check_uid(self.frame_of_reference_uid, "FrameOfReferenceUID (0020,0052)")
        try:
            object.__setattr__(self, "status", Status(self.status))
        except ValueError:
            raise InvalidInputError(
                f"status {self.status!r} is not one of {sorted(Status)}"
            ) from None
        _aware(self.issued, "issued")
        uids = [i.uid for i in self.instances]
        if len(set(uids)) != len(uids):
            raise InvalidInputError(
                "an instance is listed twice in one selection", attribute="SOP Instance UID"
            )
        for name in (
            "instances",
            "identifiers",
            "based_on",
            "performers",
            "categories",
            "endpoints",
            "focus",
            "regions_3d",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))


# ---- structured report observations (measurement groups, measurements, evaluations)


class ObservationKind(StrEnum):
    """What an :class:`ObservationRecord` stands for in the SR content tree."""

    #: a Measurement Group container (TID 1410 planar, 1411 volumetric, 1501 qualitative)
    GROUP = "group"
    #: a NUM content item (TID 300 / 1419 measurement, or a NUM anywhere in an SR)
    MEASUREMENT = "measurement"
    #: a CODE or TEXT content item of a measurement group that is a qualitative evaluation
    QUALITATIVE = "qualitative"


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    """One observation read from a structured report, in DICOM's terms.

    Readers fill what the content item and its modifiers say; writers decide
    how it is carried (status from the three flags, code from the kind and
    the finding category, ...).

    Parameters
    ----------
    key : str
        Unique among the observations of one source; writers derive ids from
        ``(source_uid, key)`` and ``members`` name other records by it.
    source_uid : str
        SOP Instance UID of the SR document.
    kind : ObservationKind
    code : Code
        Concept name of the content item (groups: DCM 125007 "Measurement Group").
    numeric_value : float or None
        NUM: the measured value (Floating Point Value, else Numeric Value).
    unit : Code or None
        NUM: Measurement Units Code Sequence (UCUM as a rule).
    value_qualifier : Code or None
        NUM without a value: Numeric Value Qualifier Code Sequence, when given.
    value_code, value_text : Code or None, str or None
        Qualitative evaluations: the CODE or TEXT value.
    finding_category, finding, finding_site, method, derivation : Code or None
        SCT 276214006, DCM 121071, SCT 363698007, SCT 370129005, DCM 121401.
    tracking_id, tracking_uid : str or None
        DCM 112039 Tracking Identifier, DCM 112040 Tracking Unique Identifier.
    observation_uid : str or None
        Observation UID (0040,A171) of the content item.
    template_id : str or None
        Template Identifier of the item's Content Template Sequence ("1410"...).
    completion_flag, verification_flag, preliminary_flag : str or None
        The document's Completion, Verification and Preliminary Flags.
    observation_datetime : str or None
        Observation DateTime (0040,A032) of the item or its nearest ancestor as an
        ISO 8601 date-time, to the precision DICOM gave (a time always with its UTC
        offset; left out when no zone is known).
    device : Reference or None
        Algorithm Identification (TID 4019), else a device observer, else the equipment.
    derived_from : tuple of str
        Keys of the selections (same source) the observation is made from.
    members : tuple of str
        Keys of the observations a group holds.
    """

    key: str
    source_uid: str
    kind: ObservationKind
    code: Code
    numeric_value: float | None = None
    unit: Code | None = None
    value_qualifier: Code | None = None
    value_code: Code | None = None
    value_text: str | None = None
    finding_category: Code | None = None
    finding: Code | None = None
    finding_site: Code | None = None
    method: Code | None = None
    derivation: Code | None = None
    tracking_id: str | None = None
    tracking_uid: str | None = None
    observation_uid: str | None = None
    template_id: str | None = None
    completion_flag: str | None = None
    verification_flag: str | None = None
    preliminary_flag: str | None = None
    study_instance_uid: str | None = None
    subject: Reference | None = None
    issued: dt.datetime | None = None
    observation_datetime: str | None = None
    performers: tuple[Performer, ...] = ()
    device: Reference | None = None
    based_on: tuple[Reference, ...] = ()
    derived_from: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ObservationKind(self.kind))
        check_uid(self.source_uid, "SOPInstanceUID (0008,0018)")
        if self.observation_uid is not None:
            check_uid(self.observation_uid, "ObservationUID (0040,A171)")
        if self.tracking_uid is not None:
            check_uid(self.tracking_uid, "Tracking Unique Identifier (DCM 112040)")
        if self.study_instance_uid is not None:
            check_uid(self.study_instance_uid, "StudyInstanceUID (0020,000D)")
        if self.numeric_value is not None and not math.isfinite(self.numeric_value):
            raise InvalidInputError(
                f"{self.numeric_value} is not a finite number", attribute="NumericValue (0040,A30A)"
            )
        _aware(self.issued, "issued")
        for name in ("performers", "based_on", "derived_from", "members"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
