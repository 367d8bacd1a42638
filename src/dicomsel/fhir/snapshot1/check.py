"""The fast check of a Snapshot #1 ImagingSelection: the project's JSON Schema compiled to a walk.

The schema (``data/`` + :data:`dicomsel.fhir.snapshot1.validate.SCHEMA_FILE`)
uses a small part of JSON Schema Draft 2020-12: ``type``, ``const``, ``enum``,
``pattern``, ``properties``, ``patternProperties``, ``additionalProperties``,
``required``, ``minProperties``, ``items``, ``minItems``, ``anyOf`` and local
``$ref``. :func:`compile_schema` turns each schema node into a closure once;
checking a resource then costs one walk, and jsonschema is not imported.
A keyword outside that part fails the compilation (:class:`ValueError`), so the
schema cannot grow a rule the fast check would silently skip. The meaning is
jsonschema's: keywords apply only to instances of their type, ``pattern`` and
``patternProperties`` search (not full-match), booleans are not numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_FILE", "compile_schema", "schema", "schema_problems"]

#: (instance, path, problems): append ``path: reason`` for each problem
Check = Callable[[Any, str, list[str]], None]

_ANNOTATIONS = frozenset({"title", "description", "$comment", "$schema", "$id", "$defs"})
_KEYWORDS = frozenset(
    {
        "type",
        "const",
        "enum",
        "pattern",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "minProperties",
        "items",
        "minItems",
        "anyOf",
        "$ref",
    }
)
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (
        not isinstance(v, bool)
        and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    ),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema has it: True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _at(path: str) -> str:
    return path or "(resource)"


def compile_schema(root: dict[str, Any]) -> Check:
    """Compile a schema (the subset above) into one check.

    Parameters
    ----------
    root : dict
        The schema; ``$ref`` resolves ``#/$defs/<name>`` in it.

    Returns
    -------
    callable
        ``check(instance, path, problems)``; ``path`` ``""`` for the root.

    Raises
    ------
    ValueError
        A keyword or ``$ref`` the compiler does not know.
    """
    defs: dict[str, Check] = {}

    def ref(target: str) -> Check:
        prefix = "#/$defs/"
        if not target.startswith(prefix) or target[len(prefix) :] not in root.get("$defs", {}):
            raise ValueError(f"$ref {target!r}: only local #/$defs/ names are compiled")
        name = target[len(prefix) :]

        def check(v: Any, path: str, out: list[str]) -> None:
            defs[name](v, path, out)

        if name not in defs:
            defs[name] = check  # a placeholder while compiling (recursive definitions)
            defs[name] = node(root["$defs"][name])
        return check

    def node(schema: dict[str, Any]) -> Check:
        unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
        if unknown:
            raise ValueError(f"schema keyword(s) {sorted(unknown)} are not compiled")
        title = schema.get("title")
        checks: list[Check] = []
        is_type: Callable[[Any], bool] | None = None
        if "type" in schema:
            is_type = _TYPES[schema["type"]]
        tname = schema.get("type")
        if "$ref" in schema:
            checks.append(ref(schema["$ref"]))
        if "const" in schema:
            const = schema["const"]

            def const_check(v: Any, path: str, out: list[str]) -> None:
                if not _same(v, const):
                    out.append(f"{_at(path)}: {const!r} was expected")

            checks.append(const_check)
        if "enum" in schema:
            options = schema["enum"]

            def enum_check(v: Any, path: str, out: list[str]) -> None:
                if not any(_same(v, o) for o in options):
                    what = f"a valid {title}" if title else f"one of {options!r}"
                    out.append(f"{_at(path)}: {v!r} is not {what}")

            checks.append(enum_check)
        if "pattern" in schema:
            pattern = re.compile(schema["pattern"])

            def pattern_check(v: Any, path: str, out: list[str]) -> None:
                if isinstance(v, str) and not pattern.search(v):
                    what = f"a valid {title}" if title else f"matching {pattern.pattern!r}"
                    out.append(f"{_at(path)}: {v!r} is not {what}")

            checks.append(pattern_check)
        if any(k in schema for k in ("properties", "patternProperties", "additionalProperties")):
            checks.append(_object(schema, node))
        if "required" in schema or "minProperties" in schema:
            required = tuple(schema.get("required", ()))
            least = schema.get("minProperties", 0)

            def counts(v: Any, path: str, out: list[str]) -> None:
                if not isinstance(v, dict):
                    return
                for name in required:
                    if name not in v:
                        out.append(f"{_at(path)}: {name!r} is a required property")
                if len(v) < least:
                    out.append(f"{_at(path)}: {v!r} should be non-empty")

            checks.append(counts)
        if "items" in schema or "minItems" in schema:
            item = node(schema["items"]) if "items" in schema else None
            least_items = schema.get("minItems", 0)

            def array(v: Any, path: str, out: list[str]) -> None:
                if not isinstance(v, list):
                    return
                if len(v) < least_items:
                    out.append(f"{_at(path)}: {v!r} should be non-empty")
                if item is not None:
                    for i, x in enumerate(v):
                        item(x, f"{path}[{i}]", out)

            checks.append(array)
        if "anyOf" in schema:
            branches = [node(s) for s in schema["anyOf"]]

            def any_of(v: Any, path: str, out: list[str]) -> None:
                for b in branches:
                    trial: list[str] = []
                    b(v, path, trial)
                    if not trial:
                        return
                out.append(f"{_at(path)}: {v!r} is not valid under any of the given schemas")

            checks.append(any_of)

        def run(v: Any, path: str, out: list[str]) -> None:
            if is_type is not None and not is_type(v):  # the other keywords do not apply
                if title:
                    out.append(f"{_at(path)}: {v!r} is not a valid {title}")
                else:
                    out.append(f"{_at(path)}: {v!r} is not of type {tname!r}")
                return
            for c in checks:
                c(v, path, out)

        return run

    return node(root)


def _object(schema: dict[str, Any], node: Callable[[dict[str, Any]], Check]) -> Check:
    props = {k: node(s) for k, s in schema.get("properties", {}).items()}
    patterns = [(re.compile(p), node(s)) for p, s in schema.get("patternProperties", {}).items()]
    closed = schema.get("additionalProperties", True) is False
    if not isinstance(schema.get("additionalProperties", True), bool):
        raise ValueError("additionalProperties: only true or false are compiled")

    def check(v: Any, path: str, out: list[str]) -> None:
        if not isinstance(v, dict):
            return
        for key, item in v.items():
            at = f"{path}.{key}" if path else key
            matched = False
            prop = props.get(key)
            if prop is not None:
                prop(item, at, out)
                matched = True
            for pattern, sub in patterns:
                if pattern.search(key):
                    sub(item, at, out)
                    matched = True
            if closed and not matched:
                out.append(f"{at}: not a Snapshot #1 element")

    return check


SCHEMA_FILE = "imagingselection-r5-snapshot1.schema.json"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a Snapshot #1 ImagingSelection (``data/`` + :data:`SCHEMA_FILE`).

    Returns
    -------
    dict
        Read once; do not modify.
    """
    text = resources.files("dicomsel").joinpath(f"data/{SCHEMA_FILE}").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _compiled() -> Check:
    return compile_schema(schema())


def schema_problems(resource: Any) -> list[str]:
    """What the Snapshot #1 schema finds wrong with a resource, each ``path: reason``.

    Parameters
    ----------
    resource : dict

    Returns
    -------
    list of str
        Empty when the schema accepts the resource.
    """
    out: list[str] = []
    _compiled()(resource, "", out)
    return out
