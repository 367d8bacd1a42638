"""FHIRPath invariants of HL7's R5 package on every resource dicomsel writes (issue 13).

The evaluator is :mod:`fhirpath_invariants`; HL7's R5 package is the cache of
tools/fetch_hl7_r5.py (skipped without it, failed under CI).  What dicomsel writes today:
ImagingSelection, Observation, Endpoint and the collection / transaction Bundles around them.
R5's ImagingSelection has no invariant of its own (only dom-*, ele-1 and ext-1): that a 3D
region needs frameOfReferenceUid is prose in R5, not an invariant, so it is not checked here.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fhirpath_invariants as fi

from conftest import SAMPLES, realdata, realdata_files, resources_of

REAL_FILES = realdata_files("") or [
    "ann_highdicom_microscopy_bulk_annotations.dcm",
    "enhanced_mr_bruker_4frames.dcm",
    "gsps_softneta_ellipse_measurement.dcm",
    "gsps_softneta_ellipse_measurement_image.dcm",
    "ko_ihe_xdsi_manifest_mr_36inst.dcm",
    "ko_ihe_xdsi_manifest_pet_10inst.dcm",
    "rtstruct_dicompyler_10rois.dcm",
    "seg_dcmqi_5segments_overlap.dcm",
    "seg_tcia_tcga_gbm_3segments.dcm",
    "sr_comprehensive_dcmtk_dscope_nested.dcm",
    "sr_enhanced_deflated_dcm4che.dcm",
    "sr_tid1500_dcmjs_small_scoord.dcm",
    "sr_tid1500_highdicom_scoord_scoord3d.dcm",
]
REAL_INPUTS = [*REAL_FILES, "ko_ihe_xdsi_manifest_pet_10inst_images", ""]  # "": the folder
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.dcm"))

# Keys our output reaches: if the walker stops reaching one, the tests below prove less.
EXPECTED_ON_OUR_OUTPUT = {
    "ele-1",  # every element
    "dom-2", "dom-3", "dom-4", "dom-5", "dom-6",  # DomainResource
    "bdl-1", "bdl-2", "bdl-3a", "bdl-3c", "bdl-5", "bdl-7", "bdl-8", "bdl-15",  # Bundle
    "cod-1",  # Coding: sopClass, code, category ...
    "ref-1", "ref-2",  # Reference: subject, derivedFrom, focus, endpoint ...
    "ident-1",  # Identifier
    "qty-3",  # Observation.valueQuantity
    "obs-6", "obs-7", "obs-8",  # Observation
    "txt-1", "txt-2",  # narrative, by hand
}  # fmt: skip


def _convert(run_cli: Any, path: Path, fmt: str) -> dict[str, Any]:
    code, out, err = run_cli("convert", path, "--format", fmt)
    assert code == 0, err
    bundle = json.loads(out)
    resources_of(out)  # schema, cardinalities and bindings first
    return bundle


def _assert_clean(bundle: dict[str, Any], evaluated: Counter[str] | None = None) -> None:
    report = fi.invariant_report(bundle)
    assert report.problems == [], "\n".join(map(str, report.problems))
    assert [str(f) for f in report.failures] == []
    # each entry on its own (as an NDJSON line or a PUT body is checked by a server)
    for entry in bundle["entry"]:
        assert fi.invariant_failures(entry["resource"]) == []
    if evaluated is not None:
        evaluated.update(report.evaluated)


def _check_input(run_cli: Any, path: Path) -> Counter[str]:
    evaluated: Counter[str] = Counter()
    for fmt in ("bundle", "transaction"):
        _assert_clean(_convert(run_cli, path, fmt), evaluated)
    return evaluated


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_INPUTS)
def test_real_output_meets_r5_invariants(name: str, run_cli: Any) -> None:
    path = realdata(name) if name else realdata("README.md").parent
    _check_input(run_cli, path)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_output_meets_r5_invariants(name: str, run_cli: Any) -> None:
    _check_input(run_cli, SAMPLES / name)


@pytest.mark.realdata
def test_our_output_reaches_the_invariants_of_its_types(run_cli: Any) -> None:
    evaluated: Counter[str] = Counter()
    for name in (
        "sr_tid1500_highdicom_scoord_scoord3d.dcm",
        "ko_ihe_xdsi_manifest_mr_36inst.dcm",
        "gsps_softneta_ellipse_measurement.dcm",
    ):
        evaluated += _check_input(run_cli, realdata(name))
    evaluated += _check_input(run_cli, SAMPLES / "kos_two_studies.dcm")
    assert EXPECTED_ON_OUR_OUTPUT - set(evaluated) == set()


# -- the engine's reach -------------------------------------------------------------------------


def _package_invariants() -> list[tuple[str, str, fi.Invariant]]:
    return list(fi.evaluator().definitions.invariants())


def test_every_expression_is_evaluable_or_skipped() -> None:
    """No invariant falls through: fhirpathpy parses it and has all its functions, or SKIPPED."""
    known = fi.engine_functions()
    unknown: list[str] = []
    for type_name, path, inv in _package_invariants():
        if inv.key in fi.SKIPPED:
            continue
        try:
            missing = fi.functions_of(inv.expression) - known
            variables = fi.variables_of(inv.expression) - fi.ENVIRONMENT
        except Exception as exc:  # the parser's own error
            unknown.append(f"{inv.key} ({type_name} {path}): does not parse: {exc!r}")
            continue
        if missing or variables:
            unknown.append(f"{inv.key} ({path}): needs {sorted(missing | variables)}")
    assert unknown == []


def test_skipped_invariants_are_those_the_engine_cannot_evaluate() -> None:
    """Each SKIPPED key is in the package and still beyond fhirpathpy: the list stays short."""
    known = fi.engine_functions()
    by_key = {inv.key: inv for _, _, inv in _package_invariants()}
    assert set(fi.SKIPPED) <= set(by_key)
    for key in fi.SKIPPED:
        try:
            beyond = bool(fi.functions_of(by_key[key].expression) - known)
        except Exception:
            beyond = True
        assert beyond, f"{key} is evaluable by fhirpathpy now: take it off SKIPPED"
    assert set(fi.HAND_CHECKS) <= set(fi.SKIPPED)


def test_hl7_examples_meet_their_invariants() -> None:
    """HL7's own R5 examples: every expression evaluates without an engine error, none fails."""
    cache = fi.evaluator().definitions
    examples = sorted((fi.require_r5_validator().cache / "examples").glob("*.json"))
    assert len(examples) > 50
    evaluated: Counter[str] = Counter()
    for path in examples:
        report = fi.invariant_report(json.loads(path.read_text(encoding="utf-8")))
        evaluated.update(report.evaluated)
        problems = [
            p for p in report.problems if "no cached R5 StructureDefinition" not in p.message
        ]
        assert problems == [], path.name
        assert report.failures == [], path.name
    # the examples reach more than our output does: resolve(), Period, contained references
    assert {"dgr-1", "obs-9", "per-1", "obs-3", "ext-1", "cpt-2"} <= set(evaluated)
    assert cache is fi.evaluator().definitions  # parsed and compiled once, then cached


