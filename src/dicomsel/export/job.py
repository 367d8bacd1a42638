"""The export job: a pipeline run from a PACS (or folders) to a sink, resumable with a ledger.

Without a state file an export is a plain run (:func:`dicomsel.pipeline.run`).
With one (:class:`~dicomsel.export.ledger.Ledger`), the driver:

1. lists the source's items and leaves out those an earlier run converted or
   skipped (same key, same fingerprint); failed items are tried again;
2. runs the pipeline over the rest with a :class:`Recorder` as both its sink and
   its journal: each resource goes to the real sink unless the sink already
   holds the same bytes (digests in the ledger), and after each batch the sink is
   flushed (an NDJSON file synced, a FHIR server's transactions sent) and one
   ledger transaction records the batch's items, the resources now held, the
   image selections read and the sink's committed length;
3. merges each series this run added to with the images earlier runs read, and
   writes every series that earlier runs read but never wrote (a run killed before
   its end), so a per-series selection always goes out whole.

Killed at any moment, the same command again converts what the ledger does not
record, cuts an NDJSON file back to its committed length, and so writes every
resource exactly once (a FHIR server gets at most idempotent repeats of
``PUT Type/id``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dicomsel.export.executors import Executor
from dicomsel.export.ledger import Ledger, Recorded
from dicomsel.io.base import Item, Sink, Source
from dicomsel.model import Selection
from dicomsel.pipeline import Batch, ConvertOptions, ItemResult, SeriesKey, run, series_key

__all__ = ["ExportResult", "Recorder", "export", "fingerprint", "settings_of"]

log = logging.getLogger("dicomsel")


def fingerprint(source: Source, item: Item) -> str:
    """What tells a changed item from the one an earlier run read.

    The source's own ``fingerprint(item)`` when it has one; a regular file's
    size and modification time; else empty (a PACS instance: its UIDs are its
    identity).

    Parameters
    ----------
    source : dicomsel.io.Source
    item : dicomsel.io.Item

    Returns
    -------
    str
    """
    own = getattr(source, "fingerprint", None)
    if callable(own):
        return str(own(item))
    try:
        st = os.stat(item.key)
    except (OSError, ValueError):
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def settings_of(options: ConvertOptions, sink: str) -> dict[str, object]:
    """The settings a ledger is bound to: what changes the output, and where it goes.

    Parameters
    ----------
    options : dicomsel.pipeline.ConvertOptions
    sink : str
        The sink as named on the command line.

    Returns
    -------
    dict
    """
    read = options.read
    return {
        "fhir": options.fhir,
        "validation": str(options.validation),
        "observations": options.observations,
        "timezone": read.timezone,
        "patient_id_system": read.patient_id_system,
        "seg_frames": read.seg_frames,
        "max_regions": read.max_regions,
        "code": repr(read.code),
        "frames": list(read.frames),
        "sink": sink,
    }


def _digest(resource: dict[str, Any]) -> str:
    text = json.dumps(resource, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


@dataclass
class Recorder:
    """The sink and journal of a recorded run: the real sink, and the ledger beside it.

    Parameters
    ----------
    inner : dicomsel.io.Sink
        Where the resources go. Optional methods: ``flush()`` returning the
        rejections (objects with ``ref`` and ``diagnostics``) of what it sent,
        and ``position()`` returning how far its output is written (bytes).
    ledger : Ledger
    name : str
        The sink as named on the command line (its committed length is recorded under it).
    fingerprints : dict
        Item key -> fingerprint, for the items this run converts.
    """

    inner: Sink
    ledger: Ledger
    name: str
    fingerprints: dict[str, str]
    #: resources handed to the sink since the last checkpoint: ``Type/id`` -> digest
    pending: dict[str, str] = field(default_factory=dict)
    #: ``Type/id`` -> why the sink refused it, over the whole run
    rejected: dict[str, str] = field(default_factory=dict)
    #: resources not written again: the sink holds the same bytes
    unchanged: int = 0
    written: int = 0

    # ---- Sink

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Hand the resources the sink does not hold as they are to the real sink."""
        refs = [_ref(r) for r in resources]
        held = self.ledger.digests(refs)
        fresh = []
        for ref, res in zip(refs, resources, strict=True):
            digest = _digest(res)
            if held.get(ref) == digest and ref not in self.pending:
                self.unchanged += 1
                continue
            self.pending[ref] = digest
            fresh.append(res)
        if fresh:
            self.inner.write(fresh)
            self.written += len(fresh)

    def close(self, commit: bool = True) -> None:
        """Close the real sink (what the ledger records stays, whatever ``commit`` says)."""
        self.inner.close(commit)

    # ---- Journal

    def checkpoint(self, results: Sequence[ItemResult]) -> None:
        """Flush the sink, then record the batch in one ledger transaction."""
        refused = self._flush()
        for done in results:
            bad = [ref for ref in done.outcome.resources if ref in refused]
            if bad:
                done.outcome.fail(f"{bad[0]}: the sink refused it: {refused[bad[0]]}")
        with self.ledger.transaction():
            for done in results:
                o = done.outcome
                images: list[tuple[str, Selection]] = []
                if o.status == "converted":
                    images = [(_series_name(series_key(s)), s) for s in done.pending]
                self.ledger.record_item(
                    o.path, self.fingerprints.get(o.path, ""), o.as_json(), images
                )
                if o.status == "converted" and done.shared:
                    self.ledger.record_shared(done.shared)
            self._record_sink(refused)

    def earlier(self, keys: Sequence[SeriesKey]) -> list[tuple[Selection, str]]:
        """The image selections of earlier runs to merge again (see :class:`Journal`)."""
        return self.ledger.earlier_images([_series_name(k) for k in keys])

    def earlier_shared(self) -> dict[str, dict[str, Any]]:
        """The shared resources (Endpoints) recorded, for the run's end to write (unless held)."""
        return self.ledger.shared()

    def finished(self) -> None:
        """Flush the merged series and the shared resources; record them and the series written."""
        refused = self._flush()
        with self.ledger.transaction():
            self._record_sink(refused)
            self.ledger.series_written()

    def _flush(self) -> dict[str, str]:
        flush = getattr(self.inner, "flush", None)
        refused: dict[str, str] = {}
        if callable(flush):
            for rejection in flush() or ():
                refused[rejection.ref] = rejection.diagnostics
        self.rejected.update(refused)
        return refused

    def _record_sink(self, refused: dict[str, str]) -> None:
        held = {ref: d for ref, d in self.pending.items() if ref not in refused}
        self.ledger.record_written(held)
        self.pending.clear()
        position = getattr(self.inner, "position", None)
        if callable(position):
            self.ledger.record_position(self.name, int(position()))


