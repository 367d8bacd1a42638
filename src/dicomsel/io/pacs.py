"""What the PACS sources share: the query, the instance references, what to retrieve, the endpoint.

The DICOMweb source (:mod:`dicomsel.io.dicomweb`) and the DIMSE source
(:mod:`dicomsel.io.dimse`) list the instances of an archive study by study,
series by series, as :class:`~dicomsel.io.Item` references whose key names the
peer and the three UIDs (:func:`item_for`, :func:`ref_of`), and read each one:
the whole instance for the objects whose content a reader needs (KOS, SR, SEG,
RTSTRUCT, ...), the metadata only for a plain image (:func:`whole_instance`),
nothing for a class no reader handles. The selections read from a PACS name
the PACS as their endpoint (:func:`with_endpoint`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR, tag_for_keyword

from dicomsel.dicom import ReadResult, image
from dicomsel.dicom.dispatch import reader_for
from dicomsel.io.base import Item
from dicomsel.model import Endpoint

__all__ = [
    "LEVEL_KEYS",
    "InstanceRef",
    "Query",
    "item_for",
    "parse_query",
    "ref_of",
    "whole_instance",
    "with_endpoint",
]

#: the matching keys ``--query`` takes, by the query level they belong to (PS3.4 C.6.1.1,
#: PS3.18 10.6.1.2); any other keyword is a usage error
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "STUDY": (
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "StudyDescription",
        "StudyID",
        "PatientID",
        "PatientName",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientSex",
    ),
    "SERIES": (
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDate",
        "SeriesTime",
        "SeriesDescription",
        "BodyPartExamined",
    ),
    "IMAGE": ("SOPInstanceUID", "SOPClassUID", "InstanceNumber", "ContentDate"),
}

_LEVEL_OF = {key: level for level, keys in LEVEL_KEYS.items() for key in keys}
#: a key's place in an item key: <peer>/studies/<uid>/series/<uid>/instances/<uid>
_KEY = re.compile(
    r"^(?P<peer>.+)/studies/(?P<study>[0-9.]+)/series/(?P<series>[0-9.]+)"
    r"/instances/(?P<sop>[0-9.]+)$"
)


@dataclass(frozen=True, slots=True)
class Query:
    """Matching keys by level, as ``(keyword, value)`` pairs in the order given."""

    study: tuple[tuple[str, str], ...] = ()
    series: tuple[tuple[str, str], ...] = ()
    instance: tuple[tuple[str, str], ...] = ()

    def at(self, level: str) -> dict[str, str]:
        """The keys of one level (``STUDY``, ``SERIES`` or ``IMAGE``) as a dict."""
        pairs = {"STUDY": self.study, "SERIES": self.series, "IMAGE": self.instance}[level]
        return dict(pairs)


def parse_query(pairs: Iterable[str]) -> Query:
    """Parse ``--query KEY=VALUE`` arguments into matching keys by level.

    Parameters
    ----------
    pairs : iterable of str
        ``Keyword=value`` strings; keywords as in PS3.6 (``StudyDate=20240101-20240131``).

    Returns
    -------
    Query

    Raises
    ------
    ValueError
        On a string that is not ``KEY=VALUE``, a keyword that is not a DICOM
        keyword, or one that is not a matching key of a query level.
    """
    levels: dict[str, list[tuple[str, str]]] = {"STUDY": [], "SERIES": [], "IMAGE": []}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--query {pair!r}: not KEY=VALUE")
        if tag_for_keyword(key) is None:
            raise ValueError(f"--query {pair!r}: {key} is not a DICOM keyword")
        level = _LEVEL_OF.get(key)
        if level is None:
            known = ", ".join(sorted(_LEVEL_OF))
            raise ValueError(f"--query {pair!r}: {key} is not a matching key; use one of {known}")
        if dictionary_VR(key) == "UI" and value and not re.fullmatch(r"[0-9.\\]+", value):
            raise ValueError(f"--query {pair!r}: {key} takes UIDs")
        levels[level].append((key, value))
    return Query(tuple(levels["STUDY"]), tuple(levels["SERIES"]), tuple(levels["IMAGE"]))


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """One instance in a PACS: its study, series and SOP Instance UIDs and SOP class."""

    peer: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None = None


def item_for(ref: InstanceRef) -> Item:
    """The item naming one PACS instance (its key: peer, then the three UIDs).

    Parameters
    ----------
    ref : InstanceRef

    Returns
    -------
    dicomsel.io.Item
        Not explicit: an instance of a class no reader handles is skipped.
    """
    key = (
        f"{ref.peer}/studies/{ref.study_instance_uid}/series/{ref.series_instance_uid}"
        f"/instances/{ref.sop_instance_uid}"
    )
    return Item(key, explicit=False, sop_class_uid=ref.sop_class_uid)


def ref_of(item: Item) -> InstanceRef:
    """The instance an item of :func:`item_for` names.

    Parameters
    ----------
    item : dicomsel.io.Item

    Returns
    -------
    InstanceRef

    Raises
    ------
    ValueError
        When the key is not one :func:`item_for` made.
    """
    m = _KEY.match(item.key)
    if m is None:
        raise ValueError(f"{item.key}: not a PACS instance reference")
    return InstanceRef(m["peer"], m["study"], m["series"], m["sop"], item.sop_class_uid)


def whole_instance(sop_class_uid: str | None) -> bool | None:
    """Whether an instance of this class is retrieved whole (True), as metadata (False), or not.

    A reader that reads the object's content (KOS, SR, SEG, RTSTRUCT, ...) needs
    the whole instance, in the transfer syntax it is stored in; the image reader
    reads header attributes only, which DICOM JSON metadata carries without pixel
    data. None: no reader handles the class (or it is unknown), nothing to retrieve.

    Parameters
    ----------
    sop_class_uid : str or None

    Returns
    -------
    bool or None
    """
    if not sop_class_uid:
        return None
    reader = reader_for(sop_class_uid)
    if reader is None:
        return None
    return reader is not image.read_image


def with_endpoint(result: ReadResult, endpoint: Endpoint) -> ReadResult:
    """The result with every selection naming ``endpoint`` as where its instances are.

    An export names the PACS it read from, not the retrieve locations a stored
    object may have recorded.

    Parameters
    ----------
    result : dicomsel.dicom.ReadResult
    endpoint : dicomsel.model.Endpoint

    Returns
    -------
    dicomsel.dicom.ReadResult
    """
    result.selections = [
        dataclasses.replace(sel, endpoints=(endpoint,)) for sel in result.selections
    ]
    return result
