"""dicomsel: DICOM image selections (KOS, SR, SEG, RTSTRUCT, images) to FHIR ImagingSelection.

The public API: read DICOM into the neutral model (:func:`read_file`,
:func:`read_dataset`), convert files and folders to FHIR resources
(:func:`convert`, or :func:`run` for any source and sink), read FHIR back
into the model (:func:`read_fhir`), write KOS documents (:func:`write_kos`),
tabulate SR measurements (:func:`measurements`). What is read tolerantly or
cannot be carried is reported as :class:`Issue` records, never dropped silently.

>>> from dicomsel import read_file, convert
"""

from __future__ import annotations

from typing import Any

from dicomsel.dicom import ReadOptions, ReadResult, read_dataset, read_file
from dicomsel.errors import (
    DicomselError,
    FhirServerError,
    InputWarning,
    InvalidInputError,
    InvalidUIDError,
    Issue,
    LossyMappingWarning,
    MappingError,
    NotDicomError,
    PacsError,
    Severity,
    UnsupportedObjectError,
    Validation,
    ValidationError,
)
from dicomsel.fhir import FhirInput, read_fhir
from dicomsel.io import Item, Sink, Source
from dicomsel.kos import Context, KosOptions, KosResult, write_kos
from dicomsel.measurements import measurements
from dicomsel.model import (
    ActorKind,
    Code,
    Endpoint,
    EndpointKind,
    Identifier,
    IdentifierKind,
    Instance,
    ObservationKind,
    ObservationRecord,
    Performer,
    PerformerFunction,
    Provenance,
    Reference,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
    Selection,
    Status,
)
from dicomsel.pipeline import Batch, ConvertOptions, Outcome, convert, run


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed metadata when first asked (PEP 562).

    importlib.metadata costs tens of milliseconds to import; a conversion that
    never asks for the version does not pay it.
    """
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("dicomsel")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ActorKind",
    "Batch",
    "Code",
    "Context",
    "ConvertOptions",
    "DicomselError",
    "Endpoint",
    "EndpointKind",
    "FhirInput",
    "FhirServerError",
    "Identifier",
    "IdentifierKind",
    "InputWarning",
    "Instance",
    "InvalidInputError",
    "InvalidUIDError",
    "Issue",
    "Item",
    "KosOptions",
    "KosResult",
    "LossyMappingWarning",
    "MappingError",
    "NotDicomError",
    "ObservationKind",
    "ObservationRecord",
    "Outcome",
    "PacsError",
    "Performer",
    "PerformerFunction",
    "Provenance",
    "ReadOptions",
    "ReadResult",
    "Reference",
    "Region2D",
    "Region3D",
    "RegionType2D",
    "RegionType3D",
    "Selection",
    "Severity",
    "Sink",
    "Source",
    "Status",
    "UnsupportedObjectError",
    "Validation",
    "ValidationError",
    "__version__",
    "convert",
    "measurements",
    "read_dataset",
    "read_fhir",
    "read_file",
    "run",
    "write_kos",
]
