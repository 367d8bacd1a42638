"""Every real SR of ../shared/realdata: regions equal the Graphic Data read with plain pydicom.

The expected regions, images and frames are read here independently of dicomsel:
each SCOORD's Graphic Type and Data and the image of its SELECTED FROM child.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from conftest import realdata, realdata_files, resources_of

SR_FILES = realdata_files("sr_") or [
    "sr_comprehensive_dcmtk_dscope_nested.dcm",
    "sr_enhanced_deflated_dcm4che.dcm",
    "sr_tid1500_dcmjs_small_scoord.dcm",
    "sr_tid1500_highdicom_scoord_scoord3d.dcm",
]

pytestmark = pytest.mark.realdata


def _items(ds: Dataset) -> list[Dataset]:
    out = []
    stack = list(reversed(ds.get("ContentSequence", [])))
    while stack:
        it = stack.pop()
        out.append(it)
        stack.extend(reversed(it.get("ContentSequence", [])))
    return out


def _fl(x: float) -> float:
    """A Graphic Data value (FL, float32: PS3.3 C.18.6.1.1) as the shortest decimal of it.

    numpy's positional formatting with ``unique=True`` gives the shortest digits
    that read back to the same float32; checked here that they do.
    """
    shortest = float(np.format_float_positional(np.float32(x), unique=True, trim="-"))
    assert np.float32(shortest) == np.float32(x)
    return shortest


def _expected_regions(ds: Dataset) -> tuple[list[tuple[Any, ...]], int]:
    """(image uid, frames, graphic type, coordinates) of each SCOORD with an image; and
    how many SCOORDs have no SELECTED FROM image."""
    regions, orphans = [], 0
    for it in _items(ds):
        if it.get("ValueType") != "SCOORD":
            continue
        images = [
            c
            for c in it.get("ContentSequence", [])
            if c.get("RelationshipType") == "SELECTED FROM" and c.get("ValueType") == "IMAGE"
        ]
        if not images:
            orphans += 1
            continue
        sop = images[0].ReferencedSOPSequence[0]
        frames = sop.get("ReferencedFrameNumber")
        if frames is None:
            frame_list = []
        elif isinstance(frames, MultiValue | list):
            frame_list = [int(f) for f in frames]
        else:
            frame_list = [int(frames)]
        regions.append(
            (
                sop.ReferencedSOPInstanceUID,
                tuple(sorted(frame_list)),
                it.GraphicType.lower(),
                [_fl(x) for x in it.GraphicData],
            )
        )
    return regions, orphans


def _evidence_uids(ds: Dataset) -> set[str]:
    out = set()
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(keyword, []):
            for series in study.get("ReferencedSeriesSequence", []):
                for sop in series.get("ReferencedSOPSequence", []):
                    out.add(sop.ReferencedSOPInstanceUID)
    return out


def _convert(run_cli: Any, path: Path, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    report = tmp_path / "report.json"
    code, out, err = run_cli("convert", path, "--format", "ndjson", "--report", report)
    assert code == 0, err
    (entry,) = json.loads(report.read_text())["inputs"]
    assert entry["status"] == "converted"
    return resources_of(out), entry["warnings"]


@pytest.mark.parametrize("name", SR_FILES)
def test_real_sr_regions_equal_the_graphic_data(name: str, run_cli: Any, tmp_path: Path) -> None:
    path = realdata(name)
    ds = pydicom.dcmread(path)
    expected, orphans = _expected_regions(ds)
    resources, warnings = _convert(run_cli, path, tmp_path)
    got = []
    for r in resources:
        if r["resourceType"] != "ImagingSelection":
            continue
        for inst in r.get("instance", []):
            for region in inst.get("imageRegion2D", []):
                frames = tuple(int(f) for f in inst.get("subset", []))
                got.append((inst["uid"], frames, region["regionType"], region["coordinate"]))
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert sum("no SELECTED FROM image" in w for w in warnings) == orphans
    # every evidence instance is reachable from the output
    selected = {
        i["uid"]
        for r in resources
        if r["resourceType"] == "ImagingSelection"
        for i in r.get("instance", [])
    }
    assert _evidence_uids(ds) <= selected


def _by_code(resources: list[dict[str, Any]], rtype: str, code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in resources
        if r["resourceType"] == rtype and r["code"].get("coding", [{}])[0].get("code") == code
    ]


def test_dcmjs_measurement_group(run_cli: Any, tmp_path: Path) -> None:
    resources, _ = _convert(run_cli, realdata("sr_tid1500_dcmjs_small_scoord.dcm"), tmp_path)
    (group,) = _by_code(resources, "Observation", "125007")
    assert group["identifier"][0]["value"].startswith("Cornerstone3DTools")
    assert group["identifier"][1]["value"] == "urn:oid:2.25.639471218588509803385904782051176077285"
    # the file codes them SRT G-A185 / G-A186; PS3.16 Annex O maps them to SNOMED CT
    long_axis, short_axis = (
        _by_code(resources, "Observation", c)[0] for c in ("103339001", "103340004")
    )
    for obs in (long_axis, short_axis):
        assert obs["code"]["coding"][0]["system"] == "http://snomed.info/sct"
    assert long_axis["valueQuantity"]["value"] == 64.4505437946691
    assert long_axis["valueQuantity"]["code"] == "1"
    assert short_axis["valueQuantity"]["value"] == 42.9670291964462
    members = {m["reference"] for m in group["hasMember"]}
    assert members == {f"Observation/{long_axis['id']}", f"Observation/{short_axis['id']}"}
    # each measurement is derived from its own SCOORD (INFERRED FROM the NUM)
    assert len(long_axis["derivedFrom"]) == 1
    assert long_axis["derivedFrom"] != short_axis["derivedFrom"]
    assert {d["reference"] for d in group["derivedFrom"]} == {
        d["reference"] for m in (long_axis, short_axis) for d in m["derivedFrom"]
    }


def test_highdicom_planar_volumetric_and_qualitative_groups(run_cli: Any, tmp_path: Path) -> None:
    path = realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")
    ds = pydicom.dcmread(path)
    resources, _ = _convert(run_cli, path, tmp_path)
    groups = [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and "125007" in json.dumps([r["code"], r.get("category")])
    ]
    assert len(groups) == 4
    # a finding category becomes the code, Measurement Group the category (the IG)
    (nodule,) = [g for g in groups if g["identifier"][0]["value"] == "LungNodule0001"]
    assert nodule["code"]["coding"][0]["code"] == "49755003"
    assert nodule["category"][0]["coding"][0]["code"] == "125007"
    assert nodule["bodySite"]["coding"][0]["code"] == "39607008"
    (surface,) = _by_code(resources, "ImagingSelection", "121231")
    (scoord3d,) = [it for it in _items(ds) if it.get("ValueType") == "SCOORD3D"]
    assert surface["frameOfReferenceUid"] == scoord3d.ReferencedFrameOfReferenceUID
    (inst,) = surface["instance"]
    assert inst["uid"] == ds.SOPInstanceUID  # anchored on the SR (no Observation UID)
    assert "subset" not in inst
    assert inst["imageRegion3D"][0]["coordinate"] == [123.5, 234.1, -23.7]  # as written
    assert inst["imageRegion3D"] == [
        {"regionType": "point", "coordinate": [_fl(x) for x in scoord3d.GraphicData]}
    ]
    (volume,) = _by_code(resources, "Observation", "118565006")
    assert f"ImagingSelection/{surface['id']}" in {d["reference"] for d in volume["derivedFrom"]}
    assert volume["valueQuantity"]["code"] == "mm3"
    (significance,) = _by_code(resources, "Observation", "121403")
    assert significance["category"][0]["coding"][0]["code"] == "C0034375"
    assert significance["valueCodeableConcept"]["coding"][0]["code"] == "371928007"
    statuses = {r["status"] for r in resources if r["resourceType"] == "Observation"}
    assert statuses == {"preliminary"}  # Preliminary Flag PRELIMINARY


def test_nested_non_tid1500_sr(run_cli: Any, tmp_path: Path) -> None:
    resources, warnings = _convert(
        run_cli, realdata("sr_comprehensive_dcmtk_dscope_nested.dcm"), tmp_path
    )
    instances = {
        i["uid"]: i
        for r in resources
        if r["resourceType"] == "ImagingSelection"
        for i in r["instance"]
    }
    assert instances["1.2.3.4.5.0"]["subset"] == ["2", "5"]
    assert {"1.2.3.5.6.7", "1.2.3.4.5", "1.2.3.4.0.1", "9.8.7.6"} <= set(instances)
    assert any("TCOORD" in w for w in warnings)
    assert any("ReferencedWaveformChannels" in w for w in warnings)
    diameters = [r for r in resources if r["resourceType"] == "Observation"]
    assert [d["valueQuantity"]["value"] for d in diameters] == [3, 3]
    assert {d["status"] for d in diameters} == {"final"}  # complete and verified


def test_deflated_enhanced_sr(run_cli: Any, tmp_path: Path) -> None:
    resources, _ = _convert(run_cli, realdata("sr_enhanced_deflated_dcm4che.dcm"), tmp_path)
    (obs,) = resources
    assert obs["resourceType"] == "Observation"
    assert obs["valueQuantity"]["value"] == 1.5
