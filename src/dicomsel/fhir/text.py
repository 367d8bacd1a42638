"""The characters FHIR JSON and XML may carry: every string written passes :func:`clean_string`.

Which characters go, and why:

* FHIR R5 datatypes, ``string``: "Strings SHOULD not contain Unicode character
  points below 32, except for u0009 (horizontal tab), u0010 (carriage return)
  and u0013 (line feed)". HL7's R5 package does not enforce it: the ``string``
  (and ``markdown``) pattern in hl7.fhir.r5.core 5.0.0
  ``openapi/fhir.schema.json`` is ``^^[\\s\\S]+$$``, i.e. any character, so a
  validator run on the JSON alone does not catch them.
* XML 1.0 (Fifth Edition) production [2], ``Char ::= #x9 | #xA | #xD |
  [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]``: the same C0 controls,
  the surrogates (U+D800-U+DFFF; in a Python string only lone ones, which UTF-8
  cannot encode either) and the non-characters U+FFFE and U+FFFF cannot appear
  in an XML document at all, not even as character references. The FHIR XML
  form (:mod:`dicomsel.fhir.xml`) and the narrative ``div`` (XHTML, in JSON too)
  are XML.

Both rules forbid the same set, so one function applies to JSON and XML
alike; the characters are removed (XML has no escape for them) and the
removal is reported with the element's path, so nothing is dropped silently.
U+FFFD (what a reader puts in place of undecodable bytes) is a valid character
and stays.
"""

from __future__ import annotations

import re
from typing import Any

from dicomsel.fhir.base import Output

__all__ = ["FORBIDDEN", "clean_output", "clean_resource", "clean_string", "removal_warning"]

#: The characters neither a FHIR string nor an XML 1.0 document may hold.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_string(value: str) -> tuple[str, list[str]]:
    """``value`` without the :data:`FORBIDDEN` characters, and those removed.

    Parameters
    ----------
    value : str

    Returns
    -------
    tuple of (str, list of str)
        The cleaned string and the removed characters as ``U+XXXX``, in order
        of appearance (empty when nothing was removed: the string is returned
        unchanged).
    """
    found = FORBIDDEN.findall(value)
    if not found:
        return value, []
    return FORBIDDEN.sub("", value), [f"U+{ord(c):04X}" for c in found]


def removal_warning(where: str, removed: list[str]) -> str:
    """The warning for ``removed`` characters at the element ``where``.

    Parameters
    ----------
    where : str
        The element path, e.g. ``ImagingSelection/<id>.text.div``.
    removed : list of str
        As :func:`clean_string` returns them.

    Returns
    -------
    str
    """
    kinds = ", ".join(dict.fromkeys(removed))
    return (
        f"{where}: {len(removed)} control character(s) removed ({kinds}): "
        "not allowed in a FHIR string or in XML"
    )


def _path(root: str, parts: list[str | int]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _clean(node: Any, root: str, parts: list[str | int], warnings: list[str]) -> None:
    """Clean the strings in a dict or list, in place; the path is only spelt out on a hit."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str):
            if FORBIDDEN.search(value):
                text, removed = clean_string(value)
                node[key] = text
                warnings.append(removal_warning(_path(root, [*parts, key]), removed))
        elif isinstance(value, dict | list):
            parts.append(key)
            _clean(value, root, parts, warnings)
            parts.pop()


def clean_resource(resource: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Remove the :data:`FORBIDDEN` characters from every string of ``resource``, in place.

    Parameters
    ----------
    resource : dict
        FHIR JSON.
    warnings : list of str
        Receives one warning per element changed, named by its path
        (``ImagingSelection/<id>.subject.identifier.value``).

    Returns
    -------
    dict
        ``resource`` itself.
    """
    root = f"{resource.get('resourceType', '?')}/{resource.get('id', '?')}"
    _clean(resource, root, [], warnings)
    return resource


def clean_output(out: Output) -> Output:
    """Clean every resource of a writer's output (its own and the shared ones), in place.

    Parameters
    ----------
    out : Output
        The warnings go to ``out.warnings``.

    Returns
    -------
    Output
        ``out`` itself.
    """
    for res in out.resources:
        clean_resource(res, out.warnings)
    for res in out.shared.values():
        clean_resource(res, out.warnings)
    return out
