"""The two ends of a pipeline run: where items come from and where resources go.

A :class:`Source` lists :class:`Item` references and reads one item into the
neutral model; per-item work receives the reference, never a dataset, so it
can run in another process (or, later, on another machine) that reads the
item itself. A :class:`Sink` takes the resources of a run in output order;
only the driver writes to it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dicomsel.dicom import ReadOptions, ReadResult

__all__ = ["Item", "Sink", "Source", "content_digest", "same_content"]


@dataclass(frozen=True, slots=True)
class Item:
    """A reference to one input of a run.

    Parameters
    ----------
    key : str
        What the item is called in logs and reports, unique in its source: a file's
        path, or an in-memory dataset's place in its source.
    explicit : bool
        Named by the user as it stands (a file that is not DICOM, or of a class no reader
        handles, fails) rather than found in a folder (such a file is skipped).
    missing : str or None
        Why the reference names nothing to read (``"no such file or folder"``); the
        item then fails with this reason.
    sop_class_uid : str or None
        The SOP Class UID when the source knows it before reading (a PACS query
        answer): a source reads an instance of a class no reader handles not at all,
        and only the metadata of a plain image.
    """

    key: str
    explicit: bool = True
    missing: str | None = None
    sop_class_uid: str | None = None


class Source(Protocol):
    """Where the items of a run come from (files and folders, datasets in memory, ...).

    A source is handed to worker processes with the items it lists, so it holds
    settings only (paths, addresses), never open files or connections.
    """

    def items(self) -> Iterator[Item]:
        """Every item of the source, in a stable order."""
        ...

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Read one item into the neutral model.

        Raises
        ------
        dicomsel.errors.DicomselError
            When the item cannot be read (not DICOM, no reader, malformed).
        """
        ...


class Sink(Protocol):
    """Where the resources of a run go; written by the driver only."""

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Take resources, in output order."""
        ...

    def close(self, commit: bool = True) -> None:
        """End the run: make what was written durable, or drop it when ``commit`` is False."""
        ...


def content_digest(source: Source, item: Item) -> bytes | None:
    """A digest of an item's content, telling two copies of one SOP Instance apart.

    The source's own ``digest(item)`` when it has one; else, when the item's key
    names a regular file (:class:`~dicomsel.io.files.FileSource`), SHA-256 of the
    file's bytes; else None (unknown).

    Parameters
    ----------
    source : Source
    item : Item

    Returns
    -------
    bytes or None
    """
    own = getattr(source, "digest", None)
    if callable(own):
        value = own(item)
        return value if isinstance(value, bytes) else None
    if not os.path.isfile(item.key):
        return None
    with open(item.key, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def same_content(source: Source, first: Item, second: Item) -> bool:
    """Whether two items of ``source`` hold the same content (False when it is unknown)."""
    a = content_digest(source, first)
    return a is not None and a == content_digest(source, second)
