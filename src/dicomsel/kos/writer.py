"""Selections -> DICOM Key Object Selection Documents (PS3.3 A.35.4, TID 2010), with pydicom.

One KOS per patient and document title. Each lists every instance its
selections name: one IMAGE, COMPOSITE or WAVEFORM content item per instance
(with Referenced Frame / Segment Number when only part of it is selected) and
the Current Requested Procedure Evidence Sequence grouping them by study and
series, with the retrieve locations of the selections' endpoints.

highdicom's KOS class cannot carry frame or segment numbers nor several
studies, so the document is built here with pydicom; highdicom's IOD tables
tell image classes from the others.

Writing is strict: every value is checked against its VR before it is set,
the output is clean under dciodvfy and readable by dsrdump, and reads back
(:func:`dicomsel.dicom.read_dataset`) to the same references and title.
What a KOS cannot carry is reported in :attr:`KosResult.warnings` (an error
with ``strict``); what is missing where DICOM needs a real value is an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian
from pydicom.valuerep import validate_value

from dicomsel import terminology
from dicomsel.errors import InvalidInputError, MappingError
from dicomsel.kos.context import Context, PatientData, StudyData
from dicomsel.model import (
    Code,
    Endpoint,
    Identifier,
    Instance,
    Performer,
    Reference,
    Selection,
    check_uid,
    is_valid_uid,
)

__all__ = [
    "KOS_SOP_CLASS_UID",
    "KosOptions",
    "KosResult",
    "check_uid_root",
    "kos_uid",
    "parse_content_datetime",
    "value_type",
    "write_kos",
]

#: Key Object Selection Document Storage
KOS_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.59"

#: Namespace of the UUIDv5-derived UIDs of the documents written here.
UID_NAMESPACE = uuid.UUID("6f1c7d1e-2a9b-5c55-8a0e-6b6f73646963")

_WAVEFORM_PREFIX = "1.2.840.10008.5.1.4.1.1.9."
_KEY_OBJECT_DESCRIPTION = ("113012", "DCM", "Key Object Description")
_OBSERVER_TYPE = ("121005", "DCM", "Observer Type")
_PERSON = ("121006", "DCM", "Person")
_DEVICE = ("121007", "DCM", "Device")
_PERSON_NAME = ("121008", "DCM", "Person Observer Name")
_DEVICE_UID = ("121012", "DCM", "Device Observer UID")
_DEVICE_NAME = ("121013", "DCM", "Device Observer Name")
_TEXT_VRS = frozenset({"ST", "LT", "UT"})


@dataclass(frozen=True, slots=True)
class KosOptions:
    """How KOS documents are written.

    Parameters
    ----------
    title : Code or None
        The document title for selections whose code is not a CID 7010 title
        (it must be one itself); None: such a selection is an error.
    uid_root : str or None
        Root of the new Series and SOP Instance UIDs; None: ``2.25.`` and a
        UUIDv5 integer (PS3.5 B.2).
    content_datetime : str or None
        A FHIR instant (``2024-01-02T10:15:00+01:00``) for Content Date/Time
        when no selection has ``issued``, or ``now`` for the clock; None:
        such input is an error.
    strict : bool
        Raise :class:`~dicomsel.errors.MappingError` instead of reporting what
        a KOS cannot carry.
    series_number, instance_number : int
        Series Number and Instance Number of the new documents.
    """

    title: Code | None = None
    uid_root: str | None = None
    content_datetime: str | None = None
    strict: bool = False
    series_number: int = 1
    instance_number: int = 1


@dataclass(slots=True)
class KosResult:
    """The documents written and what was reported on the way.

    ``warnings`` are what a KOS cannot carry (left out or changed; errors
    under ``strict``); ``notes`` are informational (where values came from,
    Type 2 attributes left empty).
    """

    datasets: list[Dataset] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- SOP classes ---------------------------------------------------------------------


@cache
def _has_pixel_data(sop_class_uid: str) -> bool | None:
    """Whether highdicom's IOD tables give the class pixel data; None when it does not know."""
    try:
        from highdicom._standard_utils import does_iod_have_pixel_data
    except ImportError:  # pragma: no cover - a highdicom without the helper
        return None
    try:
        return bool(does_iod_have_pixel_data(sop_class_uid))
    except (KeyError, ValueError, AttributeError):
        return None


def value_type(sop_class_uid: str) -> str:
    """The TID 2010 value type that references an instance of ``sop_class_uid``.

    ``WAVEFORM`` for waveform storage classes, ``IMAGE`` for classes whose IOD
    has pixel data (highdicom's IOD tables; else a PS3.6 name saying "Image
    Storage"), ``COMPOSITE`` for all others, unknown and private ones included.
    """
    if sop_class_uid.startswith(_WAVEFORM_PREFIX):
        return "WAVEFORM"
    pixels = _has_pixel_data(sop_class_uid)
    if pixels is None:
        name = terminology.sop_class_name(sop_class_uid) or ""
        pixels = "Image Storage" in name
    return "IMAGE" if pixels else "COMPOSITE"


