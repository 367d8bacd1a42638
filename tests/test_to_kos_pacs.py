"""``to-kos --context PACS`` and ``to-kos --store PACS`` against a real Orthanc on loopback.

A PACS as context must give the same documents, byte for byte, as the DICOM
files it holds; a KOS sent by C-STORE or STOW-RS must then be in the PACS, as
its REST API (not dicomsel) says.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

import dicomsel
from dicomsel.dicom import ReadOptions
from dicomsel.io.store import context_answers, store
from dicomsel.pipeline import ConvertOptions

from conftest import realdata
from pacs import CALLING_AET, free_port
from validators import assert_valid_kos

PET_KOS = "ko_ihe_xdsi_manifest_pet_10inst.dcm"
PET_IMAGES = "ko_ihe_xdsi_manifest_pet_10inst_images"
WHEN = "2024-01-02T10:15:00+01:00"
#: see tests/test_dimse.py: pynetdicom 3.0.4 leaves a refused connection's socket to the GC
UNCLOSED_SOCKET = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


def _images() -> list[Path]:
    return sorted(p for p in realdata(PET_IMAGES).iterdir() if p.is_file())


@pytest.fixture(scope="module")
def pet(orthanc: Any) -> Any:
    """Orthanc holding the 10 PET images the real KOS references (and nothing else)."""
    orthanc.clear()
    orthanc.upload(_images())
    return orthanc


@pytest.fixture
def selections(tmp_path: Path) -> Path:
    """NDJSON of the PET KOS and images, with what only a context gives taken out.

    SOP classes are dropped from every instance, and the image series' selection
    lists no instance (it selects the whole series): the context must give the
    classes, the series' instances, and the patient and study attributes.
    """
    files = [str(realdata(PET_KOS)), *map(str, _images())]
    batch = dicomsel.convert(files, ConvertOptions(read=ReadOptions(timezone="+01:00")))
    lines = []
    whole_series = 0
    for r in batch.all_resources():
        if r["resourceType"] != "ImagingSelection":
            continue
        if r.get("code", {}).get("coding", [{}])[0].get("code") == "113030":
            for inst in r.get("instance", ()):
                inst.pop("sopClass", None)
        else:
            r.pop("instance", None)
            whole_series += 1
        r.pop("endpoint", None)
        lines.append(json.dumps(r))
    assert whole_series == 1
    path = tmp_path / "pet.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def _to_kos(run_cli: Any, src: Path, out: Path, *extra: Any) -> dict[str, bytes]:
    out.mkdir()
    code, stdout, err = run_cli(
        "to-kos", src, "--title", "113000", "--content-datetime", WHEN, "-o", f"{out}/", *extra
    )
    assert code == 0, err
    written = stdout.split()
    assert len(written) == 2
    return {Path(p).name: Path(p).read_bytes() for p in written}


def test_context_from_the_pacs_equals_context_from_the_files(
    pet: Any, selections: Path, tmp_path: Path, run_cli: Any
) -> None:
    folder = realdata(PET_IMAGES)
    from_files = _to_kos(run_cli, selections, tmp_path / "files", "--context", folder)
    for path in from_files:
        assert_valid_kos(tmp_path / "files" / path)
    first = pydicom.dcmread(_images()[0], stop_before_pixels=True)
    kos = pydicom.dcmread(io.BytesIO(next(iter(from_files.values()))))
    # the context gave what the input lacks
    assert kos.PatientName == first.PatientName and kos.StudyDate == first.StudyDate
    for i, source in enumerate((pet.dimse, pet.dicomweb)):
        got = _to_kos(run_cli, selections, tmp_path / f"pacs{i}", "--context", source)
        assert got == from_files, source


def test_context_answers_are_the_files(pet: Any) -> None:
    ds = pydicom.dcmread(_images()[0], stop_before_pixels=True)
    for source in (pet.dimse, pet.dicomweb):
        answers = context_answers(source, [ds.StudyInstanceUID, "1.2.3.4.5.6"])
        assert len(answers) == 10
        for a in answers:
            assert a.StudyInstanceUID == ds.StudyInstanceUID
            for keyword in ("PatientID", "PatientName", "PatientSex", "StudyDate", "StudyID"):
                assert str(a.get(keyword, "")) == str(ds.get(keyword, "")), (source, keyword)
        files = {
            str(f.SOPInstanceUID): (str(f.SOPClassUID), str(f.SeriesInstanceUID))
            for f in (pydicom.dcmread(p, stop_before_pixels=True) for p in _images())
        }
        assert {
            str(a.SOPInstanceUID): (str(a.SOPClassUID), str(a.SeriesInstanceUID)) for a in answers
        } == files


def _stored(orthanc: Any, uid: str) -> pydicom.Dataset | None:
    found = orthanc.rest("POST", "/tools/lookup", uid.encode())
    ids = [f["ID"] for f in found or () if f["Type"] == "Instance"]
    if not ids:
        return None
    req = orthanc.url + f"/instances/{ids[0]}/file"
    import urllib.request

    with urllib.request.urlopen(req, timeout=30) as resp:
        # a Part 10 file: preamble, DICM, file meta (dcmread refuses anything else)
        return pydicom.dcmread(io.BytesIO(resp.read()))


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_store_sends_the_kos(
    pet: Any, selections: Path, tmp_path: Path, run_cli: Any, kind: str
) -> None:
    target = pet.dimse if kind == "dimse" else pet.dicomweb
    before = pet.instance_count()
    written = _to_kos(
        run_cli,
        selections,
        tmp_path / "out",
        "--context",
        realdata(PET_IMAGES),
        "--store",
        target,
        "--aet",
        CALLING_AET,
    )
    assert pet.instance_count() == before + len(written)
    for data in written.values():
        mine = pydicom.dcmread(io.BytesIO(data))
        theirs = _stored(pet, str(mine.SOPInstanceUID))
        assert theirs is not None, kind
        assert theirs.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
        # the same dataset arrived (the file meta is the receiver's own)
        assert theirs == mine
    for data in written.values():
        uid = str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)
        pet.rest("DELETE", f"/instances/{_lookup_id(pet, uid)}")


def _lookup_id(orthanc: Any, uid: str) -> str:
    found = orthanc.rest("POST", "/tools/lookup", uid.encode())
    return str(next(f["ID"] for f in found if f["Type"] == "Instance"))


@UNCLOSED_SOCKET
def test_store_failures(pet: Any, selections: Path, tmp_path: Path, run_cli: Any) -> None:
    ds = pydicom.dcmread(realdata(PET_KOS))
    nobody = f"dimse://ORTHANC@127.0.0.1:{free_port()}"
    with pytest.raises(dicomsel.errors.PacsError, match="nothing answered"):
        store(nobody, [ds], timeout=5)
    with pytest.raises(dicomsel.errors.PacsError, match="STOW-RS"):
        store(f"http://127.0.0.1:{free_port()}/dicom-web", [ds], timeout=5)
    with pytest.raises(ValueError, match="not a PACS"):
        store(str(tmp_path), [ds])
    (tmp_path / "o").mkdir()
    args = ["to-kos", selections, "--title", "113000", "--content-datetime", WHEN]
    args += ["--context", realdata(PET_IMAGES), "-o", f"{tmp_path}/o/"]
    code, _, err = run_cli(*args, "--store", nobody)
    assert code == 1 and "not stored" in err and nobody in err
    code, _, err = run_cli(*args, "--store", "dimse://BAD\\AE@host:104")
    assert (code == 2 and "--store" not in err) or "AE" in err
    code, _, err = run_cli(*args, "--store", str(tmp_path))
    assert code == 2 and "not a PACS" in err
    code, _, err = run_cli(*args, "--aet", "A" * 17)
    assert code == 2 and "--aet" in err
    unknown = run_cli(
        "to-kos",
        selections,
        "--title",
        "113000",
        "--content-datetime",
        WHEN,
        "--context",
        nobody,
        "-o",
        f"{tmp_path}/o/",
    )
    assert unknown[0] == 1 and "nothing answered" in unknown[2]
