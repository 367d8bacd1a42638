"""FHIR R5 ImagingSelection JSON -> the neutral model (the reverse of :mod:`dicomsel.fhir.r5`).

Accepts one resource, a Bundle (any type) or NDJSON. Reading is tolerant where
FHIR allows several spellings (a sopClass as ``urn:oid:<uid>`` or as a bare
UID, the dicom-sr IG's form included) and strict where the model is: a bad
UID, frame or region is an :class:`~dicomsel.errors.InvalidInputError`
naming the element's path, e.g. ``ImagingSelection/x.instance[2].uid``.
"""

from __future__ import annotations

import html
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomsel import terminology
from dicomsel.errors import DicomselError, InvalidInputError
from dicomsel.model import (
    Code,
    Endpoint,
    Identifier,
    Instance,
    Performer,
    Reference,
    Region2D,
    Region3D,
    Selection,
    is_valid_uid,
)

__all__ = [
    "FhirInput",
    "detect_flavour",
    "from_imaging_selection",
    "load_resources",
    "read_fhir",
]

_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_NS = uuid.UUID("5b0d0a44-6f1e-5c2a-9a53-6469636f6d73")


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
    """
    if "status" in res:  # required in R5, absent from Snapshot #1
        return "r5"
    if "imageRegion" in res:
        return "r5-snapshot1"
    for name in ("studyUid", "seriesUid", "frameOfReferenceUid"):
        if str(res.get(name, "")).startswith("urn:oid:"):
            return "r5-snapshot1"
    body = res.get("bodySite")
    if isinstance(body, dict) and ("code" in body or "system" in body):
        return "r5-snapshot1"
    for inst in res.get("instance") or []:
        if isinstance(inst, dict) and (
            str(inst.get("uid", "")).startswith("urn:oid:")
            or any(k in inst for k in _SNAPSHOT1_INSTANCE)
        ):
            return "r5-snapshot1"
    return "r5"


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
    """
    from dicomsel.fhir import read_snapshot1

    if flavour not in (None, "r5", "r5-snapshot1"):
        raise ValueError(f"unknown FHIR flavour {flavour!r}; one of r5, r5-snapshot1")
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
        reader = (
            read_snapshot1.from_imaging_selection
            if which == "r5-snapshot1"
            else from_imaging_selection
        )
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


class _Path:
    """Builds ``ImagingSelection/<id>.instance[2].uid`` style element paths for errors."""

    def __init__(self, root: str) -> None:
        self.root = root

    def error(self, where: str, reason: str) -> InvalidInputError:
        return InvalidInputError(reason, attribute=f"{self.root}.{where}" if where else self.root)


def _uid(value: Any, where: str, p: _Path) -> str:
    if not isinstance(value, str) or not is_valid_uid(value):
        why = "is not a valid DICOM UID"
        if isinstance(value, str) and value.startswith("urn:oid:"):
            why += " (R5 takes the bare UID here, without urn:oid:)"
        raise p.error(where, f"{value!r} {why}")
    return value


def _code(cc: dict[str, Any] | None, where: str, p: _Path) -> Code | None:
    """The first coding of a CodeableConcept (others are reported by the caller)."""
    if not cc:
        return None
    if not isinstance(cc, dict):
        raise p.error(where, "is not a CodeableConcept")
    codings = cc.get("coding") or []
    text = cc.get("text")
    if codings:
        c = codings[0]
        return _coding(c, where + ".coding[0]", p, text=text)
    if text:
        return Code(value=None, text=str(text))
    return None


def _coding(c: dict[str, Any], where: str, p: _Path, text: str | None = None) -> Code:
    if not isinstance(c, dict) or not (c.get("code") or text):
        raise p.error(where, "a Coding needs a code")
    system = c.get("system")
    scheme = terminology.scheme_for_system(system) if system else None
    return Code(
        value=c.get("code"),
        scheme=scheme,
        meaning=c.get("display"),
        system=None if scheme else system,
        scheme_version=c.get("version"),
        text=text,
    )


