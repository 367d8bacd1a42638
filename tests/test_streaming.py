"""Issue 10 item 6: streaming sinks, written as items finish, the same bytes as serialise()."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomsel import convert
from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.fhir import serialise
from dicomsel.io.base import Item
from dicomsel.io.files import FileSource
from dicomsel.io.sinks import BundleSink, DirectorySink, NdjsonSink
from dicomsel.pipeline import run

from conftest import SAMPLES, resources_of
from kosgen import uid
from segfiles import ct_slices, save

KOS = sorted(SAMPLES.glob("kos_*.dcm"))
SEG = SAMPLES / "seg_ct_small.dcm"


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    logger = logging.getLogger("dicomsel")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """KOS, a SEG and two CT series whose files stand between them."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, p in enumerate(KOS):
        shutil.copy(p, folder / f"{i}1-{p.name}")
    shutil.copy(SEG, folder / "50-seg.dcm")
    for s in range(2):
        for i, ds in enumerate(ct_slices(3, name=f"stream-{s}", size=8)):
            save(ds, folder / f"{i}0-ct-{s}.dcm")  # the series' files lie among the KOS
    return folder


def _sink(kind: str, out: Path) -> Any:
    if kind == "ndjson":
        return NdjsonSink(str(out))
    return BundleSink(str(out), kind)


