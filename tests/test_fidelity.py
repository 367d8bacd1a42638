"""SR and terminology fidelity on real archives (issue 13).

Each test names the clause of the standard it checks. Real files come from
``../shared/realdata``; the "legacy" variants are those real files with their
codes rewritten the way older writers coded them, checked against the original.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code as PydicomCode

from dicomsel import read_dataset, read_file, terminology
from dicomsel.fhir import r5
from dicomsel.fhir.datatypes import coding
from dicomsel.model import Code

from conftest import SAMPLES, realdata, resources_of
from srfiles import (
    CT_SERIES,
    SEG_SERIES,
    SEG_UID,
    STUDY,
    Volumetric,
    content_items,
    tid1500,
)
from validators import assert_valid_kos

HIGHDICOM_SR = "sr_tid1500_highdicom_scoord_scoord3d.dcm"
SCT = "http://snomed.info/sct"


def _resources(run_cli: Any, path: Path) -> list[dict[str, Any]]:
    code, out, err = run_cli("convert", path, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _codes(ds: Dataset) -> list[Dataset]:
    """Every code sequence item of the content tree (concept names and values)."""
    out = []
    for _, item in content_items(ds):
        for kw in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            out.extend(item.get(kw, []))
        for mv in item.get("MeasuredValueSequence", []):
            out.extend(mv.get("MeasurementUnitsCodeSequence", []))
    return out


# ---- PS3.16 Annex O: SNOMED-RT ids are read and written as SNOMED CT


def test_srt_table_agrees_with_pydicom_code_equality() -> None:
    """pydicom's Code compares SRT and SCT through the same Annex O table, independently."""
    for srt, meaning in (
        ("G-C0E3", "Finding Site"),
        ("G-C036", "Measurement Method"),
        ("T-32000", "Heart"),
        ("G-A185", "Long Axis"),
    ):
        sct = terminology.sct_for_srt(srt)
        assert sct is not None
        assert PydicomCode(srt, "SRT", meaning) == PydicomCode(sct, "SCT", meaning)
    assert terminology.sct_for_srt("G-C0E3") == "363698007"
    assert terminology.sct_for_srt("G-C036") == "370129005"
    assert terminology.sct_for_srt("not-a-snomed-id") is None


def test_srt_body_site_written_as_sct() -> None:
    """An SRT body site goes out with its SNOMED CT id (T-32000 Heart is 80891009)."""
    out = coding(Code("T-32000", "SRT", "Heart"))
    assert out == {"system": SCT, "code": "80891009", "display": "Heart"}
    # SNM3 and 99SDM read as SRT (PS3.16 8.1)
    assert coding(Code("T-32000", "99SDM", "Heart"))["system"] == SCT  # type: ignore[index]
    # an SRT id the table does not map stays as it is, with the SRT system
    assert coding(Code("X-00000", "SRT", "?"))["system"] == "http://snomed.info/srt"  # type: ignore[index]


@pytest.mark.realdata
def test_legacy_srt_coded_tid1500_converts_as_the_sct_original(
    run_cli: Any, tmp_path: Path
) -> None:
    """dcmqi-style SRT concept names (Finding Site G-C0E3 ...) are the same concepts (TID 1419).

    Every SCT code of highdicom's real report that Annex O maps is rewritten to
    its SRT id; the output must not change: no concept modifier becomes an
    Observation, the group keeps its bodySite.
    """
    original = realdata(HIGHDICOM_SR)
    ds = pydicom.dcmread(original)
    rewritten = 0
    table = resources.files("dicomsel").joinpath("data/srt_sct.json").read_text("utf-8")
    reverse = {v: k for k, v in json.loads(table)["srt_to_sct"].items()}
    for item in _codes(ds):
        if item.get("CodingSchemeDesignator") == "SCT" and item.CodeValue in reverse:
            item.CodeValue = reverse[item.CodeValue]
            item.CodingSchemeDesignator = "SRT"
            rewritten += 1
    assert rewritten >= 10
    legacy = tmp_path / "legacy.dcm"
    ds.save_as(legacy)
    expected = _resources(run_cli, original)
    got = _resources(run_cli, legacy)
    assert got == expected
    sites = [
        r["bodySite"].get("concept", r["bodySite"])["coding"][0] for r in got if "bodySite" in r
    ]
    assert {"system": SCT, "code": "39607008", "display": "Lung"} in sites
    assert not any("G-C0E3" in json.dumps(r) or "363698007" in json.dumps(r) for r in got)


