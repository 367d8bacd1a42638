"""Build Key Object Selection (KOS) documents for tests and samples.

A small, deterministic builder of datasets conforming to the Key Object
Selection Document IOD (DICOM PS3.3 A.35.4) with the content tree of
TID 2010 "Key Object Selection" (PS3.16).  It uses pydicom only.

Nothing here draws random numbers or reads the clock: every UID is passed
in by the caller, and :func:`uid` derives UIDs from arbitrary parts under
the ``2.25.`` root.

Example::

    from kosgen import Ref, make_kos, save, uid

    refs = [Ref(study, series, "1.2.840.10008.5.1.4.1.1.2", sop, frames=(2, 5))]
    ds = make_kos(refs, uid=uid("kos", 1), series_uid=uid("kos-series", 1))
    save(ds, "kos.dcm")
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian

__all__ = [
    "KOS_SOP_CLASS_UID",
    "TITLES",
    "Ref",
    "Request",
    "code",
    "make_kos",
    "save",
    "uid",
    "value_type_for",
]

KOS_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.59"

#: A selection of CID 7010 "Key Object Selection Document Title" codes.
TITLES: dict[str, tuple[str, str, str]] = {
    "of_interest": ("113000", "DCM", "Of Interest"),
    "rejected_quality": ("113001", "DCM", "Rejected for Quality Reasons"),
    "for_referring_provider": ("113002", "DCM", "For Referring Provider"),
    "for_surgery": ("113003", "DCM", "For Surgery"),
    "for_teaching": ("113004", "DCM", "For Teaching"),
    "for_conference": ("113005", "DCM", "For Conference"),
    "for_therapy": ("113006", "DCM", "For Therapy"),
    "for_patient": ("113007", "DCM", "For Patient"),
    "for_peer_review": ("113008", "DCM", "For Peer Review"),
    "for_research": ("113009", "DCM", "For Research"),
    "quality_issue": ("113010", "DCM", "Quality Issue"),
    "best_in_set": ("113013", "DCM", "Best In Set"),
    "manifest": ("113030", "DCM", "Manifest"),
    "complete_study_content": ("113032", "DCM", "Complete Study Content"),
}

_KEY_OBJECT_DESCRIPTION = ("113012", "DCM", "Key Object Description")
_OBSERVER_TYPE = ("121005", "DCM", "Observer Type")
_PERSON = ("121006", "DCM", "Person")
_PERSON_OBSERVER_NAME = ("121008", "DCM", "Person Observer Name")

_STORAGE = "1.2.840.10008.5.1.4.1.1."
# Storage SOP classes (by prefix of the part after _STORAGE) that are not
# images and are therefore referenced by COMPOSITE content items.
_COMPOSITE_PREFIXES = (
    "11.",  # presentation states
    "88.",  # structured reports, KOS
    "104.",  # encapsulated documents (PDF, CDA, STL, ...)
    "481.3",  # RT structure set
    "481.4",  # RT beams treatment record
    "481.5",  # RT plan
    "481.6",  # RT brachy treatment record
    "481.7",  # RT treatment summary record
    "481.8",  # RT ion plan
    "481.9",  # RT ion beams treatment record
    "481.10",  # RT physician intent
    "481.11",  # RT segment annotation
    "66.1",  # spatial registration
    "66.2",  # spatial fiducials
    "66.3",  # deformable spatial registration
    "66.5",  # surface segmentation
    "66.6",  # tractography results
    "67",  # real world value mapping
    "68.",  # surface scan mesh / point cloud
    "200.",  # protocol storage
)
_COMPOSITE_EXACT = frozenset({_STORAGE + "66"})  # raw data


def uid(*parts: object) -> str:
    """Derive a UID deterministically from ``parts`` under the ``2.25.`` root.

    The first 128 bits of the SHA-256 of the parts become the decimal
    integer after ``2.25.`` (as for UUID-derived UIDs), so the result has at
    most 44 characters.
    """
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    value = int.from_bytes(hashlib.sha256(text).digest()[:16], "big")
    return f"2.25.{value}"


@dataclass(frozen=True, slots=True)
class Ref:
    """One referenced instance, optionally restricted to frames or segments.

    ``value_type`` overrides the content item value type (``IMAGE``,
    ``WAVEFORM`` or ``COMPOSITE``) otherwise chosen from the SOP class.
    """

    study_uid: str
    series_uid: str
    sop_class_uid: str
    sop_instance_uid: str
    frames: Sequence[int] = ()
    segments: Sequence[int] = ()
    retrieve_ae: str | None = None
    retrieve_url: str | None = None
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One item of the Referenced Request Sequence (0040,A370)."""

    study_uid: str
    accession: str = ""
    placer_order: str = ""
    filler_order: str = ""
    requested_procedure_id: str = ""
    requested_procedure_description: str = ""


