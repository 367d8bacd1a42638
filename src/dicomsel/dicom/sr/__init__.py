"""Structured Report reader: TID 1500 measurement reports and any other SR.

Follows the HL7 "DICOM SR to FHIR Resource Mapping" IG (hl7.fhir.uv.dicom-sr)
for what to produce; docs/sr.md gives the mapping and where it differs.

Selections (keys ``sr|...``, unique in one document):

- each SCOORD: an Image Region (DCM 111030) of the image it is SELECTED FROM,
  with its frames and the Graphic Data as the 2D region;
- each SCOORD3D: a region in its frame of reference, anchored on the SR
  instance itself (subset = the item's Observation UID when it has one);
- each IMAGE item with Referenced Segment Numbers: the SEG instance with
  those segments (DCM 121191 Referenced Segment);
- other IMAGE / COMPOSITE / WAVEFORM items: per (measurement group or
  document, concept, series), the instances they name;
- every content item that becomes an observation and has an Observation UID:
  the SR instance with that UID (DCM 111040 Original Source);
- instances of the Current Requested Procedure and Pertinent Other Evidence
  that the content tree does not select: one selection per series.

Observations: a record per Measurement Group (DCM 125007) with members for
its NUM items (measurements) and qualitative CODE / TEXT items; NUM items
outside groups become measurements on their own unless they are context.

Reading is tolerant: a content item that cannot be read is reported and
left out; the rest of the document still converts. highdicom's parser is not
used: real files break it.

Modules: :mod:`~.concepts` (codes and concept names), :mod:`~.items` (reading
content items, from raw bytes when it can), :mod:`~.tree` (nodes, the walk,
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
