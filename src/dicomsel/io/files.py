"""Files and folders: walking inputs in a stable order, and files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

__all__ = ["replace_atomically", "walk"]


def walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, bool | None]]:
    """Every file named by ``paths``, folders searched recursively in sorted order.

    Yields ``(path, explicit)``: ``explicit`` is True for a file named as it
    stands, False for a file found in a folder, and None for a path that
    names nothing (``(folder, None)`` too for a folder that holds no files),
    so that each caller decides whether that is an error.
    """
    for item in paths:
        p = os.fspath(item)
        if os.path.isdir(p):
            found = False
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    found = True
                    yield os.path.join(root, name), False
            if not found:
                yield p, None
        elif os.path.exists(p):
            yield p, True
        else:
            yield p, None


def replace_atomically(path: str, write: Callable[[BinaryIO], object], suffix: str = "") -> None:
    """Write ``path`` through a temporary file in the same folder and a rename.

    ``write`` fills the open temporary file; on any failure it is removed and
    ``path`` is left as it was, so a reader never sees a half-written file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dicomsel-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
