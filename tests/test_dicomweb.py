"""The DICOMweb source against a real Orthanc on loopback (QIDO-RS, WADO-RS).

What an export from Orthanc gives is checked against ``convert`` on the files that
were uploaded (an independent path: files read from disk), against what Orthanc's
own REST API says it holds, and against the HTTP requests actually sent (recorded
at ``requests.Session.send``).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
import requests

from dicomsel import ConvertOptions, convert
from dicomsel.dicom import ReadOptions, ReadResult
from dicomsel.errors import PacsError
from dicomsel.io.base import Item
from dicomsel.io.dicomweb import DicomwebSource
from dicomsel.io.pacs import InstanceRef, item_for, parse_query, ref_of
from dicomsel.pipeline import run

from conftest import REALDATA, SAMPLES, realdata

OPTIONS = ConvertOptions(read=ReadOptions(timezone="+01:00"), item_timeout=None)


def _files() -> list[Path]:
    realdata("sr_enhanced_deflated_dcm4che.dcm")  # skip (fail under CI) without the folder
    return sorted(REALDATA.rglob("*.dcm")) + sorted(SAMPLES.glob("*.dcm"))


RAW_UID = "2.25.301174826343349734126318612830911208537"


def _raw_data_bytes() -> bytes:
    """A Raw Data Storage instance (a class no reader handles) written by pydicom."""
    from io import BytesIO

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RawDataStorage

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = RawDataStorage, RAW_UID
    ds.StudyInstanceUID = "2.25.301174826343349734126318612830911208538"
    ds.SeriesInstanceUID = "2.25.301174826343349734126318612830911208539"
    ds.PatientID, ds.Modality, ds.InstanceNumber = "RAW", "OT", 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RawDataStorage
    ds.file_meta.MediaStorageSOPInstanceUID = RAW_UID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded(orthanc: Any) -> Any:
    """Orthanc holding every real and sample file, and one instance no reader handles."""
    orthanc.clear()
    orthanc.upload(_files())
    orthanc.rest("POST", "/instances", _raw_data_bytes())
    return orthanc


@dataclass
class Sent:
    url: str
    accept: str
    authorization: str
    status: int
    body: bytes


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every HTTP request the source sends, with its answer."""
    log: list[Sent] = []
    send = requests.Session.send

    def recording(self: requests.Session, request: Any, **kw: Any) -> requests.Response:
        resp = send(self, request, **kw)
        accept = str(request.headers.get("Accept", ""))
        auth = str(request.headers.get("Authorization", ""))
        log.append(Sent(str(request.url), accept, auth, resp.status_code, resp.content))
        return resp

    monkeypatch.setattr(requests.Session, "send", recording)
    return log


