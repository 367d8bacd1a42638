"""DICOM JSON input (PS3.18 F.2): results from the JSON model equal results from the file.

The JSON is written by independent writers: pydicom's ``Dataset.to_json_dict`` (bulk
data dropped) and Orthanc's WADO-RS metadata; the file is read from disk.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataelem import DataElement

from dicomsel import ConvertOptions, convert
from dicomsel.dicom import ReadOptions, read_file
from dicomsel.dicom.dicomjson import is_dicom_json, read_json_dataset
from dicomsel.errors import (
    DicomselError,
    InvalidInputError,
    NotDicomError,
    UnsupportedObjectError,
)

from conftest import REALDATA, SAMPLES, realdata

OPTIONS = ConvertOptions(read=ReadOptions(timezone="+01:00"), item_timeout=None)


def _names() -> list[str]:
    real = sorted(str(p.relative_to(REALDATA)) for p in REALDATA.rglob("*.dcm"))
    return [f"realdata/{n}" for n in real] + [f"sample/{p.name}" for p in SAMPLES.glob("*.dcm")]


def _path(name: str) -> Path:
    kind, _, rest = name.partition("/")
    return realdata(rest) if kind == "realdata" else SAMPLES / rest


def _to_json(path: Path) -> dict[str, Any]:
    """pydicom's DICOM JSON of a file, bulk data (over 1 KiB) dropped, as a server might."""
    ds = pydicom.dcmread(path)

    def bulk(elem: DataElement) -> str:
        return f"http://unreachable.invalid/bulk/{elem.tag:08X}"

    obj = ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=bulk)

    def drop(d: dict[str, Any]) -> None:
        for k in [k for k, v in d.items() if "BulkDataURI" in v]:
            del d[k]
        for v in d.values():
            if v.get("vr") == "SQ":
                for item in v.get("Value", []):
                    drop(item)

    drop(obj)
    return obj


def _read(path: Path, options: ReadOptions) -> Any:
    try:
        return read_file(path, options)
    except UnsupportedObjectError:
        return None


@pytest.mark.parametrize("name", _names() or ["realdata/absent.dcm"])
@pytest.mark.parametrize("seg_frames", [False, True])
def test_json_reads_as_the_file(name: str, seg_frames: bool) -> None:
    path = _path(name)
    options = ReadOptions(timezone="+01:00", seg_frames=seg_frames)
    want = _read(path, options)
    obj = _to_json(path)
    if want is None:
        with pytest.raises(UnsupportedObjectError):
            read_json_dataset(obj, str(path), options)
        return
    got = read_json_dataset(json.dumps(obj), str(path), options)
    assert got.sop_class_uid == want.sop_class_uid
    assert got.sop_instance_uid == want.sop_instance_uid
    assert got.selections == want.selections
    assert got.observations == want.observations
    # a one-element array (as WADO-RS metadata comes), and a BulkDataURI never fetched
    obj["7FE00010"] = {"vr": "OW", "BulkDataURI": "http://unreachable.invalid/pixels"}
    assert read_json_dataset([obj], str(path), options).selections == want.selections


@pytest.mark.parametrize("name", _names() or ["realdata/absent.dcm"])
def test_convert_reads_json_files_as_the_dicom_files(name: str, tmp_path: Path) -> None:
    path = _path(name)
    copy = tmp_path / (path.stem + ".json")
    copy.write_text(json.dumps(_to_json(path)), encoding="utf-8")
    want, got = convert([str(path)], OPTIONS), convert([str(copy)], OPTIONS)
    assert got.all_resources() == want.all_resources()
    assert [o.status for o in got.outcomes] == [o.status for o in want.outcomes]


def _binary_as_value(obj: dict[str, Any]) -> list[str]:
    """Binary attributes given as Value numbers (Orthanc does; PS3.18 F.2.7 does not allow it)."""
    found = []
    for tag, attr in obj.items():
        if attr.get("vr") in ("OB", "OD", "OF", "OL", "OV", "OW", "UN") and "Value" in attr:
            found.append(tag)
        if attr.get("vr") == "SQ":
            for item in attr.get("Value") or []:
                found += _binary_as_value(item or {})
    return found


