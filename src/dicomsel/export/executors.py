"""Executors: where the per-item work of a run happens, results back in submission order.

The driver cuts its items into batches and hands an executor a function of one
batch; the executor returns each batch's results in the order the batches were
given, whatever order they finish in, so the output never depends on it. A
distributed engine plugs in here by implementing :class:`Executor`.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "EXECUTORS",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "executor_for",
    "local_executor",
]

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("dicomsel")

#: the kinds of executor :func:`executor_for` makes (``--executor``)
EXECUTORS = ("local", "dask")


class Executor(Protocol):
    """Runs a function over batches of work, yielding each batch's result in order."""

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """``fn(batch)`` for every batch, results in the order of ``batches``.

        ``fn`` and the batches may be sent to other processes: they must pickle.
        """
        ...


@dataclass(frozen=True, slots=True)
class SerialExecutor:
    """Every batch in this process, one after the other."""

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """``fn(batch)`` for each batch, as it is asked for."""
        for batch in batches:
            yield fn(batch)


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


def _captured(fn: Callable[[list[T]], list[R]], batch: list[T]) -> tuple[list[R], list[Any]]:
    out = fn(batch)
    records: list[Any] = []
    if _capture is not None:
        records, _capture.records = _capture.records, []
    return out, records


def _context() -> Any:
    import multiprocessing  # with concurrent.futures.process, only for --jobs > 1

    # fork starts workers fastest, with everything imported; it is safe here because
    # the executor forks before it starts threads. macOS and Windows keep their default.
    if sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


@dataclass(frozen=True, slots=True)
class ProcessExecutor:
    """Batches in ``jobs`` worker processes; their log records are replayed here, in order.

    At most ``4 * jobs`` batches are in flight, so memory stays bounded however
    many batches there are.
    """

    jobs: int

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """``fn(batch)`` in the workers, results in the order of ``batches``."""
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=_context(),
            initializer=_worker_init,
            initargs=(log.getEffectiveLevel(),),
        )
        window: deque[Future[tuple[list[R], list[Any]]]] = deque()
        try:
            for batch in batches:
                window.append(pool.submit(_captured, fn, batch))
                while len(window) >= 4 * self.jobs:
                    yield self._replayed(window.popleft().result())
            while window:
                yield self._replayed(window.popleft().result())
        finally:
            pool.shutdown(wait=not window, cancel_futures=True)

    @staticmethod
    def _replayed(done: tuple[list[R], list[Any]]) -> list[R]:
        out, records = done
        for record in records:
            log.handle(record)
        return out


def local_executor(jobs: int) -> Executor:
    """This process for one job, else a pool of ``jobs`` worker processes."""
    if jobs <= 1:
        return SerialExecutor()
    return ProcessExecutor(jobs)


def executor_for(kind: str, jobs: int, scheduler: str | None = None) -> Executor:
    """The executor ``--executor``, ``--jobs`` and ``--scheduler`` ask for.

    Parameters
    ----------
    kind : str
        ``local`` (:func:`local_executor`) or ``dask``
        (:class:`~dicomsel.export.dask.DaskExecutor`).
    jobs : int
        Local worker processes; with ``dask`` and no scheduler, the LocalCluster's workers.
    scheduler : str or None
        A Dask scheduler's address to join (``dask`` only).

    Returns
    -------
    Executor

    Raises
    ------
    ValueError
        On an unknown kind, or a scheduler without ``dask``.
    ImportError
        For ``dask`` when Dask is not installed (the message says how to install it).
    """
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}: give one of {', '.join(EXECUTORS)}")
    if kind == "local":
        if scheduler is not None:
            raise ValueError("a scheduler address needs the dask executor")
        return local_executor(jobs)
    from dicomsel.export.dask import DaskExecutor

    return DaskExecutor(scheduler=scheduler, workers=max(1, jobs))
