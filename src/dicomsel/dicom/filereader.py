"""Reading a DICOM file's header: the one place the readers' input comes from a file.

- :func:`read_header_file` reads a well-formed little endian file from its element
  headers (:mod:`dicomsel.dicom.rawheader`, the same dataset pydicom would build,
  at about half the cost), anything else with pydicom; either way it reads up to
  Pixel Data and stops before the
  Per-frame Functional Groups Sequence, which it leaves to a
  :class:`PerFrameGroups` (path, offset, encoding) that reads them when a
  reader asks (:attr:`dicomsel.dicom.context.ReadContext.deferred`);
- a Content Sequence or evidence sequence of undefined length (as DCMTK-based
  writers make them), which pydicom would parse into datasets as it reads the
  header, is walked by its element headers instead and kept as the raw bytes
  of its items, as pydicom keeps a sequence of defined length
  (:func:`_defer_sequences`): the readers split it item by item;
- a file nested too deeply for the default stack is parsed again on a thread
  with a large stack (:func:`deep_call`, also used by the dispatcher so that the
  sequences pydicom parses lazily parse where the retry catches them);
- files are read through a read-only memory map, so a declared length larger
  than the bytes left in the file costs no allocation (a read returns what is
  there, and the truncation check reports the element);
- every exception pydicom, zlib or struct raise on malformed bytes becomes an
  :class:`~dicomsel.errors.InvalidInputError` naming the file, the element being
  read when it is known, and the reason (:func:`parse_error`);
- a file without the Part 10 preamble but that starts like a dataset is read
  as a bare dataset;
- a truncated file is an error, not a quietly shorter dataset;
- :func:`gc_paused` pauses the cyclic garbage collector while one file is read.
"""

from __future__ import annotations

import gc
import io
import mmap
import os
import struct
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, cast

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomsel.dicom import tags
from dicomsel.dicom.guard import PARSE_ERRORS, deep_call, parse_error
from dicomsel.dicom.items import raw_paths
from dicomsel.dicom.rawheader import read_raw_header, unread_cut
from dicomsel.dicom.scanner import UNDEFINED, Scanner, Unsupported, element_end
from dicomsel.errors import DicomselError, InvalidInputError, NotDicomError
from dicomsel.redact import phi_values, redact

__all__ = [
    "HeaderFile",
    "PerFrameGroups",
    "deferred_groups",
    "gc_paused",
    "load",
    "open_bytes",
    "read_header_file",
]


