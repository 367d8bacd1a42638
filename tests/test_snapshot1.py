"""R5 Snapshot #1: the writer, the project's schema, the reader and its bad inputs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dicomsel import dicom
from dicomsel.dicom.context import ReadOptions
from dicomsel.errors import InvalidInputError, UnsupportedObjectError, ValidationError
from dicomsel.fhir import FLAVOURS, detect_flavour, read_fhir, snapshot1
from dicomsel.model import (
    Code,
    Identifier,
    Instance,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
    Selection,
)
from dicomsel.pipeline import ConvertOptions, convert

from conftest import GOLDEN, REALDATA, ROOT, SAMPLES, realdata, shared_data, spec

SPEC_TEXT = "ImagingSelection-R5-snapshot1.txt"
SCHEMA = ROOT / "src" / "dicomsel" / "data" / snapshot1.SCHEMA_FILE
CT = "1.2.840.10008.5.1.4.1.1.2"
SR = "1.2.840.10008.5.1.4.1.1.88.22"


def _inputs() -> list[Path]:
    found = sorted(SAMPLES.glob("*.dcm"))
    if REALDATA.is_dir():
        found += sorted(p for p in REALDATA.iterdir() if p.suffix == ".dcm" or p.is_dir())
    else:  # one case that skips with the reason (fails under CI)
        found.append(REALDATA)
    return found


def _ims(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == "ImagingSelection"]


# ---- every real and sample file converts to Snapshot #1 and validates


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: p.name)
def test_every_input_converts_and_validates(path: Path) -> None:
    shared_data(path, "../shared/realdata")
    if path.is_file():
        try:
            dicom.read_file(str(path), ReadOptions(timezone="+00:00"))
        except UnsupportedObjectError as e:
            pytest.skip(f"no reader for {path.name} yet: {e.reason}")
    batch = convert([str(path)], ConvertOptions(fhir="r5-snapshot1", read=ReadOptions("+00:00")))
    failed = [o for o in batch.outcomes if o.status == "failed"]
    assert not failed, failed
    if not any(o.status == "converted" for o in batch.outcomes):
        pytest.skip(f"{path.name}: every file skipped ({batch.outcomes[0].reason})")
    schema = Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))
    resources = batch.all_resources()
    assert resources
    for res in _ims(resources):
        errors = [e.message for e in schema.iter_errors(res)]
        assert not errors, errors
        snapshot1.validate(res)
        assert "status" not in res


# ---- goldens, checked by hand against the spec text (docs/snapshot1.md)

GOLDEN_CASES = [
    ("sample", "kos_frames_segments.dcm"),
    ("sample", "kos_two_studies.dcm"),
    ("sample", "seg_ct_small.dcm"),
    ("real", "ko_ihe_xdsi_manifest_pet_10inst.dcm"),
    ("real", "sr_tid1500_highdicom_scoord_scoord3d.dcm"),
    ("real", "rtstruct_dicompyler_10rois.dcm"),
]


@pytest.mark.parametrize(("kind", "name"), GOLDEN_CASES, ids=[c[1] for c in GOLDEN_CASES])
def test_golden(kind: str, name: str, run_cli: Any) -> None:
    src = SAMPLES / name if kind == "sample" else realdata(name)
    code, out, err = run_cli("convert", src, "--fhir", "r5-snapshot1", "--timezone", "+00:00")
    assert code == 0, err
    golden = GOLDEN / f"{Path(name).stem}.s1.json"
    if os.environ.get("DICOMSEL_UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with DICOMSEL_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")
    bundle = json.loads(out)
    for entry in bundle["entry"]:
        FLAVOURS["r5-snapshot1"].validate(entry["resource"])


# ---- the schema is the spec's


def _spec_json_template() -> dict[str, str]:
    """Element name -> its line of the spec's JSON template (lines 120-304)."""
    lines = spec(SPEC_TEXT).read_text("utf-8").splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "JSON Template")
    out = {}
    for line in lines[start:]:
        m = re.match(r'\s*"(\w+)" : ', line)
        if m:
            out[m.group(1)] = line
        if line.strip() == "Turtle Template":
            break
    return out


