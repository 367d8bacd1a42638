"""The DIMSE source against a real Orthanc on loopback (C-ECHO, C-FIND, C-GET, C-MOVE).

What an export reads over DIMSE must equal what ``convert`` reads from the same
files (real files of other people's software, and the samples), resource for
resource, except the Endpoints, which name the PACS.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import pydicom
import pytest

import dicomsel
from dicomsel.dicom import ReadOptions
from dicomsel.errors import PacsError, UnsupportedObjectError
from dicomsel.io.dimse import DimseSource
from dicomsel.io.pacs import Query, parse_query, ref_of
from dicomsel.io.peer import check_ae_title, parse_peer
from dicomsel.pipeline import ConvertOptions

from conftest import REALDATA, SAMPLES, realdata
from pacs import CALLING_AET, MOVE_AET, free_port

OPTIONS = ConvertOptions(read=ReadOptions(timezone="+01:00"))
DEFLATED = "sr_enhanced_deflated_dcm4che.dcm"
#: pynetdicom 3.0.4 does not close the socket of a refused TCP connection (its shutdown()
#: raises on an unconnected socket before close(); pydicom/pynetdicom PR 999 adds the close):
#: CPython closes it when it is dropped, with a ResourceWarning, which is all this ignores
UNCLOSED_SOCKET = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


def _files() -> list[Path]:
    """The real files and samples the PACS holds (each one a file convert reads)."""
    realdata(DEFLATED)  # skip (fail under CI) without the real data
    files = sorted(REALDATA.glob("*.dcm")) + sorted(SAMPLES.glob("*.dcm"))
    files += sorted((REALDATA / "ko_ihe_xdsi_manifest_pet_10inst_images").glob("*"))
    return [f for f in files if f.is_file()]


@pytest.fixture(scope="module")
def stocked(orthanc: Any) -> Any:
    """Orthanc holding :func:`_files`."""
    orthanc.clear()
    orthanc.upload(_files())
    return orthanc


def _without_endpoints(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resources by id, Endpoints and ``endpoint`` references left out."""
    out = {}
    for r in resources:
        if r["resourceType"] == "Endpoint":
            continue
        r = {k: v for k, v in r.items() if k != "endpoint"}
        out[f"{r['resourceType']}/{r['id']}"] = r
    return out


def _endpoints(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == "Endpoint"]


def _check_same_as_convert(batch: Any) -> None:
    expected = dicomsel.convert([str(f) for f in _files()], OPTIONS)
    got = _without_endpoints(batch.all_resources())
    want = _without_endpoints(expected.all_resources())
    assert sorted(got) == sorted(want)
    for key, resource in want.items():
        assert got[key] == resource, key
    assert batch.count("converted") == expected.count("converted")
    assert batch.count("failed") == 0
    # every selection names the PACS, as a Retrieve AE Title endpoint is written
    endpoints = _endpoints(batch.all_resources())
    assert [(e["name"], e["address"]) for e in endpoints] == [("ORTHANC", "urn:dicom:ae:ORTHANC")]
    ref = f"Endpoint/{endpoints[0]['id']}"
    for r in batch.all_resources():
        if r["resourceType"] == "ImagingSelection":
            assert r["endpoint"] == [{"reference": ref}]


def test_cget_gives_what_convert_gives(stocked: Any) -> None:
    source = DimseSource(stocked.dimse, calling_aet=CALLING_AET)
    _check_same_as_convert(dicomsel.run(source, OPTIONS))


def test_cmove_gives_what_convert_gives(stocked: Any) -> None:
    source = DimseSource(
        stocked.dimse, calling_aet=CALLING_AET, move_port=stocked.move_port, move_aet=MOVE_AET
    )
    _check_same_as_convert(dicomsel.run(source, OPTIONS))


def test_worker_processes_read_what_one_process_reads(stocked: Any) -> None:
    """The source is pickled to worker processes, which open their own associations."""
    pet = pydicom.dcmread(next((REALDATA / "ko_ihe_xdsi_manifest_pet_10inst_images").iterdir()))
    source = DimseSource(stocked.dimse, parse_query([f"PatientID={pet.PatientID}"]))
    one = dicomsel.run(source, OPTIONS)
    two = dicomsel.run(source, ConvertOptions(read=OPTIONS.read, jobs=2))
    assert one.count("converted") >= 10
    assert two.all_resources() == one.all_resources()


