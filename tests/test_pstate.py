"""Softcopy Presentation States: graphic annotations as regions (dicomsel.dicom.pstate).

Expected values come from pydicom's reading of the raw attributes and from the
files highdicom writes here (never from our own output read back); DISPLAY-unit
conversions are computed from the Displayed Area attributes highdicom wrote,
with PS3.3 C.10.5.1.1's rule.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from dicomsel import dicom
from dicomsel.dicom import pstate
from dicomsel.dicom.context import ReadOptions, ReadResult
from dicomsel.errors import InvalidInputError, LossyMappingWarning, Validation
from dicomsel.fhir import FLAVOURS
from dicomsel.model import Region2D, RegionType2D, Selection
from dicomsel.pipeline import ConvertOptions, convert

from conftest import realdata
from hl7_r5 import assert_valid_r5
from validators import assert_valid_kos

GSPS = "gsps_softneta_ellipse_measurement.dcm"
IMAGE = "gsps_softneta_ellipse_measurement_image.dcm"
MR4 = "enhanced_mr_bruker_4frames.dcm"
OPTS = ReadOptions(timezone="+00:00")


def _layers(result: ReadResult) -> list[Selection]:
    return [s for s in result.selections if s.key.startswith("pr|layer|")]


def _regions(sel: Selection) -> list[tuple[str, tuple[float, ...]]]:
    return [(str(r.region_type), r.coordinates) for i in sel.instances for r in i.regions_2d]


# ---- the real state of a commercial viewer ------------------------------------------------


def test_real_state_every_graphic_object_is_a_region_on_its_image() -> None:
    path = realdata(GSPS)
    raw = pydicom.dcmread(path)
    image = _image(IMAGE)
    result = dicom.read_file(path, OPTS)
    (sel,) = _layers(result)
    expected = [
        (str(obj.GraphicType).lower(), tuple(float(v) for v in obj.GraphicData))
        for ann in raw.GraphicAnnotationSequence
        for obj in ann.GraphicObjectSequence
    ]
    assert expected and _regions(sel) == expected
    (inst,) = sel.instances
    assert inst.uid == image.SOPInstanceUID and inst.sop_class_uid == image.SOPClassUID
    assert sel.series_instance_uid == image.SeriesInstanceUID
    assert sel.study_instance_uid == image.StudyInstanceUID
    # the layer's description is the code's text; the viewer's measurement text the narrative
    layer = raw.GraphicLayerSequence[0]
    assert sel.code.value == "111030" and sel.code.text == layer.GraphicLayerDescription
    text = raw.GraphicAnnotationSequence[0].TextObjectSequence[0].UnformattedTextValue
    assert sel.description == text.replace("\r\n", "\n")
    assert "Mean: 2651.41" in (sel.description or "") and "119.58 cm²" in (sel.description or "")
    # issued from Presentation Creation Date/Time, not Content Date/Time
    assert sel.issued == dt.datetime(2019, 1, 7, 22, 35, 26, tzinfo=dt.UTC)
    # the state itself is the source
    (source,) = [s for s in result.selections if s.key == "pr|source"]
    assert sel.focus == ("pr|source",)
    assert [i.uid for i in source.instances] == [raw.SOPInstanceUID]
    assert source.instances[0].sop_class_uid == raw.SOPClassUID


@pytest.mark.parametrize("fhir", ["r5", "r5-snapshot1"])
def test_real_state_converts_and_validates(fhir: str) -> None:
    batch = convert([str(realdata(GSPS))], ConvertOptions(fhir=fhir, read=OPTS))
    assert [o.status for o in batch.outcomes] == ["converted"]
    resources = batch.all_resources()
    ims = [r for r in resources if r["resourceType"] == "ImagingSelection"]
    assert len(ims) == 2
    for res in ims:
        FLAVOURS[fhir].validate(res)
        if fhir == "r5":
            assert_valid_r5(res)
    if fhir == "r5-snapshot1":
        (region,) = [r["imageRegion"] for r in ims if "imageRegion" in r]
        assert region["regionType"] == "ELLIPSE" and region["coordinateType"] == "2d"


def test_real_state_reverse_path_references_the_state(tmp_path: Path, run_cli: Any) -> None:
    src = realdata(GSPS)
    code, out, err = run_cli("convert", src, "--timezone", "+00:00")
    assert code == 0, err
    bundle = tmp_path / "pr.json"
    bundle.write_text(out, encoding="utf-8")
    kos = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", bundle, "--context", src, "--title", "113000", "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    raw = pydicom.dcmread(src)
    ds = pydicom.dcmread(kos)
    refs = {
        (str(it.ValueType), s.ReferencedSOPClassUID, s.ReferencedSOPInstanceUID)
        for it in ds.ContentSequence
        for s in it.get("ReferencedSOPSequence", [])
    }
    assert ("COMPOSITE", raw.SOPClassUID, raw.SOPInstanceUID) in refs
    image = raw.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    assert ("IMAGE", image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID) in refs


# ---- states written by highdicom ------------------------------------------------------------


def _image(name: str) -> Dataset:
    """A real image's header; a one-part name gets its caret (highdicom warns otherwise)."""
    ds = pydicom.dcmread(realdata(name), stop_before_pixels=True)
    if "^" not in str(ds.get("PatientName", "")):
        ds.PatientName = f"{ds.get('PatientName', '')}^"
    if str(ds.get("SpecificCharacterSet", "")) == "ISO 2022 IR 100":  # one encoding only
        ds.SpecificCharacterSet = "ISO_IR 100"
    return ds


