"""The element tables the FHIR serialisers (XML, Turtle) walk a resource by.

For each type, its elements in definition order and how each is written: from
HL7's R5 package, through the table :mod:`dicomsel.fhir.r5.check` validates by
(``data/r5_structure.json``: every type dicomsel writes), so that XML and Turtle
import no pydantic model; from fhir.resources' R5 models for any other type (a
resource passed through from an input Bundle); or from the project's Snapshot #1
schema for the Snapshot #1 ImagingSelection (whose Meta and Extension are R5's own).
"""

from __future__ import annotations

import decimal
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.r5.check import structure
from dicomsel.fhir.snapshot1.validate import schema as s1_schema
from dicomsel.fhir.snapshot1.write import NAME as SNAPSHOT1

__all__ = [
    "Element",
    "Node",
    "elements",
    "r5_model_class",
    "r5_node",
    "resource_node",
    "unwrap_annotation",
]

#: a type's definition: ("t", R5 type name in the table), ("r5", fhir.resources model class)
#: or ("s1", Snapshot #1 schema definition name)
Node = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a type.

    ``kind`` is primitive, complex, backbone, resource or xhtml; ``type`` the FHIR type
    name (``string``, ``Coding``, ...); ``node`` the definition of a complex or backbone
    element; ``choice`` the base name of a choice element (``value`` of ``value[x]``);
    ``json`` a primitive's JSON type (string, integer, decimal or boolean).
    """

    kind: str
    type: str
    many: bool
    node: Node | None = None
    choice: str | None = None
    json: str = "string"

    @property
    def nested(self) -> bool:
        """Whether the element holds elements of its own (complex or backbone)."""
        return self.kind in ("complex", "backbone")


def unwrap_annotation(annotation: Any) -> tuple[Any, bool]:
    """A model field's type with Optional and List taken off, and whether it repeats.

    Parameters
    ----------
    annotation : typing annotation
        A pydantic field annotation of a fhir.resources model.

    Returns
    -------
    (type, bool)
        The ``Annotated`` primitive or the model class, and True for a list.
    """
    many = False
    a = annotation
    while True:
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            return a, many
        args = [x for x in typing.get_args(a) if x is not type(None)]
        if origin in (list, typing.List) and args:  # noqa: UP006
            many = True
            a = args[0]
        elif args and origin is not None:
            a = args[0]
        else:
            return a, many


def r5_model_class(resource_type: str) -> Any:
    """The fhir.resources R5 model class of a resource or datatype name.

    Parameters
    ----------
    resource_type : str

    Returns
    -------
    type

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When fhir.resources has no such type.
    """
    from fhir.resources import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):  # fhir.resources 8 raises ValueError
        raise InvalidInputError(f"unknown FHIR resource type {resource_type!r}") from None


def _primitive_name(t: Any) -> str:
    if typing.get_origin(t) is typing.Annotated:
        meta = typing.get_args(t)[1:]
        if meta:
            name = type(meta[0]).__name__
            return name[0].lower() + name[1:]
        t = typing.get_args(t)[0]
    return {bool: "boolean", int: "integer", float: "decimal"}.get(t, "string")


def _json_type(annotated: Any) -> str:
    base = typing.get_args(annotated)[0] if typing.get_origin(annotated) else annotated
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base in (float, decimal.Decimal):
        return "decimal"
    return "string"


@cache
def _r5_elements(cls: Any) -> tuple[tuple[str, ...], dict[str, Element]]:
    order = tuple(cls.elements_sequence())
    elems: dict[str, Element] = {}
    for fname, field in cls.model_fields.items():
        name = field.alias or fname
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        base = extra.get("one_of_many")
        choice = str(base) if base else None
        t, many = unwrap_annotation(field.annotation)
        if hasattr(t, "get_model_klass"):
            klass = t.get_model_klass()
            names = {c.__name__ for c in klass.__mro__}
            if klass.__name__ in ("Resource", "DomainResource"):
                elems[name] = Element("resource", "Resource", many)
            elif "BackboneElement" in names and klass.__name__ != "BackboneElement":
                elems[name] = Element("backbone", klass.__name__, many, ("r5", klass), choice)
            else:
                elems[name] = Element("complex", klass.__name__, many, ("r5", klass), choice)
        else:
            prim = _primitive_name(t)
            xhtml = prim == "xhtml" or (name == "div" and cls.__name__ == "Narrative")
            kind = "xhtml" if xhtml else "primitive"
            elems[name] = Element(kind, prim, many, None, choice, _json_type(t))
    return order, elems


#: a primitive's JSON form in the table -> Element.json
_TABLE_JSON = {"boolean": "boolean", "integer": "integer", "number": "decimal"}


@cache
def _table_elements(name: str) -> tuple[tuple[str, ...], dict[str, Element]]:
    doc = structure()
    primitives = doc["primitives"]
    order: list[str] = []
    elems: dict[str, Element] = {}
    for element, _low, high, types, _binding in doc["types"][name]:
        many = high != "1"
        if element.endswith("[x]"):
            choice: str | None = element[:-3]
            keys = [(f"{choice}{t[0].upper()}{t[1:]}", t) for t in types]
        else:
            choice, keys = None, [(element, types[0])]
        for key, t in keys:
            order.append(key)
            if t == "Resource":
                elems[key] = Element("resource", "Resource", many, None, choice)
            elif t == "xhtml":
                elems[key] = Element("xhtml", "xhtml", many, None, choice)
            elif t in primitives:
                json = _TABLE_JSON.get(primitives[t]["json"], "string")
                elems[key] = Element("primitive", t, many, None, choice, json)
            elif "." in t:  # a backbone element: its path names it (ImagingSelection.instance)
                cls = "".join(part[0].upper() + part[1:] for part in t.split("."))
                elems[key] = Element("backbone", cls, many, ("t", t), choice)
            else:
                elems[key] = Element("complex", t, many, r5_node(t), choice)
    return tuple(order), elems


def r5_node(type_name: str) -> Node:
    """The definition of an R5 type: the table's when it has the type, else fhir.resources'.

    Parameters
    ----------
    type_name : str
        A resource or datatype name (``Coding``, ``Extension``, ``Procedure``).

    Returns
    -------
    Node

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When neither knows the type.
    """
    if type_name in structure()["types"]:
        return ("t", type_name)
    return ("r5", r5_model_class(type_name))


@cache
def _s1_elements(name: str) -> tuple[tuple[str, ...], dict[str, Element]]:
    schema = s1_schema()
    node = schema if name == "ImagingSelection" else schema["$defs"][name]
    if "properties" not in node:  # Meta, Extension: R5's own definition
        return elements(r5_node(name))
    order: list[str] = []
    elems: dict[str, Element] = {}
    for prop, spec in node["properties"].items():
        if prop == "resourceType":
            continue
        order.append(prop)
        many = spec.get("type") == "array"
        item = spec["items"] if many else spec
        if prop == "contained":
            elems[prop] = Element("resource", "Resource", True)
            continue
        if prop == "div":
            elems[prop] = Element("xhtml", "xhtml", False)
            continue
        ref = str(item.get("$ref", "")).rsplit("/", 1)[-1]
        target = schema["$defs"].get(ref, {}) if ref else item
        if ref and ("properties" in target or ref in ("Meta", "Extension")):
            kind = "backbone" if "_" in ref else "complex"
            elems[prop] = Element(kind, ref, many, ("s1", ref))
            continue
        prim = {"numberList": "string", "segmentList": "string"}.get(ref, ref or "string")
        json = {"number": "decimal", "boolean": "boolean", "integer": "integer"}.get(
            str(target.get("type")), "string"
        )
        elems[prop] = Element("primitive", prim, many, json=json)
    return tuple(order), elems


def elements(node: Node) -> tuple[tuple[str, ...], dict[str, Element]]:
    """A type's elements: their names in definition order, and each one's :class:`Element`.

    Parameters
    ----------
    node : Node

    Returns
    -------
    (tuple of str, dict)
    """
    if node[0] == "t":
        return _table_elements(node[1])
    return _r5_elements(node[1]) if node[0] == "r5" else _s1_elements(node[1])


def resource_node(resource_type: str, flavour: str) -> Node:
    """The definition a resource of ``flavour`` is written by.

    Parameters
    ----------
    resource_type : str
    flavour : str
        ``r5`` or ``r5-snapshot1`` (only its ImagingSelection has a definition of its own).

    Returns
    -------
    Node

    Raises
    ------
    dicomsel.errors.InvalidInputError
        On a resource type neither the table nor fhir.resources knows.
    """
    if flavour == SNAPSHOT1 and resource_type == "ImagingSelection":
        return ("s1", "ImagingSelection")
    if resource_type in structure()["resources"]:
        return ("t", resource_type)
    return ("r5", r5_model_class(resource_type))
