"""Batches: images merged per series across files, streaming, --jobs, files that disagree."""

from __future__ import annotations

import gc
import json
import logging
import re
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomsel import ConvertOptions, convert
from dicomsel.dicom.context import ReadOptions

from conftest import SAMPLES, resources_of
from segfiles import Roi, ct_slices, enhanced_ct, make_rtstruct, make_seg, save


@pytest.fixture(autouse=True)
def _quiet_library_logging() -> Iterator[None]:
    """Library calls log to "dicomsel"; a CLI test may have left a handler on a closed stream."""
    logger = logging.getLogger("dicomsel")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [logging.NullHandler()]
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def _series_folder(
    folder: Path, series: int = 3, per_series: int = 4, size: int = 8
) -> list[list[Any]]:
    """``series`` series of ``per_series`` small CT files, named so that the series interleave."""
    out = []
    for s in range(series):
        slices = ct_slices(per_series, name=f"series-{s}", size=size)
        for i, ds in enumerate(slices):
            # descending instance numbers in file order: the output sorts them
            ds.InstanceNumber = per_series - i
            save(ds, folder / f"{i:04d}_{s}.dcm")
        out.append(slices)
    return out


def test_images_of_a_series_become_one_selection(tmp_path: Path, run_cli: Any) -> None:
    series = _series_folder(tmp_path)
    code, out, err = run_cli("convert", tmp_path, "--report", tmp_path.parent / "report.json")
    assert code == 0, err
    resources = resources_of(out)
    assert [r["seriesUid"] for r in resources] == [s[0].SeriesInstanceUID for s in series]
    for res, slices in zip(resources, series, strict=True):
        assert [i["number"] for i in res["instance"]] == [1, 2, 3, 4]
        assert {i["uid"] for i in res["instance"]} == {d.SOPInstanceUID for d in slices}
    report = json.loads((tmp_path.parent / "report.json").read_text())
    assert report["summary"]["converted"] == 12
    by_series = {r["id"]: r["seriesUid"] for r in resources}
    for entry in report["inputs"]:
        (ref,) = entry["resources"]
        assert by_series[ref.split("/")[1]]


def test_resource_id_derives_from_study_and_series(tmp_path: Path) -> None:
    series = _series_folder(tmp_path, series=1, per_series=3)
    first = convert([str(tmp_path)])
    # fewer files of the same series: same resource id, whichever files are given
    shutil.rmtree(tmp_path / "sub", ignore_errors=True)
    one = convert([str(tmp_path / "0001_0.dcm")])
    assert first.resources[0]["id"] == one.resources[0]["id"]
    assert series[0][0].SOPInstanceUID not in first.resources[0]["id"]


def test_files_of_one_series_disagree_on_the_study(tmp_path: Path, run_cli: Any) -> None:
    a, b, c = ct_slices(3, name="split")
    b.StudyInstanceUID = "1.2.3.999"
    for i, ds in enumerate((a, b, c)):
        save(ds, tmp_path / f"{i}.dcm")
    code, out, err = run_cli("convert", tmp_path, "--report", tmp_path.parent / "r.json")
    assert code == 3
    assert "1.dcm: StudyInstanceUID (0020,000D): series" in err
    assert "but in study 1.2.3.999 here" in err
    (res,) = resources_of(out)
    assert [i["uid"] for i in res["instance"]] == [a.SOPInstanceUID, c.SOPInstanceUID]
    report = json.loads((tmp_path.parent / "r.json").read_text())
    assert [e["status"] for e in report["inputs"]] == ["converted", "failed", "converted"]
    assert report["inputs"][1]["resources"] == []


def test_other_disagreements_are_warnings_and_strict_fails_them(
    tmp_path: Path, run_cli: Any
) -> None:
    a, b = ct_slices(2, name="numbers")
    b.SeriesNumber = 8
    save(a, tmp_path / "a.dcm")
    save(b, tmp_path / "b.dcm")
    code, out, err = run_cli("convert", tmp_path)
    assert code == 0, err
    assert "b.dcm: SeriesNumber (0020,0011) differs from" in err
    (res,) = resources_of(out)
    assert res["seriesNumber"] == 7 and len(res["instance"]) == 2
    code, out, err = run_cli("convert", tmp_path, "--strict")
    assert code == 3
    (res,) = resources_of(out)
    assert len(res["instance"]) == 1


def test_the_same_file_twice_is_one_instance(tmp_path: Path) -> None:
    (ct,) = ct_slices(1, name="twice")
    path = save(ct, tmp_path / "ct.dcm")
    batch = convert([str(tmp_path), str(path)])
    (res,) = batch.resources
    assert len(res["instance"]) == 1
    assert [o.status for o in batch.outcomes] == ["converted", "converted"]