# ---- PS3.16 8 / Table 8-1: coding schemes and their FHIR systems


def test_designators_match_case_insensitively() -> None:
    """``RadLex`` (the dicom-sr IG's own spelling) is PS3.16's ``RADLEX``."""
    assert terminology.canonical_scheme("RadLex") == "RADLEX"
    assert terminology.system_for_scheme("RadLex") == "http://radlex.org"
    assert terminology.system_for_scheme("ncit") == terminology.system_for_scheme("NCIt")
    assert coding(Code("RID10311", "RadLex", "imaging modality"))["system"] == "http://radlex.org"  # type: ignore[index]


def test_schemes_the_ig_names_have_systems() -> None:
    """The IG's qualitative evaluation example: 99LIDCQIICR -> http://cancerimagingarchive.net."""
    assert terminology.system_for_scheme("99LIDCQIICR") == "http://cancerimagingarchive.net"
    assert terminology.scheme_for_system("https://ncit.nci.nih.gov") == "NCIt"


@pytest.mark.realdata
def test_icd_o_2_in_real_rtstruct_has_a_system() -> None:
    """dicompyler's RT ROI Identification code ``ICD-O-2 C44.9`` gets ICD-O's OID and edition."""
    result = read_file(realdata("rtstruct_dicompyler_10rois.dcm"))
    codes = [s.code for s in result.selections if s.code.scheme == "ICD-O-2"]
    assert codes
    out = coding(codes[0])
    assert out is not None
    assert out["system"] == "urn:oid:2.16.840.1.113883.6.43"
    assert out["version"] == "2"
    assert out["code"] == "C44.9"


def _private_scheme_sr(uid: str) -> Dataset:
    """The real dcmjs report, its private ``99dcmjs`` scheme declared with a Coding Scheme UID."""
    ds = pydicom.dcmread(realdata("sr_tid1500_dcmjs_small_scoord.dcm"))
    (declared,) = ds.CodingSchemeIdentificationSequence
    declared.CodingSchemeUID = uid
    # a qualitative evaluation in that scheme, in the measurement group
    group = next(
        it
        for _, it in content_items(ds)
        if it.get("ValueType") == "CONTAINER"
        and it.ConceptNameCodeSequence[0].CodeValue == "125007"
    )
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "CODE"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "2", "99dcmjs", "Shape"
    val = Dataset()
    val.CodeValue, val.CodingSchemeDesignator, val.CodeMeaning = "3", "99dcmjs", "Round"
    item.ConceptNameCodeSequence = [name]
    item.ConceptCodeSequence = [val]
    group.ContentSequence.append(item)
    buf = io.BytesIO()
    ds.save_as(buf)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


@pytest.mark.realdata
def test_private_scheme_declared_with_a_uid_gets_urn_oid() -> None:
    """PS3.3 C.12.1.1.2 Coding Scheme Identification Sequence: Coding Scheme UID -> urn:oid:."""
    result = read_dataset(_private_scheme_sr("1.2.3.4.5.6"), options=None)
    evaluation = [o for o in result.observations if o.code.value == "2"]
    assert evaluation
    assert coding(evaluation[0].code)["system"] == "urn:oid:1.2.3.4.5.6"  # type: ignore[index]
    assert evaluation[0].value_code is not None
    assert coding(evaluation[0].value_code)["system"] == "urn:oid:1.2.3.4.5.6"  # type: ignore[index]
    # without a UID it stays without system, reported by the writer
    plain = read_file(realdata("sr_tid1500_dcmjs_small_scoord.dcm"))
    warnings: list[str] = []
    procedure = [o for o in plain.observations if o.code.scheme == "99dcmjs"]
    for o in procedure:
        assert "system" not in (coding(o.code, warnings) or {})


