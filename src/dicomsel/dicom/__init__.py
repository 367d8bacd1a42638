"""DICOM readers, dispatched on SOP Class UID.

Each reader module declares ``SOP_CLASS_UIDS`` and one ``read_<kind>(ds, ctx)``
function; :data:`READERS` maps every SOP Class UID to its reader, so adding a
reader touches this module only.
"""

from __future__ import annotations

import functools
import gc
import os
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomsel.dicom import image, kos, rtstruct, seg, sr
from dicomsel.dicom.common import ReadContext, ReadOptions, ReadResult, attr_name
from dicomsel.errors import DicomselError, InvalidInputError, NotDicomError, UnsupportedObjectError

__all__ = ["READERS", "ReadOptions", "ReadResult", "read_dataset", "read_file", "reader_for"]

Reader = Callable[[Dataset, ReadContext], ReadResult]

READERS: dict[str, Reader] = {uid: kos.read_kos for uid in kos.SOP_CLASS_UIDS}
READERS.update({uid: seg.read_seg for uid in seg.SOP_CLASS_UIDS})
READERS.update({uid: rtstruct.read_rtstruct for uid in rtstruct.SOP_CLASS_UIDS})
READERS.update({uid: sr.read_sr for uid in sr.SOP_CLASS_UIDS})


def reader_for(sop_class_uid: str) -> Reader | None:
    """The reader for a SOP Class UID, or None when no reader handles it.

    Image storage classes without a reader of their own fall back to the
    image reader (:func:`dicomsel.dicom.image.is_image_class`).
    """
    reader = READERS.get(sop_class_uid)
    if reader is None and image.is_image_class(sop_class_uid):
        return image.read_image
    return reader


def read_dataset(
    ds: Dataset, path: str | None = None, options: ReadOptions | None = None
) -> ReadResult:
    """Read an in-memory dataset with the reader its SOP Class UID calls for.

    Raises
    ------
    dicomsel.errors.UnsupportedObjectError
        When no reader handles the SOP class.
    dicomsel.errors.InvalidInputError
        When the object is malformed beyond tolerant reading.
    """
    ctx = ReadContext(path=path, options=options or ReadOptions())
    sop_class = str(ds.get("SOPClassUID", "") or "").strip()
    if not sop_class:
        meta = ds.get("file_meta")
        sop_class = str(meta.get("MediaStorageSOPClassUID", "") if meta else "").strip()
        if sop_class:
            ctx.warn(f"{attr_name('SOPClassUID')} is missing: taken from the file meta")
    if not sop_class:
        raise InvalidInputError("no SOP Class UID", path=path, attribute=attr_name("SOPClassUID"))
    reader = reader_for(sop_class)
    if reader is None:
        name = pydicom.uid.UID(sop_class).name
        raise UnsupportedObjectError(
            f"no reader for SOP class {sop_class} ({name})",
            path=path,
            attribute=attr_name("SOPClassUID"),
        )
    try:
        # pydicom converts values lazily and warns on invalid ones: those warnings are
        # report lines of this file, not process-wide warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = reader(ds, ctx)
        result.warnings.extend(f"pydicom: {w.message}" for w in caught)
        return result
    except DicomselError as e:
        if path:
            e.with_path(path)
        raise
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as e:
        # pydicom raises these on malformed values it parsed lazily
        raise InvalidInputError(f"malformed DICOM data ({type(e).__name__}: {e})", path=path) from e


def load(path: str | os.PathLike[str]) -> tuple[Dataset, list[str]]:
    """Read a DICOM file's header (up to Pixel Data) with pydicom.

    Returns the dataset and pydicom's warnings as report lines.

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
                ds, stopped_at = _read_header(p, force=False)
            except InvalidDicomError as e:
                if not _looks_like_raw_dataset(p):
                    raise NotDicomError(
                        "not a DICOM file (no 'DICM' prefix after the preamble)", path=p
                    ) from e
                ds, stopped_at = _read_header(p, force=True)
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
    return ds, notes


_PER_FRAME_GROUPS = 0x52009230  # PerFrameFunctionalGroupsSequence
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_STOP_TAGS = _PIXEL_TAGS | {_PER_FRAME_GROUPS}
_PER_FRAME_TAG_BYTES = (b"\x00\x52\x30\x92", b"\x52\x00\x92\x30")  # little, big endian


def _read_header(path: str, force: bool) -> tuple[Dataset, int | None]:
    """Read up to Pixel Data, and stop before Per-frame Functional Groups Sequence.

    The per-frame groups are most of a large multi-frame header and most readers
    never need them; a reader that does calls ``ds._dicomsel_read_rest(ds)``
    (see :func:`dicomsel.dicom.seg.per_frame_groups`), which reads them then. It is a
    ``functools.partial`` whose ``keywords`` give the ``path`` and the ``offset`` of the
    sequence, for a reader that scans the bytes itself.
    Returns the dataset and the file offset where reading stopped at one of
    those elements (None when it stopped at the end of the file, or early).
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
    if _PER_FRAME_GROUPS in stopped:
        # a partial, not a closure over ds: no reference cycle keeps the dataset alive
        ds._dicomsel_read_rest = functools.partial(_read_rest, path=path, offset=offset)
    return ds, offset if stopped else None


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


