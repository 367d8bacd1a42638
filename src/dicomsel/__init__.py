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

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from dicomsel.dicom import ReadOptions, ReadResult, read_dataset, read_file
    from dicomsel.fhir import FhirInput, read_fhir
    from dicomsel.io import Item, Sink, Source
    from dicomsel.kos import Context, KosOptions, KosResult, write_kos
    from dicomsel.measurements import measurements
    from dicomsel.pipeline import (  # type: ignore[no-redef]  # run: also a submodule's name
        Batch,
        ConvertOptions,
        Outcome,
        convert,
        run,
    )

#: the public names imported on first use (PEP 562): a command imports only the
#: parts it runs (``dicomsel --help`` no reader, a conversion no KOS writer)
_LAZY = {
    **dict.fromkeys(("ReadOptions", "ReadResult", "read_dataset", "read_file"), "dicomsel.dicom"),
    **dict.fromkeys(("FhirInput", "read_fhir"), "dicomsel.fhir"),
    **dict.fromkeys(("Item", "Sink", "Source"), "dicomsel.io"),
    **dict.fromkeys(("Context", "KosOptions", "KosResult", "write_kos"), "dicomsel.kos"),
    "measurements": "dicomsel.measurements",
    **dict.fromkeys(("Batch", "ConvertOptions", "Outcome", "convert", "run"), "dicomsel.pipeline"),
}


def __getattr__(name: str) -> Any:
    """A public name of :data:`_LAZY`, or ``__version__``, imported when first asked (PEP 562).

    importlib.metadata costs tens of milliseconds to import, and each reader and
    writer a few: a command that never asks for them does not pay for them.
    """
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(import_module(module), name)
        globals()[name] = value
        return value
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
