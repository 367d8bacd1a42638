"""Reading a DICOM file's header: the one place the readers' input comes from a file.

- :func:`read_header_file` reads up to Pixel Data and stops before the
  Per-frame Functional Groups Sequence, which it leaves to a
  :class:`PerFrameGroups` (path, offset, encoding) that reads them when a
  reader asks (:attr:`dicomsel.dicom.context.ReadContext.deferred`);
- a file nested too deeply for the default stack is parsed again on a thread
  with a large stack;
- a file without the Part 10 preamble but that starts like a dataset is read
  as a bare dataset;
- a truncated file is an error, not a quietly shorter dataset;
- :func:`gc_paused` pauses the cyclic garbage collector while one file is read.
"""

from __future__ import annotations

import gc
import os
import struct
import sys
import threading
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomsel.dicom import tags
from dicomsel.dicom.scanner import UNDEFINED, element_end
from dicomsel.errors import DicomselError, InvalidInputError, NotDicomError

__all__ = [
    "HeaderFile",
    "PerFrameGroups",
    "deferred_groups",
    "gc_paused",
    "load",
    "read_header_file",
]

_PIXEL_TAGS = frozenset({tags.FloatPixelData, tags.DoubleFloatPixelData, tags.PixelData})
_STOP_TAGS = _PIXEL_TAGS | {tags.PerFrameFunctionalGroupsSequence}
_PER_FRAME_TAG_BYTES = (b"\x00\x52\x30\x92", b"\x52\x00\x92\x30")  # little, big endian
_A_PER_FRAME = "PerFrameFunctionalGroupsSequence (5200,9230)"


@dataclass(slots=True)
class PerFrameGroups:
    """The Per-frame Functional Groups Sequence of a file, not read yet.

    Parameters
    ----------
    path : str
        The file.
    offset : int
        Where the sequence's element header starts.
    implicit, little : bool
        The dataset's encoding (for a reader that scans the bytes itself).
    deflated : bool
        Whether the transfer syntax is deflated (offsets then refer to the
        inflated stream, so bytes cannot be scanned).
    pending : bool
        False once :meth:`read_into` has run.
    """

    path: str
    offset: int
    implicit: bool
    little: bool
    deflated: bool
    pending: bool = True

    def read_into(self, ds: Dataset) -> None:
        """Read the elements from the sequence up to Pixel Data into ``ds`` (once).

        Parameters
        ----------
        ds : pydicom.dataset.Dataset
            The dataset read from ``path``.

        Raises
        ------
        dicomsel.errors.InvalidInputError
            When they cannot be parsed, or the file is truncated.
        """
        if not self.pending:
            return
        self.pending = False
        path = self.path
        try:
            if self.deflated:
                # offsets are in the inflated stream: read the whole header again
                rest: Dataset = pydicom.dcmread(path, stop_before_pixels=True)
                keep = [t for t in rest.keys() if t >= tags.PerFrameFunctionalGroupsSequence]  # noqa: SIM118
            else:
                with open(path, "rb") as fp:
                    fp.seek(self.offset)
                    rest = pydicom.filereader.read_dataset(
                        fp,
                        self.implicit,
                        self.little,
                        stop_when=lambda tag, vr, length: tag in _PIXEL_TAGS,
                        parent_encoding=ds.original_character_set,
                    )
                keep = list(rest.keys())
        except (EOFError, OSError, ValueError, TypeError, KeyError, IndexError) as e:
            raise InvalidInputError(
                f"cannot be parsed ({type(e).__name__}: {e})", path=path, attribute=_A_PER_FRAME
            ) from e
        for tag in keep:
            ds[tag] = rest.get_item(tag)
        _check_complete(ds, path)


@dataclass(frozen=True, slots=True)
class HeaderFile:
    """A file's header as :func:`read_header_file` read it.

    Parameters
    ----------
    dataset : pydicom.dataset.Dataset
    notes : list of str
        pydicom's warnings (and how the file was read) as report lines.
    deferred : PerFrameGroups or None
        The per-frame groups left unread, None when the file has none.
    """

    dataset: Dataset
    notes: list[str]
    deferred: PerFrameGroups | None


def _is_deflated(ds: Dataset) -> bool:
    meta = ds.get("file_meta")
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return ts is not None and bool(getattr(ts, "is_deflated", False))


