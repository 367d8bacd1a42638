"""``--profile dicom-sr``: every SR's graph meets the HL7 dicom-sr IG's profiles (issue 13).

The checker (tests/ig_profiles.py) reads the IG's StructureDefinitions from
../shared/hl7-dicom-sr-ig; its own tests below break each rule on resources made
by hand and on the IG's SDs (and on small StructureDefinitions written here for
the rules the IG's differentials do not use: fixed values, required bindings,
closed slicing).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydicom.sr.codedict import codes

from dicomsel.fhir import observation
from dicomsel.fhir.dicomsr.graph import PROFILES, profile_url
from fhirpath_invariants import invariant_failures
from ig_profiles import Profiles, graph_of

from conftest import SHARED, realdata, realdata_files, resources_of, shared_data
from hl7_r5 import HL7_CACHE
from srfiles import Planar, Volumetric, ct_uid, save, tid1500

IG_DIR = SHARED / "hl7-dicom-sr-ig"

REAL_SRS = realdata_files("sr_")


@pytest.fixture(scope="module")
def profiles() -> Profiles:
    folder = shared_data(IG_DIR, "../shared/hl7-dicom-sr-ig")
    return Profiles(folder, [HL7_CACHE] if HL7_CACHE.is_dir() else [])


def _generated(tmp: Path) -> list[Path]:
    groups: list[Any] = [
        Planar("POLYLINE", [(1, 2), (3, 4.25), (5, 6), (1, 2)], tracking_id="Poly"),
        Planar(
            "CIRCLE",
            [(10, 10), (10, 15)],
            tracking_id="Circle",
            finding=codes.SCT.Nodule,
            finding_site=codes.SCT.Lung,
        ),
        Volumetric(tracking_id="Volume"),
        Volumetric(segment=2, tracking_id="Segment", source_images=[ct_uid(2), ct_uid(3)]),
    ]
    return [
        save(tid1500(groups, name="profile-all"), tmp / "all.dcm"),
        save(tid1500(groups[:1], name="profile-nozone", timezone=None), tmp / "nozone.dcm"),
        save(
            tid1500(groups[2:], name="profile-final", verified=True, final=True),
            tmp / "final.dcm",
        ),
    ]


def _ig_selection_codes(profiles: Profiles) -> set[str]:
    """The codes the IG's ImagingSelection profiles fix (by their patterns)."""
    out: set[str] = set()
    for sd in profiles.sds.values():
        for e in sd["differential"]["element"]:
            if e["id"] == "ImagingSelection.code.coding" and "patternCoding" in e:
                out.add(e["patternCoding"]["code"])
    return out


def _convert(run_cli: Any, path: Path, *args: str) -> tuple[str, list[str]]:
    report = path.parent / f"{path.name}.report.json"
    code, out, err = run_cli("convert", path, "--report", report, *args)
    assert code == 0, err
    entry = json.loads(report.read_text())["inputs"][0]
    assert entry["status"] == "converted", entry
    return out, entry["warnings"]


def _inputs(tmp_path: Path) -> list[Path]:
    return [realdata(n) for n in REAL_SRS] + _generated(tmp_path)


def test_real_srs_present() -> None:
    if not REAL_SRS:
        realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm")  # skips, or fails under CI
    assert len(REAL_SRS) >= 4


