"""FHIR JSON resources -> FHIR RDF (Turtle), for both flavours (``--format turtle``).

``r5`` follows the R5 "RDF Representation" rules: short property names
(``fhir:status``, not ``fhir:ImagingSelection.status``); every primitive a
node ``[ fhir:v "..."^^xsd:T ]`` with the XSD datatype of its FHIR type; a
repeated element an RDF list ``( ... )``, which keeps the order; a choice
element under its base name with the type as class (``fhir:value [ a
fhir:Quantity ; ... ]``); a Reference that resolves (an absolute URL, a
``urn:uuid:`` / ``urn:oid:``, or ``Type/id`` of an entry of the same Bundle)
gets ``fhir:link <IRI>``, as a ``canonical`` does.

``r5-snapshot1`` follows the Turtle template of the Snapshot #1 spec, the
pre-R5 rules it is written in: predicates named by the element's path where
it is defined (``fhir:ImagingSelection.instance.uid``, ``fhir:Coding.system``,
``fhir:Resource.id``, ``fhir:DomainResource.text``, ``fhir:Element.extension``),
choice elements with their type (``fhir:Observation.valueQuantity``),
primitives as ``[ fhir:value "..." ]`` and a repeated element once per item,
its position as ``fhir:index`` (from 0); references get ``fhir:link`` as in R5.

A Bundle is the root (``fhir:nodeRole fhir:treeRoot``); each entry's resource
is a node of its own named by the entry's ``fullUrl``, so references between
entries are links in the graph. Output is deterministic: elements in the order
of the definitions (fhir.resources' models for R5, the project's schema for the
Snapshot #1 ImagingSelection), two-space indentation, one prefix block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.bundle import serialise
from dicomsel.fhir.models import Element, Node, elements, r5_node, resource_node
from dicomsel.fhir.snapshot1.write import NAME as SNAPSHOT1

__all__ = ["FHIR", "PREFIXES", "dumps", "serialise_turtle"]

FHIR = "http://hl7.org/fhir/"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: the prefix block of every document
PREFIXES = (
    f"@prefix fhir: <{FHIR}> .\n"
    "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
    f"@prefix xsd: <{XSD}> .\n"
)

_ANY_URI = frozenset({"uri", "url", "canonical", "oid", "uuid"})
_INTEGERS = {
    "integer": "xsd:integer",
    "unsignedInt": "xsd:nonNegativeInteger",
    "positiveInt": "xsd:positiveInteger",
    "integer64": "xsd:long",
}
_RESOURCE_ELEMENTS = frozenset({"id", "meta", "implicitRules", "language"})
_DOMAIN_ELEMENTS = frozenset({"text", "contained", "extension", "modifierExtension"})


# ---- literals


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _iri(value: str) -> str:
    if re.search(r'[\x00-\x20<>"{}|^`\\]', value):
        raise InvalidInputError(f"{value!r} cannot be written as an IRI")
    return f"<{value}>"


def _date_type(value: str) -> str:
    if re.fullmatch(r"-?\d{4}", value):
        return "xsd:gYear"
    if re.fullmatch(r"-?\d{4}-\d\d", value):
        return "xsd:gYearMonth"
    if re.fullmatch(r"-?\d{4}-\d\d-\d\d", value):
        return "xsd:date"
    return "xsd:dateTime"


def _literal(value: Any, ftype: str, where: str) -> str:
    """A primitive's value as a Turtle literal with the XSD datatype of its FHIR type."""
    if ftype == "boolean":
        if not isinstance(value, bool):
            raise InvalidInputError(f"{value!r} is not a boolean", attribute=where)
        return f'"{"true" if value else "false"}"^^xsd:boolean'
    if ftype in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{value!r} is not an {ftype}", attribute=where)
        return f'"{value}"^^{_INTEGERS[ftype]}'
    if ftype == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{value!r} is not a decimal", attribute=where)
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"{value!r} is not a finite decimal", attribute=where)
        text = json.dumps(value)  # the JSON's own digits: reads back to the same float
        return f'"{text}"^^' + ("xsd:double" if "e" in text.lower() else "xsd:decimal")
    if not isinstance(value, str):
        raise InvalidInputError(f"{value!r} is not a FHIR {ftype}", attribute=where)
    if ftype in _ANY_URI:
        return _string(value) + "^^xsd:anyURI"
    if ftype == "instant":
        return _string(value) + "^^xsd:dateTime"
    if ftype in ("dateTime", "date"):
        return _string(value) + "^^" + _date_type(value)
    if ftype == "time":
        return _string(value) + "^^xsd:time"
    if ftype == "base64Binary":
        return _string(value) + "^^xsd:base64Binary"
    return _string(value)


# ---- the writer


def _ordered(obj: dict[str, Any], order: tuple[str, ...], where: str) -> list[str]:
    names = [k for k in obj if not k.startswith("_") and k != "resourceType"]
    names += [k[1:] for k in obj if k.startswith("_") and k[1:] not in obj]
    rank = {n: i for i, n in enumerate(order)}
    unknown = [n for n in names if n not in rank]
    if unknown:
        raise InvalidInputError(
            f"element(s) {unknown} are not defined for this type", attribute=where
        )
    return sorted(dict.fromkeys(names), key=rank.__getitem__)