def test_an_engine_error_is_reported_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    ev = fi.evaluator()
    ref_2 = next(inv for _, _, inv in _package_invariants() if inv.key == "ref-2")

    def broken(*_: Any) -> list[Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(ev._compiled, ref_2.expression, broken)
    failures = fi.invariant_failures(_endpoint_with_reference())
    assert any(
        f.startswith("ref-2 at Endpoint.managingOrganization: fhirpathpy cannot") for f in failures
    )


def _endpoint_with_reference() -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": [{"text": "DICOMweb"}],
        "address": "https://pacs.example/dicomweb",
        "managingOrganization": {"display": "Radiology"},
    }


# -- broken resources fail with the expected key -----------------------------------------------


@pytest.fixture(scope="module")
def produced() -> dict[str, Any]:
    """A real collection Bundle of dicomsel (SR: ImagingSelections and Observations)."""
    from dicomsel.cli.main import main

    src = realdata("sr_tid1500_dcmjs_small_scoord.dcm")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["convert", str(src)]) == 0
    return dict(json.loads(out.getvalue()))


def _first(bundle: dict[str, Any], rtype: str, key: str | None = None) -> dict[str, Any]:
    return next(
        copy.deepcopy(e["resource"])
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == rtype and (key is None or key in e["resource"])
    )


