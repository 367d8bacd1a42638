"""FHIR JSON resources <-> FHIR XML, for both flavours (``--xml``).

The FHIR XML rules (R5 "XML Representation of Resources"): the namespace
``http://hl7.org/fhir``; the resource type as the root element (and inside
``Bundle.entry.resource`` / ``contained``); every primitive as an element
with a ``value`` attribute, its ``id`` and extensions (JSON's ``_name``) as
the attribute and children of that element; an element's ``id`` and an
Extension's ``url`` as attributes; a repeated element once per item; the
narrative ``div`` as XHTML in its own namespace; and the elements in the
order of the definition, not of the JSON object.

The order and the types come from the definitions: for R5 from
fhir.resources' models (generated from HL7's StructureDefinitions), for the
Snapshot #1 ImagingSelection from the project's schema, whose properties
follow the spec's element order. Output is deterministic: two-space
indentation, ``"`` quoted attributes, a UTF-8 declaration.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.bundle import serialise
from dicomsel.fhir.models import Element, Node, elements, r5_node, resource_node
from dicomsel.fhir.text import clean_string, removal_warning

__all__ = ["NS", "XHTML", "dumps", "loads", "serialise_xml"]

log = logging.getLogger(__name__)

NS = "http://hl7.org/fhir"
XHTML = "http://www.w3.org/1999/xhtml"


# ---- JSON -> XML


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return json.dumps(v)
    return str(v)


def _ordered(obj: dict[str, Any], order: Sequence[str]) -> list[str]:
    names = [k for k in obj if not k.startswith("_") and k != "resourceType"]
    names += [k[1:] for k in obj if k.startswith("_") and k[1:] not in obj]
    rank = {n: i for i, n in enumerate(order)}
    unknown = [n for n in names if n not in rank]
    if unknown:
        raise InvalidInputError(f"element(s) {unknown} are not defined for this type")
    return sorted(dict.fromkeys(names), key=rank.__getitem__)


def _xhtml(div: str) -> str:
    """The narrative, checked: it must parse (after :func:`_Writer.text` cleaned it)."""
    try:
        ET.fromstring(div)
    except ET.ParseError as e:
        raise InvalidInputError(f"narrative div is not well-formed XHTML ({e})") from e
    return div


class _Writer:
    def __init__(self, flavour: str, removed: list[str] | None = None) -> None:
        self.flavour = flavour
        self.lines: list[str] = []
        # characters XML 1.0 cannot hold, removed from attribute values and the div
        self.removed: list[str] = [] if removed is None else removed

    def text(self, value: str) -> str:
        """``value`` without the characters XML 1.0 forbids (the writers removed them already)."""
        cleaned, removed = clean_string(value)
        self.removed += removed
        return cleaned

    def attr(self, value: Any) -> str:
        return quoteattr(self.text(_value(value)))

    def resource(self, res: dict[str, Any], depth: int) -> None:
        rtype = res.get("resourceType")
        if not isinstance(rtype, str):
            raise InvalidInputError("a resource without resourceType")
        pad = "  " * depth
        ns = f' xmlns="{NS}"' if depth == 0 else ""
        self.lines.append(f"{pad}<{rtype}{ns}>")
        self.body(res, resource_node(rtype, self.flavour), depth + 1, resource=True)
        self.lines.append(f"{pad}</{rtype}>")

    def body(self, obj: dict[str, Any], t: Node, depth: int, *, resource: bool) -> None:
        order, children = elements(t)
        for name in _ordered(obj, order):
            if not resource and name == "id":
                continue  # an attribute of the element
            if name == "url" and _is_extension(t):
                continue
            child = children[name]
            value = obj.get(name)
            ext = obj.get(f"_{name}")
            if child.many:
                values = value if isinstance(value, list) else [None] * len(ext or [])
                exts = ext if isinstance(ext, list) else [None] * len(values)
                for v, e in zip(values, exts, strict=False):
                    self.element(name, v, e, child, depth)
            else:
                self.element(name, value, ext, child, depth)

    def element(self, name: str, value: Any, ext: Any, child: Element, depth: int) -> None:
        pad = "  " * depth
        if child.kind == "xhtml":
            self.lines.append(pad + _xhtml(self.text(str(value))))
        elif child.kind == "resource":
            self.lines.append(f"{pad}<{name}>")
            self.resource(value, depth + 1)
            self.lines.append(f"{pad}</{name}>")
        elif child.nested and child.node is not None:
            attrs = self.attrs(value, _is_extension(child.node))
            inner = _Writer(self.flavour, self.removed)
            inner.body(value, child.node, depth + 1, resource=False)
            if inner.lines:
                self.lines.append(f"{pad}<{name}{attrs}>")
                self.lines += inner.lines
                self.lines.append(f"{pad}</{name}>")
            else:
                self.lines.append(f"{pad}<{name}{attrs}/>")
        else:
            attrs = ""
            if isinstance(ext, dict) and ext.get("id"):
                attrs += f" id={self.attr(ext['id'])}"
            if value is not None:
                attrs += f" value={self.attr(value)}"
            exts = ext.get("extension") if isinstance(ext, dict) else None
            if exts:
                self.lines.append(f"{pad}<{name}{attrs}>")
                t = r5_node("Extension")
                for e in exts:
                    self.element(
                        "extension", e, None, Element("complex", "Extension", True, t), depth + 1
                    )
                self.lines.append(f"{pad}</{name}>")
            else:
                self.lines.append(f"{pad}<{name}{attrs}/>")

    def attrs(self, obj: dict[str, Any], extension: bool) -> str:
        out = ""
        if obj.get("id") is not None:
            out += f" id={self.attr(obj['id'])}"
        if extension and obj.get("url") is not None:
            out += f" url={self.attr(obj['url'])}"
        return out


def _is_extension(t: Node) -> bool:
    if t[0] == "r5":
        return bool(t[1].__name__ == "Extension")
    return bool(t[1] == "Extension")  # the table's or Snapshot #1's


def dumps(resource: dict[str, Any], flavour: str = "r5", warnings: list[str] | None = None) -> str:
    """One resource (a Bundle included) as a FHIR XML document.

    Parameters
    ----------
    resource : dict
        FHIR JSON of the flavour.
    flavour : str
        ``r5`` or ``r5-snapshot1`` (whose ImagingSelections follow the
        project's schema; Bundles and Endpoints are R5 in both).
    warnings : list of str, optional
        Receives a warning when a string held characters XML 1.0 cannot carry
        (:data:`dicomsel.fhir.text.FORBIDDEN`), which are removed so the
        document always parses; without a list the warning is logged. The
        flavour writers remove them first, naming the element.

    Returns
    -------
    str
        The document, with a UTF-8 declaration; always well-formed XML.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        For an element the flavour's definitions do not have.
    """
    w = _Writer(flavour)
    w.resource(resource, 0)
    if w.removed:
        rtype = resource.get("resourceType")
        message = removal_warning(f"FHIR XML of {rtype}/{resource.get('id', '?')}", w.removed)
        if warnings is None:
            log.warning("%s", message)
        else:
            warnings.append(message)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(w.lines) + "\n"


def serialise_xml(
    resources: Iterable[dict[str, Any]],
    fmt: str = "bundle",
    flavour: str = "r5",
    warnings: list[str] | None = None,
) -> str:
    """Resources as an XML Bundle, built as :func:`dicomsel.fhir.bundle.serialise` builds it.

    Parameters
    ----------
    resources : iterable of dict
    fmt : str
        ``bundle`` or ``transaction``; NDJSON has no XML form.
    flavour : str
        As for :func:`dumps`.
    warnings : list of str, optional
        As for :func:`dumps`.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For ``ndjson`` or an unknown format.
    """
    if fmt == "ndjson":
        raise ValueError("NDJSON has no XML form: use --format bundle or transaction")
    return dumps(json.loads(serialise(resources, fmt)), flavour, warnings)


# ---- XML -> JSON


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _xhtml_string(elem: ET.Element, root: bool = True) -> str:
    _, name = _local(elem.tag)
    attrs = "".join(f" {_local(k)[1]}={quoteattr(v)}" for k, v in elem.attrib.items())
    if root:
        attrs = f' xmlns="{XHTML}"' + attrs
    inner = escape(elem.text or "") + "".join(_xhtml_string(c, False) for c in elem)
    text = f"<{name}{attrs}>{inner}</{name}>" if inner else f"<{name}{attrs}/>"
    return text + (escape(elem.tail or "") if not root else "")


def _parse_value(raw: str, jtype: str, where: str) -> Any:
    try:
        if jtype == "boolean":
            if raw not in ("true", "false"):
                raise ValueError(raw)
            return raw == "true"
        if jtype == "integer":
            return int(raw)
        if jtype == "decimal":
            number = float(raw)
            exact_int = number.is_integer() and "." not in raw and "e" not in raw.lower()
            return int(number) if exact_int else number
    except ValueError:
        raise InvalidInputError(f"{raw!r} is not a FHIR {jtype}", attribute=where) from None
    return raw


def _read(elem: ET.Element, t: Node, flavour: str, where: str) -> dict[str, Any]:
    _, children = elements(t)
    out: dict[str, Any] = {}
    if "id" in elem.attrib:
        out["id"] = elem.attrib["id"]
    if "url" in elem.attrib and _is_extension(t):
        out["url"] = elem.attrib["url"]
    for sub in elem:
        tag: Any = sub.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        ns, name = _local(tag)
        child = children.get(name)
        path = f"{where}.{name}"
        if child is None or (ns != NS and child.kind != "xhtml"):
            raise InvalidInputError("not an element of this type", attribute=path)
        if child.kind == "xhtml":
            value: Any = _xhtml_string(sub)
        elif child.kind == "resource":
            inner = list(sub)
            if len(inner) != 1:
                raise InvalidInputError("needs exactly one resource", attribute=path)
            value = _read_resource(inner[0], flavour, path)
        elif child.nested and child.node is not None:
            value = _read(sub, child.node, flavour, path)
        else:
            value = (
                _parse_value(sub.attrib["value"], child.json, path)
                if "value" in sub.attrib
                else None
            )
            ext: dict[str, Any] = {}
            if "id" in sub.attrib:
                ext["id"] = sub.attrib["id"]
            exts = [_read(e, r5_node("Extension"), flavour, path) for e in sub]
            if exts:
                ext["extension"] = exts
            if child.many:
                out.setdefault(name, []).append(value)
                out.setdefault(f"_{name}", []).append(ext or None)
            else:
                if value is not None:
                    out[name] = value
                if ext:
                    out[f"_{name}"] = ext
            continue
        if child.many:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    for key in [k for k in out if k.startswith("_") and isinstance(out[k], list)]:
        if not any(out[key]):
            del out[key]
        if key[1:] in out and all(v is None for v in out[key[1:]]):
            del out[key[1:]]
    return out


def _read_resource(elem: ET.Element, flavour: str, where: str) -> dict[str, Any]:
    ns, rtype = _local(elem.tag)
    if ns != NS:
        raise InvalidInputError(f"<{rtype}> is not in the FHIR namespace {NS}", attribute=where)
    body = _read(elem, resource_node(rtype, flavour), flavour, f"{where}.{rtype}".lstrip("."))
    return {"resourceType": rtype, **body}


def loads(text: str | bytes, flavour: str = "r5") -> dict[str, Any]:
    """A FHIR XML document (a resource or a Bundle) as FHIR JSON of the flavour.

    Parameters
    ----------
    text : str or bytes
    flavour : str
        As for :func:`dumps`.

    Returns
    -------
    dict

    Raises
    ------
    dicomsel.errors.InvalidInputError
        Naming the element that is not well-formed or not defined.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise InvalidInputError(f"not well-formed XML ({e})") from e
    return _read_resource(root, flavour, "")
