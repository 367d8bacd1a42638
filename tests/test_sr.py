"""The SR reader and the Observation writer on generated documents.

TID 1500 reports come from highdicom (edited with pydicom where highdicom
refuses); other and broken documents are built item by item (tests/srfiles.py).
Every output goes through ``resources_of``: valid against HL7's R5 package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes

from dicomsel import read_file
from dicomsel.dicom import READERS, sr
from dicomsel.fhir import observation, r5
from dicomsel.model import Code, ObservationKind, ObservationRecord

from conftest import resources_of
from kosgen import uid
from srfiles import (
    CT_SERIES,
    ENHANCED_CT,
    FRAME_OF_REFERENCE,
    MF_SERIES,
    MF_UID,
    NS,
    SEG,
    SEG_SERIES,
    SEG_UID,
    STUDY,
    Planar,
    Volumetric,
    add_observation_uids,
    content_items,
    ct_evidence,
    ct_uid,
    document,
    find,
    groups,
    image_item,
    item,
    num,
    on_deep_stack,
    save,
    scoord,
    tid1500,
)

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ALL_TYPES = [
    Planar("POINT", [(1.5, 2.5)], tracking_id="Point"),
    Planar("POLYLINE", [(1, 2), (3, 4.25), (5, 6), (1, 2)], tracking_id="Poly"),
    Planar(
        "CIRCLE",
        [(10, 10), (10, 15)],
        image=MF_UID,
        sop_class=ENHANCED_CT,
        frames=[2],
        tracking_id="Circle",
        finding=codes.SCT.Nodule,
        finding_site=codes.SCT.Lung,
    ),
    Planar("ELLIPSE", [(0, 5), (10, 5), (5, 2), (5, 8)], image=ct_uid(2), tracking_id="Ell"),
    Volumetric(tracking_id="Volume"),
    Volumetric(segment=2, tracking_id="Segment", source_images=[ct_uid(2), ct_uid(3)]),
]


def convert(run_cli: Any, path: Path, *args: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Convert one file with the CLI (NDJSON): its HL7-valid resources and its warnings."""
    report = path.with_suffix(".report.json")
    code, out, err = run_cli("convert", path, "--format", "ndjson", "--report", report, *args)
    assert code == 0, err
    entry = json.loads(report.read_text())["inputs"][0]
    assert entry["status"] == "converted", entry
    return resources_of(out), entry["warnings"]


def by_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]


