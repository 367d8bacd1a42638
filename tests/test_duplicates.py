"""Issue 10 item 5: the same SOP Instance twice in a batch, and no Bundle naming an entry twice."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomsel import ConvertOptions, convert
from dicomsel.errors import Validation
from dicomsel.io.files import FileSource
from dicomsel.io.memory import DatasetSource
from dicomsel.io.sinks import BundleSink
from dicomsel.pipeline import run
from libraryfixtures import library_logging  # noqa: F401 - an autouse fixture

from conftest import SAMPLES, realdata, resources_of
from segfiles import ct_slices, save

KOS = SAMPLES / "kos_two_studies.dcm"
SEG = SAMPLES / "seg_ct_small.dcm"


def _kinds() -> dict[str, Path]:
    """One file of each object kind whose copies were not merged before issue 10."""
    return {
        "kos": KOS,
        "seg": SEG,
        "sr": realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm"),
        "rtstruct": realdata("rtstruct_dicompyler_10rois.dcm"),
    }


def _two_folders(tmp_path: Path, files: list[Path]) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        for f in files:
            shutil.copy(f, folder / f.name)
    return a, b


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("kind", ["kos", "seg", "sr", "rtstruct"])
def test_the_same_object_twice_is_converted_once(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = _kinds()[kind]
    a, b = _two_folders(tmp_path, [src])
    once = convert([str(a)]).all_resources()
    caplog.clear()
    batch = convert([str(a), str(b)])
    assert batch.all_resources() == once
    first, second = batch.outcomes
    assert (first.status, second.status) == ("converted", "converted")
    assert second.resources == first.resources  # what it holds is in the output, once
    (note,) = [i for i in second.issues if "same SOP Instance" in i.reason]
    assert str(a / src.name) in note.reason and note.path == str(b / src.name)
    assert note.attribute == "SOPInstanceUID (0008,0018)"
    assert any(
        str(a / src.name) in w and w.startswith(str(b / src.name)) for w in _warnings(caplog)
    )


def test_strict_fails_the_copy(tmp_path: Path) -> None:
    a, b = _two_folders(tmp_path, [KOS])
    opts = ConvertOptions(validation=Validation.RAISE, read=_zone())
    batch = convert([str(a), str(b)], opts)
    first, second = batch.outcomes
    assert first.status == "converted", first.reason
    assert second.status == "failed" and second.reason
    assert "same SOP Instance" in second.reason
    assert batch.all_resources() == convert([str(a)], opts).all_resources()


def _zone() -> Any:
    from dicomsel.dicom import ReadOptions

    return ReadOptions(timezone="+01:00")


def test_the_same_uid_with_other_content_fails_the_second(tmp_path: Path) -> None:
    a, b = tmp_path / "a.dcm", tmp_path / "b.dcm"
    shutil.copy(KOS, a)
    ds = pydicom.dcmread(KOS)
    ds.ContentSequence = ds.ContentSequence[:-1]  # one reference fewer, same SOP Instance UID
    ds.save_as(b, enforce_file_format=True)
    batch = convert([str(a), str(b)])
    first, second = batch.outcomes
    assert first.status == "converted"
    assert second.status == "failed" and second.reason is not None
    assert second.reason.startswith("SOPInstanceUID (0008,0018): ")
    assert str(a) in second.reason and "content differs" in second.reason
    assert second.resources == []
    assert batch.all_resources() == convert([str(a)]).all_resources()


def test_the_same_image_twice_is_one_instance_with_a_warning(tmp_path: Path) -> None:
    (ct,) = ct_slices(1, name="dup-image")
    path = save(ct, tmp_path / "ct.dcm")
    copy = tmp_path / "copy.dcm"
    shutil.copy(path, copy)
    batch = convert([str(path), str(copy)])
    (res,) = batch.all_resources()
    assert len(res["instance"]) == 1
    assert [o.status for o in batch.outcomes] == ["converted", "converted"]
    assert (
        batch.outcomes[1].resources
        == batch.outcomes[0].resources
        == [f"ImagingSelection/{res['id']}"]
    )
    assert any(str(path) in w for w in batch.outcomes[1].warnings)


def test_datasets_in_memory_compare_by_content() -> None:
    ds = pydicom.dcmread(KOS)
    other = pydicom.dcmread(KOS)
    other.ContentSequence = other.ContentSequence[:-1]
    batch = run(DatasetSource([ds, ds, other]))
    assert [o.status for o in batch.outcomes] == ["converted", "converted", "failed"]
    assert "dataset[0]" in batch.outcomes[1].warnings[-1]
    assert "dataset[0]" in (batch.outcomes[2].reason or "")


def _entries(text: str) -> list[dict[str, Any]]:
    doc = json.loads(text)
    assert doc["resourceType"] == "Bundle"
    return list(doc["entry"])


@pytest.mark.parametrize("fmt", ["bundle", "transaction"])
def test_no_bundle_names_an_entry_twice(fmt: str, tmp_path: Path, run_cli: Any) -> None:
    """bdl-7: FullUrl must be unique in a bundle (and a transaction's request URLs too)."""
    (ct,) = ct_slices(1, name="bdl-7")
    image = save(ct, tmp_path / "ct.dcm")
    a, b = _two_folders(tmp_path, [*_kinds().values(), image])
    code, out, err = run_cli("convert", a, b, "--format", fmt)
    assert code == 0, err
    entries = _entries(out)
    urls = Counter(e["fullUrl"] for e in entries)
    assert [u for u, n in urls.items() if n > 1] == []
    if fmt == "transaction":
        requests = Counter(e["request"]["url"] for e in entries)
        assert [u for u, n in requests.items() if n > 1] == []
    assert resources_of(out)
    # the streaming sink writes the same
    sink_out = tmp_path / f"out.{fmt}"
    run(FileSource([str(a), str(b)]), sink=BundleSink(str(sink_out), fmt))
    assert sink_out.read_text(encoding="utf-8") == out


def test_jobs_do_not_change_which_copy_is_kept(tmp_path: Path) -> None:
    a, b = _two_folders(tmp_path, [KOS, SEG])
    one = convert([str(a), str(b)])
    two = convert([str(a), str(b)], ConvertOptions(jobs=2))
    assert one.report() == two.report()
    assert one.all_resources() == two.all_resources()
