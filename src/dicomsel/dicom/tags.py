"""The tags the readers access by number, named by their DICOM keyword (PS3.6).

Hot loops read elements by integer tag (no keyword lookup); this is the one table of
those tags. tests/test_tags.py checks every name against pydicom's dictionary.
"""

from __future__ import annotations

__all__ = [
    "UID",
    "AccessionNumber",
    "AnatomicRegionModifierSequence",
    "AnatomicRegionSequence",
    "BodyPartExamined",
    "CodeMeaning",
    "CodeValue",
    "CodingSchemeDesignator",
    "CodingSchemeVersion",
    "CompletionFlag",
    "ConceptCodeSequence",
    "ConceptNameCodeSequence",
    "ContentCreatorName",
    "ContentDate",
    "ContentSequence",
    "ContentTemplateSequence",
    "ContentTime",
    "ContourImageSequence",
    "ContourSequence",
    "CurrentRequestedProcedureEvidenceSequence",
    "DerivationImageSequence",
    "DeviceUID",
    "DoubleFloatPixelData",
    "FillerOrderNumberImagingServiceRequest",
    "FloatPixelData",
    "FloatingPointValue",
    "FrameAnatomySequence",
    "FrameOfReferenceUID",
    "GraphicData",
    "GraphicType",
    "IdentifierTypeCode",
    "InstanceNumber",
    "IssuerOfAccessionNumberSequence",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "LocalNamespaceEntityID",
    "LongCodeValue",
    "Manufacturer",
    "ManufacturerModelName",
    "MeasuredValueSequence",
    "MeasurementUnitsCodeSequence",
    "NumberOfFrames",
    "NumericValue",
    "NumericValueQualifierCodeSequence",
    "ObservationDateTime",
    "ObservationUID",
    "PatientID",
    "PerFrameFunctionalGroupsSequence",
    "PersonName",
    "PertinentOtherEvidenceSequence",
    "PixelData",
    "PlacerOrderNumberImagingServiceRequest",
    "PreliminaryFlag",
    "ROIContourSequence",
    "ROIDescription",
    "ROIInterpreter",
    "ROIName",
    "ROINumber",
    "RTROIIdentificationCodeSequence",
    "RTROIInterpretedType",
    "RTROIObservationsSequence",
    "RTReferencedSeriesSequence",
    "RTReferencedStudySequence",
    "ReferencedContentItemIdentifier",
    "ReferencedFrameNumber",
    "ReferencedFrameOfReferenceSequence",
    "ReferencedFrameOfReferenceUID",
    "ReferencedInstanceSequence",
    "ReferencedROINumber",
    "ReferencedRequestSequence",
    "ReferencedSOPClassUID",
    "ReferencedSOPInstanceUID",
    "ReferencedSOPSequence",
    "ReferencedSegmentNumber",
    "ReferencedSeriesSequence",
    "ReferencedWaveformChannels",
    "RelationshipType",
    "RetrieveAETitle",
    "RetrieveLocationUID",
    "RetrieveURL",
    "SOPClassUID",
    "SOPInstanceUID",
    "SegmentDescription",
    "SegmentIdentificationSequence",
    "SegmentLabel",
    "SegmentNumber",
    "SegmentSequence",
    "SegmentationType",
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentedPropertyTypeModifierCodeSequence",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SharedFunctionalGroupsSequence",
    "SourceImageSequence",
    "StructureSetDate",
    "StructureSetROISequence",
    "StructureSetTime",
    "StudiesContainingOtherReferencedInstancesSequence",
    "StudyInstanceUID",
    "TemplateIdentifier",
    "TextValue",
    "TimezoneOffsetFromUTC",
    "TrackingID",
    "TrackingUID",
    "URNCodeValue",
    "UniversalEntityID",
    "UniversalEntityIDType",
    "ValueType",
    "VerificationFlag",
]