def test_orthanc_metadata_reads_as_the_file(orthanc: Any) -> None:
    from dicomweb_client import DICOMwebClient

    from dicomsel.io.pacs import whole_instance

    files = [_path(n) for n in _names()]
    orthanc.clear()
    orthanc.upload(files)
    client = DICOMwebClient(orthanc.dicomweb)
    compared = 0
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        meta = client.retrieve_instance_metadata(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
        )
        options = ReadOptions(timezone="+01:00", seg_frames=True)
        want = _read(path, options)
        if want is None:
            continue
        cut = _binary_as_value(meta)
        try:
            got = read_json_dataset(meta, str(path), options)
        except DicomselError:
            # only a reader that needs a binary value Orthanc cut may fail on its metadata;
            # the DICOMweb source reads such an object whole, never from metadata
            assert cut and whole_instance(ds.SOPClassUID), path
            continue
        for tag in cut:
            assert any(f"{tag[:4]},{tag[4:]})" in i.reason for i in got.issues), (path, tag)
        same = (got.selections, got.observations) == (want.selections, want.observations)
        # plain images (read from metadata by the DICOMweb source) always read the same
        assert same or (cut and whole_instance(ds.SOPClassUID)), path
        compared += same
    assert compared >= 20


def test_folders_skip_json_that_is_not_dicom_and_named_files_fail(tmp_path: Path) -> None:
    kos = SAMPLES / "kos_single_frame.dcm"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_kos.json").write_text(json.dumps(_to_json(kos)), encoding="utf-8")
    fhir = convert([str(kos)], OPTIONS).all_resources()
    (folder / "b_fhir.json").write_text(json.dumps(fhir[0]), encoding="utf-8")
    (folder / "c_broken.json").write_text("{not json", encoding="utf-8")
    batch = convert([str(folder)], OPTIONS)
    assert [o.status for o in batch.outcomes] == ["converted", "skipped", "skipped"]
    assert batch.all_resources() == fhir
    named = convert([str(folder / "b_fhir.json"), str(folder / "c_broken.json")], OPTIONS)
    assert [o.status for o in named.outcomes] == ["failed", "failed"]
    assert "not a DICOM JSON dataset" in str(named.outcomes[0].reason)


def _kos_json() -> dict[str, Any]:
    return _to_json(SAMPLES / "kos_single_frame.dcm")


def test_bad_element_names_the_file_and_tag() -> None:
    obj = _kos_json()
    obj["00081030"] = {"vr": "LO", "InlineBinary": "***not base64***"}
    with pytest.raises(InvalidInputError) as e:
        read_json_dataset(obj, "x.json")
    assert e.value.path == "x.json"
    assert e.value.attribute == "StudyDescription (0008,1030)"


def test_bad_nested_element_names_its_sequence() -> None:
    obj = _kos_json()
    seq = obj["0040A375"]["Value"][0]
    seq["00081030"] = {"vr": "LO", "InlineBinary": "***not base64***"}
    with pytest.raises(InvalidInputError) as e:
        read_json_dataset(obj, "x.json")
    assert e.value.attribute == (
        "CurrentRequestedProcedureEvidenceSequence (0040,A375) item 1 > "
        "StudyDescription (0008,1030)"
    )


def test_attribute_without_vr_fails() -> None:
    obj = _kos_json()
    obj["00081030"] = {"Value": ["x"]}
    assert not is_dicom_json(obj)
    with pytest.raises(NotDicomError):
        read_json_dataset(obj, "x.json")


def test_several_datasets_fail() -> None:
    obj = _kos_json()
    with pytest.raises(InvalidInputError, match="holds 2 DICOM JSON datasets"):
        read_json_dataset([obj, obj], "x.json")


def test_inline_binary_is_decoded() -> None:
    obj = _kos_json()
    obj["00091010"] = {"vr": "OB", "InlineBinary": base64.b64encode(b"\x01\x02").decode()}
    obj["00090010"] = {"vr": "LO", "Value": ["TEST"]}
    want = read_file(SAMPLES / "kos_single_frame.dcm")
    assert read_json_dataset(obj).selections == want.selections


def test_empty_attribute_without_value() -> None:
    # as Orthanc sends an empty attribute: {"vr": "DA"}, no Value
    obj = _kos_json()
    obj["00080020"] = {"vr": "DA"}
    got = read_json_dataset(obj)
    assert got.selections
