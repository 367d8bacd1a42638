"""One pipeline: source -> per-item conversion -> per-series merge -> sink.

``dicomsel convert`` (and the export job after it) is a run of this pipeline:
a :class:`~dicomsel.io.Source` lists items, an executor converts batches of
them (each item read by its source, converted by the reader its SOP class
calls for, written in the chosen FHIR flavour), the driver merges the
per-file image selections of each series, and writes the resources to a
:class:`~dicomsel.io.Sink` in input order. A bad input never stops the run:
each item ends with an :class:`Outcome`, and the :class:`Batch` holds them all
for the report.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from dicomsel import fhir
from dicomsel.dicom import ReadOptions, image
from dicomsel.dicom.values import attr_name
from dicomsel.errors import (
    DicomselError,
    Issue,
    NotDicomError,
    Severity,
    UnsupportedObjectError,
    Validation,
)
from dicomsel.export.executors import Executor, local_executor
from dicomsel.export.guard import ItemTimeout, describe, time_limit
from dicomsel.fhir import observation
from dicomsel.io.base import Item, Sink, Source, same_content
from dicomsel.io.files import FileSource
from dicomsel.model import Instance, Selection

__all__ = ["Batch", "ConvertOptions", "ItemResult", "Outcome", "convert", "convert_item", "run"]

log = logging.getLogger("dicomsel")

#: items per executor batch: enough to amortise a round trip to a worker, small enough to balance
BATCH_SIZE = 16


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options of a conversion run.

    Parameters
    ----------
    fhir : str
        Output flavour: ``r5`` (FHIR R5 5.0.0) or ``r5-snapshot1``.
    validation : dicomsel.errors.Validation
        What a warning does to its input: ``raise`` fails it (``--strict``), ``warn``
        (default) logs it, ``ignore`` only records it in the outcome.
    read : dicomsel.dicom.ReadOptions
        Reader settings (assumed time zone, patient identifier system, ...).
    jobs : int
        Processes converting items in parallel; the output does not depend on it.
    observations : bool
        Write the Observations an SR holds (measurements, groups, evaluations).
    item_timeout : float or None
        Seconds one item may take to read and convert, enforced in the process
        that converts it (main thread only, POSIX); over it the item fails and the
        batch goes on. None or 0: no limit.
    """

    fhir: str = "r5"
    validation: Validation = Validation.WARN
    read: ReadOptions = field(default_factory=ReadOptions)
    jobs: int = 1
    observations: bool = True
    item_timeout: float | None = 60.0

    @property
    def strict(self) -> bool:
        """Whether any warning fails its input (``validation`` is ``raise``)."""
        return self.validation is Validation.RAISE


@dataclass(slots=True)
class Outcome:
    """What happened to one input: its status, its issues and the resources it produced."""

    path: str
    status: str  # converted | skipped | failed
    reason: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    issues: list[Issue] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """The warning-level issues' messages."""
        return [i.reason for i in self.issues if i.severity is Severity.WARNING]

    def fail(self, reason: str) -> None:
        """Mark the input failed (its resources are not written) and log why."""
        self.status, self.reason, self.resources = "failed", reason, []
        log.error("%s: %s", self.path, reason)

    def as_json(self) -> dict[str, Any]:
        """The outcome as a report entry."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.sop_class_uid:
            out["sopClassUid"] = self.sop_class_uid
        if self.sop_instance_uid:
            out["sopInstanceUid"] = self.sop_instance_uid
        out["warnings"] = self.warnings
        out["issues"] = [i.as_json() for i in self.issues]
        out["resources"] = list(self.resources)
        return out


@dataclass(slots=True)
class Batch:
    """The result of a run: every input's outcome and, without a sink, the resources.

    ``resources`` are the inputs' own resources in output order, ``shared`` those
    several inputs reference (Endpoints), by id; with a sink both are empty, the
    resources having gone to the sink.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: resources written to the run's sink
    written: int = 0

    def all_resources(self) -> list[dict[str, Any]]:
        """Each input's resources in input order, then shared ones (Endpoints) sorted by id."""
        return self.resources + [self.shared[k] for k in sorted(self.shared)]

    def count(self, status: str) -> int:
        """How many inputs ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    def report(self) -> dict[str, Any]:
        """The batch report: a summary and every input's outcome."""
        return {
            "summary": {
                "inputs": len(self.outcomes),
                "converted": self.count("converted"),
                "skipped": self.count("skipped"),
                "failed": self.count("failed"),
                "resources": self.written or len(self.all_resources()),
            },
            "inputs": [o.as_json() for o in self.outcomes],
        }