def _without_endpoints(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for res in resources:
        if res["resourceType"] == "Endpoint":
            continue
        res = {k: v for k, v in res.items() if k != "endpoint"}
        out[f"{res['resourceType']}/{res['id']}"] = res
    return out


def _rest_instances(orthanc: Any) -> dict[str, dict[str, str]]:
    """SOP Instance UID -> main tags, from Orthanc's REST API (not DICOMweb)."""
    found = {}
    for inst in orthanc.rest("GET", "/instances?expand"):
        tags = orthanc.rest("GET", f"/instances/{inst['ID']}/simplified-tags")
        found[tags["SOPInstanceUID"]] = tags
    return found


def test_same_resources_as_convert(loaded: Any) -> None:
    files = _files()
    expected = convert([str(p) for p in files], OPTIONS)
    got = run(DicomwebSource(loaded.dicomweb), OPTIONS)

    want, have = (
        _without_endpoints(expected.all_resources()),
        _without_endpoints(got.all_resources()),
    )
    assert sorted(have) == sorted(want)
    for key in want:
        assert have[key] == want[key], key
    # every instance Orthanc holds is listed once; converted ones are those convert converted
    assert len(got.outcomes) == len(_rest_instances(loaded))
    assert len({o.path for o in got.outcomes}) == len(got.outcomes)
    converted = {o.sop_instance_uid for o in got.outcomes if o.status == "converted"}
    assert converted == {o.sop_instance_uid for o in expected.outcomes if o.status == "converted"}
    # what no reader handles is skipped, not failed
    assert {o.status for o in got.outcomes} == {"converted", "skipped"}
    assert [o.status for o in got.outcomes if o.path.endswith(RAW_UID)] == ["skipped"]

    # the selections name the DICOMweb base as their one endpoint
    endpoints = [r for r in got.all_resources() if r["resourceType"] == "Endpoint"]
    assert len(endpoints) == 1
    (ep,) = endpoints
    assert ep["address"] == loaded.dicomweb
    assert ep["connectionType"][0]["coding"][0]["code"] == "dicom-wado-rs"
    for res in got.all_resources():
        if res["resourceType"] == "ImagingSelection":
            assert res["endpoint"] == [{"reference": f"Endpoint/{ep['id']}"}]


def test_order_and_output_do_not_depend_on_the_server(loaded: Any) -> None:
    source = DicomwebSource(loaded.dicomweb)
    keys = [i.key for i in source.items()]
    refs = [ref_of(i) for i in source.items()]
    assert keys == [i.key for i in source.items()]
    studies = [r.study_instance_uid for r in refs]
    assert studies == sorted(studies)
    a = run(source, OPTIONS).all_resources()
    assert a == run(pickle.loads(pickle.dumps(source)), OPTIONS).all_resources()


def test_paging_lists_every_instance_once(loaded: Any, sent: list[Sent]) -> None:
    items = list(DicomwebSource(loaded.dicomweb, page_size=2).items())
    keys = [i.key for i in items]
    assert len(keys) == len(set(keys))
    assert {ref_of(i).sop_instance_uid for i in items} == set(_rest_instances(loaded))
    # the 10-image PET series took 5 full pages and a short (empty) one
    pet = [s.url for s in sent if "/instances?" in s.url and "offset=10" in s.url]
    assert pet, "no page at offset 10: paging did not happen"
    assert all("limit=2" in s.url for s in sent)


def _sop_classes(orthanc: Any) -> dict[str, str]:
    return {uid: tags["SOPClassUID"] for uid, tags in _rest_instances(orthanc).items()}


def test_query_narrows_by_modality(loaded: Any) -> None:
    q = parse_query(["Modality=SR"])
    items = list(DicomwebSource(loaded.dicomweb, q).items())
    want = {uid for uid, t in _rest_instances(loaded).items() if t.get("Modality") == "SR"}
    assert want and {ref_of(i).sop_instance_uid for i in items} == want


def test_query_narrows_by_sop_class(loaded: Any) -> None:
    seg = "1.2.840.10008.5.1.4.1.1.66.4"
    items = list(DicomwebSource(loaded.dicomweb, parse_query([f"SOPClassUID={seg}"])).items())
    want = {uid for uid, c in _sop_classes(loaded).items() if c == seg}
    assert len(want) >= 2 and {ref_of(i).sop_instance_uid for i in items} == want
    assert {i.sop_class_uid for i in items} == {seg}


def test_query_narrows_by_study_date_range(loaded: Any) -> None:
    dates = {}
    for p in _files():
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        dates[ds.SOPInstanceUID] = str(ds.get("StudyDate", "") or "")
    known = sorted({d for d in dates.values() if d})
    assert len(known) >= 3
    low, high = known[1], known[-2]
    q = parse_query([f"StudyDate={low}-{high}"])
    items = list(DicomwebSource(loaded.dicomweb, q).items())
    want = {uid for uid, d in dates.items() if d and low <= d <= high}
    assert want and {ref_of(i).sop_instance_uid for i in items} == want


def test_images_are_read_from_metadata_only(loaded: Any, sent: list[Sent]) -> None:
    source = DicomwebSource(loaded.dicomweb)
    items = list(source.items())
    sent.clear()
    batch = run(source, OPTIONS)
    # plain images: what holds pixel data, segmentations aside (read whole: a SEG's content)
    images = set()
    for p in _files():
        ds = pydicom.dcmread(p)
        if "PixelData" in ds and ds.get("Modality") != "SEG":
            images.add(str(ds.SOPInstanceUID))
    assert images <= {ref_of(i).sop_instance_uid for i in items}
    assert len(images) >= 10
    for s in sent:
        assert "/frames" not in s.url and "/bulk" not in s.url and "/rendered" not in s.url
        sop = s.url.split("/instances/")[-1].split("/")[0]
        if sop in images:
            assert s.url.endswith("/metadata"), s.url
            assert "application/dicom+json" in s.accept
            assert b"\x7f\xe0\x10\x00" not in s.body  # no Pixel Data came back
    assert {o.status for o in batch.outcomes} <= {"converted", "skipped"}


def test_unsupported_classes_are_skipped_without_a_request(loaded: Any, sent: list[Sent]) -> None:
    source = DicomwebSource(loaded.dicomweb)
    (item,) = [i for i in source.items() if i.key.endswith(RAW_UID)]
    assert item.sop_class_uid == "1.2.840.10008.5.1.4.1.1.66"
    sent.clear()
    batch = run(_Listed(source, [item]), OPTIONS)
    assert [o.status for o in batch.outcomes] == ["skipped"]
    assert "no reader" in str(batch.outcomes[0].reason)
    assert "Raw Data Storage" in str(batch.outcomes[0].reason)
    assert sent == []


def test_deflated_sr_is_read_whole_as_stored(loaded: Any, sent: list[Sent]) -> None:
    path = realdata("sr_enhanced_deflated_dcm4che.dcm")
    stored = path.read_bytes()
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1.99"
    uid = pydicom.dcmread(path).SOPInstanceUID
    source = DicomwebSource(loaded.dicomweb)
    (item,) = [i for i in source.items() if i.key.endswith(uid)]
    sent.clear()
    got = source.read(item, OPTIONS.read)
    (req,) = sent
    assert "transfer-syntax=*" in req.accept and 'type="application/dicom"' in req.accept
    assert stored in req.body  # byte for byte the stored (deflated) file
    want = convert([str(path)], OPTIONS)
    have = run(_Listed(source, [item]), OPTIONS)
    assert _without_endpoints(have.all_resources()) == _without_endpoints(want.all_resources())
    assert got.sop_instance_uid == uid


@dataclass(frozen=True)
class _Listed:
    """A DICOMweb source listing given items only (some of them made up)."""

    source: DicomwebSource
    listed: list[Item]

    def items(self) -> Iterator[Item]:
        yield from self.listed

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        return self.source.read(item, options)


def test_missing_instance_fails_alone(loaded: Any) -> None:
    source = DicomwebSource(loaded.dicomweb)
    real = [i for i in source.items() if i.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.59"]
    first = ref_of(real[0])
    ghost = item_for(
        InstanceRef(
            source.peer,
            first.study_instance_uid,
            first.series_instance_uid,
            "1.2.3.4.5.6.7.8.9",
            first.sop_class_uid,
        )
    )
    batch = run(_Listed(source, [ghost, *real]), OPTIONS)
    statuses = [o.status for o in batch.outcomes]
    assert statuses == ["failed"] + ["converted"] * len(real)
    assert "404" in str(batch.outcomes[0].reason)
    with pytest.raises(PacsError, match="HTTP 404") as e:
        source.read(ghost, OPTIONS.read)
    assert e.value.path == ghost.key


def test_unreachable_server_is_a_pacs_error() -> None:
    from pacs import free_port

    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    source = DicomwebSource(url, retries=0)
    with pytest.raises(PacsError, match="cannot reach") as e:
        source.echo()
    assert e.value.path == url
    with pytest.raises(PacsError):
        list(source.items())
    sr = item_for(
        InstanceRef(url, "1.2.3", "1.2.3.4", "1.2.3.4.5", "1.2.840.10008.5.1.4.1.1.88.59")
    )
    ct = item_for(InstanceRef(url, "1.2", "1.3", "1.4", "1.2.840.10008.5.1.4.1.1.2"))
    batch = run(_Listed(source, [sr, ct]), OPTIONS)
    assert all(url in str(o.reason) or o.path.startswith(url) for o in batch.outcomes)
    assert [o.status for o in batch.outcomes] == ["failed", "failed"]


def test_credentials_never_name_the_peer(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, sent: list[Sent]
) -> None:
    monkeypatch.setenv("DICOMSEL_TEST_TOKEN", "s3cr3t-token")
    url = loaded.dicomweb.replace("http://", "http://user:pa55word@")
    source = DicomwebSource(url, token_env="DICOMSEL_TEST_TOKEN")
    source.echo()
    assert sent[-1].authorization == "Bearer s3cr3t-token"
    items = list(source.items())
    assert items and all("pa55word" not in i.key for i in items)
    assert all("pa55word" not in s.url for s in sent)
    basic = DicomwebSource(url)
    basic.echo()
    assert sent[-1].authorization.startswith("Basic ")
    assert basic.peer == loaded.dicomweb
    ghost = item_for(
        InstanceRef(source.peer, "1.2.3", "1.2.3.4", "1.2.3.4.5", items[0].sop_class_uid)
    )
    with pytest.raises(PacsError) as e:
        source.read(ghost, OPTIONS.read)
    assert "s3cr3t" not in str(e.value) and "pa55word" not in str(e.value)
    assert "s3cr3t" not in repr(source) and b"s3cr3t" not in pickle.dumps(source)
    monkeypatch.delenv("DICOMSEL_TEST_TOKEN")
    with pytest.raises(PacsError, match="DICOMSEL_TEST_TOKEN"):
        DicomwebSource(loaded.dicomweb, token_env="DICOMSEL_TEST_TOKEN").echo()
