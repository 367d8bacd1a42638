"""The image reader: any image instance, its frames, body site, code; the Annex L table."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from dicomsel import read_file
from dicomsel.dicom import reader_for
from dicomsel.dicom.context import ReadOptions
from dicomsel.dicom.image import (
    DEFAULT_CODE,
    body_part_code,
    is_image_class,
    parse_code,
    parse_frames,
    read_image,
)
from dicomsel.errors import InvalidInputError, UnsupportedObjectError
from dicomsel.model import Code

from conftest import realdata, resources_of
from segfiles import check_golden, code_item, ct_slices, enhanced_ct, save


def test_single_frame_ct(tmp_path: Path) -> None:
    (ct,) = ct_slices(1)
    result = read_file(save(ct, tmp_path / "ct.dcm"))
    (sel,) = result.selections
    assert sel.key == f"image|{ct.StudyInstanceUID}|{ct.SeriesInstanceUID}|DCM:113000"
    assert sel.source_uid == ct.SeriesInstanceUID  # ids derive from the series, not one file
    assert sel.code == DEFAULT_CODE
    assert (sel.series_number, sel.frame_of_reference_uid) == (7, ct.FrameOfReferenceUID)
    (inst,) = sel.instances
    assert (inst.uid, inst.sop_class_uid, inst.number, inst.frames) == (
        ct.SOPInstanceUID,
        ct.SOPClassUID,
        1,
        (),
    )
    assert sel.body_site == Code(value="816094009", scheme="SCT", meaning="Chest")
    assert sel.identifiers == () and sel.issued is None
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.value == "SEG-TEST-1"


def test_code_option(tmp_path: Path, run_cli: Any) -> None:
    (ct,) = ct_slices(1)
    path = save(ct, tmp_path / "ct.dcm")
    code = parse_code("113004^DCM^For Teaching")
    result = read_file(path, ReadOptions(code=code))
    assert result.selections[0].code == code
    assert result.selections[0].key.endswith("|DCM:113004")
    status, out, err = run_cli("convert", path, "--code", "113004^DCM^For Teaching")
    assert status == 0, err
    (res,) = resources_of(out)
    assert res["code"]["coding"][0] == {
        "system": "http://dicom.nema.org/resources/ontology/DCM",
        "code": "113004",
        "display": "For Teaching",
    }


@pytest.mark.parametrize("text", ["113004", "^DCM", "a^b^c^d", ""])
def test_bad_code_is_a_usage_error(text: str, tmp_path: Path, run_cli: Any) -> None:
    (ct,) = ct_slices(1)
    status, _out, err = run_cli("convert", save(ct, tmp_path / "ct.dcm"), "--code", text)
    assert status == 2
    assert "--code" in err


def test_parse_frames() -> None:
    assert parse_frames("3,1,5-7,6") == (1, 3, 5, 6, 7)
    for bad in ("0", "2-1", "x", "1,,2", "-3"):
        with pytest.raises(ValueError):
            parse_frames(bad)


def test_frames_of_a_multiframe_instance(tmp_path: Path) -> None:
    mf = enhanced_ct(4)
    path = save(mf, tmp_path / "mf.dcm")
    sel = read_file(path, ReadOptions(frames=(2, 4))).selections[0]
    assert sel.instances[0].frames == (2, 4)
    # every frame is the whole instance: never list every frame
    assert read_file(path, ReadOptions(frames=(1, 2, 3, 4))).selections[0].instances[0].frames == ()
    assert read_file(path).selections[0].instances[0].frames == ()


def test_frame_beyond_number_of_frames(tmp_path: Path, run_cli: Any) -> None:
    mf = enhanced_ct(4)
    path = save(mf, tmp_path / "mf.dcm")
    with pytest.raises(
        InvalidInputError,
        match=r"NumberOfFrames \(0028,0008\): frame number\(s\) 5,9 beyond Number of Frames 4",
    ):
        read_file(path, ReadOptions(frames=(2, 5, 9)))
    # in a batch the file fails, the rest converts
    longer = enhanced_ct(6, name="six-frames")
    save(longer, tmp_path / "six.dcm")
    status, out, err = run_cli("convert", tmp_path, "--frames", "1,5")
    assert status == 3
    assert "mf.dcm: NumberOfFrames (0028,0008): frame number(s) 5 beyond Number of Frames 4" in err
    (res,) = resources_of(out)
    assert res["seriesUid"] == longer.SeriesInstanceUID
    assert res["instance"][0]["subset"] == ["1", "5"]


def test_frames_of_a_single_frame_instance(tmp_path: Path) -> None:
    (ct,) = ct_slices(1)
    path = save(ct, tmp_path / "ct.dcm")
    assert read_file(path, ReadOptions(frames=(1,))).selections[0].instances[0].frames == ()
    with pytest.raises(InvalidInputError, match="single-frame instance"):
        read_file(path, ReadOptions(frames=(2,)))


def test_anatomic_region_wins_over_body_part_examined(tmp_path: Path) -> None:
    (ct,) = ct_slices(1)
    region = code_item("12738006", "SCT", "Brain")
    region.AnatomicRegionModifierSequence = DicomSequence([code_item("24028007", "SCT", "Right")])
    ct.AnatomicRegionSequence = DicomSequence([region])
    result = read_file(save(ct, tmp_path / "ct.dcm"))
    assert result.selections[0].body_site == Code(value="12738006", scheme="SCT", meaning="Brain")
    assert any("AnatomicRegionModifierSequence" in w and "left out" in w for w in result.warnings)


def test_unknown_body_part_is_kept_as_text(tmp_path: Path) -> None:
    (ct,) = ct_slices(1)
    ct.BodyPartExamined = "TOEKNUCKLE"
    result = read_file(save(ct, tmp_path / "ct.dcm"))
    assert result.selections[0].body_site == Code(value=None, text="TOEKNUCKLE")
    assert any("'TOEKNUCKLE' is not in the PS3.16 Annex L table" in w for w in result.warnings)


def test_enhanced_frame_anatomy_gives_the_body_site(tmp_path: Path) -> None:
    mf = enhanced_ct(2)
    anatomy = Dataset()
    anatomy.AnatomicRegionSequence = DicomSequence([code_item("10200004", "SCT", "Liver")])
    anatomy.FrameLaterality = "U"
    mf.SharedFunctionalGroupsSequence[0].FrameAnatomySequence = DicomSequence([anatomy])
    if "BodyPartExamined" in mf:
        del mf.BodyPartExamined
    sel = read_file(save(mf, tmp_path / "mf.dcm")).selections[0]
    assert sel.body_site == Code(value="10200004", scheme="SCT", meaning="Liver")


def test_which_classes_are_images() -> None:
    assert is_image_class("1.2.840.10008.5.1.4.1.1.2")  # CT Image
    assert is_image_class("1.2.840.10008.5.1.4.1.1.2.2")  # Legacy Converted Enhanced CT
    assert is_image_class("1.2.840.10008.5.1.4.1.1.1.1")  # DX For Presentation
    assert is_image_class("1.2.840.10008.5.1.4.1.1.30")  # Parametric Map
    assert not is_image_class("1.2.840.10008.5.1.4.1.1.104.1")  # Encapsulated PDF
    assert not is_image_class("1.2.840.10008.5.1.4.1.1.481.2")  # RT Dose
    assert not is_image_class("1.2.3.4.5")
    assert reader_for("1.2.840.10008.5.1.4.1.1.128") is read_image
    assert reader_for("1.2.840.10008.5.1.4.1.1.104.1") is None


def test_non_image_classes_stay_unsupported(tmp_path: Path, run_cli: Any) -> None:
    (ct,) = ct_slices(1)
    ct.SOPClassUID = ct.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    path = save(ct, tmp_path / "pdf.dcm")
    with pytest.raises(UnsupportedObjectError, match="Encapsulated PDF"):
        read_file(path)
    status, _out, err = run_cli("convert", tmp_path)
    assert status == 1 and "1 skipped" in err


def test_missing_series_uid_is_an_error(tmp_path: Path) -> None:
    (ct,) = ct_slices(1)
    del ct.SeriesInstanceUID
    with pytest.raises(InvalidInputError, match="SeriesInstanceUID"):
        read_file(save(ct, tmp_path / "ct.dcm"))


def test_pydicom_multiframe_ultrasound(run_cli: Any) -> None:
    path = get_testdata_file("examples_ybr_color.dcm")
    assert path is not None
    status, out, err = run_cli("convert", path, "--frames", "2,5,7", "--format", "ndjson")
    assert status == 0, err
    (res,) = resources_of(out)
    assert res["instance"][0]["subset"] == ["2", "5", "7"]
    assert res["instance"][0]["sopClass"]["display"] == "Ultrasound Multi-frame Image Storage"


# ---- PS3.16 Annex L table


def test_body_part_table() -> None:
    text = resources.files("dicomsel").joinpath("data/body_part_sct.json").read_text("utf-8")
    table = {k: v for k, v in json.loads(text).items() if not k.startswith("_")}
    assert len(table) == 329
    for term, (code, meaning) in table.items():
        assert re.fullmatch(r"[A-Z0-9]{1,16}", term), term
        assert re.fullmatch(r"[1-9][0-9]{5,17}", code), (term, code)
        assert meaning.strip() == meaning and meaning
    spot = {
        "ABDOMEN": "818981001",
        "CHEST": "816094009",
        "PELVIS": "816092008",
        "HEAD": "69536005",
        "BRAIN": "12738006",
        "LUNG": "39607008",
        "CSPINE": "122494005",
        "WHOLEBODY": "38266002",
        "HEADNECK": "774007",
        "KNEE": "72696002",
    }
    assert {k: table[k][0] for k in spot} == spot
    assert body_part_code(" lung ") == Code(value="39607008", scheme="SCT", meaning="Lung")
    assert body_part_code("NOSUCHPART") is None


# ---- real files


@pytest.mark.realdata
def test_real_enhanced_mr(run_cli: Any) -> None:
    path = realdata("enhanced_mr_bruker_4frames.dcm")
    sel = read_file(path, ReadOptions(frames=(1, 3))).selections[0]
    assert sel.instances[0].frames == (1, 3)
    assert sel.instances[0].sop_class_uid == "1.2.840.10008.5.1.4.1.1.4.1"
    with pytest.raises(InvalidInputError, match="beyond Number of Frames 4"):
        read_file(path, ReadOptions(frames=(5,)))
    status, out, err = run_cli("convert", path, "--frames", "1,3")
    assert status == 0, err
    assert resources_of(out)
    check_golden("img_enhanced_mr_bruker_4frames", out)


@pytest.mark.realdata
def test_real_pet_folder(run_cli: Any) -> None:
    folder = realdata("ko_ihe_xdsi_manifest_pet_10inst_images")
    status, out, err = run_cli("convert", folder)
    assert status == 0, err
    (res,) = resources_of(out)
    assert [i["number"] for i in res["instance"]] == list(range(1, 11))
    assert res["bodySite"]["concept"]["coding"][0]["code"] == "39607008"  # LUNG
    check_golden("img_pet_10inst", out)
    # the KOS that references them selects the same instances
    kos = realdata("ko_ihe_xdsi_manifest_pet_10inst.dcm")
    status, out, err = run_cli("convert", kos, "--format", "ndjson")
    (manifest,) = [r for r in resources_of(out) if r["resourceType"] == "ImagingSelection"]
    assert sorted(i["uid"] for i in manifest["instance"]) == sorted(
        i["uid"] for i in res["instance"]
    )


def test_negative_series_number_is_left_out_with_a_warning(tmp_path: Path) -> None:
    """IS admits -1 (a viewer's GSPS in realdata has it); R5 seriesNumber is an unsignedInt."""
    import pydicom

    from dicomsel import convert

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    ds.SeriesNumber = -1
    path = tmp_path / "neg.dcm"
    ds.save_as(path, enforce_file_format=True)
    batch = convert([str(path)])
    (outcome,) = batch.outcomes
    assert outcome.status == "converted"
    assert any("SeriesNumber (0020,0011) -1 is negative" in w for w in outcome.warnings)
    (sel,) = [r for r in batch.all_resources() if r["resourceType"] == "ImagingSelection"]
    assert "seriesNumber" not in sel
    resources_of(json.dumps(sel))
