"""Sources and sinks of a pipeline run: files and datasets in memory today.

DICOMweb, DIMSE and FHIR-server kinds arrive with the export job; each
implements :class:`Source` or :class:`Sink`.
"""

from __future__ import annotations

from dicomsel.io.base import Item, Sink, Source
from dicomsel.io.files import FileSink, FileSource
from dicomsel.io.memory import DatasetSource, MemorySink

__all__ = ["DatasetSource", "FileSink", "FileSource", "Item", "MemorySink", "Sink", "Source"]
