"""The fast check (``--validate fast``) against the full validators it stands in for.

On every resource dicomsel writes from sample_dicom and ../shared/realdata (both
flavours, Observations, Endpoints, Bundles) the fast check accepts exactly what
fhir.resources (R5) and jsonschema (Snapshot #1) accept; on systematic mutations
of them (each element dropped, an unknown element added, each value replaced by
a value of another JSON type, by a list, by malformed dateTime/instant/id/uri/
oid/code/decimal text) it rejects wherever they reject. Where it rejects more,
the reason is one of the documented divergences (docs/validation.md).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from dicomsel import ConvertOptions, convert
from dicomsel.errors import ValidationError
from dicomsel.fhir import serialise
from dicomsel.fhir.r5 import check
from dicomsel.fhir.r5.validate import model_problems, validate_r5
from dicomsel.fhir.snapshot1.check import compile_schema, schema_problems
from dicomsel.fhir.snapshot1.validate import _schema_problems, schema

from conftest import REALDATA, SAMPLES

FLAVOURS = ("r5", "r5-snapshot1")


@cache
def _produced(flavour: str) -> tuple[dict[str, Any], ...]:
    inputs = [str(SAMPLES)] + ([str(REALDATA)] if REALDATA.is_dir() else [])
    logging.disable(logging.CRITICAL)
    try:
        batch = convert(inputs, ConvertOptions(fhir=flavour, full_validation=True))
    finally:
        logging.disable(logging.NOTSET)
    assert batch.count("converted") >= 4
    out = batch.all_resources()
    if flavour == "r5":  # Bundles of R5 resources (a Snapshot #1 Bundle is no R5 Bundle)
        out += [json.loads(serialise(out, fmt)) for fmt in ("bundle", "transaction")]
    return tuple(out)


def _is_s1(flavour: str, res: dict[str, Any]) -> bool:
    return flavour == "r5-snapshot1" and res.get("resourceType") == "ImagingSelection"


def _fast(flavour: str, res: Any) -> list[str]:
    if _is_s1(flavour, res):
        return schema_problems(res)
    return check.project_problems(res) + check.problems(res)


def _full(flavour: str, res: Any) -> list[str]:
    if _is_s1(flavour, res):
        return _schema_problems(res)
    return model_problems(res)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fast_accepts_what_full_accepts(flavour: str) -> None:
    resources = _produced(flavour)
    kinds = {r["resourceType"] for r in resources}
    assert {"ImagingSelection", "Endpoint"} <= kinds
    if flavour == "r5":
        assert {"Observation", "Bundle"} <= kinds
    for res in resources:
        where = f"{res['resourceType']}/{res.get('id')}"
        assert _full(flavour, res) == [], where
        assert _fast(flavour, res) == [], where


#: text that is malformed for the primitive types the brief names (and then some)
_BAD_TEXT = (
    "",
    "x y",  # a space: no uri, code with two spaces is fine but this is no id/oid/uuid/date
    " lead",
    "2024-13-01",
    "2024-01-01T10:00:00",  # an instant without its zone
    "2024-01-01T25:00:00Z",
    "1.2.3",  # an OID without urn:oid:
    "urn:oid:1.02.3",
    "a" * 65,  # a 65-character id
    "not-a-code-in-any-value-set",
    "1.5",  # a decimal as text
)
#: values of another JSON type
_OTHER_TYPES: tuple[Any, ...] = ("x", 1, 1.5, True, None, {}, [], {"zz": 1})


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _drop(doc: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return out


def mutations(res: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each element dropped, an unknown one added, each value replaced."""
    for path, value in _paths(res):
        at = ".".join(map(str, path))
        if isinstance(value, dict):
            yield (
                f"{at}+zzUnknown",
                _set(res, (*path, "zzUnknown"), "x")
                if path
                else {
                    **res,
                    "zzUnknown": "x",
                },
            )
        if not path:
            continue
        if isinstance(path[-1], str):
            yield f"-{at}", _drop(res, path)
        if path[-1] == "resourceType":
            continue
        yield f"{at}=[..]", _set(res, path, [value])
        for other in _OTHER_TYPES:
            if type(other) is not type(value):
                yield f"{at}={other!r}", _set(res, path, other)
        if isinstance(value, str):
            for bad in _BAD_TEXT:
                yield f"{at}={bad!r}", _set(res, path, bad)


