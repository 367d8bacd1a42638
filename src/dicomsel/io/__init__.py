"""Sources and sinks of a pipeline run: files, datasets in memory, PACS, FHIR servers.

The PACS and FHIR-server kinds (:mod:`dicomsel.io.dicomweb`,
:mod:`dicomsel.io.dimse`, :mod:`dicomsel.io.fhirserver`) are imported from their
modules, so that ``import dicomsel`` does not import the network libraries.
"""

from __future__ import annotations

from dicomsel.io.base import Item, Sink, Source
from dicomsel.io.files import FileSink, FileSource
from dicomsel.io.memory import DatasetSource, MemorySink

__all__ = ["DatasetSource", "FileSink", "FileSource", "Item", "MemorySink", "Sink", "Source"]
