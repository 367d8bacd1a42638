"""Selections -> DICOM Key Object Selection Documents (PS3.3 A.35.4, TID 2010), with pydicom.

One KOS per patient and document title (:mod:`dicomsel.kos.plan`). Each lists
every instance its selections name: one IMAGE, COMPOSITE or WAVEFORM content
item per instance (with Referenced Frame / Segment Number when only part of it
is selected, :mod:`dicomsel.kos.content`) and the Current Requested Procedure
Evidence Sequence grouping them by study and series, with the retrieve
locations of the selections' endpoints (:mod:`dicomsel.kos.sop`).

highdicom's KOS class cannot carry frame or segment numbers nor several
studies, so the document is built here with pydicom.

Writing is strict: every value is checked against its VR before it is set,
the output is clean under dciodvfy and readable by dsrdump, and reads back
(:func:`dicomsel.dicom.read_dataset`) to the same references and title.
What a KOS cannot carry is reported in :attr:`KosResult.warnings` (an error
with ``strict``); what is missing where DICOM needs a real value is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pydicom.dataset import Dataset

from dicomsel.errors import InvalidInputError, Issue, MappingError
from dicomsel.kos.content import add_content
from dicomsel.kos.context import Context
from dicomsel.kos.plan import Document, Report, plan
from dicomsel.kos.sop import (
    content_datetime,
    equipment_module,
    file_meta,
    key_object_document_module,
    patient_module,
    series_module,
    sop_common_module,
    study_module,
)
from dicomsel.kos.uids import content_key, kos_uid
from dicomsel.model import Code, IdentifierKind, Selection

__all__ = ["KosOptions", "KosResult", "write_kos"]


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
        when no selection has ``issued``; None: such input is an error.
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

    @property
    def issues(self) -> list[Issue]:
        """:attr:`warnings` as :class:`~dicomsel.errors.Issue` records (what a KOS cannot carry)."""
        return [Issue.lossy(w) for w in self.warnings]


def write_kos(
    selections: Sequence[Selection],
    context: Context | None = None,
    options: KosOptions | None = None,
) -> KosResult:
    """Write selections as Key Object Selection Documents: one per patient and title.

    Parameters
    ----------
    selections : sequence of Selection
        From :func:`dicomsel.fhir.read_fhir` or a DICOM reader.
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
    ctx = context or Context()
    report = Report()
    docs = plan(selections, ctx, opts.title, report)
    datasets = [_build(doc, ctx, opts, report) for doc in docs]
    if opts.strict and report.warnings:
        raise MappingError(
            f"{len(report.warnings)} thing(s) a KOS cannot carry (--strict): "
            + "; ".join(report.warnings)
        )
    return KosResult(datasets=datasets, warnings=report.warnings, notes=report.notes)


def _home_study(doc: Document, context: Context) -> str:
    """The study the KOS goes in (General Study module).

    The study of the document its selections were read from, when the context
    knows that document and its study (a KOS read back keeps its study, its
    Study Date, Time, ID and Referring Physician); else the first referenced
    study the context knows; else the first referenced study.
    """
    for sel in doc.selections:
        uids = [sel.source_uid]
        uids += [i.value for i in sel.identifiers if i.kind is IdentifierKind.DICOM_UID]
        for uid in uids:
            inst = context.instance(uid)
            if (
                inst is not None
                and inst.study_instance_uid is not None
                and inst.patient_id in (None, doc.patient.patient_id)
                and context.study(inst.study_instance_uid) is not None
            ):
                return inst.study_instance_uid
    studies = list(dict.fromkeys(r.study for r in doc.refs.values()))
    return next((s for s in studies if context.study(s) is not None), studies[0])


def _build(doc: Document, context: Context, opts: KosOptions, report: Report) -> Dataset:
    """One KOS: its modules in the order their messages are reported."""
    where = f"KOS of patient {doc.patient.patient_id!r}"
    first_study = _home_study(doc, context)
    study = context.study(first_study)
    ds = Dataset()
    when = content_datetime(doc.selections, where, opts.content_datetime, report)
    patient_module(ds, doc.patient, report)
    accession = study_module(ds, first_study, study, doc.selections, report)

    # new UIDs from everything the document is made of: the same input, the same UIDs
    refs = [
        (r.uid, r.sop_class_uid, r.study, r.series, r.whole, sorted(r.frames), sorted(r.segments))
        for r in doc.refs.values()
    ]
    key = content_key(
        (
            doc.title,
            replace(doc.patient, source=""),  # where a value came from is not content
            replace(study, source="") if study is not None else None,
            when[1:],
            refs,
            doc.selections,
            (opts.series_number, opts.instance_number),
        )
    )
    series_module(ds, kos_uid(key, "series", opts.uid_root), opts.series_number)
    equipment_module(ds)
    key_object_document_module(ds, doc, when, opts.instance_number, first_study, accession, report)
    add_content(ds, doc, report)
    sop_common_module(ds, kos_uid(key, "instance", opts.uid_root), when)
    file_meta(ds)
    return ds