@dataclass(slots=True)
class ItemResult:
    """One item's conversion, as per-item work hands it back to the driver.

    ``pending`` are the item's per-file image selections, merged per series by
    the driver before they are written.
    """

    outcome: Outcome
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[Selection] = field(default_factory=list)


def convert(inputs: Sequence[str], options: ConvertOptions | None = None) -> Batch:
    """Convert DICOM files and folders (recursively) to FHIR resources.

    A bad input never stops the batch: it is recorded as failed with its
    reason. Files in folders that are not DICOM, or of a SOP class no reader
    handles, are skipped; named explicitly, they fail. Each input's resources
    come in input order; images of one series become one selection
    (:mod:`dicomsel.dicom.image`), written after them in the order of each
    series' first file; shared Endpoints last. The same SOP Instance twice is
    converted once (a warning), twice with different content an error for the
    second. The output does not depend on ``options.jobs``.

    Parameters
    ----------
    inputs : sequence of str
        DICOM files and folders.
    options : ConvertOptions or None
        Flavour, validation, reader settings, jobs.

    Returns
    -------
    Batch
        Every input's outcome, and the resources in output order.

    Raises
    ------
    ValueError
        On an unknown flavour or fewer than one job, before any work.
    """
    return run(FileSource(list(inputs)), options)


def run(
    source: Source,
    options: ConvertOptions | None = None,
    sink: Sink | None = None,
    executor: Executor | None = None,
) -> Batch:
    """Run the pipeline: every item of ``source`` converted, the resources to ``sink``.

    Per-item work receives item references and reads them itself, in batches of
    :data:`BATCH_SIZE` on ``executor``; only the driver (this function) writes to
    the sink, each input's resources as it comes in (see :func:`convert` for the order).

    Parameters
    ----------
    source : dicomsel.io.Source
        Where the items come from.
    options : ConvertOptions or None
    sink : dicomsel.io.Sink or None
        Where the resources go; closed at the end (committed when any input
        converted, dropped on an exception). None: kept in the returned batch.
    executor : dicomsel.export.Executor or None
        Where per-item work runs; None: this process for one job, else a pool of
        ``options.jobs`` processes.

    Returns
    -------
    Batch
        Every item's outcome (and the resources, without a sink).

    Raises
    ------
    ValueError
        On an unknown flavour or fewer than one job, before any work.
    """
    opts = options or ConvertOptions()
    fhir.flavour(opts.fhir)  # ValueError on an unknown flavour, before any work
    if opts.jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {opts.jobs}")
    work = executor if executor is not None else local_executor(opts.jobs)
    batch = Batch()
    out = _Output(source, opts, batch, sink)
    convert_batch = functools.partial(_convert_batch, source, opts)
    try:
        for results in work.map(convert_batch, _batches(source.items())):
            for done in results:
                out.take(done)
        out.finish()
    except BaseException:
        if sink is not None:
            sink.close(commit=False)
        raise
    if sink is not None:
        sink.close(commit=batch.count("converted") > 0)
    return batch


