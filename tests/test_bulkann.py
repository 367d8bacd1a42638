"""Microscopy Bulk Simple Annotations (dicomsel.dicom.bulkann).

Expected coordinates and measured values come from highdicom's own reader
(``highdicom.ann.annread``) and from the arrays given to highdicom's writer,
never from our output read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from dicomsel import dicom
from dicomsel.dicom.context import ReadOptions, ReadResult
from dicomsel.errors import InvalidInputError, LossyMappingWarning
from dicomsel.fhir import FLAVOURS
from dicomsel.model import Selection
from dicomsel.pipeline import ConvertOptions, convert

from conftest import realdata
from hl7_r5 import assert_valid_r5
from validators import assert_valid_kos

ANN = "ann_highdicom_microscopy_bulk_annotations.dcm"
OPTS = ReadOptions(timezone="+00:00")


def _groups(result: ReadResult) -> list[Selection]:
    return [s for s in result.selections if s.key.startswith("ann|group|")]


def _flat(points: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in points.flatten())


def _closed(points: np.ndarray) -> tuple[float, ...]:
    flat = [float(v) for v in points.flatten()]
    if flat[:2] != flat[-2:]:
        flat += flat[:2]
    return tuple(flat)


# ---- the real file ------------------------------------------------------------------------


def test_real_file_regions_and_measurements_as_highdicom_reads_them() -> None:
    path = realdata(ANN)
    ref = hd.ann.annread(path)
    result = dicom.read_file(path, OPTS)
    groups = _groups(result)
    assert len(groups) == len(ref.AnnotationGroupSequence) == 1
    for sel, hgroup in zip(groups, ref.get_annotation_groups(), strict=True):
        expected = [
            tuple(float(v) for v in a.flatten())
            for a in hgroup.get_graphic_data(coordinate_type="2D")
        ]
        (inst,) = sel.instances
        assert [r.coordinates for r in inst.regions_2d] == expected
        assert {str(r.region_type) for r in inst.regions_2d} == {"point"}
        assert inst.uid == ref.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert sel.code.value == hgroup.annotated_property_type.value
        assert sel.code.text == hgroup.label
        assert [c.value for c in sel.categories] == [hgroup.annotated_property_category.value]
        names, values, units = hgroup.get_measurements()
        obs = [o for o in result.observations if o.derived_from == (sel.key,)]
        assert [o.numeric_value for o in obs] == [float(v) for v in values[:, 0]]
        assert {o.code.value for o in obs} == {names[0].value}
        assert {o.unit.value for o in obs if o.unit} == {units[0].value}


@pytest.mark.parametrize("fhir", ["r5", "r5-snapshot1"])
def test_real_file_converts_and_validates(fhir: str) -> None:
    batch = convert([str(realdata(ANN))], ConvertOptions(fhir=fhir, read=OPTS))
    assert [o.status for o in batch.outcomes] == ["converted"]
    resources = batch.all_resources()
    for res in resources:
        if res["resourceType"] == "ImagingSelection":
            FLAVOURS[fhir].validate(res)
        if fhir == "r5" or res["resourceType"] != "ImagingSelection":
            assert_valid_r5(res)
    assert sum(r["resourceType"] == "Observation" for r in resources) == 2


def test_real_file_reverse_path_references_the_annotation(tmp_path: Path, run_cli: Any) -> None:
    src = realdata(ANN)
    code, out, err = run_cli("convert", src, "--timezone", "+00:00", "--no-observations")
    assert code == 0, err
    bundle = tmp_path / "ann.json"
    bundle.write_text(out, encoding="utf-8")
    kos = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", bundle, "--context", src, "--title", "113000", "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    raw = pydicom.dcmread(src)
    refs = {
        (str(it.ValueType), s.ReferencedSOPClassUID, s.ReferencedSOPInstanceUID)
        for it in pydicom.dcmread(kos).ContentSequence
        for s in it.get("ReferencedSOPSequence", [])
    }
    assert ("COMPOSITE", raw.SOPClassUID, raw.SOPInstanceUID) in refs


# ---- files written by highdicom -----------------------------------------------------------


def _slide() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientID = "P1"
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = "20240101"
    ds.StudyTime = "101010"
    ds.StudyID = "1"
    ds.AccessionNumber = "A1"
    ds.ReferringPhysicianName = ""
    ds.Modality = "SM"
    ds.ContainerIdentifier = "C1"
    ds.SpecimenDescriptionSequence = []
    return ds


def _group(number: int, gtype: str, data: list[np.ndarray], **kw: Any) -> Any:
    return hd.ann.AnnotationGroup(
        number=number,
        uid=generate_uid(),
        label=f"group {number}",
        annotated_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        annotated_property_type=codes.SCT.Neoplasm,
        graphic_type=gtype,
        graphic_data=data,
        algorithm_type="MANUAL",
        **kw,
    )


def _write(tmp_path: Path, groups: list[Any], coordinate_type: str = "2D") -> tuple[Path, Any]:
    src = _slide()
    ann = hd.ann.MicroscopyBulkSimpleAnnotations(
        source_images=[src],
        annotation_coordinate_type=coordinate_type,
        annotation_groups=groups,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    path = tmp_path / "ann.dcm"
    ann.save_as(path, enforce_file_format=True)
    return path, src


def test_every_2d_graphic_type(tmp_path: Path) -> None:
    point = [np.array([[1.5, 2.5]]), np.array([[3.0, 4.0]])]
    polyline = [np.array([[1.0, 1.0], [2.0, 3.0]]), np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 1.0]])]
    polygon = [np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 1.0]])]
    ellipse = [np.array([[0.0, 5.0], [10.0, 5.0], [5.0, 3.0], [5.0, 7.0]])]
    rect = [np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]])]
    area = hd.ann.Measurements(
        codes.SCT.Area, np.array([12.5, 7.25], dtype=np.float32), codes.UCUM.SquareMicrometer
    )
    given = [
        _group(1, "POINT", point, measurements=[area]),
        _group(2, "POLYLINE", polyline),
        _group(3, "POLYGON", polygon),
        _group(4, "ELLIPSE", ellipse),
        _group(5, "RECTANGLE", rect),
    ]
    path, src = _write(tmp_path, given)
    result = dicom.read_file(path, OPTS)
    by_key = {s.key: s for s in _groups(result)}
    expected = {
        "ann|group|1": ("point", [_flat(a) for a in point]),
        "ann|group|2": ("polyline", [_flat(a) for a in polyline]),
        "ann|group|3": ("polyline", [_closed(a) for a in polygon]),
        "ann|group|4": ("ellipse", [_flat(a) for a in ellipse]),
        "ann|group|5": ("polyline", [_closed(a) for a in rect]),
    }
    for key, (rtype, coords) in expected.items():
        (inst,) = by_key[key].instances
        assert inst.uid == src.SOPInstanceUID
        assert [str(r.region_type) for r in inst.regions_2d] == [rtype] * len(coords)
        assert [r.coordinates for r in inst.regions_2d] == coords
        assert by_key[key].series_instance_uid == src.SeriesInstanceUID
    assert [o.numeric_value for o in result.observations] == [12.5, 7.25]
    assert all(o.derived_from == ("ann|group|1",) for o in result.observations)
    for res in convert([str(path)], ConvertOptions(read=OPTS)).all_resources():
        assert_valid_r5(res)


def test_3d_annotations_are_in_the_frame_of_reference(tmp_path: Path) -> None:
    polygon = [np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])]
    flat_z = [np.array([[1.0, 2.0, 0.5]]), np.array([[3.0, 4.0, 0.5]])]
    path, _ = _write(tmp_path, [_group(1, "POLYGON", polygon), _group(2, "POINT", flat_z)], "3D")
    raw = pydicom.dcmread(path)
    assert "CommonZCoordinateValue" in raw.AnnotationGroupSequence[1]  # stored as pairs
    result = dicom.read_file(path, OPTS)
    g1, g2 = _groups(result)
    (inst,) = g1.instances
    assert inst.uid == raw.SOPInstanceUID  # anchored on the annotation instance
    (r,) = inst.regions_3d
    assert str(r.region_type) == "polygon" and r.frame_of_reference_uid == raw.FrameOfReferenceUID
    assert r.coordinates == tuple(float(v) for v in polygon[0].flatten())
    assert [x.coordinates for x in g2.instances[0].regions_3d] == [
        tuple(float(v) for v in a.flatten()) for a in flat_z
    ]
    assert g1.frame_of_reference_uid == raw.FrameOfReferenceUID


def test_a_100000_point_group_within_the_region_limit(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    outline = rng.uniform(0, 50_000, size=(100_000, 2))
    path, _ = _write(tmp_path, [_group(1, "POLYGON", [outline])])
    (sel,) = _groups(dicom.read_file(path, OPTS))
    (region,) = sel.instances[0].regions_2d
    assert region.coordinates == _closed(outline)


def test_more_annotations_than_max_regions_selects_the_group_without_regions(
    tmp_path: Path,
) -> None:
    points = [np.array([[float(i), float(i % 7)]]) for i in range(1001)]
    path, src = _write(tmp_path, [_group(1, "POINT", points)])
    result = dicom.read_file(path, OPTS)
    (sel,) = _groups(result)
    (inst,) = sel.instances
    assert inst.uid == src.SOPInstanceUID and inst.regions_2d == ()
    (lost,) = [i for i in result.issues if "exceed --max-regions 1000" in i.reason]
    assert "1001 annotations" in lost.reason and issubclass(lost.category, LossyMappingWarning)
    wide = dicom.read_file(path, ReadOptions(timezone="+00:00", max_regions=2000))
    (sel,) = _groups(wide)
    assert [r.coordinates for r in sel.instances[0].regions_2d] == [
        tuple(float(v) for v in p.flatten()) for p in points
    ]


def test_cli_max_regions(tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("convert", realdata(ANN), "--timezone", "+00:00", "--max-regions", "1")
    assert code == 0, err
    assert "exceed --max-regions 1" in err and '"imageRegion2D"' not in out
    code, _, err = run_cli("convert", realdata(ANN), "--max-regions", "-1")
    assert code != 0


# ---- damaged files ------------------------------------------------------------------------


def _damaged(tmp_path: Path, change: Any) -> Path:
    path, _ = _write(
        tmp_path,
        [
            _group(
                1,
                "POLYLINE",
                [np.array([[1.0, 1.0], [2.0, 3.0]]), np.array([[0.0, 0.0], [5.0, 5.0]])],
            )
        ],
    )
    ds = pydicom.dcmread(path)
    change(ds.AnnotationGroupSequence[0])
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(
    ("name", "change", "attribute"),
    [
        (
            "cut coordinates",
            lambda g: setattr(g, "DoublePointCoordinatesData", g.DoublePointCoordinatesData[:-4]),
            "DoublePointCoordinatesData",
        ),
        (
            "index past the end",
            lambda g: setattr(g, "LongPrimitivePointIndexList", np.array([1, 99], "<i4").tobytes()),
            "LongPrimitivePointIndexList",
        ),
        ("count mismatch", lambda g: setattr(g, "NumberOfAnnotations", 3), "NumberOfAnnotations"),
        ("no coordinates", lambda g: delattr(g, "DoublePointCoordinatesData"), "PointCoordinates"),
        ("unknown type", lambda g: setattr(g, "GraphicType", "BLOB"), "GraphicType"),
        (
            "NaN",
            lambda g: setattr(
                g,
                "DoublePointCoordinatesData",
                np.array([1, np.nan, 2, 3, 0, 0, 5, 5], "<f8").tobytes(),
            ),
            "DoublePointCoordinatesData",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_damaged_group_is_a_typed_error(
    tmp_path: Path, name: str, change: Any, attribute: str
) -> None:
    path = _damaged(tmp_path, change)
    with pytest.raises(InvalidInputError) as e:
        dicom.read_file(path, OPTS)
    assert e.value.path == str(path) and attribute in (e.value.attribute or "")
    batch = convert([str(path)], ConvertOptions(read=OPTS))
    assert [o.status for o in batch.outcomes] == ["failed"]


def test_duplicate_group_numbers_stay_apart(tmp_path: Path) -> None:
    a = _group(1, "POINT", [np.array([[1.0, 2.0]])])
    b = _group(2, "POINT", [np.array([[3.0, 4.0]])])
    path, _ = _write(tmp_path, [a, b])
    ds = pydicom.dcmread(path)
    ds.AnnotationGroupSequence[1].AnnotationGroupNumber = 1
    ds.save_as(path, enforce_file_format=True)
    result = dicom.read_file(path, OPTS)
    keys = [s.key for s in _groups(result)]
    assert len(set(keys)) == 2
    assert any("used twice" in i.reason for i in result.issues)