def _read_rest(ds: Dataset, path: str, offset: int) -> None:
    """Read the elements from Per-frame Functional Groups Sequence up to Pixel Data into ``ds``."""
    del ds._dicomsel_read_rest
    meta = ds.get("file_meta")
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        if ts is not None and getattr(ts, "is_deflated", False):
            # offsets are in the inflated stream: read the whole header again
            rest: Dataset = pydicom.dcmread(path, stop_before_pixels=True)
            tags = [t for t in rest.keys() if t >= _PER_FRAME_GROUPS]  # noqa: SIM118
        else:
            implicit, little = ds.original_encoding
            if implicit is None or little is None:  # pragma: no cover - set by read_partial
                implicit, little = True, True
            with open(path, "rb") as fp:
                fp.seek(offset)
                rest = pydicom.filereader.read_dataset(
                    fp,
                    implicit,
                    little,
                    stop_when=lambda tag, vr, length: tag in _PIXEL_TAGS,
                    parent_encoding=ds.original_character_set,
                )
            tags = list(rest.keys())
    except (EOFError, OSError, ValueError, TypeError, KeyError, IndexError) as e:
        raise InvalidInputError(
            f"cannot be parsed ({type(e).__name__}: {e})",
            path=path,
            attribute=attr_name("PerFrameFunctionalGroupsSequence"),
        ) from e
    for tag in tags:
        ds[tag] = rest.get_item(tag)
    _check_complete(ds, path)


def _check_complete(ds: Dataset, path: str, stopped_at: int | None = None) -> None:
    """Raise if the file ends before its last data element does.

    pydicom stops quietly at the end of a truncated file. The last element in
    file order is followed down through the last item of each sequence to a
    raw element whose offset and length are known; the file must reach its
    end plus the delimitation items of every undefined-length level.
    ``stopped_at`` is where reading stopped at an element it was told to stop
    at: when the last element ends exactly there, nothing was cut off.
    """
    meta = ds.get("file_meta")
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is not None and getattr(ts, "is_deflated", False):
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
            if elem.length == 0xFFFFFFFF:
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


_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)


def _end_from_header(path: str, offset: int | None, ds: Dataset) -> int | None:
    """End offset of the element whose header starts at ``offset``, read from the file.

    For elements pydicom has already converted (and so no longer knows the
    length of); None when the encoding is unknown or the length undefined.
    """
    encoding = getattr(ds, "original_encoding", None)
    if offset is None or not encoding or encoding[0] is None:
        return None
    implicit, little = encoding
    with open(path, "rb") as f:
        f.seek(offset)
        head = f.read(12)
    order = "<" if little else ">"
    if implicit:
        if len(head) < 8:
            return offset + 8
        length = int.from_bytes(head[4:8], "little" if little else "big")
        start = offset + 8
    else:
        if len(head) < 8:
            return offset + 8
        vr = head[4:6].decode("latin-1")
        if vr in _LONG_VRS:
            if len(head) < 12:
                return offset + 12
            length = struct.unpack(order + "I", head[8:12])[0]
            start = offset + 12
        else:
            length = struct.unpack(order + "H", head[6:8])[0]
            start = offset + 8
    if length == 0xFFFFFFFF:
        return None
    return int(start + length)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is parsed.

    Parsing a large document allocates hundreds of thousands of objects that
    all stay alive; each automatic collection would traverse them again
    (about 15 % of the time of a 10,000-reference KOS). Reference counting
    still frees what is dropped; the collector resumes after the file.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_file(path: str | os.PathLike[str], options: ReadOptions | None = None) -> ReadResult:
    """Read one DICOM file with the reader its SOP class calls for."""
    with _gc_paused():
        ds, notes = load(path)
        result = read_dataset(ds, os.fspath(path), options)
    result.warnings[:0] = notes
    return result