def read_header_file(path: str | os.PathLike[str]) -> HeaderFile:
    """Read a DICOM file's header (up to Pixel Data, without the per-frame groups) with pydicom.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    HeaderFile

    Raises
    ------
    dicomsel.errors.NotDicomError
        When the file is not DICOM Part 10.
    dicomsel.errors.InvalidInputError
        When the file is DICOM but cannot be parsed, or is truncated.
    """
    p = os.fspath(path)
    bare = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                ds, stopped_at, deferred = _read_header(p, force=False)
            except InvalidDicomError as e:
                if not _looks_like_raw_dataset(p):
                    raise NotDicomError(
                        "not a DICOM file (no 'DICM' prefix after the preamble)", path=p
                    ) from e
                ds, stopped_at, deferred = _read_header(p, force=True)
                bare = True
        except DicomselError:
            raise
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            raise InvalidInputError(e.strerror or str(e), path=p) from e
        except (
            EOFError,
            OSError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            NotImplementedError,
            AttributeError,
        ) as e:
            raise InvalidInputError(f"cannot be parsed ({type(e).__name__}: {e})", path=p) from e
    notes = [f"pydicom: {w.message}" for w in caught]
    if bare:
        notes.insert(0, "no Part 10 preamble and 'DICM' prefix: read as a bare dataset")
    _check_complete(ds, p, stopped_at)
    return HeaderFile(ds, notes, deferred)


#: the per-frame groups :func:`load` left unread, by id of the dataset (while it lives)
_LOADED: dict[int, PerFrameGroups] = {}


def load(path: str | os.PathLike[str]) -> tuple[Dataset, list[str]]:
    """Read a DICOM file's header (up to Pixel Data) with pydicom.

    The per-frame functional groups are left unread; :func:`deferred_groups`
    gives them for the dataset, so that
    :func:`dicomsel.dicom.read_dataset` of it reads them when needed.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tuple
        The dataset and pydicom's warnings as report lines.

    Raises
    ------
    dicomsel.errors.NotDicomError
        When the file is not DICOM Part 10.
    dicomsel.errors.InvalidInputError
        When the file is DICOM but cannot be parsed, or is truncated.
    """
    header = read_header_file(path)
    if header.deferred is not None:
        key = id(header.dataset)
        _LOADED[key] = header.deferred
        weakref.finalize(header.dataset, _LOADED.pop, key, None)
    return header.dataset, header.notes


def deferred_groups(ds: Dataset) -> PerFrameGroups | None:
    """The per-frame groups :func:`load` left unread for ``ds``, or None.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset

    Returns
    -------
    PerFrameGroups or None
    """
    return _LOADED.get(id(ds))


def _read_header(path: str, force: bool) -> tuple[Dataset, int | None, PerFrameGroups | None]:
    """Read up to Pixel Data, and stop before Per-frame Functional Groups Sequence.

    The per-frame groups are most of a large multi-frame header and most readers
    never need them. Returns the dataset, the file offset where reading stopped
    at one of those elements (None when it stopped at the end of the file, or
    early) and what reads the per-frame groups when they were left out.
    """
    stopped: list[int] = []

    def stop(tag: int, vr: str | None, length: int) -> bool:
        # called for every top-level element: one set lookup (BaseTag's == is slow Python)
        if tag not in _STOP_TAGS:
            return False
        stopped.append(tag)
        return True

    with open(path, "rb") as fp:
        ds = _read_partial_deep(fp, path, stop_when=stop, force=force)
        offset = fp.tell()
    deferred = None
    if tags.PerFrameFunctionalGroupsSequence in stopped:
        implicit, little = ds.original_encoding
        if implicit is None or little is None:  # pragma: no cover - set by read_partial
            implicit, little = True, True
        deferred = PerFrameGroups(path, offset, bool(implicit), bool(little), _is_deflated(ds))
    return ds, offset if stopped else None, deferred


#: pydicom parses nested sequences recursively, about five Python frames a level, so a
#: content tree a few hundred levels deep exceeds the default recursion limit. Such a
#: file is parsed again on a thread with a large stack and a higher limit.
_DEEP_STACK_BYTES = 256 * 1024 * 1024
_DEEP_RECURSION_LIMIT = 60_000  # about 10,000 levels of nesting


