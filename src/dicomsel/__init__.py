"""dicomsel: DICOM image selections (KOS, SR, SEG, RTSTRUCT, images) to FHIR ImagingSelection.

The public API: read DICOM into the neutral model, write the model as FHIR.

>>> from dicomsel import read_file, convert
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dicomsel.dicom import ReadOptions, ReadResult, read_dataset, read_file
from dicomsel.errors import (
    DicomselError,
    InvalidInputError,
    InvalidUIDError,
    LossyMappingWarning,
    MappingError,
    NotDicomError,
    UnsupportedObjectError,
    ValidationError,
)
from dicomsel.model import Instance, Region2D, Region3D, Selection
from dicomsel.pipeline import Batch, ConvertOptions, Outcome, convert

try:
    __version__ = version("dicomsel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Batch",
    "ConvertOptions",
    "DicomselError",
    "Instance",
    "InvalidInputError",
    "InvalidUIDError",
    "LossyMappingWarning",
    "MappingError",
    "NotDicomError",
    "Outcome",
    "ReadOptions",
    "ReadResult",
    "Region2D",
    "Region3D",
    "Selection",
    "UnsupportedObjectError",
    "ValidationError",
    "__version__",
    "convert",
    "read_dataset",
    "read_file",
]
