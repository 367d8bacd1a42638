"""SR concepts: the SOP classes, the codes of the selections made, the concept names read.

Concept names are (code value, coding scheme designator) pairs, the way
:func:`dicomsel.dicom.items.concept_of` reads them.
"""

from __future__ import annotations

from dicomsel.dicom.sopclasses import STRUCTURED_REPORTS
from dicomsel.model import Code, RegionType2D, RegionType3D

__all__ = [
    "ALGORITHM_NAME",
    "ALGORITHM_PARAMETERS",
    "ALGORITHM_VERSION",
    "CONTEXT_RELATIONSHIPS",
    "DERIVATION",
    "EVIDENCE_CODE",
    "FINDING",
    "FINDING_CATEGORY",
    "FINDING_SITE",
    "GEOMETRIC_PURPOSE",
    "GROUP",
    "IMAGE_REGION",
    "IMAGE_REGION_NAME",
    "LATERALITY",
    "MEASUREMENT_GROUP",
    "METHOD",
    "NOT_QUALITATIVE",
    "ORIGINAL_SOURCE",
    "OTHER_EVIDENCE_CODE",
    "REFERENCED_SEGMENT",
    "REFERENCE_TYPES",
    "REGION_TYPES_2D",
    "REGION_TYPES_3D",
    "SESSION",
    "SOP_CLASS_UIDS",
    "SOURCE_FOR_SEGMENTATION",
    "TOPOGRAPHICAL",
    "TRACKING_ID",
    "TRACKING_UID",
    "VOLUME_SURFACE",
    "VOLUME_SURFACE_NAME",
]

#: Basic Text, Enhanced, Comprehensive, Comprehensive 3D and Extensible SR Storage
SOP_CLASS_UIDS = STRUCTURED_REPORTS

IMAGE_REGION = Code(value="111030", scheme="DCM", meaning="Image Region")
VOLUME_SURFACE = Code(value="121231", scheme="DCM", meaning="Volume Surface")
REFERENCED_SEGMENT = Code(value="121191", scheme="DCM", meaning="Referenced Segment")
#: TID 1411 row 7b: the series the segmentation was made from (a UIDREF)
SOURCE_SERIES = Code(value="121232", scheme="DCM", meaning="Source series for segmentation")
ORIGINAL_SOURCE = Code(value="111040", scheme="DCM", meaning="Original Source")
MEASUREMENT_GROUP = Code(value="125007", scheme="DCM", meaning="Measurement Group")
#: Code of the selections of evidence instances the content tree does not select.
EVIDENCE_CODE = Code(value="122073", scheme="DCM", meaning="Current procedure evidence")
OTHER_EVIDENCE_CODE = Code(value=None, text="Pertinent Other Evidence")

# concept names, as (code value, scheme)
GROUP = ("125007", "DCM")
TRACKING_ID = ("112039", "DCM")
TRACKING_UID = ("112040", "DCM")
FINDING = ("121071", "DCM")
FINDING_CATEGORY = ("276214006", "SCT")
FINDING_SITE = ("363698007", "SCT")
METHOD = ("370129005", "SCT")
DERIVATION = ("121401", "DCM")
LATERALITY = ("272741003", "SCT")
TOPOGRAPHICAL = ("106233006", "SCT")
ALGORITHM_NAME = ("111001", "DCM")
ALGORITHM_VERSION = ("111003", "DCM")
ALGORITHM_PARAMETERS = ("111002", "DCM")
IMAGE_REGION_NAME = ("111030", "DCM")
VOLUME_SURFACE_NAME = ("121231", "DCM")
SOURCE_FOR_SEGMENTATION = ("121233", "DCM")
SOURCE_SERIES_NAME = ("121232", "DCM")
GEOMETRIC_PURPOSE = ("130400", "DCM")
SESSION = ("C67447", "NCIt")
#: CODE / TEXT items of a group that are not qualitative evaluations (the IG's list)
NOT_QUALITATIVE = frozenset(
    {
        TRACKING_ID,
        FINDING,
        GEOMETRIC_PURPOSE,
        SESSION,
        FINDING_CATEGORY,
        FINDING_SITE,
        METHOD,
        ALGORITHM_NAME,
        ALGORITHM_VERSION,
        ALGORITHM_PARAMETERS,
    }
)
CONTEXT_RELATIONSHIPS = frozenset({"HAS OBS CONTEXT", "HAS ACQ CONTEXT"})
REFERENCE_TYPES = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})
REGION_TYPES_2D = {t.name: t for t in RegionType2D}
REGION_TYPES_3D = {t.name: t for t in RegionType3D}