@contextmanager
def open_bytes(path: str) -> Iterator[BinaryIO]:
    """A file as a read-only memory map (file-like: read, seek, tell).

    Reading ``n`` bytes from a memory map allocates what is there, not ``n``: a
    huge declared length in a small file costs nothing before the truncation
    check reports it.

    Parameters
    ----------
    path : str

    Yields
    ------
    BinaryIO
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield io.BytesIO(b"")
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield cast(BinaryIO, buf)


_PIXEL_TAGS = frozenset({tags.FloatPixelData, tags.DoubleFloatPixelData, tags.PixelData})
_STOP_TAGS = _PIXEL_TAGS | {tags.PerFrameFunctionalGroupsSequence}
_PER_FRAME_TAG_BYTES = (b"\x00\x52\x30\x92", b"\x52\x00\x92\x30")  # little, big endian
_A_PER_FRAME = "PerFrameFunctionalGroupsSequence (5200,9230)"
#: the large sequences of a KOS or SR, read item by item from their raw bytes
_DEFERRED_SEQUENCES = frozenset(
    {
        tags.ContentSequence,
        tags.CurrentRequestedProcedureEvidenceSequence,
        tags.PertinentOtherEvidenceSequence,
    }
)


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
    items : list of (int, int) or None
        The (content position, length) of each item of the sequence, when the
        header reader walked them already (:func:`dicomsel.dicom.rawheader.scan_unread`).
    """

    path: str
    offset: int
    implicit: bool
    little: bool
    deflated: bool
    pending: bool = True
    items: list[tuple[int, int]] | None = None

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
                with open_bytes(path) as fp:
                    rest: Dataset = pydicom.dcmread(fp, stop_before_pixels=True)
                keep = [t for t in rest.keys() if t >= tags.PerFrameFunctionalGroupsSequence]  # noqa: SIM118
            else:
                with open_bytes(path) as fp:
                    fp.seek(self.offset)
                    rest = pydicom.filereader.read_dataset(
                        fp,
                        self.implicit,
                        self.little,
                        stop_when=lambda tag, vr, length: tag in _PIXEL_TAGS,
                        parent_encoding=ds.original_character_set,
                    )
                keep = list(rest.keys())
        except PARSE_ERRORS as e:
            error = parse_error(e, path)
            raise InvalidInputError(
                error.reason, path=path, attribute=error.attribute or _A_PER_FRAME
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
    try:
        return ts is not None and bool(getattr(ts, "is_deflated", False))
    except ValueError:  # not a transfer syntax UID: pydicom read it as it guessed
        return False


def _transfer_syntax_note(ds: Dataset) -> str | None:
    meta = ds.get("file_meta")
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is None or pydicom.uid.UID(str(ts)).is_transfer_syntax:
        return None
    return (
        f"TransferSyntaxUID (0002,0010) {str(ts)[:64]!r} is not a transfer syntax: "
        "the dataset was read with the encoding pydicom guessed"
    )


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
    try:
        return _read_header_file(p)
    except RecursionError:
        pass
    return deep_call(lambda: _read_header_file(p), p)


def _read_header_file(p: str) -> HeaderFile:
    fast = _raw_header_file(p)
    if fast is not None:
        return fast
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
            note = _transfer_syntax_note(ds)
            _check_complete(ds, p, stopped_at)
            _check_dataset(ds, p, bare)
            bulk = _bulk_note(ds, p, stopped_at)
        except DicomselError:
            raise
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            raise InvalidInputError(e.strerror or str(e), path=p) from e
        except PARSE_ERRORS as e:
            raise parse_error(e, p) from e
    phi = phi_values(ds) if caught else []  # pydicom quotes values: never an input's PHI
    notes = [f"pydicom: {redact(str(w.message), phi)}" for w in caught]
    if bare:
        notes.insert(0, "no Part 10 preamble and 'DICM' prefix: read as a bare dataset")
    notes += [n for n in (note, bulk) if n]
    return HeaderFile(ds, notes, deferred)


def _raw_header_file(p: str) -> HeaderFile | None:
    """The header read by :func:`dicomsel.dicom.rawheader.read_raw_header`, or None."""
    try:
        header = read_raw_header(p)
    except OSError:
        return None  # pydicom's path reports it
    if header is None:
        return None
    deferred = None
    if header.stop_tag == tags.PerFrameFunctionalGroupsSequence and header.stopped_at is not None:
        deferred = PerFrameGroups(
            p, header.stopped_at, header.implicit, True, False, items=header.per_frame_items
        )
    notes = []
    if header.unread_cut is not None:
        notes.append(_cut_note(header.unread_cut, os.path.getsize(p)))
    return HeaderFile(header.dataset, notes, deferred)


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
    to_defer: list[tuple[int, bool]] = []  # (header offset, implicit VR) of a sequence to walk
    defer = [raw_paths()]

    def stop(tag: int, vr: str | None, length: int) -> bool:
        # called for every top-level element: one set lookup (BaseTag's == is slow Python)
        if tag in _STOP_TAGS:
            stopped.append(tag)
            return True
        if length == UNDEFINED and tag in _DEFERRED_SEQUENCES and defer[0]:
            at = _sequence_header(fp, tag, vr)
            if at is not None:
                to_defer.append(at)
                return True
        return False

    with open_bytes(path) as fp:
        try:
            ds = pydicom.filereader.read_partial(fp, stop_when=stop, force=force)
            while to_defer:
                start, seq_implicit = to_defer.pop()
                if not _defer_sequence(ds, fp, start, seq_implicit):
                    defer[0] = False  # pydicom reads it (and reports what is wrong)
                rest = pydicom.filereader.read_dataset(
                    fp, seq_implicit, True, stop_when=stop, parent_encoding=ds._character_set
                )
                for tag in rest.keys():  # noqa: SIM118 - in file order
                    ds[tag] = rest.get_item(tag)
        except (EOFError, OSError, struct.error) as e:
            size = os.path.getsize(path)
            if fp.tell() + 8 <= size:
                raise
            # pydicom ran out of bytes inside an element (a sequence it reads at once)
            where = parse_error(e, path).attribute
            raise InvalidInputError(
                f"truncated file: it ends at byte {size}, inside the element being read",
                path=path,
                attribute=where,
            ) from e
        offset = fp.tell()
    deferred = None
    if tags.PerFrameFunctionalGroupsSequence in stopped:
        implicit, little = ds.original_encoding
        if implicit is None or little is None:  # pragma: no cover - set by read_partial
            implicit, little = True, True
        deferred = PerFrameGroups(path, offset, bool(implicit), bool(little), _is_deflated(ds))
    return ds, offset if stopped else None, deferred


def _sequence_header(fp: BinaryIO, tag: int, vr: str | None) -> tuple[int, bool] | None:
    """(header offset, implicit VR) of the sequence pydicom is about to read, when the
    file's own bytes (little endian, not deflated) hold its header right there."""
    buf = cast(object, fp)
    if not isinstance(buf, mmap.mmap):
        return None
    implicit = vr is None
    start = buf.tell() - (8 if implicit else 12)
    if start < 0 or buf[start : start + 4] != struct.pack("<HH", tag >> 16, tag & 0xFFFF):
        return None  # big endian, or a deflated stream pydicom reads elsewhere
    if not implicit and (vr != "SQ" or buf[start + 4 : start + 6] != b"SQ"):
        return None
    return start, implicit


def _defer_sequence(ds: Dataset, fp: BinaryIO, start: int, implicit: bool) -> bool:
    """Walk the undefined-length sequence whose header is at ``start`` and keep it raw.

    The sequence goes in ``ds`` as a raw element of undefined length whose value
    is the bytes of its items (without the Sequence Delimitation Item); pydicom
    converts it on first access as it does a sequence of defined length, and the
    readers split it themselves. Returns False, ``fp`` back at ``start``, when
    the walk meets bytes it does not handle: pydicom reads the sequence then.
    """
    try:
        scanner = Scanner(fp, implicit)
        tag, length, vpos = scanner.header(start)
        end = scanner.skip(vpos, length)
    except (Unsupported, RecursionError, struct.error):
        fp.seek(start)
        return False
    value = cast(mmap.mmap, fp)[vpos : end - 8]
    ds[tag] = RawDataElement(
        pydicom.tag.BaseTag(tag), None if implicit else "SQ", UNDEFINED, value, vpos, implicit, True
    )
    fp.seek(end)
    return True


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
                # pydicom read the value up to its delimiter, or to the end of the file
                if elem.value_tell is None or elem.value is None:
                    return
                end = elem.value_tell + len(elem.value) + 8 + extra
                break
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
    keyword = pydicom.datadict.keyword_for_tag(elem.tag)
    where = f"{keyword} {where}" if keyword else where
    if end > size:
        raise InvalidInputError(
            f"truncated file: it ends at byte {size}, its last element needs {end} bytes",
            path=path,
            attribute=where,
        )
    if end < size and extra == 0 and node is ds and end != stopped_at:
        with open(path, "rb") as tail_file:
            tail_file.seek(end)
            tail = tail_file.read(8)
        # Pixel Data (group 7FE0) is left unread, and Per-frame Functional Groups until a
        # reader asks; pydicom stopping anywhere else means the rest could not be parsed
        if tail[:2] not in (b"\xe0\x7f", b"\x7f\xe0") and tail[:4] not in _PER_FRAME_TAG_BYTES:
            raise InvalidInputError(
                f"truncated or corrupt file: {size - end} byte(s) after the last element "
                "could not be parsed",
                path=path,
                attribute=where,
            )


def _check_dataset(ds: Dataset, path: str, bare: bool) -> None:
    """Raise when a Part 10 file ends within or right after its File Meta Information."""
    if bare or len(ds._dict):
        return
    size = os.path.getsize(path)
    raise InvalidInputError(
        f"truncated file: it ends at byte {size}, after the File Meta Information: no dataset",
        path=path,
    )


def _bulk_note(ds: Dataset, path: str, stopped_at: int | None) -> str | None:
    """A note when the elements left unread (per-frame groups, Pixel Data) pass the file's end.

    The header is complete and converts, but a file cut in its bulk data is
    damaged: the note is a warning (an error under ``--strict``). Walks at most
    the elements from where reading stopped to the end of the file, little endian
    only, by their headers (undefined lengths item by item).
    """
    encoding = getattr(ds, "original_encoding", None)
    if stopped_at is None or _is_deflated(ds) or not encoding or encoding[1] is not True:
        return None
    with open_bytes(path) as fp:
        if isinstance(fp, io.BytesIO):
            return None
        size = len(fp)  # type: ignore[arg-type]
        tag = unread_cut(fp, stopped_at, size, bool(encoding[0]))
    return None if tag is None else _cut_note(tag, size)


def _cut_note(tag: int, size: int) -> str:
    """The note on an element left unread that runs past the end of the file."""
    name = pydicom.datadict.keyword_for_tag(tag) or "element"
    return (
        f"truncated file: {name} ({tag >> 16:04X},{tag & 0xFFFF:04X}) runs past the "
        f"end of the file (byte {size}): the header was read, its bulk data is cut"
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