def _state(images: list[Dataset], annotations: list[Any], layers: list[Any]) -> Dataset:
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=images,
        series_instance_uid=generate_uid(),
        series_number=7,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        content_label="TEST",
        graphic_annotations=annotations,
        graphic_layers=layers,
        content_creator_name="Doe^Jane",
    )


def _read(ds: Dataset, tmp_path: Path, opts: ReadOptions = OPTS) -> ReadResult:
    path = tmp_path / "pr.dcm"
    ds.save_as(path, enforce_file_format=True)
    return dicom.read_file(path, opts)


SHAPES = [
    ("POINT", [[10.5, 20.25]]),
    ("POLYLINE", [[1.0, 2.0], [30.0, 40.0], [50.5, 2.0]]),
    ("INTERPOLATED", [[5.0, 5.0], [15.0, 25.0], [35.0, 5.0]]),
    ("CIRCLE", [[100.0, 100.0], [110.0, 100.0]]),
    ("ELLIPSE", [[10.0, 50.0], [90.0, 50.0], [50.0, 30.0], [50.0, 70.0]]),
]


def test_every_graphic_type_in_pixel_units(tmp_path: Path) -> None:
    image = _image(IMAGE)
    layer = hd.pr.GraphicLayer("LAYER_A", 1, description="Findings")
    objects = [
        hd.pr.GraphicObject(t, np.array(pts, dtype=np.float32), "PIXEL") for t, pts in SHAPES
    ]
    text = hd.pr.TextObject("ruler: 12.5 mm", "PIXEL", bounding_box=(1.0, 1.0, 50.0, 10.0))
    ann = hd.pr.GraphicAnnotation([image], layer, graphic_objects=objects, text_objects=[text])
    ds = _state([image], [ann], [layer])
    result = _read(ds, tmp_path)
    (sel,) = _layers(result)
    written = [
        (str(o.GraphicType).lower(), tuple(float(v) for v in o.GraphicData))
        for o in ds.GraphicAnnotationSequence[0].GraphicObjectSequence
    ]
    assert len(written) == len(SHAPES) and _regions(sel) == written
    assert [r[0] for r in written] == [t.lower() for t, _ in SHAPES]
    assert sel.code.text == "Findings" and sel.description == "ruler: 12.5 mm"
    assert next(p.actor.display for p in sel.performers if p.actor.display) == "Jane Doe"
    assert not [i for i in result.issues if "DISPLAY" in i.reason]


def test_display_units_through_the_displayed_area(tmp_path: Path) -> None:
    image = _image(IMAGE)
    layer = hd.pr.GraphicLayer("L", 1)
    fractions = [[0.25, 0.5], [0.75, 0.5], [0.5, 0.25], [0.5, 0.75]]
    obj = hd.pr.GraphicObject("ELLIPSE", np.array(fractions, dtype=np.float32), "DISPLAY")
    ann = hd.pr.GraphicAnnotation([image], layer, graphic_objects=[obj])
    ds = _state([image], [ann], [layer])
    area = ds.DisplayedAreaSelectionSequence[0]
    (c0, r0), (c1, r1) = (
        area.DisplayedAreaTopLeftHandCorner,
        area.DisplayedAreaBottomRightHandCorner,
    )
    result = _read(ds, tmp_path)
    (sel,) = _layers(result)
    data = [float(v) for v in ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0].GraphicData]
    # PS3.3 C.10.5.1.1: 0.0 is the TLHC of the area's TLHC pixel, 1.0 the BRHC of its BRHC
    # pixel; pixel column c spans c-1 .. c in PIXEL units
    expected = []
    for i in range(0, len(data), 2):
        expected += [(c0 - 1) + data[i] * (c1 - c0 + 1), (r0 - 1) + data[i + 1] * (r1 - r0 + 1)]
    assert _regions(sel) == [("ellipse", tuple(expected))]
    assert any("DISPLAY units converted" in i.reason for i in result.issues)


