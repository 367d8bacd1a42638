"""The pipeline: sources, sinks, the executor seam, issues and the validation setting."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pydicom
import pytest

from dicomsel import ConvertOptions, convert
from dicomsel.errors import InputWarning, LossyMappingWarning, Severity, Validation
from dicomsel.export import ProcessExecutor
from dicomsel.io.files import FileSink, FileSource
from dicomsel.io.memory import DatasetSource, MemorySink
from dicomsel.pipeline import run

from conftest import SAMPLES

T = TypeVar("T")
R = TypeVar("R")

SEG = SAMPLES / "seg_ct_small.dcm"
KOS = sorted(SAMPLES.glob("kos_*.dcm"))


@pytest.fixture(autouse=True)
def _library_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    logger = logging.getLogger("dicomsel")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = []
    logger.propagate = True
    caplog.set_level(logging.INFO, logger="dicomsel")
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def test_datasets_in_memory_give_what_their_files_give() -> None:
    files = [*KOS, SEG]
    from_files = convert([str(p) for p in files])
    sink = MemorySink()
    batch = run(DatasetSource([pydicom.dcmread(p) for p in files]), sink=sink)
    assert sink.closed
    assert sink.resources == from_files.all_resources()
    assert [o.status for o in batch.outcomes] == ["converted"] * len(files)
    assert batch.written == len(sink.resources) and batch.resources == []
    assert [o.path for o in batch.outcomes] == [f"dataset[{i}]" for i in range(len(files))]


class _Reversed:
    """An executor that computes the batches last to first, then hands them back in order."""

    def __init__(self) -> None:
        self.batches = 0

    def map(
        self, fn: Callable[[list[T]], list[R]], batches: Iterable[list[T]]
    ) -> Iterator[list[R]]:
        todo = list(batches)
        self.batches = len(todo)
        done = [fn(b) for b in reversed(todo)]
        yield from reversed(done)


def test_any_executor_that_keeps_batch_order_gives_the_same_output(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(20):  # more than one batch of items
        (folder / f"k{i:02}.dcm").write_bytes(KOS[i % len(KOS)].read_bytes())
    (folder / "seg.dcm").write_bytes(SEG.read_bytes())
    plain = convert([str(folder)])
    executor = _Reversed()
    other = run(FileSource([str(folder)]), executor=executor)
    assert executor.batches > 1
    assert other.all_resources() == plain.all_resources()
    assert other.report() == plain.report()
    pooled = run(FileSource([str(folder)]), executor=ProcessExecutor(2))
    assert pooled.all_resources() == plain.all_resources()


def test_file_sink_writes_what_the_batch_holds(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    sink = FileSink(str(out), "ndjson")
    batch = run(FileSource([str(SEG)]), sink=sink)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == convert([str(SEG)]).all_resources()
    assert batch.report()["summary"]["resources"] == len(lines)


def test_nothing_is_written_when_nothing_converts(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    batch = run(FileSource([str(bad), str(tmp_path / "absent.dcm")]), sink=FileSink(str(out)))
    assert [o.status for o in batch.outcomes] == ["failed", "failed"]
    assert batch.outcomes[1].reason == "no such file or folder"
    assert not out.exists()


def test_issues_say_what_was_read_tolerantly_and_what_the_target_cannot_carry() -> None:
    batch = convert([str(SEG)], ConvertOptions(fhir="r5-snapshot1"))
    (outcome,) = batch.outcomes
    assert {i.category for i in outcome.issues} == {LossyMappingWarning, InputWarning}
    lossy = [i for i in outcome.issues if i.category is LossyMappingWarning]
    assert lossy and all("Snapshot #1 has no" in i.reason for i in lossy)
    assert all(i.severity is Severity.WARNING and i.path == str(SEG) for i in outcome.issues)
    entry = batch.report()["inputs"][0]
    assert entry["warnings"] == [i.reason for i in outcome.issues]
    assert {e["kind"] for e in entry["issues"]} == {"lossy", "input"}
    assert all(e["severity"] == "warning" for e in entry["issues"])


@pytest.mark.parametrize("mode", list(Validation))
def test_validation_setting(mode: Validation, caplog: pytest.LogCaptureFixture) -> None:
    batch = convert([str(SEG)], ConvertOptions(validation=mode))
    (outcome,) = batch.outcomes
    logged = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert outcome.issues  # recorded whatever the setting: nothing is dropped silently
    if mode is Validation.RAISE:
        assert outcome.status == "failed" and outcome.reason
        assert outcome.reason.startswith("--strict: ")
        assert batch.all_resources() == []
    else:
        assert outcome.status == "converted" and batch.all_resources()
    if mode is Validation.IGNORE:
        assert logged == []
    else:
        assert len(logged) == len(outcome.issues)