# --- UIDs, dates -----------------------------------------------------------------------


def kos_uid(key: str, what: str, root: str | None = None) -> str:
    """A new UID derived from ``key``: the same key always gives the same UID.

    Without ``root``: ``2.25.`` and the integer of the UUIDv5 of ``what|key``
    (PS3.5 B.2). With ``root``: ``root.`` and as many decimal digits of that
    integer as fit in 64 characters.
    """
    value = uuid.uuid5(UID_NAMESPACE, f"{what}|{key}").int
    if root is None:
        return f"2.25.{value}"
    digits = min(39, 64 - len(root) - 1)
    return check_uid(f"{root}.{value % 10**digits}", "--uid-root")


def check_uid_root(root: str) -> str:
    """Check a ``--uid-root``: a valid UID leaving room for at least 16 digits."""
    check_uid(root, "--uid-root")
    if len(root) > 64 - 17:
        raise InvalidInputError(
            f"{len(root)} characters leave fewer than 16 digits for the new UIDs "
            "(64 at most in all)",
            attribute="--uid-root",
        )
    return root


_INSTANT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def _parse_instant(text: str, where: str) -> tuple[dt.datetime, str, str, str]:
    """A FHIR instant -> (aware datetime, DICOM DA, DICOM TM, Timezone Offset From UTC)."""
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


def parse_content_datetime(text: str) -> str:
    """Check a ``--content-datetime`` value: a FHIR instant, or ``now`` (the clock, local zone).

    Returns the instant to use (``now`` resolved).
    """
    if text == "now":
        now = dt.datetime.now().astimezone()
        return now.isoformat(timespec="seconds")
    _parse_instant(text, "--content-datetime")
    return text


# --- values -------------------------------------------------------------------------------


def _valid(vr: str, value: str) -> bool:
    """Whether ``value`` is a valid single DICOM value of ``vr``."""
    if vr not in _TEXT_VRS and "\\" in value:
        return False
    if vr not in _TEXT_VRS and re.search(r"[\x00-\x1f\x7f]", value.replace("\x1b", "")):
        return False
    try:
        validate_value(vr, value, config.RAISE)
    except (ValueError, TypeError):
        return False
    return True


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


# --- the references of one document ----------------------------------------------------


@dataclass(slots=True)
class _Ref:
    """One referenced instance, merged over the selections that name it."""

    uid: str
    sop_class_uid: str
    study: str
    series: str
    whole: bool
    frames: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Doc:
    """The selections that become one document."""

    patient: PatientData
    title: Code
    selections: list[Selection] = field(default_factory=list)
    refs: dict[str, _Ref] = field(default_factory=dict)


