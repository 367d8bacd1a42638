"""Well-formed output always (issue 10, item 3): control characters never reach JSON or XML.

The rule checked is the standards', not the code's: the characters XML 1.0's ``Char``
production excludes (C0 controls other than tab, LF and CR; lone surrogates; U+FFFE,
U+FFFF) are the ones libxml2 refuses, and FHIR R5's ``string`` says the same of
the C0 controls. Inputs carry them in Patient ID, Patient Name, the Key Object
Description, code meanings and SR TEXT items, plus invalid UTF-8 under ISO_IR 192;
every output must validate (HL7's R5 package), parse as XML (lxml) with the narrative
as XHTML, hold none of them, and say which element was cleaned.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pydicom.dataelem import DataElement
from pydicom.tag import Tag

import dicomsel
from dicomsel.fhir import serialise
from dicomsel.fhir.text import FORBIDDEN, clean_string
from dicomsel.fhir.xml import XHTML, dumps, loads, serialise_xml
from dicomsel.pipeline import ConvertOptions

from conftest import resources_of
from kosfiles import basic_kos, invalid_values_allowed, write
from kosgen import uid
from srfiles import Planar, find, save, tid1500

#: One of each: NUL, vertical tab, escape, a non-character; tab/CR/LF and U+FFFD are allowed.
BAD = "A\x00B\x0bC\x1bD\ufffeE"
BAD_CHARS = ("\x00", "\x0b", "\x1b", "\ufffe")
XHTML_DIV = f"{{{XHTML}}}div"


def _no_forbidden(text: str) -> None:
    hits = sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)})
    assert not hits, f"forbidden characters in the output: {hits}"
    for c in BAD_CHARS:  # also as JSON escapes
        assert json.dumps(c)[1:-1] not in text


def _parse_xml(text: str) -> etree._Element:
    root = etree.fromstring(text.encode("utf-8"))  # raises if not well-formed
    divs = root.findall(f".//{XHTML_DIV}")
    for div in divs:  # the narrative, as XHTML in its own namespace
        assert div.getparent() is not None and div.getparent().tag == "{http://hl7.org/fhir}text"
    return root


def _check_divs_json(resources: list[dict[str, Any]]) -> int:
    n = 0
    for r in resources:
        div = (r.get("text") or {}).get("div")
        if div:
            root = etree.fromstring(div.encode("utf-8"))
            assert root.tag == XHTML_DIV
            n += 1
    return n


# ---- the character rule, checked against libxml2 (not against the code)


@pytest.mark.parametrize(
    "cp",
    [*range(0x00, 0x21), 0x7F, 0x85, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF],
)
def test_forbidden_is_what_xml_refuses(cp: int) -> None:
    c = chr(cp)
    try:
        etree.fromstring(f'<a b="&#{cp};">&#{cp};</a>'.encode())
        xml_ok = True
    except etree.XMLSyntaxError:
        xml_ok = False
    assert (FORBIDDEN.search(c) is None) == xml_ok
    cleaned, removed = clean_string(f"x{c}y")
    assert cleaned == ("x" + c + "y" if xml_ok else "xy")
    assert removed == ([] if xml_ok else [f"U+{cp:04X}"])


_EVERY_CHARACTER_CLASS = [
    *range(0x00, 0x21),
    0x5C,  # the backslash JSON escapes
    0x7F,
    0x85,
    0xD7FF,
    0xD800,
    0xDBFF,
    0xDC00,
    0xDFFF,
    0xE000,
    0xFFFD,
    0xFFFE,
    0xFFFF,
    0x10000,
    0x10FFFF,
]


@pytest.mark.parametrize("cp", _EVERY_CHARACTER_CLASS)
@pytest.mark.parametrize("where", ["value", "nested", "list", "key and value"])
def test_clean_resource_finds_every_forbidden_character(cp: int, where: str) -> None:
    """The JSON pre-check of clean_resource never misses what the rule forbids."""
    from dicomsel.fhir.text import clean_resource

    c = chr(cp)
    text = f"a{c}b"
    res: dict[str, Any] = {"resourceType": "ImagingSelection", "id": "x"}
    if where == "value":
        res["note"] = text
    elif where == "nested":
        res["subject"] = {"display": text}
    elif where == "list":
        res["series"] = ["ok", text]
    else:
        res[f"k{c}"] = text
    expected = json.loads(json.dumps(res))
    warnings: list[str] = []
    clean_resource(res, warnings)
    forbidden = FORBIDDEN.search(c) is not None
    assert bool(warnings) == forbidden
    assert json.dumps(res) != json.dumps(expected) if forbidden else res == expected
    assert not any(FORBIDDEN.search(v) for v in _strings(res) if isinstance(v, str))


def test_clean_resource_leaves_a_backslash_alone() -> None:
    """``\\b`` in the JSON is a false alarm of the pre-check: the walk changes nothing."""
    from dicomsel.fhir.text import clean_resource

    res = {"resourceType": "ImagingSelection", "id": "x", "note": "C:\\bin\\f\\u0001"}
    warnings: list[str] = []
    assert clean_resource(res, warnings)["note"] == "C:\\bin\\f\\u0001" and warnings == []


def _strings(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node]


def test_lone_surrogate_removed() -> None:
    cleaned, removed = clean_string("a\ud800b\udfffc")
    assert cleaned == "abc" and removed == ["U+D800", "U+DFFF"]
    cleaned.encode("utf-8")  # would raise with a lone surrogate


# ---- inputs


def _kos_with_controls(folder: Path) -> Path:
    ds = basic_kos(description=f"line one {BAD}\nline two\tend")
    ds.SpecificCharacterSet = "ISO_IR 192"
    with invalid_values_allowed():
        ds.PatientID = f"PID{BAD}"
        ds.PatientName = f"Doe{BAD}^John"
        ds.ConceptNameCodeSequence[0].CodeMeaning = f"Of {BAD} Interest"
    return write(ds, folder, "controls.dcm")


def _kos_invalid_utf8(folder: Path) -> Path:
    ds = basic_kos()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("kos", "bad-utf8")
    ds.SpecificCharacterSet = "ISO_IR 192"
    tag = Tag(0x0010, 0x0020)
    ds[tag] = DataElement(tag, "LO", b"AB\xff\xfe\xc3CD")  # not UTF-8
    return write(ds, folder, "bad-utf8.dcm")


def _sr_with_controls(folder: Path) -> Path:
    ds = tid1500(
        [Planar("POINT", [(1, 2)], tracking_id="Lesion")], name="ctl", charset="ISO_IR 192"
    )
    with invalid_values_allowed():
        ds.PatientID = f"SR{BAD}"
        for it in find(ds, "TEXT"):
            it.TextValue = f"T{BAD}"
        for it in find(ds, "NUM"):
            it.ConceptNameCodeSequence[0].CodeMeaning = f"Diam{BAD}eter"
    return save(ds, folder / "sr-controls.dcm")


def _warned(warnings: list[str], element: str) -> bool:
    return any(element in w and "control character(s) removed" in w for w in warnings)


# ---- the library: dicomsel.convert


@pytest.mark.parametrize("fhir", ["r5", "r5-snapshot1"])
def test_kos_control_characters_convert(tmp_path: Path, fhir: str) -> None:
    path = _kos_with_controls(tmp_path)
    batch = dicomsel.convert([str(path)], ConvertOptions(fhir=fhir))
    (outcome,) = batch.outcomes
    assert outcome.status == "converted", outcome.reason
    warnings = outcome.warnings
    assert _warned(warnings, ".subject.identifier.value"), warnings
    assert _warned(warnings, ".code.coding[0].display"), warnings
    assert _warned(warnings, ".text.div"), warnings
    assert not any("Doe" in w or "PID" in w for w in warnings)  # no PHI in the warnings
    resources = batch.all_resources()
    text = serialise(resources, "bundle")
    _no_forbidden(text)
    assert _check_divs_json(resources) >= 1
    desc = [r["text"]["div"] for r in resources if "text" in r]
    assert all("line one ABCD\ufffdE".replace("\ufffd", "") in d for d in desc)
    if fhir == "r5":
        resources_of(text)  # HL7's R5 package
    xml = serialise_xml(resources, "bundle", fhir)
    _no_forbidden(xml)
    _parse_xml(xml)
    assert loads(xml, fhir)["resourceType"] == "Bundle"


def test_kos_description_round_trips_clean(tmp_path: Path) -> None:
    path = _kos_with_controls(tmp_path)
    batch = dicomsel.convert([str(path)])
    res = next(r for r in batch.resources if r.get("text"))
    back = dicomsel.fhir.from_imaging_selection(res)
    assert back.description == "line one ABCDE\nline two\tend"


def test_invalid_utf8_patient_id(tmp_path: Path) -> None:
    path = _kos_invalid_utf8(tmp_path)
    batch = dicomsel.convert([str(path)])
    (outcome,) = batch.outcomes
    assert outcome.status == "converted", outcome.reason
    assert any("replac" in w.lower() for w in outcome.warnings), outcome.warnings
    resources = batch.all_resources()
    ids = {r["subject"]["identifier"]["value"] for r in resources if "subject" in r}
    (pid,) = ids
    assert pid.startswith("AB") and pid.endswith("CD") and "\ufffd" in pid
    text = serialise(resources, "bundle")
    text.encode("utf-8")
    resources_of(text)
    _parse_xml(serialise_xml(resources, "bundle"))


def test_sr_control_characters_convert(tmp_path: Path) -> None:
    path = _sr_with_controls(tmp_path)
    batch = dicomsel.convert([str(path)])
    (outcome,) = batch.outcomes
    assert outcome.status == "converted", outcome.reason
    obs = [r for r in batch.resources if r["resourceType"] == "Observation"]
    assert obs
    assert _warned(outcome.warnings, "ImagingSelection/"), outcome.warnings
    assert any(
        w.startswith("Observation/") and "control character(s) removed" in w
        for w in outcome.warnings
    ), outcome.warnings
    text = serialise(batch.all_resources(), "bundle")
    _no_forbidden(text)
    resources_of(text)
    xml = serialise_xml(batch.all_resources(), "transaction")
    _no_forbidden(xml)
    _parse_xml(xml)


# ---- the CLI


@pytest.mark.parametrize("fmt", ["bundle", "transaction"])
@pytest.mark.parametrize("fhir", ["r5", "r5-snapshot1"])
def test_cli_xml_with_control_characters(tmp_path: Path, run_cli: Any, fmt: str, fhir: str) -> None:
    kos = _kos_with_controls(tmp_path)
    sr = _sr_with_controls(tmp_path)
    bad = _kos_invalid_utf8(tmp_path / "u")
    for xml in (False, True):
        argv = ["convert", kos, sr, bad, "--format", fmt, "--fhir", fhir]
        code, out, err = run_cli(*argv, *(["--xml"] if xml else []))
        assert code == 0, err
        assert "internal error" not in err
        assert "subject.identifier.value: 4 control character(s) removed" in err, err
        assert ".text.div: " in err
        _no_forbidden(out)
        if xml:
            _parse_xml(out)
        elif fhir == "r5":
            resources_of(out)


def test_cli_report_names_the_element(tmp_path: Path, run_cli: Any) -> None:
    kos = _kos_with_controls(tmp_path)
    report = tmp_path / "report.json"
    code, _, err = run_cli("convert", kos, "--xml", "-o", tmp_path / "o.xml", "--report", report)
    assert code == 0, err
    _parse_xml((tmp_path / "o.xml").read_text(encoding="utf-8"))
    entries = json.loads(report.read_text(encoding="utf-8"))
    entries = entries.get("outcomes", entries) if isinstance(entries, dict) else entries
    text = json.dumps(entries)
    assert ".code.coding[0].display: 4 control character(s) removed" in text


# ---- the XML writer on its own: a resource no writer cleaned


def test_xml_writer_removes_what_xml_cannot_hold(caplog: pytest.LogCaptureFixture) -> None:
    res = {
        "resourceType": "Endpoint",
        "id": "ep1",
        "text": {
            "status": "additional",
            "div": f'<div xmlns="{XHTML}"><p>x{BAD}y</p></div>',
        },
        "status": "active",
        "connectionType": [{"coding": [{"system": "s", "code": f"c{BAD}"}]}],
        "name": f"N{BAD}\ud800",
        "payload": [{"mimeType": ["application/dicom"]}],
        "address": "https://example.org/",
    }
    warnings: list[str] = []
    xml = dumps(json.loads(json.dumps(res)), "r5", warnings)
    _no_forbidden(xml)
    root = _parse_xml(xml)
    assert root.find(f".//{XHTML_DIV}") is not None
    assert warnings == [
        "FHIR XML of Endpoint/ep1: 13 control character(s) removed "
        "(U+0000, U+000B, U+001B, U+FFFE, U+D800): not allowed in a FHIR string or in XML"
    ]
    with caplog.at_level(logging.WARNING, logger="dicomsel"):
        dumps(res)
    assert any("FHIR XML of Endpoint/ep1" in r.getMessage() for r in caplog.records)


# ---- resources no writer made: serialise and fhir-convert's pass-through


def test_serialise_cleans_what_no_writer_cleaned(caplog: pytest.LogCaptureFixture) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"text": f"Doe{BAD}\ud800"}]}
    for fmt in ("bundle", "transaction", "ndjson"):
        with caplog.at_level(logging.WARNING, logger="dicomsel"):
            text = serialise([patient], fmt)
        text.encode("utf-8")  # a lone surrogate would raise here
        _no_forbidden(text)
        assert "DoeABCDE" in text
        assert any(
            "Patient/p1.name[0].text: 5 control character(s) removed" in r.getMessage()
            for r in caplog.records
        )
        caplog.clear()
    assert patient["name"][0]["text"] == f"Doe{BAD}\ud800"  # the caller's dict is left alone


@pytest.mark.parametrize("xml", [False, True])
def test_fhir_convert_pass_through_with_control_characters(
    tmp_path: Path, run_cli: Any, xml: bool
) -> None:
    kos = _kos_with_controls(tmp_path)
    batch = dicomsel.convert([str(kos)])
    resources = batch.all_resources()
    # an input from elsewhere: control characters in a Patient and in a selection
    resources.append(
        {"resourceType": "Patient", "id": "p1", "name": [{"text": f"Doe{BAD}"}], "gender": "other"}
    )
    resources[0]["code"]["coding"][0]["display"] = f"Key{BAD}"
    src = tmp_path / "in.ndjson"
    src.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="ascii")
    assert "\\u0000" in src.read_text()
    code, out, err = run_cli("fhir-convert", src, "--to", "r5", *(["--xml"] if xml else []))
    assert code == 0, err
    assert "internal error" not in err
    assert "control character(s) removed" in err
    _no_forbidden(out)
    if xml:
        _parse_xml(out)
    else:
        resources_of(out)
