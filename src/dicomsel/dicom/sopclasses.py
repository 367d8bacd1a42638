"""The SOP classes each reader reads (PS3.4 B.5), apart from the readers themselves.

The dispatcher (:mod:`dicomsel.dicom.dispatch`) finds a file's reader here and
imports that reader's module only then, so a command reading key objects does not
import the SR, SEG, RT, presentation state and bulk annotation readers. Each reader
module's ``SOP_CLASS_UIDS`` is its set from here.
"""

from __future__ import annotations

__all__ = [
    "BULK_ANNOTATIONS",
    "KEY_OBJECT_SELECTION",
    "LABEL_MAP_SEGMENTATION",
    "PRESENTATION_STATES",
    "RT_STRUCTURE_SET",
    "SEGMENTATION",
    "SEGMENTATIONS",
    "STRUCTURED_REPORTS",
]

#: Key Object Selection Document Storage
KEY_OBJECT_SELECTION = frozenset({"1.2.840.10008.5.1.4.1.1.88.59"})
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.7"
#: Segmentation Storage and Label Map Segmentation Storage
SEGMENTATIONS = frozenset({SEGMENTATION, LABEL_MAP_SEGMENTATION})
#: RT Structure Set Storage
RT_STRUCTURE_SET = frozenset({"1.2.840.10008.5.1.4.1.1.481.3"})
#: Basic Text, Enhanced, Comprehensive, Comprehensive 3D and Extensible SR Storage
STRUCTURED_REPORTS = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.34",
        "1.2.840.10008.5.1.4.1.1.88.35",
    }
)
#: The presentation states with a Graphic Annotation Module (PS3.3 A.33.1-A.33.8).
#: The Volumetric Presentation States (11.6, 11.7, 11.9-11.11) annotate in 3D through
#: the Volumetric Graphic Annotation Module instead and are not read.
PRESENTATION_STATES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.2",  # Color Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.3",  # Pseudo-Color Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.4",  # Blending Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.5",  # XA/XRF Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.8",  # Advanced Blending Presentation State
        "1.2.840.10008.5.1.4.1.1.11.12",  # Variable Modality LUT Softcopy Presentation State
    }
)
#: Microscopy Bulk Simple Annotations Storage
BULK_ANNOTATIONS = frozenset({"1.2.840.10008.5.1.4.1.1.91.1"})
