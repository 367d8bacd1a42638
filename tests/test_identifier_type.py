"""Identifier types: Identifier Type Code (0040,0035) of the Issuer of Patient ID Qualifiers
Sequence (PS3.3 C.7.1.1: HL7 v2 table 0203 Defined Terms) and the dicom-sr IG's own
identifier type code system."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomsel import read_dataset
from dicomsel.fhir import r5
from dicomsel.fhir.r5.read import from_imaging_selection

from conftest import SHARED, realdata, resources_of
from srfiles import add_observation_uids

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
IG = SHARED / "hl7-dicom-sr-ig"
SR = "sr_tid1500_highdicom_scoord_scoord3d.dcm"


def _with_qualifiers(type_code: str | None) -> Dataset:
    ds = pydicom.dcmread(realdata(SR))
    q = Dataset()
    q.UniversalEntityID, q.UniversalEntityIDType = "1.2.826.0.1.3680043.10.1300.99", "ISO"
    if type_code is not None:
        q.IdentifierTypeCode = type_code
    ds.IssuerOfPatientIDQualifiersSequence = [q]
    buf = io.BytesIO()
    ds.save_as(buf)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


@pytest.mark.realdata
def test_identifier_type_code_is_the_subject_identifier_type() -> None:
    """PS3.3 C.7.1.1: Identifier Type Code MR (HL7 v2 table 0203) -> subject.identifier.type."""
    ds = _with_qualifiers("MR")
    result = read_dataset(ds, options=None)
    out = r5.write(result.selections)
    res = next(r for r in out.resources if r["resourceType"] == "ImagingSelection")
    ident = res["subject"]["identifier"]
    assert ident["type"] == {
        "coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]
    }
    assert ident["system"] == "urn:oid:1.2.826.0.1.3680043.10.1300.99"
    assert ident["value"] == ds.PatientID
    back = from_imaging_selection(res)
    assert back.subject == result.selections[0].subject  # read back as it was


@pytest.mark.realdata
def test_identifier_type_code_outside_table_0203_is_reported() -> None:
    result = read_dataset(_with_qualifiers("MEDICAL_RECORD"), options=None)
    assert any("IdentifierTypeCode" in w and "left out" in w for w in result.warnings)
    subject = result.selections[0].subject
    assert subject is not None and subject.identifier is not None
    assert subject.identifier.kind is None


@pytest.mark.realdata
def test_no_identifier_type_code_no_type() -> None:
    result = read_dataset(_with_qualifiers(None), options=None)
    out = r5.write(result.selections)
    res = next(r for r in out.resources if r["resourceType"] == "ImagingSelection")
    assert "type" not in res["subject"]["identifier"]


def _ig_codes() -> dict[str, str]:
    path = IG / "CodeSystem-dicom-identifier-type.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    cs = json.loads(path.read_text())
    return {c["code"]: c["display"] for c in cs["concept"]} | {"": cs["url"]}


def _types(node: Any) -> list[dict[str, Any]]:
    """Every Identifier.type coding in a resource."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "value" in node and isinstance(node.get("type"), dict):
            out.extend(node["type"].get("coding") or [])
        for v in node.values():
            out.extend(_types(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_types(v))
    return out


@pytest.mark.realdata
def test_ig_identifier_types_written_are_the_code_systems(run_cli: Any, tmp_path: Path) -> None:
    """Every identifier type dicomsel writes in the IG's code system is one of its concepts,
    with its display (CodeSystem-dicom-identifier-type.json)."""
    codes = _ig_codes()
    url = codes.pop("")
    ds = pydicom.dcmread(realdata(SR))
    add_observation_uids(ds)
    path = tmp_path / "sr_obs_uids.dcm"
    ds.save_as(path)
    code, out, err = run_cli("convert", path, "--format", "ndjson")
    assert code == 0, err
    seen = [c for r in resources_of(out) for c in _types(r) if c.get("system") == url]
    assert seen, "no identifier typed with the IG's code system"
    for c in seen:
        assert c["code"] in codes, c
        assert c["display"] == codes[c["code"]], c