def _identifier(d: dict[str, Any]) -> Identifier | None:
    if not isinstance(d, dict) or not d.get("value"):
        return None
    type_code = None
    for c in (d.get("type") or {}).get("coding") or []:
        if c.get("system") == _V2_0203:
            type_code = c.get("code")
    assigner = (d.get("assigner") or {}).get("display")
    return Identifier(
        value=str(d["value"]), system=d.get("system"), type_code=type_code, assigner=assigner
    )


def _reference(d: dict[str, Any], default_type: str, where: str, p: _Path) -> Reference:
    if not isinstance(d, dict):
        raise p.error(where, "is not a Reference")
    rtype = d.get("type")
    literal = d.get("reference")
    if not rtype and isinstance(literal, str) and "/" in literal:
        rtype = literal.split("/")[-2]
    ident = _identifier(d.get("identifier") or {})
    display = d.get("display")
    if ident is None and not display:
        display = literal
    if ident is None and not display:
        raise p.error(where, "a reference with no identifier, display or literal reference")
    return Reference(str(rtype or default_type), identifier=ident, display=display)


def _sop_class(c: dict[str, Any] | None, where: str, p: _Path) -> str | None:
    """``urn:oid:<uid>`` (R5 / dicom-sr IG), or a bare UID code (older producers)."""
    if not c:
        return None
    code = str(c.get("code") or "")
    uid = code[len("urn:oid:") :] if code.startswith("urn:oid:") else code
    if not is_valid_uid(uid):
        raise p.error(where, f"SOP class code {code!r} is neither urn:oid:<UID> nor a UID")
    return uid


def _ints(values: Iterable[str], where: str, p: _Path) -> tuple[int, ...]:
    out = []
    for v in values:
        if not re.fullmatch(r"[0-9]+", str(v)):
            raise p.error(where, f"{v!r} is not a number")
        out.append(int(v))
    return tuple(out)


def _subset(
    inst: dict[str, Any], cls: str | None, where: str, p: _Path, warnings: list[str]
) -> dict[str, tuple[Any, ...]]:
    """R5's ``subset`` holds frames, segments, ROIs or observation UIDs, by SOP class."""
    items = [str(s) for s in inst.get("subset") or []]
    if not items:
        return {}
    if cls in terminology.SEG_SOP_CLASSES:
        return {"segments": _ints(items, where, p)}
    if cls in terminology.RTSTRUCT_SOP_CLASSES:
        return {"rois": _ints(items, where, p)}
    if terminology.is_sr_sop_class(cls):
        for i, u in enumerate(items):
            _uid(u, f"{where}[{i}]", p)
        return {"observation_uids": tuple(items)}
    if cls is None:
        if all(re.fullmatch(r"[0-9]+", s) for s in items):
            warnings.append(f"{p.root}.{where}: no sopClass; numbers read as frame numbers")
            return {"frames": _ints(items, where, p)}
        if all(is_valid_uid(s) for s in items):
            warnings.append(f"{p.root}.{where}: no sopClass; UIDs read as observation UIDs")
            return {"observation_uids": tuple(items)}
    return {"frames": _ints(items, where, p)}


def _description(text: dict[str, Any] | None) -> str | None:
    """The Key Object Description kept in the narrative by the writer (status additional)."""
    if not text or text.get("status") != "additional":
        return None
    div = str(text.get("div") or "")
    m = re.fullmatch(
        r'<div xmlns="http://www\.w3\.org/1999/xhtml"><p>(.*)</p></div>', div, flags=re.S
    )
    if not m:
        return None
    return html.unescape(m.group(1).replace("<br/>", "\n"))


