"""What malformed bytes raise, as typed errors; the deep-stack retry for deep nesting.

- :data:`PARSE_ERRORS` is what pydicom, zlib and struct raise on malformed bytes
  and values; :func:`parse_error` turns one into an
  :class:`~dicomsel.errors.InvalidInputError` naming the file, the element
  pydicom was reading or converting (from the traceback) and the reason;
- :func:`deep_call` runs a read again on a thread with a large stack when it hit
  the recursion limit: pydicom parses nested sequences recursively, and lazily,
  so the whole read (header and reader) is what is retried.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import pydicom
from pydicom.errors import BytesLengthException

from dicomsel.errors import InvalidInputError
from dicomsel.redact import redact

__all__ = ["PARSE_ERRORS", "deep_call", "parse_error"]

_T = TypeVar("_T")

#: what pydicom, zlib and struct raise on malformed bytes, values pydicom converts
#: lazily included (an IS of "inf" is an OverflowError, a bad date a ValueError); a
#: MemoryError is a declared length or a deflated stream too large for the memory
#: the process may use
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
    struct.error,
    zlib.error,
    BytesLengthException,
)
_PYDICOM_DIR = os.path.dirname(pydicom.__file__)


def _element_of(tb: TracebackType | None) -> str | None:
    """The tag of the element pydicom was reading or converting, from a traceback."""
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.startswith(_PYDICOM_DIR):
            local = frame.f_locals
            # an element object's tag, else a full (group << 16 | element) tag number
            for name in ("raw", "data_element", "elem", "tag"):
                value = local.get(name)
                tag = getattr(value, "tag", value if name == "tag" else None)
                if isinstance(tag, int) and not isinstance(tag, bool):
                    found = tag
                    break
        tb = tb.tb_next
    if found is None:
        return None
    return f"({found >> 16 & 0xFFFF:04X},{found & 0xFFFF:04X})"


def parse_error(e: BaseException, path: str | None) -> InvalidInputError:
    """The :class:`~dicomsel.errors.InvalidInputError` for what pydicom (or zlib) raised.

    Parameters
    ----------
    e : BaseException
        One of :data:`PARSE_ERRORS`, caught while reading or converting ``path``.
    path : str or None
        The file.

    Returns
    -------
    dicomsel.errors.InvalidInputError
        Naming the file, the element being read when the traceback shows it,
        and the reason.
    """
    where = _element_of(e.__traceback__)
    if where is not None:
        try:
            keyword = pydicom.datadict.keyword_for_tag(int(where[1:5] + where[6:10], 16))
        except (ValueError, KeyError):  # pragma: no cover - the tag is hex by construction
            keyword = ""
        where = f"{keyword} {where}" if keyword else where
    if isinstance(e, MemoryError):
        reason = "a declared length or deflated stream is larger than the memory allowed"
    elif isinstance(e, zlib.error):
        reason = f"corrupt deflated data (zlib: {e})"
    else:
        text = str(e)
        reason = f"cannot be parsed ({type(e).__name__}: {redact(text[:200])})"
    return InvalidInputError(reason, path=path, attribute=where)


#: pydicom parses nested sequences recursively, about five Python frames a level, so a
#: content tree a few hundred levels deep exceeds the default recursion limit. Such a
#: file is parsed again on a thread with a large stack and a higher limit. pydicom's
#: lazy parse copies each level's bytes again (time grows with the square of the
#: depth: 3,000 levels take seconds), so the limit there is a ceiling on nesting too.
_DEEP_STACK_BYTES = 256 * 1024 * 1024
_DEEP_RECURSION_LIMIT = 15_000  # about 2,500 levels of nesting


_DEEP_THREAD = "dicomsel-deep-read"


def deep_call(fn: Callable[[], _T], path: str | None) -> _T:
    """Call ``fn`` again on a thread with a large stack, after it hit the recursion limit.

    Parameters
    ----------
    fn : callable
        The whole read (parsing and the lazy conversions a reader triggers).
    path : str or None
        The file, for the message.

    Returns
    -------
    object
        What ``fn`` returns.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the nesting is too deep even there; what ``fn`` raises otherwise.
    """
    too_deep = InvalidInputError(
        "sequences nested too deeply to parse (more than about 2,500 levels)", path=path
    )
    if threading.current_thread().name == _DEEP_THREAD:
        raise too_deep  # already on the deep stack
    done: list[_T] = []
    failed: list[BaseException] = []

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION_LIMIT))
        try:
            done.append(fn())
        except BaseException as e:  # handed to the calling thread
            failed.append(e)
        finally:
            sys.setrecursionlimit(old)

    try:
        old_size = threading.stack_size(_DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):  # pragma: no cover - platform without the setting
        old_size = None
    try:
        worker = threading.Thread(target=run, name=_DEEP_THREAD)
        worker.start()
        worker.join()
    finally:
        if old_size is not None:
            threading.stack_size(old_size)
    if failed:
        if isinstance(failed[0], RecursionError):
            raise too_deep from failed[0]
        raise failed[0]
    return done[0]
