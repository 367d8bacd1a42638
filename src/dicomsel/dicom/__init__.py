"""DICOM readers, dispatched on SOP Class UID (:mod:`dicomsel.dicom.dispatch`).

Modules: :mod:`~.filereader` (reading a file's header), :mod:`~.dicomjson` (DICOM
JSON input), :mod:`~.guard` (what
malformed bytes raise, as typed errors; the deep-stack retry), :mod:`~.scanner` (raw
element bytes), :mod:`~.tags`, :mod:`~.values`, :mod:`~.context`,
:mod:`~.identity`, :mod:`~.content`, :mod:`~.evidence`, :mod:`~.references`;
one reader per object kind: :mod:`~.kos`, :mod:`~.sr`, :mod:`~.seg`,
:mod:`~.rtstruct`, :mod:`~.image`.
"""

from __future__ import annotations

from dicomsel.dicom.context import ReadContext, ReadOptions, ReadResult
from dicomsel.dicom.dicomjson import read_json_dataset
from dicomsel.dicom.dispatch import READERS, read_dataset, read_file, reader_for
from dicomsel.dicom.filereader import load

__all__ = [
    "READERS",
    "ReadContext",
    "ReadOptions",
    "ReadResult",
    "load",
    "read_dataset",
    "read_file",
    "read_json_dataset",
    "reader_for",
]