def _endpoint(res: dict[str, Any]) -> Endpoint | None:
    address = res.get("address")
    name = res.get("name")
    kinds = [
        c.get("code") for cc in res.get("connectionType") or [] for c in cc.get("coding") or []
    ]
    location = None
    for ident in res.get("identifier") or []:
        v = str(ident.get("value") or "")
        if ident.get("system") == "urn:dicom:uid" and v.startswith("urn:oid:"):
            location = v[len("urn:oid:") :]
    if isinstance(address, str) and address.startswith("urn:dicom:ae:"):
        return Endpoint(
            kind="dicom-dimse",
            ae_title=name or address[len("urn:dicom:ae:") :],
            location_uid=location,
        )
    if isinstance(address, str) and address.startswith("urn:oid:"):
        return Endpoint(kind="dicom-dimse", location_uid=address[len("urn:oid:") :])
    if not address:
        return None
    kind = next((k for k in kinds if k), "dicom-wado-rs")
    return Endpoint(kind=str(kind), address=str(address), location_uid=location)


def _r5_type(dims: int, reg: dict[str, Any]) -> Any:
    """The model region type of an R5 ``regionType`` (terminology table); ValueError if none."""
    code = reg.get("regionType")
    for row in terminology.region_types():
        if row.dims == dims and row.r5 is not None and row.r5 == code:
            return row.type
    allowed = ", ".join(sorted(terminology.r5_codes(dims)))
    raise ValueError(f"regionType {code!r} is not an R5 {dims}D region type (one of {allowed})")


def _target_id(ref: dict[str, Any]) -> str:
    """The id a literal reference points at: ``Type/id`` or a Bundle's ``urn:uuid:id``."""
    literal = str(ref.get("reference") or "")
    return literal.rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def _source_uid(res: dict[str, Any]) -> str:
    for ident in res.get("identifier") or []:
        v = str(ident.get("value") or "")
        if ident.get("system") == "urn:dicom:uid" and v.startswith("urn:oid:"):
            uid = v[len("urn:oid:") :]
            if is_valid_uid(uid):
                return uid
    # no DICOM identifier: a UID derived from the resource id (PS3.5 B.2, 2.25 + UUID)
    return f"2.25.{uuid.uuid5(_NS, 'resource|' + str(res.get('id', ''))).int}"


def _begin(res: dict[str, Any], warn: list[str]) -> tuple[str, _Path, Code]:
    """The resource id, the path builder for errors, and the code (1..1) of an ImagingSelection."""
    rid = str(res.get("id", "?"))
    p = _Path(f"ImagingSelection/{rid}")
    if res.get("resourceType") != "ImagingSelection":
        raise p.error("resourceType", f"{res.get('resourceType')!r} is not ImagingSelection")
    code = _code(res.get("code"), "code", p)
    if code is None:
        raise p.error("code", "missing (1..1)")
    if len((res.get("code") or {}).get("coding") or []) > 1:
        warn.append(f"{p.root}.code: only the first coding is kept")
    return rid, p, code


UidReader = Callable[[Any, str, _Path], str]


