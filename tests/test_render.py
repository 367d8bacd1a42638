"""``dicomsel render``: regions drawn exactly where their Graphic Data says, on decoded frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from dicomsel.errors import InvalidInputError
from dicomsel.render import COLOUR, render

from conftest import realdata

Image = pytest.importorskip("PIL.Image")

STUDY, SERIES = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"


def _image(path: Path, uid: str, size: int = 64) -> None:
    """A CT image written with pydicom: a ramp of grey values, no window given."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
    ds.Modality, ds.PatientID = "CT", "P1"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ramp = np.add.outer(np.arange(size), np.arange(size)).astype(np.uint16) * 10
    ds.PixelData = ramp.tobytes()
    ds.save_as(path, enforce_file_format=True)


def _selection(path: Path, uid: str, region: dict[str, Any]) -> None:
    res = {
        "resourceType": "ImagingSelection",
        "id": "sq",
        "status": "available",
        "code": {
            "coding": [
                {
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": "111030",
                    "display": "Image Region",
                }
            ]
        },
        "studyUid": STUDY,
        "seriesUid": SERIES,
        "instance": [{"uid": uid, "imageRegion2D": [region]}],
    }
    path.write_text(json.dumps(res), encoding="utf-8")


def _red(png: str) -> set[tuple[int, int]]:
    arr = np.asarray(Image.open(png).convert("RGB"))
    ys, xs = np.nonzero(np.all(arr == COLOUR, axis=-1))
    return {(int(x), int(y)) for x, y in zip(xs, ys, strict=True)}


def test_a_square_is_drawn_on_its_pixels(tmp_path: Path) -> None:
    uid = generate_uid()
    images = tmp_path / "img"
    images.mkdir()
    _image(images / "ct.dcm", uid)
    # the square through the centres of pixels (10, 12) .. (30, 40): DICOM adds 0.5
    corners = [(10, 12), (30, 12), (30, 40), (10, 40), (10, 12)]
    coords = [v + 0.5 for c in corners for v in c]
    sel = tmp_path / "sel.json"
    _selection(sel, uid, {"regionType": "polyline", "coordinate": coords})
    out = tmp_path / "out"
    out.mkdir()
    (png,) = render([str(sel)], str(images), str(out))
    expected = {(x, y) for x in range(10, 31) for y in (12, 40)}
    expected |= {(x, y) for x in (10, 30) for y in range(12, 41)}
    assert _red(png) == expected
    with Image.open(png) as im:
        assert im.size == (64, 64 + 14)
    first = Path(png).read_bytes()
    (again,) = render([str(sel)], str(images), str(out))
    assert Path(again).read_bytes() == first  # the same PNG bytes


def test_a_circle_lies_on_its_radius(tmp_path: Path) -> None:
    uid = generate_uid()
    images = tmp_path / "img"
    images.mkdir()
    _image(images / "ct.dcm", uid)
    sel = tmp_path / "sel.json"
    _selection(sel, uid, {"regionType": "circle", "coordinate": [32.5, 32.5, 32.5, 42.5]})
    out = tmp_path / "out"
    out.mkdir()
    (png,) = render([str(sel)], str(images), str(out))
    red = _red(png)
    assert red
    for x, y in red:
        assert abs(np.hypot(x - 32, y - 32) - 10) <= 1.0


@pytest.mark.realdata
def test_real_sr_on_a_generated_image(tmp_path: Path, run_cli: Any) -> None:
    """highdicom's SR references a CT image it does not ship: generate it, draw its regions."""
    sr = realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")
    images = tmp_path / "img"
    images.mkdir()
    _image(images / "ct.dcm", "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", size=96)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, _ = run_cli("render", sr, "--image", images, "-o", out)
    assert code == 0
    pngs = stdout.split()
    assert len(pngs) == 2  # the CIRCLE (45,55) r=10 and the POLYLINE square
    circle, square = (_red(p) for p in pngs)
    for x, y in circle:
        # a centre between pixel centres: Pillow rounds the box, within a pixel diagonal
        assert abs(np.hypot(x + 0.5 - 45, y + 0.5 - 55) - 10) <= 1.5
    xs = {x for x, _ in square}
    ys = {y for _, y in square}
    assert min(xs) == 24 and max(xs) == 44 and min(ys) == 44 and max(ys) == 64


