"""The ImagingSelection elements both flavours spell alike, both ways.

R5 and Snapshot #1 differ in how they type UIDs, where frames and regions go
and which elements exist; the narrative (the Key Object Description), the
identifiers, subject, issued, performers, basedOn, code and endpoints are
the same. The flavour writers and readers (:mod:`dicomsel.fhir.r5`,
:mod:`dicomsel.fhir.snapshot1`) use these pieces and not each other.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from dicomsel.fhir.datatypes import (
    read_codeable_concept,
    read_dicom_uid,
    read_identifier,
    read_performer,
    read_reference,
)
from dicomsel.fhir.endpoint import read_endpoint
from dicomsel.fhir.ids import resource_uid, target_id
from dicomsel.fhir.primitives import ElementPath, read_instant
from dicomsel.model import ActorKind, Code
from dicomsel.uid import is_valid_uid

__all__ = [
    "UidReader",
    "narrative",
    "read_description",
    "read_head",
    "read_shared_fields",
    "read_source_uid",
]

#: ``(value, where, path) -> uid``: how a flavour reads its UIDs (bare, or typed oid).
UidReader = Callable[[Any, str, ElementPath], str]

_DIV = re.compile(r'<div xmlns="http://www\.w3\.org/1999/xhtml"><p>(.*)</p></div>', flags=re.S)


def narrative(description: str) -> dict[str, Any]:
    """``text``: the Key Object Description as additional narrative (one paragraph).

    Parameters
    ----------
    description : str

    Returns
    -------
    dict
    """
    return {
        "status": "additional",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
        + html.escape(description, quote=False).replace("\n", "<br/>")
        + "</p></div>",
    }


def read_description(text: dict[str, Any] | None) -> str | None:
    """The Key Object Description kept in the narrative by :func:`narrative`, else None.

    Parameters
    ----------
    text : dict or None
        The resource's ``text``.

    Returns
    -------
    str or None
    """
    if not text or text.get("status") != "additional":
        return None
    div = str(text.get("div") or "")
    m = _DIV.fullmatch(div)
    if not m:
        return None
    return html.unescape(m.group(1).replace("<br/>", "\n"))


def read_source_uid(res: dict[str, Any]) -> str:
    """The UID of the object a resource was written from: its DICOM UID identifier.

    Parameters
    ----------
    res : dict

    Returns
    -------
    str
        The first valid DICOM UID identifier; without one, a UID derived from
        the resource id (:func:`dicomsel.fhir.ids.resource_uid`).
    """
    for ident in res.get("identifier") or []:
        uid = read_dicom_uid(ident)
        if uid is not None and is_valid_uid(uid):
            return uid
    return resource_uid(str(res.get("id", "")))


def read_head(res: dict[str, Any], warn: list[str]) -> tuple[str, ElementPath, Code]:
    """The resource id, the path builder for errors, and the code (1..1) of an ImagingSelection.

    Parameters
    ----------
    res : dict
    warn : list of str
        Receives a warning when ``code`` has more than one coding.

    Returns
    -------
    tuple of (str, ElementPath, dicomsel.model.Code)

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If the resource is not an ImagingSelection or has no code.
    """
    rid = str(res.get("id", "?"))
    p = ElementPath(f"ImagingSelection/{rid}")
    if res.get("resourceType") != "ImagingSelection":
        raise p.error("resourceType", f"{res.get('resourceType')!r} is not ImagingSelection")
    code = read_codeable_concept(res.get("code"), "code", p)
    if code is None:
        raise p.error("code", "missing (1..1)")
    if len((res.get("code") or {}).get("coding") or []) > 1:
        warn.append(f"{p.root}.code: only the first coding is kept")
    return rid, p, code


def read_shared_fields(
    res: dict[str, Any],
    rid: str,
    p: ElementPath,
    uid: UidReader,
    endpoints: dict[str, dict[str, Any]] | None,
    warn: list[str],
) -> dict[str, Any]:
    """The Selection fields both flavours spell alike, as keyword arguments of Selection.

    Parameters
    ----------
    res : dict
        The ImagingSelection.
    rid : str
        Its id.
    p : ElementPath
    uid : callable
        Reads the flavour's UIDs (bare or oid).
    endpoints : dict, optional
        Endpoint resources of the same input by id.
    warn : list of str
        Receives what was left out (unresolved endpoint references).

    Returns
    -------
    dict

    Raises
    ------
    dicomsel.errors.InvalidInputError
        Naming the element that cannot be read.
    """

    def optional_uid(name: str) -> str | None:
        return uid(res[name], name, p) if res.get(name) else None

    eps = []
    for i, ref in enumerate(res.get("endpoint") or []):
        target = (endpoints or {}).get(target_id(ref))
        ep = read_endpoint(target) if target else None
        if ep is None:
            literal = str(ref.get("reference") or "")
            warn.append(
                f"{p.root}.endpoint[{i}]: {literal!r} does not resolve to an Endpoint "
                "in the input; left out"
            )
        else:
            eps.append(ep)
    contained = {
        str(c["id"]): c
        for c in res.get("contained") or []
        if isinstance(c, dict) and c.get("id") is not None
    }
    performers = []
    for i, perf in enumerate(res.get("performer") or []):
        performer = read_performer(perf, f"performer[{i}]", p, contained, warn)
        if performer is not None:
            performers.append(performer)
    return {
        "key": f"fhir|{rid}",
        "source_uid": read_source_uid(res),
        "study_instance_uid": optional_uid("studyUid"),
        "series_instance_uid": optional_uid("seriesUid"),
        "frame_of_reference_uid": optional_uid("frameOfReferenceUid"),
        "identifiers": tuple(
            i for i in (read_identifier(d) for d in res.get("identifier") or []) if i
        ),
        "based_on": tuple(
            read_reference(r, ActorKind.REQUEST, f"basedOn[{i}]", p)
            for i, r in enumerate(res.get("basedOn") or [])
        ),
        "subject": (
            read_reference(res["subject"], ActorKind.PATIENT, "subject", p)
            if res.get("subject")
            else None
        ),
        "issued": read_instant(res.get("issued"), "issued", p),
        "performers": tuple(performers),
        "endpoints": tuple(eps),
        "description": read_description(res.get("text")),
    }
