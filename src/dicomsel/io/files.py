"""Files and folders: the file source, the file sink, and files written whole or not at all."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.fhir import serialise
from dicomsel.fhir.xml import serialise_xml
from dicomsel.io.base import Item

__all__ = ["FileSink", "FileSource", "replace_atomically", "walk", "write_text"]


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


@dataclass(frozen=True, slots=True)
class FileSource:
    """DICOM files, and folders searched recursively, in the order given (folders sorted).

    Parameters
    ----------
    paths : sequence of str
        Files and folders.
    """

    paths: Sequence[str]

    def items(self) -> Iterator[Item]:
        """One item per file; a path naming nothing (or an empty folder) is a missing item."""
        for path, explicit in walk(self.paths):
            if explicit is None:
                why = "folder holds no files" if os.path.isdir(path) else "no such file or folder"
                yield Item(path, missing=why)
            else:
                yield Item(path, explicit)

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Read the file ``item`` names (header only)."""
        return read_file(item.key, options)


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


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` (``-``: standard output), never half-written."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    replace_atomically(path, lambda f: f.write(text.encode("utf-8")))


@dataclass(slots=True)
class FileSink:
    """A run's resources as one FHIR document: a Bundle (JSON or XML) or NDJSON.

    The document is written when the run ends (a Bundle needs all its entries to
    resolve references), to ``path`` through a temporary file and a rename, or to
    standard output for ``-``.

    Parameters
    ----------
    path : str
        Output file, or ``-``.
    fmt : str
        ``bundle``, ``transaction`` or ``ndjson`` (:data:`dicomsel.fhir.FORMATS`).
    flavour : str
        The FHIR flavour the resources are in (for XML element order).
    xml : bool
        Write FHIR XML (Bundles only).
    """

    path: str
    fmt: str = "bundle"
    flavour: str = "r5"
    xml: bool = False
    resources: list[dict[str, Any]] = field(default_factory=list)

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Take resources, in output order."""
        self.resources.extend(resources)

    def close(self, commit: bool = True) -> None:
        """Write the document (or nothing, without ``commit``)."""
        resources, self.resources = self.resources, []
        if not commit:
            return
        if self.xml:
            text = serialise_xml(resources, self.fmt, self.flavour)
        else:
            text = serialise(resources, self.fmt)
        write_text(self.path, text)
