"""Dispatch on SOP Class UID: each object kind to its reader.

Each reader module declares ``SOP_CLASS_UIDS`` and one ``read_<kind>(ds, ctx)``
function; :data:`READERS` maps every SOP Class UID (from
:mod:`dicomsel.dicom.sopclasses`) to its reader, whose module is imported when
first asked. Reading the
file itself is :mod:`dicomsel.dicom.filereader`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from importlib import import_module

import pydicom
from pydicom.dataset import Dataset

from dicomsel.dicom import image, sopclasses
from dicomsel.dicom.context import ReadContext, ReadOptions, ReadResult
from dicomsel.dicom.filereader import deferred_groups, gc_paused, read_header_file
from dicomsel.dicom.guard import PARSE_ERRORS, deep_call, parse_error
from dicomsel.dicom.values import attr_name
from dicomsel.errors import DicomselError, InvalidInputError, Issue, UnsupportedObjectError
from dicomsel.redact import phi_values, redact

__all__ = ["READERS", "Reader", "Readers", "read_dataset", "read_file", "reader_for"]

#: A reader: ``read_<kind>(ds, ctx)``.
Reader = Callable[[Dataset, ReadContext], ReadResult]

#: SOP Class UID -> (reader module, its ``read_<kind>`` function)
_WHERE = {
    **dict.fromkeys(sopclasses.KEY_OBJECT_SELECTION, ("dicomsel.dicom.kos", "read_kos")),
    **dict.fromkeys(sopclasses.SEGMENTATIONS, ("dicomsel.dicom.seg", "read_seg")),
    **dict.fromkeys(sopclasses.RT_STRUCTURE_SET, ("dicomsel.dicom.rtstruct", "read_rtstruct")),
    **dict.fromkeys(sopclasses.STRUCTURED_REPORTS, ("dicomsel.dicom.sr", "read_sr")),
    **dict.fromkeys(sopclasses.PRESENTATION_STATES, ("dicomsel.dicom.pstate", "read_pstate")),
    **dict.fromkeys(sopclasses.BULK_ANNOTATIONS, ("dicomsel.dicom.bulkann", "read_bulkann")),
}


class Readers(Mapping[str, Reader]):
    """The readers by SOP Class UID (image classes aside), each module imported when first asked."""

    def __getitem__(self, sop_class_uid: str) -> Reader:
        module, function = _WHERE[sop_class_uid]
        reader: Reader = getattr(import_module(module), function)
        return reader

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


READERS = Readers()


def reader_for(sop_class_uid: str) -> Reader | None:
    """The reader for a SOP Class UID (image classes: the image reader), or None.

    Parameters
    ----------
    sop_class_uid : str

    Returns
    -------
    callable or None
        ``reader(ds, ctx) -> ReadResult``.
    """
    if sop_class_uid in _WHERE:
        return READERS[sop_class_uid]
    if image.is_image_class(sop_class_uid):
        return image.read_image
    return None


def _sop_class(ds: Dataset, path: str | None) -> tuple[str, bool]:
    """The SOP Class UID, and whether it came from the file meta."""
    try:
        sop_class = str(ds.get("SOPClassUID", "") or "").strip()
        if sop_class:
            return sop_class, False
        meta = ds.get("file_meta")
        return str(meta.get("MediaStorageSOPClassUID", "") if meta else "").strip(), True
    except PARSE_ERRORS as e:  # converted lazily: a wrong VR, say
        raise parse_error(e, path) from e


def _read(ds: Dataset, ctx: ReadContext) -> ReadResult:
    path = ctx.path
    sop_class, from_meta = _sop_class(ds, path)
    if sop_class and from_meta:
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
        # pydicom's warnings on values it converts lazily: report lines of this file
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = reader(ds, ctx)
        if caught:  # pydicom quotes values: never an input's PHI
            phi = phi_values(ds)
            result.issues.extend(
                Issue(f"pydicom: {redact(str(w.message), phi)}", path=path) for w in caught
            )
        return result
    except DicomselError as e:
        if path:
            e.with_path(path)
        raise
    except PARSE_ERRORS as e:
        # pydicom raises these on malformed values it converts lazily (nested sequences
        # included): a typed error naming the element it was converting
        raise parse_error(e, path) from e


def read_dataset(
    ds: Dataset, path: str | None = None, options: ReadOptions | None = None
) -> ReadResult:
    """Read an in-memory dataset with the reader its SOP Class UID calls for.

    A dataset :func:`dicomsel.dicom.filereader.load` read has its per-frame
    functional groups read from the file when a reader needs them; any other
    has them in the dataset.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    path : str or None
        The file it was read from, for messages.
    options : ReadOptions or None

    Returns
    -------
    ReadResult

    Raises
    ------
    dicomsel.errors.UnsupportedObjectError
        When no reader handles the SOP class.
    dicomsel.errors.InvalidInputError
        When the object is malformed beyond tolerant reading.
    """

    def once() -> ReadResult:
        ctx = ReadContext(path=path, options=options or ReadOptions(), deferred=deferred_groups(ds))
        return _read(ds, ctx)

    try:
        return once()
    except RecursionError:  # a deeply nested sequence pydicom parsed lazily
        pass
    return deep_call(once, path)


def read_file(path: str | os.PathLike[str], options: ReadOptions | None = None) -> ReadResult:
    """Read one DICOM file with the reader its SOP class calls for.

    Parameters
    ----------
    path : str or os.PathLike
    options : ReadOptions or None

    Returns
    -------
    ReadResult

    Raises
    ------
    dicomsel.errors.NotDicomError
        When the file is not DICOM Part 10.
    dicomsel.errors.UnsupportedObjectError, dicomsel.errors.InvalidInputError
        As :func:`read_dataset`; also when the file is truncated.
    """
    p = os.fspath(path)
    try:
        return _read_file(p, options)
    except RecursionError:  # sequences pydicom parses lazily: parse them on a deep stack
        pass
    return deep_call(lambda: _read_file(p, options), p)


def _read_file(p: str, options: ReadOptions | None) -> ReadResult:
    with gc_paused():
        header = read_header_file(p)
        ctx = ReadContext(path=p, options=options or ReadOptions(), deferred=header.deferred)
        result = _read(header.dataset, ctx)
    result.issues[:0] = [Issue(note, path=p) for note in header.notes]
    return result