def coded(res: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [r for r in res if r["code"].get("coding", [{}])[0].get("code") == code]


def ref(res: dict[str, Any]) -> str:
    return f"{res['resourceType']}/{res['id']}"


def selected_from(it: Dataset) -> Dataset:
    """The Referenced SOP Sequence item of a SCOORD's SELECTED FROM image."""
    (child,) = [c for c in it.ContentSequence if c.RelationshipType == "SELECTED FROM"]
    return child.ReferencedSOPSequence[0]


@pytest.fixture
def all_types(tmp_path: Path) -> Path:
    return save(tid1500(ALL_TYPES, name="all-types"), tmp_path / "all.dcm")


def test_reader_handles_every_sr_class() -> None:
    for cls in (
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.34",
        "1.2.840.10008.5.1.4.1.1.88.35",
    ):
        assert READERS[cls] is sr.read_sr


def test_each_graphic_type_is_a_region_on_the_image_it_is_selected_from(
    all_types: Path, run_cli: Any
) -> None:
    resources, _ = convert(run_cli, all_types)
    regions = [s for s in coded(by_type(resources, "ImagingSelection"), "111030")]
    ds = pydicom.dcmread(all_types)
    scoords = find(ds, "SCOORD")
    assert len(scoords) == 4 == len(regions)
    for it, sel in zip(scoords, regions, strict=True):
        (inst,) = sel["instance"]
        ref_sop = selected_from(it)
        assert inst["uid"] == ref_sop.ReferencedSOPInstanceUID
        assert inst["sopClass"]["code"] == f"urn:oid:{ref_sop.ReferencedSOPClassUID}"
        frames = ref_sop.get("ReferencedFrameNumber")
        assert inst.get("subset") == ([str(int(frames))] if frames else None)
        (region,) = inst["imageRegion2D"]
        assert region["regionType"] == it.GraphicType.lower()
        assert region["coordinate"] == [float(x) for x in it.GraphicData]
    assert {s["seriesUid"] for s in regions} == {CT_SERIES, MF_SERIES}
    assert all(s["studyUid"] == STUDY for s in regions)
    circle = next(s for s in regions if s["seriesUid"] == MF_SERIES)
    assert circle["bodySite"]["concept"]["coding"][0]["code"] == "39607008"  # finding site


def test_multipoint_becomes_one_point_region_per_point(tmp_path: Path, run_cli: Any) -> None:
    ds = tid1500([Planar("POINT", [(1, 1)])], name="multipoint")
    (it,) = find(ds, "SCOORD")
    it.GraphicType = "MULTIPOINT"  # highdicom refuses MULTIPOINT regions
    it.GraphicData = [1.0, 1.0, 2.5, 3.0, 4.0, 5.0]
    resources, warnings = convert(run_cli, save(ds, tmp_path / "mp.dcm"))
    (sel,) = coded(by_type(resources, "ImagingSelection"), "111030")
    assert sel["instance"][0]["imageRegion2D"] == [
        {"regionType": "point", "coordinate": [1, 1]},
        {"regionType": "point", "coordinate": [2.5, 3]},
        {"regionType": "point", "coordinate": [4, 5]},
    ]
    assert any("no 2D multipoint" in w for w in warnings)


def test_scoord3d_is_anchored_on_the_sr_with_its_observation_uid(
    tmp_path: Path, run_cli: Any
) -> None:
    ds = tid1500([Volumetric(tracking_id="Poly3D")], name="3d")
    uids = add_observation_uids(ds)
    (it,) = find(ds, "SCOORD3D")
    it.GraphicType = "POLYGON"  # highdicom wants a list of at least two polygons
    it.GraphicData = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.5]
    resources, _ = convert(run_cli, save(ds, tmp_path / "3d.dcm"))
    (sel,) = coded(by_type(resources, "ImagingSelection"), "121231")  # Volume Surface
    assert sel["frameOfReferenceUid"] == FRAME_OF_REFERENCE
    (inst,) = sel["instance"]
    assert inst["uid"] == ds.SOPInstanceUID
    assert inst["subset"] == [it.ObservationUID]
    assert it.ObservationUID in uids.values()
    assert inst["imageRegion3D"] == [
        {"regionType": "polygon", "coordinate": [float(x) for x in it.GraphicData]}
    ]
    assert sel["seriesUid"] == ds.SeriesInstanceUID


def test_observation_uids_give_source_content_item_selections(tmp_path: Path, run_cli: Any) -> None:
    ds = tid1500([Planar("POINT", [(3, 4)], tracking_id="A")], name="obs-uids")
    add_observation_uids(ds)
    (group,) = groups(ds)
    (num_item,) = find(ds, "NUM")
    resources, _ = convert(run_cli, save(ds, tmp_path / "o.dcm"))
    sources = coded(by_type(resources, "ImagingSelection"), "111040")  # Original Source
    subsets = {s["instance"][0]["subset"][0]: s for s in sources}
    assert set(subsets) == {group.ObservationUID, num_item.ObservationUID}
    for s in sources:
        (inst,) = s["instance"]
        assert inst["uid"] == ds.SOPInstanceUID
        assert inst["sopClass"]["code"] == f"urn:oid:{ds.SOPClassUID}"
    (region,) = coded(by_type(resources, "ImagingSelection"), "111030")
    assert region["focus"] == [{"reference": ref(subsets[group.ObservationUID])}]
    obs = {o["code"]["coding"][0]["code"]: o for o in by_type(resources, "Observation")}
    grp, diameter = obs["125007"], obs["81827009"]
    assert {"type": grp["identifier"][0]["type"]["coding"][0]["code"]} == {
        "type": "observation-uid"
    }
    assert grp["identifier"][0]["value"] == f"urn:oid:{group.ObservationUID}"
    assert grp["identifier"][0]["system"] == "urn:dicom:uid"
    assert {"reference": ref(subsets[group.ObservationUID])} in grp["derivedFrom"]
    assert {"reference": ref(region)} in grp["derivedFrom"]
    assert diameter["derivedFrom"] == [
        {"reference": ref(region)},
        {"reference": ref(subsets[num_item.ObservationUID])},
    ]


