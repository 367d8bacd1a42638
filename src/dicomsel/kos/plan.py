"""Which documents the selections become, and what of them a KOS cannot carry.

One document per patient and CID 7010 title (:func:`plan`). Each lists the
instances of its selections, merged (:class:`Ref`: frames and segments of one
instance added up), their SOP class, study and series completed from the
:class:`~dicomsel.kos.context.Context`. What has no place in a KOS (image
regions, ROI numbers, observation UIDs, category, focus, ...) goes to the
:class:`Report` as a warning, an error under ``strict``.

The model fields that issue 9 item 5 changes (``Selection.issued``,
``Selection.key``'s provenance prefix, ``Reference.resource_type``,
``Identifier.type_code``) are read by one helper each, here: :func:`issued`,
:func:`where`, :func:`actor_type` (and :func:`observer_kind` on it) and
:func:`request_kind`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dicomsel import terminology
from dicomsel.errors import InvalidInputError, MappingError
from dicomsel.fhir.vocabulary import RESOURCE_TYPES
from dicomsel.kos.context import Context, PatientData
from dicomsel.kos.values import Instant, instant_of, value_type
from dicomsel.model import (
    ActorKind,
    Code,
    Identifier,
    IdentifierKind,
    Instance,
    Reference,
    Selection,
    Status,
)

__all__ = [
    "Document",
    "Ref",
    "Report",
    "actor_type",
    "describe",
    "issued",
    "observer_kind",
    "plan",
    "request_kind",
    "selected_uids",
    "where",
]


class Report:
    """What is reported while writing, each message once.

    ``warnings`` are what a KOS cannot carry (left out or changed; errors
    under ``strict``); ``notes`` are informational (where values came from,
    Type 2 attributes left empty).
    """

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self._reported: set[str] = set()

    def lossy(self, message: str) -> None:
        """Report something a KOS cannot carry.

        Parameters
        ----------
        message : str
            What is left out or changed, and where.
        """
        if message not in self._reported:
            self._reported.add(message)
            self.warnings.append(message)

    def note(self, message: str) -> None:
        """Report something informational.

        Parameters
        ----------
        message : str
            Where a value came from, what was left empty.
        """
        if message not in self._reported:
            self._reported.add(message)
            self.notes.append(message)


@dataclass(slots=True)
class Ref:
    """One referenced instance, merged over the selections that name it.

    Parameters
    ----------
    uid, sop_class_uid, study, series : str
        SOP Instance UID, SOP Class UID, Study and Series Instance UID.
    whole : bool
        Whether some selection takes the whole instance (frames and segments
        are then not written).
    frames, segments : set of int
        Referenced Frame / Segment Numbers, over all the selections.
    """

    uid: str
    sop_class_uid: str
    study: str
    series: str
    whole: bool
    frames: set[int] = field(default_factory=set)
    segments: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Document:
    """The selections that become one document, and the instances it references.

    Parameters
    ----------
    patient : PatientData
    title : Code
        The CID 7010 document title.
    selections : list of Selection
        In input order.
    refs : dict
        SOP Instance UID -> :class:`Ref`, in the order first selected.
    """

    patient: PatientData
    title: Code
    selections: list[Selection] = field(default_factory=list)
    refs: dict[str, Ref] = field(default_factory=dict)


# --- the model fields issue 9 item 5 changes: read here only -------------------------------


def where(sel: Selection) -> str:
    """How messages name a selection: its resource id when it came from FHIR, else its key.

    Parameters
    ----------
    sel : Selection

    Returns
    -------
    str
        ``ImagingSelection <id>``.
    """
    return f"ImagingSelection {sel.key.removeprefix('fhir|')}"


def issued(sel: Selection) -> Instant | None:
    """When a selection was issued, as Content Date/Time; None when it does not say.

    Parameters
    ----------
    sel : Selection

    Returns
    -------
    Instant or None

    """
    if sel.issued is None:
        return None
    return instant_of(sel.issued)


def actor_type(ref: Reference) -> str:
    """What kind of actor a reference names, as messages say it.

    Parameters
    ----------
    ref : Reference

    Returns
    -------
    str
        The resource type the FHIR input named (``Practitioner``, ``Device``, ...).
    """
    return RESOURCE_TYPES[ref.kind]


_OBSERVER_KINDS = {
    ActorKind.DEVICE: "device",
    ActorKind.PERSON: "person",
    ActorKind.PERSON_ROLE: "person",
}


def observer_kind(ref: Reference) -> str | None:
    """What a performer is as a TID 1002 observer.

    Parameters
    ----------
    ref : Reference
        The performer's actor.

    Returns
    -------
    str or None
        ``person``, ``device``, or None for an actor that is neither.
    """
    return _OBSERVER_KINDS.get(ref.kind)


def describe(ref: Reference) -> str:
    """How messages name a reference: its kind and its identifier, else its display.

    Parameters
    ----------
    ref : Reference

    Returns
    -------
    str
    """
    if ref.identifier is not None:
        return f"{actor_type(ref)} {ref.identifier.value!r}"
    return f"{actor_type(ref)} {ref.display or ref.person_name!r}"


_REQUEST_KINDS = {
    IdentifierKind.ACCESSION: "ACSN",
    IdentifierKind.PLACER: "PLAC",
    IdentifierKind.FILLER: "FILL",
}


def request_kind(ident: Identifier | None) -> str | None:
    """What request a ``basedOn`` identifier numbers, by its v2-0203 type code.

    Parameters
    ----------
    ident : Identifier or None

    Returns
    -------
    str or None
        ``ACSN`` (accession number), ``PLAC`` (placer order number), ``FILL``
        (filler order number), or None for any other identifier.
    """
    if ident is None or not isinstance(ident.kind, IdentifierKind):
        return None
    return _REQUEST_KINDS.get(ident.kind)


def selected_uids(sel: Selection) -> set[str]:
    """The SOP Instance UIDs a selection lists.

    Parameters
    ----------
    sel : Selection

    Returns
    -------
    set of str
    """
    return {i.uid for i in sel.instances}


# --- the plan ------------------------------------------------------------------------------


def plan(
    selections: Sequence[Selection],
    context: Context,
    title: Code | None,
    report: Report,
) -> list[Document]:
    """The documents the selections become: one per patient and title, in input order.

    Parameters
    ----------
    selections : sequence of Selection
    context : Context
        Patient, study and instance data.
    title : Code or None
        The title for selections whose code is not a CID 7010 title.
    report : Report
        Where what is lost or noted goes.

    Returns
    -------
    list of Document
        Each with its patient, title, selections and merged references.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When something a KOS needs is missing or invalid, or the selections
        disagree on a patient, a SOP class, a study or a series.
    dicomsel.errors.MappingError
        When a code is not a CID 7010 title and no ``title`` is given.
    """
    planner = _Planner(context, title, report)
    docs: dict[tuple[str, str], Document] = {}
    study_patient: dict[str, tuple[str, str]] = {}
    for sel in selections:
        at = where(sel)
        doc_title = planner.title(sel, at)
        patient = planner.patient(sel, at)
        planner.lossy_selection(sel, at)
        key = (patient.patient_id, str(doc_title.value))
        doc = docs.get(key)
        if doc is None:
            doc = docs[key] = Document(patient=patient, title=doc_title)
        doc.selections.append(sel)
        before = set(doc.refs)
        planner.references(sel, at, doc)
        # a study belongs to one patient: selections of one study must agree
        for ref in doc.refs.values():
            if ref.uid in before:
                continue
            owner = study_patient.setdefault(ref.study, (patient.patient_id, at))
            if owner[0] != patient.patient_id:
                raise InvalidInputError(
                    f"study {ref.study} is selected for patient {owner[0]!r} ({owner[1]}) and "
                    f"for patient {patient.patient_id!r}: the selections name different "
                    "subjects for one study",
                    attribute=f"{at}.subject",
                )
    return list(docs.values())


class _Planner:
    def __init__(self, context: Context, title: Code | None, report: Report) -> None:
        self.context = context
        self.default_title = title
        self.report = report

    def title(self, sel: Selection, where: str) -> Code:
        title = terminology.key_object_title(sel.code)
        if title is not None:
            return title
        shown = sel.code.value or sel.code.text
        if sel.code.value and sel.code.scheme:
            shown = f"({sel.code.value}, {sel.code.scheme}, {sel.code.meaning or ''})"
        if self.default_title is None:
            raise MappingError(
                f"code {shown} is not a Key Object Selection Document Title (CID 7010): "
                "give one with --title (e.g. --title 113000 for 'Of Interest')",
                attribute=f"{where}.code",
            )
        self.report.note(
            f"{where}: code {shown} is not a CID 7010 title; --title "
            f"({self.default_title.value}, DCM, {self.default_title.meaning}) used instead"
        )
        return self.default_title

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
                _same_patient(found, mine, where)
                found = found or mine
        if sel.study_instance_uid:
            for p in ctx.patients_of_study(sel.study_instance_uid):
                _same_patient(found, p, where)
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

    def references(self, sel: Selection, where: str, doc: Document) -> None:
        """Add the instances of ``sel`` to ``doc``, completing class, study and series."""
        ctx = self.context
        lossy = self.report.lossy
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
                lossy(
                    f"{w}: segment numbers {sorted(segments)} of a {vt} reference to a "
                    f"non-segmentation ({cls}) have no place in a KOS: left out"
                )
                segments = set()
            if frames and vt != "IMAGE":
                lossy(
                    f"{w}: frame numbers {sorted(frames)} of a {vt} reference have no place "
                    "in a KOS: the whole instance is selected"
                )
                frames = set()
            if frames and segments:
                lossy(
                    f"{w}: a KOS reference holds frame or segment numbers, not both: "
                    f"frames {sorted(frames)} left out, segments kept"
                )
                frames = set()
            for what, vals in (
                ("ROI numbers", inst.rois),
                ("observation UIDs", inst.observation_uids),
            ):
                if vals:
                    lossy(
                        f"{w}: {what} {list(vals)} have no place in a KOS: the whole "
                        "instance is selected"
                    )
            if inst.regions_2d or inst.regions_3d:
                lossy(
                    f"{w}: {len(inst.regions_2d) + len(inst.regions_3d)} image region(s) "
                    "have no place in a KOS: left out"
                )
            whole = not (frames or segments)
            ref = doc.refs.get(inst.uid)
            if ref is None:
                doc.refs[inst.uid] = Ref(
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
        self.report.note(
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
        if sel.status is not Status.AVAILABLE:
            lost.append(f"status {str(sel.status)!r}")
        if lost:
            self.report.lossy(f"{where}: no place in a KOS for {', '.join(lost)}: left out")
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
            self.report.note(
                f"{where}: {', '.join(facts)} of the referenced objects not repeated in the KOS"
            )


def _same_patient(known: PatientData | None, other: PatientData, where: str) -> None:
    if known is not None and known.patient_id != other.patient_id:
        raise InvalidInputError(
            f"the context names two patients for one selection: {known.patient_id!r} "
            f"({known.source}) and {other.patient_id!r} ({other.source})",
            attribute=where,
        )