def _series_name(key: SeriesKey) -> str:
    return json.dumps(list(key), ensure_ascii=False)


@dataclass
class ExportResult:
    """An export's outcome: this run's batch, and the items earlier runs did."""

    batch: Batch
    #: items an earlier run converted or skipped, not read again
    earlier: list[Recorded] = field(default_factory=list)
    #: resources the sink already held as they are (not written again)
    unchanged: int = 0

    def report(self) -> dict[str, Any]:
        """The report: this run's summary and items, then the earlier runs' items."""
        rep = self.batch.report()
        rep["summary"]["earlier"] = len(self.earlier)
        rep["summary"]["unchanged"] = self.unchanged
        rep["inputs"] += [{**r.outcome, "run": "earlier"} for r in self.earlier]
        return rep


def export(
    source: Source,
    sink: Sink,
    options: ConvertOptions,
    *,
    ledger: Ledger | None = None,
    sink_name: str = "",
    executor: Executor | None = None,
    items: Iterable[Item] | None = None,
    on_plan: Callable[[Sequence[Item], int], None] | None = None,
) -> ExportResult:
    """Export every item of ``source`` (or ``items``) to ``sink``, resuming from ``ledger``.

    Parameters
    ----------
    source : dicomsel.io.Source
    sink : dicomsel.io.Sink
        Closed at the end, as :func:`dicomsel.pipeline.run` closes it (also when
        the source cannot list its items).
    options : dicomsel.pipeline.ConvertOptions
    ledger : Ledger or None
        The state of earlier runs; None: a run of its own (as ``convert``).
    sink_name : str
        The sink as named on the command line (its committed length is recorded under it).
    executor : dicomsel.export.Executor or None
    items : iterable of dicomsel.io.Item or None
        The items to export (default: every item the source lists).
    on_plan : callable or None
        Called with the items to convert and the count of those done earlier, before any work.

    Returns
    -------
    ExportResult

    Raises
    ------
    dicomsel.errors.DicomselError
        When the source cannot list its items (a PACS that cannot be reached).
    ValueError
        On invalid options, before any work.
    """
    try:
        listed = list(source.items() if items is None else items)
    except BaseException:  # the run never started: nothing of the sink's is kept
        sink.close(commit=False)
        raise
    if ledger is None:
        if on_plan is not None:
            on_plan(listed, 0)
        return ExportResult(run(source, options, sink, executor, items=listed))
    recorded = ledger.recorded()
    todo: list[Item] = []
    earlier: list[Recorded] = []
    prints: dict[str, str] = {}
    for item in listed:
        mark = fingerprint(source, item)
        prior = recorded.get(item.key)
        if prior is not None and prior.status != "failed" and prior.fingerprint == mark:
            earlier.append(prior)
            continue
        prints[item.key] = mark
        todo.append(item)
    if on_plan is not None:
        on_plan(todo, len(earlier))
    recorder = Recorder(sink, ledger, sink_name, prints)
    batch = run(source, options, recorder, executor, journal=recorder, items=todo)
    if recorder.rejected:  # refused at the end (series, shared): the items fail, and run again
        late = [o for o in batch.outcomes if any(r in recorder.rejected for r in o.resources)]
        for o in late:
            ref = next(r for r in o.resources if r in recorder.rejected)
            if o.status != "failed":
                o.fail(f"{ref}: the sink refused it: {recorder.rejected[ref]}")
        with ledger.transaction():
            for o in late:
                ledger.record_item(o.path, prints.get(o.path, ""), o.as_json())
    batch.written = recorder.written
    return ExportResult(batch, earlier, recorder.unchanged)
