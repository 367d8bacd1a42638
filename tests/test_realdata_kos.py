"""Every KOS in ../shared/realdata converts, and its reference set equals what the file holds.

The expected reference set is read here independently, with plain pydicom:
evidence (study, series, instance, class) joined with the content tree's
frame and segment numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest

from conftest import realdata, realdata_files, resources_of

KOS_FILES = realdata_files("ko_") or ["ko_ihe_xdsi_manifest_mr_36inst.dcm"]

RefSet = set[tuple[str, str, str, str, tuple[str, ...]]]


def expected_references(path: Path) -> RefSet:
    ds = pydicom.dcmread(path)
    series_of: dict[str, tuple[str, str, str]] = {}
    for st in ds.CurrentRequestedProcedureEvidenceSequence:
        for se in st.ReferencedSeriesSequence:
            for sop in se.ReferencedSOPSequence:
                series_of[sop.ReferencedSOPInstanceUID] = (
                    st.StudyInstanceUID,
                    se.SeriesInstanceUID,
                    sop.ReferencedSOPClassUID,
                )
    subsets: dict[str, tuple[str, ...]] = {}
    stack = list(ds.ContentSequence)
    while stack:
        item = stack.pop()
        stack.extend(item.get("ContentSequence", []))
        if item.ValueType in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            for sop in item.ReferencedSOPSequence:
                nums: list[int] = []
                for kw in ("ReferencedFrameNumber", "ReferencedSegmentNumber"):
                    v = sop.get(kw)
                    if v is not None:
                        nums += [
                            int(x)
                            for x in (
                                v if isinstance(v, list | pydicom.multival.MultiValue) else [v]
                            )
                        ]
                subsets[sop.ReferencedSOPInstanceUID] = tuple(str(n) for n in sorted(nums))
    return {(st, se, uid, cls, subsets.get(uid, ())) for uid, (st, se, cls) in series_of.items()}


def produced_references(resources: list[dict[str, Any]]) -> RefSet:
    out: RefSet = set()
    for r in resources:
        if r["resourceType"] != "ImagingSelection":
            continue
        for inst in r.get("instance", ()):
            cls = inst["sopClass"]["code"].removeprefix("urn:oid:")
            out.add(
                (r["studyUid"], r["seriesUid"], inst["uid"], cls, tuple(inst.get("subset", ())))
            )
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("name", KOS_FILES)
def test_real_kos_reference_set(name: str, run_cli: Any) -> None:
    path = realdata(name)
    code, out, err = run_cli("convert", path, "--format", "ndjson")
    assert code == 0, err
    resources = resources_of(out)
    assert produced_references(resources) == expected_references(path)
    # one selection per (study, series)
    keys = [
        (r["studyUid"], r["seriesUid"])
        for r in resources
        if r["resourceType"] == "ImagingSelection"
    ]
    assert len(keys) == len(set(keys))


@pytest.mark.realdata
@pytest.mark.parametrize("name", KOS_FILES)
def test_real_kos_header_mapping(name: str, run_cli: Any) -> None:
    path = realdata(name)
    ds = pydicom.dcmread(path)
    code, out, _ = run_cli("convert", path, "--format", "ndjson", "--timezone", "+02:00")
    assert code == 0
    sels = [r for r in resources_of(out) if r["resourceType"] == "ImagingSelection"]
    title = ds.ConceptNameCodeSequence[0]
    d = ds.ContentDate
    t = ds.ContentTime
    for r in sels:
        assert r["identifier"] == [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{ds.SOPInstanceUID}"}
        ]
        assert r["subject"]["identifier"]["value"] == ds.PatientID
        assert r["code"]["coding"][0]["code"] == title.CodeValue
        assert r["code"]["coding"][0]["display"] == title.CodeMeaning
        assert r["issued"].startswith(f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:6]}")
        assert r["issued"].endswith("+02:00")
        assert r["basedOn"][0]["identifier"]["value"] == ds.AccessionNumber
        assert r["derivedFrom"][0]["identifier"]["value"] == f"urn:oid:{r['studyUid']}"


@pytest.mark.realdata
def test_real_kos_retrieve_ae_title_becomes_endpoint(run_cli: Any) -> None:
    path = realdata("ko_ihe_xdsi_manifest_mr_36inst.dcm")
    code, out, _ = run_cli("convert", path, "--format", "ndjson")
    assert code == 0
    res = resources_of(out)
    eps = {r["id"]: r for r in res if r["resourceType"] == "Endpoint"}
    assert [e["name"] for e in eps.values()] == ["DCM4CHEE"]
    for r in res:
        if r["resourceType"] == "ImagingSelection":
            assert [e["reference"] for e in r["endpoint"]] == [f"Endpoint/{k}" for k in eps]