SOPClassUID = 0x00080016
SOPInstanceUID = 0x00080018
ContentDate = 0x00080023
ContentTime = 0x00080033
AccessionNumber = 0x00080050
IssuerOfAccessionNumberSequence = 0x00080051
RetrieveAETitle = 0x00080054
Manufacturer = 0x00080070
CodeValue = 0x00080100
CodingSchemeDesignator = 0x00080102
CodingSchemeVersion = 0x00080103
CodeMeaning = 0x00080104
LongCodeValue = 0x00080119
URNCodeValue = 0x00080120
TimezoneOffsetFromUTC = 0x00080201
ManufacturerModelName = 0x00081090
ReferencedSeriesSequence = 0x00081115
ReferencedInstanceSequence = 0x0008114A
ReferencedSOPClassUID = 0x00081150
ReferencedSOPInstanceUID = 0x00081155
ReferencedFrameNumber = 0x00081160
RetrieveURL = 0x00081190
ReferencedSOPSequence = 0x00081199
StudiesContainingOtherReferencedInstancesSequence = 0x00081200
SourceImageSequence = 0x00082112
AnatomicRegionSequence = 0x00082218
AnatomicRegionModifierSequence = 0x00082220
DerivationImageSequence = 0x00089124
PatientID = 0x00100020
IssuerOfPatientID = 0x00100021
IssuerOfPatientIDQualifiersSequence = 0x00100024
BodyPartExamined = 0x00180015
DeviceUID = 0x00181002
StudyInstanceUID = 0x0020000D
SeriesInstanceUID = 0x0020000E
SeriesNumber = 0x00200011
InstanceNumber = 0x00200013
FrameOfReferenceUID = 0x00200052
FrameAnatomySequence = 0x00209071
NumberOfFrames = 0x00280008
LocalNamespaceEntityID = 0x00400031
UniversalEntityID = 0x00400032
UniversalEntityIDType = 0x00400033
IdentifierTypeCode = 0x00400035
MeasurementUnitsCodeSequence = 0x004008EA
PlacerOrderNumberImagingServiceRequest = 0x00402016
FillerOrderNumberImagingServiceRequest = 0x00402017
RelationshipType = 0x0040A010
ObservationDateTime = 0x0040A032
ValueType = 0x0040A040
ConceptNameCodeSequence = 0x0040A043
ReferencedWaveformChannels = 0x0040A0B0
PersonName = 0x0040A123
UID = 0x0040A124
TextValue = 0x0040A160
FloatingPointValue = 0x0040A161
ConceptCodeSequence = 0x0040A168
ObservationUID = 0x0040A171
MeasuredValueSequence = 0x0040A300
NumericValueQualifierCodeSequence = 0x0040A301
NumericValue = 0x0040A30A
ReferencedRequestSequence = 0x0040A370
CurrentRequestedProcedureEvidenceSequence = 0x0040A375
PertinentOtherEvidenceSequence = 0x0040A385
CompletionFlag = 0x0040A491
VerificationFlag = 0x0040A493
PreliminaryFlag = 0x0040A496
ContentTemplateSequence = 0x0040A504
ContentSequence = 0x0040A730
TemplateIdentifier = 0x0040DB00
ReferencedContentItemIdentifier = 0x0040DB73
RetrieveLocationUID = 0x0040E011
SegmentationType = 0x00620001
SegmentSequence = 0x00620002
SegmentedPropertyCategoryCodeSequence = 0x00620003
SegmentNumber = 0x00620004
SegmentLabel = 0x00620005
SegmentDescription = 0x00620006
SegmentIdentificationSequence = 0x0062000A
ReferencedSegmentNumber = 0x0062000B
SegmentedPropertyTypeCodeSequence = 0x0062000F
SegmentedPropertyTypeModifierCodeSequence = 0x00620011
TrackingID = 0x00620020
TrackingUID = 0x00620021
GraphicData = 0x00700022
GraphicType = 0x00700023
ContentCreatorName = 0x00700084
StructureSetDate = 0x30060008
StructureSetTime = 0x30060009
ReferencedFrameOfReferenceSequence = 0x30060010
RTReferencedStudySequence = 0x30060012
RTReferencedSeriesSequence = 0x30060014
ContourImageSequence = 0x30060016
StructureSetROISequence = 0x30060020
ROINumber = 0x30060022
ReferencedFrameOfReferenceUID = 0x30060024
ROIName = 0x30060026
ROIDescription = 0x30060028
ROIContourSequence = 0x30060039
ContourSequence = 0x30060040
RTROIObservationsSequence = 0x30060080
ReferencedROINumber = 0x30060084
RTROIIdentificationCodeSequence = 0x30060086
RTROIInterpretedType = 0x300600A4
ROIInterpreter = 0x300600A6
SharedFunctionalGroupsSequence = 0x52009229
PerFrameFunctionalGroupsSequence = 0x52009230
FloatPixelData = 0x7FE00008
DoubleFloatPixelData = 0x7FE00009
PixelData = 0x7FE00010