def _read_partial_deep(fp: BinaryIO, path: str, **kw: Any) -> Dataset:
    """``pydicom.filereader.read_partial``, again on a deep stack when nesting is too deep."""
    start = fp.tell()
    try:
        return pydicom.filereader.read_partial(fp, **kw)
    except RecursionError:
        fp.seek(start)
    done: list[Dataset] = []
    failed: list[BaseException] = []

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, _DEEP_RECURSION_LIMIT))
        try:
            done.append(pydicom.filereader.read_partial(fp, **kw))
        except BaseException as e:  # handed to the calling thread
            failed.append(e)
        finally:
            sys.setrecursionlimit(old)

    try:
        old_size = threading.stack_size(_DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):  # pragma: no cover - platform without the setting
        old_size = None
    try:
        worker = threading.Thread(target=run, name="dicomsel-deep-read")
        worker.start()
        worker.join()
    finally:
        if old_size is not None:
            threading.stack_size(old_size)
    if failed:
        if isinstance(failed[0], RecursionError):
            raise InvalidInputError(
                "sequences nested too deeply to parse (more than about 10,000 levels)", path=path
            ) from failed[0]
        raise failed[0]
    return done[0]


def _check_complete(ds: Dataset, path: str, stopped_at: int | None = None) -> None:
    """Raise if the file ends before its last data element does.

    pydicom stops quietly at the end of a truncated file. The last element in
    file order is followed down through the last item of each sequence to a
    raw element whose offset and length are known; the file must reach its
    end plus the delimitation items of every undefined-length level.
    ``stopped_at`` is where reading stopped at an element it was told to stop
    at: when the last element ends exactly there, nothing was cut off.
    """
    if _is_deflated(ds):
        return  # offsets refer to the inflated stream
    size = os.path.getsize(path)
    extra = 0
    node: Dataset = ds
    while True:
        raw = getattr(node, "_dict", None)  # pydicom keeps elements unparsed here
        if not raw:
            return
        elem = raw[next(reversed(raw))]  # the last element read: last in file order
        if isinstance(elem, RawDataElement):
            if elem.length == UNDEFINED:
                return
            end = elem.value_tell + elem.length + extra
            break
        if elem.VR != "SQ":
            header_end = _end_from_header(path, elem.file_tell, ds)
            if header_end is None:
                return
            end = header_end + extra
            break
        if not elem.value:
            return
        if elem.is_undefined_length:
            extra += 8  # Sequence Delimitation Item
        node = elem.value[-1]
        if node.is_undefined_length_sequence_item:
            extra += 8  # Item Delimitation Item
    where = f"({elem.tag.group:04X},{elem.tag.element:04X})"
    if end > size:
        raise InvalidInputError(
            f"truncated file: it ends at byte {size}, its last element needs {end} bytes",
            path=path,
            attribute=where,
        )
    if end < size and extra == 0 and node is ds and end != stopped_at:
        with open(path, "rb") as f:
            f.seek(end)
            tail = f.read(8)
        # Pixel Data (group 7FE0) is left unread, and Per-frame Functional Groups until a
        # reader asks; pydicom stopping anywhere else means the rest could not be parsed
        if tail[:2] not in (b"\xe0\x7f", b"\x7f\xe0") and tail[:4] not in _PER_FRAME_TAG_BYTES:
            raise InvalidInputError(
                f"truncated or corrupt file: {size - end} byte(s) after the last element "
                "could not be parsed",
                path=path,
                attribute=where,
            )


def _end_from_header(path: str, offset: int | None, ds: Dataset) -> int | None:
    """End offset of an element pydicom has already converted (and so no longer knows
    the length of); None when the encoding is unknown or the length undefined."""
    encoding = getattr(ds, "original_encoding", None)
    if offset is None or not encoding or encoding[0] is None:
        return None
    implicit, little = encoding
    return element_end(path, offset, bool(implicit), bool(little))


def _looks_like_raw_dataset(path: str) -> bool:
    """Whether a file without the Part 10 header starts like a little endian dataset.

    Its first element must be in group 0002 or 0008 with either an explicit VR
    (two capital letters) or an implicit length that fits the file.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        return False
    group, element = struct.unpack("<HH", head[:4])
    if group not in (0x0002, 0x0008) or element > 0x1000:
        return False
    if head[4:6].isalpha() and head[4:6].isupper():
        return True
    length: int = struct.unpack("<I", head[4:8])[0]
    return length < os.path.getsize(path)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is parsed.

    Parsing a large document allocates hundreds of thousands of objects that
    all stay alive; each automatic collection would traverse them again
    (about 15 % of the time of a 10,000-reference KOS). Reference counting
    still frees what is dropped; the collector resumes after the file.

    Yields
    ------
    None
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
