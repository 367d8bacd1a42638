"""Sources and sinks of a pipeline run: files, datasets in memory, PACS, FHIR servers.

The PACS and FHIR-server kinds (:mod:`dicomsel.io.dicomweb`,
:mod:`dicomsel.io.dimse`, :mod:`dicomsel.io.fhirserver`) are imported from their
modules, so that ``import dicomsel`` does not import the network libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomsel.exports import module_getattr
from dicomsel.io.base import Item, Sink, Source
from dicomsel.io.files import FileSink, FileSource

if TYPE_CHECKING:
    from dicomsel.io.memory import DatasetSource, MemorySink

#: PEP 562: the in-memory kinds are imported when first asked for
__getattr__ = module_getattr(
    __name__, globals(), dict.fromkeys(("DatasetSource", "MemorySink"), "dicomsel.io.memory")
)

__all__ = ["DatasetSource", "FileSink", "FileSource", "Item", "MemorySink", "Sink", "Source"]