class _Writer:
    """Turtle text of one document; ``snapshot1`` selects the pre-R5 predicate style."""

    def __init__(self, flavour: str, links: dict[str, str]) -> None:
        self.flavour = flavour
        self.s1 = flavour == SNAPSHOT1
        self.links = links  # "Type/id" of the Bundle's entries -> their IRI
        self.blocks: list[str] = []  # the entries' resources, after the root

    # predicates

    def predicate(self, name: str, elem: Element, path: str, level: str) -> str:
        if not self.s1:
            return "fhir:" + (elem.choice or name)
        if level == "resource":
            if name in _RESOURCE_ELEMENTS:
                return f"fhir:Resource.{name}"
            if name in _DOMAIN_ELEMENTS:
                return f"fhir:DomainResource.{name}"
        elif name in ("id", "extension"):
            return f"fhir:Element.{name}"
        elif name == "modifierExtension" and level == "backbone":
            return f"fhir:BackboneElement.{name}"
        return f"fhir:{path}.{name}"

    def value_key(self) -> str:
        return "fhir:value" if self.s1 else "fhir:v"

    # nodes: each returns the lines of a node's properties, indented by ``pad``

    def properties(
        self, obj: dict[str, Any], node: Node, path: str, level: str, pad: str, where: str
    ) -> list[list[str]]:
        order, elems = elements(node)
        props: list[list[str]] = []
        for name in _ordered(obj, order, where):
            elem = elems[name]
            pred = self.predicate(name, elem, path, level)
            value, ext = obj.get(name), obj.get(f"_{name}")
            here = f"{where}.{name}"
            if elem.many:
                values = value if isinstance(value, list) else [None] * len(ext or [])
                exts = ext if isinstance(ext, list) else [None] * len(values)
                item_pad = pad if self.s1 else pad + "  "
                items = [
                    self.object(
                        v, e, elem, name, path, item_pad, f"{here}[{i}]", i if self.s1 else None
                    )
                    for i, (v, e) in enumerate(zip(values, exts, strict=False))
                ]
                if self.s1:
                    props.append(_join(pred, items, pad, ","))
                else:
                    props.append(_join(pred, [_list(items, pad)], pad, ","))
            else:
                props.append(
                    _join(pred, [self.object(value, ext, elem, name, path, pad, here)], pad, ",")
                )
        return props

    def object(
        self,
        value: Any,
        ext: Any,
        elem: Element,
        name: str,
        path: str,
        pad: str,
        where: str,
        index: int | None = None,
    ) -> list[str]:
        inner = pad + "  "
        props: list[list[str]] = []
        if index is not None:
            props.append([f"fhir:index {index}"])
        if elem.choice and not self.s1:
            suffix = name[len(elem.choice) :]
            cls = suffix if elem.kind != "primitive" else suffix[0].lower() + suffix[1:]
            props.append([f"a fhir:{cls}"])
        if elem.kind == "resource":
            if not isinstance(value, dict):
                raise InvalidInputError("not a resource", attribute=where)
            return self.inline_resource(value, props, pad, where)
        if elem.kind == "xhtml":
            return [_string(str(value))]
        if elem.kind == "primitive":
            if value is not None:
                props.append([f"{self.value_key()} {_literal(value, elem.type, where)}"])
                if elem.type == "canonical" and isinstance(value, str):
                    target = self.resolve(value.split("|", 1)[0])
                    if target:
                        props.append([f"fhir:link {_iri(target)}"])
            if isinstance(ext, dict):
                node = r5_node("Element")
                props += self.properties(ext, node, "Element", "element", inner, where)
            return _node(props, pad)
        if not isinstance(value, dict):
            raise InvalidInputError("not an object", attribute=where)
        assert elem.node is not None
        if elem.kind == "backbone":
            sub_path, level = f"{path}.{name}", "backbone"
        else:
            sub_path, level = elem.type, "element"
        props += self.properties(value, elem.node, sub_path, level, inner, where)
        if elem.type == "Reference" and isinstance(value.get("reference"), str):
            target = self.resolve(value["reference"])
            if target:
                props.append([f"fhir:link {_iri(target)}"])
        return _node(props, pad)

    def resolve(self, reference: str) -> str | None:
        """The IRI a reference resolves to, or None (a relative reference outside the Bundle)."""
        if reference in self.links:
            return self.links[reference]
        if re.match(r"^(https?://|urn:uuid:|urn:oid:)", reference):
            return reference
        return None

    def inline_resource(
        self, res: dict[str, Any], head: list[list[str]], pad: str, where: str
    ) -> list[str]:
        props = head + self.resource_properties(res, pad + "  ", where)
        return _node(props, pad)

    def resource_properties(self, res: dict[str, Any], pad: str, where: str) -> list[list[str]]:
        rtype = res.get("resourceType")
        if not isinstance(rtype, str):
            raise InvalidInputError("a resource without resourceType", attribute=where)
        node = resource_node(rtype, self.flavour)
        return [
            [f"a fhir:{rtype}"],
            *self.properties(res, node, rtype, "resource", pad, f"{where}.{rtype}".lstrip(".")),
        ]

    def entry_resource(self, res: dict[str, Any], iri: str, where: str) -> str:
        """An entry's resource as a block of its own; returns the object that names it."""
        props = self.resource_properties(res, "  ", where)
        self.blocks.append(_block(_iri(iri), props))
        return _iri(iri)