@pytest.mark.parametrize("zone", [("--timezone", "+00:00"), ()])
def test_every_sr_graph_meets_the_ig(
    run_cli: Any, tmp_path: Path, profiles: Profiles, zone: tuple[str, ...]
) -> None:
    ig_codes = _ig_selection_codes(profiles)
    for path in _inputs(tmp_path):
        out, warnings = _convert(run_cli, path, "--profile", "dicom-sr", *zone)
        resources = resources_of(out)  # HL7's R5 package
        graph = graph_of(resources)
        bundle = json.loads(out)
        urls = {e["fullUrl"] for e in bundle["entry"]}
        assert invariant_failures(bundle) == [], path  # bdl-*: the graph's Bundle
        assert sum(r["resourceType"] == "DiagnosticReport" for r in resources) == 1, path
        for res in resources:
            where = f"{path.name}: {res['resourceType']}/{res['id']}"
            observation.validate(res)  # the project's own R5 checks
            claimed = (res.get("meta") or {}).get("profile") or []
            if not claimed:
                # only what the IG has no profile for, or what a warning names
                assert res["resourceType"] in ("DiagnosticReport", "ImagingSelection"), where
                if res["resourceType"] == "ImagingSelection":
                    code = res["code"]["coding"][0].get("code")
                    assert code not in ig_codes or any(res["id"] in w for w in warnings), where
            else:
                assert all(u in profiles.sds for u in claimed), where
            assert profiles.check(res, graph) == [], where
            assert invariant_failures(res) == [], where  # HL7 R5's FHIRPath invariants
            for literal in _references(res):
                if literal.startswith("urn:uuid:"):
                    assert literal in urls, f"{where}: {literal} does not resolve"
        kinds = {
            u.rsplit("/", 1)[-1] for r in resources for u in r.get("meta", {}).get("profile", [])
        }
        assert {"dicom-general-equipment"} <= kinds, path
        if path.name in ("sr_tid1500_highdicom_scoord_scoord3d.dcm", "all.dcm"):
            assert {
                "imaging-measurement-group",
                "imaging-measurement",
                "image-region-2d",
                "dicom-participant-person",
                "dicom-sr-finding-site",
            } <= kinds, (path, kinds)
        if path.name == "all.dcm":
            assert {
                "referenced-segment",
                "volume-surface",
                "imaging-qualitative-evaluation",
            } & kinds
            assert "referenced-segment" in kinds, kinds


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [str(node["reference"])] if isinstance(node.get("reference"), str) else []
        for v in node.values():
            out.extend(_references(v))
        return out
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def test_graph_is_deterministic_and_plain_r5_unchanged(run_cli: Any, tmp_path: Path) -> None:
    for path in _inputs(tmp_path):
        first, _ = _convert(run_cli, path, "--profile", "dicom-sr")
        second, _ = _convert(run_cli, path, "--profile", "dicom-sr")
        assert first == second, path
        plain, _ = _convert(run_cli, path)
        default, _ = _convert(run_cli, path, "--profile", "none")
        assert plain == default
        assert "meta" not in plain and "DiagnosticReport" not in plain, path


def test_person_observer_is_a_practitioner_with_the_pn_components(
    run_cli: Any, tmp_path: Path
) -> None:
    (path, *_) = _generated(tmp_path)
    out, _ = _convert(run_cli, path, "--profile", "dicom-sr")
    res = resources_of(out)
    (person,) = [r for r in res if r["resourceType"] == "Practitioner"]
    # PS3.5 6.2.1 components; text the readable form (fhir.humanname)
    assert person["name"] == [{"text": "Rita Reader", "family": "Reader", "given": ["Rita"]}]
    obs = [r for r in res if r["resourceType"] == "Observation"]
    assert all(o["performer"] == [{"reference": f"urn:uuid:{person['id']}"}] for o in obs)


def test_sop_class_is_the_igs_not_r5_cores(run_cli: Any, tmp_path: Path) -> None:
    (path, *_) = _generated(tmp_path)
    out, _ = _convert(run_cli, path, "--profile", "dicom-sr")
    (seg,) = [
        r
        for r in resources_of(out)
        if r.get("meta", {}).get("profile") == [profile_url("referenced-segment")]
    ]
    assert seg["instance"][0]["sopClass"] == {
        "system": "https://dicom.nema.org/medical/dicom/current/output/chtml/part04/sect_B.5",
        "code": "1.2.840.10008.5.1.4.1.1.66.4",
        "display": "Segmentation Storage",
    }


def test_profile_with_snapshot1_is_a_usage_error(run_cli: Any, tmp_path: Path) -> None:
    (path, *_) = _generated(tmp_path)
    code, _, err = run_cli("convert", path, "--profile", "dicom-sr", "--fhir", "r5-snapshot1")
    assert code == 2
    assert "--profile" in err


