"""Where the reverse path finds what an ImagingSelection does not say.

A KOS needs patient and study attributes (Patient's Name, ID, Birth Date,
Sex; Study Date, Time, ID, Accession Number, Referring Physician's Name) and
the SOP class, study and series of every instance it references. They come
from a :class:`Context`:

- DICOM files and folders (``--context``), read header only with
  :func:`dicomsel.dicom.load`: each file gives its own instance (class, study,
  series), its patient and its study;
- Patient resources of the FHIR input (name, identifier, birth date, gender);
- a PACS (QIDO-RS or C-FIND, :func:`dicomsel.io.store.context_answers`): the
  same lookups, one answer per instance (:meth:`Context.add_pacs_answers`).

Nothing here invents a value: what no source gives stays unknown, and the
writer decides whether that is an error (Type 1, identity) or an empty Type 2
attribute.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from pydicom.dataset import Dataset

from dicomsel.errors import DicomselError, InvalidInputError, NotDicomError
from dicomsel.fhir.patient import find_patient
from dicomsel.io.files import walk
from dicomsel.model import Reference
from dicomsel.uid import is_valid_uid

__all__ = [
    "Context",
    "InstanceData",
    "PatientData",
    "StudyData",
]


@dataclass(frozen=True, slots=True)
class PatientData:
    """Patient module attributes as DICOM text, and where they came from.

    ``issuer`` is Issuer of Patient ID (an OID, a URI or a local name).
    Empty strings are Type 2 attributes the source left empty.
    """

    patient_id: str
    source: str
    name: str = ""
    birth_date: str = ""
    sex: str = ""
    issuer: str = ""


@dataclass(frozen=True, slots=True)
class StudyData:
    """General Study module attributes of one study as DICOM text, and their source.

    ``accession_issuer`` is (Local Namespace Entity ID, Universal Entity ID,
    Universal Entity ID Type) of Issuer of Accession Number Sequence, when given.
    """

    study_instance_uid: str
    source: str
    study_date: str = ""
    study_time: str = ""
    study_id: str = ""
    accession_number: str = ""
    accession_issuer: tuple[str, str, str] | None = None
    referring_physician_name: str = ""
    study_description: str = ""


@dataclass(frozen=True, slots=True)
class InstanceData:
    """What one context file (or PACS answer) says of its instance."""

    sop_instance_uid: str
    sop_class_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    source: str
    patient_id: str | None
    instance_number: int | None = None

    @property
    def order(self) -> tuple[str, bool, int, str]:
        """Where it comes in its study: by series, Instance Number (none last), then UID."""
        n = self.instance_number
        return (self.series_instance_uid or "", n is None, n or 0, self.sop_instance_uid)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    return str(value).strip()


def _number(ds: Dataset) -> int | None:
    try:
        return int(_text(ds, "InstanceNumber"))
    except ValueError:
        return None


def _uid(ds: Dataset, keyword: str) -> str | None:
    value = _text(ds, keyword)
    return value if is_valid_uid(value) else None


@dataclass(slots=True)
class Context:
    """Patient, study and instance data for the reverse path, by UID and by Patient ID.

    Build it with :meth:`from_paths` (DICOM files and folders), then
    :meth:`add_pacs_answers` (what a PACS answered) and
    :meth:`add_patient_resources` (the FHIR input's Patients); what an earlier
    source gave is kept, its empty attributes filled from later ones. ``notes`` lists
    what was skipped while reading.
    """

    instances: dict[str, InstanceData] = field(default_factory=dict)
    studies: dict[str, StudyData] = field(default_factory=dict)
    #: study UID -> Patient IDs context files of that study name (normally one)
    study_patients: dict[str, list[str]] = field(default_factory=dict)
    #: (study UID, series UID) -> instance UIDs of that series, in the order read
    series: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: Patient ID -> patient data (the first file's, empty attributes filled from later files)
    patients: dict[str, PatientData] = field(default_factory=dict)
    #: Patient resources of the FHIR input, by resource id
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]]) -> Context:
        """Read DICOM files, and folders recursively (sorted), header only.

        Files in folders that are not DICOM or cannot be read are skipped
        with a note; a file named explicitly must be readable DICOM.

        Raises
        ------
        dicomsel.errors.InvalidInputError
            When a named file is not DICOM or cannot be read, or a path does not exist.
        """
        ctx = cls()
        for path, named in walk(paths):
            if named is None:
                if os.path.isdir(path):  # a folder without files: nothing to read
                    continue
                raise InvalidInputError("no such context file or folder", path=path)
            ctx.add_file(path, named=named)
        return ctx

    def add_file(self, path: str | os.PathLike[str], *, named: bool = True) -> None:
        """Add one DICOM file (header only)."""
        from dicomsel.dicom import load

        p = os.fspath(path)
        try:
            ds, _notes = load(p)
        except DicomselError as e:
            if named:
                raise InvalidInputError(
                    f"context file cannot be used: {e.reason}", path=p, attribute=e.attribute
                ) from e
            what = "not DICOM" if isinstance(e, NotDicomError) else e.reason
            self.notes.append(f"context: {p} skipped ({what})")
            return
        self.add_dataset(ds, p)

    def add_pacs_answers(self, answers: Iterable[Dataset], peer: str) -> None:
        """Add what a PACS answered: one dataset per instance, with its study's attributes.

        Parameters
        ----------
        answers : iterable of pydicom.dataset.Dataset
            As :func:`dicomsel.io.store.context_answers` gives them (C-FIND
            identifiers, or QIDO-RS DICOM JSON read as datasets).
        peer : str
            The PACS, named as where the values came from.
        """
        for ds in answers:
            self.add_dataset(ds, peer, origin="PACS")

    def add_dataset(self, ds: Dataset, source: str, *, origin: str = "context file") -> None:
        """Add what a DICOM dataset says of its instance, patient and study.

        Parameters
        ----------
        ds : pydicom.dataset.Dataset
        source : str
            Where it came from (a file, a PACS).
        origin : str
            What ``source`` is, in messages (``context file``, ``PACS``).
        """
        sop = _uid(ds, "SOPInstanceUID")
        study = _uid(ds, "StudyInstanceUID")
        series = _uid(ds, "SeriesInstanceUID")
        patient = None
        pid = _text(ds, "PatientID")
        if pid:
            patient = PatientData(
                patient_id=pid,
                source=f"{origin} {source}",
                name=_text(ds, "PatientName"),
                birth_date=_text(ds, "PatientBirthDate"),
                sex=_text(ds, "PatientSex"),
                issuer=_text(ds, "IssuerOfPatientID"),
            )
            self.patients[pid] = _fill(self.patients.get(pid), patient)
        if sop is not None and sop not in self.instances:
            self.instances[sop] = InstanceData(
                sop_instance_uid=sop,
                sop_class_uid=_uid(ds, "SOPClassUID"),
                study_instance_uid=study,
                series_instance_uid=series,
                source=source,
                patient_id=pid or None,
                instance_number=_number(ds),
            )
            if study and series:
                self.series.setdefault((study, series), []).append(sop)
        if study is None:
            return
        issuer = None
        seq = ds.get("IssuerOfAccessionNumberSequence")
        if seq:
            q = seq[0]
            issuer = (
                _text(q, "LocalNamespaceEntityID"),
                _text(q, "UniversalEntityID"),
                _text(q, "UniversalEntityIDType"),
            )
        data = StudyData(
            study_instance_uid=study,
            source=f"{origin} {source}",
            study_date=_text(ds, "StudyDate"),
            study_time=_text(ds, "StudyTime"),
            study_id=_text(ds, "StudyID"),
            accession_number=_text(ds, "AccessionNumber"),
            accession_issuer=issuer,
            referring_physician_name=_text(ds, "ReferringPhysicianName"),
            study_description=_text(ds, "StudyDescription"),
        )
        self.studies[study] = _fill(self.studies.get(study), data)
        if pid:
            known = self.study_patients.setdefault(study, [])
            if pid not in known:
                known.append(pid)

    def add_patient_resources(self, patients: dict[str, dict[str, Any]]) -> None:
        """Add the Patient resources of the FHIR input, by resource id."""
        self.resources.update(patients)

    # --- lookups -------------------------------------------------------------------

    def instance(self, uid: str) -> InstanceData | None:
        """The context file of SOP Instance UID ``uid``, if any."""
        return self.instances.get(uid)

    def study(self, uid: str) -> StudyData | None:
        """The study attributes of Study Instance UID ``uid``, if a context file is of it."""
        return self.studies.get(uid)

    def series_instances(self, study_uid: str, series_uid: str) -> list[InstanceData]:
        """The instances of one series, by Instance Number (none last), then UID.

        The order the forward path lists a series' instances in, whatever order
        the files were read or the PACS answered in.
        """
        found = [self.instances[u] for u in self.series.get((study_uid, series_uid), ())]
        return sorted(found, key=lambda i: i.order)

    def study_instances(self, study_uid: str) -> list[InstanceData]:
        """The instances of one study, by series UID, Instance Number (none last), then UID."""
        found = [i for i in self.instances.values() if i.study_instance_uid == study_uid]
        return sorted(found, key=lambda i: i.order)

    def patients_of_study(self, uid: str) -> list[PatientData]:
        """The patients context files of study ``uid`` name (more than one is a conflict)."""
        return [self.patients[pid] for pid in self.study_patients.get(uid, ())]

    def patient_of_instance(self, uid: str) -> PatientData | None:
        """The patient the context file of instance ``uid`` names."""
        data = self.instances.get(uid)
        if data is None or data.patient_id is None:
            return None
        return self.patients.get(data.patient_id)

    def patient_by_id(self, patient_id: str) -> PatientData | None:
        """A context file's patient with Patient ID ``patient_id``."""
        return self.patients.get(patient_id)

    def patient_resource(self, subject: Reference | None) -> PatientData | None:
        """The input's Patient resource that ``subject`` names, as patient data.

        Matched as :func:`dicomsel.fhir.patient.find_patient` says: by
        literal reference, else by identifier; with no subject, the input's
        only Patient resource, if it has exactly one.

        Raises
        ------
        dicomsel.errors.InvalidInputError
            When the Patient resource cannot give a Patient ID.
        """
        found = find_patient(self.resources, subject)
        if found is None:
            return None
        return PatientData(
            patient_id=found.patient_id,
            source=f"{found.resource} in the input",
            name=found.name,
            birth_date=found.birth_date,
            sex=found.sex,
            issuer=found.issuer,
        )


_T = TypeVar("_T", PatientData, StudyData)


def _fill(known: _T | None, new: _T) -> _T:
    """``known`` with its empty attributes taken from ``new`` (another file of the same one)."""
    if known is None:
        return new
    changes = {
        f.name: getattr(new, f.name)
        for f in fields(known)
        if not getattr(known, f.name) and getattr(new, f.name)
    }
    return replace(known, **changes) if changes else known
