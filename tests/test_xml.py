"""FHIR XML: both flavours, checked against fhir.resources' own XML round trip for R5."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dicomsel.errors import InvalidInputError
from dicomsel.fhir import r5, read_fhir, snapshot1, xml

from conftest import GOLDEN
from strategies import selections

R5_GOLDEN = sorted(GOLDEN.glob("*.r5.json"))
S1_GOLDEN = sorted(GOLDEN.glob("*.s1.json"))


def _fhir_resources_json(text: str, rtype: str = "Bundle") -> dict[str, Any]:
    """fhir.resources' reading of our XML, as JSON (its div keeps the element's tail)."""
    from fhir.resources import get_fhir_model_class

    data: dict[str, Any] = (
        get_fhir_model_class(rtype).model_validate_xml(text.encode()).model_dump(mode="json")
    )
    return _strip_div(data)


def _strip_div(value: Any) -> Any:
    """Narrative divs in canonical XML (fhir.resources writes character references)."""
    if isinstance(value, dict):
        return {
            k: ET.canonicalize(v.strip()) if k == "div" else _strip_div(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_strip_div(v) for v in value]
    return value


def _as_fhir_resources(doc: dict[str, Any], rtype: str = "Bundle") -> dict[str, Any]:
    from fhir.resources import get_fhir_model_class

    data: dict[str, Any] = get_fhir_model_class(rtype).model_validate(doc).model_dump(mode="json")
    return _strip_div(data)  # type: ignore[no-any-return]


@pytest.mark.parametrize("golden", R5_GOLDEN, ids=lambda p: p.name)
def test_r5_golden_round_trip_and_fhir_resources(golden: Path) -> None:
    doc = json.loads(golden.read_text("utf-8"))
    text = xml.dumps(doc)
    assert xml.loads(text) == doc
    assert _fhir_resources_json(text) == _as_fhir_resources(doc)


@pytest.mark.parametrize("golden", S1_GOLDEN, ids=lambda p: p.name)
def test_snapshot1_golden_round_trip(golden: Path) -> None:
    doc = json.loads(golden.read_text("utf-8"))
    text = xml.dumps(doc, "r5-snapshot1")
    assert xml.loads(text, "r5-snapshot1") == doc
    root = ET.fromstring(text)
    assert root.tag == "{http://hl7.org/fhir}Bundle"


def test_rules_of_the_xml_form() -> None:
    res = {
        "resourceType": "ImagingSelection",
        "id": "x",
        "instance": [
            {
                "id": "i1",
                "uid": "urn:oid:1.2.3.4",
                "frameList": "1,2",
                "observationUid": ["urn:oid:1.2.5", "urn:oid:1.2.6"],
            }
        ],
        "code": {"text": "a & <b>"},  # out of order in JSON on purpose
        "seriesUid": "urn:oid:1.2.3",
        "_seriesUid": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]},
        "imageRegion": {"regionType": "POINT", "coordinateType": "2d", "coordinates": [1.5, 2]},
    }
    text = xml.dumps(res, "r5-snapshot1")
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ImagingSelection xmlns="http://hl7.org/fhir">\n'
        '  <id value="x"/>\n'
        "  <code>\n"
        '    <text value="a &amp; &lt;b&gt;"/>\n'
        "  </code>\n"
        '  <seriesUid value="urn:oid:1.2.3">\n'
        '    <extension url="http://example.org/x">\n'
        '      <valueString value="y"/>\n'
        "    </extension>\n"
        "  </seriesUid>\n"
        '  <instance id="i1">\n'
        '    <uid value="urn:oid:1.2.3.4"/>\n'
        '    <frameList value="1,2"/>\n'
        '    <observationUid value="urn:oid:1.2.5"/>\n'
        '    <observationUid value="urn:oid:1.2.6"/>\n'
        "  </instance>\n"
        "  <imageRegion>\n"
        '    <regionType value="POINT"/>\n'
        '    <coordinateType value="2d"/>\n'
        '    <coordinates value="1.5"/>\n'
        '    <coordinates value="2"/>\n'
        "  </imageRegion>\n"
        "</ImagingSelection>\n"
    )
    assert xml.loads(text, "r5-snapshot1") == res


def test_unknown_elements_and_bad_xml() -> None:
    with pytest.raises(InvalidInputError, match="not defined"):
        xml.dumps({"resourceType": "ImagingSelection", "frameList": "1"})
    with pytest.raises(InvalidInputError, match="well-formed"):
        xml.loads("<ImagingSelection")
    bad = '<ImagingSelection xmlns="http://hl7.org/fhir"><subset value="1"/></ImagingSelection>'
    with pytest.raises(InvalidInputError, match=r"ImagingSelection\.subset"):
        xml.loads(bad, "r5-snapshot1")


def test_cli_xml_and_usage(run_cli: Any, tmp_path: Path) -> None:
    from conftest import SAMPLES

    src = SAMPLES / "kos_frames_segments.dcm"
    for flavour in ("r5", "r5-snapshot1"):
        code, out, err = run_cli("convert", src, "--fhir", flavour, "--xml")
        assert code == 0, err
        doc = xml.loads(out, flavour)
        code, js, _ = run_cli("convert", src, "--fhir", flavour)
        assert doc == json.loads(js)
    code, out, err = run_cli("convert", src, "--xml", "--format", "ndjson")
    assert code == 2 and not out and "NDJSON has no XML form" in err


# ---- property: r5 -> XML -> r5


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sel=selections())
def test_property_r5_xml_r5(sel: Any) -> None:
    out = r5.write([sel])
    resources = out.resources + list(out.shared.values())
    for res in resources:
        text = xml.dumps(res)
        assert xml.loads(text) == res
        rtype = res["resourceType"]
        assert _fhir_resources_json(text, rtype) == _as_fhir_resources(res, rtype)
    ndjson = "\n".join(json.dumps(r) for r in resources)
    via_xml = "\n".join(json.dumps(xml.loads(xml.dumps(r))) for r in resources)
    assert read_fhir("a", text=via_xml).selections == read_fhir("a", text=ndjson).selections


@settings(max_examples=100, derandomize=True, deadline=None)
@given(sel=selections())
def test_property_snapshot1_xml(sel: Any) -> None:
    out = snapshot1.write([sel])
    for res in out.resources:
        assert xml.loads(xml.dumps(res, "r5-snapshot1"), "r5-snapshot1") == res