def test_display_units_without_a_displayed_area_are_reported_lost(tmp_path: Path) -> None:
    image = _image(IMAGE)
    layer = hd.pr.GraphicLayer("L", 1)
    obj = hd.pr.GraphicObject("POINT", np.array([[0.5, 0.5]], dtype=np.float32), "DISPLAY")
    ann = hd.pr.GraphicAnnotation([image], layer, graphic_objects=[obj])
    ds = _state([image], [ann], [layer])
    del ds.DisplayedAreaSelectionSequence
    result = _read(ds, tmp_path)
    (sel,) = _layers(result)
    assert _regions(sel) == []
    lost = [i for i in result.issues if "cannot be placed" in i.reason]
    assert lost and issubclass(lost[0].category, LossyMappingWarning)


def test_multi_frame_references_keep_their_frames(tmp_path: Path) -> None:
    image = _image(MR4)
    layer = hd.pr.GraphicLayer("L", 1)
    first = hd.pr.GraphicAnnotation(
        [image],
        layer,
        referenced_frame_number=[2, 3],
        graphic_objects=[
            hd.pr.GraphicObject("POINT", np.array([[4.0, 5.0]], dtype=np.float32), "PIXEL")
        ],
    )
    second = hd.pr.GraphicAnnotation(
        [image],
        layer,
        referenced_frame_number=4,
        graphic_objects=[
            hd.pr.GraphicObject("POINT", np.array([[7.0, 8.0]], dtype=np.float32), "PIXEL")
        ],
    )
    ds = _state([image], [first, second], [layer])
    result = _read(ds, tmp_path)
    sels = _layers(result)
    got = sorted((i.frames, r.coordinates) for s in sels for i in s.instances for r in i.regions_2d)
    written = sorted(
        (
            tuple(sorted(_frames(a))),
            tuple(float(v) for v in a.GraphicObjectSequence[0].GraphicData),
        )
        for a in ds.GraphicAnnotationSequence
    )
    assert got == written == [((2, 3), (4.0, 5.0)), ((4,), (7.0, 8.0))]
    assert all(s.series_instance_uid == image.SeriesInstanceUID for s in sels)
    for res in convert([str(tmp_path / "pr.dcm")], ConvertOptions(read=OPTS)).all_resources():
        assert_valid_r5(res)


def _frames(ann: Dataset) -> list[int]:
    value = ann.ReferencedImageSequence[0].ReferencedFrameNumber
    multi = isinstance(value, pydicom.multival.MultiValue)
    return [int(v) for v in value] if multi else [int(value)]


def test_annotation_without_own_images_applies_to_every_referenced_image(tmp_path: Path) -> None:
    image = _image(IMAGE)
    layer = hd.pr.GraphicLayer("L", 1)
    obj = hd.pr.GraphicObject("POINT", np.array([[1.0, 2.0]], dtype=np.float32), "PIXEL")
    ann = hd.pr.GraphicAnnotation([image], layer, graphic_objects=[obj])
    ds = _state([image], [ann], [layer])
    del ds.GraphicAnnotationSequence[0].ReferencedImageSequence
    (sel,) = _layers(_read(ds, tmp_path))
    assert [i.uid for i in sel.instances] == [image.SOPInstanceUID]
    assert _regions(sel) == [("point", (1.0, 2.0))]


# ---- compound graphics ---------------------------------------------------------------------


def _compound(kind: str, data: list[float], cid: int) -> Dataset:
    item = Dataset()
    item.CompoundGraphicUnits = "PIXEL"
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(data) // 2
    item.GraphicData = data
    item.CompoundGraphicType = kind
    item.CompoundGraphicInstanceID = cid
    item.GraphicFilled = "N"
    return item


def test_compound_graphics_without_components_as_their_shapes(tmp_path: Path) -> None:
    ds = pydicom.dcmread(realdata(GSPS))
    ann = ds.GraphicAnnotationSequence[0]
    ann.CompoundGraphicSequence = DicomSequence(
        [
            _compound("RULER", [10.0, 10.0, 60.0, 10.0], 1),
            _compound("ARROW", [5.0, 5.0, 25.0, 45.0], 2),
            _compound("RECTANGLE", [10.0, 20.0, 30.0, 40.0], 3),
            _compound("CROSSHAIR", [50.0, 60.0], 4),
        ]
    )
    (sel,) = _layers(_read(ds, tmp_path))
    regions = _regions(sel)
    assert regions[1:] == [
        ("polyline", (10.0, 10.0, 60.0, 10.0)),
        ("polyline", (5.0, 5.0, 25.0, 45.0)),
        ("polyline", (10.0, 20.0, 30.0, 20.0, 30.0, 40.0, 10.0, 40.0, 10.0, 20.0)),
        ("point", (50.0, 60.0)),
    ]


