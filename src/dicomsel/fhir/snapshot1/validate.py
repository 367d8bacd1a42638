"""Validating Snapshot #1 resources: the project's JSON Schema plus the rules a schema cannot say.

The schema is checked by its compiled walk (:mod:`dicomsel.fhir.snapshot1.check`),
and under ``full`` by jsonschema's Draft 2020-12 validator too.

The schema (``data/`` + :data:`SCHEMA_FILE`) is written from the spec text
(../shared/spec/ImagingSelection-R5-snapshot1.txt), its properties in the
spec's element order (:mod:`dicomsel.fhir.xml` writes XML in that order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError
from dicomsel.fhir.r5.check import default_full
from dicomsel.fhir.r5.validate import validate_r5
from dicomsel.fhir.snapshot1.check import SCHEMA_FILE, schema, schema_problems
from dicomsel.fhir.snapshot1.rules import region_problem

__all__ = ["SCHEMA_FILE", "schema", "validate"]

_LISTS = (("frameList", False), ("segmentList", True), ("roiList", False))


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


def validate(resource: dict[str, Any], full: bool | None = None) -> None:
    """Validate one resource of a Snapshot #1 output.

    ImagingSelections against the project's schema (:func:`schema`, written
    from the spec text) plus the rules a schema cannot say: no duplicate
    numbers in a list, coordinates that fit coordinateType and regionType, a
    3D region's frame of reference, and all instances in one named series.
    Other resources (Endpoint) are R5's and validated as such.

    Parameters
    ----------
    resource : dict
    full : bool or None
        Besides the schema's compiled walk, validate with jsonschema (and R5
        resources with fhir.resources); None: as ``DICOMSEL_VALIDATE`` says
        (fast when unset).

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and the path of each problem.
    """
    if resource.get("resourceType") != "ImagingSelection":
        validate_r5(resource, full)
        return
    problems = schema_problems(resource)
    if not problems and (full if full is not None else default_full()):
        problems = _schema_problems(resource)
    problems += _rule_problems(resource)
    if problems:
        rid = resource.get("id", "?")
        raise ValidationError(
            f"ImagingSelection/{rid} is not valid R5 Snapshot #1: "
            + "; ".join(f"ImagingSelection/{rid}.{p}" for p in problems)
        )