class _Output:
    """The driver's side of a run: duplicates, the per-series merge, resources in output order.

    An item's own resources are written as soon as the item is taken (input
    order); the merged image series follow once every item is in, in the order
    of their first file, then the shared resources (Endpoints) sorted by id. So
    only the series being merged, the Endpoints, one entry per input
    (outcome, SOP Instance UID) and the written resource names stay in memory.
    """

    def __init__(self, source: Source, opts: ConvertOptions, batch: Batch, sink: Sink | None):
        self.source, self.opts, self.batch, self.sink = source, opts, batch, sink
        self.merger = _SeriesMerger(opts)
        #: SOP Instance UID -> index of the first converted input holding it
        self.seen: dict[str, int] = {}
        #: ``Type/id`` -> index of the input that wrote it (a Bundle names each once)
        self.written: dict[str, int] = {}

    def take(self, done: ItemResult) -> None:
        """Take one item's result, in input order."""
        batch, outcome = self.batch, done.outcome
        index = len(batch.outcomes)
        batch.outcomes.append(outcome)
        uid = outcome.sop_instance_uid
        if outcome.status == "converted" and uid is not None and uid in self.seen:
            self._duplicate(done, self.seen[uid])
            return
        if done.resources and not self._write(done.resources, [index]):
            return
        for k, v in done.shared.items():
            batch.shared.setdefault(k, v)
        for sel in done.pending:
            self.merger.add(sel, outcome, index)
        if outcome.status == "converted" and uid is not None:
            self.seen[uid] = index

    def finish(self) -> None:
        """Write the merged series, then the shared resources."""
        for group in self.merger.groups():
            try:
                part = self.merger.write(group, self.batch)
            except Exception as e:  # the guard of the per-series merge write
                part = []
                reason = f"series {group.first.series_instance_uid}: {describe(e)}"
                for i in group.outcomes:
                    self.batch.outcomes[i].fail(reason)
                log.debug("traceback", exc_info=True)
            if part:
                self._write(part, group.outcomes)
        shared = [self.batch.shared[k] for k in sorted(self.batch.shared)]
        if self.sink is not None:
            self.sink.write(shared)
            self.batch.written += len(shared)
            self.batch.shared = {}

    def _duplicate(self, done: ItemResult, first_index: int) -> None:
        """The same SOP Instance again: once when the content is the same, else an error."""
        outcome = done.outcome
        first = self.batch.outcomes[first_index]
        uid_name = attr_name("SOPInstanceUID")
        try:
            same = same_content(self.source, Item(first.path), Item(outcome.path))
        except Exception as e:  # unreadable now: not known to be the same
            same = False
            log.debug("%s: digest: %s", outcome.path, describe(e))
        if not same:
            outcome.fail(
                f"{uid_name}: {outcome.sop_instance_uid} is also the SOP Instance UID of "
                f"{first.path}, whose content differs: left out"
            )
            return
        note = Issue(
            f"the same SOP Instance {outcome.sop_instance_uid} as {first.path} (same content): "
            "converted once",
            path=outcome.path,
            attribute=uid_name,
        )
        _report(outcome, [note], self.opts)
        if _strict_failure(outcome, self.opts):
            return
        if done.pending:  # an image: the series merge takes it once and names it
            for sel in done.pending:
                self.merger.add(sel, outcome, len(self.batch.outcomes) - 1)
        else:
            outcome.resources = list(first.resources)

    def _write(self, part: list[dict[str, Any]], owners: list[int]) -> bool:
        """Write one input's (or series') resources, unless one was written already."""
        outcomes = self.batch.outcomes
        for res in part:
            ref = f"{res['resourceType']}/{res['id']}"
            prior = self.written.get(ref)
            if prior is not None:
                for i in owners:
                    outcomes[i].fail(f"{ref} was written already, for {outcomes[prior].path}")
                return False
        for res in part:
            self.written[f"{res['resourceType']}/{res['id']}"] = owners[0]
        if self.sink is None:
            self.batch.resources.extend(part)
        else:
            self.sink.write(part)
            self.batch.written += len(part)
        return True


def _batches(items: Iterable[Item]) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, BATCH_SIZE)):
        yield chunk


def _convert_batch(source: Source, opts: ConvertOptions, items: list[Item]) -> list[ItemResult]:
    return [convert_item(source, item, opts) for item in items]


