"""The reverse path: selections (from FHIR ImagingSelection) -> DICOM Key Object Selection.

:func:`write_kos` builds one KOS per patient and document title;
:class:`Context` supplies what the selections do not say (patient and study
attributes, SOP classes) from DICOM files and the input's Patient resources.
"""

from __future__ import annotations

from dicomsel.kos.context import Context, InstanceData, PatientData, StudyData
from dicomsel.kos.writer import (
    KOS_SOP_CLASS_UID,
    KosOptions,
    KosResult,
    check_uid_root,
    kos_uid,
    parse_content_datetime,
    value_type,
    write_kos,
)

__all__ = [
    "KOS_SOP_CLASS_UID",
    "Context",
    "InstanceData",
    "KosOptions",
    "KosResult",
    "PatientData",
    "StudyData",
    "check_uid_root",
    "kos_uid",
    "parse_content_datetime",
    "value_type",
    "write_kos",
]
