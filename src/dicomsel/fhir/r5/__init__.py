"""The FHIR R5 5.0.0 flavour (``--fhir r5``): write, read and validate ImagingSelections.

The flavour interface (:class:`dicomsel.fhir.base.Flavour`): :data:`NAME`,
:func:`write`, :func:`validate`.
"""

from __future__ import annotations

from dicomsel.fhir.ids import endpoint_id, key_id, selection_id
from dicomsel.fhir.r5.read import from_imaging_selection
from dicomsel.fhir.r5.validate import (
    REGION_2D_CODES,
    REGION_3D_CODES,
    STATUS_CODES,
    validate,
    validate_r5,
)
from dicomsel.fhir.r5.write import NAME, to_imaging_selection, write

__all__ = [
    "NAME",
    "REGION_2D_CODES",
    "REGION_3D_CODES",
    "STATUS_CODES",
    "endpoint_id",
    "from_imaging_selection",
    "key_id",
    "selection_id",
    "to_imaging_selection",
    "validate",
    "validate_r5",
    "write",
]