def _report(outcome: Outcome, issues: Iterable[Issue], opts: ConvertOptions) -> None:
    """Add issues to an outcome, logging them unless validation is ``ignore``."""
    for issue in issues:
        outcome.issues.append(issue)
        if opts.validation is not Validation.IGNORE:
            log.warning("%s: %s", outcome.path, issue.reason)


def _strict_failure(outcome: Outcome, opts: ConvertOptions, what: str = "") -> bool:
    """Under ``raise``, fail an outcome that has warnings; tell whether it did."""
    warnings = outcome.warnings
    if not (opts.strict and warnings):
        return False
    outcome.fail(f"--strict: {what}{len(warnings)} warning(s), first: {warnings[0]}")
    return True


def convert_item(source: Source, item: Item, opts: ConvertOptions) -> ItemResult:
    """Convert one item: read it from its source, write its resources, record its outcome.

    Never raises on bad input: any exception while reading or converting the item
    (not only a :class:`~dicomsel.errors.DicomselError`) is the outcome's failure,
    its reason the exception's type and message and the element being read when
    known (the traceback is logged at debug level); so is running longer than
    ``opts.item_timeout``. ``KeyboardInterrupt`` and ``SystemExit`` go through.

    Parameters
    ----------
    source : dicomsel.io.Source
        The source that listed ``item`` (and reads it).
    item : dicomsel.io.Item
    opts : ConvertOptions

    Returns
    -------
    ItemResult
        The outcome, the item's own and shared resources, and its per-file image
        selections for the driver to merge per series.
    """
    try:
        with time_limit(opts.item_timeout):
            return _convert_item(source, item, opts)
    except ItemTimeout as e:
        reason = str(e)
    except Exception as e:  # the per-item guard: one input never stops the batch
        reason = describe(e)
    log.error("%s: %s", item.key, reason)
    log.debug("%s: traceback", item.key, exc_info=True)
    return ItemResult(Outcome(item.key, "failed", reason=reason))


def _convert_item(source: Source, item: Item, opts: ConvertOptions) -> ItemResult:
    if item.missing is not None:
        log.error("%s: %s", item.key, item.missing)
        return ItemResult(Outcome(item.key, "failed", reason=item.missing))
    path = item.key
    try:
        result = source.read(item, opts.read)
    except (NotDicomError, UnsupportedObjectError) as e:
        if item.explicit:
            log.error("%s", e)
            return ItemResult(Outcome(path, "failed", reason=e.reason))
        log.info("skipped %s: %s", path, e.reason)
        return ItemResult(Outcome(path, "skipped", reason=e.reason))
    except DicomselError as e:
        log.error("%s", e)
        log.debug("details", exc_info=True)
        return ItemResult(Outcome(path, "failed", reason=_reason(e)))
    outcome = Outcome(
        path,
        "converted",
        sop_class_uid=result.sop_class_uid,
        sop_instance_uid=result.sop_instance_uid,
    )
    writer = fhir.flavour(opts.fhir)
    # per-file image selections are merged per series by the driver, then written
    pending = [s for s in result.selections if image.is_series_selection(s)]
    selections = [s for s in result.selections if not image.is_series_selection(s)]
    try:
        out = writer.write(selections)
        for res in out.resources + list(out.shared.values()):
            writer.validate(res)
        if opts.observations and result.observations:
            # flavour-independent: observations reach selections through out.refs
            obs = observation.write(result.observations, out.refs)
            for res in obs.resources:
                observation.validate(res)
            out.resources.extend(obs.resources)
            out.warnings.extend(obs.warnings)
    except DicomselError as e:
        log.error("%s: %s", path, e)
        outcome.status, outcome.reason = "failed", _reason(e)
        return ItemResult(outcome)
    _report(outcome, result.issues, opts)
    _report(outcome, [i.with_path(path) for i in out.issues], opts)
    if _strict_failure(outcome, opts):
        return ItemResult(outcome)
    outcome.resources = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
    outcome.resources += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
    return ItemResult(outcome, out.resources, out.shared, pending)


# ---- images: the selections of one series, read from many files, merged into one