def test_referenced_segment_selects_the_seg_instance(all_types: Path, run_cli: Any) -> None:
    resources, _ = convert(run_cli, all_types)
    selections = by_type(resources, "ImagingSelection")
    (segment,) = coded(selections, "121191")
    (inst,) = segment["instance"]
    assert (inst["uid"], inst["subset"]) == (SEG_UID, ["2"])
    assert inst["sopClass"]["code"] == f"urn:oid:{SEG}"
    assert segment["seriesUid"] == SEG_SERIES
    sources = {ref(s): s for s in coded(selections, "121233")}
    (focus,) = segment["focus"]
    assert {i["uid"] for i in sources[focus["reference"]]["instance"]} == {ct_uid(2), ct_uid(3)}


def test_measurement_groups_and_measurements(all_types: Path, run_cli: Any) -> None:
    resources, _ = convert(run_cli, all_types)
    observations = {ref(o): o for o in by_type(resources, "Observation")}
    selections = {ref(s): s for s in by_type(resources, "ImagingSelection")}
    group_obs = coded(list(observations.values()), "125007")
    assert len(group_obs) == 6
    tracking = {o["identifier"][0]["value"]: o["identifier"][1]["value"] for o in group_obs}
    assert set(tracking) == {"Point", "Poly", "Circle", "Ell", "Volume", "Segment"}
    assert tracking["Poly"] == f"urn:oid:{uid(NS, 'tracking', 'Poly')}"
    for g in group_obs:
        assert g["identifier"][0]["type"]["coding"][0]["code"] == "112039"
        assert g["identifier"][1]["type"]["coding"][0]["code"] == "112040"
        assert g["subject"]["identifier"]["value"] == "SR-PAT-1"
        assert g["issued"] == "2024-03-05T08:15:00+01:00"
        assert g["partOf"][0]["identifier"]["value"] == f"urn:oid:{STUDY}"
        assert g["performer"] == [{"type": "Practitioner", "display": "Rita Reader"}]
        (member,) = g["hasMember"]
        m = observations[member["reference"]]
        assert "valueQuantity" in m
        assert m["derivedFrom"] == [d for d in g["derivedFrom"]]
        for d in g["derivedFrom"]:
            assert d["reference"] in selections
    circle = next(g for g in group_obs if g["identifier"][0]["value"] == "Circle")
    assert circle["valueCodeableConcept"]["coding"][0]["code"] == "27925004"  # Nodule
    assert circle["bodySite"]["coding"][0]["code"] == "39607008"  # Lung
    diameter = observations[circle["hasMember"][0]["reference"]]
    assert diameter["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "81827009",
        "display": "Diameter",
    }
    assert diameter["valueQuantity"] == {
        "value": 10,
        "unit": "mm",
        "system": "http://unitsofmeasure.org",
        "code": "mm",
    }


def test_derivation_method_and_finding_category(tmp_path: Path, run_cli: Any) -> None:
    measurement = hd.sr.Measurement(
        name=codes.SCT.Diameter,
        value=12.5,
        unit=codes.UCUM.Millimeter,
        derivation=codes.SCT.Maximum,
        method=codes.DCM.RECIST1Point1,
    )
    ds = tid1500(
        [Planar("POLYLINE", [(0, 0), (4, 4)], measurements=[measurement])], name="derivation"
    )
    (group,) = groups(ds)
    category = item(
        "CONTAINS",
        "CODE",
        ("276214006", "SCT", "Finding category"),
        ConceptCodeSequence=DicomSequence([_code("49755003", "SCT", "Morphologic abnormality")]),
    )
    group.ContentSequence.append(category)
    resources, _ = convert(run_cli, save(ds, tmp_path / "d.dcm"))
    (g,) = [o for o in by_type(resources, "Observation") if "hasMember" in o]
    assert g["code"]["coding"][0]["code"] == "49755003"  # the finding category
    assert g["category"][0]["coding"][0]["code"] == "125007"
    (m,) = [o for o in by_type(resources, "Observation") if "valueQuantity" in o]
    assert m["valueQuantity"]["value"] == 12.5
    assert m["method"]["coding"][0]["code"] == measurement.method.value
    assert m["component"] == [
        {
            "code": {"coding": [{"system": DCM, "code": "121401", "display": "Derivation"}]},
            "valueCodeableConcept": {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "56851009", "display": "Maximum"}
                ]
            },
        }
    ]


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


