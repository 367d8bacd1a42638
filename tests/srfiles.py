"""Scenario Structured Reports for tests and the benchmark.

TID 1500 measurement reports are built with highdicom and edited with pydicom
where highdicom refuses (MULTIPOINT regions, Observation UIDs on content items,
fixed content date and time); documents that are not TID 1500, and broken
ones, are built with pydicom alone from :func:`item`. Every UID derives from
names with :func:`kosgen.uid`, so the files are the same on every run.
"""

from __future__ import annotations

import io
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import highdicom as hd
import numpy as np
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from kosgen import uid

NS = "dicomsel-tests-sr"
CT = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_3D = "1.2.840.10008.5.1.4.1.1.88.34"
COMPREHENSIVE = "1.2.840.10008.5.1.4.1.1.88.33"
ENHANCED = "1.2.840.10008.5.1.4.1.1.88.22"
STUDY = uid(NS, "study")
CT_SERIES = uid(NS, "ct-series")
MF_SERIES = uid(NS, "enhanced-ct-series")
SEG_SERIES = uid(NS, "seg-series")
SR_SERIES = uid(NS, "sr-series")
FRAME_OF_REFERENCE = uid(NS, "frame-of-reference")
SEG_UID = uid(NS, "seg")
MF_UID = uid(NS, "enhanced-ct")
PATIENT_ID = "SR-PAT-1"
CONTENT_DATE = "20240305"
CONTENT_TIME = "081500"

T = TypeVar("T")


def ct_uid(n: int) -> str:
    return uid(NS, "ct", n)


