"""The Dask executor: per-item work on a Dask cluster, results back in submission order.

:class:`DaskExecutor` implements :class:`dicomsel.export.Executor` on
``dask.distributed``: it joins a running cluster (a scheduler address) or starts
a ``LocalCluster`` of worker processes on loopback, and submits the driver's
batches as tasks. Several consecutive pipeline batches go in one task (about
``batch_size`` items, 250 by default), because a task per file costs more than
the file does; each batch's result still comes back on its own, in the order
given, so the pipeline (its batches of 16, its ledger checkpoints) is unchanged.
The number of tasks in flight is bounded, so the driver's memory is too.

On a worker a task runs on a worker thread, where ``--item-timeout`` cannot be
enforced (:func:`dicomsel.export.guard.can_limit_time`): there is no per-item
time limit on Dask.

A task holds the work function (the source with its settings: paths, a base URL,
an AE title; never a credential, which a worker reads from its own environment)
and item references. A task whose worker is lost is run again by Dask; only the
driver writes the sink and the ledger, and it takes each task's result once, so
a retried task is written once. The workers' ``dicomsel`` log records come back
with the results and are logged here, in order, as the process pool does.

Dask is an optional dependency (``pip install 'dicomsel[dask]'``), imported
when an executor is made.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dicomsel.errors import DicomselError

__all__ = ["DEFAULT_TASK_SIZE", "INSTALL_HINT", "DaskExecutor", "require_dask"]

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("dicomsel")

#: items per Dask task: a task costs a scheduler round trip, pickling the work function and
#: the results' transfer; 250 was the fastest of 16, 100, 250 and 500 on 2,000 and 8,000
#: files (bench/bench_dask.py, docs/scale-out.md), and still makes many tasks per worker
DEFAULT_TASK_SIZE = 250

#: how to get Dask
INSTALL_HINT = "pip install 'dicomsel[dask]'"


def require_dask() -> Any:
    """``dask.distributed``, or an ImportError that says how to install it.

    Returns
    -------
    module
        ``distributed``.

    Raises
    ------
    ImportError
        When ``dask.distributed`` is not installed; the message names
        :data:`INSTALL_HINT`.
    """
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"the Dask executor needs dask.distributed: {INSTALL_HINT}") from e
    return distributed


@dataclass(frozen=True, slots=True)
class DaskExecutor:
    """Batches as tasks on a Dask cluster, results in the order of the batches.

    Parameters
    ----------
    scheduler : str or None
        The address of a running scheduler (``tcp://host:8786``) to join; None:
        a ``LocalCluster`` of ``workers`` processes (one thread each) on
        127.0.0.1, dashboard off, started and closed by each :meth:`map`.
    workers : int
        The LocalCluster's worker processes (not used with ``scheduler``).
    batch_size : int or None
        Items per task (whole pipeline batches are grouped up to at least this
        many); None: :data:`DEFAULT_TASK_SIZE`.
    retries : int
        How often Dask runs a task again that raised, and (on the LocalCluster
        this executor starts) how many lost workers a task survives; a cluster
        joined by address keeps its own ``distributed.scheduler.allowed-failures``.

    Raises
    ------
    ImportError
        When ``dask.distributed`` is not installed (:func:`require_dask`).
    ValueError
        On fewer than one worker, a batch size below one or negative retries.
    """

    scheduler: str | None = None
    workers: int = 2
    batch_size: int | None = None
    retries: int = 3

    def __post_init__(self) -> None:
        require_dask()
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")

    @property
    def task_size(self) -> int:
        """Items per task: ``batch_size``, or :data:`DEFAULT_TASK_SIZE`."""
        return self.batch_size or DEFAULT_TASK_SIZE

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """``fn(batch)`` on the cluster for every batch, results in the order of ``batches``.

        Parameters
        ----------
        fn : callable
            The work on one batch; pickled into every task.
        batches : iterable of list

        Yields
        ------
        list
            ``fn(batch)``, batch by batch.

        Raises
        ------
        dicomsel.errors.DicomselError
            When the scheduler cannot be reached, or a task failed after its
            retries (a worker lost too often, the package missing on a worker).
        """
        distributed = require_dask()
        cluster, client = self._connect(distributed)
        window: deque[tuple[Any, int]] = deque()
        level = log.getEffectiveLevel()
        try:
            for group in _groups(batches, self.task_size):
                future = client.submit(
                    _run_task, fn, group, level, os.getpid(), pure=False, retries=self.retries
                )
                window.append((future, sum(len(b) for b in group)))
                while len(window) >= _in_flight(client):
                    yield from self._done(*window.popleft())
            while window:
                yield from self._done(*window.popleft())
        finally:
            if window:
                client.cancel([f for f, _ in window])
            client.close()
            if cluster is not None:
                cluster.close()

    def _connect(self, distributed: Any) -> tuple[Any, Any]:
        """The cluster this executor started (None when joined by address), and a client."""
        if self.scheduler is not None:
            try:
                client = distributed.Client(self.scheduler, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise DicomselError(
                    f"cannot reach the Dask scheduler: {e}", path=self.scheduler
                ) from e
            log.info("Dask: joined %s (%d workers)", self.scheduler, len(client.nthreads()))
            return None, client
        import dask

        with dask.config.set({"distributed.scheduler.allowed-failures": self.retries}):
            cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                worker_dashboard_address=None,
                # no dashboard; its HTTP server (health checks) on a free loopback port, not 8787
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            )
        try:
            client = distributed.Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        log.info("Dask: LocalCluster of %d workers at %s", self.workers, cluster.scheduler_address)
        return cluster, client

    def _done(self, future: Any, items: int) -> Iterator[list[R]]:
        """One task's batches, each after its workers' log records."""
        try:
            done = future.result()
        except DicomselError:
            raise
        except Exception as e:  # the task failed for good on the cluster
            raise DicomselError(
                f"Dask: a task of {items} item(s) failed after {self.retries} retries: "
                f"{type(e).__name__}: {e}"
            ) from e
        for results, records in done:
            for record in records:
                log.handle(record)
            yield results


def _in_flight(client: Any) -> int:
    """How many tasks may be in flight: two per worker thread, at least two."""
    threads: int = sum(client.nthreads().values())
    return max(2, 2 * threads)


def _groups(batches: Iterable[list[T]], size: int) -> Iterator[list[list[T]]]:
    """Consecutive batches, grouped until a group holds at least ``size`` items."""
    group: list[list[T]] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += len(batch)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


class _ThreadCapture(logging.Handler):
    """A worker's ``dicomsel`` log records, kept per task thread to be shipped to the driver."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[int, list[logging.LogRecord]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        kept = self.kept.get(record.thread or 0)
        if kept is None:  # not a task's thread: nobody to ship it to
            return
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        kept.append(record)


_capture: _ThreadCapture | None = None
_capture_lock = threading.Lock()


def _worker_capture(level: int) -> _ThreadCapture:
    """This worker process's capture, installed on the ``dicomsel`` logger once."""
    global _capture
    with _capture_lock:
        if _capture is None:
            _capture = _ThreadCapture()
            logger = logging.getLogger("dicomsel")
            logger.handlers[:] = [_capture]
            logger.propagate = False
        logging.getLogger("dicomsel").setLevel(level)
        return _capture


def _run_task(
    fn: Callable[[list[T]], list[R]], group: list[list[T]], level: int, driver: int
) -> list[tuple[list[R], list[logging.LogRecord]]]:
    """One task, on a worker: ``fn`` over each batch of the group, each with its log records."""
    if os.getpid() == driver:  # a worker thread of the driver's own process: it logs itself
        return [(fn(batch), []) for batch in group]
    capture = _worker_capture(level)
    me = threading.get_ident()
    out: list[tuple[list[R], list[logging.LogRecord]]] = []
    try:
        for batch in group:
            capture.kept[me] = []
            results = fn(batch)
            out.append((results, capture.kept[me]))
    finally:
        capture.kept.pop(me, None)
    return out
