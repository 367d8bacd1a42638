"""Validate FHIR R5 JSON against HL7's own R5 package (hl7.fhir.r5.core 5.0.0).

Not a test module: tests import ``assert_valid_r5`` (or ``r5_validator``) from here.

What is checked, per resource (Bundle entries, contained resources, Parameters resources and
the like are validated the same way, each against its own resourceType):

* HL7's ``openapi/fhir.schema.json`` for the resource's own definition (never the giant oneOf
  over all resources), with the JSON-schema validator cached per resourceType.  The schema
  already carries the FHIR regexes for id, oid, uuid, uri/url/canonical, code, date, dateTime,
  instant, time...; they are applied as full matches (Python's ``$`` would also accept a
  trailing newline, so a final ``$`` becomes ``\\Z``).
* FHIR rules the schema leaves out: integer/unsignedInt/positiveInt are whole numbers in range;
  arrays and complex elements are not empty, uri/url/canonical are not empty strings (ele-1);
  dates are real calendar dates; a dateTime with a time has a UTC offset; Narrative.div is a
  well-formed XHTML ``<div>``.
* Cardinality minimums the schema does not express (the schema never requires primitive
  elements): every element with ``min >= 1`` in the cached StructureDefinitions (the resources
  listed in tools/fetch_hl7_r5.py and all complex datatypes) must be present, as ``x`` or ``_x``.
* Required bindings, with the codes read from the CodeSystem files in the cache (see
  ``_BINDINGS``), after checking against the StructureDefinitions that each binding is
  ``required`` and bound to that CodeSystem's value set.

Error strings start with a JSON path, e.g. ``ImagingSelection.instance[3].uid: ...``.

The cache is made by ``python tools/fetch_hl7_r5.py``.  Without it the helpers skip the test,
except under CI (env ``CI`` set), where a missing cache fails: CI never skips.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.util
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft6Validator

REPO = Path(__file__).resolve().parent.parent
_FETCH_TOOL = REPO / "tools" / "fetch_hl7_r5.py"


def _load_fetch_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_hl7_r5", _FETCH_TOOL)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {_FETCH_TOOL}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fetch = _load_fetch_tool()

#: The cache directory: ``$DICOMSEL_HL7_CACHE`` or ``<repo>/.cache/hl7.fhir.r5.core-5.0.0``.
HL7_CACHE: Path = _fetch.cache_dir()

# (schema definition, element) -> id of the CodeSystem whose codes the required binding allows.
_BINDINGS: dict[tuple[str, str], str] = {
    ("ImagingSelection", "status"): "imagingselection-status",
    ("ImagingSelection_ImageRegion2D", "regionType"): "imagingselection-2dgraphictype",
    ("ImagingSelection_ImageRegion3D", "regionType"): "imagingselection-3dgraphictype",
    ("Endpoint", "status"): "endpoint-status",
    ("Observation", "status"): "observation-status",
    ("Bundle", "type"): "bundle-type",
    ("Bundle_Request", "method"): "http-verb",
    ("Narrative", "status"): "narrative-status",
    ("Identifier", "use"): "identifier-use",
}

_XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"
_INT32 = 2**31 - 1
_DATE_PART = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME_WITH_OFFSET = re.compile(r".*T.*(Z|[+-]\d{2}:\d{2})")


def in_ci() -> bool:
    """True when the environment says CI (``CI`` set to anything but empty/0/false/no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _shorten(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(prefix: str, parts: Iterable[str | int]) -> str:
    return prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _check_date(value: str) -> str | None:
    match = _DATE_PART.match(value)
    if match:
        try:
            _dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            return f"{value!r} is not a valid calendar date"
    return None


def _check_datetime(value: str) -> str | None:
    if "T" in value and not _TIME_WITH_OFFSET.fullmatch(value):
        return f"{value!r} has a time but no UTC offset (R5 dateTime rule)"
    return _check_date(value)


def _check_xhtml(value: str) -> str | None:
    try:
        root = ET.fromstring(value)
    except ET.ParseError as exc:
        return f"narrative is not well-formed XHTML ({exc})"
    if root.tag != _XHTML_DIV:
        return f'narrative root must be <div xmlns="http://www.w3.org/1999/xhtml">, not {root.tag}'
    return None


# Checks on primitive values, by schema definition name of the primitive type.
_PRIMITIVE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "date": _check_date,
    "dateTime": _check_datetime,
    "instant": _check_date,
    "xhtml": _check_xhtml,
}


def _concept_codes(concepts: list[dict[str, Any]]) -> Iterable[str]:
    for concept in concepts:
        yield concept["code"]
        yield from _concept_codes(concept.get("concept", []))


class Validator:
    """Validates FHIR R5 JSON resources against the cached HL7 R5 package."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        raw = json.loads((cache / _fetch.SCHEMA).read_text(encoding="utf-8"))
        self.resource_types: frozenset[str] = frozenset(raw["discriminator"]["mapping"])
        raw_defs: dict[str, dict[str, Any]] = raw["definitions"]
        # HL7's schema has no "_x" twin (id/extensions of a primitive) for canonical elements.
        for definition in raw_defs.values():
            props = definition.get("properties", {})
            for prop, schema in list(props.items()):
                is_array = schema.get("type") == "array"
                if _ref_name(schema.get("items", {}) if is_array else schema) != "canonical":
                    continue
                element = {"$ref": "#/definitions/Element"}
                twin = {"items": element, "type": "array"} if is_array else element
                props.setdefault(f"_{prop}", twin)
        # Element model from the unpatched schema: definition -> property -> (target, is_array).
        # Choice-type primitives (valueDateTime...) are inline in the schema, not $refs.
        primitives = {n: d for n, d in raw_defs.items() if "properties" not in d}
        primitives.pop("ResourceList", None)
        self._primitives = frozenset(primitives)

        def target_of(prop: str, schema: dict[str, Any]) -> str | None:
            if "$ref" in schema:
                return _ref_name(schema)
            if "pattern" not in schema and "type" not in schema:
                return None  # const / enum
            by_suffix = [p for p in primitives if prop.endswith(p[0].upper() + p[1:])]
            if by_suffix:
                return max(by_suffix, key=len)
            signature = (schema.get("pattern"), schema.get("type"))
            same = [
                p for p, d in primitives.items() if (d.get("pattern"), d.get("type")) == signature
            ]
            return same[0] if same else None

        self._model: dict[str, dict[str, tuple[str | None, bool]]] = {}
        for name, definition in raw_defs.items():
            props: dict[str, tuple[str | None, bool]] = {}
            for prop, schema in definition.get("properties", {}).items():
                if schema.get("type") == "array":
                    props[prop] = (target_of(prop, schema.get("items", {})), True)
                else:
                    props[prop] = (target_of(prop, schema), False)
            self._model[name] = props
        # A required primitive may be sent as "_x" alone (extensions, no value), which a JSON
        # schema "required" cannot express: such names move to the walker's own required list.
        self._required: dict[str, list[str]] = {}
        for name, definition in raw_defs.items():
            required = definition.get("required", [])
            moved = [r for r in required if self._model[name].get(r, (None,))[0] in primitives]
            if moved:
                definition["required"] = [r for r in required if r not in moved]
                self._required[name] = moved
        self._schema_required = {n: set(d.get("required", ())) for n, d in raw_defs.items()}
        self._element_paths = self._map_element_paths()
        self._defs = self._patch_and_inline(raw_defs)
        self._def_names = {id(d): n for n, d in self._defs.items()}
        self._code_systems: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, frozenset[str]] = {}
        self._load_structure_definitions()
        self._bindings: dict[str, list[tuple[str, str]]] = {}
        for (def_name, prop), cs_id in _BINDINGS.items():
            self._bindings.setdefault(def_name, []).append((prop, cs_id))
            self.codes(cs_id)  # load now: a missing file is a setup error, not a test failure
        self._walk_props = self._compute_walk_props()
        self._validators: dict[str, Draft6Validator] = {}

    # -- setup -----------------------------------------------------------------------------

    def _map_element_paths(self) -> dict[str, str]:
        """Element path ("ImagingSelection.instance") of each definition, datatypes included."""
        paths: dict[str, str] = {}
        for root, props in self._model.items():
            if "_" in root or not props:
                continue
            paths.setdefault(root, root)
            queue = [root]
            while queue:
                current = queue.pop(0)
                for prop, (target, _) in self._model[current].items():
                    if target and target.startswith(root + "_") and target not in paths:
                        paths[target] = f"{paths[current]}.{prop}"
                        queue.append(target)
        return paths

    def _patch_and_inline(self, raw_defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        defs: dict[str, Any] = json.loads(json.dumps(raw_defs))  # private copy to patch
        primitives = self._primitives

        def strip(node: Any) -> None:
            if isinstance(node, dict):
                node.pop("description", None)
                pattern = node.get("pattern")
                if isinstance(pattern, str) and pattern.endswith("$") and pattern[-2:] != "\\$":
                    node["pattern"] = pattern[:-1] + r"\Z"  # full match, as in ECMA-262
                for key, value in node.items():
                    if key == "properties":
                        for prop_schema in value.values():
                            strip(prop_schema)
                    else:
                        strip(value)
            elif isinstance(node, list):
                for item in node:
                    strip(item)

        for name, definition in defs.items():
            strip(definition)
            if "properties" in definition:
                for prop_schema in definition["properties"].values():
                    if prop_schema.get("type") == "array":
                        prop_schema["minItems"] = 1
                if name not in self.resource_types:
                    definition["minProperties"] = 1
        defs["integer"] = {"type": "integer", "minimum": -_INT32 - 1, "maximum": _INT32}
        defs["unsignedInt"] = {"type": "integer", "minimum": 0, "maximum": _INT32}
        defs["positiveInt"] = {"type": "integer", "minimum": 1, "maximum": _INT32}
        # HL7's integer64 pattern lacks the group around its alternation.
        defs["integer64"]["pattern"] = r"^(0|[-+]?[1-9][0-9]*)\Z"
        for name in ("uri", "url", "canonical", "base64Binary"):
            defs[name]["minLength"] = 1
        # Inline (choice-type) primitives get the same treatment as the named ones.
        for name, definition in defs.items():
            for prop, prop_schema in definition.get("properties", {}).items():
                array = prop_schema.get("type") == "array"
                holder, key = (prop_schema, "items") if array else (definition["properties"], prop)
                inner = holder[key]
                target = self._model[name][prop][0]
                if "$ref" in inner or target is None:
                    continue
                if target in ("integer", "unsignedInt", "positiveInt", "integer64"):
                    holder[key] = {"$ref": f"#/definitions/{target}"}
                elif target in ("uri", "url", "canonical", "base64Binary"):
                    inner["minLength"] = 1
        # Contained/entry resources are validated on their own, against their own definition.
        defs["ResourceList"] = {"type": "object", "required": ["resourceType"]}

        def inline(node: Any) -> None:
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(value, dict) and "$ref" in value:
                    if set(value) != {"$ref"}:
                        raise ValueError(f"unexpected $ref siblings: {sorted(value)}")
                    node[key] = defs[_ref_name(value)]
                elif isinstance(value, (dict, list)):
                    inline(value)

        for definition in list(defs.values()):
            inline(definition)
        # JSON arrays of primitives (and their "_x" twins) may hold null to keep them aligned;
        # _check_nulls makes sure each null is matched by a value in the twin array.
        nullable: dict[str, dict[str, Any]] = {}
        for name, definition in defs.items():
            for prop, prop_schema in definition.get("properties", {}).items():
                target = self._model[name][prop][0]
                items = prop_schema.get("items")
                if prop_schema.get("type") != "array" or not isinstance(items, dict):
                    continue
                if (target in primitives or prop.startswith("_")) and "type" in items:
                    if target not in nullable:
                        nullable[target] = {**items, "type": [items["type"], "null"]}
                    prop_schema["items"] = nullable[target]
        return defs

    def _load_structure_definitions(self) -> None:
        by_path = {path: name for name, path in self._element_paths.items()}
        sd_elements: dict[str, dict[str, Any]] = {}
        for sd_file in sorted(self.cache.glob("StructureDefinition-*.json")):
            sd = json.loads(sd_file.read_text(encoding="utf-8"))
            if sd.get("derivation") != "specialization" or sd.get("type") not in self._model:
                continue
            for element in sd["snapshot"]["element"]:
                sd_elements[element["path"]] = element
                if element.get("min", 0) < 1 or "." not in element["path"]:
                    continue
                parent, name = element["path"].rsplit(".", 1)
                def_name = by_path.get(parent)
                if def_name is None or name in self._schema_required.get(def_name, ()):
                    continue
                required = self._required.setdefault(def_name, [])
                if name not in required:
                    required.append(name)
        for (def_name, prop), cs_id in _BINDINGS.items():
            element = sd_elements.get(f"{self._element_paths.get(def_name)}.{prop}")
            if element is None:
                continue  # StructureDefinition not cached: nothing to cross-check
            binding = element.get("binding", {})
            value_set = str(binding.get("valueSet", "")).split("|")[0]
            expected = self._code_system(cs_id).get("valueSet")
            if binding.get("strength") != "required" or value_set != expected:
                raise ValueError(
                    f"_BINDINGS[{def_name}.{prop}]: R5 binds it {binding.get('strength')} to "
                    f"{value_set}, not required to {expected}"
                )

    def _compute_walk_props(self) -> dict[str, dict[str, tuple[str, bool]]]:
        """Per definition, the properties worth descending into for the non-schema checks."""
        interesting = set(self._required) | set(self._bindings)
        leaves = {"ResourceList", *_PRIMITIVE_CHECKS}
        changed = True
        while changed:
            changed = False
            for name, props in self._model.items():
                if name in interesting:
                    continue
                if any(t in interesting or t in leaves for t, _ in props.values()):
                    interesting.add(name)
                    changed = True
        return {
            name: {
                prop: (target, is_array)
                for prop, (target, is_array) in props.items()
                if target is not None and (target in interesting or target in leaves)
            }
            for name, props in self._model.items()
        }

    def _code_system(self, cs_id: str) -> dict[str, Any]:
        if cs_id not in self._code_systems:
            core = self.cache / f"CodeSystem-{cs_id}.json"
            tho = self.cache / _fetch.THO_DIR / f"CodeSystem-{cs_id}.json"
            path = core if core.is_file() else tho
            self._code_systems[cs_id] = json.loads(path.read_text(encoding="utf-8"))
        return self._code_systems[cs_id]

    def codes(self, code_system: str) -> frozenset[str]:
        """All codes of a cached CodeSystem, by id (e.g. ``"imagingselection-status"``)."""
        if code_system not in self._codes:
            cs = self._code_system(code_system)
            if cs.get("content") != "complete":
                raise ValueError(f"CodeSystem {code_system} is not complete in the package")
            self._codes[code_system] = frozenset(_concept_codes(cs.get("concept", [])))
        return self._codes[code_system]

    def code_system_url(self, code_system: str) -> str:
        return str(self._code_system(code_system)["url"])

    def _schema_validator(self, resource_type: str) -> Draft6Validator:
        validator = self._validators.get(resource_type)
        if validator is None:
            root = {"$ref": f"#/definitions/{resource_type}", "definitions": self._defs}
            validator = self._validators[resource_type] = Draft6Validator(root)
        return validator

    # -- validation ------------------------------------------------------------------------

    def errors(self, resource: dict[str, Any]) -> list[str]:
        """Every problem found in ``resource``, each as ``"<json path>: <message>"``."""
        out: list[str] = []
        self._validate(resource, None, out)
        return out

    def _validate(self, resource: Any, prefix: str | None, out: list[str]) -> None:
        where = prefix or "(resource)"
        if not isinstance(resource, dict):
            out.append(f"{where}: a resource must be a JSON object")
            return
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in self.resource_types:
            out.append(f"{where}.resourceType: {resource_type!r} is not an R5 resource type")
            return
        prefix = prefix or resource_type
        schema_paths: set[str] = set()
        for error in self._schema_validator(resource_type).iter_errors(resource):
            location = _path(prefix, error.absolute_path)
            schema_paths.add(location)
            instance = error.instance
            if error.validator == "required" and isinstance(instance, dict):
                for name in error.validator_value:
                    if name not in instance:
                        out.append(f"{location}.{name}: required element missing")
            elif error.validator == "additionalProperties" and isinstance(instance, dict):
                known = error.schema.get("properties", {})
                owner = self._def_names.get(id(error.schema), "this element")
                for name in instance:
                    if name not in known:
                        out.append(f"{location}.{name}: unknown element (not in R5 {owner})")
            else:
                out.append(f"{location}: {_shorten(error.message)}")
        self._walk(resource_type, resource, prefix, schema_paths, out)

    def _walk(
        self, def_name: str, node: dict[str, Any], path: str, seen: set[str], out: list[str]
    ) -> None:
        for name in self._required.get(def_name, ()):
            if name.endswith("[x]"):
                stem = name[:-3]
                present = any(
                    k.lstrip("_").startswith(stem) and k.lstrip("_")[len(stem) :][:1].isupper()
                    for k in node
                )
            else:
                present = name in node or f"_{name}" in node
            if not present:
                out.append(f"{path}.{name}: required element missing (min 1 in R5 {def_name})")
        for prop, cs_id in self._bindings.get(def_name, ()):
            value = node.get(prop)
            location = f"{path}.{prop}"
            if isinstance(value, str) and location not in seen and value not in self.codes(cs_id):
                out.append(
                    f"{location}: {value!r} is not in CodeSystem {self.code_system_url(cs_id)} "
                    f"(required binding; allowed: {', '.join(sorted(self.codes(cs_id)))})"
                )
        walk_props = self._walk_props.get(def_name, {})
        for key, value in node.items():
            if type(value) is list and None in value:
                self._check_nulls(node, key, path, out)
            spec = walk_props.get(key)
            if spec is None:
                continue
            target, is_array = spec
            if is_array:
                if not isinstance(value, list):
                    continue
                items = [(f"{path}.{key}[{i}]", item) for i, item in enumerate(value)]
            else:
                items = [(f"{path}.{key}", value)]
            for location, item in items:
                if target == "ResourceList":
                    if isinstance(item, dict):
                        self._validate(item, location, out)
                elif target in _PRIMITIVE_CHECKS:
                    if isinstance(item, str) and location not in seen:
                        problem = _PRIMITIVE_CHECKS[target](item)
                        if problem:
                            out.append(f"{location}: {problem}")
                elif isinstance(item, dict):
                    self._walk(target, item, location, seen, out)

    @staticmethod
    def _check_nulls(node: dict[str, Any], key: str, path: str, out: list[str]) -> None:
        twin_key = key[1:] if key.startswith("_") else f"_{key}"
        values, twin = node[key], node.get(twin_key)
        if not isinstance(twin, list) or len(twin) != len(values):
            out.append(f"{path}.{key}: holds null but {twin_key} is not an array of equal length")
            return
        for i, (a, b) in enumerate(zip(values, twin, strict=True)):
            if a is None and b is None:
                out.append(f"{path}.{key}[{i}]: null in both {key} and {twin_key}")


@functools.cache
def r5_validator() -> Validator | None:
    """The validator over ``HL7_CACHE``, or None when the cache is absent or incomplete."""
    if not _fetch.is_complete(HL7_CACHE):
        return None
    return Validator(HL7_CACHE)


def require_r5_validator() -> Validator:
    """The validator; skips the calling test without the cache (fails instead under CI)."""
    validator = r5_validator()
    if validator is None:
        reason = (
            f"HL7 FHIR R5 package not cached at {HL7_CACHE}; "
            "run `python tools/fetch_hl7_r5.py` (CI fails here instead of skipping)"
        )
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return validator


def assert_valid_r5(resource: dict[str, Any]) -> None:
    """Raise AssertionError listing every R5 validation error of ``resource``.

    Skips the test when the HL7 cache is absent, unless env ``CI`` is set: then it fails.
    """
    problems = require_r5_validator().errors(resource)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        kind = resource.get("resourceType", "resource") if isinstance(resource, dict) else "?"
        raise AssertionError(
            f"{kind} is not valid FHIR R5 ({len(problems)} errors):\n{shown}{more}"
        )
