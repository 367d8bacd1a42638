"""``dicomsel render``: regions drawn exactly where their Graphic Data says, on decoded frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

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