def test_bad_files_do_not_stop_the_batch(tmp_path: Path, run_cli: Any) -> None:
    _series_folder(tmp_path, series=1, per_series=2)
    (tmp_path / "notes.txt").write_text("not DICOM")
    data = (tmp_path / "0000_0.dcm").read_bytes()
    (tmp_path / "0002_cut.dcm").write_bytes(data[: len(data) // 3])
    code, out, err = run_cli("convert", tmp_path)
    assert code == 3
    assert "truncated" in err
    (res,) = resources_of(out)
    assert len(res["instance"]) == 2


def _mixed_folder(folder: Path) -> None:
    _series_folder(folder / "ct", series=3, per_series=15)  # 45 files: several chunks
    cts = ct_slices(3, name="seg-source")
    save(make_seg(cts, 3, name="batch-seg"), folder / "seg" / "seg.dcm")
    rt = make_rtstruct([Roi(1, "Heart", images=(0, 1)), Roi(2, "Empty")], name="batch-rt")
    save(rt.ds, folder / "rt" / "rt.dcm")
    save(enhanced_ct(3, name="batch-mf"), folder / "mf" / "mf.dcm")
    shutil.copy(SAMPLES / "kos_two_studies.dcm", folder / "kos.dcm")
    (folder / "readme.txt").write_text("not DICOM")
    data = (folder / "ct" / "0000_0.dcm").read_bytes()
    (folder / "ct" / "9999_cut.dcm").write_bytes(data[:1000])


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_jobs_output_is_identical(tmp_path: Path, run_cli: Any, jobs: str) -> None:
    folder = tmp_path / "in"
    _mixed_folder(folder)
    runs = {}
    for n in ("1", jobs):
        report = tmp_path / f"report-{n}.json"
        code, out, err = run_cli(
            "convert", folder, "--jobs", n, "--report", report, "--seg-frames", "-v"
        )
        # the summary line ends with the run's wall time: the one line that may differ
        err = re.sub(r" in \d+\.\d s$", " in (time) s", err.rstrip("\n"))
        runs[n] = (code, out, err, report.read_bytes())
    assert runs["1"][0] == 3
    assert runs["1"] == runs[jobs]  # exit code, stdout, stderr (logs replayed in order), report
    resources = resources_of(runs["1"][1])
    # KOS 3, SEG 3 segments + 1 source series, RT 2 ROIs + 1 image series, enhanced CT 1, CT 3
    assert len([r for r in resources if r["resourceType"] == "ImagingSelection"]) == 14


def test_jobs_through_the_library(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _mixed_folder(folder)
    one = convert([str(folder)])
    two = convert([str(folder)], ConvertOptions(jobs=2, read=ReadOptions(frames=(1,))))
    two_again = convert([str(folder)], ConvertOptions(jobs=1, read=ReadOptions(frames=(1,))))
    summary = one.report()["summary"]
    assert (summary["inputs"], summary["converted"], summary["skipped"], summary["failed"]) == (
        51,
        49,
        1,
        1,
    )
    assert two.report() == two_again.report()
    assert two.all_resources() == two_again.all_resources()
    with pytest.raises(ValueError, match="jobs"):
        convert([str(folder)], ConvertOptions(jobs=0))


def test_jobs_zero_means_one_per_cpu(tmp_path: Path, run_cli: Any) -> None:
    _series_folder(tmp_path, series=1, per_series=2)
    code, out, err = run_cli("convert", tmp_path, "--jobs", "0")
    assert code == 0, err
    assert len(resources_of(out)) == 1
    code, _out, err = run_cli("convert", tmp_path, "--jobs", "-1")
    assert code == 2


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_files(tmp_path: Path) -> None:
    """Per file, a batch keeps an outcome and an instance entry: no dataset, no raw bytes."""
    small, large = tmp_path / "small", tmp_path / "large"
    for folder, n in ((small, 20), (large, 120)):
        for i, ds in enumerate(ct_slices(n, name=f"mem-{n}", size=64)):
            save(ds, folder / f"{i:04d}.dcm")

    def peak(folder: Path) -> int:
        gc.collect()
        tracemalloc.start()
        batch = convert([str(folder)])
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert batch.count("converted") == len(batch.outcomes)
        return top

    peak(small)  # warm caches and imports
    grow = (peak(large) - peak(small)) / 100
    # one header (with 8 kB of pixel data left unread) is ~20 kB of Python objects
    assert grow < 4_000, f"{grow:.0f} bytes more per file"