def test_other_inputs_are_written_as_without_profile(run_cli: Any, tmp_path: Path) -> None:
    seg = realdata("seg_dcmqi_5segments_overlap.dcm")
    with_profile, _ = _convert(run_cli, seg, "--profile", "dicom-sr")
    without, _ = _convert(run_cli, seg)
    assert with_profile == without


def test_profiles_written_are_the_igs(profiles: Profiles) -> None:
    for name in PROFILES:
        assert profile_url(name) in profiles.sds, name


# ---- the checker itself: each rule fails when broken


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """A graph that meets the IG (made by the generated TID 1500 report)."""
    from dicomsel.cli.main import main

    tmp = tmp_path_factory.mktemp("good")
    (path, *_) = _generated(tmp)
    out = tmp / "out.json"
    assert main(["convert", str(path), "--profile", "dicom-sr", "-o", str(out)]) == 0
    return [e["resource"] for e in json.loads(out.read_text())["entry"]]


def _one(resources: list[dict[str, Any]], profile: str) -> dict[str, Any]:
    return next(
        r for r in resources if profile_url(profile) in r.get("meta", {}).get("profile", [])
    )


def _broken(profiles: Profiles, good: list[dict[str, Any]], profile: str, edit: Any) -> list[str]:
    resources = copy.deepcopy(good)
    res = _one(resources, profile)
    assert profiles.check(res, graph_of(resources)) == []
    edit(res, resources)
    return profiles.check(res, graph_of(resources))


def test_checker_min(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    failures = _broken(profiles, good, "imaging-measurement", lambda r, _: r.pop("partOf"))
    assert any("Observation.partOf: 0 found, min 1" in f for f in failures), failures


def test_checker_max(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], _: Any) -> None:
        r["instance"][0]["imageRegion2D"].append(r["instance"][0]["imageRegion2D"][0])

    failures = _broken(profiles, good, "image-region-2d", edit)
    assert any("imageRegion2D: 2 found, max 1" in f for f in failures), failures


def test_checker_pattern(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], _: Any) -> None:
        r["instance"][0]["sopClass"]["system"] = "urn:ietf:rfc:3986"

    failures = _broken(profiles, good, "referenced-segment", edit)
    assert any("segmentationInstance" in f for f in failures), failures

    def display(r: dict[str, Any], _: Any) -> None:
        r["code"]["coding"][0]["display"] = "Image region"

    failures = _broken(profiles, good, "image-region-2d", display)
    assert any("patternCoding" in f for f in failures), failures


def test_checker_choice_type(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], _: Any) -> None:
        r.pop("valueCodeableConcept", None)
        r["valueQuantity"] = {"value": 1}

    failures = _broken(profiles, good, "imaging-measurement-group", edit)
    assert any("valueQuantity is not among the types" in f for f in failures), failures


def test_checker_slice_by_type_and_exists(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], _: Any) -> None:
        r["partOf"][0]["type"] = "Procedure"

    failures = _broken(profiles, good, "imaging-measurement", edit)
    assert any("partOf:imagingStudyRef: 0 found, min 1" in f for f in failures), failures

    def no_region(r: dict[str, Any], _: Any) -> None:
        del r["instance"][0]["imageRegion2D"]

    failures = _broken(profiles, good, "image-region-2d", no_region)
    assert any("instance:imageInstance: 0 found, min 1" in f for f in failures), failures


def test_checker_slice_by_profile_max(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    regions = [
        r for r in good if profile_url("image-region-2d") in r.get("meta", {}).get("profile", [])
    ]
    assert len(regions) >= 2

    def edit(r: dict[str, Any], _: Any) -> None:
        r["derivedFrom"] = [{"reference": f"ImagingSelection/{s['id']}"} for s in regions[:2]]

    failures = _broken(profiles, good, "imaging-measurement", edit)
    assert any("derivedFrom:imageRegion2d: 2 found, max 1" in f for f in failures), failures


def test_checker_slice_by_value(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], _: Any) -> None:
        for i in r["identifier"]:
            if i["type"]["coding"][0]["code"] == "112040":
                i["system"] = "urn:ietf:rfc:3986"

    failures = _broken(profiles, good, "dicom-sr-finding-site", edit)
    assert any("identifier:trackingUid.system: patternUri" in f for f in failures), failures