@pytest.mark.realdata
def test_missing_image_is_an_error(tmp_path: Path, run_cli: Any) -> None:
    sr = realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")
    code, _, err = run_cli("render", sr, "--image", tmp_path, "-o", tmp_path)
    assert code == 1 and "is not in" in err


def _ct_slice(path: Path, uid: str, z: int, size: int = 48) -> Dataset:
    """A CT slice with the geometry highdicom needs to segment it."""
    _image(path, uid, size=size)
    import pydicom

    ds = pydicom.dcmread(path)
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 1.0
    ds.InstanceNumber, ds.SeriesNumber = z + 1, 1
    ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "Test^Render", "", "O"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", ""
    ds.ReferringPhysicianName, ds.Manufacturer = "", "dicomsel tests"
    ds.save_as(path, enforce_file_format=True)
    return ds


def _seg(path: Path, sources: list[Dataset], masks: np.ndarray, kind: str, lab: Any) -> None:
    hd = pytest.importorskip("highdicom")
    from pydicom.sr.codedict import codes

    desc = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="the square",
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        display_color=lab,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=kind,
        segment_descriptions=[desc],
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="dicomsel tests",
        manufacturer_model_name="render",
        software_versions="0",
        device_serial_number="1",
    )
    seg.save_as(path)


def _coloured(png: str, colour: tuple[int, int, int]) -> set[tuple[int, int]]:
    arr = np.asarray(Image.open(png).convert("RGB"))
    ys, xs = np.nonzero(np.all(arr == colour, axis=-1))
    return {(int(x), int(y)) for x, y in zip(xs, ys, strict=True)}


@pytest.mark.parametrize("kind", ["BINARY", "FRACTIONAL"])
def test_a_seg_square_is_outlined_on_its_source_frame(tmp_path: Path, kind: str) -> None:
    """highdicom's SEG of a known square: the drawn pixels are the square's boundary ring."""
    hd = pytest.importorskip("highdicom")
    images = tmp_path / "img"
    images.mkdir()
    uids = [generate_uid(), generate_uid()]
    sources = [_ct_slice(images / f"ct{z}.dcm", uid, z) for z, uid in enumerate(uids)]
    masks = np.zeros((2, 48, 48), dtype=bool)
    masks[1, 12:31, 10:27] = True  # rows 12..30, columns 10..26, on the second slice only
    lab = hd.color.CIELabColor.from_rgb(30, 200, 60)
    seg = tmp_path / "seg.dcm"
    _seg(seg, sources, masks, kind, lab)
    out = tmp_path / "out"
    out.mkdir()
    (png,) = render([str(seg)], str(images), str(out))
    assert Path(png).name == f"{uids[1]}-f1-s1.png"
    colour = lab.to_rgb(clip=True)  # highdicom's own CIELab -> RGB
    expected = {(x, y) for x in range(10, 27) for y in (12, 30)}
    expected |= {(x, y) for x in (10, 26) for y in range(12, 31)}
    drawn = np.asarray(Image.open(png).convert("RGB"))
    # our conversion is within one step of highdicom's in each channel
    assert np.all(np.abs(drawn[12, 10].astype(int) - np.array(colour)) <= 1)
    assert _coloured(png, tuple(int(v) for v in drawn[12, 10])) == expected
    first = Path(png).read_bytes()
    (again,) = render([str(seg)], str(images), str(out))
    assert Path(again).read_bytes() == first


def test_cielab_conversion_matches_highdicom() -> None:
    hd = pytest.importorskip("highdicom")
    from dicomsel.render_seg import cielab_to_rgb

    for rgb in [(255, 0, 0), (0, 128, 255), (30, 200, 60), (250, 250, 10), (0, 0, 0)]:
        lab = hd.color.CIELabColor.from_rgb(*rgb)
        ours = cielab_to_rgb(list(lab.value))
        assert all(abs(a - b) <= 1 for a, b in zip(ours, rgb, strict=True)), (rgb, ours)


