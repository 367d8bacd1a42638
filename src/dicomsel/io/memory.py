"""In-memory ends of a pipeline: datasets already read, and resources kept in a list."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dicomsel.dicom import ReadOptions, ReadResult, read_dataset
from dicomsel.io.base import Item

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["DatasetSource", "MemorySink"]


@dataclass(frozen=True, slots=True)
class DatasetSource:
    """pydicom datasets in memory, each an item named ``<name>[<index>]``.

    Parameters
    ----------
    datasets : sequence of pydicom.dataset.Dataset
        The datasets, read as :func:`dicomsel.read_dataset` reads one.
    name : str
        What the items are called in reports.
    """

    datasets: Sequence[Dataset]
    name: str = "dataset"

    def items(self) -> Iterator[Item]:
        """One item per dataset, in order."""
        for i in range(len(self.datasets)):
            yield Item(f"{self.name}[{i}]")

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Read the dataset ``item`` names."""
        return read_dataset(self.datasets[self._index(item)], item.key, options)

    def digest(self, item: Item) -> bytes:
        """SHA-256 of the dataset ``item`` names, written as a DICOM file in memory."""
        from pydicom import dcmwrite

        ds = self.datasets[self._index(item)]
        buffer = io.BytesIO()
        try:
            dcmwrite(buffer, ds)
        except (ValueError, AttributeError):  # built in memory: no encoding of its own
            buffer = io.BytesIO()
            dcmwrite(buffer, ds, implicit_vr=False, little_endian=True)
        return hashlib.sha256(buffer.getvalue()).digest()

    @staticmethod
    def _index(item: Item) -> int:
        return int(item.key.rpartition("[")[2].rstrip("]"))


@dataclass(slots=True)
class MemorySink:
    """Resources kept in a list, in output order."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Append resources."""
        self.resources.extend(resources)

    def close(self, commit: bool = True) -> None:
        """Mark the run ended; without ``commit`` the resources are dropped."""
        if not commit:
            self.resources.clear()
        self.closed = True
