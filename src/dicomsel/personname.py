"""DICOM Person Names (VR PN, PS3.5 section 6.2.1): components, groups, a readable form.

A PN value is up to three *component groups* separated by ``=``: an alphabetic
(single-byte) representation, an ideographic one and a phonetic one. Each group
has five components separated by ``^``: family name complex, given name complex,
middle name, name prefix, name suffix. Interior empty components and groups keep
their delimiters; trailing ones may be left out; leading and trailing spaces of a
component are not significant (PS3.5 Table 6.2-1). A group is at most 64 characters.

This module knows DICOM only; :mod:`dicomsel.fhir.humanname` maps the groups to
FHIR HumanName and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicomsel.errors import InvalidInputError

__all__ = [
    "GROUP_NAMES",
    "NameGroup",
    "format_person_name",
    "group_text",
    "normalise",
    "parse",
    "readable",
]

#: The three component groups, in their order of occurrence (PS3.5 6.2.1.1).
GROUP_NAMES = ("alphabetic", "ideographic", "phonetic")
_MAX_GROUP = 64
# PN excludes the Control Characters LF, FF and CR (ESC is allowed) and, as a
# single value, the backslash (PS3.5 Table 6.2-1)
_FORBIDDEN = re.compile(r"[\\\n\f\r]")


@dataclass(frozen=True, slots=True)
class NameGroup:
    """One component group of a PN: its five components, spaces stripped."""

    family: str = ""
    given: str = ""
    middle: str = ""
    prefix: str = ""
    suffix: str = ""

    def components(self) -> tuple[str, str, str, str, str]:
        """The five components in PN order."""
        return (self.family, self.given, self.middle, self.prefix, self.suffix)

    def __bool__(self) -> bool:
        return any(self.components())

    def pn(self) -> str:
        """This group as PN text, trailing empty components and their ``^`` left out."""
        return "^".join(self.components()).rstrip("^")


def parse(pn: str, what: str = "PN") -> tuple[NameGroup, NameGroup, NameGroup]:
    """The three component groups of a PN value (an absent group is an empty one).

    Parameters
    ----------
    pn : str
        The value as it stands (``Adams^John Robert Quincy^^Rev.^B.A. M.Div.``).
    what : str
        Which attribute it came from, for the message.

    Returns
    -------
    tuple of NameGroup
        (alphabetic, ideographic, phonetic).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        For more than three groups, more than five components in a group, a group of
        more than 64 characters, or a backslash, LF, FF or CR.
    """
    if _FORBIDDEN.search(pn):
        raise InvalidInputError(
            f"{pn!r} is not a PN value (a backslash, LF, FF or CR: PS3.5 6.2)", attribute=what
        )
    texts = pn.rstrip(" ").split("=")
    if len(texts) > 3:
        raise InvalidInputError(
            f"{pn!r} has {len(texts)} component groups; a PN has at most three "
            "(alphabetic, ideographic, phonetic: PS3.5 6.2.1)",
            attribute=what,
        )
    groups: list[NameGroup] = []
    for name, text in zip(GROUP_NAMES, texts, strict=False):
        parts = text.split("^")
        if len(parts) > 5:
            raise InvalidInputError(
                f"{pn!r}: the {name} group has {len(parts)} components; a PN group has "
                "five (family, given, middle, prefix, suffix: PS3.5 6.2.1)",
                attribute=what,
            )
        group = NameGroup(*(p.strip(" ") for p in parts))
        if len(group.pn()) > _MAX_GROUP:
            raise InvalidInputError(
                f"{pn!r}: the {name} group is longer than 64 characters (PS3.5 6.2)",
                attribute=what,
            )
        groups.append(group)
    while len(groups) < 3:
        groups.append(NameGroup())
    return groups[0], groups[1], groups[2]


def format_person_name(
    alphabetic: NameGroup, ideographic: NameGroup | None = None, phonetic: NameGroup | None = None
) -> str:
    """PN text of component groups: interior delimiters kept, trailing ones left out.

    Parameters
    ----------
    alphabetic, ideographic, phonetic : NameGroup
        The groups (None or empty for an absent one).

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If a component holds a delimiter (``^``, ``=``), a backslash, LF, FF or CR,
        or a group is longer than 64 characters.
    """
    texts = []
    for name, group in zip(GROUP_NAMES, (alphabetic, ideographic, phonetic), strict=True):
        group = group or NameGroup()
        for c in group.components():
            if "^" in c or "=" in c or _FORBIDDEN.search(c):
                raise InvalidInputError(
                    f"{c!r} cannot be a PN component: it holds a delimiter (^ or =), a "
                    "backslash or a line break (PS3.5 6.2.1)",
                    attribute=f"PN {name} group",
                )
        text = group.pn()
        if len(text) > _MAX_GROUP:
            raise InvalidInputError(
                f"{text!r} is longer than 64 characters (PS3.5 6.2)", attribute=f"PN {name} group"
            )
        texts.append(text)
    return "=".join(texts).rstrip("=")


def normalise(pn: str, what: str = "PN") -> str:
    """A PN value with insignificant spaces and trailing delimiters left out.

    ``Observer^Olivia^^Dr.^`` and ``Observer^Olivia^^Dr.`` are the same name.

    Parameters
    ----------
    pn : str
    what : str
        Which attribute it came from, for the message.

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidInputError
        As for :func:`parse`.
    """
    return format_person_name(*parse(pn, what))


def group_text(group: NameGroup, *, family_first: bool = False) -> str:
    """A readable form of one group.

    Alphabetic names read prefix, given, middle, family, then ``, suffix``
    (``Rev. John Robert Quincy Adams, B.A. M.Div.``, the example of PS3.5 Table 6.2-1);
    ideographic and phonetic ones keep the PN order, family name first, as names in
    those scripts are written (the Japanese and Korean examples of PS3.5 Annex H).

    Parameters
    ----------
    group : NameGroup
    family_first : bool

    Returns
    -------
    str
    """
    if family_first:
        return " ".join(c for c in group.components() if c)
    head = " ".join(c for c in (group.prefix, group.given, group.middle, group.family) if c)
    if group.suffix:
        return f"{head}, {group.suffix}" if head else group.suffix
    return head


def readable(pn: str, what: str = "PN") -> str:
    """How a person is named to a reader: the alphabetic group, else the first group given.

    Parameters
    ----------
    pn : str
    what : str
        Which attribute it came from, for the message.

    Returns
    -------
    str
        ``Dr. Olivia Observer`` for ``Observer^Olivia^^Dr.``; empty for an empty name.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        As for :func:`parse`.
    """
    alphabetic, *others = parse(pn, what)
    if alphabetic:
        return group_text(alphabetic)
    for group in others:
        if group:
            return group_text(group, family_first=True)
    return ""
