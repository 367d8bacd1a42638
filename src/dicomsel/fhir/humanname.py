"""DICOM Person Name (PN) -> FHIR HumanName.

A minimal version for the dicom-sr profile graph; h-sr13's fuller module replaces it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["human_name"]


def human_name(pn: str) -> dict[str, Any]:
    """A DICOM PN (PS3.5 6.2.1) as a FHIR HumanName.

    The alphabetic component group is read: family ^ given ^ middle ^ prefix ^ suffix;
    ``text`` is the PN as it stands, so nothing is lost.

    Parameters
    ----------
    pn : str

    Returns
    -------
    dict
        A HumanName (``text`` always; ``family``, ``given``, ``prefix``, ``suffix`` when given).
    """
    alphabetic = pn.split("=", 1)[0]
    parts = [p.strip() for p in alphabetic.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    out: dict[str, Any] = {"text": pn.strip()}
    if family:
        out["family"] = family
    names = [n for n in (given, middle) if n]
    if names:
        out["given"] = names
    if prefix:
        out["prefix"] = [prefix]
    if suffix:
        out["suffix"] = [suffix]
    return out
