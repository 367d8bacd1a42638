"""Write src/dicomsel/data/r5_structure.json: FHIR R5's element table for the fast checker.

Read from HL7's own package hl7.fhir.r5.core 5.0.0 (the npm package
tools/fetch_hl7_r5.py fetches; ``npm pack`` answers from npm's cache when it
has it): the StructureDefinitions of the resource types dicomsel writes (and
those an IG profile mode writes), of every datatype they reach, and of every
primitive type, plus the ValueSets and CodeSystems behind required bindings.

The table (read by :mod:`dicomsel.fhir.r5.check`):

``primitives``
    FHIR primitive type -> its JSON type (string, boolean, integer, number;
    that of the type it derives from, e.g. positiveInt's is integer's, except
    integer64, a JSON string), the regex of its StructureDefinition (the
    ``regex`` extension on ``<type>.value``) and integer's 32-bit range.
``types``
    Resource, datatype or backbone element (named by path, e.g.
    ``ImagingSelection.instance``) -> its elements in definition order, each
    ``[name, min, max, types, binding]``: ``max`` ``"1"`` or ``"*"`` (any
    other number is written as is); ``types`` the FHIR type names, several
    for a choice element (``value[x]``); ``binding`` a required binding's
    ValueSet URL (without version) or null.
``valueSets``
    Required ValueSet URL -> its codes, when it expands simply (includes of
    a whole CodeSystem from this package or of listed concepts); null when it
    does not (a filter, another ValueSet, a system outside the package, e.g.
    BCP-47 languages or MIME types), which the checker then leaves unchecked.

Run ``python tools/gen_r5_structure.py`` and commit the JSON; ``--check`` exits 1
when the committed file differs from what the package gives.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "dicomsel" / "data" / "r5_structure.json"

#: what dicomsel writes (grep the writers), and what the IG profile mode adds
RESOURCES = (
    "Bundle",
    "ImagingSelection",
    "Observation",
    "Endpoint",
    "Patient",
    "OperationOutcome",
    "DiagnosticReport",
    "Device",
    "Practitioner",
    "BodyStructure",
)

_FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
_JSON_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "number",
    "http://hl7.org/fhirpath/System.Date": "string",
    "http://hl7.org/fhirpath/System.DateTime": "string",
    "http://hl7.org/fhirpath/System.Time": "string",
}
#: FHIR types whose JSON form is a string though their value is a number (R5 integer64)
_JSON_STRING = frozenset({"integer64"})


def _fetch_tool() -> Any:
    spec = importlib.util.spec_from_file_location("fetch_hl7_r5", HERE / "fetch_hl7_r5.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load tools/fetch_hl7_r5.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package() -> dict[str, Any]:
    """The package's JSON files by name (``package/`` stripped)."""
    fetch = _fetch_tool()
    with tempfile.TemporaryDirectory() as tmp:
        tarball, _ = fetch._npm_pack(f"{fetch.CORE_NAME}@{fetch.CORE_VERSION}", Path(tmp))
        out: dict[str, Any] = {}
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("package/")
                if "/" in name or not name.endswith(".json") or not member.isfile():
                    continue
                if not name.startswith(("StructureDefinition-", "ValueSet-", "CodeSystem-")):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    out[name] = json.loads(handle.read())
        return out


def _ext(items: list[dict[str, Any]] | None, url: str) -> Any:
    for e in items or ():
        if e.get("url") == url:
            return e.get("valueUrl", e.get("valueString"))
    return None


def _type_name(t: dict[str, Any]) -> str:
    code: str = t["code"]
    if code.startswith("http://hl7.org/fhirpath/"):
        name = _ext(t.get("extension"), _FHIR_TYPE)
        return str(name) if name else "string"
    return code