def _keys(failures: list[str]) -> set[str]:
    return {f.split(" ", 1)[0] for f in failures}


def test_observation_value_and_data_absent_reason_fails_obs_6(produced: dict[str, Any]) -> None:
    obs = _first(produced, "Observation", "valueQuantity")
    assert fi.invariant_failures(obs) == []
    obs["dataAbsentReason"] = {"text": "not measured"}
    assert _keys(fi.invariant_failures(obs)) == {"obs-6"}


def test_quantity_code_without_system_fails_qty_3(produced: dict[str, Any]) -> None:
    obs = _first(produced, "Observation", "valueQuantity")
    del obs["valueQuantity"]["system"]
    assert _keys(fi.invariant_failures(obs)) == {"qty-3"}


def test_reference_with_nothing_to_refer_by_fails_ref_2(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    sel["subject"] = {"type": "Patient"}
    failures = fi.invariant_failures(sel)
    assert _keys(failures) == {"ref-2"}
    assert failures[0].startswith("ref-2 at ImagingSelection.subject: ")


def test_local_reference_without_contained_fails_ref_1(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    sel["subject"] = {"reference": "#patient"}
    assert _keys(fi.invariant_failures(sel)) == {"ref-1"}
    endpoint = {"resourceType": "Endpoint", "id": "patient", "status": "active",
                "connectionType": [{"text": "x"}], "address": "x"}  # fmt: skip
    sel["contained"] = [*sel.get("contained", []), endpoint]  # beside a performer's Practitioner
    assert fi.invariant_failures(sel) == []


def test_contained_resource_nobody_refers_to_fails_dom_3(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    sel["contained"] = [*sel.get("contained", []), _endpoint_with_reference() | {"id": "ep"}]
    assert _keys(fi.invariant_failures(sel)) == {"dom-3"}


def test_coding_with_display_and_no_code_warns_cod_1(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    assert fi.invariant_warnings(sel) == [] or _keys(fi.invariant_warnings(sel)) == {"dom-6"}
    del sel["instance"][0]["sopClass"]["code"]
    assert fi.invariant_failures(sel) == []
    warnings = fi.invariant_warnings(sel)
    assert "cod-1" in _keys(warnings)
    assert any(w.startswith("cod-1 at ImagingSelection.instance[0].sopClass: ") for w in warnings)


def test_empty_element_fails_ele_1(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    del sel["status"]
    sel["_status"] = {"id": "s1"}  # no value, and an id alone is no content
    assert _keys(fi.invariant_failures(sel)) == {"ele-1"}
    sel["_status"] = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    assert fi.invariant_failures(sel) == []


def test_extension_with_value_and_extensions_fails_ext_1(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    inner = [{"url": "z", "valueInteger": 1}]
    sel["instance"][0]["extension"] = [
        {"url": "http://example.org/x", "valueString": "y", "extension": inner}
    ]
    assert _keys(fi.invariant_failures(sel)) == {"ext-1"}


def test_bundle_duplicate_full_url_fails_bdl_7(produced: dict[str, Any]) -> None:
    bundle = copy.deepcopy(produced)
    assert fi.invariant_failures(bundle) == []
    bundle["entry"][1]["fullUrl"] = bundle["entry"][0]["fullUrl"]
    assert _keys(fi.invariant_failures(bundle)) == {"bdl-7"}


def test_bundle_versioned_full_url_fails_bdl_8(produced: dict[str, Any]) -> None:
    bundle = copy.deepcopy(produced)
    bundle["entry"][0]["fullUrl"] += "/_history/1"
    assert _keys(fi.invariant_failures(bundle)) == {"bdl-8"}


def test_transaction_entry_without_request_fails_bdl_3c(produced: dict[str, Any]) -> None:
    bundle = copy.deepcopy(produced)
    bundle["type"] = "transaction"
    assert _keys(fi.invariant_failures(bundle)) == {"bdl-3c"}


def test_collection_with_total_fails_bdl_1(produced: dict[str, Any]) -> None:
    bundle = copy.deepcopy(produced) | {"total": len(produced["entry"])}
    assert _keys(fi.invariant_failures(bundle)) == {"bdl-1"}


def test_narrative_rules_checked_by_hand(produced: dict[str, Any]) -> None:
    obs = _first(produced, "Observation")
    div = '<div xmlns="http://www.w3.org/1999/xhtml">{}</div>'
    obs["text"] = {"status": "generated", "div": div.format("<p>Mean: 3 mm</p>")}
    assert fi.invariant_failures(obs) == []
    obs["text"]["div"] = div.format('<p onclick="x()">Mean</p>')
    assert _keys(fi.invariant_failures(obs)) == {"txt-1"}
    obs["text"]["div"] = div.format("<script/>")
    assert _keys(fi.invariant_failures(obs)) == {"txt-1", "txt-2"}
    obs["text"]["div"] = div.format("<p> <br/> </p>")
    assert _keys(fi.invariant_failures(obs)) == {"txt-2"}


def test_period_end_before_start_checked_by_hand(produced: dict[str, Any]) -> None:
    obs = _first(produced, "Observation")
    obs["effectivePeriod"] = {"start": "2024-03-01T10:00:00+01:00", "end": "2024-03-01T09:30:00Z"}
    assert fi.invariant_failures(obs) == []  # 09:00Z before 09:30Z
    obs["effectivePeriod"]["end"] = "2024-03-01T08:30:00Z"
    assert _keys(fi.invariant_failures(obs)) == {"per-1"}
    obs["effectivePeriod"] = {"start": "2024-03", "end": "2024-03-01"}  # overlapping precisions
    assert fi.invariant_failures(obs) == []
    obs["effectivePeriod"] = {"start": "2024-03-02", "end": "2024-03-01"}
    assert _keys(fi.invariant_failures(obs)) == {"per-1"}
    # a zoneless end may be as late as -12:00: 23:00 local can still follow 10:00Z
    obs["effectivePeriod"] = {"start": "2024-03-02T10:00:00Z", "end": "2024-03-01T23:00:00"}
    assert fi.invariant_failures(obs) == []
    obs["effectivePeriod"]["end"] = "2024-03-01T21:59:59"
    assert _keys(fi.invariant_failures(obs)) == {"per-1"}


def test_resource_of_uncached_type_is_a_problem_not_a_pass() -> None:
    failures = fi.invariant_failures({"resourceType": "Medication", "id": "x"})
    assert failures and "no cached R5 StructureDefinition" in failures[0]


def test_unknown_element_is_a_problem_not_a_pass(produced: dict[str, Any]) -> None:
    sel = _first(produced, "ImagingSelection")
    sel["instance"][0]["frameList"] = "1,2"  # Snapshot #1's name, not R5's
    failures = fi.invariant_failures(sel)
    where = "ImagingSelection.instance[0].frameList"
    assert failures == [f"- at {where}: not an element of R5 ImagingSelection.instance"]


def test_imaging_selection_has_no_own_invariant_in_r5() -> None:
    """R5 5.0.0 declares no ImagingSelection invariant: only the inherited ones apply."""
    table = fi.evaluator().definitions.elements["ImagingSelection"]
    keys = {inv.key for el in table.values() for inv in el.invariants}
    assert keys == {"dom-2", "dom-3", "dom-4", "dom-5", "dom-6", "ele-1", "ext-1"}