def test_items_are_sorted_and_name_the_peer(stocked: Any) -> None:
    items = list(DimseSource(stocked.dimse).items())
    assert len(items) == stocked.instance_count() == len(_files())
    refs = [ref_of(i) for i in items]
    assert {r.peer for r in refs} == {stocked.dimse}
    studies = [r.study_instance_uid for r in refs]
    assert studies == sorted(studies)
    by_uid = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f for f in _files()}
    for r in refs:  # the SOP class C-FIND answered is the file's
        ds = pydicom.dcmread(by_uid[r.sop_instance_uid], stop_before_pixels=True)
        assert r.sop_class_uid == ds.SOPClassUID
        assert (r.study_instance_uid, r.series_instance_uid) == (
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
        )
    pet = [r for r in refs if "pet_10inst_images" in str(by_uid[r.sop_instance_uid])]
    numbers = [
        int(pydicom.dcmread(by_uid[r.sop_instance_uid], stop_before_pixels=True).InstanceNumber)
        for r in pet
    ]
    assert len(pet) == 10 and numbers == sorted(numbers)


def _uids(source: DimseSource) -> set[str]:
    return {ref_of(i).sop_instance_uid for i in source.items()}


def _files_where(**attrs: str) -> set[str]:
    out = set()
    for f in _files():
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if all(str(ds.get(k, "")) == v for k, v in attrs.items()):
            out.add(str(ds.SOPInstanceUID))
    return out


