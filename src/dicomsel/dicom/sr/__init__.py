"""Structured Report reader: TID 1500 measurement reports and any other SR.

Follows the HL7 "DICOM SR to FHIR Resource Mapping" IG (hl7.fhir.uv.dicom-sr)
for what to produce; docs/sr.md gives the mapping and where it differs.

Selections (keys ``sr|...``, unique in one document) are the regions, image,
segment and evidence references of the document (:mod:`~.selections` lists
them); observations are its TID 1500 measurement groups and the measurements
and evaluations in them (:mod:`~.measurements`).

Reading is tolerant: a content item that cannot be read is reported and
left out; the rest of the document still converts. highdicom's parser is not
used: real files break it. Content items are read with the accessors of
:mod:`dicomsel.dicom.items` (from raw bytes when they can).

Modules: :mod:`~.concepts` (codes and concept names), :mod:`~.tree` (nodes, the walk,
by-reference items), :mod:`~.header` (document header), :mod:`~.selections`,
:mod:`~.measurements`, :mod:`~.reader` (:func:`read_sr`).
"""

from __future__ import annotations

from dicomsel.dicom.sr.concepts import (
    EVIDENCE_CODE,
    IMAGE_REGION,
    MEASUREMENT_GROUP,
    ORIGINAL_SOURCE,
    REFERENCED_SEGMENT,
    SOP_CLASS_UIDS,
)
from dicomsel.dicom.sr.reader import read_sr

__all__ = [
    "EVIDENCE_CODE",
    "IMAGE_REGION",
    "MEASUREMENT_GROUP",
    "ORIGINAL_SOURCE",
    "REFERENCED_SEGMENT",
    "SOP_CLASS_UIDS",
    "read_sr",
]
