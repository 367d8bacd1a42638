"""DICOM JSON input (PS3.18 Annex F.2): a dataset as WADO-RS metadata or a ``.json`` file holds it.

:func:`read_json_dataset` builds a pydicom dataset from the DICOM JSON model,
element by element (so that an element pydicom cannot convert is an error naming
it, nested sequences included), then reads it as
:func:`dicomsel.dicom.dispatch.read_dataset` reads any dataset. Bulk data is
never fetched: no reader needs it. An element given by ``BulkDataURI`` is kept
with an empty value (so is a binary one given as ``Value`` numbers, which PS3.18
F.2.7 does not allow, with a warning); ``InlineBinary`` is decoded. Pixel Data (and Float / Double
Float Pixel Data) and every element after it are left out, as the file reader
stops before them; group 0002 elements go to the file meta, as in a file.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

from pydicom import config
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.jsonrep import JsonDataElementConverter
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from dicomsel.dicom.context import ReadOptions, ReadResult
from dicomsel.dicom.dispatch import read_dataset
from dicomsel.dicom.guard import deep_call
from dicomsel.errors import InputWarning, InvalidInputError, Issue, NotDicomError
from dicomsel.redact import phi_values, redact

__all__ = ["is_dicom_json", "read_json_dataset", "read_json_file"]

_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_VALUE_KEYS = ("Value", "BulkDataURI", "InlineBinary")
#: the VRs whose value DICOM JSON carries as InlineBinary or BulkDataURI only (PS3.18 F.2.7)
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: VRs whose JSON Value is a list of strings (PS3.18 F.2.3): read without pydicom's
#: converter, whose construction (inspect.signature of the bulk data handler, per element)
#: was most of the time of reading WADO-RS metadata; the result is the same element
_STRING_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
#: VRs whose JSON Value is a list of numbers
_NUMBER_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
#: FloatPixelData, DoubleFloatPixelData, PixelData: the file reader stops at the first
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})


def is_dicom_json(obj: object) -> bool:
    """Whether ``obj`` (decoded JSON) looks like one DICOM JSON dataset.

    An object whose keys are all 8-hex-digit tags and whose values are objects
    with a ``vr``, or a one-element array of one (as WADO-RS metadata returns).

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
    """
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]
    if not isinstance(obj, dict) or not obj:
        return False
    return all(
        isinstance(k, str) and _TAG.fullmatch(k) and isinstance(v, dict) and "vr" in v
        for k, v in obj.items()
    )


def _name(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    where = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{keyword} {where}" if keyword else where


def _no_bulk(tag: str, vr: str, uri: str) -> None:
    """Bulk data is never fetched: the element keeps an empty value."""
    return None


def _element(tag: int, mapping: Any, path: str | None, where: str) -> DataElement:
    name = where + _name(tag)
    if not isinstance(mapping, dict) or not isinstance(mapping.get("vr"), str):
        raise InvalidInputError("not a DICOM JSON attribute (no 'vr')", path=path, attribute=name)
    vr: str = mapping["vr"]
    keys = [k for k in _VALUE_KEYS if k in mapping]
    if len(keys) > 1:
        raise InvalidInputError(f"holds both {keys[0]} and {keys[1]}", path=path, attribute=name)
    if vr == "SQ" and keys == ["Value"]:
        items = mapping["Value"]
        if not isinstance(items, list):
            raise InvalidInputError("sequence Value is not an array", path=path, attribute=name)
        seq = []
        for i, item in enumerate(items, 1):
            if item is None:
                item = {}
            if not isinstance(item, dict):
                raise InvalidInputError(f"item {i} is not an object", path=path, attribute=name)
            seq.append(_dataset(item, path, f"{name} item {i} > "))
        return DataElement(tag, "SQ", Sequence(seq))
    key = keys[0] if keys else None
    value = mapping[key] if key else [""]
    fast = _plain_values(vr, key, value)
    if fast is not None:
        return DataElement(tag, vr, fast, validation_mode=config.IGNORE)
    if key == "Value" and vr in _BINARY_VRS:
        # PS3.18 F.2.7 allows only InlineBinary or BulkDataURI here; a server that sends
        # numbers may have cut them (Orthanc 1.10 sends the first only): read as bulk data
        warnings.warn(
            f"{name}: {vr} given as Value, not InlineBinary (PS3.18 F.2.7): "
            "read without its value, as bulk data",
            InputWarning,
            stacklevel=2,
        )
        key, value = "BulkDataURI", ""
    try:
        converter = JsonDataElementConverter(Dataset, f"{tag:08X}", vr, value, key, _no_bulk)
        converted = converter.get_element_values()
        if vr == "UN" and config.replace_un_with_known_vr and isinstance(converted, bytes):
            # as pydicom reads a file: UN of a known tag gets the dictionary's VR
            raw = RawDataElement(Tag(tag), vr, len(converted), converted, 0, True, True)
            return convert_raw_data_element(raw)
        # values are not validated here, as pydicom does not when it reads a file's
        return DataElement(tag, vr, converted, validation_mode=config.IGNORE)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        reason = redact(str(e))
        raise InvalidInputError(
            f"cannot be converted ({type(e).__name__}: {reason})", path=path, attribute=name
        ) from e


def _plain_values(vr: str, key: str | None, value: Any) -> Any:
    """The value of a string or number attribute as pydicom's converter gives it, or None.

    None: not one of those simple cases (the converter decides).
    """
    if vr in _STRING_VRS:
        if key is None:
            return ""
        plain = all(type(v) is str for v in value) if _listed(key, value) else False
    else:
        plain = vr in _NUMBER_VRS and _listed(key, value)
        plain = plain and all(type(v) in (int, float) for v in value)
    if not plain:
        return None
    return value[0] if len(value) == 1 else list(value)


def _listed(key: str | None, value: Any) -> bool:
    return key == "Value" and isinstance(value, list) and bool(value)


def _dataset(obj: dict[str, Any], path: str | None, where: str = "") -> Dataset:
    ds = Dataset()
    for key in sorted(obj, key=lambda k: int(k, 16) if _TAG.fullmatch(str(k)) else -1):
        if not isinstance(key, str) or not _TAG.fullmatch(key):
            raise InvalidInputError(
                f"{key!r} is not a tag (8 hex digits)",
                path=path,
                attribute=where.strip(" >") or None,
            )
        tag = int(key, 16)
        if not where and tag in _PIXEL_TAGS:
            break  # as the file reader: nothing from Pixel Data on
        ds.add(_element(tag, obj[key], path, where))
    return ds


def _build(obj: dict[str, Any], path: str | None) -> Dataset:
    ds = _dataset(obj, path)
    meta = [tag for tag in ds.keys() if tag >> 16 == 0x0002]  # noqa: SIM118
    if meta:
        ds.file_meta = FileMetaDataset()
        for tag in meta:
            ds.file_meta.add(ds[tag])
            del ds[tag]
    return ds


def read_json_dataset(
    obj_or_text: object, path: str | None = None, options: ReadOptions | None = None
) -> ReadResult:
    """Read a DICOM JSON dataset (PS3.18 F.2) with the reader its SOP Class UID calls for.

    Parameters
    ----------
    obj_or_text : dict, list, str or bytes
        The decoded JSON (an object keyed by tags, or a one-element array of one),
        or its text.
    path : str or None
        Where it came from (a file, a WADO-RS URL), for messages.
    options : ReadOptions or None

    Returns
    -------
    ReadResult
        As :func:`dicomsel.dicom.read_dataset`; pydicom's warnings while converting
        values come first in its issues.

    Raises
    ------
    dicomsel.errors.NotDicomError
        When the text is not JSON, or the JSON is not a DICOM JSON dataset.
    dicomsel.errors.InvalidInputError
        When it holds more than one dataset, or an element cannot be converted
        (the message names the element, nested ones through their sequence).
    dicomsel.errors.UnsupportedObjectError
        When no reader handles the SOP class.
    """
    obj = obj_or_text
    if isinstance(obj, str | bytes | bytearray):
        try:
            obj = json.loads(obj)
        except RecursionError:
            obj = deep_call(lambda: json.loads(obj_or_text), path)  # type: ignore[arg-type]
        except ValueError as e:
            raise NotDicomError(f"not JSON ({type(e).__name__})", path=path) from e
    if isinstance(obj, list) and len(obj) > 1 and is_dicom_json(obj[:1]):
        raise InvalidInputError(
            f"holds {len(obj)} DICOM JSON datasets: one is read at a time", path=path
        )
    if not is_dicom_json(obj):
        raise NotDicomError(
            "not a DICOM JSON dataset (an object keyed by 8-hex-digit tags)", path=path
        )
    data: dict[str, Any] = obj[0] if isinstance(obj, list) else obj  # type: ignore[assignment]

    def build() -> tuple[Dataset, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _build(data, path)
        phi = phi_values(ds) if caught else []
        notes = [
            str(w.message)
            if issubclass(w.category, InputWarning)
            else f"pydicom: {redact(str(w.message), phi)}"
            for w in caught
        ]
        return ds, notes

    try:
        ds, notes = build()
    except RecursionError:
        ds, notes = deep_call(build, path)
    result = read_dataset(ds, path, options)
    result.issues[:0] = [Issue(note, path=path) for note in notes]
    return result


def read_json_file(path: str, options: ReadOptions | None = None) -> ReadResult:
    """Read a ``.json`` file that holds one DICOM JSON dataset (UTF-8).

    Parameters
    ----------
    path : str
    options : ReadOptions or None

    Returns
    -------
    ReadResult

    Raises
    ------
    dicomsel.errors.NotDicomError
        When the file is not JSON, or not a DICOM JSON dataset (FHIR output, say).
    dicomsel.errors.InvalidInputError
        As :func:`read_json_dataset`; also when the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise InvalidInputError(e.strerror or str(e), path=path) from e
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotDicomError("not JSON (not UTF-8)", path=path) from e
    return read_json_dataset(decoded, path, options)
