"""DICOM files and folders -> FHIR resources, as a batch that never stops on one bad input.

This is the library behind ``dicomsel convert``: it expands inputs, reads
each file with the reader its SOP class calls for, writes the resources of
the chosen flavour and records every input's outcome for the report.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from dicomsel import dicom, fhir
from dicomsel.dicom import image
from dicomsel.dicom.common import ReadOptions, attr_name
from dicomsel.errors import (
    DicomselError,
    NotDicomError,
    UnsupportedObjectError,
)
from dicomsel.fhir import observation
from dicomsel.model import Instance, Selection

__all__ = ["Batch", "ConvertOptions", "Outcome", "convert"]

log = logging.getLogger("dicomsel")


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options of a conversion batch.

    Parameters
    ----------
    fhir : str
        Output flavour: ``r5`` (FHIR R5 5.0.0).
    strict : bool
        Treat every warning (anything left out or changed) as an error of its input.
    read : dicomsel.dicom.common.ReadOptions
        Reader settings (assumed time zone, patient identifier system).
    jobs : int
        Processes converting files in parallel; the output does not depend on it.
    observations : bool
        Write the Observations an SR holds (measurements, groups, evaluations).
    """

    fhir: str = "r5"
    strict: bool = False
    read: ReadOptions = field(default_factory=ReadOptions)
    jobs: int = 1
    observations: bool = True


@dataclass(slots=True)
class Outcome:
    """What happened to one input."""

    path: str
    status: str  # converted | skipped | failed
    reason: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    warnings: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The outcome as a report entry."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.sop_class_uid:
            out["sopClassUid"] = self.sop_class_uid
        if self.sop_instance_uid:
            out["sopInstanceUid"] = self.sop_instance_uid
        out["warnings"] = list(self.warnings)
        out["resources"] = list(self.resources)
        return out


@dataclass(slots=True)
class Batch:
    """The result of a batch: resources in output order and every input's outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per-file image selections waiting to be merged per series (empty once convert() returns)
    pending: list[Selection] = field(default_factory=list)

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
                "resources": len(self.all_resources()),
            },
            "inputs": [o.as_json() for o in self.outcomes],
        }


def _expand(inputs: Sequence[str]) -> Iterator[tuple[str, bool] | Outcome]:
    """Files to read, with whether they were named explicitly; failures for bad paths."""
    for item in inputs:
        if os.path.isdir(item):
            found = False
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    found = True
                    yield os.path.join(root, name), False
            if not found:
                yield Outcome(item, "failed", reason="folder holds no files")
        elif os.path.exists(item):
            yield item, True
        else:
            yield Outcome(item, "failed", reason="no such file or folder")


def convert(inputs: Sequence[str], options: ConvertOptions | None = None) -> Batch:
    """Convert DICOM files and folders (recursively) to FHIR resources.

    A bad input never stops the batch: it is recorded as failed with its
    reason. Files in folders that are not DICOM, or of a SOP class no reader
    handles, are skipped; named explicitly, they fail.

    Files are streamed: only their outcomes, the resources written and, for
    images, the instance lists of their series are kept. Images of one series
    become one selection (:mod:`dicomsel.dicom.image`), written where the
    series' first file stands in input order. With ``options.jobs`` > 1 the
    files are read in worker processes and their results taken back in input
    order, so the output is the same as with one process.
    """
    opts = options or ConvertOptions()
    fhir.flavour(opts.fhir)  # ValueError on an unknown flavour, before any work
    if opts.jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {opts.jobs}")
    batch = Batch()
    merger = _SeriesMerger(opts)
    parts: list[list[dict[str, Any]] | _Series] = []
    for done in _results(_expand(inputs), opts):
        index = len(batch.outcomes)
        batch.outcomes.append(done.outcome)
        if done.resources:
            parts.append(done.resources)
        for k, v in done.shared.items():
            batch.shared.setdefault(k, v)
        for sel in done.pending:
            new = merger.add(sel, done.outcome, index)
            if new is not None:
                parts.append(new)
    for part in parts:
        if isinstance(part, _Series):
            part = merger.write(part, batch)
        batch.resources.extend(part)
    return batch


@dataclass(slots=True)
class _Done:
    """One input's result, as a worker hands it back."""

    outcome: Outcome
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[Selection] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)


def _convert_item(item: tuple[str, bool] | Outcome, opts: ConvertOptions) -> _Done:
    if isinstance(item, Outcome):
        log.error("%s: %s", item.path, item.reason)
        return _Done(item)
    path, explicit = item
    local = Batch()
    outcome = _convert_one(path, explicit, opts, local)
    return _Done(outcome, local.resources, local.shared, local.pending)


# ---- parallel conversion: worker processes, results back in input order

_CHUNK = 16  # files per task: enough to amortise the round trip, small enough to balance


