"""Model -> FHIR, one module per flavour; FHIR's camelCase never leaves this package.

:data:`FLAVOURS` maps a flavour name (``--fhir``) to its module, which
provides ``write(selections) -> Output`` and ``validate(resource)``.
"""

from __future__ import annotations

from dicomsel.fhir import r5, snapshot1
from dicomsel.fhir.base import Flavour, Output

__all__ = ["FLAVOURS", "Flavour", "Output", "flavour"]

FLAVOURS: dict[str, Flavour] = {r5.NAME: r5, snapshot1.NAME: snapshot1}


def flavour(name: str) -> Flavour:
    """The flavour module called ``name``; ValueError naming the known ones otherwise."""
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(
            f"unknown FHIR flavour {name!r}; one of {', '.join(sorted(FLAVOURS))}"
        ) from None