# ---- the IG's Observation mapping


@pytest.mark.realdata
def test_num_carries_its_groups_finding_site_and_content_time(run_cli: Any) -> None:
    """TID 1419 Finding Site is the group's concept modifier: its NUMs' bodySite too (the IG);
    effectiveDateTime is Observation DateTime, else Content Date/Time (the IG)."""
    path = realdata(HIGHDICOM_SR)
    ds = pydicom.dcmread(path)
    got = _resources(run_cli, path)
    diameters = [
        r
        for r in got
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "81827009"
    ]
    with_site = [d for d in diameters if "bodySite" in d]
    assert len(with_site) == 1  # only the group with Finding Site = Lung has one
    assert with_site[0]["bodySite"]["coding"][0]["code"] == "39607008"
    content = f"{ds.ContentDate[:4]}-{ds.ContentDate[4:6]}-{ds.ContentDate[6:]}T"
    content += f"{ds.ContentTime[:2]}:{ds.ContentTime[2:4]}:{ds.ContentTime[4:6]}"
    for r in got:
        if r["resourceType"] == "Observation":
            assert r["effectiveDateTime"].startswith(content)
            assert r["effectiveDateTime"].endswith("+00:00")


# ---- PS3.16 TID 1411 row 7b: Source series for segmentation (DCM 121232, UIDREF)


def _source_series_sr(seg_in_evidence: bool) -> Dataset:
    """A TID 1411 group referencing SEG segment 1, its source given as a series (row 7b)
    instead of images (row 7): highdicom's report with the 121233 item replaced by pydicom."""
    ds = tid1500([Volumetric(segment=1)], name="source-series")
    group = next(
        it
        for _, it in content_items(ds)
        if it.get("ValueType") == "CONTAINER"
        and it.ConceptNameCodeSequence[0].CodeValue == "125007"
    )
    kept = [
        it for it in group.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue != "121233"
    ]
    assert len(kept) == len(group.ContentSequence) - 1
    row = Dataset()
    row.RelationshipType = "CONTAINS"
    row.ValueType = "UIDREF"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator = "121232", "DCM"
    name.CodeMeaning = "Source series for segmentation"
    row.ConceptNameCodeSequence = [name]
    row.UID = CT_SERIES
    group.ContentSequence = [*kept, row]
    if not seg_in_evidence:
        for study in ds.CurrentRequestedProcedureEvidenceSequence:
            study.ReferencedSeriesSequence = [
                s for s in study.ReferencedSeriesSequence if s.SeriesInstanceUID != SEG_SERIES
            ]
    buf = io.BytesIO()
    ds.save_as(buf)
    back = pydicom.dcmread(io.BytesIO(buf.getvalue()))
    # highdicom reads the row as the group's source series: the file is as TID 1411 says
    report = hd.sr.Comprehensive3DSR.from_dataset(back)
    (grp,) = report.content.get_volumetric_roi_measurement_groups()
    referenced = grp.referenced_segment
    assert referenced is not None
    assert not referenced.has_source_images()
    assert referenced.source_series_for_segmentation is not None
    assert referenced.source_series_for_segmentation.value == CT_SERIES
    return back


def _by_code(resources: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in resources
        if r["resourceType"] == "ImagingSelection" and r["code"]["coding"][0]["code"] == code
    ]


def test_source_series_for_segmentation_gives_series_when_seg_not_in_evidence() -> None:
    """TID 1411 row 7b (121232 UIDREF): the IG maps it to the Referenced Segment selection's
    seriesUid; with the SEG not in the evidence it gives series, study and derivedFrom."""
    ds = _source_series_sr(seg_in_evidence=False)
    result = read_dataset(ds, options=None)
    out = r5.write(result.selections).resources
    (segment,) = _by_code(out, "121191")
    assert segment["seriesUid"] == CT_SERIES
    assert segment["studyUid"] == STUDY == ds.StudyInstanceUID
    assert segment["derivedFrom"][0]["identifier"]["value"] == f"urn:oid:{STUDY}"
    assert segment["instance"][0]["uid"] == SEG_UID
    (source,) = _by_code(out, "121232")
    assert source["seriesUid"] == CT_SERIES
    assert "instance" not in source  # the whole series
    assert {"reference": f"ImagingSelection/{source['id']}"} in segment["focus"]