class _Writer:
    def __init__(self, context: Context, options: KosOptions) -> None:
        self.context = context
        self.options = options
        self.result = KosResult()
        self._reported: set[str] = set()

    # reporting: each message once
    def lossy(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            self.result.warnings.append(message)

    def note(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            self.result.notes.append(message)

    # --- per selection ------------------------------------------------------------------

    def title(self, sel: Selection, where: str) -> Code:
        title = terminology.key_object_title(sel.code)
        if title is not None:
            return title
        shown = sel.code.value or sel.code.text
        if sel.code.value and sel.code.scheme:
            shown = f"({sel.code.value}, {sel.code.scheme}, {sel.code.meaning or ''})"
        if self.options.title is None:
            raise MappingError(
                f"code {shown} is not a Key Object Selection Document Title (CID 7010): "
                "give one with --title (e.g. --title 113000 for 'Of Interest')",
                attribute=f"{where}.code",
            )
        self.note(
            f"{where}: code {shown} is not a CID 7010 title; --title "
            f"({self.options.title.value}, DCM, {self.options.title.meaning}) used instead"
        )
        return self.options.title

    def patient(self, sel: Selection, where: str) -> PatientData:
        """The patient of a selection: context files first, then the input's Patient resources."""
        ctx = self.context
        subject_id = (
            sel.subject.identifier.value
            if sel.subject is not None and sel.subject.identifier is not None
            else None
        )
        found: PatientData | None = None
        # the instances' own files, then files of the study
        for inst in sel.instances:
            mine = ctx.patient_of_instance(inst.uid)
            if mine is not None:
                self._same_patient(found, mine, where)
                found = found or mine
        if sel.study_instance_uid:
            for p in ctx.patients_of_study(sel.study_instance_uid):
                self._same_patient(found, p, where)
                found = found or p
        if found is not None and subject_id is not None and found.patient_id != subject_id:
            raise InvalidInputError(
                f"subject {subject_id!r} differs from Patient ID {found.patient_id!r} "
                f"in {found.source}: the selections name different patients",
                attribute=f"{where}.subject",
            )
        if found is None and subject_id is not None:
            found = ctx.patient_by_id(subject_id)
        if found is None:
            found = ctx.patient_resource(sel.subject)
            if found is not None and subject_id is not None and found.patient_id != subject_id:
                raise InvalidInputError(
                    f"subject {subject_id!r} differs from Patient ID {found.patient_id!r} "
                    f"of {found.source}",
                    attribute=f"{where}.subject",
                )
        if found is None:
            who = f"patient {subject_id!r}" if subject_id else "a selection without subject"
            study = sel.study_instance_uid or "?"
            raise InvalidInputError(
                f"no patient data for {who} (study {study}): a KOS needs Patient's Name, ID, "
                f"Birth Date and Sex; give --context with a DICOM file of study {study} "
                "or of that patient, or put the Patient resource in the input Bundle",
                attribute=f"{where}.subject",
            )
        return found

    @staticmethod
    def _same_patient(known: PatientData | None, other: PatientData, where: str) -> None:
        if known is not None and known.patient_id != other.patient_id:
            raise InvalidInputError(
                f"the context names two patients for one selection: {known.patient_id!r} "
                f"({known.source}) and {other.patient_id!r} ({other.source})",
                attribute=where,
            )

    def references(self, sel: Selection, where: str, doc: _Doc) -> None:
        """Add the instances of ``sel`` to ``doc``, completing class, study and series."""
        ctx = self.context
        instances = list(sel.instances)
        if not instances:
            instances = self._expand(sel, where)
        for i, inst in enumerate(instances):
            w = f"{where}.instance[{i}] {inst.uid}"
            data = ctx.instance(inst.uid)
            cls = inst.sop_class_uid
            study = sel.study_instance_uid
            series = sel.series_instance_uid
            if data is not None:
                for what, mine, theirs in (
                    ("SOP class", cls, data.sop_class_uid),
                    ("study", study, data.study_instance_uid),
                    ("series", series, data.series_instance_uid),
                ):
                    if mine and theirs and mine != theirs:
                        raise InvalidInputError(
                            f"{what} {mine} differs from {theirs} in context file {data.source}",
                            attribute=w,
                        )
                cls = cls or data.sop_class_uid
                study = study or data.study_instance_uid
                series = series or data.series_instance_uid
            if cls is None:
                raise InvalidInputError(
                    "no SOP class: a KOS must name it; give instance.sopClass, or --context "
                    f"with the DICOM file of instance {inst.uid}",
                    attribute=w,
                )
            if study is None or series is None:
                raise InvalidInputError(
                    "study or series unknown (no studyUid / seriesUid): the KOS evidence "
                    f"lists instances by study and series; give --context with the DICOM file "
                    f"of instance {inst.uid}",
                    attribute=w,
                )
            vt = value_type(cls)
            frames = set(inst.frames)
            segments = set(inst.segments)
            if segments and cls not in terminology.SEG_SOP_CLASSES:
                self.lossy(
                    f"{w}: segment numbers {sorted(segments)} of a {vt} reference to a "
                    f"non-segmentation ({cls}) have no place in a KOS: left out"
                )
                segments = set()
            if frames and vt != "IMAGE":
                self.lossy(
                    f"{w}: frame numbers {sorted(frames)} of a {vt} reference have no place "
                    "in a KOS: the whole instance is selected"
                )
                frames = set()
            if frames and segments:
                self.lossy(
                    f"{w}: a KOS reference holds frame or segment numbers, not both: "
                    f"frames {sorted(frames)} left out, segments kept"
                )
                frames = set()
            for what, vals in (
                ("ROI numbers", inst.rois),
                ("observation UIDs", inst.observation_uids),
            ):
                if vals:
                    self.lossy(
                        f"{w}: {what} {list(vals)} have no place in a KOS: the whole "
                        "instance is selected"
                    )
            if inst.regions_2d or inst.regions_3d:
                self.lossy(
                    f"{w}: {len(inst.regions_2d) + len(inst.regions_3d)} image region(s) "
                    "have no place in a KOS: left out"
                )
            whole = not (frames or segments)
            ref = doc.refs.get(inst.uid)
            if ref is None:
                doc.refs[inst.uid] = _Ref(
                    inst.uid, cls, study, series, whole, set(frames), set(segments)
                )
                continue
            if (ref.sop_class_uid, ref.study, ref.series) != (cls, study, series):
                raise InvalidInputError(
                    f"instance {inst.uid} is selected twice with different SOP class, study "
                    f"or series ({ref.sop_class_uid} {ref.study} {ref.series} and "
                    f"{cls} {study} {series})",
                    attribute=w,
                )
            ref.whole = ref.whole or whole
            ref.frames |= frames
            ref.segments |= segments

    def _expand(self, sel: Selection, where: str) -> list[Instance]:
        """A selection of a whole series (or study): its instances from the context."""
        study, series = sel.study_instance_uid, sel.series_instance_uid
        found = []
        if study and series:
            found = self.context.series_instances(study, series)
        elif study:
            found = self.context.study_instances(study)
        if not found:
            what = f"series {series}" if series else f"study {study}"
            raise InvalidInputError(
                f"selects {what} without listing its instances, and no context file is of it: "
                "a KOS lists instances; give --context with the DICOM files",
                attribute=f"{where}.instance",
            )
        self.note(
            f"{where}: {len(found)} instance(s) of {sel.series_instance_uid or study} "
            "taken from the context"
        )
        return [Instance(i.sop_instance_uid, i.sop_class_uid) for i in found]

    def lossy_selection(self, sel: Selection, where: str) -> None:
        """Report the selection-level elements a KOS has no place for."""
        lost = []
        if sel.regions_3d:
            lost.append(f"{len(sel.regions_3d)} 3D region(s)")
        if sel.body_site is not None:
            lost.append("body site")
        if sel.categories:
            lost.append("category")
        if sel.focus:
            lost.append("focus")
        if sel.status != "available":
            lost.append(f"status {sel.status!r}")
        if lost:
            self.lossy(f"{where}: no place in a KOS for {', '.join(lost)}: left out")
        # facts of the referenced objects, which the KOS references by UID: nothing of the
        # selection is lost, so these are notes, not warnings
        facts = []
        if sel.frame_of_reference_uid:
            facts.append("frame of reference UID")
        if sel.series_number is not None:
            facts.append("series number")
        if any(i.number is not None for i in sel.instances):
            facts.append("instance numbers")
        if facts:
            self.note(
                f"{where}: {', '.join(facts)} of the referenced objects not repeated in the KOS"
            )

    # --- documents ----------------------------------------------------------------------

    def build(self, doc: _Doc) -> Dataset:
        sels = doc.selections
        where = f"KOS of patient {doc.patient.patient_id!r}"
        first_study = next(iter(doc.refs.values())).study
        ds = Dataset()
        ds.SOPClassUID = KOS_SOP_CLASS_UID
        when = self.content_datetime(sels, where)
        self.patient_module(ds, doc.patient)
        study = self.context.study(first_study)
        accession = self.study_module(ds, first_study, study, sels)
        ds.Modality = "KO"
        ds.SeriesNumber = self.options.series_number
        ds.ReferencedPerformedProcedureStepSequence = DicomSequence()
        ds.InstanceNumber = self.options.instance_number
        _, ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC = when
        requests = self.requests(doc, first_study, accession)
        if requests:
            ds.ReferencedRequestSequence = DicomSequence(requests)
        ds.CurrentRequestedProcedureEvidenceSequence = self.evidence(doc)
        ds.ValueType = "CONTAINER"
        ds.ConceptNameCodeSequence = DicomSequence(
            [_code_item(str(doc.title.value), "DCM", str(doc.title.meaning))]
        )
        ds.ContinuityOfContent = "SEPARATE"
        template = Dataset()
        template.MappingResource = "DCMR"
        template.TemplateIdentifier = "2010"
        ds.ContentTemplateSequence = DicomSequence([template])
        ds.ContentSequence = DicomSequence(self.content(doc))
        charset = _character_set(ds)
        if charset:
            ds.SpecificCharacterSet = charset

        # new UIDs from everything the document is made of: the same input, the same UIDs
        key = self.key(doc, study, when)
        root = self.options.uid_root
        ds.SeriesInstanceUID = kos_uid(key, "series", root)
        sop_instance_uid = kos_uid(key, "instance", root)
        ds.SOPInstanceUID = sop_instance_uid

        from dicomsel import __version__

        ds.Manufacturer = "dicomsel"
        ds.ManufacturerModelName = "dicomsel"
        ds.SoftwareVersions = __version__

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(KOS_SOP_CLASS_UID)
        meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        return ds

    def key(self, doc: _Doc, study: StudyData | None, when: tuple[object, ...]) -> str:
        """A digest of what a document is made of: its selections, references and context.

        ``repr`` of frozen dataclasses, tuples, strings and numbers is stable
        across runs; the subsets are sorted first.
        """
        refs = [
            (
                r.uid,
                r.sop_class_uid,
                r.study,
                r.series,
                r.whole,
                sorted(r.frames),
                sorted(r.segments),
            )
            for r in doc.refs.values()
        ]
        opts = self.options
        parts = (
            doc.title,
            replace(doc.patient, source=""),  # where a value came from is not content
            replace(study, source="") if study is not None else None,
            when[1:],
            refs,
            doc.selections,
            (opts.series_number, opts.instance_number),
        )
        return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()

    def content_datetime(
        self, sels: Sequence[Selection], where: str
    ) -> tuple[dt.datetime, str, str, str]:
        """Content Date/Time and zone: the latest ``issued``, else the option, else an error."""
        parsed = []
        for sel in sels:
            if sel.issued:
                parsed.append(_parse_instant(sel.issued, f"{_where(sel)}.issued"))
        if parsed:
            latest = max(parsed, key=lambda p: p[0])
            if len({p[0] for p in parsed}) > 1:
                self.note(
                    f"{where}: the selections were issued at different times; "
                    "Content Date/Time is the latest"
                )
            return latest
        if self.options.content_datetime is None:
            raise InvalidInputError(
                "no selection has issued, and Content Date/Time (Type 1) needs a real value: "
                "give --content-datetime 2024-01-02T10:15:00+01:00 (or now, for the clock)",
                attribute=f"{where}: ContentDate (0008,0023)",
            )
        self.note(f"{where}: Content Date/Time from --content-datetime")
        return _parse_instant(self.options.content_datetime, "--content-datetime")

    def _set(self, ds: Dataset, keyword: str, vr: str, value: str, source: str) -> str:
        """Set a Type 2 attribute from a context value, left empty (reported) when invalid."""
        if value and not _valid(vr, value):
            self.lossy(f"{keyword} {value!r} from {source} is not a valid {vr} value: left empty")
            value = ""
        setattr(ds, keyword, value)
        return value

    def patient_module(self, ds: Dataset, p: PatientData) -> None:
        if not _valid("LO", p.patient_id):
            raise InvalidInputError(
                f"Patient ID {p.patient_id!r} from {p.source} is not a valid LO value",
                attribute="PatientID (0010,0020)",
            )
        self._set(ds, "PatientName", "PN", p.name, p.source)
        ds.PatientID = p.patient_id
        if p.issuer:
            if _valid("LO", p.issuer):
                ds.IssuerOfPatientID = p.issuer
            else:
                self.lossy(
                    f"Issuer of Patient ID {p.issuer!r} from {p.source} is not a valid LO "
                    "value: left out"
                )
        self._set(ds, "PatientBirthDate", "DA", p.birth_date, p.source)
        sex = p.sex if p.sex in ("M", "F", "O") else ""
        if p.sex and not sex:
            self.lossy(f"Patient's Sex {p.sex!r} from {p.source} is not M, F or O: left empty")
        ds.PatientSex = sex
        empty = [
            n
            for n, v in (("Patient's Name", ds.PatientName), ("Birth Date", ds.PatientBirthDate))
            if not str(v)
        ]
        if empty:
            self.note(f"patient {p.patient_id!r}: {', '.join(empty)} empty in {p.source}")

    def study_module(
        self, ds: Dataset, study_uid: str, study: StudyData | None, sels: Sequence[Selection]
    ) -> str:
        """General Study of the KOS (the first referenced study); returns its Accession Number."""
        ds.StudyInstanceUID = study_uid
        if study is None:
            self.note(
                f"study {study_uid}: no context file of this study: Study Date, Time, ID and "
                "Referring Physician's Name left empty (Type 2); give --context with one of "
                "its files to fill them"
            )
            for kw in ("StudyDate", "StudyTime", "StudyID", "ReferringPhysicianName"):
                setattr(ds, kw, "")
            accession = ""
            # the accession number of the study's own selections, when they name exactly one
            acsn = {
                r.identifier.value: r.identifier
                for s in sels
                if s.study_instance_uid == study_uid
                for r in s.based_on
                if r.identifier is not None and r.identifier.type_code == "ACSN"
            }
            if len(acsn) == 1:
                ident = next(iter(acsn.values()))
                accession = self._set(ds, "AccessionNumber", "SH", ident.value, "basedOn")
                if accession:
                    issuer = _accession_issuer(ident)
                    if issuer is not None:
                        ds.IssuerOfAccessionNumberSequence = DicomSequence([issuer])
            else:
                ds.AccessionNumber = ""
            return accession
        src = study.source
        self._set(ds, "StudyDate", "DA", study.study_date, src)
        self._set(ds, "StudyTime", "TM", study.study_time, src)
        self._set(ds, "StudyID", "SH", study.study_id, src)
        self._set(ds, "ReferringPhysicianName", "PN", study.referring_physician_name, src)
        accession = self._set(ds, "AccessionNumber", "SH", study.accession_number, src)
        if accession and study.accession_issuer is not None:
            local, universal, kind = study.accession_issuer
            item = Dataset()
            if local and _valid("UT", local):
                item.LocalNamespaceEntityID = local
            if universal and kind and _valid("UT", universal) and _valid("CS", kind):
                item.UniversalEntityID = universal
                item.UniversalEntityIDType = kind
            if len(item):
                ds.IssuerOfAccessionNumberSequence = DicomSequence([item])
        if study.study_description and _valid("LO", study.study_description):
            ds.StudyDescription = study.study_description
        return accession

    def requests(self, doc: _Doc, first_study: str, accession: str) -> list[Dataset]:
        """Referenced Request Sequence: one item per (study, request) the selections are based on.

        A request goes with the study of each selection based on it; the KOS's
        own accession number in its own study is not repeated.
        """
        items: list[Dataset] = []
        seen: set[tuple[str, str, str]] = set()
        for sel in doc.selections:
            if not sel.based_on:
                continue
            if sel.study_instance_uid:
                studies = [sel.study_instance_uid]
            else:
                uids = _uids(sel)
                studies = sorted({r.study for r in doc.refs.values() if r.uid in uids})
            for ref in sel.based_on:
                ident = ref.identifier
                if ident is None or ident.type_code not in ("ACSN", "PLAC", "FILL"):
                    self.lossy(
                        f"{sel.key}: basedOn {_describe(ref)} is neither an accession number "
                        "nor a placer / filler order number: left out"
                    )
                    continue
                for study in studies:
                    k = (study, ident.type_code or "", ident.value)
                    if k in seen:
                        continue
                    seen.add(k)
                    if (
                        ident.type_code == "ACSN"
                        and study == first_study
                        and ident.value == (accession)
                    ):
                        continue
                    item = self._request(study, ident, sel.key)
                    if item is not None:
                        items.append(item)
        return items

    def _request(self, study: str, ident: Identifier, where: str) -> Dataset | None:
        vr = "SH" if ident.type_code == "ACSN" else "LO"
        if not _valid(vr, ident.value):
            self.lossy(
                f"{where}: basedOn {ident.type_code} {ident.value!r} is not a valid {vr} "
                "value: left out"
            )
            return None
        item = Dataset()
        item.StudyInstanceUID = study
        item.ReferencedStudySequence = DicomSequence()
        item.AccessionNumber = ident.value if ident.type_code == "ACSN" else ""
        if ident.type_code == "ACSN":
            issuer = _accession_issuer(ident)
            if issuer is not None:
                item.IssuerOfAccessionNumberSequence = DicomSequence([issuer])
        item.PlacerOrderNumberImagingServiceRequest = (
            ident.value if ident.type_code == "PLAC" else ""
        )
        item.FillerOrderNumberImagingServiceRequest = (
            ident.value if ident.type_code == "FILL" else ""
        )
        item.RequestedProcedureID = ""
        item.RequestedProcedureDescription = ""
        item.RequestedProcedureCodeSequence = DicomSequence()
        return item

    def evidence(self, doc: _Doc) -> DicomSequence:
        """Current Requested Procedure Evidence Sequence: study > series > instances."""
        tree: dict[str, dict[str, list[_Ref]]] = {}
        for ref in doc.refs.values():
            tree.setdefault(ref.study, {}).setdefault(ref.series, []).append(ref)
        endpoints: dict[tuple[str, str], list[Endpoint]] = {}
        for sel in doc.selections:
            if not sel.endpoints:
                continue
            uids = _uids(sel)
            keys = sorted({(r.study, r.series) for r in doc.refs.values() if r.uid in uids})
            if sel.study_instance_uid and sel.series_instance_uid:
                keys = [(sel.study_instance_uid, sel.series_instance_uid)]
            for key in keys:
                known = endpoints.setdefault(key, [])
                known.extend(e for e in sel.endpoints if e not in known)
        studies = []
        for study_uid, series in tree.items():
            series_items = []
            for series_uid, refs in series.items():
                item = Dataset()
                self._retrieve(item, endpoints.get((study_uid, series_uid), []), series_uid)
                sops = []
                for ref in refs:
                    sop = Dataset()
                    sop.ReferencedSOPClassUID = ref.sop_class_uid
                    sop.ReferencedSOPInstanceUID = ref.uid
                    sops.append(sop)
                item.ReferencedSOPSequence = DicomSequence(sops)
                item.SeriesInstanceUID = series_uid
                series_items.append(item)
            study_item = Dataset()
            study_item.ReferencedSeriesSequence = DicomSequence(series_items)
            study_item.StudyInstanceUID = study_uid
            studies.append(study_item)
        return DicomSequence(studies)

    def _retrieve(self, item: Dataset, endpoints: list[Endpoint], series_uid: str) -> None:
        """Retrieve AE Title, Retrieve Location UID and Retrieve URL of one evidence series."""
        where = f"series {series_uid}"
        titles: list[str] = []
        locations: list[str] = []
        urls: list[str] = []
        for ep in endpoints:
            if ep.ae_title:
                if _valid("AE", ep.ae_title):
                    if ep.ae_title not in titles:
                        titles.append(ep.ae_title)
                else:
                    self.lossy(
                        f"{where}: endpoint AE title {ep.ae_title!r} is not a valid AE value: "
                        "left out"
                    )
            if ep.location_uid and ep.location_uid not in locations:
                locations.append(ep.location_uid)
            if ep.address and ep.kind in ("dicom-wado-rs", "dicom-wado-uri"):
                if _valid("UR", ep.address):
                    if ep.address not in urls:
                        urls.append(ep.address)
                else:
                    self.lossy(
                        f"{where}: endpoint address {ep.address!r} is not a valid UR value: "
                        "left out"
                    )
            elif ep.address:
                self.lossy(
                    f"{where}: endpoint {ep.kind} {ep.address!r} is neither a DICOMweb nor a "
                    "DIMSE location: left out"
                )
        if titles:
            item.RetrieveAETitle = titles if len(titles) > 1 else titles[0]
        if locations:
            item.RetrieveLocationUID = locations[0]
            if len(locations) > 1:
                self.lossy(
                    f"{where}: a KOS series holds one Retrieve Location UID: "
                    f"{locations[1:]} left out"
                )
        if urls:
            item.RetrieveURL = urls[0]
            if len(urls) > 1:
                self.lossy(f"{where}: a KOS series holds one Retrieve URL: {urls[1:]} left out")

    def content(self, doc: _Doc) -> list[Dataset]:
        """TID 2010 below the title: observer context, description, one item per instance."""
        items: list[Dataset] = []
        performers: list[Performer] = []
        for sel in doc.selections:
            performers.extend(p for p in sel.performers if p not in performers)
        for perf in performers:
            items.extend(self._observer(perf.actor))
        descriptions: list[str] = []
        for sel in doc.selections:
            if sel.description and sel.description not in descriptions:
                descriptions.append(sel.description)
        if descriptions:
            text = Dataset()
            text.RelationshipType = "CONTAINS"
            text.ValueType = "TEXT"
            text.ConceptNameCodeSequence = DicomSequence([_code_item(*_KEY_OBJECT_DESCRIPTION)])
            text.TextValue = "\n".join(descriptions)
            items.append(text)
        for ref in doc.refs.values():
            vt = value_type(ref.sop_class_uid)
            sop = Dataset()
            sop.ReferencedSOPClassUID = ref.sop_class_uid
            sop.ReferencedSOPInstanceUID = ref.uid
            if not ref.whole and vt == "IMAGE":
                if ref.segments:
                    sop.ReferencedSegmentNumber = sorted(ref.segments)
                elif ref.frames:
                    sop.ReferencedFrameNumber = sorted(ref.frames)
            item = Dataset()
            item.ReferencedSOPSequence = DicomSequence([sop])
            item.RelationshipType = "CONTAINS"
            item.ValueType = vt
            items.append(item)
        return items

    def _observer(self, actor: Reference) -> list[Dataset]:
        """TID 1002 observer context of a performer: a person by name, a device by UID."""
        out: list[Dataset] = []

        def obs(vt: str, concept: tuple[str, str, str]) -> Dataset:
            item = Dataset()
            item.RelationshipType = "HAS OBS CONTEXT"
            item.ValueType = vt
            item.ConceptNameCodeSequence = DicomSequence([_code_item(*concept)])
            out.append(item)
            return item

        what = _describe(actor)
        if actor.resource_type == "Device":
            uid = _dicom_uid(actor.identifier)
            if uid is None:
                self.lossy(
                    f"performer {what}: a device observer needs a Device Observer UID "
                    "(identifier urn:dicom:uid): left out"
                )
                return []
            obs("CODE", _OBSERVER_TYPE).ConceptCodeSequence = DicomSequence([_code_item(*_DEVICE)])
            obs("UIDREF", _DEVICE_UID).UID = uid
            if actor.display:
                obs("TEXT", _DEVICE_NAME).TextValue = actor.display
            return out
        if actor.resource_type not in ("Practitioner", "PractitionerRole"):
            self.lossy(
                f"performer {what}: a KOS observer is a person or a device, not a "
                f"{actor.resource_type}: left out"
            )
            return []
        name = actor.display or ""
        if not name or not _valid("PN", name):
            self.lossy(
                f"performer {what}: no name that is a valid DICOM PN value for Person "
                "Observer's Name: left out"
            )
            return []
        obs("CODE", _OBSERVER_TYPE).ConceptCodeSequence = DicomSequence([_code_item(*_PERSON)])
        obs("PNAME", _PERSON_NAME).PersonName = name
        return out


def _where(sel: Selection) -> str:
    """How messages name a selection: its resource id when it came from FHIR, else its key."""
    return f"ImagingSelection {sel.key.removeprefix('fhir|')}"


def _uids(sel: Selection) -> set[str]:
    return {i.uid for i in sel.instances}


def _describe(ref: Reference) -> str:
    if ref.identifier is not None:
        return f"{ref.resource_type} {ref.identifier.value!r}"
    return f"{ref.resource_type} {ref.display!r}"


def _dicom_uid(ident: Identifier | None) -> str | None:
    if ident is None or ident.system != "urn:dicom:uid":
        return None
    uid = ident.value.removeprefix("urn:oid:")
    return uid if is_valid_uid(uid) else None


def _accession_issuer(ident: Identifier) -> Dataset | None:
    """Issuer of Accession Number Sequence from an identifier's ``urn:oid:`` system / assigner."""
    item = Dataset()
    if ident.assigner and _valid("UT", ident.assigner):
        item.LocalNamespaceEntityID = ident.assigner
    if ident.system and ident.system.startswith("urn:oid:"):
        item.UniversalEntityID = ident.system.removeprefix("urn:oid:")
        item.UniversalEntityIDType = "ISO"
    return item if len(item) else None


_STRING_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})


