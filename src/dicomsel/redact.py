"""Protected health information kept out of logs and reports.

Messages about an input name its file, attribute and UIDs, never who the
patient is. pydicom's warnings quote the value they reject (``Invalid value
for VR DA: 'DOE^JOHN'``) whatever attribute it belongs to; :func:`redact`
masks a dataset's patient identity values (:func:`phi_values`, the attributes
of :data:`PHI_KEYWORDS`) wherever they occur in a message, and the values
that pydicom's message templates quote whatever they are.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["MASK", "PHI_KEYWORDS", "phi_values", "redact", "redact_json"]

#: what a masked value becomes
MASK = "<redacted>"

#: Patient identity and demographics, and the names of persons, from the Basic
#: Application Level Confidentiality Profile (PS3.15 Table E.1-1): the values
#: that must never reach a log line at default verbosity.
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientBirthName",
    "PatientMotherBirthName",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientTelecomInformation",
    "MedicalRecordLocator",
    "MilitaryRank",
    "BranchOfService",
    "CountryOfResidence",
    "RegionOfResidence",
    "Occupation",
    "PatientComments",
    "AdditionalPatientHistory",
    "ResponsiblePerson",
    "PersonName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
)

#: values shorter than this are masked only as a whole word (``12`` in ``length (12)``
#: would otherwise mask half of every message)
_SHORT = 4

# pydicom's message templates that quote a value (pydicom/valuerep.py, 3.0)
_TEMPLATES = (
    # Invalid value for VR DA: 'DOE^JOHN'.
    re.compile(r"(Invalid value for VR \w+: )('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|b'[^']*')"),
    # Unable to convert (non-conformant value )'20240' to 'DA' object
    re.compile(r"(Unable to convert (?:non-conformant value )?)('[^']*')"),
    # Value "abc" is not valid for elements with a VR of DS
    re.compile(r"(Value )(\"[^\"]*\"|'[^']*')( is not valid)"),
    # Cannot encode non-finite floats as DICOM decimal strings. Got 'inf'
    re.compile(r"(Got )('[^']*')"),
)


def redact(message: str, values: Iterable[str] = ()) -> str:
    """``message`` with PHI masked as :data:`MASK`.

    Parameters
    ----------
    message : str
        A log line or report message (a pydicom warning, an error).
    values : iterable of str
        The input's PHI values (:func:`phi_values`): each is masked wherever it
        occurs, as it stands and as Python quotes it; values shorter than four
        characters only as a whole word. Person names are masked by component too.

    Returns
    -------
    str
        The message; values pydicom's message templates quote are masked whatever
        attribute they belong to.
    """
    out = message
    for value in sorted(_forms(values), key=len, reverse=True):
        if len(value) >= _SHORT:
            out = out.replace(value, MASK)
        else:
            out = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", MASK, out)
    for pattern in _TEMPLATES:
        out = pattern.sub(_masked, out)
    return out


def redact_json(value: Any, values: Iterable[str] = ()) -> Any:
    """Every string in a JSON value (a report) through :func:`redact`, keys kept."""
    if isinstance(value, str):
        return redact(value, values)
    if isinstance(value, list):
        return [redact_json(v, values) for v in value]
    if isinstance(value, dict):
        return {k: redact_json(v, values) for k, v in value.items()}
    return value


def _masked(m: re.Match[str]) -> str:
    groups = m.groups()
    return groups[0] + MASK + "".join(g for g in groups[2:] if g)


def _forms(values: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for value in values:
        text = value.strip(" \x00")
        if not text or text == MASK:
            continue
        forms.add(text)
        forms.add(repr(text)[1:-1])  # as a repr() quotes it (escapes, non-ASCII kept)
        forms.add(ascii(text)[1:-1])
        # a person name: each component group and name part
        for part in re.split(r"[\^=\\]", text):
            part = part.strip()
            if part:
                forms.add(part)
    return {f for f in forms if f.strip()}


def phi_values(ds: Dataset, keywords: Iterable[str] = PHI_KEYWORDS) -> list[str]:
    """The values of ``ds``'s PHI attributes (:data:`PHI_KEYWORDS`), for :func:`redact`.

    Values are taken as stored and as pydicom converts them, in sequence items
    too, without pydicom's own warnings (a value pydicom rejects is still masked).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    keywords : iterable of str
        The attributes whose values to take.

    Returns
    -------
    list of str
    """
    wanted = set(keywords)
    found: list[str] = []
    _collect(ds, wanted, found, depth=0)
    return sorted(set(found))


def _collect(ds: Any, wanted: set[str], found: list[str], depth: int) -> None:
    from pydicom.datadict import dictionary_keyword

    if depth > 8:
        return
    try:
        tags = list(ds.keys())
    except Exception:  # a dataset that cannot even list its tags: nothing to take
        return
    for tag in tags:
        try:
            keyword = dictionary_keyword(tag)
        except KeyError:
            continue
        if keyword not in wanted:
            continue
        try:
            raw = ds.get_item(tag)
        except Exception:
            continue
        data = getattr(raw, "value", None)
        if isinstance(data, bytes | bytearray):
            for codec in ("utf-8", "latin-1"):
                found.append(bytes(data).decode(codec, errors="replace"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = ds[tag].value
            except Exception:
                continue
        if keyword.endswith("Sequence"):
            for item in value or ():
                _collect(item, set(PHI_KEYWORDS), found, depth + 1)
            continue
        items = value if isinstance(value, list | tuple) or _is_multi(value) else [value]
        for v in items:
            if v is not None and not isinstance(v, bytes):
                found.append(str(v))
        if items and len(items) > 1:
            found.append("\\".join(str(v) for v in items))


def _is_multi(value: Any) -> bool:
    from pydicom.multival import MultiValue

    return isinstance(value, MultiValue)
