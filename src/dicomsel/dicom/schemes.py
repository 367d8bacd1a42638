"""The coding schemes a dataset declares (PS3.3 C.12.1.1.2), while it is read.

A SOP instance may list the coding schemes it uses in its Coding Scheme
Identification Sequence (0008,0110): designator, Coding Scheme UID, name,
responsible organisation. A designator dicomsel's table does not know (a
private ``99...`` one, mostly) that is declared with a UID gets the FHIR system
``urn:oid:<uid>`` (FHIR's rule for a code system without a URI). The readers
wrap their work in :func:`declared_schemes`; the code readers ask
:func:`declared_system`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomsel import terminology
from dicomsel.dicom.context import ReadContext
from dicomsel.uid import is_valid_uid

__all__ = ["declared_schemes", "declared_system"]

#: The private schemes the dataset being read declares: designator -> FHIR system.
_DECLARED: ContextVar[Mapping[str, str] | None] = ContextVar(
    "dicomsel_declared_schemes", default=None
)
_CSIS = int(Tag("CodingSchemeIdentificationSequence"))
_CS_UID = int(Tag("CodingSchemeUID"))
_CS_DESIGNATOR = int(Tag("CodingSchemeDesignator"))


def _text(item: Dataset, tag: int) -> str | None:
    try:
        raw = item.get(tag)
        got = None if raw is None else raw.value
    except (TypeError, ValueError):
        return None
    if isinstance(got, bytes):
        got = got.decode("ascii", "replace")
    text = str(got).strip(" \x00") if got is not None else ""
    return text or None


@contextmanager
def declared_schemes(ds: Dataset, ctx: ReadContext) -> Iterator[None]:
    """While reading ``ds``: the schemes its Coding Scheme Identification Sequence declares.

    PS3.3 C.12.1.1.2 lets a SOP instance declare the coding schemes it uses
    (Coding Scheme Designator, Coding Scheme UID). A designator dicomsel's table
    does not know (a private ``99...`` one, mostly) that is declared with a UID
    gets the system ``urn:oid:<uid>`` (FHIR's rule for a system without a URI);
    :func:`code_from_item` and the SR's code readers ask :func:`declared_system`.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
        Receives a warning for a declared UID that is not a UID.

    Yields
    ------
    None
    """
    table: dict[str, str] = {}
    try:
        items = list(ds.get(_CSIS).value or ()) if _CSIS in ds else []
    except (TypeError, ValueError, AttributeError):
        items = []
    for item in items:
        if not isinstance(item, Dataset):
            continue
        designator = _text(item, _CS_DESIGNATOR)
        uid = _text(item, _CS_UID)
        if not designator or not uid or terminology.system_for_scheme(designator):
            continue
        if is_valid_uid(uid):
            table.setdefault(designator, f"urn:oid:{uid}")
        else:
            ctx.warn(
                f"{'Coding Scheme UID (0008,010C)'} {uid!r} of scheme {designator!r} is not a "
                "valid UID: its codes are written without system",
                "CodingSchemeIdentificationSequence (0008,0110)",
            )
    token = _DECLARED.set(table)
    try:
        yield
    finally:
        _DECLARED.reset(token)


def declared_system(designator: str | None) -> str | None:
    """The system of a private designator the dataset being read declares, or None.

    Parameters
    ----------
    designator : str or None

    Returns
    -------
    str or None
    """
    if not designator:
        return None
    table = _DECLARED.get()
    return table.get(designator) if table else None