@pytest.mark.realdata
def test_real_seg_sources_are_not_shipped(tmp_path: Path) -> None:
    """The real SEGs' source images are not in realdata: render names the missing one."""
    seg = realdata("seg_dcmqi_5segments_overlap.dcm")
    with pytest.raises(InvalidInputError, match="is not in"):
        render([seg], str(tmp_path), str(tmp_path))


@pytest.mark.realdata
def test_real_seg_outlines_on_generated_sources(tmp_path: Path) -> None:
    """dcmqi's 5-segment SEG on CT images generated with its source UIDs and size (512x512).

    The images are not shipped; only their UIDs and size matter to where the outline lies.
    highdicom reads each segment's mask per source image; every boundary pixel of it (a mask
    pixel with a 4-neighbour outside the mask or the frame) is drawn, and nothing else.
    """
    hd = pytest.importorskip("highdicom")
    import pydicom

    path = realdata("seg_dcmqi_5segments_overlap.dcm")
    seg = hd.seg.segread(path)
    images = tmp_path / "img"
    images.mkdir()
    uids = sorted(u for _, _, u in seg.get_source_image_uids())
    for i, uid in enumerate(uids):
        _image(images / f"ct{i}.dcm", uid, size=512)
        ds = pydicom.dcmread(images / f"ct{i}.dcm")
        ds.BitsStored, ds.HighBit = 16, 15  # the ramp reaches 10220
        ds.save_as(images / f"ct{i}.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    out.mkdir()
    pngs = render([path], str(images), str(out))
    numbers = [int(d.SegmentNumber) for d in seg.SegmentSequence]
    expected_names = []
    for uid in uids:
        masks = seg.get_pixels_by_source_instance(
            [uid], combine_segments=False, skip_overlap_checks=True, ignore_spatial_locations=True
        )[0]
        for k, n in enumerate(numbers):
            mask = masks[..., k].astype(bool)
            if not mask.any():
                continue
            expected_names.append(f"{uid}-f1-s{n}.png")
            inside = {(int(x), int(y)) for y, x in zip(*np.nonzero(mask), strict=True)}
            ring = {
                (x, y)
                for x, y in inside
                if any(p not in inside for p in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)))
            }
            png = str(out / f"{uid}-f1-s{n}.png")
            lab = seg.SegmentSequence[k].RecommendedDisplayCIELabValue
            colour = hd.color.CIELabColor.from_dicom_value([int(v) for v in lab]).to_rgb(clip=True)
            arr = np.asarray(Image.open(png).convert("RGB"))[:512]
            (x0, y0) = min(ring)
            got = tuple(int(v) for v in arr[y0, x0])
            assert all(abs(a - b) <= 1 for a, b in zip(got, colour, strict=True))
            assert _coloured(png, got) == ring, (uid, n)
    assert sorted(Path(p).name for p in pngs) == sorted(expected_names)
    assert len(pngs) == 7  # 5 segments, overlapping, over 3 source images


def test_a_seg_frame_without_source_is_a_warning(tmp_path: Path) -> None:
    hd = pytest.importorskip("highdicom")
    import pydicom

    from dicomsel.errors import InputWarning

    images = tmp_path / "img"
    images.mkdir()
    sources = [_ct_slice(images / "ct0.dcm", generate_uid(), 0)]
    masks = np.zeros((1, 48, 48), dtype=bool)
    masks[0, 5:9, 5:9] = True
    seg = tmp_path / "seg.dcm"
    _seg(seg, sources, masks, "BINARY", hd.color.CIELabColor.from_rgb(0, 0, 255))
    ds = pydicom.dcmread(seg)
    del ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence
    ds.save_as(seg)
    with pytest.warns(InputWarning, match="frame 1 names no source image"):
        assert render([str(seg)], str(images), str(tmp_path)) == []