class _Capture(logging.Handler):
    """A worker's log records, formatted enough to be pickled and replayed by the parent."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


_capture: _Capture | None = None


def _worker_init(level: int) -> None:
    global _capture
    _capture = _Capture()
    logger = logging.getLogger("dicomsel")
    logger.handlers[:] = [_capture]
    logger.propagate = False
    logger.setLevel(level)


def _convert_chunk(items: list[tuple[str, bool] | Outcome], opts: ConvertOptions) -> list[_Done]:
    out = []
    for item in items:
        done = _convert_item(item, opts)
        if _capture is not None:
            done.records, _capture.records = _capture.records, []
        out.append(done)
    return out


def _context() -> Any:
    # fork starts workers fastest, with everything imported; it is safe here because
    # the executor forks before it starts threads. macOS and Windows keep their default.
    if sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _results(items: Iterable[tuple[str, bool] | Outcome], opts: ConvertOptions) -> Iterator[_Done]:
    """Each input's result, in input order; in worker processes when ``opts.jobs`` > 1."""
    if opts.jobs <= 1:
        for item in items:
            yield _convert_item(item, opts)
        return
    pool = ProcessPoolExecutor(
        max_workers=opts.jobs,
        mp_context=_context(),
        initializer=_worker_init,
        initargs=(log.getEffectiveLevel(),),
    )
    window: deque[Future[list[_Done]]] = deque()
    it = iter(items)
    try:
        while chunk := list(islice(it, _CHUNK)):
            window.append(pool.submit(_convert_chunk, chunk, opts))
            # a bounded window keeps memory flat however many files there are
            while len(window) >= 4 * opts.jobs:
                yield from _replayed(window.popleft().result())
        while window:
            yield from _replayed(window.popleft().result())
    finally:
        pool.shutdown(wait=not window, cancel_futures=True)


def _replayed(dones: list[_Done]) -> Iterator[_Done]:
    for done in dones:
        for record in done.records:
            log.handle(record)
        done.records = []
        yield done


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
            outcome.status = "failed"
            outcome.reason = (
                f"{attr_name('StudyInstanceUID')}: series {sel.series_instance_uid} is in study "
                f"{first.study_instance_uid} in {group.path} but in study "
                f"{sel.study_instance_uid} here: left out of the series' selection"
            )
            outcome.resources = []
            log.error("%s: %s", outcome.path, outcome.reason)
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
                    f"{name} differs from {group.path} in series {sel.series_instance_uid}: "
                    "the series' selection keeps the first file's"
                )
        for note in notes:
            log.warning("%s: %s", outcome.path, note)
        outcome.warnings.extend(notes)
        if self.opts.strict and notes:
            outcome.status = "failed"
            outcome.reason = f"--strict: {len(outcome.warnings)} warning(s), first: {notes[0]}"
            log.error("%s: %s", outcome.path, outcome.reason)
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
            outcomes[0].warnings.extend(out.warnings)
            for w in out.warnings:
                log.warning("%s: %s", outcomes[0].path, w)
            if self.opts.strict:
                for o in outcomes:
                    o.status = "failed"
                    o.reason = (
                        f"--strict: series {sel.series_instance_uid}: {len(out.warnings)} "
                        f"warning(s), first: {out.warnings[0]}"
                    )
                log.error("series %s: %s", sel.series_instance_uid, outcomes[0].reason)
                return []
        for k, v in out.shared.items():
            batch.shared.setdefault(k, v)
        refs = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
        refs += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
        for o in outcomes:
            o.resources = list(refs)
        return out.resources


def _convert_one(path: str, explicit: bool, opts: ConvertOptions, batch: Batch) -> Outcome:
    try:
        result = dicom.read_file(path, opts.read)
    except (NotDicomError, UnsupportedObjectError) as e:
        if explicit:
            log.error("%s", e)
            return Outcome(path, "failed", reason=e.reason)
        log.info("skipped %s: %s", path, e.reason)
        return Outcome(path, "skipped", reason=e.reason)
    except DicomselError as e:
        log.error("%s", e)
        log.debug("details", exc_info=True)
        return Outcome(path, "failed", reason=_reason(e))
    outcome = Outcome(
        path,
        "converted",
        sop_class_uid=result.sop_class_uid,
        sop_instance_uid=result.sop_instance_uid,
    )
    writer = fhir.flavour(opts.fhir)
    # per-file image selections are merged per series by the batch, then written
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
        return Outcome(
            path,
            "failed",
            reason=_reason(e),
            sop_class_uid=result.sop_class_uid,
            sop_instance_uid=result.sop_instance_uid,
        )
    outcome.warnings = result.warnings + out.warnings
    for w in outcome.warnings:
        log.warning("%s: %s", path, w)
    if opts.strict and outcome.warnings:
        outcome.status = "failed"
        first = outcome.warnings[0]
        outcome.reason = f"--strict: {len(outcome.warnings)} warning(s), first: {first}"
        log.error("%s: %s", path, outcome.reason)
        return outcome
    batch.resources.extend(out.resources)
    batch.pending.extend(pending)
    for k, v in out.shared.items():
        batch.shared.setdefault(k, v)
    outcome.resources = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
    outcome.resources += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
    return outcome


def _reason(e: DicomselError) -> str:
    parts = [p for p in (e.attribute, e.reason) if p]
    return ": ".join(parts)