def test_query_narrows_at_each_level(stocked: Any) -> None:
    pet = pydicom.dcmread(next((REALDATA / "ko_ihe_xdsi_manifest_pet_10inst_images").iterdir()))
    for pairs, attrs in (
        ([f"StudyInstanceUID={pet.StudyInstanceUID}"], {"StudyInstanceUID": pet.StudyInstanceUID}),
        ([f"PatientID={pet.PatientID}"], {"PatientID": pet.PatientID}),
        (["Modality=SEG"], {"Modality": "SEG"}),
        (
            ["SOPClassUID=1.2.840.10008.5.1.4.1.1.88.59"],
            {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.88.59"},
        ),
        (
            [f"StudyInstanceUID={pet.StudyInstanceUID}", "InstanceNumber=3"],
            {"StudyInstanceUID": pet.StudyInstanceUID, "InstanceNumber": "3"},
        ),
    ):
        want = _files_where(**attrs)
        assert want, attrs
        got = _uids(DimseSource(stocked.dimse, parse_query(pairs)))
        assert got == want, pairs
    assert _uids(DimseSource(stocked.dimse, Query(study=(("StudyDate", "19000101"),)))) == set()


def test_deflated_sr_arrives_deflated(stocked: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deflated SR is received in the transfer syntax it is stored in, and converts."""
    from dicomsel.io import dimse

    path = realdata(DEFLATED)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.DeflatedExplicitVRLittleEndian
    received: list[str] = []
    read_part10 = dimse.read_part10

    def spy(data: bytes, key: str, reader: Any) -> Any:
        meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
        received.append(str(meta.TransferSyntaxUID))
        return read_part10(data, key, reader)

    monkeypatch.setattr(dimse, "read_part10", spy)
    query = parse_query([f"SOPInstanceUID={ds.SOPInstanceUID}"])
    want = _without_endpoints(dicomsel.convert([str(path)], OPTIONS).all_resources())
    assert want
    for extra in ({}, {"move_port": stocked.move_port, "move_aet": MOVE_AET}):
        received.clear()
        batch = dicomsel.run(DimseSource(stocked.dimse, query, **extra), OPTIONS)
        assert received == [pydicom.uid.DeflatedExplicitVRLittleEndian]
        assert batch.count("converted") == 1
        assert _without_endpoints(batch.all_resources()) == want


@UNCLOSED_SOCKET
def _raw_data(path: Path) -> str:
    """A Raw Data Storage instance (a class no reader handles), written by pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RawDataStorage

    ds = Dataset()
    ds.SOPClassUID = RawDataStorage
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.7001"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.7002"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.7003"
    ds.PatientID = "RAW-1"
    ds.PatientName = "Raw^Data"
    ds.Modality = "OT"
    ds.InstanceNumber = 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RawDataStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


@UNCLOSED_SOCKET
def test_class_without_reader_is_skipped_without_retrieve(stocked: Any, tmp_path: Path) -> None:
    uid = _raw_data(tmp_path / "raw.dcm")
    answer: Any = stocked.rest("POST", "/instances", (tmp_path / "raw.dcm").read_bytes())
    try:
        source = DimseSource(stocked.dimse, parse_query([f"SOPInstanceUID={uid}"]))
        (item,) = source.items()
        # nothing is retrieved: an unreachable peer would fail a retrieve
        unreachable = DimseSource(f"dimse://ORTHANC@127.0.0.1:{free_port()}")
        with pytest.raises(UnsupportedObjectError, match="Raw Data Storage"):
            unreachable.read(item, OPTIONS.read)
        batch = dicomsel.run(source, OPTIONS)
        assert [o.status for o in batch.outcomes] == ["skipped"]
    finally:
        stocked.rest("DELETE", f"/instances/{answer['ID']}")


@UNCLOSED_SOCKET
def test_echo(orthanc: Any) -> None:
    DimseSource(orthanc.dimse).echo()
    with pytest.raises(PacsError, match="nothing answered"):
        DimseSource(f"dimse://ORTHANC@127.0.0.1:{free_port()}", timeout=5).echo()


def test_unknown_calling_ae_is_refused(stocked: Any) -> None:
    source = DimseSource(stocked.dimse, calling_aet="NOT-REGISTERED")
    with pytest.raises(PacsError, match="C-FIND") as e:
        list(source.items())
    assert e.value.path == stocked.dimse and "NOT-REGISTERED" in str(e.value)
    item = next(DimseSource(stocked.dimse).items())
    with pytest.raises(PacsError, match="C-GET") as e:
        source.read(item, OPTIONS.read)
    assert e.value.path == item.key


@UNCLOSED_SOCKET
def test_nothing_listening(stocked: Any) -> None:
    item = next(DimseSource(stocked.dimse).items())
    source = DimseSource(f"dimse://ORTHANC@127.0.0.1:{free_port()}", timeout=5)
    with pytest.raises(PacsError, match="nothing answered"):
        list(source.items())
    with pytest.raises(PacsError, match="nothing answered") as e:
        source.read(item, OPTIONS.read)
    assert e.value.path == item.key


def test_missing_instance_is_a_pacs_error_with_status(stocked: Any) -> None:
    item = next(DimseSource(stocked.dimse).items())
    ref = ref_of(item)
    gone = item.key.replace(ref.sop_instance_uid, "1.2.3.4.5.6.7.8.9")
    from dicomsel.io.base import Item

    bad = Item(gone, explicit=False, sop_class_uid=item.sop_class_uid)
    for source in (
        DimseSource(stocked.dimse),
        DimseSource(stocked.dimse, move_port=stocked.move_port, move_aet=MOVE_AET),
    ):
        with pytest.raises(PacsError, match=r"1\.2\.3\.4\.5\.6\.7\.8\.9") as e:
            source.read(bad, OPTIONS.read)
        assert e.value.path == gone


def test_move_destination_unknown_to_the_peer(stocked: Any) -> None:
    item = next(DimseSource(stocked.dimse).items())
    source = DimseSource(stocked.dimse, move_port=free_port(), move_aet="UNKNOWNDEST")
    with pytest.raises(PacsError, match=r"C-MOVE .*0x[0-9A-F]{4}") as e:
        source.read(item, OPTIONS.read)
    assert e.value.path == item.key


def test_source_pickles_and_parses() -> None:
    source = DimseSource("dimse://PACS@pacs.example:11112", calling_aet="ME ")
    assert pickle.loads(pickle.dumps(source)) == source
    assert source.calling_aet == "ME"
    peer = parse_peer("dimse://ORTHANC@[::1]:104")
    assert (peer.ae_title, peer.host, peer.port) == ("ORTHANC", "::1", 104)
    for bad, why in (
        ("dimse://@host:104", "empty"),
        ("dimse://A\\B@host:104", "printable"),
        ("dimse://ABCDEFGHIJKLMNOPQ@host:104", "16"),
        ("dimse://PACS@host:0", "1..65535"),
        ("dimse://PACS@host:70000", "1..65535"),
        ("dimse://PACS@host", "dimse://CALLED_AET@HOST:PORT"),
        ("http://PACS@host:104", "dimse://CALLED_AET@HOST:PORT"),
    ):
        with pytest.raises(ValueError, match=why):
            DimseSource(bad)
    with pytest.raises(ValueError, match="calling AE"):
        check_ae_title("é", "calling AE")