def _shared_fields(
    res: dict[str, Any],
    rid: str,
    p: _Path,
    uid: UidReader,
    endpoints: dict[str, dict[str, Any]] | None,
    warn: list[str],
) -> dict[str, Any]:
    """The Selection fields both flavours spell alike; ``uid`` reads their UIDs (bare or oid)."""

    def optional_uid(name: str) -> str | None:
        return uid(res[name], name, p) if res.get(name) else None

    eps = []
    for i, ref in enumerate(res.get("endpoint") or []):
        target = (endpoints or {}).get(_target_id(ref))
        ep = _endpoint(target) if target else None
        if ep is None:
            literal = str(ref.get("reference") or "")
            warn.append(
                f"{p.root}.endpoint[{i}]: {literal!r} does not resolve to an Endpoint "
                "in the input; left out"
            )
        else:
            eps.append(ep)
    performers = []
    for i, perf in enumerate(res.get("performer") or []):
        if not perf.get("actor"):
            continue
        actor = _reference(perf["actor"], "Practitioner", f"performer[{i}].actor", p)
        performers.append(Performer(actor, _code(perf.get("function"), "performer.function", p)))
    return {
        "key": f"fhir|{rid}",
        "source_uid": _source_uid(res),
        "study_instance_uid": optional_uid("studyUid"),
        "series_instance_uid": optional_uid("seriesUid"),
        "frame_of_reference_uid": optional_uid("frameOfReferenceUid"),
        "identifiers": tuple(i for i in (_identifier(d) for d in res.get("identifier") or []) if i),
        "based_on": tuple(
            _reference(r, "ServiceRequest", f"basedOn[{i}]", p)
            for i, r in enumerate(res.get("basedOn") or [])
        ),
        "subject": (
            _reference(res["subject"], "Patient", "subject", p) if res.get("subject") else None
        ),
        "issued": res.get("issued"),
        "performers": tuple(performers),
        "endpoints": tuple(eps),
        "description": _description(res.get("text")),
    }


def from_imaging_selection(
    res: dict[str, Any],
    *,
    endpoints: dict[str, dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> Selection:
    """One R5 ImagingSelection (JSON dict) as a :class:`~dicomsel.model.Selection`.

    Parameters
    ----------
    res : dict
        The resource.
    endpoints : dict, optional
        Endpoint resources of the same input by id, to resolve ``endpoint`` references.
    warnings : list of str, optional
        Receives what was read tolerantly or left out.
    """
    warn = warnings if warnings is not None else []
    rid, p, code = _begin(res, warn)
    status = res.get("status") or "available"
    instances = []
    for i, inst in enumerate(res.get("instance") or []):
        w = f"instance[{i}]"
        uid = _uid(inst.get("uid"), f"{w}.uid", p)
        cls = _sop_class(inst.get("sopClass"), f"{w}.sopClass", p)
        number = inst.get("number")
        regions_2d = []
        for j, reg in enumerate(inst.get("imageRegion2D") or []):
            try:
                regions_2d.append(Region2D(_r5_type(2, reg), tuple(reg.get("coordinate") or ())))
            except (ValueError, TypeError) as e:
                raise p.error(f"{w}.imageRegion2D[{j}]", str(e)) from e
        regions_3d = []
        for j, reg in enumerate(inst.get("imageRegion3D") or []):
            for_uid = res.get("frameOfReferenceUid")
            if not for_uid:
                raise p.error(f"{w}.imageRegion3D[{j}]", "a 3D region needs frameOfReferenceUid")
            try:
                regions_3d.append(
                    Region3D(_r5_type(3, reg), tuple(reg.get("coordinate") or ()), for_uid)
                )
            except (ValueError, TypeError) as e:
                raise p.error(f"{w}.imageRegion3D[{j}]", str(e)) from e
        subset = _subset(inst, cls, f"{w}.subset", p, warn)
        try:
            instances.append(
                Instance(
                    uid=uid,
                    sop_class_uid=cls,
                    number=int(number) if number is not None else None,
                    regions_2d=tuple(regions_2d),
                    regions_3d=tuple(regions_3d),
                    **subset,
                )
            )
        except InvalidInputError as e:
            raise p.error(f"{w}.subset" if "Number" in (e.attribute or "") else w, e.reason) from e
    body = (res.get("bodySite") or {}).get("concept")
    return Selection(
        code=code,
        series_number=res.get("seriesNumber"),
        instances=tuple(instances),
        status=str(status),
        categories=tuple(
            c
            for c in (
                _code(cc, f"category[{i}]", p) for i, cc in enumerate(res.get("category") or [])
            )
            if c
        ),
        body_site=_code(body, "bodySite.concept", p) if body else None,
        focus=tuple(f"fhir|{_target_id(f)}" for f in res.get("focus") or []),
        **_shared_fields(res, rid, p, _uid, endpoints, warn),
    )