def _image(sop_class: str, sop_uid: str, series: str, modality: str, frames: int = 1) -> Dataset:
    """A header-only image dataset: what highdicom reads from evidence."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.Modality = modality
    ds.PatientID = PATIENT_ID
    ds.PatientName = "Sr^Test"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyID = "SR1"
    ds.StudyDate = "20240301"
    ds.StudyTime = "080000"
    ds.AccessionNumber = "ACC-SR-1"
    ds.ReferringPhysicianName = ""
    ds.InstanceNumber = 1
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def evidence(ct_count: int = 3) -> list[Dataset]:
    """CT images 1..ct_count, a 4-frame Enhanced CT and a SEG: the instances groups refer to."""
    out = [_image(CT, ct_uid(n), CT_SERIES, "CT") for n in range(1, ct_count + 1)]
    out.append(_image(ENHANCED_CT, MF_UID, MF_SERIES, "CT", frames=4))
    out.append(_image(SEG, SEG_UID, SEG_SERIES, "SEG"))
    return out


@dataclass
class Planar:
    """A TID 1410 group: one SCOORD on an image (and frame), measurements, tracking."""

    graphic_type: str
    points: Sequence[tuple[float, float]]
    image: str = ""  # SOP Instance UID; default: CT 1
    sop_class: str = CT
    frames: Sequence[int] = ()
    tracking_id: str = "Lesion"
    tracking_uid: str | None = None
    measurements: Sequence[Any] = ((codes.SCT.Diameter, 10.0, codes.UCUM.Millimeter),)
    finding: Any = None
    finding_site: Any = None


@dataclass
class Volumetric:
    """A TID 1411 group: a SCOORD3D volume surface, or a referenced segment."""

    graphic_type: str | None = "POINT"
    points: Sequence[tuple[float, float, float]] = ((1.0, 2.0, 3.0),)
    segment: int | None = None
    tracking_id: str = "Volume"
    tracking_uid: str | None = None
    measurements: Sequence[Any] = ((codes.SCT.Volume, 200.0, codes.UCUM.CubicMillimeter),)
    finding: Any = None
    source_images: Sequence[str] = field(default_factory=tuple)


def _measurements(spec: Sequence[Any]) -> list[hd.sr.Measurement]:
    """(name, value, unit) tuples, or highdicom Measurements as they are."""
    return [
        m
        if isinstance(m, hd.sr.Measurement)
        else hd.sr.Measurement(name=m[0], value=m[1], unit=m[2])
        for m in spec
    ]


def _planar(g: Planar) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    source = hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=g.sop_class,
        referenced_sop_instance_uid=g.image or ct_uid(1),
        referenced_frame_numbers=list(g.frames) or None,
    )
    region = hd.sr.ImageRegion(
        graphic_type=g.graphic_type,
        graphic_data=np.array(g.points, dtype=float),
        source_image=source,
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=g.tracking_uid or uid(NS, "tracking", g.tracking_id), identifier=g.tracking_id
        ),
        referenced_region=region,
        finding_type=g.finding,
        finding_sites=[hd.sr.FindingSite(g.finding_site)] if g.finding_site else None,
        measurements=_measurements(g.measurements),
    )


def _volumetric(g: Volumetric) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    kw: dict[str, Any] = {}
    if g.segment is not None:
        kw["referenced_segment"] = hd.sr.ReferencedSegment(
            sop_class_uid=SEG,
            sop_instance_uid=SEG_UID,
            segment_number=g.segment,
            source_images=[
                hd.sr.SourceImageForSegmentation(CT, u) for u in g.source_images or [ct_uid(1)]
            ],
        )
    else:
        assert g.graphic_type is not None
        data = np.array(g.points, dtype=float)
        kw["referenced_volume_surface"] = hd.sr.VolumeSurface(
            graphic_type=g.graphic_type,
            # a volume of POLYGON / ELLIPSE surfaces is a list of them
            graphic_data=[data] if g.graphic_type in ("POLYGON", "ELLIPSE") else data,
            frame_of_reference_uid=FRAME_OF_REFERENCE,
            source_images=[
                hd.sr.SourceImageForSegmentation(CT, u) for u in g.source_images or [ct_uid(1)]
            ],
        )
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=g.tracking_uid or uid(NS, "tracking", g.tracking_id), identifier=g.tracking_id
        ),
        finding_type=g.finding,
        measurements=_measurements(g.measurements),
        **kw,
    )


def _build(
    groups: Sequence[Planar | Volumetric],
    name: str,
    ct_count: int,
    complete: bool,
    verified: bool,
    final: bool | None,
) -> hd.sr.Comprehensive3DSR:
    observer = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Reader^Rita"
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[
            _planar(g) if isinstance(g, Planar) else _volumetric(g) for g in groups
        ],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=evidence(ct_count),
        content=report[0],
        series_instance_uid=SR_SERIES,
        series_number=99,
        sop_instance_uid=uid(NS, "sr", name),
        instance_number=1,
        manufacturer="dicomsel tests",
        is_complete=complete,
        is_verified=verified,
        is_final=bool(final),
        verifying_observer_name="Verifier^Vera" if verified else None,
        verifying_organization="Test Hospital" if verified else None,
    )


def tid1500(
    groups: Sequence[Planar | Volumetric],
    *,
    name: str = "report",
    ct_count: int = 3,
    complete: bool = True,
    verified: bool = False,
    final: bool | None = None,
    timezone: str | None = "+0100",
    charset: str | None = None,
) -> Dataset:
    """A Comprehensive 3D SR TID 1500 measurement report with ``groups``.

    ``charset``: the Specific Character Set its text is encoded in (default: none, ASCII).

    Content Date/Time and the timezone are fixed (highdicom writes the clock).
    ``final`` None removes the Preliminary Flag.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # highdicom's notes on the header-only evidence
        sr = _build(groups, name, ct_count, complete, verified, final)
    # a plain pydicom dataset (highdicom's sequences refuse pydicom items): write, read back
    buffer = io.BytesIO()
    if charset:
        sr.SpecificCharacterSet = charset
    sr.save_as(buffer, enforce_file_format=True)
    ds = dcmread(io.BytesIO(buffer.getvalue()))
    ds.ContentDate = CONTENT_DATE
    ds.ContentTime = CONTENT_TIME
    for kw in ("InstanceCreationDate", "InstanceCreationTime", "SeriesDate", "SeriesTime"):
        if kw in ds:
            delattr(ds, kw)
    if "VerifyingObserverSequence" in ds:
        for v in ds.VerifyingObserverSequence:
            v.VerificationDateTime = CONTENT_DATE + CONTENT_TIME
    if final is None and "PreliminaryFlag" in ds:
        del ds.PreliminaryFlag
    if timezone:
        ds.TimezoneOffsetFromUTC = timezone
    return ds


