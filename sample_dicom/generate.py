"""Generate the sample KOS files (and the one SEG they reference).

Usage: python sample_dicom/generate.py [OUTDIR]     (default: this folder)

The KOS documents reference pydicom's bundled test files by UID; the only
non-KOS output is ``seg_ct_small.dcm``, a small binary segmentation of
CT_small.dcm made with highdicom.  Output is deterministic: every UID is
derived with :func:`kosgen.uid` and every date and time is fixed, so running
this twice gives byte-identical files (for the same pydicom and highdicom
versions, whose names are written into the file meta information).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.sr.codedict import codes

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kosgen import TITLES, Ref, Request, make_kos, save, uid  # noqa: E402

NS = "dicomsel-sample-dicom"  # namespace of every derived UID
CONTENT_DATE = "20240102"
CONTENT_TIME = "101500"


def _testdata(name: str) -> Dataset:
    path = get_testdata_file(name)
    if path is None:
        raise SystemExit(f"pydicom test file {name} is not available")
    return dcmread(path)


def _ref(ds: Dataset, **kwargs: object) -> Ref:
    return Ref(
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPClassUID),
        str(ds.SOPInstanceUID),
        **kwargs,  # type: ignore[arg-type]
    )


def _patient_and_study(ds: Dataset) -> dict[str, str]:
    """KOS keyword arguments that put the KOS in the patient and study of ``ds``."""
    return {
        "patient_id": str(ds.get("PatientID", "")),
        "patient_name": str(ds.get("PatientName", "")),
        "patient_birth_date": str(ds.get("PatientBirthDate", "")),
        "patient_sex": str(ds.get("PatientSex", "")),
        "kos_study_uid": str(ds.StudyInstanceUID),
        "study_date": str(ds.get("StudyDate", "")),
        "study_time": str(ds.get("StudyTime", "")),
        "study_id": str(ds.get("StudyID", "")),
        "referring_physician_name": str(ds.get("ReferringPhysicianName", "")),
        "accession": str(ds.get("AccessionNumber", "")),
    }


def _walk(ds: Dataset):
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item)


def make_seg(ct: Dataset) -> Dataset:
    """A binary SEG of CT_small with two disjoint segments."""
    import highdicom as hd

    rows, cols = int(ct.Rows), int(ct.Columns)
    mask = np.zeros((1, rows, cols, 2), dtype=bool)
    mask[0, 32:64, 40:88, 0] = True  # segment 1: a rectangle
    yy, xx = np.mgrid[0:rows, 0:cols]
    mask[0, :, :, 1] = (yy - 92) ** 2 + (xx - 64) ** 2 <= 18**2  # segment 2: a disc

    algorithm = hd.seg.SegmentAlgorithmTypeValues.MANUAL
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=1,
            segment_label="Region A",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.SoftTissue,
            algorithm_type=algorithm,
        ),
        hd.seg.SegmentDescription(
            segment_number=2,
            segment_label="Region B",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Bone,
            algorithm_type=algorithm,
        ),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = hd.seg.Segmentation(
            source_images=[ct],
            pixel_array=mask,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=uid(NS, "seg_ct_small", "series"),
            series_number=300,
            sop_instance_uid=uid(NS, "seg_ct_small", "instance"),
            instance_number=1,
            manufacturer="dicomsel",
            manufacturer_model_name="sample_dicom/generate.py",
            software_versions="1",
            device_serial_number="0",
            content_date=CONTENT_DATE,
            content_time=CONTENT_TIME,
            series_description="Sample segmentation of CT_small",
            content_label="SAMPLE",
        )
    # highdicom stamps the clock (instance creation, contributing equipment)
    # and draws a random dimension organization UID: pin them.
    seg.InstanceCreationDate = CONTENT_DATE
    seg.InstanceCreationTime = CONTENT_TIME
    pinned = {
        "ContributionDateTime": CONTENT_DATE + CONTENT_TIME,
        "DimensionOrganizationUID": uid(NS, "seg_ct_small", "dimension-organization"),
    }
    for elem in _walk(seg):
        if elem.keyword in pinned:
            elem.value = pinned[elem.keyword]
    return seg


def generate(outdir: Path) -> dict[str, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    ct = _testdata("CT_small.dcm")
    mr = _testdata("MR_small.dcm")
    # pydicom's emri_small.dcm is not bundled (it is downloaded on demand);
    # examples_ybr_color.dcm is a bundled 30-frame ultrasound instance.
    us = _testdata("examples_ybr_color.dcm")
    written: dict[str, Path] = {}

    seg = make_seg(ct)
    written["seg_ct_small.dcm"] = outdir / "seg_ct_small.dcm"
    seg.save_as(written["seg_ct_small.dcm"], enforce_file_format=True)

    name = "kos_single_frame.dcm"
    ds = make_kos(
        [_ref(ct), _ref(seg)],
        title=TITLES["of_interest"],
        description="CT slice of interest and its segmentation",
        uid=uid(NS, name, "instance"),
        series_uid=uid(NS, name, "series"),
        series_number=901,
        series_description="Key objects",
        content_date=CONTENT_DATE,
        content_time=CONTENT_TIME,
        tz_offset="+0100",
        observer_name="Observer^Olivia^^Dr.",
        **_patient_and_study(ct),
    )
    written[name] = save(ds, outdir / name)

    name = "kos_frames_segments.dcm"
    ds = make_kos(
        [_ref(us, frames=(2, 5, 7)), _ref(seg, segments=(1, 2))],
        title=TITLES["for_teaching"],
        description="Frames 2, 5 and 7 of an ultrasound cine; segments 1 and 2 of a SEG",
        uid=uid(NS, name, "instance"),
        series_uid=uid(NS, name, "series"),
        series_number=902,
        content_date=CONTENT_DATE,
        content_time=CONTENT_TIME,
        **_patient_and_study(ct),
    )
    written[name] = save(ds, outdir / name)

    name = "kos_two_studies.dcm"
    kos_study = uid(NS, name, "study")
    mr_url = (
        "https://pacs.example.org/dicomweb"
        f"/studies/{mr.StudyInstanceUID}/series/{mr.SeriesInstanceUID}"
    )
    ds = make_kos(
        [_ref(ct, retrieve_ae="CT_PACS"), _ref(seg), _ref(mr, retrieve_url=mr_url)],
        title=TITLES["manifest"],
        uid=uid(NS, name, "instance"),
        series_uid=uid(NS, name, "series"),
        series_number=903,
        content_date=CONTENT_DATE,
        content_time=CONTENT_TIME,
        patient_id=str(ct.PatientID),
        patient_name=str(ct.PatientName),
        issuer_of_patient_id="SAMPLE-HOSPITAL",
        patient_sex=str(ct.PatientSex),
        kos_study_uid=kos_study,
        study_date=CONTENT_DATE,
        study_time=CONTENT_TIME,
        study_id="KOS3",
        referring_physician_name="Referrer^Rita",
        accession="ACC-0003",
        requests=[
            Request(
                study_uid=kos_study,
                accession="ACC-0003",
                placer_order="PO-12345",
                requested_procedure_id="RP-3",
                requested_procedure_description="Key image manifest",
            )
        ],
    )
    written[name] = save(ds, outdir / name)
    return written


def main(argv: list[str]) -> int:
    outdir = Path(argv[1]) if len(argv) > 1 else HERE
    for name, path in generate(outdir).items():
        print(f"{name}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
