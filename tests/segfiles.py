"""Scenario SEG, RT Structure Set and image files for tests and benchmarks.

Small files are built with highdicom from pydicom's bundled CT_small.dcm; large
SEG headers (thousands of frames, a gigabyte of pixel data) are written with
pydicom alone and the pixel bytes streamed to the file. Every UID derives from
names with :func:`kosgen.uid`, so the files are the same on every run.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian

from kosgen import uid

GOLDEN = Path(__file__).resolve().parent / "golden"
NS = "dicomsel-tests-seg"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY = uid(NS, "study")
FRAME_OF_REFERENCE = uid(NS, "frame-of-reference")
CONTENT_DATE = "20240102"
CONTENT_TIME = "101500"

#: (value, scheme, meaning) of segmented property types, cycled through by the builders
PROPERTY_TYPES = [
    ("272673000", "SCT", "Bone"),
    ("87784001", "SCT", "Soft tissue"),
    ("10200004", "SCT", "Liver"),
    ("64033007", "SCT", "Kidney"),
    ("78961009", "SCT", "Spleen"),
]
TISSUE = ("85756007", "SCT", "Tissue")


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def ct_slices(
    n: int,
    *,
    name: str = "ct",
    study: str = STUDY,
    series: str | None = None,
    patient_id: str = "SEG-TEST-1",
    size: int | None = None,
) -> list[Dataset]:
    """``n`` single-frame CT images of one series, copies of CT_small with their own UIDs.

    ``size`` shrinks the pixel data to ``size`` x ``size`` (for many small files).
    """
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    base = dcmread(path)
    if size is not None:
        base.Rows = base.Columns = size
        base.PixelData = bytes(size * size * 2)
    series = series or uid(NS, name, "series")
    out = []
    for i in range(n):
        ds = copy.deepcopy(base)
        ds.PatientID = patient_id
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = 7
        ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
        ds.SOPInstanceUID = uid(NS, name, series, i)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-158.135803, -179.035797, -75.699997 + 5 * i]
        ds.SliceLocation = -75.699997 + 5 * i
        ds.BodyPartExamined = "CHEST"
        out.append(ds)
    return out


def enhanced_ct(n_frames: int = 3, *, name: str = "enhanced-ct") -> Dataset:
    """A Legacy Converted Enhanced CT Image of ``n_frames`` frames (highdicom): multi-frame."""
    import highdicom as hd

    slices = ct_slices(n_frames, name=f"{name}-slices")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = hd.legacy.LegacyConvertedEnhancedCTImage(
            legacy_datasets=slices,
            series_instance_uid=uid(NS, name, "series"),
            series_number=8,
            sop_instance_uid=uid(NS, name, "instance"),
            instance_number=1,
        )
    return ds


def make_seg(
    sources: Sequence[Dataset],
    n_segments: int = 2,
    *,
    name: str = "seg",
    label_map: bool = False,
    masks: np.ndarray | None = None,
) -> Dataset:
    """A SEG of ``sources`` with highdicom: binary (66.4) or label map (66.7).

    Segment ``k`` (1-based) covers a small square in source frame ``(k - 1) % frames``
    unless ``masks`` gives the pixel array; every segment has a property type
    from :data:`PROPERTY_TYPES` and the category Tissue.
    """
    import highdicom as hd

    multi = len(sources) == 1 and int(sources[0].get("NumberOfFrames", 1) or 1) > 1
    frames = int(sources[0].NumberOfFrames) if multi else len(sources)
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    if masks is None:
        if label_map:
            masks = np.zeros((frames, rows, cols), dtype=np.uint8)
            for k in range(1, n_segments + 1):
                masks[(k - 1) % frames, 2 * k : 2 * k + 2, 2:6] = k
        else:
            masks = np.zeros((frames, rows, cols, n_segments), dtype=bool)
            for k in range(1, n_segments + 1):
                masks[(k - 1) % frames, 2:6, 2:6, k - 1] = True
    descriptions = []
    for k in range(1, n_segments + 1):
        value, scheme, meaning = PROPERTY_TYPES[(k - 1) % len(PROPERTY_TYPES)]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=k,
                segment_label=f"Segment {k}",
                segmented_property_category=hd.sr.CodedConcept(*TISSUE),
                segmented_property_type=hd.sr.CodedConcept(value, scheme, meaning),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_uid=uid(NS, name, "tracking", k),
                tracking_id=f"finding-{k}",
            )
        )
    kind = (
        hd.seg.SegmentationTypeValues.LABELMAP
        if label_map
        else hd.seg.SegmentationTypeValues.BINARY
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = hd.seg.Segmentation(
            source_images=list(sources),
            pixel_array=masks,
            segmentation_type=kind,
            segment_descriptions=descriptions,
            series_instance_uid=uid(NS, name, "series"),
            series_number=300,
            sop_instance_uid=uid(NS, name, "instance"),
            instance_number=1,
            manufacturer="dicomsel",
            manufacturer_model_name="tests/segfiles.py",
            software_versions="1",
            device_serial_number="0",
            content_date=CONTENT_DATE,
            content_time=CONTENT_TIME,
            content_label="TEST",
            content_creator_name="Tester^Tina",
        )
    seg.TimezoneOffsetFromUTC = "+0100"
    return seg


# ---- RT Structure Set (pydicom)


@dataclass(frozen=True)
class Roi:
    """An ROI of :func:`make_rtstruct`: its contours lie on ``images`` (indices), one each."""

    number: int
    name: str
    interpreted_type: str = "ORGAN"
    images: tuple[int, ...] = ()
    outside: tuple[str, ...] = ()  # contour images not in the referenced series (by UID)
    identification: tuple[str, str, str] | None = None
    interpreter: str = ""
    contours_without_image: int = 0


@dataclass
class RtStruct:
    """An RT Structure Set with the CT images it references."""

    ds: Dataset
    images: list[Dataset] = field(default_factory=list)


def make_rtstruct(rois: Sequence[Roi], n_images: int = 3, *, name: str = "rt") -> RtStruct:
    """An RT Structure Set on ``n_images`` CT slices, with ``rois``; pydicom only."""
    images = ct_slices(n_images, name=f"{name}-ct")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RTSTRUCT_CLASS
    ds.SOPInstanceUID = uid(NS, name, "instance")
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    first = images[0]
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
    ):
        setattr(ds, kw, first.get(kw, ""))
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.AccessionNumber = "RT-ACC-1"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = uid(NS, name, "series")
    ds.SeriesNumber = 40
    ds.InstanceNumber = 1
    ds.Manufacturer = "dicomsel"
    ds.ManufacturerModelName = "tests/segfiles.py"
    ds.OperatorsName = ""
    ds.StructureSetLabel = "TEST"
    ds.StructureSetDate = CONTENT_DATE
    ds.StructureSetTime = CONTENT_TIME
    ds.TimezoneOffsetFromUTC = "+0100"

    contour_images = DicomSequence()
    for img in images:
        ref = Dataset()
        ref.ReferencedSOPClassUID = img.SOPClassUID
        ref.ReferencedSOPInstanceUID = img.SOPInstanceUID
        contour_images.append(ref)
    series_item = Dataset()
    series_item.SeriesInstanceUID = first.SeriesInstanceUID
    series_item.ContourImageSequence = contour_images
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study_item.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_item.RTReferencedSeriesSequence = DicomSequence([series_item])
    for_item = Dataset()
    for_item.FrameOfReferenceUID = FRAME_OF_REFERENCE
    for_item.RTReferencedStudySequence = DicomSequence([study_item])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([for_item])

    ss_rois, roi_contours, observations = DicomSequence(), DicomSequence(), DicomSequence()
    for roi in rois:
        item = Dataset()
        item.ROINumber = roi.number
        item.ReferencedFrameOfReferenceUID = FRAME_OF_REFERENCE
        item.ROIName = roi.name
        item.ROIGenerationAlgorithm = "MANUAL"
        ss_rois.append(item)
        contours = DicomSequence()
        refs = [(images[i].SOPClassUID, images[i].SOPInstanceUID) for i in roi.images]
        refs += [(CT_IMAGE, u) for u in roi.outside]
        for cls, inst in refs:
            c = Dataset()
            img_ref = Dataset()
            img_ref.ReferencedSOPClassUID = cls
            img_ref.ReferencedSOPInstanceUID = inst
            c.ContourImageSequence = DicomSequence([img_ref])
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = 3
            c.ContourData = [0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 10.0, 0.0]
            contours.append(c)
        for _ in range(roi.contours_without_image):
            c = Dataset()
            c.ContourGeometricType = "POINT"
            c.NumberOfContourPoints = 1
            c.ContourData = [1.0, 2.0, 3.0]
            contours.append(c)
        rc = Dataset()
        rc.ReferencedROINumber = roi.number
        rc.ROIDisplayColor = [255, 0, 0]
        if contours:
            rc.ContourSequence = contours
        roi_contours.append(rc)
        obs = Dataset()
        obs.ObservationNumber = roi.number
        obs.ReferencedROINumber = roi.number
        obs.RTROIInterpretedType = roi.interpreted_type
        obs.ROIInterpreter = roi.interpreter
        if roi.identification:
            obs.RTROIIdentificationCodeSequence = DicomSequence([code_item(*roi.identification)])
        observations.append(obs)
    ds.StructureSetROISequence = ss_rois
    ds.ROIContourSequence = roi_contours
    ds.RTROIObservationsSequence = observations
    return RtStruct(ds, images)


# ---- large SEG headers, pydicom only (benchmarks, memory tests)


def _undefined_lengths(ds: Dataset) -> None:
    """Mark every sequence (and item) undefined length, as DCMTK-based tools write them."""
    stack = [ds]
    while stack:
        d = stack.pop()
        for elem in d:
            if elem.VR == "SQ":
                elem.is_undefined_length = True
                for item in elem.value:
                    item.is_undefined_length_sequence_item = True
                    stack.append(item)


def seg_header(
    n_frames: int,
    n_segments: int,
    *,
    n_sources: int = 40,
    rows: int = 64,
    cols: int = 64,
    name: str = "big-seg",
    undefined_length: bool = True,
) -> Dataset:
    """A binary SEG header of ``n_frames`` frames over ``n_segments`` segments, no Pixel Data.

    Frame ``i`` (1-based) belongs to segment ``(i - 1) % n_segments + 1`` and
    derives from source CT image ``(i - 1) % n_sources``; the sources form one
    series of single-frame CT images (not written: a SEG only names them).
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SEG_CLASS
    ds.SOPInstanceUID = uid(NS, name, "instance")
    ds.file_meta.MediaStorageSOPClassUID = SEG_CLASS
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ContentDate = CONTENT_DATE
    ds.ContentTime = CONTENT_TIME
    ds.TimezoneOffsetFromUTC = "+0000"
    ds.Modality = "SEG"
    ds.Manufacturer = "dicomsel"
    ds.ManufacturerModelName = "tests/segfiles.py"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = "1"
    ds.PatientName = "Bench^Mark"
    ds.PatientID = "BENCH-1"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = STUDY
    ds.StudyDate = CONTENT_DATE
    ds.StudyTime = CONTENT_TIME
    ds.StudyID = "1"
    ds.AccessionNumber = "BENCH-ACC"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = uid(NS, name, "series")
    ds.SeriesNumber = 300
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.PositionReferenceIndicator = ""
    ds.ContentLabel = "BENCH"
    ds.ContentDescription = ""
    ds.ContentCreatorName = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = n_frames
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 1
    ds.BitsStored = 1
    ds.HighBit = 0
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds.SegmentationType = "BINARY"

    source_series = uid(NS, name, "source-series")
    sources = [uid(NS, name, "source", i) for i in range(n_sources)]
    refs = DicomSequence()
    for s in sources:
        r = Dataset()
        r.ReferencedSOPClassUID = CT_IMAGE
        r.ReferencedSOPInstanceUID = s
        refs.append(r)
    series_item = Dataset()
    series_item.SeriesInstanceUID = source_series
    series_item.ReferencedInstanceSequence = refs
    ds.ReferencedSeriesSequence = DicomSequence([series_item])

    dim_org = Dataset()
    dim_org.DimensionOrganizationUID = uid(NS, name, "dimension-organization")
    ds.DimensionOrganizationSequence = DicomSequence([dim_org])
    dims = DicomSequence()
    for pointer, group in ((0x0062000B, 0x0062000A), (0x00200032, 0x00209113)):
        d = Dataset()
        d.DimensionOrganizationUID = dim_org.DimensionOrganizationUID
        d.DimensionIndexPointer = pointer
        d.FunctionalGroupPointer = group
        dims.append(d)
    ds.DimensionIndexSequence = dims

    segments = DicomSequence()
    for k in range(1, n_segments + 1):
        s = Dataset()
        s.SegmentedPropertyCategoryCodeSequence = DicomSequence([code_item(*TISSUE)])
        s.SegmentNumber = k
        s.SegmentLabel = f"Segment {k}"
        s.SegmentAlgorithmType = "MANUAL"
        value, scheme, meaning = PROPERTY_TYPES[(k - 1) % len(PROPERTY_TYPES)]
        s.SegmentedPropertyTypeCodeSequence = DicomSequence([code_item(value, scheme, meaning)])
        segments.append(s)
    ds.SegmentSequence = segments

    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = DicomSequence([orient])
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.5]
    measures.SliceThickness = 1
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])

    purpose = code_item("121322", "DCM", "Source image for image processing operation")
    derivation_code = code_item("113076", "DCM", "Segmentation")
    per_frame = []
    for i in range(n_frames):
        segment = i % n_segments + 1
        item = Dataset()
        src = Dataset()
        src.ReferencedSOPClassUID = CT_IMAGE
        src.ReferencedSOPInstanceUID = sources[i % n_sources]
        src.PurposeOfReferenceCodeSequence = DicomSequence([copy.copy(purpose)])
        deriv = Dataset()
        deriv.SourceImageSequence = DicomSequence([src])
        deriv.DerivationCodeSequence = DicomSequence([copy.copy(derivation_code)])
        item.DerivationImageSequence = DicomSequence([deriv])
        content = Dataset()
        content.DimensionIndexValues = [segment, i // n_segments + 1]
        item.FrameContentSequence = DicomSequence([content])
        position = Dataset()
        position.ImagePositionPatient = [0, 0, float(i % n_sources)]
        item.PlanePositionSequence = DicomSequence([position])
        ident = Dataset()
        ident.ReferencedSegmentNumber = segment
        item.SegmentIdentificationSequence = DicomSequence([ident])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    if undefined_length:
        _undefined_lengths(ds)
    return ds


def write_seg(ds: Dataset, path: Path, pixel_bytes: int | None = None, chunk: int = 1 << 22) -> int:
    """Write ``ds`` and then ``pixel_bytes`` zero bytes of Pixel Data, streamed; return the size.

    Without ``pixel_bytes`` the size follows from Rows, Columns and Number of
    Frames at 1 bit per pixel. The pixel bytes are never held in memory.
    """
    if pixel_bytes is None:
        pixel_bytes = (int(ds.Rows) * int(ds.Columns) * int(ds.NumberOfFrames) + 7) // 8
    pixel_bytes += pixel_bytes % 2
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    with open(path, "ab") as f:
        f.write(b"\xe0\x7f\x10\x00OB\x00\x00" + pixel_bytes.to_bytes(4, "little"))
        zeros = bytes(min(chunk, pixel_bytes))
        left = pixel_bytes
        while left:
            n = min(left, len(zeros))
            f.write(zeros[:n] if n < len(zeros) else zeros)
            left -= n
    return os.path.getsize(path)


def check_golden(name: str, out: str) -> None:
    """Compare ``out`` with ``tests/golden/<name>.r5.json``.

    ``DICOMSEL_UPDATE_GOLDEN=1`` rewrites the file instead; review the diff.
    """
    golden = GOLDEN / f"{name}.r5.json"
    if os.environ.get("DICOMSEL_UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with DICOMSEL_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")


def walk_values(ds: Dataset) -> int:
    """Touch every element's value, through sequences (the benchmarks' baseline)."""
    n = 0
    stack: list[Any] = [ds]
    while stack:
        d = stack.pop()
        for elem in d:
            elem.value  # noqa: B018
            n += 1
            if elem.VR == "SQ":
                stack.extend(elem.value)
    return n