# ---- walking and editing content trees with pydicom


def content_items(ds: Dataset) -> Iterator[tuple[tuple[int, ...], Dataset]]:
    """(path, item) of every content item below ``ds``, document order; path as DICOM counts."""
    stack: list[tuple[tuple[int, ...], Dataset]] = [
        ((1, i), it) for i, it in reversed(list(enumerate(ds.get("ContentSequence", []), 1)))
    ]
    while stack:
        path, it = stack.pop()
        yield path, it
        children = it.get("ContentSequence", [])
        stack.extend(((*path, i), c) for i, c in reversed(list(enumerate(children, 1))))


def concept(it: Dataset) -> tuple[str, str] | None:
    seq = it.get("ConceptNameCodeSequence")
    return (seq[0].CodeValue, seq[0].CodingSchemeDesignator) if seq else None


def find(ds: Dataset, value_type: str, code: tuple[str, str] | None = None) -> list[Dataset]:
    """Content items of ``value_type`` (and concept name ``code``), document order."""
    return [
        it
        for _, it in content_items(ds)
        if it.get("ValueType") == value_type and (code is None or concept(it) == code)
    ]


def groups(ds: Dataset) -> list[Dataset]:
    return find(ds, "CONTAINER", ("125007", "DCM"))


def add_observation_uids(ds: Dataset, prefix: str = "obs") -> dict[str, str]:
    """Give every group, NUM and SCOORD/SCOORD3D an Observation UID; return path -> UID."""
    out = {}
    for path, it in content_items(ds):
        is_group = it.get("ValueType") == "CONTAINER" and concept(it) == ("125007", "DCM")
        if is_group or it.get("ValueType") in ("NUM", "SCOORD", "SCOORD3D"):
            u = uid(NS, prefix, *path)
            it.ObservationUID = u
            out[".".join(map(str, path))] = u
    return out