def test_compound_graphic_drawn_by_its_graphic_objects_is_not_doubled(tmp_path: Path) -> None:
    ds = pydicom.dcmread(realdata(GSPS))
    ann = ds.GraphicAnnotationSequence[0]
    ann.CompoundGraphicSequence = DicomSequence([_compound("RULER", [1.0, 1.0, 9.0, 1.0], 5)])
    component = Dataset()
    component.GraphicAnnotationUnits = "PIXEL"
    component.GraphicDimensions = 2
    component.NumberOfGraphicPoints = 2
    component.GraphicData = [1.0, 1.0, 9.0, 1.0]
    component.GraphicType = "POLYLINE"
    component.CompoundGraphicInstanceID = 5
    ann.GraphicObjectSequence.append(component)
    result = _read(ds, tmp_path)
    (sel,) = _layers(result)
    assert _regions(sel)[1:] == [("polyline", (1.0, 1.0, 9.0, 1.0))]
    assert not [i for i in result.issues if "compound" in i.reason]


# ---- damaged states ------------------------------------------------------------------------


def test_bad_graphic_data_is_reported_and_left_out(tmp_path: Path) -> None:
    ds = pydicom.dcmread(realdata(GSPS))
    obj = ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0]
    obj.GraphicData = [1.0, 2.0, 3.0]  # not an ellipse (four points)
    result = _read(ds, tmp_path)
    (sel,) = _layers(result)
    assert _regions(sel) == []
    assert any("GraphicData" in i.reason and "left out" in i.reason for i in result.issues)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("ReferencedSOPInstanceUID", "1.2.3.04"),
        ("ReferencedFrameNumber", "0"),
    ],
)
def test_bad_reference_is_a_typed_error(tmp_path: Path, where: str, value: str) -> None:
    ds = pydicom.dcmread(realdata(GSPS))
    item = ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    with warnings.catch_warnings():  # pydicom warns on the invalid value written
        warnings.simplefilter("ignore")
        setattr(item, where, value)
        path = tmp_path / "pr.dcm"
        ds.save_as(path, enforce_file_format=True)
    with pytest.raises(InvalidInputError) as e:
        dicom.read_file(path, OPTS)
    assert e.value.path == str(tmp_path / "pr.dcm")


def test_truncated_state_is_a_typed_error(tmp_path: Path) -> None:
    data = realdata(GSPS).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(InvalidInputError):
        dicom.read_file(path, OPTS)


def test_every_listed_class_is_a_presentation_state_with_graphic_annotation() -> None:
    names = {uid: pydicom.uid.UID(uid).name for uid in pstate.SOP_CLASS_UIDS}
    assert all("Presentation State Storage" in n for n in names.values()), names
    assert not any("Volumetric" in n for n in names.values())
    for uid in pstate.SOP_CLASS_UIDS:
        assert dicom.reader_for(uid) is pstate.read_pstate
    # highdicom's presentation state classes are all read
    assert set(hd.pr.SOP_CLASS_UIDS) <= pstate.SOP_CLASS_UIDS | {
        u for u in hd.pr.SOP_CLASS_UIDS if "Volumetric" in pydicom.uid.UID(u).name
    }


def test_strict_fails_on_a_lossy_state(tmp_path: Path) -> None:
    ds = pydicom.dcmread(realdata(GSPS))
    ds.GraphicAnnotationSequence[0].CompoundGraphicSequence = DicomSequence(
        [_compound("ARROW", [5.0, 5.0, 25.0, 45.0], 2)]
    )
    path = tmp_path / "pr.dcm"
    ds.save_as(path, enforce_file_format=True)
    batch = convert([str(path)], ConvertOptions(read=OPTS, validation=Validation.RAISE))
    assert [o.status for o in batch.outcomes] == ["failed"]
    assert json.dumps([str(i) for o in batch.outcomes for i in o.issues]).count("ARROW")


def test_region_type_check() -> None:  # the model's own rule the reader relies on
    with pytest.raises(InvalidInputError):
        Region2D(RegionType2D.CIRCLE, (1.0, 2.0))