@pytest.mark.parametrize("kind", ["ndjson", "transaction", "bundle"])
def test_a_streaming_sink_writes_what_serialise_writes(
    kind: str, mixed: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"out.{kind}"
    batch = run(FileSource([str(mixed)]), sink=_sink(kind, out))
    expected = convert([str(mixed)]).all_resources()
    assert out.read_text(encoding="utf-8") == serialise(expected, kind)
    assert batch.written == len(expected)
    assert resources_of(out.read_text(encoding="utf-8"))  # valid against HL7's R5 package
    assert not list(tmp_path.glob(".dicomsel-*"))


def test_the_order_streams_items_then_series_then_endpoints(mixed: Path) -> None:
    ct_series = {
        pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID for p in mixed.glob("*-ct-*")
    }
    batch = convert([str(mixed)])
    resources = batch.all_resources()
    kinds = [r["resourceType"] for r in resources]
    ct = [i for i, r in enumerate(resources) if r.get("seriesUid") in ct_series]
    endpoints = [i for i, k in enumerate(kinds) if k == "Endpoint"]
    assert len(ct) == 2 and endpoints
    # the CT files come first in the folder, yet their merged series follow every other
    # input's resources (written as they came), and the shared Endpoints close the output
    assert ct == [len(kinds) - len(endpoints) - 2, len(kinds) - len(endpoints) - 1]
    assert endpoints == list(range(len(kinds) - len(endpoints), len(kinds)))
    assert batch.outcomes[0].path.endswith("00-ct-0.dcm")


@dataclass(frozen=True, slots=True)
class _Watching:
    """Files, each read only after checking what the sink's temporary file already holds."""

    paths: tuple[str, ...]
    folder: str

    def items(self) -> Iterator[Item]:
        return FileSource(list(self.paths)).items()

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        index = self.paths.index(item.key)
        lines = sum(
            len(p.read_text(encoding="utf-8").splitlines())
            for p in Path(self.folder).glob(".dicomsel-*")
        )
        if index >= 2 * 16:  # two executor batches behind: written already
            assert lines > 0, f"nothing written yet while reading input {index}"
        return read_file(item.key, options)


@pytest.mark.parametrize("kind", ["ndjson", "transaction"])
def test_resources_are_written_as_items_finish(kind: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for n in range(40):
        ds = pydicom.dcmread(KOS[n % len(KOS)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("stream", n)
        ds.save_as(folder / f"k{n:02d}.dcm", enforce_file_format=True)
        paths.append(str(folder / f"k{n:02d}.dcm"))
    out = tmp_path / "out" / "o.txt"
    out.parent.mkdir()
    batch = run(_Watching(tuple(paths), str(out.parent)), sink=_sink(kind, out))
    assert batch.count("converted") == 40
    assert out.exists() and not list(out.parent.glob(".dicomsel-*"))


def test_nothing_converted_leaves_no_file_and_no_temp(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not DICOM")
    for kind in ("ndjson", "transaction", "bundle"):
        out = tmp_path / f"o.{kind}"
        run(FileSource([str(bad)]), sink=_sink(kind, out))
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.dcm"]


def test_a_device_is_written_through_never_replaced() -> None:
    before = os.stat(os.devnull)
    run(FileSource([str(KOS[0])]), sink=NdjsonSink(os.devnull))
    run(FileSource([str(KOS[0])]), sink=BundleSink(os.devnull, "transaction"))
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize("kind", ["ndjson", "bundle"])
def test_a_fifo_is_written_through(kind: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []

    def drain() -> None:
        with open(fifo, encoding="utf-8") as f:
            got.append(f.read())

    reader = threading.Thread(target=drain)
    reader.start()
    run(FileSource([str(KOS[0])]), sink=_sink(kind, fifo))
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got == [serialise(convert([str(KOS[0])]).all_resources(), kind)]


def test_files_get_the_callers_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "o.ndjson"
        run(FileSource([str(KOS[0])]), sink=NdjsonSink(str(out)))
        folder = tmp_path / "dir"
        folder.mkdir()
        run(FileSource([str(KOS[0])]), sink=DirectorySink(str(folder)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o644}


def test_directory_sink_one_file_per_resource(mixed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    sink = DirectorySink(str(folder))
    batch = run(FileSource([str(mixed)]), sink=sink)
    expected = convert([str(mixed)]).all_resources()
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{r['resourceType']}-{r['id']}.json" for r in expected)
    for r in expected:
        text = (folder / f"{r['resourceType']}-{r['id']}.json").read_text(encoding="utf-8")
        assert json.loads(text) == r
        assert text.endswith("}\n") and text.count("\n") == 1
    assert sink.written == batch.written == len(expected)
    with pytest.raises(NotADirectoryError):
        DirectorySink(str(tmp_path / "missing"))


def _copies(folder: Path, count: int) -> Path:
    folder.mkdir()
    templates = [pydicom.dcmread(p) for p in KOS]
    for n in range(count):
        ds = templates[n % len(templates)]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("flat", n)
        ds.save_as(folder / f"k{n:04d}.dcm", enforce_file_format=True)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ndjson", "dir"])
def test_memory_does_not_grow_with_the_resources(kind: str, tmp_path: Path) -> None:
    """Per input the driver keeps an outcome, a UID and resource names, never a resource."""
    small, large = _copies(tmp_path / "small", 20), _copies(tmp_path / "large", 170)

    def peak(folder: Path) -> int:
        out = tmp_path / f"out-{folder.name}"
        if kind == "dir":
            out.mkdir(exist_ok=True)
            sink: Any = DirectorySink(str(out))
        else:
            sink = _sink(kind, out)
        tracemalloc.start()
        batch = run(FileSource([str(folder)]), sink=sink)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert batch.count("converted") == len(batch.outcomes)
        return top

    peak(small)  # warm caches
    grow = (peak(large) - peak(small)) / 150
    # kept until the end (the FileSink of before) a sample KOS's resources are ~16 kB of
    # Python objects; its outcome (with a warning), UID and resource names ~2.3 kB
    assert grow < 5_000, f"{grow:.0f} bytes more per input"


def test_a_killed_streaming_sink_leaves_a_temp_file_the_next_run_sweeps(tmp_path: Path) -> None:
    """The streaming sinks name their temporary files as every writer does (pid + host)."""
    import subprocess
    import sys

    from dicomsel.io.files import sweep_temp_files

    from conftest import ROOT

    out = tmp_path / "o.ndjson"
    code = (
        "import os, sys\n"
        "from dicomsel.io.sinks import NdjsonSink\n"
        "s = NdjsonSink(sys.argv[1])\n"
        "s.write([{'resourceType': 'Basic', 'id': 'x'}])\n"
        "s._out.stream().flush()\n"
        "os._exit(0)  # as a kill -9 would: no close, no rename\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".dicomsel-")]
    assert left and not out.exists()
    assert sorted(sweep_temp_files(str(tmp_path))) == sorted(str(p) for p in left)
    assert not any(p.name.startswith(".dicomsel-") for p in tmp_path.iterdir())
