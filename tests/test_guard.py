"""Issue 10 item 1: one guard per item, whatever it raises, and a per-item time limit."""

from __future__ import annotations

import copy
import io
import logging
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.errors import BytesLengthException, InvalidDicomError

from dicomsel import ConvertOptions
from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.io.base import Item
from dicomsel.io.files import FileSource
from dicomsel.io.memory import MemorySink
from dicomsel.pipeline import run
from libraryfixtures import library_logging  # noqa: F401 - an autouse fixture

from conftest import SAMPLES
from kosgen import Ref, make_kos, uid

KOS = SAMPLES / "kos_single_frame.dcm"


def _struct_error() -> Exception:
    try:
        struct.unpack("<I", b"\x00")
    except struct.error as e:
        return e
    raise AssertionError


def _zlib_error() -> Exception:
    try:
        zlib.decompress(b"\x78\x9cnot deflate")
    except zlib.error as e:
        return e
    raise AssertionError


#: what the fuzzing of issue 10 saw escape a reader, and what the guard must make an outcome of
RAISED: list[BaseException] = [
    MemoryError(),
    RecursionError("maximum recursion depth exceeded"),
    _zlib_error(),
    _struct_error(),
    OverflowError("cannot convert float infinity to integer"),
    NotImplementedError("Unknown Value Representation 'ZZ'"),
    BytesLengthException("Expected total bytes to be an even multiple of bytes per value"),
    InvalidDicomError("File is missing DICOM File Meta Information header"),
    OSError("No tag to read at file position 1024"),
    ValueError("UID is not a transfer syntax"),
    KeyError(0x00081199),
    TypeError("unsupported operand"),
]


@dataclass(frozen=True, slots=True)
class _Raising:
    """Files read normally, except ``bad``, whose read raises ``error``."""

    paths: tuple[str, ...]
    bad: str
    error: BaseException

    def items(self) -> Iterator[Item]:
        return FileSource(list(self.paths)).items()

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        if item.key == self.bad:
            tag = 0x00081199  # noqa: F841 - the element a parser would be reading
            raise self.error
        return read_file(item.key, options)


def _bad_and_good(tmp_path: Path) -> tuple[str, str]:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(KOS.read_bytes())
    return str(bad), str(KOS)


@pytest.mark.parametrize("error", RAISED, ids=lambda e: type(e).__name__)
def test_any_exception_of_one_input_is_its_failure(
    error: BaseException, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = _bad_and_good(tmp_path)
    sink = MemorySink()
    batch = run(_Raising((bad, good), bad, error), sink=sink)
    failed, converted = batch.outcomes
    assert (failed.status, converted.status) == ("failed", "converted")
    assert failed.reason is not None
    # the type, the element being read, the message
    assert failed.reason.startswith("ReferencedSOPSequence (0008,1199): ")
    assert type(error).__name__ in failed.reason
    if str(error):
        assert str(error).splitlines()[0] in failed.reason
    assert sink.closed and sink.resources  # the good file's resources were written
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"{bad}: {failed.reason}"]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert debug, "the traceback is logged at debug level"


def test_keyboard_interrupt_is_not_swallowed(tmp_path: Path) -> None:
    bad, good = _bad_and_good(tmp_path)
    sink = MemorySink()
    with pytest.raises(KeyboardInterrupt):
        run(_Raising((good, bad), bad, KeyboardInterrupt()), sink=sink)
    assert sink.closed and sink.resources == []  # dropped, not committed


def test_the_traceback_is_not_logged_above_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dicomsel")
    bad, good = _bad_and_good(tmp_path)
    run(_Raising((bad, good), bad, MemoryError()))
    assert not [r for r in caplog.records if r.exc_info]


def _repeated_item_kos(path: Path, copies: int) -> Path:
    """A valid KOS whose last content item is repeated ``copies`` times (built by bytes).

    The file with one item and the file with two differ by one item's bytes
    (sequences and items of undefined length); that chunk is spliced in again.
    """
    one = make_kos(
        [Ref(uid("slow", 1), uid("slow", 2), "1.2.840.10008.5.1.4.1.1.2", uid("slow", 3))],
        uid=uid("slow-kos", 1),
        series_uid=uid("slow-kos", 2),
    )
    one["ContentSequence"].is_undefined_length = True
    for content in one.ContentSequence:
        content.is_undefined_length_sequence_item = True
    two = copy.deepcopy(one)
    two.ContentSequence.append(copy.deepcopy(two.ContentSequence[-1]))

    def encoded(ds: pydicom.Dataset) -> bytes:
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()

    a, b = encoded(one), encoded(two)
    p = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    chunk = b[p : p + len(b) - len(a)]
    assert a[:p] + chunk + a[p:] == b
    path.write_bytes(a[:p] + chunk * copies + a[p:])
    assert len(pydicom.dcmread(path).ContentSequence) == len(one.ContentSequence) + copies
    return path


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_item_over_the_time_limit_fails_and_the_batch_goes_on(jobs: int, tmp_path: Path) -> None:
    # 20,000 references: seconds of reading, against a limit of a few hundredths of one
    slow = _repeated_item_kos(tmp_path / "slow.dcm", 20_000)
    opts = ConvertOptions(item_timeout=0.05, jobs=jobs)
    batch = run(FileSource([str(slow), str(KOS)]), opts)
    timed_out, good = batch.outcomes
    assert timed_out.status == "failed"
    assert timed_out.reason == "took longer than 0.05 s"
    assert good.status == "converted" and batch.resources


def test_the_slow_item_converts_without_a_limit(tmp_path: Path) -> None:
    # the same construction, small enough to read quickly: the limit, not the file, failed it
    small = _repeated_item_kos(tmp_path / "small.dcm", 3)
    (outcome,) = run(FileSource([str(small)]), ConvertOptions(item_timeout=None)).outcomes
    assert outcome.status == "converted", outcome.reason


def test_a_real_element_error_names_the_element(tmp_path: Path) -> None:
    """pydicom raising while it converts a value: the element comes from its frames."""
    from dicomsel.export.guard import describe

    ds = pydicom.dcmread(KOS)
    raw = pydicom.dataelem.RawDataElement(
        pydicom.tag.Tag(0x00200013), "IS", 3, b"inf", 0, False, True
    )
    ds._dict[raw.tag] = raw
    with pydicom.config.strict_reading():
        try:
            _ = ds.InstanceNumber
        except Exception as e:
            assert describe(e).startswith("InstanceNumber (0020,0013): ValueError: ")
        else:
            raise AssertionError("pydicom accepted an IS of 'inf'")


def test_the_per_series_merge_write_is_guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dicomsel.pipeline import convert

    from segfiles import ct_slices, save

    for i, ds in enumerate(ct_slices(2, name="merge-guard")):
        save(ds, tmp_path / f"ct{i}.dcm")
    shutil.copy(KOS, tmp_path / "kos.dcm")
    from dicomsel.fhir import r5

    real = r5.write

    def write(selections: list[Any]) -> Any:
        if any(s.key.startswith("image|") for s in selections):
            raise RecursionError("maximum recursion depth exceeded while writing")
        return real(selections)

    monkeypatch.setattr(r5, "write", write)
    batch = convert([str(tmp_path)])
    statuses = {Path(o.path).name: (o.status, o.reason) for o in batch.outcomes}
    assert statuses["kos.dcm"] == ("converted", None)
    for name in ("ct0.dcm", "ct1.dcm"):
        status, reason = statuses[name]
        assert status == "failed" and reason is not None
        assert reason.startswith("series ") and "RecursionError: maximum recursion" in reason
    assert batch.all_resources() == convert([str(KOS)]).all_resources()