@dataclass(slots=True)
class _Series:
    """The images of one series (and code) read so far."""

    first: Selection
    path: str
    instances: dict[str, Instance] = field(default_factory=dict)
    outcomes: list[int] = field(default_factory=list)


class _SeriesMerger:
    """Merges the per-file image selections of each series, checking that the files agree."""

    def __init__(self, opts: ConvertOptions) -> None:
        self.opts = opts
        self.series: dict[tuple[str | None, str], _Series] = {}

    def groups(self) -> list[_Series]:
        """Every series, in the order of its first file."""
        return list(self.series.values())

    def add(self, sel: Selection, outcome: Outcome, index: int) -> _Series | None:
        """Add one file's selection; return the new group when the series is new."""
        key = (sel.series_instance_uid, image.code_key(sel.code))
        group = self.series.get(key)
        if group is None:
            group = self.series[key] = _Series(sel, outcome.path)
            self._take(group, sel, index)
            return group
        first = group.first
        if sel.study_instance_uid != first.study_instance_uid:
            outcome.fail(
                f"{attr_name('StudyInstanceUID')}: series {sel.series_instance_uid} is in study "
                f"{first.study_instance_uid} in {group.path} but in study "
                f"{sel.study_instance_uid} here: left out of the series' selection"
            )
            return None
        notes = []
        for what, mine, theirs in (
            ("SeriesNumber", sel.series_number, first.series_number),
            ("FrameOfReferenceUID", sel.frame_of_reference_uid, first.frame_of_reference_uid),
            ("PatientID", sel.subject, first.subject),
            ("body site", sel.body_site, first.body_site),
        ):
            if mine != theirs:
                name = attr_name(what) if what[0].isupper() else what
                notes.append(
                    Issue(
                        f"{name} differs from {group.path} in series {sel.series_instance_uid}: "
                        "the series' selection keeps the first file's",
                        path=outcome.path,
                        attribute=name,
                    )
                )
        _report(outcome, notes, self.opts)
        if _strict_failure(outcome, self.opts):
            return None
        self._take(group, sel, index)
        return None

    @staticmethod
    def _take(group: _Series, sel: Selection, index: int) -> None:
        group.outcomes.append(index)
        for inst in sel.instances:
            prior = group.instances.get(inst.uid)
            if prior is None:
                group.instances[inst.uid] = inst
            else:  # the same instance twice (a file named twice): whole wins over frames
                merged = prior.merged(inst)
                if not prior.frames or not inst.frames:
                    merged = dataclasses.replace(merged, frames=())
                group.instances[inst.uid] = merged

    def write(self, group: _Series, batch: Batch) -> list[dict[str, Any]]:
        """Write a series' selection; record its resources on every file's outcome."""
        instances = sorted(
            group.instances.values(),
            key=lambda i: (i.number is None, i.number or 0, i.uid),
        )
        sel = dataclasses.replace(group.first, instances=tuple(instances))
        outcomes = [batch.outcomes[i] for i in group.outcomes]
        writer = fhir.flavour(self.opts.fhir)
        try:
            out = writer.write([sel])
            for res in out.resources + list(out.shared.values()):
                writer.validate(res)
        except DicomselError as e:
            for o in outcomes:
                o.status, o.reason = "failed", _reason(e)
            log.error("series %s: %s", sel.series_instance_uid, e)
            return []
        if out.warnings:
            first = outcomes[0]
            _report(first, [i.with_path(first.path) for i in out.issues], self.opts)
            if self.opts.strict:
                for o in outcomes:
                    o.status = "failed"
                    o.reason = (
                        f"--strict: series {sel.series_instance_uid}: {len(out.warnings)} "
                        f"warning(s), first: {out.warnings[0]}"
                    )
                log.error("series %s: %s", sel.series_instance_uid, first.reason)
                return []
        for k, v in out.shared.items():
            batch.shared.setdefault(k, v)
        refs = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
        refs += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
        for o in outcomes:
            o.resources = list(refs)
        return out.resources


def _reason(e: DicomselError) -> str:
    parts = [p for p in (e.attribute, e.reason) if p]
    return ": ".join(parts)
