"""DICOM readers, dispatched on SOP Class UID.

Each reader module declares ``SOP_CLASS_UIDS`` and one ``read_<kind>(ds, ctx)``
function; :data:`READERS` maps every SOP Class UID to its reader, so adding a
reader touches this module only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dicomsel.dicom import kos
from dicomsel.dicom.common import ReadContext, ReadOptions, ReadResult, attr_name
from dicomsel.errors import DicomselError, InvalidInputError, NotDicomError, UnsupportedObjectError

__all__ = ["READERS", "ReadOptions", "ReadResult", "read_dataset", "read_file", "reader_for"]

Reader = Callable[[Dataset, ReadContext], ReadResult]

READERS: dict[str, Reader] = {uid: kos.read_kos for uid in kos.SOP_CLASS_UIDS}


def reader_for(sop_class_uid: str) -> Reader | None:
    """The reader for a SOP Class UID, or None when no reader handles it."""
    return READERS.get(sop_class_uid)


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
        return reader(ds, ctx)
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
        When the file is DICOM but cannot be parsed (truncated, corrupt).
    """
    p = os.fspath(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            # parse every element now, so truncation shows here rather than later
            _touch(ds)
        except InvalidDicomError as e:
            raise NotDicomError(
                "not a DICOM file (no 'DICM' prefix after the preamble)", path=p
            ) from e
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
            if isinstance(e, FileNotFoundError | IsADirectoryError | PermissionError):
                raise InvalidInputError(e.strerror or str(e), path=p) from e
            raise InvalidInputError(f"cannot be parsed ({type(e).__name__}: {e})", path=p) from e
    notes = [f"pydicom: {w.message}" for w in caught]
    if any("truncat" in n.lower() or "end of file" in n.lower() for n in notes):
        raise InvalidInputError(f"truncated file ({notes[0]})", path=p)
    return ds, notes


def _touch(ds: Dataset) -> None:
    stack = [ds]
    while stack:
        d = stack.pop()
        for elem in d:
            if elem.VR == "SQ":
                stack.extend(elem.value)


def read_file(path: str | os.PathLike[str], options: ReadOptions | None = None) -> ReadResult:
    """Read one DICOM file with the reader its SOP class calls for."""
    ds, notes = load(path)
    result = read_dataset(ds, os.fspath(path), options)
    result.warnings[:0] = notes
    return result
