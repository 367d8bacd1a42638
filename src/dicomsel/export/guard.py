"""The per-item guard: a time limit on one item's work, and any exception described.

A batch never stops on one input. Whatever one item's reading or conversion
raises (``MemoryError``, ``RecursionError``, ``zlib.error``, ``struct.error``,
pydicom's own errors, ...) becomes that item's failed outcome, described by
:func:`describe` (type, message and, when a frame of the traceback shows it,
the element being read). :func:`time_limit` bounds the time one item may
take; ``KeyboardInterrupt`` and ``SystemExit`` are never swallowed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

__all__ = ["ItemTimeout", "can_limit_time", "describe", "element_of", "time_limit"]

#: local variable names, in the frames of a traceback, that hold the element being read
_ELEMENT_LOCALS = ("tag", "elem", "raw", "data_element", "element")


class ItemTimeout(BaseException):
    """One item's work took longer than its time limit.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that no ``except Exception``
    in a reader or in pydicom takes it for a problem of the element it interrupted.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"took longer than {seconds:g} s")


def can_limit_time() -> bool:
    """Whether :func:`time_limit` is enforced here (POSIX, on the main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`ItemTimeout` in the block when it runs longer than ``seconds``.

    The limit is a real-time interval timer (``SIGALRM``), so it interrupts the
    Python code of this thread wherever it is, including a long loop in pydicom.
    It can only be set on the main thread of a process (the CLI's, and each
    worker process's); elsewhere, or with ``seconds`` None or 0, there is no limit.

    Parameters
    ----------
    seconds : float or None
    """
    if not seconds or seconds <= 0 or not can_limit_time():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise ItemTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def element_of(error: BaseException) -> str | None:
    """The DICOM element being read when ``error`` was raised, as ``(gggg,eeee) Keyword``.

    Looked for in the traceback's frames, innermost first: a local variable named
    like an element or a tag (pydicom's parser and converters hold one). None
    when no frame shows one.
    """
    from pydicom.datadict import keyword_for_tag

    frames: list[Any] = []
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        local = frame.f_locals
        for name in _ELEMENT_LOCALS:
            value = local.get(name)
            tag = getattr(value, "tag", value)
            if isinstance(tag, int) and not isinstance(tag, bool) and 0 <= tag <= 0xFFFFFFFF:
                text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
                keyword = keyword_for_tag(tag)
                return f"{keyword} {text}" if keyword else text
    return None


def describe(error: BaseException) -> str:
    """One line for an unexpected exception: the element (when known), type and message.

    Parameters
    ----------
    error : BaseException

    Returns
    -------
    str
        E.g. ``"ReferencedSOPSequence (0008,1199): zlib.error: Error -3 while
        decompressing data"``.
    """
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{name}: {message}" if message else name
    element = element_of(error)
    return f"{element}: {text}" if element else text