def test_checker_target_profile(profiles: Profiles, good: list[dict[str, Any]]) -> None:
    def edit(r: dict[str, Any], resources: list[dict[str, Any]]) -> None:
        device = next(d for d in resources if d["id"] == r["device"]["reference"].split(":")[-1])
        device.pop("meta")

    failures = _broken(profiles, good, "imaging-measurement", edit)
    assert any("Observation.device: Device/" in f and "claims none" in f for f in failures)

    def dangling(r: dict[str, Any], _: Any) -> None:
        r["device"] = {"type": "Device", "display": "somewhere"}

    failures = _broken(profiles, good, "imaging-measurement", dangling)
    assert any("does not resolve in the graph" in f for f in failures), failures


def test_checker_unknown_profile(profiles: Profiles) -> None:
    res = {"resourceType": "Device", "id": "x", "meta": {"profile": ["http://example.org/p"]}}
    assert profiles.check(res) == [
        "claims http://example.org/p, which is not among the StructureDefinitions"
    ]


def _sd(url: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "id": url.rsplit("/", 1)[-1],
        "url": url,
        "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
        "differential": {"element": elements},
    }


def test_checker_fixed_binding_closed_slicing(tmp_path: Path) -> None:
    """The rules the IG's differentials do not use, on a StructureDefinition written here."""
    status_cs = HL7_CACHE / "CodeSystem-observation-status.json"
    if not status_cs.exists():
        shared_data(status_cs, "HL7's R5 package cache (tools/fetch_hl7_r5.py)")
    url = "http://example.org/StructureDefinition/t"
    sd = _sd(
        url,
        [
            {"id": "Observation.status", "path": "Observation.status", "fixedCode": "final"},
            {
                "id": "Observation.interpretation",
                "path": "Observation.interpretation",
                "binding": {"strength": "required", "valueSet": "http://example.org/vs"},
            },
            {
                "id": "Observation.method",
                "path": "Observation.method",
                "binding": {"strength": "required", "valueSet": "http://example.org/absent"},
            },
            {
                "id": "Observation.identifier",
                "path": "Observation.identifier",
                "slicing": {
                    "discriminator": [{"type": "value", "path": "system"}],
                    "rules": "closed",
                },
            },
            {"id": "Observation.identifier:a", "path": "Observation.identifier", "sliceName": "a"},
            {
                "id": "Observation.identifier:a.system",
                "path": "Observation.identifier.system",
                "fixedUri": "urn:a",
            },
        ],
    )
    (tmp_path / "StructureDefinition-t.json").write_text(json.dumps(sd))
    vs = {
        "resourceType": "ValueSet",
        "url": "http://example.org/vs",
        "compose": {"include": [{"system": "http://hl7.org/fhir/observation-status"}]},
    }
    (tmp_path / "ValueSet-vs.json").write_text(json.dumps(vs))
    checker = Profiles(tmp_path, [HL7_CACHE])
    ok = {
        "resourceType": "Observation",
        "id": "o",
        "meta": {"profile": [url]},
        "status": "final",
        "identifier": [{"system": "urn:a", "value": "1"}],
        "interpretation": [
            {"coding": [{"system": "http://hl7.org/fhir/observation-status", "code": "final"}]}
        ],
        "method": {"text": "m"},
    }
    assert checker.check(ok) == []
    assert checker.not_checkable == {"Observation.method: http://example.org/absent"}
    bad = copy.deepcopy(ok)
    bad["status"] = "preliminary"
    assert any("fixedCode" in f for f in checker.check(bad))
    bad = copy.deepcopy(ok)
    bad["interpretation"][0]["coding"][0]["code"] = "nonsense"
    assert any("not in http://example.org/vs" in f for f in checker.check(bad))
    bad = copy.deepcopy(ok)
    bad["identifier"].append({"system": "urn:b", "value": "2"})
    assert any("closed slicing" in f for f in checker.check(bad))