class _Builder:
    def __init__(self, pkg: dict[str, Any]) -> None:
        self.pkg = pkg
        self.sds = {
            sd["id"]: sd
            for name, sd in pkg.items()
            if name.startswith("StructureDefinition-") and sd.get("derivation") != "constraint"
        }
        self.types: dict[str, list[list[Any]]] = {}
        self.primitives: dict[str, dict[str, Any]] = {}
        self.value_sets: dict[str, list[str] | None] = {}
        self.todo: list[str] = []

    def kind(self, name: str) -> str:
        sd = self.sds.get(name)
        return str(sd["kind"]) if sd else "?"

    def need(self, name: str) -> None:
        if name in self.types or name in self.primitives or name in self.todo:
            return
        self.todo.append(name)

    def run(self, roots: tuple[str, ...]) -> None:
        for r in roots:
            self.need(r)
        while self.todo:
            name = self.todo.pop(0)
            if name in ("Resource", "BackboneElement"):
                continue
            if self.kind(name) == "primitive-type":
                self.primitive(name)
            else:
                self.structure(name)

    def primitive(self, name: str) -> None:
        sd = self.sds[name]
        value = next(e for e in sd["snapshot"]["element"] if e["path"] == f"{name}.value")
        t = value["type"][0]
        root, root_value = sd, value  # the JSON type is that of the type it derives from
        while self.kind(root["baseDefinition"].rpartition("/")[2]) == "primitive-type":
            root = self.sds[root["baseDefinition"].rpartition("/")[2]]
            root_value = next(
                e for e in root["snapshot"]["element"] if e["path"].endswith(".value")
            )
        code = root_value["type"][0]["code"]
        entry: dict[str, Any] = {
            "json": "string" if name in _JSON_STRING else _JSON_TYPES[code],
            "regex": _ext(t.get("extension"), _REGEX),
        }
        for key in ("minValueInteger", "maxValueInteger"):  # integer's 32-bit range
            if key in root_value:
                entry[key] = root_value[key]
        self.primitives[name] = entry

    def structure(self, name: str) -> None:
        sd = self.sds[name]
        elements = sd["snapshot"]["element"]
        by_parent: dict[str, list[dict[str, Any]]] = {}
        for e in elements[1:]:
            parent, _, _ = e["path"].rpartition(".")
            by_parent.setdefault(parent, []).append(e)
        for parent, children in by_parent.items():
            self.types[parent] = [self.element(e, by_parent) for e in children]

    def element(self, e: dict[str, Any], by_parent: dict[str, Any]) -> list[Any]:
        leaf = e["path"].rpartition(".")[2]
        if "contentReference" in e:
            types = [e["contentReference"].lstrip("#")]
        elif e["path"] in by_parent:  # a backbone element: its own entry, named by path
            types = [e["path"]]
        else:
            types = [_type_name(t) for t in e.get("type", ())]
            for t in types:
                self.need(t)
        binding = None
        b = e.get("binding") or {}
        if b.get("strength") == "required" and b.get("valueSet"):
            binding = b["valueSet"].split("|")[0]
            if binding not in self.value_sets:
                self.value_sets[binding] = self.expand(binding)
        return [leaf, e["min"], e["max"], types, binding]

    def _by_url(self, prefix: str, url: str) -> dict[str, Any] | None:
        for name, doc in self.pkg.items():
            if name.startswith(prefix) and doc.get("url") == url:
                return dict(doc)
        return None

    def expand(self, url: str) -> list[str] | None:
        vs = self._by_url("ValueSet-", url)
        if vs is None:
            return None
        compose = vs.get("compose", {})
        if compose.get("exclude"):
            return None
        codes: list[str] = []
        for inc in compose.get("include", ()):
            if inc.get("filter") or inc.get("valueSet") or not inc.get("system"):
                return None
            if inc.get("concept"):
                codes += [c["code"] for c in inc["concept"]]
                continue
            cs = self._by_url("CodeSystem-", inc["system"])
            if cs is None or cs.get("content") != "complete":
                return None
            codes += _concepts(cs.get("concept", ()))
        return codes


def _concepts(items: Any) -> list[str]:
    out: list[str] = []
    for c in items:
        out.append(c["code"])
        out += _concepts(c.get("concept", ()))
    return out


def render() -> str:
    b = _Builder(_package())
    b.run((*RESOURCES, "Element"))  # Element: what `_x` of a primitive x holds
    doc = {
        "_comment": "FHIR R5 5.0.0 element table (hl7.fhir.r5.core StructureDefinitions, "
        "ValueSets, CodeSystems) for dicomsel.fhir.r5.check, generated by "
        "tools/gen_r5_structure.py; do not edit by hand.",
        "resources": list(RESOURCES),
        "primitives": dict(sorted(b.primitives.items())),
        "types": dict(sorted(b.types.items())),
        "valueSets": dict(sorted(b.value_sets.items())),
    }
    return json.dumps(doc, indent=0, ensure_ascii=False, separators=(",", ":")) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from generated import write_or_check

    sys.exit(write_or_check(OUT, render))