def test_source_series_for_segmentation_kept_when_seg_in_evidence() -> None:
    """TID 1411 row 7b with the SEG in the evidence: the selection keeps the SEG's own series
    (R5: seriesUid is the series of its instances); the source series is its focus."""
    result = read_dataset(_source_series_sr(seg_in_evidence=True), options=None)
    out = r5.write(result.selections).resources
    (segment,) = _by_code(out, "121191")
    assert segment["seriesUid"] == SEG_SERIES
    (source,) = _by_code(out, "121232")
    assert source["seriesUid"] == CT_SERIES
    assert source["studyUid"] == STUDY
    assert {"reference": f"ImagingSelection/{source['id']}"} in segment["focus"]


# ---- PS3.3 10.14 / Table 10-17 (HL7 v2 Hierarchic Designator); the IG's identifier types

IG = Path("/work/shared/hl7-dicom-sr-ig")


def _ig_pattern(profile: str, element: str) -> dict[str, Any]:
    """The patternCodeableConcept of ``element`` in one of the IG's StructureDefinitions."""
    path = IG / f"StructureDefinition-{profile}.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    sd = json.loads(path.read_text())
    (el,) = [e for e in sd["differential"]["element"] if e["id"] == element]
    pattern: dict[str, Any] = el["patternCodeableConcept"]
    return pattern


def _issuers(pid_type: str, pid_issuer: str, acc_type: str, acc_issuer: str) -> Dataset:
    ds = pydicom.dcmread(realdata(HIGHDICOM_SR))
    ds.IssuerOfPatientID = "Local Hospital"
    ds.AccessionNumber = ds.get("AccessionNumber") or "ACC-13"
    pq = Dataset()
    pq.UniversalEntityID, pq.UniversalEntityIDType = pid_issuer, pid_type
    ds.IssuerOfPatientIDQualifiersSequence = [pq]
    aq = Dataset()
    aq.UniversalEntityID, aq.UniversalEntityIDType = acc_issuer, acc_type
    aq.LocalNamespaceEntityID = "RIS"
    ds.IssuerOfAccessionNumberSequence = [aq]
    buf = io.BytesIO()
    ds.save_as(buf)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


@pytest.mark.realdata
def test_issuers_of_type_uri_and_uuid_give_the_identifier_system() -> None:
    """PS3.3 Table 10-17: Universal Entity ID Type ISO, URI and UUID all name the namespace
    (Issuer of Patient ID Qualifiers Sequence, Issuer of Accession Number Sequence)."""
    ds = _issuers("URI", "https://hospital.example/mrn", "URI", "https://ris.example/acc")
    sel = read_dataset(ds, options=None).selections[0]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.system == "https://hospital.example/mrn"
    assert sel.subject.identifier.value == ds.PatientID
    assert sel.subject.identifier.assigner == "Local Hospital"
    (acc,) = [r.identifier for r in sel.based_on if r.identifier is not None]
    assert acc.system == "https://ris.example/acc" and acc.value == ds.AccessionNumber
    uuid = "5A1F0C2E-4B3D-4E6F-8A9B-0C1D2E3F4A5B"
    ds = _issuers("UUID", uuid, "ISO", "1.2.3.4.5")
    sel = read_dataset(ds, options=None).selections[0]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.system == f"urn:uuid:{uuid.lower()}"
    (acc,) = [r.identifier for r in sel.based_on if r.identifier is not None]
    assert acc.system == "urn:oid:1.2.3.4.5"
    # a type that names no URI namespace (DNS) gives no system; the issuer stays the assigner
    ds = _issuers("DNS", "hospital.example", "X500", "cn=ris")
    sel = read_dataset(ds, options=None).selections[0]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.system is None
    assert sel.subject.identifier.assigner == "Local Hospital"


