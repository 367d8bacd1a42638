"""The run: source -> executor (per-item work) -> the driver's output -> sink."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Protocol

from dicomsel import fhir
from dicomsel.dicom.values import attr_name
from dicomsel.errors import Issue
from dicomsel.export.executors import Executor, local_executor
from dicomsel.export.guard import describe
from dicomsel.io.base import Item, Sink, Source, same_content
from dicomsel.io.files import FileSource
from dicomsel.model import Selection
from dicomsel.pipeline.item import convert_batch
from dicomsel.pipeline.outcome import (
    Batch,
    ConvertOptions,
    ItemResult,
    report_issues,
    strict_failure,
)
from dicomsel.pipeline.series import SeriesKey, SeriesMerger

__all__ = ["BATCH_SIZE", "Journal", "Output", "convert", "run"]

log = logging.getLogger("dicomsel")

#: items per executor batch: enough to amortise a round trip to a worker, small enough to balance
BATCH_SIZE = 16


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


class Journal(Protocol):
    """What a resumable run records as it goes (the export job's ledger).

    The driver calls it between batches, so what it records is always a
    prefix of the run: a run killed at any moment resumes from its last
    checkpoint.
    """

    def checkpoint(self, results: Sequence[ItemResult]) -> None:
        """After each executor batch: its results taken, their resources handed to the sink."""
        ...

    def earlier(self, keys: Sequence[SeriesKey]) -> list[tuple[Selection, str]]:
        """Per-file image selections of earlier runs (and their item keys) to merge again.

        Those of the series ``keys`` (read in this run), and of every series an
        earlier run read but did not write.
        """
        ...

    def earlier_shared(self) -> dict[str, dict[str, Any]]:
        """The shared resources (Endpoints) of the items of earlier runs, by id."""
        ...

    def finished(self) -> None:
        """After the merged series and the shared resources were handed to the sink."""
        ...


def run(
    source: Source,
    options: ConvertOptions | None = None,
    sink: Sink | None = None,
    executor: Executor | None = None,
    journal: Journal | None = None,
    items: Iterable[Item] | None = None,
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
    journal : Journal or None
        Told of each batch as it is done, and asked for the image selections of
        earlier runs (:mod:`dicomsel.export.job`); None: a run on its own.
    items : iterable of dicomsel.io.Item or None
        The items of ``source`` to convert; None: every item it lists.

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
    out = Output(source, opts, batch, sink)
    work_on = functools.partial(convert_batch, source, opts)
    try:
        for results in work.map(work_on, _batches(source.items() if items is None else items)):
            for done in results:
                out.take(done)
            if journal is not None:
                journal.checkpoint(results)
        if journal is not None:
            for sel, path in journal.earlier(out.merger.keys()):
                out.merger.add_earlier(sel, path)
            for k, v in journal.earlier_shared().items():
                batch.shared.setdefault(k, v)
        out.finish()
        if journal is not None:
            journal.finished()
    except BaseException:
        if sink is not None:
            sink.close(commit=False)
        raise
    if sink is not None:
        sink.close(commit=batch.count("converted") > 0)
    return batch


class Output:
    """The driver's side of a run: duplicates, the per-series merge, resources in output order.

    An item's own resources are written as soon as the item is taken (input
    order); the merged image series follow once every item is in, in the order
    of their first file, then the shared resources (Endpoints) sorted by id. So
    only the series being merged, the Endpoints, one entry per input
    (outcome, SOP Instance UID) and the written resource names stay in memory.
    """

    def __init__(self, source: Source, opts: ConvertOptions, batch: Batch, sink: Sink | None):
        self.source, self.opts, self.batch, self.sink = source, opts, batch, sink
        self.merger = SeriesMerger(opts)
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
        report_issues(outcome, [note], self.opts)
        if strict_failure(outcome, self.opts):
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
                whose = outcomes[prior].path if prior >= 0 else "images of an earlier run"
                for i in owners:
                    outcomes[i].fail(f"{ref} was written already, for {whose}")
                return False
        for res in part:  # -1: a series only earlier runs read (a resumed export)
            self.written[f"{res['resourceType']}/{res['id']}"] = owners[0] if owners else -1
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
