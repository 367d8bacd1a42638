"""Serialising resources: a collection Bundle, a transaction Bundle, or NDJSON.

The same resources always give the same bytes: resource order is the order
the readers produced (sorted inputs, sorted series), shared Endpoints follow
sorted by id, JSON keys keep FHIR element order, and no timestamp is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from dicomsel.fhir.r5 import ID_NAMESPACE

__all__ = ["FORMATS", "serialise"]

FORMATS = ("bundle", "transaction", "ndjson")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _with_bundle_references(resource: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    """A shallow copy of ``resource`` with ``Type/id`` references to Bundle entries rewritten.

    References sit at the top level of every resource dicomsel writes
    (endpoint, focus, derivedFrom, hasMember), so only that level is looked at.
    """

    def fix(v: Any) -> Any:
        if isinstance(v, dict) and isinstance(v.get("reference"), str) and v["reference"] in table:
            return {**v, "reference": table[v["reference"]]}
        return v

    out: dict[str, Any] = {}
    for key, value in resource.items():
        if isinstance(value, list):
            out[key] = [fix(v) for v in value]
        else:
            out[key] = fix(value)
    return out


def serialise(resources: Iterable[dict[str, Any]], fmt: str = "bundle") -> str:
    """Serialise resources in one of :data:`FORMATS`.

    Parameters
    ----------
    resources : iterable of dict
        FHIR resources with ``resourceType`` and ``id``; references between
        them are written ``Type/id``.
    fmt : str
        ``bundle`` (type collection; references rewritten to the entries'
        ``urn:uuid`` fullUrls so they resolve inside the Bundle),
        ``transaction`` (PUT ``Type/id`` entries: re-sending is idempotent)
        or ``ndjson`` (one resource a line).
    """
    res = list(resources)
    if fmt == "ndjson":
        return "".join(_dumps(r) + "\n" for r in res)
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; one of {', '.join(FORMATS)}")
    bundle_id = str(
        uuid.uuid5(
            ID_NAMESPACE,
            "Bundle|" + fmt + "|" + "|".join(f"{r['resourceType']}/{r['id']}" for r in res),
        )
    )
    entries: list[dict[str, Any]] = []
    if fmt == "bundle":
        table = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{r['id']}" for r in res}
        for r in res:
            entries.append(
                {"fullUrl": f"urn:uuid:{r['id']}", "resource": _with_bundle_references(r, table)}
            )
        btype = "collection"
    else:
        for r in res:
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{r['id']}",
                    "resource": r,
                    "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                }
            )
        btype = "transaction"
    # one entry a line: readable and diffable, and written by json's C encoder
    # (indent= would switch to its pure-Python encoder, several times slower)
    head = _dumps({"resourceType": "Bundle", "id": bundle_id, "type": btype})
    lines = ",\n".join(_dumps(e) for e in entries)
    return f'{head[:-1]},"entry":[\n{lines}\n]}}\n'