def _character_set(ds: Dataset) -> str | None:
    """Specific Character Set for the text values: none for ASCII, Latin-1 when it fits, UTF-8.

    Latin-1 (ISO_IR 100) is the widest single-byte set older software reads; UTF-8
    (ISO_IR 192) carries everything else.
    """
    texts: list[str] = []
    for elem in ds.iterall():
        if elem.VR in _STRING_VRS and elem.value is not None:
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            texts.extend(str(v) for v in values)
    if all(t.isascii() for t in texts):
        return None
    try:
        for t in texts:
            t.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100"


def write_kos(
    selections: Sequence[Selection],
    context: Context | None = None,
    options: KosOptions | None = None,
) -> KosResult:
    """Write selections as Key Object Selection Documents: one per patient and title.

    Parameters
    ----------
    selections : sequence of Selection
        From :func:`dicomsel.fhir.read_r5.read_fhir` or a DICOM reader.
    context : Context, optional
        Patient, study and instance data (DICOM files, Patient resources).
    options : KosOptions, optional

    Returns
    -------
    KosResult
        The datasets (with file meta, ready for ``save_as``), in the order
        their first selection comes in, and what was reported.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When something a KOS needs is missing or invalid (SOP class, patient,
        Content Date/Time, a UID), or the selections disagree on a patient.
    dicomsel.errors.MappingError
        When a code is not a CID 7010 title and no ``title`` option is given,
        or, with ``strict``, when anything would be left out.
    """
    opts = options or KosOptions()
    if not selections:
        raise InvalidInputError("no selection to write as a KOS")
    w = _Writer(context or Context(), opts)
    docs: dict[tuple[str, str], _Doc] = {}
    study_patient: dict[str, tuple[str, str]] = {}
    for sel in selections:
        where = _where(sel)
        title = w.title(sel, where)
        patient = w.patient(sel, where)
        w.lossy_selection(sel, where)
        key = (patient.patient_id, str(title.value))
        doc = docs.get(key)
        if doc is None:
            doc = docs[key] = _Doc(patient=patient, title=title)
        doc.selections.append(sel)
        before = set(doc.refs)
        w.references(sel, where, doc)
        # a study belongs to one patient: selections of one study must agree
        for ref in doc.refs.values():
            if ref.uid in before:
                continue
            owner = study_patient.setdefault(ref.study, (patient.patient_id, where))
            if owner[0] != patient.patient_id:
                raise InvalidInputError(
                    f"study {ref.study} is selected for patient {owner[0]!r} ({owner[1]}) and "
                    f"for patient {patient.patient_id!r}: the selections name different "
                    "subjects for one study",
                    attribute=f"{where}.subject",
                )
    for doc in docs.values():
        w.result.datasets.append(w.build(doc))
    if opts.strict and w.result.warnings:
        raise MappingError(
            f"{len(w.result.warnings)} thing(s) a KOS cannot carry (--strict): "
            + "; ".join(w.result.warnings)
        )
    return w.result
