"""Terminology tables shared by every reader and writer.

The tables live as data in ``dicomsel/data`` so that one place answers
"which FHIR system is this DICOM coding scheme" in both directions.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydicom.uid import UID

__all__ = [
    "DCM",
    "SOP_CLASS_SYSTEM",
    "scheme_for_system",
    "sop_class_name",
    "system_for_scheme",
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
#: The system of ``instance.sopClass`` codings: RFC 3986 URIs, ``urn:oid:<uid>``.
SOP_CLASS_SYSTEM = "urn:ietf:rfc:3986"


@cache
def _schemes() -> dict[str, str]:
    text = resources.files("dicomsel").joinpath("data/coding_schemes.json").read_text("utf-8")
    table: dict[str, str] = json.loads(text)
    table.pop("_comment", None)
    return table


@cache
def _systems() -> dict[str, str]:
    return {uri: scheme for scheme, uri in _schemes().items()}


def system_for_scheme(designator: str) -> str | None:
    """The FHIR system URI of a DICOM Coding Scheme Designator, or None if unknown.

    ``99``-prefixed (private) designators and unknown ones give None; the
    caller decides how to report that. A designator that is itself a UID
    (PS3.16 allows the scheme UID as designator) becomes ``urn:oid:<uid>``.
    """
    known = _schemes().get(designator)
    if known is not None:
        return known
    from dicomsel.model import is_valid_uid

    if is_valid_uid(designator) and "." in designator:
        return f"urn:oid:{designator}"
    return None


def scheme_for_system(system: str) -> str | None:
    """The DICOM Coding Scheme Designator of a FHIR system URI, or None if unknown."""
    known = _systems().get(system)
    if known is not None:
        return known
    if system.startswith("urn:oid:"):
        return system[len("urn:oid:") :]
    return None


@cache
def sop_class_name(uid: str) -> str | None:
    """The name of a SOP Class UID from PS3.6 (pydicom's UID dictionary), or None."""
    u = UID(uid)
    name = u.name
    if name == uid or not u.is_valid:
        return None
    return str(name)
