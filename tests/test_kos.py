"""The KOS reader on generated files: references, subsets, header mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomsel import read_file
from dicomsel.dicom import read_dataset
from dicomsel.dicom.context import ReadOptions
from dicomsel.errors import InvalidInputError, InvalidUIDError
from dicomsel.model import EndpointKind, Identifier, IdentifierKind

from kosfiles import (
    CT,
    ECG,
    ENH_MR,
    SEG,
    SERIES_A1,
    SERIES_A2,
    SERIES_B1,
    STUDY_A,
    STUDY_B,
    basic_kos,
    content_refs,
    invalid_values_allowed,
    set_invalid,
    write,
)
from kosgen import Ref, make_kos, uid

FIVE_HOURS = dt.timedelta(hours=5)

PLUS_1 = dt.timezone(dt.timedelta(hours=1))


def test_one_selection_per_series_across_two_studies(tmp_path: Path) -> None:
    result = read_file(write(basic_kos(), tmp_path, "k.dcm"))
    got = {(s.study_instance_uid, s.series_instance_uid): s for s in result.selections}
    assert set(got) == {(STUDY_A, SERIES_A1), (STUDY_A, SERIES_A2), (STUDY_B, SERIES_B1)}
    a1 = got[(STUDY_A, SERIES_A1)]
    assert [(i.uid, i.sop_class_uid) for i in a1.instances] == [
        (uid("ct", 1), CT),
        (uid("ct", 2), CT),
    ]
    mr = got[(STUDY_A, SERIES_A2)].instances[0]
    assert (mr.sop_class_uid, mr.frames, mr.segments) == (ENH_MR, (2, 5, 7), ())
    seg = got[(STUDY_B, SERIES_B1)].instances[0]
    assert (seg.sop_class_uid, seg.segments, seg.frames) == (SEG, (1, 2), ())


def test_title_identifier_and_header(tmp_path: Path) -> None:
    ds = basic_kos(
        title=("113004", "DCM", "For Teaching"),
        accession="ACC-1",
        tz_offset="-0500",
        content_date="20240102",
        content_time="101500.25",
        description="Look here",
        observer_name="Doe^Jane",
    )
    result = read_file(write(ds, tmp_path, "k.dcm"))
    sel = result.selections[0]
    assert (sel.code.value, sel.code.scheme, sel.code.meaning) == ("113004", "DCM", "For Teaching")
    assert sel.identifiers[0] == Identifier.dicom_uid(uid("kos", "basic"))
    assert sel.issued == dt.datetime(2024, 1, 2, 10, 15, 0, 250000, tzinfo=dt.timezone(-FIVE_HOURS))
    assert sel.based_on[0].identifier is not None
    assert (sel.based_on[0].identifier.value, sel.based_on[0].identifier.kind) == (
        "ACC-1",
        IdentifierKind.ACCESSION,
    )
    assert sel.description == "Look here"
    # PS3.5 6.2.1: the PN keeps its components; the display reads as a name
    assert [(p.actor.display, p.actor.person_name) for p in sel.performers] == [
        ("Jane Doe", "Doe^Jane")
    ]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.value == ds.PatientID


def test_no_timezone_leaves_issued_out_with_a_warning(tmp_path: Path) -> None:
    result = read_file(write(basic_kos(), tmp_path, "k.dcm"))
    assert result.selections[0].issued is None
    assert any("TimezoneOffsetFromUTC" in w for w in result.warnings)
    again = read_file(tmp_path / "k.dcm", ReadOptions(timezone="+01:00"))
    assert again.selections[0].issued == dt.datetime(2024, 1, 2, 10, 15, tzinfo=PLUS_1)
    assert not any("TimezoneOffsetFromUTC" in w for w in again.warnings)


def test_issuer_of_patient_id_oid_becomes_the_system(tmp_path: Path) -> None:
    ds = basic_kos(issuer_of_patient_id="1.2.3.4")
    sel = read_file(write(ds, tmp_path, "k.dcm")).selections[0]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert sel.subject.identifier.system == "urn:oid:1.2.3.4"
    ds = basic_kos(issuer_of_patient_id="HOSPITAL_A")
    sel = read_file(write(ds, tmp_path, "k2.dcm")).selections[0]
    assert sel.subject is not None and sel.subject.identifier is not None
    assert (sel.subject.identifier.system, sel.subject.identifier.assigner) == (None, "HOSPITAL_A")


def test_endpoints_from_retrieve_ae_and_url(tmp_path: Path) -> None:
    result = read_file(write(basic_kos(), tmp_path, "k.dcm"))
    by_series = {s.series_instance_uid: s.endpoints for s in result.selections}
    assert [(e.kind, e.ae_title) for e in by_series[SERIES_A1]] == [(EndpointKind.DIMSE, "PACS_A")]
    assert by_series[SERIES_A2] == ()
    (web,) = by_series[SERIES_B1]
    assert web.kind is EndpointKind.DICOMWEB and web.address is not None
    assert web.address.endswith(STUDY_B)


def test_same_instance_twice_unions_frames(tmp_path: Path) -> None:
    refs = [
        Ref(STUDY_A, SERIES_A2, ENH_MR, uid("mr", 1), frames=(1, 2)),
        Ref(STUDY_A, SERIES_A2, ENH_MR, uid("mr", 1), frames=(2, 9)),
    ]
    result = read_file(write(make_kos(refs), tmp_path, "k.dcm"))
    (inst,) = result.selections[0].instances
    assert inst.frames == (1, 2, 9)


def test_whole_instance_wins_over_frames(tmp_path: Path) -> None:
    refs = [
        Ref(STUDY_A, SERIES_A2, ENH_MR, uid("mr", 1), frames=(1, 2)),
        Ref(STUDY_A, SERIES_A2, ENH_MR, uid("mr", 1)),
    ]
    result = read_file(write(make_kos(refs), tmp_path, "k.dcm"))
    assert result.selections[0].instances[0].frames == ()


def test_waveform_and_composite_items(tmp_path: Path) -> None:
    refs = [
        Ref(STUDY_A, SERIES_A1, ECG, uid("ecg", 1)),
        Ref(STUDY_A, SERIES_A1, "1.2.840.10008.5.1.4.1.1.88.22", uid("sr", 1)),
    ]
    ds = make_kos(refs)
    assert [i.ValueType for i in ds.ContentSequence if "ReferencedSOPSequence" in i] == [
        "WAVEFORM",
        "COMPOSITE",
    ]
    result = read_file(write(ds, tmp_path, "k.dcm"))
    assert {i.uid for i in result.selections[0].instances} == {uid("ecg", 1), uid("sr", 1)}


def test_instance_missing_from_evidence_is_kept_and_reported(tmp_path: Path) -> None:
    ds = basic_kos()
    extra = Dataset()
    extra.RelationshipType = "CONTAINS"
    extra.ValueType = "IMAGE"
    sop = Dataset()
    sop.ReferencedSOPClassUID = CT
    sop.ReferencedSOPInstanceUID = uid("ct", "orphan")
    extra.ReferencedSOPSequence = Sequence([sop])
    ds.ContentSequence.append(extra)
    result = read_file(write(ds, tmp_path, "k.dcm"))
    orphan = [s for s in result.selections if s.series_instance_uid is None]
    assert [i.uid for s in orphan for i in s.instances] == [uid("ct", "orphan")]
    assert any(
        "not listed in CurrentRequestedProcedureEvidenceSequence" in w for w in result.warnings
    )


def test_evidence_only_instances_are_selected(tmp_path: Path) -> None:
    ds = basic_kos()
    ds.ContentSequence = Sequence([i for i in ds.ContentSequence if i.ValueType != "IMAGE"])
    result = read_file(write(ds, tmp_path, "k.dcm"))
    assert sum(len(s.instances) for s in result.selections) == 4
    # the evidence alone gives no frame or segment numbers: whole instances
    assert all(not i.frames and not i.segments for s in result.selections for i in s.instances)


def test_presentation_state_named_by_an_image_item_is_selected(tmp_path: Path) -> None:
    ds = basic_kos()
    ps = Dataset()
    ps.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"
    ps.ReferencedSOPInstanceUID = uid("gsps", 1)
    content_refs(ds)[0].ReferencedSOPSequence = Sequence([ps])
    result = read_file(write(ds, tmp_path, "k.dcm"))
    uids = {i.uid for s in result.selections for i in s.instances}
    assert uid("gsps", 1) in uids


def test_bad_uid_in_a_reference(tmp_path: Path) -> None:
    ds = basic_kos()
    set_invalid(content_refs(ds)[0], "ReferencedSOPInstanceUID", "1.2.03.4")
    with invalid_values_allowed():
        path = write(ds, tmp_path, "bad.dcm")
    with pytest.raises(InvalidUIDError) as info:
        read_file(path)
    msg = str(info.value)
    assert str(path) in msg and "ReferencedSOPInstanceUID (0008,1155)" in msg
    assert "leading zero" in msg


def test_duplicate_frame_number(tmp_path: Path) -> None:
    ds = basic_kos()
    content_refs(ds)[2].ReferencedFrameNumber = [3, 3]
    path = write(ds, tmp_path, "dup.dcm")
    with pytest.raises(InvalidInputError, match=r"ReferencedFrameNumber \(0008,1160\).*duplicate"):
        read_file(path)


def test_no_evidence_and_no_content(tmp_path: Path) -> None:
    from kosfiles import empty_kos

    with pytest.raises(InvalidInputError, match="references no instance"):
        read_file(write(empty_kos(), tmp_path, "empty.dcm"))


def test_incomplete_header_is_read_tolerantly(tmp_path: Path) -> None:
    ds = basic_kos()
    for kw in ("PatientID", "ContentDate", "ContentTime", "ConceptNameCodeSequence"):
        delattr(ds, kw)
    result = read_dataset(ds, "mem.dcm")
    assert len(result.selections) == 3
    sel = result.selections[0]
    assert sel.subject is None and sel.issued is None
    assert sel.code.text == "Key Object Selection"
    joined = "\n".join(result.warnings)
    for kw in ("PatientID", "ContentDate", "ConceptNameCodeSequence"):
        assert kw in joined