def _node(props: list[list[str]], pad: str) -> list[str]:
    """``[ p1 ; p2 ]`` across lines; ``props`` are the lines of each property."""
    if not props:
        return ["[]"]
    lines = ["["]
    for i, p in enumerate(props):
        sep = " ;" if i < len(props) - 1 else ""
        lines += [pad + "  " + p[0], *p[1:]]
        lines[-1] += sep
    lines.append(pad + "]")
    return lines


def _list(items: list[list[str]], pad: str) -> list[str]:
    """An RDF list ``( item item )``."""
    lines = ["("]
    for item in items:
        lines.append(pad + "  " + item[0])
        lines += item[1:]
    lines.append(pad + ")")
    return lines


def _join(pred: str, objects: list[list[str]], pad: str, sep: str) -> list[str]:
    """``pred o1, o2``: the first object on the predicate's line."""
    lines = [f"{pred} {objects[0][0]}", *objects[0][1:]]
    for obj in objects[1:]:
        lines[-1] += sep
        lines.append(pad + "  " + obj[0])
        lines += obj[1:]
    return lines


def _block(subject: str, props: list[list[str]]) -> str:
    lines = [subject + " " + props[0][0], *props[0][1:]]
    for p in props[1:]:
        lines[-1] += " ;"
        lines.append("  " + p[0])
        lines += p[1:]
    lines[-1] += " ."
    return "\n".join(lines) + "\n"


def _entry_links(resource: dict[str, Any]) -> dict[str, str]:
    links: dict[str, str] = {}
    if resource.get("resourceType") != "Bundle":
        return links
    for entry in resource.get("entry") or []:
        res, full = entry.get("resource"), entry.get("fullUrl")
        if isinstance(res, dict) and isinstance(full, str) and res.get("id"):
            links[f"{res.get('resourceType')}/{res['id']}"] = full
    return links


class _BundleWriter(_Writer):
    """Bundle entries' resources as nodes named by their fullUrl."""

    def object(
        self,
        value: Any,
        ext: Any,
        elem: Element,
        name: str,
        path: str,
        pad: str,
        where: str,
        index: int | None = None,
    ) -> list[str]:
        if elem.kind == "backbone" and elem.type in ("BundleEntry",) and isinstance(value, dict):
            full = value.get("fullUrl")
            res = value.get("resource")
            if isinstance(full, str) and isinstance(res, dict) and self.resolve(full):
                rest = {k: v for k, v in value.items() if k != "resource"}
                lines = super().object(rest, ext, elem, name, path, pad, where, index)
                pred = "fhir:Bundle.entry.resource" if self.s1 else "fhir:resource"
                ref = self.entry_resource(res, full, f"{where}.resource")
                if lines == ["[]"]:
                    return [f"[ {pred} {ref} ]"]
                lines[-2] += " ;"
                lines.insert(-1, f"{pad}  {pred} {ref}")
                return lines
        return super().object(value, ext, elem, name, path, pad, where, index)


def dumps(resource: dict[str, Any], flavour: str = "r5") -> str:
    """One resource (a Bundle included) as a FHIR Turtle document.

    Parameters
    ----------
    resource : dict
        FHIR JSON of the flavour.
    flavour : str
        ``r5`` (the R5 RDF rules) or ``r5-snapshot1`` (the Snapshot #1
        template's predicates, for every resource of the document).

    Returns
    -------
    str
        The document: prefixes, the root resource (``fhir:nodeRole
        fhir:treeRoot``), then each Bundle entry's resource under its fullUrl.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        For an element the flavour's definitions do not have, a value of the
        wrong JSON type, or a URL that cannot be an IRI.
    """
    w = _BundleWriter(flavour, _entry_links(resource))
    props = w.resource_properties(resource, "  ", "")
    props.insert(1, ["fhir:nodeRole fhir:treeRoot"])
    root = _block("[]", props)
    return PREFIXES + "\n" + root + "".join("\n" + b for b in w.blocks)


def serialise_turtle(
    resources: Iterable[dict[str, Any]], fmt: str = "bundle", flavour: str = "r5"
) -> str:
    """Resources as a Turtle Bundle, built as :func:`dicomsel.fhir.bundle.serialise` builds it.

    Parameters
    ----------
    resources : iterable of dict
    fmt : str
        ``bundle`` (``turtle`` means the same) or ``transaction``.
    flavour : str
        As for :func:`dumps`.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For ``ndjson`` (no Turtle form) or an unknown format.
    """
    if fmt == "turtle":
        fmt = "bundle"
    if fmt == "ndjson":
        raise ValueError("NDJSON has no Turtle form: use --format turtle")
    return dumps(json.loads(serialise(resources, fmt)), flavour)
