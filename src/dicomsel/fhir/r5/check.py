"""The fast check of FHIR R5 5.0.0 JSON: one dict walk over HL7's element table.

The table (``data/r5_structure.json``, written by tools/gen_r5_structure.py from
HL7's hl7.fhir.r5.core package) lists, for each resource type dicomsel writes
and each datatype they reach, the elements in definition order with their
cardinality, types and required bindings, and each primitive type's JSON type
and regex. :func:`problems` walks a resource against it: unknown elements,
missing required elements, a list where at most one goes (and a single value
where a list goes), two choices of one ``[x]`` element, JSON types, regexes
(full match), integer ranges, codes of required bindings that expand simply,
empty objects, lists and nulls (FHIR's ele-1). Plus the project's own checks
(:func:`project_problems`): an ``id`` on every resource, the region type codes.

No pydantic, no fhir.resources: this is what ``--validate fast`` runs;
``--validate full`` adds fhir.resources' model validation (see
:mod:`dicomsel.fhir.r5.validate`).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError

__all__ = [
    "REGION_2D_CODES",
    "REGION_3D_CODES",
    "STATUS_CODES",
    "VALIDATE_ENV",
    "VALIDATE_LEVELS",
    "check_r5",
    "default_full",
    "problems",
    "project_problems",
    "structure",
]

#: the environment variable that sets ``--validate``'s default
VALIDATE_ENV = "DICOMSEL_VALIDATE"
#: ``--validate``'s choices: the table walk, or it and the full model validation
VALIDATE_LEVELS = ("fast", "full")

#: ImagingSelection.status (required binding)
STATUS_CODES = frozenset({"available", "entered-in-error", "unknown"})
#: R5's required region type codes, from the terminology table (data/region_types.json)
REGION_2D_CODES = terminology.r5_codes(2)
REGION_3D_CODES = terminology.r5_codes(3)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_JSON = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def default_full() -> bool:
    """Whether validation is full unless told otherwise: ``DICOMSEL_VALIDATE=full``.

    Returns
    -------
    bool
        False for ``fast`` (the default) or when the variable is unset or empty.

    Raises
    ------
    dicomsel.errors.ValidationError
        The variable holds something else than ``fast`` or ``full``.
    """
    value = os.environ.get(VALIDATE_ENV, "").strip().lower() or "fast"
    if value not in VALIDATE_LEVELS:
        raise ValidationError(f"{VALIDATE_ENV}={value!r}: give fast or full")
    return value == "full"


@dataclass(frozen=True, slots=True)
class _Primitive:
    name: str
    json: tuple[type, ...]
    regex: re.Pattern[str] | None
    low: int | None
    high: int | None


@dataclass(frozen=True, slots=True)
class _Slot:
    """One JSON key of a type: ``value`` of ``value[x]`` is several (valueString, ...)."""

    element: str  # its definition's name (value[x])
    many: bool
    max: int | None  # None: unbounded
    type: str
    primitive: _Primitive | None
    codes: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class _Type:
    slots: dict[str, _Slot]
    #: (element name, its JSON keys) of every element with min >= 1
    required: tuple[tuple[str, tuple[str, ...]], ...]
    #: element name -> its JSON keys, for choice elements
    choices: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class _Table:
    resources: frozenset[str]
    types: dict[str, _Type]


@cache
def structure() -> dict[str, Any]:
    """``data/r5_structure.json``: HL7's R5 elements of every type dicomsel writes (read once).

    Returns
    -------
    dict
        ``resources``, ``primitives``, ``types`` (name -> [element, min, max, types,
        binding] in definition order) and ``valueSets``.
    """
    text = resources.files("dicomsel").joinpath("data/r5_structure.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _table() -> _Table:
    doc = structure()
    prims = {
        name: _Primitive(
            name,
            _JSON[p["json"]],
            # a JSON number's text is the number's own: only decimal's regex is left out
            re.compile(p["regex"]) if p["regex"] and p["json"] != "number" else None,
            p.get("minValueInteger"),
            p.get("maxValueInteger"),
        )
        for name, p in doc["primitives"].items()
    }
    value_sets = doc["valueSets"]
    types: dict[str, _Type] = {}
    for tname, elements in doc["types"].items():
        slots: dict[str, _Slot] = {}
        required = []
        choices = []
        for name, low, high, tlist, binding in elements:
            codes = value_sets.get(binding) if binding else None
            many = high != "1"
            bound = None if high == "*" else int(high)
            if name.endswith("[x]"):
                base = name[:-3]
                keys = tuple(base + t[0].upper() + t[1:] for t in tlist)
                choices.append((name, keys))
            else:
                keys = (name,)
            for key, t in zip(keys, tlist if len(keys) > 1 else tlist[:1], strict=True):
                slots[key] = _Slot(
                    name,
                    many,
                    bound,
                    t,
                    prims.get(t),
                    frozenset(codes) if codes is not None else None,
                )
            if low >= 1:
                required.append((name, keys))
        types[tname] = _Type(slots, tuple(required), tuple(choices))
    return _Table(frozenset(doc["resources"]), types)


def problems(resource: Any) -> list[str]:
    """What the table says is wrong with one resource, each ``path: reason``.

    Parameters
    ----------
    resource : dict
        FHIR R5 JSON of one of the resource types in the table (nested
        resources, e.g. Bundle entries, are checked against their own type).

    Returns
    -------
    list of str
        Empty when the resource is valid; paths start with the resource type.
    """
    out: list[str] = []
    _resource(resource, None, out)
    return out


def _resource(value: Any, path: str | None, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"{path or '(resource)'}: {_kind(value)} where a resource goes")
        return
    rtype = value.get("resourceType")
    table = _table()
    if not isinstance(rtype, str) or rtype not in table.resources:
        out.append(
            f"{path or '(resource)'}.resourceType: {rtype!r} is not a resource type "
            f"dicomsel checks ({', '.join(sorted(table.resources))})"
        )
        return
    _object(value, rtype, path or rtype, out, resource=True)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _object(
    value: dict[str, Any], tname: str, path: str, out: list[str], resource: bool = False
) -> None:
    t = _table().types[tname]
    slots = t.slots
    if not value:
        out.append(f"{path}: an empty object (ele-1: an element has a value or children)")
        return
    for key, item in value.items():
        slot = slots.get(key)
        if slot is not None:
            _value(item, slot, f"{path}.{key}", out)
        elif key[:1] == "_" and (prim := slots.get(key[1:])) is not None and prim.primitive:
            _extension_of(item, prim, value.get(key[1:]), f"{path}.{key}", out)
        elif not (resource and key == "resourceType"):
            out.append(f"{path}.{key}: not an element of {tname}")
    for name, keys in t.required:
        if not any(k in value or "_" + k in value for k in keys):
            out.append(f"{path}.{name}: missing (min 1)")
    for name, keys in t.choices:
        present = [k for k in keys if k in value]
        if len(present) > 1:
            out.append(f"{path}.{name}: more than one choice ({', '.join(present)})")


def _value(value: Any, slot: _Slot, path: str, out: list[str]) -> None:
    if slot.many:
        if not isinstance(value, list):
            out.append(f"{path}: {_kind(value)} where a list goes (max {slot.max or '*'})")
            return
        if not value:
            out.append(f"{path}: an empty list (ele-1)")
            return
        if slot.max is not None and len(value) > slot.max:
            out.append(f"{path}: {len(value)} items, max {slot.max}")
        for i, item in enumerate(value):
            _one(item, slot, f"{path}[{i}]", out)
    elif isinstance(value, list):
        out.append(f"{path}: a list where one value goes (max 1)")
    else:
        _one(value, slot, path, out)


def _one(value: Any, slot: _Slot, path: str, out: list[str]) -> None:
    prim = slot.primitive
    if prim is None:
        if slot.type == "Resource":
            _resource(value, path, out)
        elif isinstance(value, dict):
            _object(value, slot.type, path, out)
        else:
            out.append(f"{path}: {_kind(value)} where a {slot.type} (an object) goes")
        return
    if not isinstance(value, prim.json) or (isinstance(value, bool) and bool not in prim.json):
        out.append(f"{path}: {_kind(value)} where a {prim.name} goes")
        return
    if isinstance(value, str):
        if prim.regex is not None and not prim.regex.fullmatch(value):
            out.append(f"{path}: {value!r} is not a valid {prim.name}")
            return
        if slot.codes is not None and value not in slot.codes:
            shown = ", ".join(sorted(slot.codes)) if len(slot.codes) <= 12 else "its ValueSet"
            out.append(f"{path}: {value!r} is not in the required binding ({shown})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            out.append(f"{path}: {value!r} is not a valid {prim.name}")
    elif isinstance(value, int) and not isinstance(value, bool):  # integer types, decimal
        if prim.regex is not None and not prim.regex.fullmatch(str(value)):
            out.append(f"{path}: {value} is not a valid {prim.name}")
        elif (prim.low is not None and value < prim.low) or (
            prim.high is not None and value > prim.high
        ):
            out.append(f"{path}: {value} is out of {prim.name}'s 32-bit range")


def _element(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, dict):
        _object(value, "Element", path, out)
    else:
        out.append(f"{path}: {_kind(value)} where an Element (an object) goes")


def _extension_of(value: Any, slot: _Slot, primitive: Any, path: str, out: list[str]) -> None:
    """``_x``: the id and extensions of primitive ``x`` (a list beside a list, nulls allowed)."""
    if not slot.many:
        _element(value, path, out)
        return
    if not isinstance(value, list):
        out.append(f"{path}: {_kind(value)} where a list goes")
        return
    if isinstance(primitive, list) and len(primitive) != len(value):
        out.append(f"{path}: {len(value)} items beside {len(primitive)} values")
    for i, item in enumerate(value):
        if item is not None:
            _element(item, f"{path}[{i}]", out)


def project_problems(resource: dict[str, Any]) -> list[str]:
    """The project's own checks: an id on every resource, and R5's region type codes.

    Parameters
    ----------
    resource : dict

    Returns
    -------
    list of str
    """
    out: list[str] = []
    rid = resource.get("id")
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        out.append(f"id {rid!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
    if resource.get("resourceType") == "ImagingSelection":
        status = resource.get("status")
        if not isinstance(status, str) or status not in STATUS_CODES:
            out.append(f"status {resource.get('status')!r} not in {sorted(STATUS_CODES)}")
        raw = resource.get("instance")
        for i, inst in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(inst, dict):
                continue
            for key, codes, what in (
                ("imageRegion2D", REGION_2D_CODES, "2D"),
                ("imageRegion3D", REGION_3D_CODES, "3D"),
            ):
                regions = inst.get(key)
                for j, reg in enumerate(regions if isinstance(regions, list) else ()):
                    code = reg.get("regionType") if isinstance(reg, dict) else None
                    if not isinstance(code, str) or code not in codes:
                        out.append(
                            f"instance[{i}].{key}[{j}].regionType {code!r} "
                            f"is not a {what} graphic type"
                        )
    return out


def check_r5(resource: dict[str, Any]) -> None:
    """The fast check of one R5 resource: :func:`project_problems` and :func:`problems`.

    Parameters
    ----------
    resource : dict
        FHIR R5 JSON.

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and, for each problem, its path and what is wrong.
    """
    found = project_problems(resource) + problems(resource)
    if found:
        rtype = resource.get("resourceType", "?")
        rid = resource.get("id", "?")
        raise ValidationError(f"{rtype}/{rid} is not valid R5: " + "; ".join(found))