def value_type_for(sop_class_uid: str) -> str:
    """Return the TID 2010 value type used to reference ``sop_class_uid``."""
    if sop_class_uid.startswith(_STORAGE + "9."):
        return "WAVEFORM"
    if sop_class_uid in _COMPOSITE_EXACT:
        return "COMPOSITE"
    if sop_class_uid.startswith(_STORAGE):
        rest = sop_class_uid[len(_STORAGE) :]
        for prefix in _COMPOSITE_PREFIXES:
            if prefix.endswith("."):
                if rest.startswith(prefix):
                    return "COMPOSITE"
            elif rest == prefix or rest.startswith(prefix + "."):
                return "COMPOSITE"
        return "IMAGE"
    return "COMPOSITE"


def code(value: str, scheme: str, meaning: str) -> Dataset:
    """Return a Code Sequence item (basic coded entry)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _evidence(refs: Iterable[Ref]) -> DicomSequence:
    """Hierarchical SOP Instance Reference items, in first-seen order."""
    studies: dict[str, dict[str, list[Ref]]] = {}
    seen: set[str] = set()
    for ref in refs:
        if ref.sop_instance_uid in seen:
            continue
        seen.add(ref.sop_instance_uid)
        studies.setdefault(ref.study_uid, {}).setdefault(ref.series_uid, []).append(ref)

    study_items = []
    for study_uid, series in studies.items():
        series_items = []
        for series_uid, members in series.items():
            series_item = Dataset()
            ae = next((r.retrieve_ae for r in members if r.retrieve_ae), None)
            url = next((r.retrieve_url for r in members if r.retrieve_url), None)
            if ae:
                series_item.RetrieveAETitle = ae
            if url:
                series_item.RetrieveURL = url
            sops = []
            for ref in members:
                sop = Dataset()
                sop.ReferencedSOPClassUID = ref.sop_class_uid
                sop.ReferencedSOPInstanceUID = ref.sop_instance_uid
                sops.append(sop)
            series_item.ReferencedSOPSequence = sops
            series_item.SeriesInstanceUID = series_uid
            series_items.append(series_item)
        study_item = Dataset()
        study_item.ReferencedSeriesSequence = series_items
        study_item.StudyInstanceUID = study_uid
        study_items.append(study_item)
    return DicomSequence(study_items)


def _reference_item(ref: Ref) -> Dataset:
    value_type = ref.value_type or value_type_for(ref.sop_class_uid)
    sop = Dataset()
    sop.ReferencedSOPClassUID = ref.sop_class_uid
    sop.ReferencedSOPInstanceUID = ref.sop_instance_uid
    if ref.frames:
        if value_type == "COMPOSITE":
            raise ValueError(f"frames given for a COMPOSITE reference: {ref.sop_instance_uid}")
        sop.ReferencedFrameNumber = list(ref.frames)
    if ref.segments:
        if value_type != "IMAGE":
            raise ValueError(f"segments given for a {value_type} reference: {ref.sop_instance_uid}")
        sop.ReferencedSegmentNumber = list(ref.segments)
    item = Dataset()
    item.ReferencedSOPSequence = [sop]
    item.RelationshipType = "CONTAINS"
    item.ValueType = value_type
    return item


def _observer_items(observer_name: str) -> list[Dataset]:
    """TID 1002 Observer Context for a person observer (TID 1003 row 1)."""
    kind = Dataset()
    kind.RelationshipType = "HAS OBS CONTEXT"
    kind.ValueType = "CODE"
    kind.ConceptNameCodeSequence = [code(*_OBSERVER_TYPE)]
    kind.ConceptCodeSequence = [code(*_PERSON)]
    name = Dataset()
    name.RelationshipType = "HAS OBS CONTEXT"
    name.ValueType = "PNAME"
    name.ConceptNameCodeSequence = [code(*_PERSON_OBSERVER_NAME)]
    name.PersonName = observer_name
    return [kind, name]


def _request_item(request: Request) -> Dataset:
    item = Dataset()
    item.StudyInstanceUID = request.study_uid
    item.AccessionNumber = request.accession
    item.ReferencedStudySequence = []
    item.RequestedProcedureDescription = request.requested_procedure_description
    item.RequestedProcedureCodeSequence = []
    item.RequestedProcedureID = request.requested_procedure_id
    item.PlacerOrderNumberImagingServiceRequest = request.placer_order
    item.FillerOrderNumberImagingServiceRequest = request.filler_order
    return item


def make_kos(
    refs: Sequence[Ref],
    *,
    title: tuple[str, str, str] = TITLES["of_interest"],
    description: str | None = None,
    patient_id: str = "KOS-PAT-1",
    patient_name: str = "Selection^Key^Object",
    issuer_of_patient_id: str | None = None,
    patient_birth_date: str = "",
    patient_sex: str = "",
    kos_study_uid: str | None = None,
    study_date: str = "",
    study_time: str = "",
    study_id: str = "",
    referring_physician_name: str = "",
    accession: str | None = None,
    uid: str = "2.25.1",
    series_uid: str = "2.25.2",
    series_number: int = 1,
    series_description: str | None = None,
    instance_number: int = 1,
    content_date: str = "20240102",
    content_time: str = "101500",
    tz_offset: str | None = None,
    requests: Sequence[Request] = (),
    observer_name: str | None = None,
    manufacturer: str = "dicomsel kosgen",
    character_set: str = "ISO_IR 100",
) -> Dataset:
    """Build a Key Object Selection Document referencing ``refs``.

    The result has file meta information (Explicit VR Little Endian) and is
    ready for :func:`save`.  ``kos_study_uid`` defaults to the study of the
    first reference.
    """
    if not refs:
        raise ValueError("a KOS needs at least one reference")

    ds = Dataset()
    # SOP Common
    ds.SpecificCharacterSet = character_set
    ds.SOPClassUID = KOS_SOP_CLASS_UID
    ds.SOPInstanceUID = uid
    if tz_offset is not None:
        ds.TimezoneOffsetFromUTC = tz_offset

    # Patient
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    if issuer_of_patient_id is not None:
        ds.IssuerOfPatientID = issuer_of_patient_id
    ds.PatientBirthDate = patient_birth_date
    ds.PatientSex = patient_sex

    # General Study
    ds.StudyInstanceUID = kos_study_uid or refs[0].study_uid
    ds.StudyDate = study_date
    ds.StudyTime = study_time
    ds.ReferringPhysicianName = referring_physician_name
    ds.StudyID = study_id
    ds.AccessionNumber = accession or ""

    # Key Object Document Series
    ds.Modality = "KO"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    if series_description is not None:
        ds.SeriesDescription = series_description
    ds.ReferencedPerformedProcedureStepSequence = []

    # General Equipment
    ds.Manufacturer = manufacturer

    # Key Object Document
    ds.InstanceNumber = instance_number
    ds.ContentDate = content_date
    ds.ContentTime = content_time
    if requests:
        ds.ReferencedRequestSequence = [_request_item(r) for r in requests]
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(refs)

    # SR Document Content (root CONTAINER of TID 2010)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [code(*title)]
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = [template]

    content: list[Dataset] = []
    if observer_name is not None:
        content.extend(_observer_items(observer_name))
    if description is not None:
        text = Dataset()
        text.RelationshipType = "CONTAINS"
        text.ValueType = "TEXT"
        text.ConceptNameCodeSequence = [code(*_KEY_OBJECT_DESCRIPTION)]
        text.TextValue = description
        content.append(text)
    content.extend(_reference_item(ref) for ref in refs)
    ds.ContentSequence = content

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = KOS_SOP_CLASS_UID
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def save(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (preamble, DICM, file meta)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
