"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["replace_atomically"]


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
