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

from typing import TYPE_CHECKING

from dicomsel import exports
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

#: PEP 562: the public names of :data:`dicomsel.exports.LAZY`, and ``__version__``,
#: imported when first asked
__getattr__ = exports.module_getattr(__name__, globals())

# fmt: off
__all__ = [
    "ActorKind", "Batch", "Code", "Context", "ConvertOptions", "DicomselError", "Endpoint",
    "EndpointKind", "FhirInput", "FhirServerError", "Identifier", "IdentifierKind", "InputWarning",
    "Instance", "InvalidInputError", "InvalidUIDError", "Issue", "Item", "KosOptions", "KosResult",
    "LossyMappingWarning", "MappingError", "NotDicomError", "ObservationKind", "ObservationRecord",
    "Outcome", "PacsError", "Performer", "PerformerFunction", "Provenance", "ReadOptions",
    "ReadResult", "Reference", "Region2D", "Region3D", "RegionType2D", "RegionType3D", "Selection",
    "Severity", "Sink", "Source", "Status", "UnsupportedObjectError", "Validation",
    "ValidationError", "__version__", "convert", "measurements", "read_dataset", "read_fhir",
    "read_file", "run", "write_kos",
]
# fmt: on
