"""The reverse path: selections (from FHIR ImagingSelection) -> DICOM Key Object Selection.

:func:`write_kos` builds one KOS per patient and document title;
:class:`Context` supplies what the selections do not say (patient and study
attributes, SOP classes) from DICOM files and the input's Patient resources.

Modules, in the order of the data flow: ``context`` (what the selections do
not say), ``plan`` (documents per patient and title, merged references, what
is lost), ``content`` (TID 2010 content items), ``sop`` (the other IOD
modules, file meta), ``uids`` (new UIDs), ``values`` (VR checks, value types),
``writer`` (:func:`write_kos`).
"""

from __future__ import annotations

from dicomsel.kos.context import Context, InstanceData, PatientData, StudyData
from dicomsel.kos.sop import KOS_SOP_CLASS_UID
from dicomsel.kos.uids import kos_uid
from dicomsel.kos.values import value_type
from dicomsel.kos.writer import KosOptions, KosResult, write_kos

__all__ = [
    "KOS_SOP_CLASS_UID",
    "Context",
    "InstanceData",
    "KosOptions",
    "KosResult",
    "PatientData",
    "StudyData",
    "kos_uid",
    "value_type",
    "write_kos",
]
