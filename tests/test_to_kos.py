"""``dicomsel to-kos``: ImagingSelection JSON -> DICOM KOS, end to end through the command line.

Every KOS written here goes through dciodvfy and dsrdump (tests/validators.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomsel import read_file
from dicomsel.errors import InvalidInputError, MappingError
from dicomsel.fhir import read_fhir
from dicomsel.kos import Context, KosOptions, kos_uid, value_type, write_kos
from dicomsel.model import ActorKind, Code, EndpointKind, Identifier
from dicomsel.terminology import DCM, key_object_title

from conftest import SAMPLES
from kosgen import uid
from validators import assert_valid_kos

CT = "1.2.840.10008.5.1.4.1.1.2"
ENH_MR = "1.2.840.10008.5.1.4.1.1.4.1"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
SR = "1.2.840.10008.5.1.4.1.1.88.33"
RTSTRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY = uid("to-kos", "study")
STUDY_2 = uid("to-kos", "study", 2)
SERIES = uid("to-kos", "series")
SERIES_2 = uid("to-kos", "series", 2)

PLUS_1 = dt.timezone(dt.timedelta(hours=1))


def sop_class(cls: str) -> dict[str, str]:
    return {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{cls}"}


def instance(n: int, cls: str | None = CT, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": uid("to-kos", "sop", n)}
    if cls is not None:
        out["sopClass"] = sop_class(cls)
    out.update(extra)
    return out


def selection(rid: str = "sel-1", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ImagingSelection",
        "id": rid,
        "status": "available",
        "subject": {"type": "Patient", "identifier": {"system": "urn:oid:1.2.3", "value": "PAT-1"}},
        "issued": "2024-01-02T10:15:00+01:00",
        "code": {"coding": [{"system": DCM, "code": "113000", "display": "Of Interest"}]},
        "studyUid": STUDY,
        "seriesUid": SERIES,
        "instance": [instance(1)],
    }
    res.update(extra)
    return {k: v for k, v in res.items() if v is not None}


def patient(rid: str = "p1", pid: str = "PAT-1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": "urn:oid:1.2.3", "value": pid}],
        "name": [{"family": "Doe", "given": ["Jane", "Q"]}],
        "gender": "female",
        "birthDate": "1970-01-02",
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def write_json(folder: Path, doc: dict[str, Any], name: str = "in.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def context_file(folder: Path, n: int, cls: str = CT, **attrs: str) -> Path:
    """A small image header (no pixel data is needed for context)."""
    ds = Dataset()
    ds.SOPClassUID = cls
    ds.SOPInstanceUID = uid("to-kos", "sop", n)
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.PatientID = "PAT-1"
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19700102"
    ds.PatientSex = "F"
    ds.StudyDate = "20231231"
    ds.StudyTime = "080000"
    ds.StudyID = "S1"
    ds.AccessionNumber = "ACC-9"
    ds.ReferringPhysicianName = "Ref^Rita"
    ds.Modality = "CT"
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = cls
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / f"img{n}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def nothing_written(folder: Path) -> bool:
    return not list(folder.glob("*.dcm")) and not list(folder.glob(".dicomsel-*"))


# --- the happy paths -----------------------------------------------------------------------


def test_patient_resource_in_the_bundle(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(), patient()))
    out = tmp_path / "kos.dcm"
    code, stdout, err = run_cli("to-kos", src, "-o", out)
    assert code == 0, err
    assert stdout.strip() == str(out)
    assert_valid_kos(out)
    ds = pydicom.dcmread(out)
    assert (str(ds.PatientName), ds.PatientID, ds.IssuerOfPatientID) == (
        "Doe^Jane^Q",
        "PAT-1",
        "1.2.3",
    )
    assert (ds.PatientBirthDate, ds.PatientSex) == ("19700102", "F")
    assert (ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC) == (
        "20240102",
        "101500",
        "+0100",
    )
    assert ds.StudyInstanceUID == STUDY and ds.Modality == "KO"
    assert ds.SeriesInstanceUID.startswith("2.25.") and ds.SOPInstanceUID.startswith("2.25.")
    assert ds.Manufacturer == "dicomsel"
    # no study context: Type 2 study attributes empty, as the standard allows
    assert (ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber) == ("", "", "", "")
    back = read_file(out)
    (sel,) = back.selections
    assert sel.subject is not None and sel.subject.identifier is not None
    assert (sel.subject.identifier.value, sel.subject.identifier.system) == (
        "PAT-1",
        "urn:oid:1.2.3",
    )
    assert sel.issued == dt.datetime(2024, 1, 2, 10, 15, tzinfo=PLUS_1)
    assert (sel.code.value, sel.code.meaning) == ("113000", "Of Interest")


def test_context_file_gives_sop_class_patient_and_study(tmp_path: Path, run_cli: Any) -> None:
    ctx = context_file(tmp_path, 1)
    src = write_json(tmp_path, selection(instance=[instance(1, cls=None)], subject=None))
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "--context", ctx, "-o", out)
    assert code == 0, err
    assert_valid_kos(out)
    ds = pydicom.dcmread(out)
    ref = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert ref.ReferencedSOPSequence[0].ReferencedSOPClassUID == CT
    assert (ds.PatientID, str(ds.PatientName)) == ("PAT-1", "Doe^Jane")
    assert (ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber) == (
        "20231231",
        "080000",
        "S1",
        "ACC-9",
    )
    assert str(ds.ReferringPhysicianName) == "Ref^Rita"


def test_frames_segments_and_value_types(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(
        tmp_path,
        bundle(
            selection(
                instance=[
                    instance(1, ENH_MR, subset=["5", "2"]),
                    instance(2, SEG, subset=["3", "1"]),
                    instance(3, ECG),
                    instance(4, SR),
                    instance(5, CT),
                ]
            ),
            patient(),
        ),
    )
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "-o", out)
    assert code == 0, err
    assert_valid_kos(out)
    ds = pydicom.dcmread(out)
    items = [i for i in ds.ContentSequence if "ReferencedSOPSequence" in i]
    assert [i.ValueType for i in items] == ["IMAGE", "IMAGE", "WAVEFORM", "COMPOSITE", "IMAGE"]
    mr, seg = items[0].ReferencedSOPSequence[0], items[1].ReferencedSOPSequence[0]
    assert list(mr.ReferencedFrameNumber) == [2, 5] and "ReferencedSegmentNumber" not in mr
    assert list(seg.ReferencedSegmentNumber) == [1, 3] and "ReferencedFrameNumber" not in seg
    assert "ReferencedFrameNumber" not in items[4].ReferencedSOPSequence[0]
    (sel,) = read_file(out).selections
    got = {i.uid: (i.frames, i.segments) for i in sel.instances}
    assert got[uid("to-kos", "sop", 1)] == ((2, 5), ())
    assert got[uid("to-kos", "sop", 2)] == ((), (1, 3))


def test_value_type_by_sop_class() -> None:
    assert value_type(CT) == value_type(SEG) == value_type(ENH_MR) == "IMAGE"
    assert value_type("1.2.840.10008.5.1.4.1.1.481.2") == "IMAGE"  # RT Dose has pixel data
    assert value_type(ECG) == "WAVEFORM"
    assert value_type(SR) == value_type(RTSTRUCT) == value_type("1.2.3.4.5") == "COMPOSITE"


def test_two_studies_in_one_kos_placed_in_the_first(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(
        tmp_path,
        bundle(
            selection("a", studyUid=STUDY_2, seriesUid=SERIES_2, instance=[instance(7, CT)]),
            selection("b"),
            patient(),
        ),
    )
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "-o", out)
    assert code == 0, err
    assert_valid_kos(out)
    ds = pydicom.dcmread(out)
    assert ds.StudyInstanceUID == STUDY_2
    evidence = ds.CurrentRequestedProcedureEvidenceSequence
    assert [s.StudyInstanceUID for s in evidence] == [STUDY_2, STUDY]
    assert {(s.study_instance_uid, s.series_instance_uid) for s in read_file(out).selections} == {
        (STUDY, SERIES),
        (STUDY_2, SERIES_2),
    }


def test_description_observers_and_accession(tmp_path: Path, run_cli: Any) -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Look &amp; see<br/>line 2</p></div>'
    sel = selection(
        text={"status": "additional", "div": div},
        performer=[
            {"actor": {"type": "Practitioner", "display": "Doe Jane"}},
            {
                "actor": {
                    "type": "Device",
                    "identifier": {"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4.5"},
                    "display": "Workstation 7",
                }
            },
            {"actor": {"type": "Organization", "display": "Radiology"}},
        ],
        basedOn=[
            {
                "type": "ServiceRequest",
                "identifier": {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "ACSN",
                            }
                        ]
                    },
                    "value": "ACC-77",
                },
            }
        ],
    )
    src = write_json(tmp_path, bundle(sel, patient()))
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "-o", out)
    assert code == 0, err
    assert "Organization" in err and "warning" in err  # an organisation is no KOS observer
    assert_valid_kos(out)
    ds = pydicom.dcmread(out)
    assert ds.AccessionNumber == "ACC-77"
    (back,) = read_file(out).selections
    assert back.description == "Look & see\nline 2"
    assert [(p.actor.kind, p.actor.display) for p in back.performers] == [
        (ActorKind.PERSON, "Doe Jane"),
        (ActorKind.DEVICE, "Workstation 7"),
    ]
    device = back.performers[1].actor.identifier
    assert device == Identifier.dicom_uid("1.2.3.4.5")
    assert [r.identifier.value for r in back.based_on if r.identifier] == ["ACC-77"]


def test_endpoints_become_retrieve_ae_title_and_url(tmp_path: Path, run_cli: Any) -> None:
    ae = {
        "resourceType": "Endpoint",
        "id": "ae",
        "status": "active",
        "connectionType": [{"text": "DICOM DIMSE"}],
        "name": "PACS_A",
        "address": "urn:dicom:ae:PACS_A",
    }
    web = {
        "resourceType": "Endpoint",
        "id": "web",
        "status": "active",
        "connectionType": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                        "code": "dicom-wado-rs",
                    }
                ]
            }
        ],
        "address": "https://pacs.example.org/dicomweb",
    }
    sel = selection(endpoint=[{"reference": "urn:uuid:ae"}, {"reference": "urn:uuid:web"}])
    src = write_json(tmp_path, bundle(sel, patient(), ae, web))
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "-o", out)
    assert code == 0, err
    assert_valid_kos(out)
    series = pydicom.dcmread(out).CurrentRequestedProcedureEvidenceSequence[0]
    series = series.ReferencedSeriesSequence[0]
    assert series.RetrieveAETitle == "PACS_A"
    assert series.RetrieveURL == "https://pacs.example.org/dicomweb"
    (back,) = read_file(out).selections
    assert {(e.kind, e.ae_title, e.address) for e in back.endpoints} == {
        (EndpointKind.DIMSE, "PACS_A", None),
        (EndpointKind.DICOMWEB, None, "https://pacs.example.org/dicomweb"),
    }


def test_series_selection_takes_its_instances_from_the_context(
    tmp_path: Path, run_cli: Any
) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    for n in (1, 2, 3):
        context_file(folder, n)
    (folder / "notes.txt").write_text("not DICOM")
    src = write_json(tmp_path, selection(instance=None))
    out = tmp_path / "kos.dcm"
    code, _, err = run_cli("to-kos", src, "--context", folder, "-o", out)
    assert code == 0, err
    assert_valid_kos(out)
    (sel,) = read_file(out).selections
    assert {i.uid for i in sel.instances} == {uid("to-kos", "sop", n) for n in (1, 2, 3)}


def test_stdin_input_and_default_output_folder(
    tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(bundle(selection(), patient()))))
    code, stdout, err = run_cli("to-kos", "-")
    assert code == 0, err
    (name,) = stdout.split()
    assert Path(name).name == name and name.endswith(".dcm")
    assert (tmp_path / name).is_file()
    assert pydicom.dcmread(tmp_path / name).SOPInstanceUID == name.removesuffix(".dcm")
    assert_valid_kos(tmp_path / name)


def test_one_kos_per_patient(tmp_path: Path, run_cli: Any) -> None:
    other = {"type": "Patient", "identifier": {"system": "urn:oid:1.2.3", "value": "PAT-2"}}
    src = write_json(
        tmp_path,
        bundle(
            selection("a"),
            selection(
                "b", subject=other, studyUid=STUDY_2, seriesUid=SERIES_2, instance=[instance(9)]
            ),
            patient("p1", "PAT-1"),
            patient("p2", "PAT-2"),
        ),
    )
    # several documents and -o naming a file: an error, nothing written
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "one.dcm")
    assert code == 1 and "folder" in err
    assert nothing_written(tmp_path)
    (tmp_path / "out").mkdir()  # to-kos never creates the -o folder
    code, stdout, err = run_cli("to-kos", src, "-o", f"{tmp_path}/out/")
    assert code == 0, err
    paths = [Path(p) for p in stdout.split()]
    assert len(paths) == 2
    assert sorted(pydicom.dcmread(p).PatientID for p in paths) == ["PAT-1", "PAT-2"]
    for p in paths:
        assert_valid_kos(p)


def test_same_input_same_bytes_and_uid_root(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(), patient()))
    blobs = []
    for name in ("a.dcm", "b.dcm"):
        code, _, err = run_cli("to-kos", src, "-o", tmp_path / name, "--uid-root", "1.2.826.0.1.9")
        assert code == 0, err
        blobs.append((tmp_path / name).read_bytes())
    assert blobs[0] == blobs[1]
    ds = pydicom.dcmread(tmp_path / "a.dcm")
    for u in (ds.SOPInstanceUID, ds.SeriesInstanceUID):
        assert u.startswith("1.2.826.0.1.9.") and len(u) <= 64
    assert ds.SOPInstanceUID != ds.SeriesInstanceUID
    # a different selection gives different UIDs
    assert kos_uid("a", "instance") != kos_uid("b", "instance")
    assert kos_uid("a", "instance", "1.2.3") == kos_uid("a", "instance", "1.2.3")


def test_content_datetime_when_nothing_was_issued(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(issued=None), patient()))
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "k.dcm")
    assert code == 1 and "--content-datetime" in err
    assert nothing_written(tmp_path)
    code, _, err = run_cli(
        "to-kos", src, "-o", tmp_path / "k.dcm", "--content-datetime", "2024-05-06T07:08:09Z"
    )
    assert code == 0, err
    ds = pydicom.dcmread(tmp_path / "k.dcm")
    assert (ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC) == (
        "20240506",
        "070809",
        "+0000",
    )
    assert_valid_kos(tmp_path / "k.dcm")
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "n.dcm", "--content-datetime", "now")
    assert code == 0, err
    assert_valid_kos(tmp_path / "n.dcm")


# --- what a KOS cannot carry: warnings, errors under --strict -------------------------------


def test_regions_and_observation_uids_are_reported(tmp_path: Path, run_cli: Any) -> None:
    sel = selection(
        instance=[
            instance(1, CT, imageRegion2D=[{"regionType": "point", "coordinate": [1, 2]}]),
            instance(2, SR, subset=[uid("obs", 1)]),
            instance(3, RTSTRUCT, subset=["4"]),
        ],
        bodySite={"concept": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}},
    )
    src = write_json(tmp_path, bundle(sel, patient()))
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "k.dcm")
    assert code == 0, err
    for what in ("image region", "observation UIDs", "ROI numbers", "body site"):
        assert what in err
    assert_valid_kos(tmp_path / "k.dcm")
    (tmp_path / "k.dcm").unlink()
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "k.dcm", "--strict")
    assert code == 1 and "--strict" in err
    assert nothing_written(tmp_path)


def test_strict_library_error() -> None:
    sels = read_fhir(
        "x",
        text=json.dumps(
            bundle(
                selection(instance=[instance(2, SR, subset=[uid("obs", 1)])]),
                patient(),
            )
        ),
    )
    ctx = Context()
    ctx.add_patient_resources(sels.patients)
    assert write_kos(sels.selections, ctx).warnings
    with pytest.raises(MappingError, match="observation UIDs"):
        write_kos(sels.selections, ctx, KosOptions(strict=True))


# --- bad input: a clear error, exit code 1, nothing written ----------------------------------


def test_no_sop_class_and_no_context(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(instance=[instance(1, cls=None)]), patient()))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1
    assert "no SOP class" in err and "--context" in err and "instance[0]" in err
    assert nothing_written(tmp_path)


def test_subjects_that_differ(tmp_path: Path, run_cli: Any) -> None:
    other = {"type": "Patient", "identifier": {"system": "urn:oid:1.2.3", "value": "PAT-2"}}
    src = write_json(
        tmp_path,
        bundle(
            selection("a"),
            selection("b", subject=other, instance=[instance(2)]),  # same study
            patient("p1", "PAT-1"),
            patient("p2", "PAT-2"),
        ),
    )
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "different subjects" in err and STUDY in err
    assert nothing_written(tmp_path)


def test_subject_differs_from_the_context(tmp_path: Path, run_cli: Any) -> None:
    ctx = context_file(tmp_path, 1, PatientID="SOMEONE-ELSE")
    src = write_json(tmp_path, selection())
    code, _, err = run_cli("to-kos", src, "--context", ctx, "-o", f"{tmp_path}/")
    # no Patient ID in the logs below -vv (issue 10, item 8); -vv names both
    assert code == 1 and "differs from Patient ID" in err
    assert "SOMEONE-ELSE" not in err and "PAT-1" not in err
    code, _, err = run_cli("to-kos", src, "--context", ctx, "-o", f"{tmp_path}/", "-vv")
    assert code == 1 and "SOMEONE-ELSE" in err and "PAT-1" in err
    assert not list(tmp_path.glob("2.25.*.dcm"))


def test_code_outside_cid_7010(tmp_path: Path, run_cli: Any) -> None:
    code_ = {"coding": [{"system": "http://snomed.info/sct", "code": "12345", "display": "X"}]}
    src = write_json(tmp_path, bundle(selection(code=code_), patient()))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "CID 7010" in err and "--title" in err
    assert nothing_written(tmp_path)
    code, _, err = run_cli("to-kos", src, "-o", tmp_path / "k.dcm", "--title", "113004")
    assert code == 0, err
    assert_valid_kos(tmp_path / "k.dcm")
    title = pydicom.dcmread(tmp_path / "k.dcm").ConceptNameCodeSequence[0]
    assert (title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning) == (
        "113004",
        "DCM",
        "For Teaching",
    )


def test_instance_uid_that_is_not_a_uid(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(instance=[{"uid": "1.2.03.x"}]), patient()))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "instance[0].uid" in err and "1.2.03.x" in err
    assert nothing_written(tmp_path)


def test_empty_bundle(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, {"resourceType": "Bundle", "type": "collection", "entry": []})
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "no ImagingSelection" in err
    assert nothing_written(tmp_path)


def test_missing_patient_data(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, selection())
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1
    assert "no patient data" in err and "--context" in err and "Patient resource" in err
    assert nothing_written(tmp_path)


def test_patient_resource_without_identifier(tmp_path: Path, run_cli: Any) -> None:
    p = patient()
    del p["identifier"]
    src = write_json(tmp_path, bundle(selection(subject=None), p))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "Patient ID" in err
    assert nothing_written(tmp_path)


def test_missing_context_path(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(), patient()))
    code, _, err = run_cli("to-kos", src, "--context", tmp_path / "nope", "-o", f"{tmp_path}/")
    assert code == 1 and "nope" in err
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ["--title", "999999"],
        ["--title", "113000^SCT"],
        ["--uid-root", "1.02.3"],
        ["--uid-root", "1." + "2" * 60],
        ["--content-datetime", "yesterday"],
        ["--content-datetime", "2024-02-30T10:00:00Z"],
    ],
)
def test_usage_errors(argv: list[str], tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(), patient()))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/", *argv)
    assert code == 2, err
    assert nothing_written(tmp_path)


def test_key_object_title_table() -> None:
    assert key_object_title(Code("113030", "DCM", "anything")) == Code("113030", "DCM", "Manifest")
    assert key_object_title(Code("113030", system=DCM)) is not None
    assert key_object_title(Code("113030", "SCT")) is None
    assert key_object_title(Code(None, text="Manifest")) is None


def test_library_errors_name_what_is_missing() -> None:
    with pytest.raises(InvalidInputError, match="no selection"):
        write_kos([])


def test_context_path_does_not_change_the_bytes(tmp_path: Path, run_cli: Any) -> None:
    """Where the context files are is not content: the same input gives the same UIDs."""
    src = write_json(tmp_path, selection())
    outs = []
    for folder in ("a", "b/c"):
        where = tmp_path / folder
        where.mkdir(parents=True)
        ctx = context_file(where, 1)
        out = where / "kos.dcm"
        code, _, err = run_cli("to-kos", src, "--context", ctx, "-o", out)
        assert code == 0, err
        assert_valid_kos(out)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_segmentation_reader_output(tmp_path: Path, run_cli: Any) -> None:
    """A SEG's selections (one per segment, and its source images) become one KOS with --title."""
    seg = SAMPLES / "seg_ct_small.dcm"
    code, out, err = run_cli("convert", seg, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0, err
    src = tmp_path / "seg.ndjson"
    src.write_text(out)
    code, _, err = run_cli("to-kos", src, "--context", seg, "-o", tmp_path / "k.dcm")
    assert code == 1 and "--title" in err  # a segmented property is no document title
    code, _, err = run_cli(
        "to-kos", src, "--context", seg, "-o", tmp_path / "k.dcm", "--title", "113000"
    )
    assert code == 0, err
    assert "no place in a KOS for category" in err
    assert_valid_kos(tmp_path / "k.dcm")
    segments = {
        i.uid: i.segments
        for s in read_file(tmp_path / "k.dcm").selections
        for i in s.instances
        if i.sop_class_uid == SEG
    }
    assert segments == {pydicom.dcmread(seg, stop_before_pixels=True).SOPInstanceUID: (1, 2)}


def test_issued_that_is_not_an_instant(tmp_path: Path, run_cli: Any) -> None:
    src = write_json(tmp_path, bundle(selection(issued="2024-01-02"), patient()))
    code, _, err = run_cli("to-kos", src, "-o", f"{tmp_path}/")
    assert code == 1 and "sel-1.issued" in err and "instant" in err
    assert nothing_written(tmp_path)