@pytest.mark.realdata
def test_study_and_accession_references_carry_the_igs_identifier_types() -> None:
    """The IG's patterns: derivedFrom / partOf identifier.type DCM 110180 Study Instance UID,
    basedOn identifier.type v2-0203 ACSN "Accession ID" (read from its StructureDefinitions)."""
    study_type = _ig_pattern(
        "imaging-observation", "Observation.partOf:imagingStudyRef.identifier.type"
    )
    acsn_type = _ig_pattern(
        "observation-imaging-selection",
        "ImagingSelection.basedOn:serviceRequestRef.identifier.type",
    )
    result = read_dataset(_issuers("ISO", "1.2.3", "ISO", "1.2.4"), options=None)
    out = r5.write(result.selections).resources
    selections = [r for r in out if r["resourceType"] == "ImagingSelection"]
    assert selections
    for r in selections:
        for ref in r.get("derivedFrom", []):
            assert ref["identifier"]["type"] == study_type
            assert ref["identifier"]["system"] == "urn:dicom:uid"
        for ref in r.get("basedOn", []):
            assert ref["identifier"]["type"] == acsn_type
    assert any("derivedFrom" in r for r in selections)
    assert any("basedOn" in r for r in selections)


# ---- PS3.3 C.18.1 Measured Value Sequence: a unit that is not UCUM (FHIR Quantity, qty-3)


def _private_unit_sr(tmp_path: Path, scheme_uid: str | None) -> Path:
    """The real dcmjs report, its NUM units recoded as ``cm`` of its private ``99dcmjs``
    scheme (declared with ``scheme_uid`` when given)."""
    ds = pydicom.dcmread(realdata("sr_tid1500_dcmjs_small_scoord.dcm"))
    (declared,) = ds.CodingSchemeIdentificationSequence
    if scheme_uid:
        declared.CodingSchemeUID = scheme_uid
    units = [
        mv.MeasurementUnitsCodeSequence[0]
        for _, it in content_items(ds)
        for mv in it.get("MeasuredValueSequence", [])
    ]
    assert units
    for u in units:
        u.CodeValue, u.CodingSchemeDesignator, u.CodeMeaning = "cm", "99dcmjs", "centimeter"
        if "CodingSchemeVersion" in u:
            del u.CodingSchemeVersion
    path = tmp_path / f"unit-{scheme_uid or 'none'}.dcm"
    ds.save_as(path)
    return path


@pytest.mark.realdata
def test_non_ucum_unit_keeps_its_schemes_system_and_code(run_cli: Any, tmp_path: Path) -> None:
    """A unit of a private scheme declared with a Coding Scheme UID (PS3.3 C.12.1.1.2) goes out
    as Quantity system ``urn:oid:<uid>`` + code + unit; without a system, unit text only
    (FHIR qty-3: a code needs a system), reported."""
    code, out, err = run_cli(
        "convert", _private_unit_sr(tmp_path, "1.2.3.4.5.6"), "--format", "ndjson"
    )
    assert code == 0, err
    quantities = [
        r["valueQuantity"]
        for r in resources_of(out)
        if r["resourceType"] == "Observation" and "valueQuantity" in r
    ]
    assert quantities
    for q in quantities:
        assert q["system"] == "urn:oid:1.2.3.4.5.6"
        assert q["code"] == "cm"
        assert q["unit"] == "centimeter"
    assert "is not UCUM" in err
    code, out, err = run_cli("convert", _private_unit_sr(tmp_path, None), "--format", "ndjson")
    assert code == 0, err
    quantities = [
        r["valueQuantity"]
        for r in resources_of(out)
        if r["resourceType"] == "Observation" and "valueQuantity" in r
    ]
    assert quantities
    for q in quantities:
        assert q["unit"] == "centimeter"
        assert "code" not in q and "system" not in q
    assert "written as unit text only" in err


# ---- reverse path: PS3.3 C.7.2.1 General Study of a KOS referencing several studies


