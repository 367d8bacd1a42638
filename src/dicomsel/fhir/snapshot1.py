"""Model -> FHIR R5 Snapshot #1 ImagingSelection (``--fhir r5-snapshot1``).

The shape is the one of ../shared/spec/ImagingSelection-R5-snapshot1.txt,
exactly: UIDs typed ``oid`` (``urn:oid:<UID>``), ``instance.frameList`` /
``segmentList`` / ``roiList`` as comma-separated strings, the
``instance.observationUid`` list, one top-level ``imageRegion`` and
``bodySite`` a Coding. No ``status``, ``category``, ``focus``,
``seriesNumber`` nor ``instance.number``: what the model holds there is
reported as lost. Datatypes (Identifier, Reference, Coding, CodeableConcept,
Narrative) and Endpoint resources are R5's, written as :mod:`dicomsel.fhir.r5`
writes them.

A resource holds at most one region, and a 2D region's coordinates are in the
image of the instance it lies on, so a selection is split (docs/snapshot1.md):

* no region: one resource with every instance;
* one region that reads back onto the same instance (see
  :func:`anchor_on_read`): one resource with every instance and the region;
* otherwise one resource per region, holding the instance the region lies on
  (none for a selection-level 3D region), plus one resource with the instances
  that carry no region.

A selection whose series is unknown is written one resource per instance, so
that each resource keeps the spec's rule that all its instances lie in one
series. Resource ids are UUIDv5 of the source UID and the selection key, the
key suffixed with ``|region<n>`` / ``|instance<n>`` for split parts.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError
from dicomsel.fhir import r5
from dicomsel.fhir.base import Output
from dicomsel.model import Identifier, Instance, Reference, Region2D, Region3D, Selection

__all__ = [
    "NAME",
    "OID_PATTERN",
    "SCHEMA_FILE",
    "anchor_on_read",
    "is_oid",
    "number_list",
    "oid",
    "region_problem",
    "schema",
    "to_imaging_selections",
    "validate",
    "write",
]

NAME = "r5-snapshot1"
SCHEMA_FILE = "imagingselection-r5-snapshot1.schema.json"
#: FHIR's ``oid`` type (R5 datatypes): ``urn:oid:`` and an OID
OID_PATTERN = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")

_LISTS = (("frameList", False), ("segmentList", True), ("roiList", False))

Region = Region2D | Region3D


def oid(uid: str) -> str:
    """A DICOM UID typed ``oid``: ``urn:oid:<uid>``."""
    return f"urn:oid:{uid}"


def is_oid(uid: str) -> bool:
    """Whether a DICOM UID can be typed ``oid`` (FHIR's regex: first arc 0-2, two arcs or more).

    PS3.5 9.1 builds UIDs on ISO OIDs, but test data carries UIDs such as
    ``9.8.7.6`` that the DICOM character rules accept and no OID registry would.
    """
    return OID_PATTERN.fullmatch(oid(uid)) is not None


def _oid_safe(sel: Selection, where: str, warnings: list[str]) -> Selection:
    """The selection without the UIDs Snapshot #1 cannot type ``oid``, each reported."""

    def bad(uid: str | None, what: str) -> bool:
        if uid is None or is_oid(uid):
            return False
        warnings.append(f"{where}: {what} {uid} is not an OID, so not an oid: left out")
        return True

    instances = []
    for inst in sel.instances:
        if bad(inst.uid, "SOP Instance UID"):
            continue
        obs = tuple(u for u in inst.observation_uids if not bad(u, "observation UID"))
        r3 = tuple(
            r
            for r in inst.regions_3d
            if not bad(r.frame_of_reference_uid, "frame of reference UID")
        )
        if obs != inst.observation_uids or r3 != inst.regions_3d:
            inst = dataclasses.replace(inst, observation_uids=obs, regions_3d=r3)
        instances.append(inst)
    return dataclasses.replace(
        sel,
        instances=tuple(instances),
        regions_3d=tuple(
            r for r in sel.regions_3d if not bad(r.frame_of_reference_uid, "frame of reference UID")
        ),
        study_instance_uid=(
            None if bad(sel.study_instance_uid, "Study Instance UID") else sel.study_instance_uid
        ),
        series_instance_uid=(
            None if bad(sel.series_instance_uid, "Series Instance UID") else sel.series_instance_uid
        ),
        frame_of_reference_uid=(
            None
            if bad(sel.frame_of_reference_uid, "Frame of Reference UID")
            else sel.frame_of_reference_uid
        ),
    )


def number_list(values: Sequence[int]) -> str:
    """Frame, segment or ROI numbers as Snapshot #1 writes them: ``1,3,5``."""
    return ",".join(str(v) for v in values)


def anchor_on_read(sop_classes: Sequence[str | None], dims: int) -> int | None:
    """Which instance a resource's top-level region is read onto, by index.

    The rule :mod:`dicomsel.fhir.read_snapshot1` applies: the only instance
    when there is one; for a 3D region among several instances, the only SR
    instance (DESIGN.md anchors 3D regions on the SR that defines them); a 2D
    region among several instances goes on the first (with a warning, the
    writer never produces it); else none (a selection-level 3D region).
    """
    if len(sop_classes) == 1:
        return 0
    if not sop_classes:
        return None
    if dims == 2:
        return 0
    srs = [i for i, c in enumerate(sop_classes) if terminology.is_sr_sop_class(c)]
    return srs[0] if len(srs) == 1 else None


def _circle_as_ellipse(c: Sequence[float]) -> tuple[float, ...]:
    """A DICOM CIRCLE (centre, a point on it) as the same circle in ELLIPSE form.

    PS3.3 C.18.6.1.2: an ELLIPSE is the two end points of its major axis, then
    those of its minor axis. Both axes go through the centre: the given point
    and its mirror, then the two points a quarter turn away. No square root, so
    nothing is approximated.
    """
    cx, cy, px, py = c
    dx, dy = px - cx, py - cy
    return (px, py, cx - dx, cy - dy, cx - dy, cy + dx, cx + dy, cy - dx)


def _region(region: Region, where: str, warnings: list[str]) -> dict[str, Any]:
    dims = 3 if isinstance(region, Region3D) else 2
    row = terminology.region_type(dims, str(region.region_type))
    coords: Sequence[float] = region.coordinates
    if dims == 2 and region.region_type == "circle":
        coords = _circle_as_ellipse(coords)
        warnings.append(
            f"{where}: Snapshot #1 has no CIRCLE: written as the same circle in ELLIPSE form "
            "(reads back as an ellipse)"
        )
    elif row.snapshot1_note and row.snapshot1 != row.type.upper():
        warnings.append(
            f"{where}: Snapshot #1 has no {row.type.upper()}: written as {row.snapshot1} "
            f"({row.snapshot1_note})"
        )
    return {
        "regionType": row.snapshot1,
        "coordinateType": f"{dims}d",
        "coordinates": [r5._decimal(float(x)) for x in coords],
    }


def _instance(inst: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": oid(inst.uid)}
    if inst.sop_class_uid:
        out["sopClass"] = r5._sop_class(inst.sop_class_uid)
    if inst.frames:
        out["frameList"] = number_list(inst.frames)
    if inst.observation_uids:
        out["observationUid"] = [oid(u) for u in inst.observation_uids]
    if inst.segments:
        out["segmentList"] = number_list(inst.segments)
    if inst.rois:
        out["roiList"] = number_list(inst.rois)
    return out


def _plain(inst: Instance) -> Instance:
    if not inst.regions_2d and not inst.regions_3d:
        return inst
    return Instance(
        uid=inst.uid,
        sop_class_uid=inst.sop_class_uid,
        number=inst.number,
        frames=inst.frames,
        segments=inst.segments,
        rois=inst.rois,
        observation_uids=inst.observation_uids,
    )


# a part of a selection: (key suffix or None, instances, region or None)
_Part = tuple[str | None, list[Instance], Region | None]


def _parts(sel: Selection, where: str, warnings: list[str]) -> list[_Part]:
    plain = [_plain(i) for i in sel.instances]
    regions: list[tuple[int | None, Region]] = []
    for n, inst in enumerate(sel.instances):
        regions += [(n, r) for r in inst.regions_2d]
        regions += [(n, r) for r in inst.regions_3d]
    regions += [(None, r) for r in sel.regions_3d]
    one_series = sel.series_instance_uid is not None or len(plain) <= 1
    if one_series and not regions:
        return [(None, plain, None)]
    if one_series and len(regions) == 1:
        anchor, region = regions[0]
        dims = 3 if isinstance(region, Region3D) else 2
        if anchor is None or anchor_on_read([i.sop_class_uid for i in plain], dims) == anchor:
            return [(None, plain, region)]
    anchors = {a for a, _ in regions if a is not None}
    rest = [(n, inst) for n, inst in enumerate(plain) if n not in anchors]
    parts: list[_Part] = []
    if one_series:
        if rest:
            parts.append((None, [inst for _, inst in rest], None))
    else:
        parts += [(f"instance{n}", [inst], None) for n, inst in rest]
    for k, (anchor, region) in enumerate(regions):
        parts.append((f"region{k}", [plain[anchor]] if anchor is not None else [], region))
    why = []
    if len(regions) > 1:
        why.append(f"{len(regions)} regions, one imageRegion per resource")
    elif regions:
        why.append("its region lies on one of several instances")
    if not one_series:
        why.append("series unknown, one series per resource")
    warnings.append(f"{where}: written as {len(parts)} Snapshot #1 resources ({'; '.join(why)})")
    return parts


def _lost(sel: Selection, where: str, warnings: list[str]) -> None:
    """Report what the model holds and Snapshot #1 has no element for."""
    if sel.status != "available":
        warnings.append(f"{where}: Snapshot #1 has no status: {sel.status!r} left out")
    if sel.categories:
        names = [c.meaning or c.text or c.value for c in sel.categories]
        warnings.append(f"{where}: Snapshot #1 has no category: {names} left out")
    if sel.focus:
        warnings.append(
            f"{where}: Snapshot #1 has no focus: {len(sel.focus)} related selection(s) left out"
        )
    if sel.series_number is not None:
        warnings.append(f"{where}: Snapshot #1 has no seriesNumber: {sel.series_number} left out")
    numbered = sum(1 for i in sel.instances if i.number is not None)
    if numbered:
        warnings.append(
            f"{where}: Snapshot #1 has no instance.number: the numbers of {numbered} "
            "instance(s) left out"
        )
    site = sel.body_site
    if site is not None:
        if not site.value:
            warnings.append(
                f"{where}: bodySite is a Coding in Snapshot #1 and {site.text!r} has no code: "
                "left out"
            )
        elif site.text and site.text != site.meaning:
            warnings.append(
                f"{where}: bodySite is a Coding in Snapshot #1: its text {site.text!r} left out"
            )


def to_imaging_selections(
    sel: Selection, out: Output, reference: r5.IdFactory = r5.relative_reference
) -> list[dict[str, Any]]:
    """Write one selection as one or more Snapshot #1 ImagingSelections.

    Endpoints go to ``out.shared``; ``out.refs[sel.key]`` gets the literal
    reference of every resource written; what cannot be carried goes to
    ``out.warnings``.
    """
    warnings = out.warnings
    where = f"selection {sel.key} (series {sel.series_instance_uid})"
    _lost(sel, where, warnings)
    study_uid = sel.study_instance_uid
    sel = _oid_safe(sel, where, warnings)
    head: dict[str, Any] = {}
    if sel.description:
        head["text"] = {
            "status": "additional",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
            + html.escape(sel.description, quote=False).replace("\n", "<br/>")
            + "</p></div>",
        }
    if sel.identifiers:
        head["identifier"] = [r5._identifier(i) for i in sel.identifiers]
    if sel.based_on:
        head["basedOn"] = [r5._reference(r) for r in sel.based_on]
    if sel.subject is not None:
        head["subject"] = r5._reference(sel.subject)
    if sel.issued:
        head["issued"] = sel.issued
    if sel.performers:
        perfs = []
        for p in sel.performers:
            perf: dict[str, Any] = {}
            if p.function is not None:
                perf["function"] = r5.code_to_codeable_concept(p.function, warnings)
            perf["actor"] = r5._reference(p.actor)
            perfs.append(perf)
        head["performer"] = perfs
    head["code"] = r5.code_to_codeable_concept(sel.code, warnings)
    if sel.study_instance_uid:
        head["studyUid"] = oid(sel.study_instance_uid)
    if study_uid:  # an Identifier's value is a string: any UID goes
        head["derivedFrom"] = [
            r5._reference(Reference("ImagingStudy", identifier=Identifier.dicom_uid(study_uid)))
        ]
    if sel.endpoints:
        refs = []
        for ep in sel.endpoints:
            epr = r5.endpoint_resource(ep)
            out.shared.setdefault(epr["id"], epr)
            refs.append({"reference": reference("Endpoint", epr["id"])})
        head["endpoint"] = refs
    if sel.series_instance_uid:
        head["seriesUid"] = oid(sel.series_instance_uid)
    body = r5.coding(sel.body_site, warnings) if sel.body_site is not None else None

    written = []
    for suffix, instances, region in _parts(sel, where, warnings):
        key = sel.key if suffix is None else f"{sel.key}|{suffix}"
        rid = r5.key_id(sel.source_uid, key)
        res: dict[str, Any] = {"resourceType": "ImagingSelection", "id": rid}
        res.update(head)
        for_uid = sel.frame_of_reference_uid
        if isinstance(region, Region3D):
            if for_uid and for_uid != region.frame_of_reference_uid:
                warnings.append(
                    f"ImagingSelection/{rid}: the 3D region's frame of reference "
                    f"{region.frame_of_reference_uid} is written, not the selection's {for_uid}"
                )
            for_uid = region.frame_of_reference_uid
        if for_uid:
            res["frameOfReferenceUid"] = oid(for_uid)
        if body:
            res["bodySite"] = body
        if instances:
            res["instance"] = [_instance(i) for i in instances]
        if region is not None:
            res["imageRegion"] = _region(region, f"ImagingSelection/{rid}", warnings)
        out.resources.append(res)
        out.refs.setdefault(sel.key, []).append(r5.relative_reference("ImagingSelection", rid))
        written.append(res)
    return written


def write(selections: Sequence[Selection]) -> Output:
    """Write selections as Snapshot #1 ImagingSelections (+ the R5 Endpoints they reference)."""
    out = Output()
    for sel in selections:
        to_imaging_selections(sel, out)
    return out


# ---- validation: the project's schema + the rules a schema cannot say


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a Snapshot #1 ImagingSelection (``data/`` + :data:`SCHEMA_FILE`)."""
    text = resources.files("dicomsel").joinpath(f"data/{SCHEMA_FILE}").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out.lstrip(".")


def _schema_problems(resource: dict[str, Any]) -> list[str]:
    problems = []
    for err in sorted(_validator().iter_errors(resource), key=lambda e: list(map(str, e.path))):
        where = _path(list(err.absolute_path)) or "(resource)"
        title = err.schema.get("title") if isinstance(err.schema, dict) else None
        if err.validator in ("pattern", "enum", "type") and title:
            problems.append(f"{where}: {err.instance!r} is not a valid {title}")
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            patterns = list(err.schema.get("patternProperties", {}))
            base = _path(list(err.absolute_path))
            for name in err.instance:
                if name not in allowed and not any(re.search(p, name) for p in patterns):
                    at = f"{base}.{name}" if base else name
                    problems.append(f"{at}: not a Snapshot #1 element")
        else:
            problems.append(f"{where}: {err.message}")
    return problems


def _rule_problems(res: dict[str, Any]) -> list[str]:
    """What the schema cannot say: duplicates, coordinate counts, one series."""
    problems = []
    raw = res.get("instance")
    instances: list[Any] = raw if isinstance(raw, list) else []
    seen: set[str] = set()
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict):
            continue
        uid = inst.get("uid")
        if isinstance(uid, str):
            if uid in seen:
                problems.append(f"instance[{i}].uid: {uid} is listed twice")
            seen.add(uid)
        for name, _zero in _LISTS:
            value = inst.get(name)
            if isinstance(value, str):
                items = value.split(",")
                dup = sorted({x for x in items if items.count(x) > 1})
                if dup:
                    problems.append(
                        f"instance[{i}].{name}: {value!r} repeats {', '.join(dup)} "
                        "(the spec asks for non duplicate numbers)"
                    )
    # "All DICOM SOP Instances referenced shall be part of the same DICOM Series" (line 28):
    # several instances are one series only when the resource says which
    if len(instances) > 1 and not res.get("seriesUid"):
        problems.append(
            f"seriesUid: missing while {len(instances)} instances are selected: the spec's rule "
            "that all instances lie in one series (line 28) needs the series named"
        )
    region = res.get("imageRegion")
    if isinstance(region, dict):
        dims = terminology.snapshot1_coordinate_types().get(str(region.get("coordinateType")))
        code = region.get("regionType")
        coords = region.get("coordinates")
        if dims and isinstance(code, str) and isinstance(coords, list):
            why = region_problem(dims, code, len(coords))
            if why:
                problems.append(why)
        if region.get("coordinateType") == "3d" and not res.get("frameOfReferenceUid"):
            problems.append(
                "frameOfReferenceUid: missing: 3d coordinates are in the frame of reference "
                "it names (line 84)"
            )
    return problems


def region_problem(dims: int, code: str, n_coordinates: int) -> str | None:
    """Why a Snapshot #1 region of ``code`` with ``n_coordinates`` numbers is wrong, or None.

    The message starts with the element path (``imageRegion.regionType`` or
    ``imageRegion.coordinates``). The codes and point counts come from the
    terminology table; ELLIPSOID has no 2d form and a 2d POLYGON needs 3 points.
    """
    row = terminology.snapshot1_region(dims, code)
    if row is None:
        allowed = sorted(
            c for c in terminology.snapshot1_codes() if terminology.snapshot1_region(dims, c)
        )
        return (
            f"imageRegion.regionType: {code!r} is not a {dims}d region type "
            f"(one of {', '.join(allowed)})"
        )
    why = row.fits(n_coordinates)
    if why is None and dims == 2 and code == "POLYGON" and n_coordinates < 6:
        why = f"{n_coordinates // 2} point(s) given, at least 3 needed for a polygon"
    if why:
        return f"imageRegion.coordinates: {why} (regionType {code}, coordinateType {dims}d)"
    return None


def validate(resource: dict[str, Any]) -> None:
    """Validate one resource of a Snapshot #1 output.

    ImagingSelections against the project's schema (:func:`schema`, written
    from the spec text) plus the rules a schema cannot say: no duplicate
    numbers in a list, coordinates that fit coordinateType and regionType, a
    3D region's frame of reference, and all instances in one named series.
    Other resources (Endpoint) are R5's and validated as such.

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and the path of each problem.
    """
    if resource.get("resourceType") != "ImagingSelection":
        r5.validate_r5(resource)
        return
    problems = _schema_problems(resource)
    problems += _rule_problems(resource)
    if problems:
        rid = resource.get("id", "?")
        raise ValidationError(
            f"ImagingSelection/{rid} is not valid R5 Snapshot #1: "
            + "; ".join(f"ImagingSelection/{rid}.{p}" for p in problems)
        )