def _sample(flavour: str) -> list[dict[str, Any]]:
    """Resources covering every element path produced, a few of each type (not the Bundles)."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for res in _produced(flavour):
        if res["resourceType"] == "Bundle":
            continue
        keys = {tuple(str(p) for p in path if isinstance(p, str)) for path, _ in _paths(res)}
        keys = {(res["resourceType"], *k) for k in keys}
        if keys - seen and sum(r["resourceType"] == res["resourceType"] for r in out) < 3:
            out.append(res)
            seen |= keys
    return out


def _small_bundle() -> dict[str, Any]:
    res = [r for r in _produced("r5") if r["resourceType"] == "ImagingSelection"][:1]
    return dict(json.loads(serialise(res, "transaction")))


#: why the fast check may reject what fhir.resources accepts (docs/validation.md):
#: it follows the StructureDefinitions where pydantic is lax
_DOCUMENTED = (
    "where a",  # JSON types: pydantic coerces "1" to an integer, 1 to a decimal string, ...
    "a list where one value goes",
    "an empty",  # ele-1: empty objects and lists
    "is not a valid",  # the SD's regexes (full match), e.g. uri without spaces
    "required binding",
    "not a FHIR id",
    "graphic type",
    "missing (min 1)",  # a required primitive given as _x only, or an element pydantic lacks
    "not an element of",
    "more than one choice",
    "out of",
    "null",
    " not in [",  # the project's own status check, beside the binding's
)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fast_rejects_where_full_rejects(flavour: str) -> None:
    targets = _sample(flavour) + ([_small_bundle()] if flavour == "r5" else [])
    tried = stricter = 0
    for res in targets:
        for what, mutant in mutations(res):
            tried += 1
            full = _full(flavour, mutant)
            fast = _fast(flavour, mutant)
            where = f"{res['resourceType']}/{res.get('id')}: {what}"
            if full:
                assert fast, f"{where}: full rejects ({full[:2]}), fast accepts"
            elif fast:
                stricter += 1
                assert not _is_s1(flavour, mutant), f"{where}: only fast rejects: {fast}"
                assert all(any(d in p for d in _DOCUMENTED) for p in fast), (where, fast)
    assert tried > 1000


def test_snapshot1_fast_is_the_schema() -> None:
    """The compiled walk and jsonschema give the same verdict, both ways."""
    for res in _sample("r5-snapshot1"):
        if res["resourceType"] != "ImagingSelection":
            continue
        for what, mutant in mutations(res):
            assert bool(schema_problems(mutant)) == bool(_schema_problems(mutant)), what


def test_compiler_refuses_what_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="not compiled"):
        compile_schema({"type": "string", "maxLength": 3})
    with pytest.raises(ValueError, match="local"):
        compile_schema({"$ref": "https://example.org/x.json"})
    compile_schema(schema())


def test_error_names_resource_path_and_reason() -> None:
    res = next(r for r in _produced("r5") if r["resourceType"] == "ImagingSelection")
    bad = _set(res, ("instance", 0, "number"), "7")
    with pytest.raises(ValidationError) as e:
        validate_r5(bad, full=False)
    text = str(e.value)
    assert text.startswith(f"ImagingSelection/{res['id']} is not valid R5: ")
    assert "ImagingSelection.instance[0].number: a string where a unsignedInt goes" in text


def test_the_table_is_hl7s() -> None:
    """Spot facts of R5 5.0.0 (build.fhir.org/imagingselection.html, datatypes.html)."""
    t = check._table()
    sel = t.types["ImagingSelection"]
    assert "status" in dict(sel.required) and "code" in dict(sel.required)
    assert sel.slots["status"].codes == {"available", "entered-in-error", "unknown"}
    inst = t.types["ImagingSelection.instance"]
    assert inst.slots["subset"].many and not inst.slots["uid"].many
    assert inst.slots["uid"].type == "id"
    assert inst.slots["number"].primitive is not None
    assert inst.slots["number"].primitive.json == (int,)
    obs = t.types["Observation"]
    assert {"valueQuantity", "valueString", "valueCodeableConcept"} <= set(obs.slots)
    assert ("value[x]", tuple(k for k in obs.slots if k.startswith("value"))) in obs.choices
    assert t.types["Observation.component"].slots["referenceRange"].type == (
        "Observation.referenceRange"
    )
