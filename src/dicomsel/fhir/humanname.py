"""DICOM Person Name (PN, PS3.5 6.2.1) <-> FHIR HumanName, both ways.

A PN component group maps to a HumanName: family name complex -> ``family``;
given name complex and middle name -> ``given`` (in that order, each component
one entry: a component holds "natural text strings, in the format preferred by the
named person", so it is not split at spaces); prefix -> ``prefix``; suffix ->
``suffix``; ``text`` a readable form (:func:`dicomsel.personname.readable`).
The ideographic and phonetic groups are HumanNames of their own, marked with the
extension ``iso21090-EN-representation`` (``IDE``, ``SYL``; the alphabetic one
``ABC`` when there are others): :func:`human_names`. The way back,
:func:`person_name`, restores the components: ``given[0]`` the given name, the
other entries the middle name, joined by spaces.

The dicom-sr IG's Practitioner profile takes one name (``Practitioner.name`` 0..1):
:func:`human_name` is the alphabetic group alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomsel.errors import InvalidInputError
from dicomsel.personname import NameGroup, format_person_name, group_text, parse

__all__ = ["EN_REPRESENTATION", "human_name", "human_names", "person_name", "person_name_of"]

#: The extension that says which script a HumanName is written in (ABC | IDE | SYL).
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
_REPRESENTATIONS = ("ABC", "IDE", "SYL")


def _group_name(group: NameGroup, *, family_first: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    text = group_text(group, family_first=family_first)
    if text:
        out["text"] = text
    if group.family:
        out["family"] = group.family
    given = [c for c in (group.given, group.middle) if c]
    if given:
        out["given"] = given
    if group.prefix:
        out["prefix"] = [group.prefix]
    if group.suffix:
        out["suffix"] = [group.suffix]
    return out


def human_name(pn: str) -> dict[str, Any]:
    """The alphabetic component group of a PN as a FHIR HumanName.

    Parameters
    ----------
    pn : str
        A PN value (``Observer^Olivia^^Dr.``).

    Returns
    -------
    dict
        ``{"text": "Dr. Olivia Observer", "family": "Observer", "given": ["Olivia"],
        "prefix": ["Dr."]}``; empty when the alphabetic group is (a name written in
        ideographic or phonetic characters only: see :func:`human_names`).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``pn`` is not a PN value (:func:`dicomsel.personname.parse`).
    """
    return _group_name(parse(pn)[0], family_first=False)


def human_names(pn: str) -> list[dict[str, Any]]:
    """Every component group of a PN as a HumanName: alphabetic, ideographic, phonetic.

    With one group only, its HumanName as :func:`human_name` gives it (no extension);
    with more, each carries ``iso21090-EN-representation`` (ABC, IDE, SYL), so the
    groups can be told apart and put back in place.

    Parameters
    ----------
    pn : str

    Returns
    -------
    list of dict
        Empty for an empty name.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``pn`` is not a PN value.
    """
    groups = parse(pn)
    present = [(i, g) for i, g in enumerate(groups) if g]
    out = []
    for i, group in present:
        name = _group_name(group, family_first=i > 0)
        if len(present) > 1 or i > 0:
            name = {
                "extension": [{"url": EN_REPRESENTATION, "valueCode": _REPRESENTATIONS[i]}],
                **name,
            }
        out.append(name)
    return out


def _strings(name: dict[str, Any], key: str) -> list[str]:
    values = name.get(key) or []
    if isinstance(values, str):
        values = [values]
    return [str(v).strip() for v in values if str(v).strip()]


def _group(name: dict[str, Any]) -> NameGroup:
    given = _strings(name, "given")
    family = str(name.get("family") or "").strip()
    prefix, suffix = _strings(name, "prefix"), _strings(name, "suffix")
    if not (family or given or prefix or suffix):
        # a name given as text only: the family name complex holds it as it stands
        return NameGroup(family=str(name.get("text") or "").strip())
    return NameGroup(
        family=family,
        given=given[0] if given else "",
        middle=" ".join(given[1:]),
        prefix=" ".join(prefix),
        suffix=" ".join(suffix),
    )


def person_name(name: dict[str, Any]) -> str:
    """A FHIR HumanName as the alphabetic group of a DICOM PN, components restored.

    ``family^given[0]^given[1:]^prefix^suffix``, entries of one component joined by
    spaces, trailing empty components left out (PS3.5 6.2.1). A name with text only
    becomes the family name complex.

    Parameters
    ----------
    name : dict
        A HumanName.

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If a part holds a PN delimiter (``^``, ``=``), a backslash or a line break, or
        the name is longer than a PN group's 64 characters.
    """
    if not isinstance(name, dict):
        raise InvalidInputError("is not a HumanName", attribute="name")
    return format_person_name(_group(name))


def _representation(name: dict[str, Any]) -> str | None:
    for ext in name.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == EN_REPRESENTATION:
            return str(ext.get("valueCode") or "")
    return None


def person_name_of(names: Sequence[Any], warnings: list[str] | None = None) -> str:
    """The HumanNames of one person (as :func:`human_names` writes them) as one DICOM PN.

    Names marked ``iso21090-EN-representation`` IDE / SYL become the ideographic and
    phonetic groups; of the others the ``official`` one, else the first, is the
    alphabetic group.

    Parameters
    ----------
    names : sequence of dict
        ``Practitioner.name`` (or ``Patient.name``).
    warnings : list of str, optional
        Receives what is left out (further names of one representation).

    Returns
    -------
    str
        Empty when there is no name.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        As for :func:`person_name`.
    """
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in _REPRESENTATIONS}
    for n in names:
        if isinstance(n, dict):
            rep = _representation(n)
            by_kind[rep if rep in ("IDE", "SYL") else "ABC"].append(n)
    alphabetic = by_kind["ABC"]
    if alphabetic:
        official = [n for n in alphabetic if n.get("use") == "official"]
        if official:
            alphabetic = official + [n for n in alphabetic if n not in official]
    chosen = [alphabetic[:1], by_kind["IDE"][:1], by_kind["SYL"][:1]]
    left = sum(len(v) for v in (alphabetic, by_kind["IDE"], by_kind["SYL"])) - sum(
        len(c) for c in chosen
    )
    if left and warnings is not None:
        warnings.append(
            f"a DICOM PN holds one name per representation: {left} further name(s) left out"
        )
    a, i, p = (_group(c[0]) if c else NameGroup() for c in chosen)
    return format_person_name(a, i, p)