def test_schema_has_every_element_of_the_spec() -> None:
    spec(SPEC_TEXT)
    schema = json.loads(SCHEMA.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    template = _spec_json_template()
    defs = schema["$defs"]
    known = (
        set(schema["properties"])
        | set(defs["ImagingSelection_Performer"]["properties"])
        | set(defs["ImagingSelection_Instance"]["properties"])
        | set(defs["ImagingSelection_ImageRegion"]["properties"])
    )
    assert set(template) <= known, set(template) - known
    for name, line in template.items():
        if "R!" in line:  # required in the spec: required in the schema
            where = [
                d
                for d in (schema, *defs.values())
                if name in d.get("properties", {}) and name in d.get("required", [])
            ]
            assert where, name
    # no R5-only element
    for r5_only in ("status", "category", "focus", "seriesNumber"):
        assert r5_only not in schema["properties"]
    assert "number" not in defs["ImagingSelection_Instance"]["properties"]
    # the required bindings, codes as the spec lists them (line 116)
    region = defs["ImagingSelection_ImageRegion"]["properties"]
    codes = ["POINT", "MULTIPOINT", "POLYLINE", "POLYGON", "ELLIPSE", "ELLIPSOID"]
    assert region["regionType"]["enum"] == codes
    assert region["coordinateType"]["enum"] == ["2d", "3d"]
    # the schema's property order is the spec's XML template order
    order = [n for n in template if n in schema["properties"]]
    assert order == [n for n in schema["properties"] if n in template]


# ---- the writer


def _sel(**kw: Any) -> Selection:
    base: dict[str, Any] = {
        "key": "test|1",
        "source_uid": "1.2.3.99",
        "code": Code("111030", "DCM", "Image Region"),
        "study_instance_uid": "1.2.3",
        "series_instance_uid": "1.2.3.4",
        "identifiers": (Identifier.dicom_uid("1.2.3.99"),),
    }
    base.update(kw)
    return Selection(**base)


def _written(sel: Selection) -> tuple[list[dict[str, Any]], Any]:
    out = snapshot1.write([sel])
    for r in out.resources + list(out.shared.values()):
        snapshot1.validate(r)
    return out.resources, out


def test_shape_of_one_resource() -> None:
    inst = Instance("1.2.3.4.5", CT, number=7, frames=(3, 1))
    (res,), out = _written(
        _sel(instances=(inst,), series_number=2, body_site=Code("T-D0010", "SRT", "Entire body"))
    )
    assert res["studyUid"] == "urn:oid:1.2.3"
    assert res["seriesUid"] == "urn:oid:1.2.3.4"
    assert res["instance"] == [
        {
            "uid": "urn:oid:1.2.3.4.5",
            "sopClass": {
                "system": "urn:ietf:rfc:3986",
                "code": f"urn:oid:{CT}",
                "display": "CT Image Storage",
            },
            "frameList": "1,3",
        }
    ]
    assert res["bodySite"] == {
        "system": "http://snomed.info/sct",
        "code": "38266002",
        "display": "Entire body",
    }
    assert "status" not in res and "seriesNumber" not in res
    assert any("seriesNumber: 2 left out" in w for w in out.warnings)
    assert any("instance.number" in w for w in out.warnings)
    assert out.refs == {"test|1": [f"ImagingSelection/{res['id']}"]}
    keys = list(res)
    assert keys == sorted(keys, key=list(json.loads(SCHEMA.read_text())["properties"]).index)


def test_lists_and_observation_uids() -> None:
    seg = Instance("1.2.3.4.6", "1.2.840.10008.5.1.4.1.1.66.4", segments=(0, 2))
    rt = Instance("1.2.3.4.7", "1.2.840.10008.5.1.4.1.1.481.3", rois=(4,))
    sr = Instance("1.2.3.4.8", SR, observation_uids=("1.2.9.1", "1.2.9.2"))
    (res,), _ = _written(_sel(instances=(seg, rt, sr)))
    a, b, c = res["instance"]
    assert a["segmentList"] == "0,2" and b["roiList"] == "4"
    assert c["observationUid"] == ["urn:oid:1.2.9.1", "urn:oid:1.2.9.2"]


def test_circle_becomes_the_exact_ellipse() -> None:
    circle = Region2D(RegionType2D.CIRCLE, (10.0, 20.0, 13.0, 24.0))
    (res,), out = _written(_sel(instances=(Instance("1.2.3.4.5", CT, regions_2d=(circle,)),)))
    region = res["imageRegion"]
    assert region["regionType"] == "ELLIPSE" and region["coordinateType"] == "2d"
    pts = list(zip(region["coordinates"][::2], region["coordinates"][1::2], strict=True))
    # both axes through the centre, each the circle's diameter (radius 5), at right angles
    assert pts == [(13, 24), (7, 16), (6, 23), (14, 17)]
    for x, y in pts:
        assert (x - 10) ** 2 + (y - 20) ** 2 == 25
    assert any("CIRCLE" in w for w in out.warnings)


def test_interpolated_is_a_polyline_reported() -> None:
    curve = Region2D(RegionType2D.INTERPOLATED, (1.0, 1.0, 2.0, 3.5, 4.0, 1.0))
    (res,), out = _written(_sel(instances=(Instance("1.2.3.4.5", CT, regions_2d=(curve,)),)))
    assert res["imageRegion"] == {
        "regionType": "POLYLINE",
        "coordinateType": "2d",
        "coordinates": [1, 1, 2, 3.5, 4, 1],
    }
    assert any("INTERPOLATED" in w and "lossy" in w for w in out.warnings)


def test_several_regions_split_one_per_resource() -> None:
    p1 = Region2D(RegionType2D.POINT, (1.0, 2.0))
    p2 = Region2D(RegionType2D.MULTIPOINT, (1.0, 2.0, 3.0, 4.0))
    a = Instance("1.2.3.4.5", CT, frames=(2,), regions_2d=(p1, p2))
    b = Instance("1.2.3.4.6", CT)
    resources, out = _written(_sel(instances=(a, b)))
    assert [r.get("imageRegion", {}).get("regionType") for r in resources] == [
        None,
        "POINT",
        "MULTIPOINT",
    ]
    assert [[i["uid"] for i in r["instance"]] for r in resources] == [
        ["urn:oid:1.2.3.4.6"],
        ["urn:oid:1.2.3.4.5"],
        ["urn:oid:1.2.3.4.5"],
    ]
    assert resources[1]["instance"][0]["frameList"] == "2"
    assert len(out.refs["test|1"]) == 3 and len({r["id"] for r in resources}) == 3
    assert any("written as 3 Snapshot #1 resources" in w for w in out.warnings)
    # ids: the rest keeps the selection's own id (the one R5 gives it)
    from dicomsel.fhir import r5

    assert resources[0]["id"] == r5.key_id("1.2.3.99", "test|1")
    assert resources[1]["id"] == r5.key_id("1.2.3.99", "test|1|region0")


def test_3d_region_anchored_on_its_sr_instance() -> None:
    region = Region3D(RegionType3D.ELLIPSOID, tuple(float(i) for i in range(18)), "1.2.3.7")
    sr = Instance("1.2.3.4.8", SR, observation_uids=("1.2.9.1",), regions_3d=(region,))
    image = Instance("1.2.3.4.5", CT)
    (res,), out = _written(_sel(instances=(image, sr)))
    assert res["frameOfReferenceUid"] == "urn:oid:1.2.3.7"
    assert res["imageRegion"]["coordinateType"] == "3d"
    assert not out.warnings
    back = _read(res).selections[0]
    assert back.instances[1].regions_3d == (region,)


def test_unknown_series_one_resource_per_instance() -> None:
    insts = (Instance("1.2.3.4.5", CT), Instance("1.2.3.4.6", CT))
    resources, out = _written(_sel(series_instance_uid=None, instances=insts))
    assert [len(r["instance"]) for r in resources] == [1, 1]
    assert any("series unknown" in w for w in out.warnings)


def test_uids_that_are_not_oids_are_left_out_reported() -> None:
    insts = (Instance("9.8.7.6", CT), Instance("1.2.3.4.5", CT))
    (res,), out = _written(_sel(instances=insts))
    assert [i["uid"] for i in res["instance"]] == ["urn:oid:1.2.3.4.5"]
    assert any("9.8.7.6 is not an OID" in w for w in out.warnings)


def test_r5_only_elements_reported() -> None:
    sel = _sel(status="unknown", categories=(Code("X", "DCM", "x"),), focus=("test|2",))
    _, out = _written(sel)
    text = " ".join(out.warnings)
    for what in ("status", "category", "focus"):
        assert f"Snapshot #1 has no {what}" in text


def test_body_site_text_only_is_reported() -> None:
    (res,), out = _written(_sel(body_site=Code(None, text="left knee")))
    assert "bodySite" not in res
    assert any("bodySite" in w for w in out.warnings)


# ---- validate()


def test_validate_names_paths() -> None:
    res = {
        "resourceType": "ImagingSelection",
        "id": "x",
        "status": "available",
        "code": {"text": "x"},
        "seriesUid": "1.2.3",
        "instance": [{"uid": "urn:oid:1.2.3.4", "frameList": "1,1"}],
        "imageRegion": {"regionType": "ELLIPSOID", "coordinateType": "2d", "coordinates": [1]},
    }
    with pytest.raises(ValidationError) as info:
        snapshot1.validate(res)
    text = str(info.value)
    for part in (
        "ImagingSelection/x.status",
        "ImagingSelection/x.seriesUid: '1.2.3' is not a valid oid",
        "ImagingSelection/x.instance[0].frameList",
        "ImagingSelection/x.imageRegion.regionType",
    ):
        assert part in text, part


def test_validate_one_series_rule() -> None:
    res = {
        "resourceType": "ImagingSelection",
        "id": "x",
        "code": {"text": "x"},
        "instance": [{"uid": "urn:oid:1.2.3.4"}, {"uid": "urn:oid:1.2.3.5"}],
    }
    with pytest.raises(ValidationError, match=r"ImagingSelection/x\.seriesUid: missing"):
        snapshot1.validate(res)
    snapshot1.validate({**res, "seriesUid": "urn:oid:1.2.3"})


# ---- reading, and the bad inputs of issue 5


def _s1(**kw: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ImagingSelection",
        "id": "x",
        "code": {
            "coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "1"}]
        },
        "studyUid": "urn:oid:1.2.3",
        "seriesUid": "urn:oid:1.2.3.4",
        "instance": [{"uid": "urn:oid:1.2.3.4.5", "frameList": "1,2"}],
    }
    res.update(kw)
    return res


def _read(res: dict[str, Any] | list[dict[str, Any]], flavour: str | None = None) -> Any:
    docs = res if isinstance(res, list) else [res]
    text = "\n".join(json.dumps(d) for d in docs)
    return read_fhir("in.ndjson", text=text, flavour=flavour)


def test_detect_flavour() -> None:
    assert detect_flavour(_s1()) == "r5-snapshot1"
    assert detect_flavour({"resourceType": "ImagingSelection", "studyUid": "1.2"}) == "r5"
    assert detect_flavour({"imageRegion": {}}) == "r5-snapshot1"
    assert detect_flavour({**_s1(), "status": "available"}) == "r5"


def test_reads_lists_and_region() -> None:
    res = _s1(
        instance=[{"uid": "urn:oid:1.2.3.4.5", "frameList": " 3, 1"}],
        imageRegion={
            "regionType": "POLYGON",
            "coordinateType": "2d",
            "coordinates": [0, 0, 4, 0, 4, 4],
        },
    )
    got = _read(res)
    (inst,) = got.selections[0].instances
    assert inst.frames == (1, 3)
    assert inst.regions_2d == (Region2D(RegionType2D.POLYLINE, (0, 0, 4, 0, 4, 4, 0, 0)),)
    assert any("POLYGON" in w for w in got.warnings)


def _reg(rtype: str, ctype: str, coords: list[int], **kw: Any) -> dict[str, Any]:
    return {
        "imageRegion": {"regionType": rtype, "coordinateType": ctype, "coordinates": coords},
        **kw,
    }


def _inst(**kw: Any) -> dict[str, Any]:
    return {"instance": [{"uid": "urn:oid:1.2.3.4.5", **kw}]}


BAD = [
    (
        "bare UID in instance.uid",
        {"instance": [{"uid": "1.2.3.4.5"}]},
        "instance[0].uid",
        "bare UID",
    ),
    ("bare UID in studyUid", {"studyUid": "1.2.3"}, "studyUid", "urn:oid:1.2.3"),
    (
        "bare observation UID",
        _inst(observationUid=["1.2.9"]),
        "instance[0].observationUid[0]",
        "bare",
    ),
    ("frameList 0", _inst(frameList="0"), "instance[0].frameList", "start at 1"),
    ("frameList 1,1", _inst(frameList="1,1"), "instance[0].frameList", "listed twice"),
    ("frameList a", _inst(frameList="a"), "instance[0].frameList", "not a frame number"),
    ("2d odd count", _reg("POINT", "2d", [1, 2, 3]), "imageRegion.coordinates", "multiple of 2"),
    (
        "3d not triples",
        _reg("POLYLINE", "3d", [1, 2, 3, 4], frameOfReferenceUid="urn:oid:1.2.7"),
        "imageRegion.coordinates",
        "not a multiple of 3",
    ),
    (
        "ellipse, 3 points",
        _reg("ELLIPSE", "2d", [1, 2, 3, 4, 5, 6]),
        "imageRegion.coordinates",
        "exactly 4",
    ),
    (
        "unknown regionType",
        _reg("CIRCLE", "2d", [1, 2, 3, 4]),
        "imageRegion.regionType",
        "'CIRCLE' is not",
    ),
    (
        "lower-case regionType",
        _reg("point", "2d", [1, 2]),
        "imageRegion.regionType",
        "'point' is not",
    ),
    ("unknown coordinateType", _reg("POINT", "2D", [1, 2]), "imageRegion.coordinateType", "2d, 3d"),
    (
        "2d ellipsoid",
        _reg("ELLIPSOID", "2d", list(range(12))),
        "imageRegion.regionType",
        "not a 2d",
    ),
    (
        "3d without frame of reference",
        _reg("POINT", "3d", [1, 2, 3]),
        "frameOfReferenceUid",
        "missing",
    ),
]


@pytest.mark.parametrize(("change", "where", "why"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_element(change: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        _read(_s1(**change), flavour="r5-snapshot1")
    message = str(info.value)
    assert f"in.ndjson: ImagingSelection/x.{where}: " in message
    assert why in message


def test_bad_input_instances_from_two_series() -> None:
    a = _s1(id="a")
    b = _s1(id="b", seriesUid="urn:oid:1.2.3.9")
    with pytest.raises(InvalidInputError) as info:
        _read([a, b])
    message = str(info.value)
    assert "ImagingSelection/b.instance[0].uid" in message
    assert "series 1.2.3.9 here but in series 1.2.3.4 in ImagingSelection/a" in message


def test_bad_input_series_in_two_studies() -> None:
    a = _s1(id="a")
    b = _s1(id="b", studyUid="urn:oid:1.2.5", instance=[{"uid": "urn:oid:1.2.3.4.6"}])
    with pytest.raises(InvalidInputError, match=r"ImagingSelection/b\.studyUid: series 1\.2\.3\.4"):
        _read([a, b])


def test_r5_only_elements_in_snapshot1_input_are_reported() -> None:
    got = _read(_s1(status="available", category=[{"text": "x"}]), flavour="r5-snapshot1")
    assert any("status: not a Snapshot #1 element" in w for w in got.warnings)
    assert any("category: not a Snapshot #1 element" in w for w in got.warnings)