def test_kos_of_several_studies_read_back_keeps_its_study(run_cli: Any, tmp_path: Path) -> None:
    """PS3.3 C.17.6.2 (Current Requested Procedure Evidence may list several studies) and
    C.7.2.1 General Study: a KOS read back with itself as context keeps its own study, with
    its Study Date / Time / ID and Referring Physician's Name (Type 2, here all given)."""
    original = SAMPLES / "kos_two_studies.dcm"
    ds = pydicom.dcmread(original)
    referenced = [s.StudyInstanceUID for s in ds.CurrentRequestedProcedureEvidenceSequence]
    assert len(referenced) == 2 and ds.StudyInstanceUID not in referenced
    code, out, err = run_cli("convert", original, "--format", "ndjson", "--timezone", "+01:00")
    assert code == 0, err
    fhir = tmp_path / "two.ndjson"
    fhir.write_text(out)
    kos = tmp_path / "back.dcm"
    code, _, err = run_cli("to-kos", fhir, "--context", original, "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    back = pydicom.dcmread(kos)
    assert back.StudyInstanceUID == ds.StudyInstanceUID
    for kw in ("StudyDate", "StudyTime", "StudyID", "ReferringPhysicianName"):
        assert ds.get(kw), kw
        assert back.get(kw) == ds.get(kw), kw
    assert [s.StudyInstanceUID for s in back.CurrentRequestedProcedureEvidenceSequence] == (
        referenced
    )


def test_kos_of_several_studies_goes_in_the_study_the_context_knows(
    run_cli: Any, tmp_path: Path
) -> None:
    """C.7.2.1: without its source document in the context, the KOS goes in the first
    referenced study the context has a file of, so its Type 2 study attributes are filled."""
    original = SAMPLES / "kos_two_studies.dcm"
    ds = pydicom.dcmread(original)
    first, second = [s.StudyInstanceUID for s in ds.CurrentRequestedProcedureEvidenceSequence]
    code, out, err = run_cli("convert", original, "--format", "ndjson", "--timezone", "+01:00")
    assert code == 0, err
    fhir = tmp_path / "two.ndjson"
    fhir.write_text(out)
    ctx = pydicom.dcmread(original)  # a file of the second study only, as an image would be
    ctx.SOPInstanceUID = "1.2.826.0.1.3680043.10.1300.13.1"
    ctx.StudyInstanceUID = second
    ctx.StudyDate, ctx.StudyTime, ctx.StudyID = "20040826", "185059", "S2"
    ctx.ReferringPhysicianName = "Second^Sam"
    ctx_path = tmp_path / "ctx.dcm"
    ctx.save_as(ctx_path)
    kos = tmp_path / "back.dcm"
    code, _, err = run_cli("to-kos", fhir, "--context", ctx_path, "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    back = pydicom.dcmread(kos)
    assert back.StudyInstanceUID == second != first
    assert (back.StudyDate, back.StudyTime, back.StudyID) == ("20040826", "185059", "S2")
    assert back.ReferringPhysicianName == "Second^Sam"


def test_person_observer_pn_display_keeps_its_components(run_cli: Any, tmp_path: Path) -> None:
    """PS3.5 6.2.1 PN: a Practitioner display that is a DICOM PN (``Observer^Olivia^^Dr.``)
    becomes Person Observer's Name (TID 1003) with its components, as pydicom reads them."""
    original = SAMPLES / "kos_single_frame.dcm"
    code, out, err = run_cli("convert", original, "--format", "ndjson")
    assert code == 0, err
    resources = [json.loads(line) for line in out.splitlines() if line.strip()]
    for r in resources:
        for p in r.get("performer", []):
            if p["actor"].get("type") == "Practitioner":
                p["actor"]["display"] = "Observer^Olivia^^Dr."
    fhir = tmp_path / "pn.ndjson"
    fhir.write_text("".join(json.dumps(r) + "\n" for r in resources))
    kos = tmp_path / "pn.dcm"
    code, _, err = run_cli("to-kos", fhir, "--context", original, "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    names = [
        it.PersonName
        for _, it in content_items(pydicom.dcmread(kos))
        if it.get("ValueType") == "PNAME"
    ]
    assert len(names) == 1
    pn = names[0]
    assert (pn.family_name, pn.given_name, pn.middle_name, pn.name_prefix) == (
        "Observer",
        "Olivia",
        "",
        "Dr.",
    )