@pytest.mark.parametrize(
    ("complete", "verified", "final", "status"),
    [
        (True, True, None, "final"),
        (True, False, None, "preliminary"),
        (False, False, None, "preliminary"),
        (False, False, False, "preliminary"),
        (True, True, True, "final"),
    ],
)
def test_status_from_completion_verification_and_preliminary_flags(
    tmp_path: Path, run_cli: Any, complete: bool, verified: bool, final: bool | None, status: str
) -> None:
    ds = tid1500(
        [Planar("POINT", [(1, 1)])], name="flags", complete=complete, verified=verified, final=final
    )
    resources, _ = convert(run_cli, save(ds, tmp_path / "f.dcm"))
    assert {o["status"] for o in by_type(resources, "Observation")} == {status}


@pytest.mark.parametrize("count", [0, 1, 25])
def test_zero_one_and_many_groups(tmp_path: Path, run_cli: Any, count: int) -> None:
    specs = [
        Planar("POLYLINE", [(i, 0), (i, 9)], image=ct_uid(1 + i % 3), tracking_id=f"G{i}")
        for i in range(count)
    ]
    if count:
        ds = tid1500(specs, name=f"groups-{count}")
    else:  # highdicom refuses a report without groups
        ds = tid1500([Planar("POINT", [(1, 1)])], name="groups-0")
        (container,) = find(ds, "CONTAINER", ("126010", "DCM"))
        del container.ContentSequence
    resources, _ = convert(run_cli, save(ds, tmp_path / "g.dcm"))
    observations = by_type(resources, "Observation")
    assert len(coded(observations, "125007")) == count
    assert len(observations) == 2 * count
    selections = by_type(resources, "ImagingSelection")
    assert len(coded(selections, "111030")) == count
    # every evidence instance is reachable: by a region, or by an evidence selection
    reached = {i["uid"] for s in selections for i in s["instance"]}
    evidence = {
        r.ReferencedSOPInstanceUID
        for st in ds.CurrentRequestedProcedureEvidenceSequence
        for se in st.ReferencedSeriesSequence
        for r in se.ReferencedSOPSequence
    }
    assert evidence <= reached
    if count == 0:
        leftover = coded(selections, "122073")
        assert {s["seriesUid"] for s in leftover} == {CT_SERIES, MF_SERIES, SEG_SERIES}


def test_no_observations_option(all_types: Path, run_cli: Any) -> None:
    resources, _ = convert(run_cli, all_types, "--no-observations")
    assert not by_type(resources, "Observation")
    assert by_type(resources, "ImagingSelection")


def test_output_is_deterministic(all_types: Path, run_cli: Any) -> None:
    first = run_cli("convert", all_types)
    second = run_cli("convert", all_types)
    assert first == second and first[0] == 0


# ---- SR that is not TID 1500


def _comprehensive(tmp_path: Path) -> Path:
    library_image = image_item("CONTAINS", ct_uid(2), frames=())
    by_ref = item("SELECTED FROM", None, ReferencedContentItemIdentifier=[1, 1, 1])
    region_by_ref = scoord("INFERRED FROM", "POLYLINE", [0, 0, 7, 7.5, 9, 1], None)
    region_by_ref.ContentSequence = DicomSequence([by_ref])
    content = [
        item("CONTAINS", "CONTAINER", ("111028", "DCM", "Image Library"), [library_image]),
        item(
            "CONTAINS",
            "CONTAINER",
            ("121070", "DCM", "Findings"),
            [
                num(
                    "CONTAINS",
                    ("81827009", "SCT", "Diameter"),
                    4.5,
                    children=[
                        scoord(
                            "INFERRED FROM",
                            "CIRCLE",
                            [5, 5, 5, 9],
                            image_item("SELECTED FROM", MF_UID, ENHANCED_CT, frames=(3, 1)),
                        ),
                        region_by_ref,
                    ],
                ),
                image_item("CONTAINS", ct_uid(3)),
                num(
                    "HAS OBS CONTEXT",
                    ("121033", "DCM", "Subject Age"),
                    60,
                    ("a", "UCUM", "year"),
                ),
            ],
        ),
    ]
    ds = document(
        content,
        name="comprehensive",
        evidence_uids=[*ct_evidence(1, 2, 3), (MF_SERIES, ENHANCED_CT, MF_UID)],
        other_evidence=[(SEG_SERIES, SEG, SEG_UID)],
    )
    return save(ds, tmp_path / "comp.dcm")


