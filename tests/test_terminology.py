"""Terminology tables: coding schemes, SOP class names, region types."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dicomsel import model, terminology
from dicomsel.fhir import r5
from dicomsel.uid import is_valid_uid

from conftest import ROOT


@pytest.mark.parametrize(
    ("designator", "system"),
    [
        ("DCM", "http://dicom.nema.org/resources/ontology/DCM"),
        ("SCT", "http://snomed.info/sct"),
        ("SRT", "http://snomed.info/srt"),
        ("LN", "http://loinc.org"),
        ("UCUM", "http://unitsofmeasure.org"),
        ("RADLEX", "http://radlex.org"),
        ("NCIt", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"),
        ("UMLS", "http://terminology.hl7.org/CodeSystem/umls"),
        ("FMA", "urn:oid:2.16.840.1.113883.6.119"),
        ("MSH", "https://www.nlm.nih.gov/mesh"),
        ("ICDO3", "http://terminology.hl7.org/CodeSystem/icd-o-3"),
    ],
)
def test_designator_and_system_both_ways(designator: str, system: str) -> None:
    assert terminology.system_for_scheme(designator) == system
    assert terminology.scheme_for_system(system) == designator


@pytest.mark.parametrize(
    ("system", "designator"),
    [
        ("http://www.radlex.org", "RADLEX"),
        ("http://www.nlm.nih.gov/research/umls", "UMLS"),
        ("http://purl.org/sig/ont/fma", "FMA"),
        ("urn:oid:2.16.840.1.113883.6.256", "RADLEX"),
        ("urn:oid:1.2.3.4", "1.2.3.4"),
    ],
)
def test_aliases_and_oids_are_read(system: str, designator: str) -> None:
    assert terminology.scheme_for_system(system) == designator


def test_legacy_snomed_designators_read_back_as_srt() -> None:
    for legacy in ("SNM3", "99SDM"):
        system = terminology.system_for_scheme(legacy)
        assert system == "http://snomed.info/srt"
        assert terminology.scheme_for_system(system) == "SRT"
    assert terminology.system_for_scheme("99PRIVATE") is None
    assert terminology.scheme_for_system("http://example.org/unknown") is None


def test_every_scheme_row_is_well_formed() -> None:
    text = (ROOT / "src/dicomsel/data/coding_schemes.json").read_text("utf-8")
    for designator, row in json.loads(text)["schemes"].items():
        assert row["system"] and row["source"], designator
        if row.get("oid"):
            assert is_valid_uid(row["oid"]), designator
        if row["system"].startswith("urn:oid:"):
            assert row["system"] == f"urn:oid:{row['oid']}", designator


def test_sop_class_names() -> None:
    assert terminology.sop_class_name("1.2.840.10008.5.1.4.1.1.88.59") == (
        "Key Object Selection Document Storage"
    )
    assert terminology.sop_class_name("1.2.840.10008.1.2") is None  # a transfer syntax
    assert terminology.sop_class_name("not a uid") is None


@pytest.mark.parametrize(
    ("tool", "table"),
    [
        ("gen_sop_classes.py", "sop_classes.json"),
        ("gen_srt_sct.py", "srt_sct.json"),
        ("gen_r5_structure.py", "r5_structure.json"),
    ],
)
def test_generated_table_is_current(tool: str, table: str) -> None:
    """The committed table is what its generator makes from pydicom's copy of the standard."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / tool), "--check"], env=env, check=False
    )
    assert proc.returncode == 0, f"data/{table} is stale: run tools/{tool}"


def test_region_table_matches_the_model() -> None:
    """The table's point counts are the model's (PS3.3 SCOORD / SCOORD3D rules)."""
    for row in terminology.region_types():
        rt = (model.RegionType2D if row.dims == 2 else model.RegionType3D)(row.type)
        table = model._POINTS_2D if row.dims == 2 else model._POINTS_3D
        assert table[rt] == row.points, row  # type: ignore[index]
    kinds = {(r.dims, r.type) for r in terminology.region_types()}
    assert kinds == {(2, t.value) for t in model.RegionType2D} | {
        (3, t.value) for t in model.RegionType3D
    }


def test_region_codes_match_hl7_code_systems() -> None:
    """R5's codes are those of HL7's CodeSystems (when the HL7 package is cached)."""
    from hl7_r5 import HL7_CACHE

    for dims, name in ((2, "2dgraphictype"), (3, "3dgraphictype")):
        path = HL7_CACHE / f"CodeSystem-imagingselection-{name}.json"
        if not path.exists():
            if os.environ.get("CI"):
                pytest.fail(f"{path} missing in CI")
            pytest.skip(f"{path} missing: run tools/fetch_hl7_r5.py")
        codes = {c["code"] for c in json.loads(path.read_text("utf-8"))["concept"]}
        assert terminology.r5_codes(dims) == codes
    assert terminology.r5_codes(2) == r5.REGION_2D_CODES
    assert terminology.snapshot1_codes() == {
        "POINT",
        "MULTIPOINT",
        "POLYLINE",
        "POLYGON",
        "ELLIPSE",
        "ELLIPSOID",
    }


def test_snapshot1_region_reading() -> None:
    assert terminology.snapshot1_region(2, "ELLIPSE").type == "ellipse"  # type: ignore[union-attr]
    assert terminology.snapshot1_region(2, "POLYGON").type == "polyline"  # type: ignore[union-attr]
    assert terminology.snapshot1_region(2, "ELLIPSOID") is None
    assert terminology.snapshot1_region(3, "POLYGON").type == "polygon"  # type: ignore[union-attr]
    row = terminology.region_type(2, "ellipse")
    assert row.fits(8) is None and "exactly 4" in (row.fits(6) or "")