def save(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a Part 10 file (Explicit VR Little Endian unless its meta says else)."""
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ts = meta.TransferSyntaxUID
    if ts == ExplicitVRBigEndian:  # save_as does not switch endianness
        dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
    else:
        ds.save_as(path, enforce_file_format=True)
    return path


def on_deep_stack(fn: Callable[[], T]) -> T:
    """Run ``fn`` on a thread with a large stack: pydicom writes nested sequences recursively."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(60_000)
        try:
            done.append(fn())
        except BaseException as e:
            failed.append(e)
        finally:
            sys.setrecursionlimit(old)

    old_size = threading.stack_size(256 * 1024 * 1024)
    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        threading.stack_size(old_size)
    if failed:
        raise failed[0]
    return done[0]


# ---- SR documents built item by item (non-TID 1500 and broken ones)


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue = value
    c.CodingSchemeDesignator = scheme
    c.CodeMeaning = meaning
    return c


def item(
    rel: str | None,
    vt: str | None,
    name: tuple[str, str, str] | None = None,
    children: Sequence[Dataset] = (),
    **attrs: Any,
) -> Dataset:
    """A content item: relationship, value type, concept name, children and attributes."""
    it = Dataset()
    if rel:
        it.RelationshipType = rel
    if vt:
        it.ValueType = vt
    if name:
        it.ConceptNameCodeSequence = DicomSequence([code_item(*name)])
    for k, v in attrs.items():
        setattr(it, k, v)
    if children:
        it.ContentSequence = DicomSequence(list(children))
    return it


def image_item(
    rel: str, sop_uid: str, sop_class: str = CT, frames: Sequence[int] = (), **kw: Any
) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = sop_class
    ref.ReferencedSOPInstanceUID = sop_uid
    if frames:
        ref.ReferencedFrameNumber = list(frames) if len(frames) > 1 else frames[0]
    for k, v in kw.items():
        setattr(ref, k, v)
    return item(rel, "IMAGE", ReferencedSOPSequence=DicomSequence([ref]))


def scoord(
    rel: str,
    graphic_type: str,
    data: Sequence[float],
    image: Dataset | None,
    name: tuple[str, str, str] | None = ("111030", "DCM", "Image Region"),
) -> Dataset:
    return item(
        rel,
        "SCOORD",
        name,
        children=[image] if image is not None else [],
        GraphicType=graphic_type,
        GraphicData=[float(x) for x in data],
    )


def num(
    rel: str,
    name: tuple[str, str, str],
    value: float | None,
    unit: tuple[str, str, str] | None = ("mm", "UCUM", "millimeter"),
    children: Sequence[Dataset] = (),
    **attrs: Any,
) -> Dataset:
    it = item(rel, "NUM", name, children=children, **attrs)
    mv = Dataset()
    if value is None:
        it.MeasuredValueSequence = DicomSequence([])
        return it
    mv.NumericValue = repr(float(value))[:16]
    if unit:
        mv.MeasurementUnitsCodeSequence = DicomSequence([code_item(*unit)])
    it.MeasuredValueSequence = DicomSequence([mv])
    return it


def document(
    content: Sequence[Dataset],
    *,
    name: str = "doc",
    sop_class: str = COMPREHENSIVE,
    title: tuple[str, str, str] = ("18748-4", "LN", "Diagnostic Imaging Report"),
    evidence_uids: Sequence[tuple[str, str, str]] = (),
    other_evidence: Sequence[tuple[str, str, str]] = (),
    **attrs: Any,
) -> Dataset:
    """An SR document with ``content`` under its root; evidence as (series, class, uid)."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(NS, "doc", name)
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SR_SERIES
    ds.SeriesNumber = 98
    ds.InstanceNumber = 1
    ds.Modality = "SR"
    ds.PatientID = PATIENT_ID
    ds.PatientName = "Sr^Test"
    ds.ContentDate = CONTENT_DATE
    ds.ContentTime = CONTENT_TIME
    ds.TimezoneOffsetFromUTC = "+0100"
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = DicomSequence([code_item(*title)])
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    for keyword, entries in (
        ("CurrentRequestedProcedureEvidenceSequence", evidence_uids),
        ("PertinentOtherEvidenceSequence", other_evidence),
    ):
        if not entries:
            continue
        by_series: dict[str, list[Dataset]] = {}
        for series, cls, sop in entries:
            ref = Dataset()
            ref.ReferencedSOPClassUID = cls
            ref.ReferencedSOPInstanceUID = sop
            by_series.setdefault(series, []).append(ref)
        study = Dataset()
        study.StudyInstanceUID = STUDY
        series_items = []
        for series, refs in by_series.items():
            s = Dataset()
            s.SeriesInstanceUID = series
            s.ReferencedSOPSequence = DicomSequence(refs)
            series_items.append(s)
        study.ReferencedSeriesSequence = DicomSequence(series_items)
        setattr(ds, keyword, DicomSequence([study]))
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.ContentSequence = DicomSequence(list(content))
    return ds


def ct_evidence(*numbers: int) -> list[tuple[str, str, str]]:
    return [(CT_SERIES, CT, ct_uid(n)) for n in numbers]


def bench_report(groups_count: int, name: str = "bench") -> Dataset:
    """The benchmark's report: ``groups_count`` planar groups, a POLYLINE and 2 NUM each."""
    specs = [
        Planar(
            "POLYLINE",
            [(10.0 + i % 50, 20.0), (30.0, 40.5 + i % 7), (50.25, 20.0), (10.0 + i % 50, 20.0)],
            image=ct_uid(1 + i % 20),
            tracking_id=f"Finding {i + 1}",
            tracking_uid=uid(NS, "bench-tracking", i),
            measurements=(
                (codes.SCT.Area, 100.0 + i, codes.UCUM.SquareMillimeter),
                (codes.SCT.Diameter, 10.0 + i / 8, codes.UCUM.Millimeter),
            ),
        )
        for i in range(groups_count)
    ]
    return tid1500(specs, name=name, ct_count=20)