def test_any_sr_regions_references_and_loose_measurements(tmp_path: Path, run_cli: Any) -> None:
    path = _comprehensive(tmp_path)
    resources, warnings = convert(run_cli, path)
    selections = by_type(resources, "ImagingSelection")
    regions = coded(selections, "111030")
    assert [r["instance"][0]["imageRegion2D"][0]["regionType"] for r in regions] == [
        "circle",
        "polyline",
    ]
    circle, polyline = regions
    assert (circle["instance"][0]["uid"], circle["instance"][0]["subset"]) == (
        MF_UID,
        ["1", "3"],
    )
    # the polyline is SELECTED FROM the image library's image, by reference
    assert polyline["instance"][0]["uid"] == ct_uid(2)
    assert polyline["instance"][0]["imageRegion2D"][0]["coordinate"] == [0, 0, 7, 7.5, 9, 1]
    library = coded(selections, "111028")
    assert [i["uid"] for s in library for i in s["instance"]] == [ct_uid(2)]
    findings = coded(selections, "121070")  # an IMAGE without concept: its container's
    assert [i["uid"] for s in findings for i in s["instance"]] == [ct_uid(3)]
    current = coded(selections, "122073")
    assert [i["uid"] for s in current for i in s["instance"]] == [ct_uid(1)]
    (other,) = [s for s in selections if s["code"].get("text") == "Pertinent Other Evidence"]
    assert other["instance"][0]["uid"] == SEG_UID
    (diameter,) = by_type(resources, "Observation")
    assert diameter["valueQuantity"]["value"] == 4.5
    assert diameter["derivedFrom"] == [{"reference": ref(circle)}, {"reference": ref(polyline)}]
    assert any("Subject Age" in w and "not an observation" in w for w in warnings), warnings


# ---- bad input: reported, never a crash; the rest of the document converts


def _two_regions(first: Dataset, name: str) -> Dataset:
    good = scoord("CONTAINS", "POINT", [8, 9], image_item("SELECTED FROM", ct_uid(1)))
    return document(
        [
            item(
                "CONTAINS",
                "CONTAINER",
                ("125007", "DCM", "Measurement Group"),
                [first, num("CONTAINS", ("81827009", "SCT", "Diameter"), 3.0)],
            ),
            good,
        ],
        name=name,
        evidence_uids=ct_evidence(1),
    )


