"""The FHIR flavours by name (``--fhir``): each provides ``NAME``, ``write`` and ``validate``."""

from __future__ import annotations

from dicomsel.fhir import r5, snapshot1
from dicomsel.fhir.base import Flavour

__all__ = ["FLAVOURS", "flavour"]

FLAVOURS: dict[str, Flavour] = {r5.NAME: r5, snapshot1.NAME: snapshot1}


def flavour(name: str) -> Flavour:
    """The flavour called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`FLAVOURS` (``r5``, ``r5-snapshot1``).

    Returns
    -------
    Flavour
        The flavour package (``write``, ``validate``, ``NAME``).

    Raises
    ------
    ValueError
        Naming the known flavours.
    """
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(
            f"unknown FHIR flavour {name!r}; one of {', '.join(sorted(FLAVOURS))}"
        ) from None
