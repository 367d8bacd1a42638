"""The command line's stderr: log lines without PHI, a progress bar, the summary line.

stderr carries one line per event, ``dicomsel: LEVEL: message``; at default
verbosity errors, warnings and notices (a skipped file, the summary at the
end), with ``-v`` info and with ``-vv`` debug output and tracebacks. Every line
goes through :func:`dicomsel.redact.redact` below ``-vv`` (a second line of
defence: the readers redact their own messages). The progress bar is drawn
only when stderr is a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from dicomsel.redact import redact

__all__ = ["NOTICE", "ProgressExecutor", "Summary", "mask_values", "setup_logging"]

log = logging.getLogger("dicomsel")

#: between INFO and WARNING: shown at default verbosity, without a level word
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

T = TypeVar("T")
R = TypeVar("R")


class _Formatter(logging.Formatter):
    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity
        self.values: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if self.verbosity < 2:
            message = redact(message, self.values)
        if record.levelno == NOTICE:
            text = f"dicomsel: {message}"
        else:
            text = f"dicomsel: {record.levelname.lower()}: {message}"
        if self.verbosity >= 2:
            if record.exc_info:
                text += "\n" + self.formatException(record.exc_info)
            elif record.exc_text:
                text += "\n" + record.exc_text
        return text


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines to stderr; above a progress bar while one is drawn."""

    bar: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.bar is None:
            super().emit(record)
            return
        try:
            self.bar.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


_handler: _Handler | None = None


def setup_logging(verbosity: int, stream: IO[str] | None = None) -> None:
    """Send the ``dicomsel`` logger to stderr at ``verbosity`` (0, ``-v`` 1, ``-vv`` 2)."""
    global _handler
    _handler = _Handler(stream if stream is not None else sys.stderr)
    _handler.setFormatter(_Formatter(verbosity))
    log.handlers[:] = [_handler]
    log.propagate = False
    # pydicom logs what it also warns; its warnings are collected into the report instead
    pydicom_log = logging.getLogger("pydicom")
    if not any(isinstance(h, logging.NullHandler) for h in pydicom_log.handlers):
        pydicom_log.addHandler(logging.NullHandler())
    pydicom_log.propagate = False
    log.setLevel(NOTICE if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG)


def mask_values(values: Iterable[str]) -> None:
    """Mask ``values`` (an input's patient identity: IDs, names, birth dates) in every line.

    A subcommand that knows them (``to-kos``: its Patients and context files) hands
    them here; below ``-vv`` no log line shows them.
    """
    if _handler is not None and isinstance(_handler.formatter, _Formatter):
        _handler.formatter.values.update(v for v in values if v and v.strip())


@dataclass(slots=True)
class Summary:
    """Outcomes counted as items come back, and when the run started."""

    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        """Count one input ending with ``status``."""
        self.counts[status] = self.counts.get(status, 0) + 1

    def line(self, counts: dict[str, int], resources: int) -> str:
        """The summary line: ``3 converted, 1 skipped, 0 failed; 12 resource(s) in 1.2 s``."""
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        return f"{parts}; {resources} resource(s) in {time.monotonic() - self.started:.1f} s"


def _draw_bar(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(slots=True)
class ProgressExecutor:
    """An executor (:class:`dicomsel.export.Executor`) counting the items that come back.

    It wraps the executor that does the work: as each batch of results returns
    to the driver it logs the skipped items at default verbosity (``-v`` shows the
    pipeline's own line instead), counts outcomes for the summary, and moves the
    progress bar (count, rate, ETA) when stderr is a terminal.

    Parameters
    ----------
    inner : dicomsel.export.Executor
        Where the work runs.
    total : int or None
        How many items the run has, for the ETA (None: count and rate only).
    verbosity : int
    stream : file or None
        Where the bar goes (default stderr); no bar unless it is a terminal.
    """

    inner: Any
    total: int | None = None
    verbosity: int = 0
    stream: Any = None
    summary: Summary = field(default_factory=Summary)

    @property
    def draws(self) -> bool:
        """Whether a progress bar is drawn (stderr is a terminal)."""
        return _draw_bar(self.stream if self.stream is not None else sys.stderr)

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        """The inner executor's results, counted as they come back."""
        bar = self._open_bar()
        try:
            for results in self.inner.map(fn, batches):
                for result in results:
                    self._seen(result)
                if bar is not None:
                    bar.set_postfix_str(self._postfix(), refresh=False)
                    bar.update(len(results))
                yield results
        finally:
            if bar is not None:
                bar.close()
                if _handler is not None:
                    _handler.bar = None

    def _open_bar(self) -> Any:
        if not self.draws:
            return None
        from tqdm import tqdm

        bar = tqdm(
            total=self.total,
            unit="file",
            file=self.stream if self.stream is not None else sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )
        if _handler is not None:
            _handler.bar = tqdm
        return bar

    def _postfix(self) -> str:
        c = self.summary.counts
        return ", ".join(f"{c.get(s, 0)} {s}" for s in ("converted", "skipped", "failed"))

    def _seen(self, result: Any) -> None:
        outcome = getattr(result, "outcome", None)
        status = getattr(outcome, "status", None)
        if not isinstance(status, str):
            return
        self.summary.add(status)
        if status == "skipped" and self.verbosity == 0:
            log.log(NOTICE, "skipped %s: %s", outcome.path, outcome.reason)  # type: ignore[union-attr]