def _converts_the_rest(run_cli: Any, path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    resources, warnings = convert(run_cli, path)
    regions = coded(by_type(resources, "ImagingSelection"), "111030")
    assert [r["instance"][0]["imageRegion2D"] for r in regions][-1] == [
        {"regionType": "point", "coordinate": [8, 9]}
    ]
    assert len(coded(by_type(resources, "Observation"), "81827009")) == 1
    return resources, warnings


def test_scoord_without_selected_from_image(tmp_path: Path, run_cli: Any) -> None:
    ds = _two_regions(scoord("CONTAINS", "CIRCLE", [1, 1, 2, 2], None), "no-image")
    resources, warnings = _converts_the_rest(run_cli, save(ds, tmp_path / "b.dcm"))
    assert len(coded(by_type(resources, "ImagingSelection"), "111030")) == 1
    assert any("no SELECTED FROM image" in w and "1.1.1" in w for w in warnings)


@pytest.mark.parametrize(
    ("graphic_type", "data", "why"),
    [
        ("POLYLINE", [1, 2, 3, 4, 5], "not a multiple of 2"),
        ("CIRCLE", [1, 1, 2, 2, 3, 3], "exactly 2 needed"),
        ("POINT", [1, 1, 2, 2], "exactly 1 needed"),
        ("ELLIPSE", [1, 1, 2, 2], "exactly 4 needed"),
        ("POLYLINE", [1, 1], "at least 2 needed"),
        ("SPLINE", [1, 1, 2, 2], "not a 2D graphic type"),
    ],
)
def test_graphic_data_with_a_bad_count(
    tmp_path: Path, run_cli: Any, graphic_type: str, data: list[float], why: str
) -> None:
    bad = scoord("CONTAINS", graphic_type, data, image_item("SELECTED FROM", ct_uid(1)))
    ds = _two_regions(bad, f"bad-{graphic_type}")
    resources, warnings = _converts_the_rest(run_cli, save(ds, tmp_path / "b.dcm"))
    assert len(coded(by_type(resources, "ImagingSelection"), "111030")) == 1
    assert any(why in w and "region left out" in w for w in warnings), warnings


def test_num_without_measured_value_sequence(tmp_path: Path, run_cli: Any) -> None:
    empty = num("CONTAINS", ("G-D7FE", "SRT", "Length"), None)
    ds = _two_regions(empty, "empty-num")
    resources, warnings = _converts_the_rest(run_cli, save(ds, tmp_path / "b.dcm"))
    (length,) = [o for o in by_type(resources, "Observation") if "dataAbsentReason" in o]
    assert length["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "valueQuantity" not in length
    assert any("MeasuredValueSequence" in w for w in warnings)


def test_num_with_a_value_qualifier_instead_of_a_value(tmp_path: Path, run_cli: Any) -> None:
    nan = num("CONTAINS", ("G-D7FE", "SRT", "Length"), None)
    nan.NumericValueQualifierCodeSequence = DicomSequence([_code("114000", "DCM", "Not a number")])
    resources, warnings = _converts_the_rest(
        run_cli, save(_two_regions(nan, "nan"), tmp_path / "b.dcm")
    )
    (length,) = [o for o in by_type(resources, "Observation") if "dataAbsentReason" in o]
    assert length["dataAbsentReason"]["coding"][0]["code"] == "not-a-number"
    assert length["dataAbsentReason"]["text"] == "Not a number"
    assert not any("MeasuredValueSequence" in w for w in warnings)


@pytest.mark.parametrize(
    "target",
    [[1, 1, 1], [1, 1], [1, 1, 1, 1, 1]],
    ids=["itself", "its-parent", "a-chain-back"],
)
def test_by_reference_loop(tmp_path: Path, run_cli: Any, target: list[int]) -> None:
    # 1.1.1 is the SCOORD, 1.1.1.1 its SELECTED FROM by reference, 1.1.1.1.1 does not exist:
    # "a-chain-back" points at a by-reference item that points back at the first
    loop = item("SELECTED FROM", None, ReferencedContentItemIdentifier=target)
    region = scoord("CONTAINS", "POINT", [1, 1], loop)
    if target == [1, 1, 1, 1, 1]:
        loop.ReferencedContentItemIdentifier = [1, 1, 2]
        second = item("CONTAINS", None, ReferencedContentItemIdentifier=[1, 1, 1, 1])
        ds = _two_regions(region, "loop-chain")
        ds.ContentSequence[0].ContentSequence.insert(1, second)
    else:
        ds = _two_regions(region, f"loop-{len(target)}")
    resources, warnings = _converts_the_rest(run_cli, save(ds, tmp_path / "b.dcm"))
    assert len(coded(by_type(resources, "ImagingSelection"), "111030")) == 1
    assert any("by-reference loop" in w for w in warnings), warnings


def test_reference_to_a_missing_item(tmp_path: Path, run_cli: Any) -> None:
    dangling = item("SELECTED FROM", None, ReferencedContentItemIdentifier=[1, 9, 9])
    ds = _two_regions(scoord("CONTAINS", "POINT", [1, 1], dangling), "dangling")
    _, warnings = _converts_the_rest(run_cli, save(ds, tmp_path / "b.dcm"))
    assert any("1.9.9" in w and "names no content item" in w for w in warnings)


def test_invalid_uid_in_a_reference_leaves_that_item_out(tmp_path: Path, run_cli: Any) -> None:
    bad_image = image_item("SELECTED FROM", "1.2.3")
    with pytest.warns(UserWarning, match="Invalid value for VR UI"):
        bad_image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = "1.02.x"
    ds = _two_regions(scoord("CONTAINS", "POINT", [1, 1], bad_image), "bad-uid")
    path = save(ds, tmp_path / "b.dcm")
    _, warnings = _converts_the_rest(run_cli, path)
    assert any("1.02.x" in w and "left out" in w for w in warnings)


def test_content_tree_1000_levels_deep(tmp_path: Path, run_cli: Any) -> None:
    bottom = scoord("CONTAINS", "POLYLINE", [1, 2, 3, 4], image_item("SELECTED FROM", ct_uid(1)))
    node = bottom
    for _ in range(1000):
        node = item("CONTAINS", "CONTAINER", ("121070", "DCM", "Findings"), [node])
    ds = _two_regions(node, "deep")
    path = on_deep_stack(lambda: save(ds, tmp_path / "deep.dcm"))
    resources, _ = _converts_the_rest(run_cli, path)
    deep, _good = coded(by_type(resources, "ImagingSelection"), "111030")
    assert deep["instance"][0]["imageRegion2D"] == [
        {"regionType": "polyline", "coordinate": [1, 2, 3, 4]}
    ]
    result = read_file(path)
    (key,) = [s.key for s in result.selections if s.key.startswith("sr|region|1.1.1.1.1")]
    assert key.count(".") == 1 + 1000 + 1  # root, group, 1000 containers, the SCOORD


def test_basic_text_sr_with_text_only_converts_to_nothing(tmp_path: Path, run_cli: Any) -> None:
    ds = document(
        [item("CONTAINS", "TEXT", ("121071", "DCM", "Finding"), TextValue="Nothing seen")],
        name="text",
        sop_class="1.2.840.10008.5.1.4.1.1.88.11",
    )
    result = read_file(save(ds, tmp_path / "t.dcm"))
    assert result.selections == [] and result.observations == []
    assert any("nothing to convert" in w for w in result.warnings)


# ---- the Observation writer on its own: flavour-independent through Output.refs


def _record(**kw: Any) -> ObservationRecord:
    base: dict[str, Any] = {
        "key": "sr|obs|1.1",
        "source_uid": "1.2.3",
        "kind": ObservationKind.MEASUREMENT,
        "code": Code("81827009", "SCT", "Diameter"),
        "numeric_value": 2.0,
        "unit": Code("mm", "UCUM", "mm"),
    }
    base.update(kw)
    return ObservationRecord(**base)


def test_observation_writer_follows_output_refs_of_any_flavour() -> None:
    rec = _record(derived_from=("a", "b", "missing"))
    refs = {"a": ["ImagingSelection/x1", "ImagingSelection/x2"], "b": ["ImagingSelection/y"]}
    out = observation.write([rec], refs)
    (res,) = out.resources
    assert res["derivedFrom"] == [
        {"reference": "ImagingSelection/x1"},
        {"reference": "ImagingSelection/x2"},
        {"reference": "ImagingSelection/y"},
    ]
    assert any("'missing'" in w for w in out.warnings)
    observation.validate(res)


def test_observation_ids_are_stable_and_distinct_from_selections() -> None:
    rec = _record()
    assert (
        observation.observation_id("1.2.3", rec.key)
        == observation.write([rec], {}).resources[0]["id"]
    )
    assert observation.observation_id("1.2.3", rec.key) != r5.key_id("1.2.3", rec.key)


def test_unit_without_a_known_system_is_text_only() -> None:
    rec = _record(unit=Code("cm", "99_PRIVATE", "Length Unit"))
    out = observation.write([rec], {})
    assert out.resources[0]["valueQuantity"] == {"value": 2, "unit": "Length Unit"}
    observation.validate(out.resources[0])
    assert any("no known system" in w for w in out.warnings)


def test_validate_rejects_a_bad_status() -> None:
    res = observation.write([_record()], {}).resources[0]
    res["status"] = "done"
    with pytest.raises(Exception, match="status"):
        observation.validate(res)


def test_model_rejects_a_non_finite_value() -> None:
    with pytest.raises(ValueError, match="finite"):
        _record(numeric_value=float("nan"))


def test_read_result_keeps_keys_consistent(all_types: Path) -> None:
    result = read_file(all_types)
    keys = {s.key for s in result.selections}
    okeys = {o.key for o in result.observations}
    for o in result.observations:
        assert set(o.derived_from) <= keys
        assert set(o.members) <= okeys
    for s in result.selections:
        assert set(s.focus) <= keys


# ---- the same document in every encoding reads the same


def _undefined_lengths(ds: Dataset, keywords: tuple[str, ...] | None = None) -> Dataset:
    for _, it in content_items(ds):
        for elem in it:
            if elem.VR == "SQ" and (keywords is None or elem.keyword in keywords):
                elem.is_undefined_length = True
    return ds


@pytest.mark.parametrize(
    "variant", ["implicit", "deflated", "undefined-lengths", "mixed-lengths", "big-endian"]
)
def test_every_encoding_reads_the_same(tmp_path: Path, variant: str) -> None:
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian,
        ExplicitVRBigEndian,
        ImplicitVRLittleEndian,
    )

    specs = [*ALL_TYPES, Planar("POINT", [(7, 7)], tracking_id="Läsion ü")]

    def build() -> Dataset:
        ds = tid1500(specs, name="encodings", charset="ISO_IR 192")
        add_observation_uids(ds)
        return ds

    reference = read_file(save(build(), tmp_path / "explicit.dcm"))
    ds = build()
    if variant == "undefined-lengths":
        _undefined_lengths(ds)
    elif variant == "mixed-lengths":  # defined-length content, undefined-length codes inside
        _undefined_lengths(ds, ("MeasuredValueSequence", "ConceptCodeSequence"))
    else:
        ds.file_meta.TransferSyntaxUID = {
            "implicit": ImplicitVRLittleEndian,
            "deflated": DeflatedExplicitVRLittleEndian,
            "big-endian": ExplicitVRBigEndian,
        }[variant]
    other = read_file(save(ds, tmp_path / f"{variant}.dcm"))
    assert other.selections == reference.selections
    assert other.observations == reference.observations
    assert any(o.tracking_id == "Läsion ü" for o in reference.observations)


def test_invalid_observation_uid_is_reported_once(tmp_path: Path, run_cli: Any) -> None:
    ds = tid1500([Planar("POINT", [(1, 1)])], name="bad-obs-uid")
    (group,) = groups(ds)
    with pytest.warns(UserWarning, match="Invalid value for VR UI"):
        group.ObservationUID = "1.2.03"
    resources, warnings = convert(run_cli, save(ds, tmp_path / "b.dcm"))
    assert sum("'1.2.03' is not a valid UID" in w for w in warnings) == 1
    assert not coded(by_type(resources, "ImagingSelection"), "111040")


def test_strict_fails_an_sr_with_losses_and_jobs_give_the_same_output(
    all_types: Path, tmp_path: Path, run_cli: Any
) -> None:
    ds = tid1500([Planar("POINT", [(1, 1)])], name="strict")
    (it,) = find(ds, "SCOORD")
    it.GraphicType, it.GraphicData = "MULTIPOINT", [1.0, 1.0, 2.0, 2.0]
    lossy = save(ds, tmp_path / "lossy.dcm")
    code, _, err = run_cli("convert", lossy, "--strict")
    assert code == 1 and "--strict" in err
    one = run_cli("convert", all_types, lossy, "--format", "ndjson")
    two = run_cli("convert", all_types, lossy, "--format", "ndjson", "--jobs", "2")
    assert one[0] == two[0] == 0 and one[1] == two[1]


def test_observation_datetime_becomes_effective_with_a_zone(tmp_path: Path) -> None:
    content = [
        num("CONTAINS", ("81827009", "SCT", "Diameter"), 1.0, ObservationDateTime="20240305101500"),
        num(
            "CONTAINS",
            ("81827009", "SCT", "Diameter"),
            2.0,
            ObservationDateTime="20240305101500.25-0500",
        ),
        item(
            "CONTAINS",
            "CONTAINER",
            ("121070", "DCM", "Findings"),
            [num("CONTAINS", ("81827009", "SCT", "Diameter"), 3.0)],
            ObservationDateTime="20240306",
        ),
    ]
    result = read_file(save(document(content, name="when"), tmp_path / "w.dcm"))
    assert [o.observation_datetime for o in result.observations] == [
        "2024-03-05T10:15:00+01:00",  # the document's Timezone Offset From UTC
        "2024-03-05T10:15:00.25-05:00",  # its own
        "2024-03-06",  # the container's, a date needs no zone
    ]
