"""The RT Structure Set reader: ROIs, their contour images, bad structure sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from dicomsel import read_file
from dicomsel.dicom.seg import SOURCE_IMAGE_CODE
from dicomsel.errors import InvalidInputError
from dicomsel.model import Selection

from conftest import realdata, resources_of
from segfiles import FRAME_OF_REFERENCE, RTSTRUCT_CLASS, Roi, check_golden, make_rtstruct, save

PLUS_1 = dt.timezone(dt.timedelta(hours=1))


def _rois(selections: list[Selection]) -> dict[int, Selection]:
    return {
        int(s.key.split("|")[2]): s
        for s in selections
        if s.key.startswith("rtstruct|roi|") and "|images|" not in s.key
    }


def _images(selections: list[Selection], roi: int) -> list[Selection]:
    return [s for s in selections if s.key.startswith(f"rtstruct|roi|{roi}|images|")]


ROIS = [
    Roi(1, "Heart", "ORGAN", images=(0, 1), identification=("80891009", "SCT", "Heart")),
    Roi(2, "PTV", "PTV", images=(1, 2, 2), interpreter="Planner^Pat"),
    Roi(3, "Empty", "AVOIDANCE"),
]


def test_one_selection_per_roi_and_per_series_of_its_contour_images(tmp_path: Path) -> None:
    rt = make_rtstruct(ROIS)
    result = read_file(save(rt.ds, tmp_path / "rt.dcm"))
    rois = _rois(result.selections)
    assert list(rois) == [1, 2, 3]
    heart = rois[1]
    (inst,) = heart.instances
    assert (inst.uid, inst.sop_class_uid, inst.rois) == (rt.ds.SOPInstanceUID, RTSTRUCT_CLASS, (1,))
    assert (heart.code.value, heart.code.scheme, heart.code.text) == ("80891009", "SCT", "Heart")
    assert [(c.value, c.text) for c in heart.categories] == [(None, "ORGAN")]
    assert heart.frame_of_reference_uid == FRAME_OF_REFERENCE
    assert heart.issued == dt.datetime(2024, 1, 2, 10, 15, tzinfo=PLUS_1)
    (images,) = _images(result.selections, 1)
    assert heart.focus == (images.key,)
    assert images.code == SOURCE_IMAGE_CODE
    assert [i.uid for i in images.instances] == [
        rt.images[0].SOPInstanceUID,
        rt.images[1].SOPInstanceUID,
    ]
    assert images.series_instance_uid == rt.images[0].SeriesInstanceUID
    assert images.study_instance_uid == rt.images[0].StudyInstanceUID
    assert images.frame_of_reference_uid == FRAME_OF_REFERENCE
    ptv = rois[2]
    assert (ptv.code.value, ptv.code.text) == (None, "PTV")  # no identification code: text only
    interpreter = ptv.performers[-1].actor  # ROI Interpreter, a PN (PS3.5 6.2.1)
    assert (interpreter.display, interpreter.person_name) == ("Pat Planner", "Planner^Pat")
    # the same image named by two contours is selected once
    assert len(_images(result.selections, 2)[0].instances) == 2


def test_roi_without_contours_is_selected_and_reported(tmp_path: Path) -> None:
    rt = make_rtstruct(ROIS)
    result = read_file(save(rt.ds, tmp_path / "rt.dcm"))
    empty = _rois(result.selections)[3]
    assert empty.focus == ()
    assert _images(result.selections, 3) == []
    assert "ROI 3 (Empty) has no contours: no contour images selected" in result.warnings


def test_contours_without_images_are_reported(tmp_path: Path) -> None:
    rt = make_rtstruct(
        [
            Roi(1, "Iso", "ISOCENTER", contours_without_image=1),
            Roi(2, "Mixed", images=(0,), contours_without_image=2),
        ]
    )
    result = read_file(save(rt.ds, tmp_path / "rt.dcm"))
    assert any("ROI 1 (Iso): none of its 1 contour(s) names an image" in w for w in result.warnings)
    assert any("ROI 2 (Mixed): 2 of its 3 contours name no image" in w for w in result.warnings)


def test_contour_image_outside_the_referenced_series(tmp_path: Path, run_cli: Any) -> None:
    stray = "1.2.826.0.1.3680043.8.498.99"
    rt = make_rtstruct([Roi(1, "Lung", images=(0,), outside=(stray,))])
    path = save(rt.ds, tmp_path / "rt.dcm")
    result = read_file(path)
    assert any("1 contour image(s) are outside the referenced series" in w for w in result.warnings)
    images = {s.series_instance_uid: s for s in _images(result.selections, 1)}
    assert set(images) == {rt.images[0].SeriesInstanceUID, None}
    assert [i.uid for i in images[None].instances] == [stray]
    assert images[None].study_instance_uid is None
    code, out, err = run_cli("convert", path)
    assert code == 0, err
    assert "outside the referenced series" in err
    assert len(resources_of(out)) == 3


def test_roi_in_another_frame_of_reference_is_reported(tmp_path: Path) -> None:
    rt = make_rtstruct([Roi(1, "Lung", images=(0,))])
    rt.ds.StructureSetROISequence[0].ReferencedFrameOfReferenceUID = "1.2.3.4"
    result = read_file(save(rt.ds, tmp_path / "rt.dcm"))
    assert any("its frame of reference 1.2.3.4 is not in" in w for w in result.warnings)
    assert any(
        "is in frame of reference" in w and "the ROI in 1.2.3.4" in w for w in result.warnings
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ds: setattr(ds.StructureSetROISequence[1], "ROINumber", 1), "used twice"),
        (lambda ds: delattr(ds, "StructureSetROISequence"), "no ROIs"),
        (
            lambda ds: delattr(ds.StructureSetROISequence[0], "ROINumber"),
            r"ROINumber \(3006,0022\): missing \(Type 1\)",
        ),
    ],
)
def test_bad_structure_sets(tmp_path: Path, edit: Any, message: str) -> None:
    rt = make_rtstruct(ROIS)
    edit(rt.ds)
    with pytest.raises(InvalidInputError, match=message):
        read_file(save(rt.ds, tmp_path / "rt.dcm"))


def test_contours_of_an_unknown_roi_are_reported(tmp_path: Path) -> None:
    rt = make_rtstruct(ROIS)
    rt.ds.ROIContourSequence[0].ReferencedROINumber = 42
    result = read_file(save(rt.ds, tmp_path / "rt.dcm"))
    assert any(
        "ReferencedROINumber (3006,0084) 42 is not in StructureSetROISequence" in w
        for w in result.warnings
    )
    assert any("ROI 1 (Heart) has no contours" in w for w in result.warnings)


def test_pydicom_bundled_rtstruct_without_part10_header(run_cli: Any) -> None:
    path = get_testdata_file("rtstruct.dcm")
    assert path is not None
    result = read_file(path)
    assert result.warnings[0] == "no Part 10 preamble and 'DICM' prefix: read as a bare dataset"
    rois = _rois(result.selections)
    assert [r.code.text for r in rois.values()] == ["patient", "Isocenter 1", "Isocenter 2"]
    assert [r.categories[0].text for r in rois.values()] == ["EXTERNAL", "ISOCENTER", "ISOCENTER"]
    code, out, err = run_cli("convert", path, "--timezone", "+00:00")
    assert code == 0, err
    assert len(resources_of(out)) == 3
    check_golden("rt_pydicom_rtstruct", out)


@pytest.mark.realdata
def test_real_rtstruct(run_cli: Any) -> None:
    path = realdata("rtstruct_dicompyler_10rois.dcm")
    result = read_file(path)
    rois = _rois(result.selections)
    assert list(rois) == list(range(1, 11))
    assert rois[1].code.value == "C44.9" and rois[1].code.text == "BODY"
    assert "ROI 2 (Areola) has no contours: no contour images selected" in result.warnings
    assert rois[2].focus == ()
    for n in (1, 3, 4, 5, 6, 7, 8, 9, 10):
        (images,) = _images(result.selections, n)
        assert rois[n].focus == (images.key,)
        assert images.series_instance_uid == "2.16.840.1.113662.2.12.0.3057.1241703565.43"
    code, out, err = run_cli("convert", path, "--timezone", "+00:00")
    assert code == 0, err
    assert len(resources_of(out)) == 19
    check_golden("rt_dicompyler_10rois", out)
