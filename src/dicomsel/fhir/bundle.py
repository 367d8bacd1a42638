"""FHIR inputs and outputs: resources, Bundles and NDJSON, both ways.

Reading: :func:`load_resources` (a resource, a Bundle of any type, or NDJSON),
:func:`detect_flavour` (which flavour an ImagingSelection's shape shows) and
:func:`read_fhir`, which reads every ImagingSelection with its flavour's reader.

Writing: :func:`serialise` as a collection Bundle, a transaction Bundle or
NDJSON. The same resources always give the same bytes: resource order is the
order the readers produced (sorted inputs, sorted series), shared Endpoints
follow sorted by id, JSON keys keep FHIR element order, and no timestamp is
written.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomsel.errors import DicomselError, InvalidInputError, Issue
from dicomsel.fhir.flavours import FLAVOURS, R5, SNAPSHOT1
from dicomsel.fhir.ids import bundle_id
from dicomsel.fhir.text import FORBIDDEN, clean_resource
from dicomsel.model import Selection

__all__ = [
    "FORMATS",
    "OUTPUT_FORMATS",
    "FhirInput",
    "SelectionReader",
    "detect_flavour",
    "load_resources",
    "read_fhir",
    "selection_reader",
    "serialise",
]

#: ``(resource, *, endpoints, warnings) -> Selection``: a flavour's ImagingSelection reader.
SelectionReader = Callable[..., Selection]


def selection_reader(flavour: str) -> SelectionReader:
    """The ImagingSelection reader of the flavour called ``flavour`` (a key of FLAVOURS).

    Parameters
    ----------
    flavour : str

    Returns
    -------
    SelectionReader
    """
    return FLAVOURS[flavour].from_imaging_selection


@dataclass(slots=True)
class FhirInput:
    """What a FHIR input holds: selections, and the resources that give them context."""

    selections: list[Selection] = field(default_factory=list)
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    other: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: resource id -> selection key, for every ImagingSelection read
    keys: dict[str, str] = field(default_factory=dict)
    #: resource id -> the flavour it was read as (``r5`` or ``r5-snapshot1``)
    flavours: dict[str, str] = field(default_factory=dict)

    @property
    def issues(self) -> list[Issue]:
        """:attr:`warnings` (what was read tolerantly or left out) as issue records."""
        return [Issue(w) for w in self.warnings]


def load_resources(
    source: str | os.PathLike[str], *, text: str | None = None
) -> list[dict[str, Any]]:
    """The resources of a JSON file (a resource or a Bundle) or an NDJSON file.

    Parameters
    ----------
    source : str or path-like
        The file (``-`` is not handled here: pass ``text``); named in errors.
    text : str, optional
        The content, when already read.

    Returns
    -------
    list of dict
        The resources, Bundle entries in order.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        For unreadable input, a value that is not JSON or not a resource, an
        empty input or a Bundle entry without a resource.
    """
    name = os.fspath(source)
    if text is None:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInputError(e.strerror or str(e), path=name) from e
        except UnicodeDecodeError as e:
            raise InvalidInputError("not UTF-8 text, so not FHIR JSON", path=name) from e
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError("empty input: no FHIR resource", path=name)
    try:
        doc = json.loads(stripped)
        docs = [doc]
    except json.JSONDecodeError:
        docs = []
        for n, line in enumerate(stripped.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"line {n} is not JSON ({e.msg})", path=name) from e
    out: list[dict[str, Any]] = []
    for d in docs:
        if not isinstance(d, dict) or "resourceType" not in d:
            raise InvalidInputError(
                "a JSON value without resourceType is not a FHIR resource", path=name
            )
        if d["resourceType"] == "Bundle":
            entries = d.get("entry") or []
            for i, entry in enumerate(entries):
                r = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(r, dict) or "resourceType" not in r:
                    raise InvalidInputError(f"Bundle.entry[{i}] has no resource", path=name)
                out.append(r)
        else:
            out.append(d)
    return out


_SNAPSHOT1_INSTANCE = ("frameList", "segmentList", "roiList", "observationUid")


def detect_flavour(res: dict[str, Any]) -> str:
    """``r5-snapshot1`` when an ImagingSelection has that shape, else ``r5``.

    Snapshot #1's marks: a UID typed oid (``urn:oid:``) in studyUid, seriesUid,
    frameOfReferenceUid or instance.uid; instance.frameList / segmentList /
    roiList / observationUid; a top-level imageRegion; bodySite as a Coding.
    A ``status`` (1..1 in R5, absent from Snapshot #1) makes it R5 whatever else
    it holds: its errors then say what R5 expects.

    Parameters
    ----------
    res : dict
        An ImagingSelection.

    Returns
    -------
    str
        A key of :data:`dicomsel.fhir.FLAVOURS`.
    """
    if "status" in res:  # required in R5, absent from Snapshot #1
        return R5
    if "imageRegion" in res:
        return SNAPSHOT1
    for name in ("studyUid", "seriesUid", "frameOfReferenceUid"):
        if str(res.get(name, "")).startswith("urn:oid:"):
            return SNAPSHOT1
    body = res.get("bodySite")
    if isinstance(body, dict) and ("code" in body or "system" in body):
        return SNAPSHOT1
    for inst in res.get("instance") or []:
        if isinstance(inst, dict) and (
            str(inst.get("uid", "")).startswith("urn:oid:")
            or any(k in inst for k in _SNAPSHOT1_INSTANCE)
        ):
            return SNAPSHOT1
    return R5


def _one_series(resources: list[dict[str, Any]], selections: list[Selection]) -> None:
    """The spec's rule, across resources: an instance lies in one series, a series in one study."""
    series_of: dict[str, tuple[str, str]] = {}
    study_of: dict[str, tuple[str, str]] = {}
    for res, sel in zip(resources, selections, strict=True):
        root = f"ImagingSelection/{res.get('id', '?')}"
        series, study = sel.series_instance_uid, sel.study_instance_uid
        if series and study:
            prior = study_of.setdefault(series, (study, root))
            if prior[0] != study:
                raise InvalidInputError(
                    f"series {series} is in study {study} here but in study {prior[0]} in "
                    f"{prior[1]}",
                    attribute=f"{root}.studyUid",
                )
        if not series:
            continue
        for i, inst in enumerate(sel.instances):
            prior = series_of.setdefault(inst.uid, (series, root))
            if prior[0] != series:
                raise InvalidInputError(
                    f"instance {inst.uid} is in series {series} here but in series {prior[0]} "
                    f"in {prior[1]}: an instance lies in one series",
                    attribute=f"{root}.instance[{i}].uid",
                )


def read_fhir(
    source: str | os.PathLike[str], *, text: str | None = None, flavour: str | None = None
) -> FhirInput:
    """Read every ImagingSelection of a FHIR JSON / Bundle / NDJSON input into the model.

    Endpoints and Patients in the input are kept for context (the reverse path
    takes patient data from a Patient resource). An input without any
    ImagingSelection is an error, and so is an instance listed in two series.

    Parameters
    ----------
    source : str or path-like
        The file (named in errors).
    text : str, optional
        The content, when already read.
    flavour : str, optional
        ``r5`` or ``r5-snapshot1``; by default each ImagingSelection is read
        as the flavour its shape shows (:func:`detect_flavour`).

    Returns
    -------
    FhirInput

    Raises
    ------
    dicomsel.errors.InvalidInputError
        Naming the file and the element (unreadable input, no ImagingSelection,
        an element the model cannot take, an instance in two series).
    ValueError
        For an unknown ``flavour``.
    """
    if flavour is not None and flavour not in FLAVOURS:
        raise ValueError(f"unknown FHIR flavour {flavour!r}; one of {', '.join(FLAVOURS)}")
    name = os.fspath(source)
    resources = load_resources(source, text=text)
    result = FhirInput()
    selections = []
    for r in resources:
        rtype = r.get("resourceType")
        rid = str(r.get("id", ""))
        if rtype == "ImagingSelection":
            selections.append(r)
        elif rtype == "Endpoint":
            result.endpoints[rid] = r
        elif rtype == "Patient":
            result.patients[rid] = r
        else:
            result.other.append(r)
    if not selections:
        raise InvalidInputError("holds no ImagingSelection resource", path=name)
    for r in selections:
        which = flavour or detect_flavour(r)
        reader = selection_reader(which)
        try:
            sel = reader(r, endpoints=result.endpoints, warnings=result.warnings)
        except DicomselError as e:
            raise e.with_path(name) from None
        result.selections.append(sel)
        result.keys[str(r.get("id", ""))] = sel.key
        result.flavours[str(r.get("id", ""))] = which
    try:
        _one_series(selections, result.selections)
    except DicomselError as e:
        raise e.with_path(name) from None
    return result


# ---- writing

FORMATS = ("bundle", "transaction", "ndjson")
#: what ``convert --format`` offers: :data:`FORMATS` and ``turtle`` (the collection
#: Bundle as FHIR RDF, :func:`dicomsel.fhir.turtle.serialise_turtle`)
OUTPUT_FORMATS = (*FORMATS, "turtle")


log = logging.getLogger(__name__)

#: How ``json.dumps`` escapes the C0 controls :data:`~dicomsel.fhir.text.FORBIDDEN` holds
#: (tab, LF and CR come out as ``\t``, ``\n``, ``\r``); a false hit (an escaped
#: backslash before ``b``) only costs a cleaning pass that finds nothing.
_ESCAPED = re.compile(r"\\(?:u00[01][0-9a-fA-F]|[bf])")


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if FORBIDDEN.search(text) or _ESCAPED.search(text):
        # a resource no flavour writer cleaned (passed through from an input)
        obj = copy.deepcopy(obj)
        warnings: list[str] = []
        clean_resource(obj.get("resource", obj) if isinstance(obj, dict) else obj, warnings)
        for w in warnings:
            log.warning("%s", w)
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text


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

    Returns
    -------
    str
        The text, ending with a newline.

    Raises
    ------
    ValueError
        For an unknown ``fmt``.
    """
    res = list(resources)
    if fmt == "ndjson":
        return "".join(_dumps(r) + "\n" for r in res)
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; one of {', '.join(FORMATS)}")
    bundle = bundle_id(fmt, (f"{r['resourceType']}/{r['id']}" for r in res))
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
    head = _dumps({"resourceType": "Bundle", "id": bundle, "type": btype})
    lines = ",\n".join(_dumps(e) for e in entries)
    return f'{head[:-1]},"entry":[\n{lines}\n]}}\n'
