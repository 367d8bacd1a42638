"""The FHIR flavours by name (``--fhir``): each provides ``NAME``, ``write`` and ``validate``.

A flavour's package is imported when it is first looked up, so that a run of one
flavour does not import the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from dicomsel.fhir.base import Flavour

__all__ = ["FLAVOURS", "R5", "SNAPSHOT1", "flavour"]

#: The flavours' names (each package's ``NAME``).
R5 = "r5"
SNAPSHOT1 = "r5-snapshot1"

_PACKAGES = {R5: "dicomsel.fhir.r5", SNAPSHOT1: "dicomsel.fhir.snapshot1"}


class _Flavours(Mapping[str, Flavour]):
    """Flavour name -> its package, imported on first lookup."""

    def __getitem__(self, name: str) -> Flavour:
        module: Flavour = import_module(_PACKAGES[name])
        return module

    def __iter__(self) -> Iterator[str]:
        return iter(_PACKAGES)

    def __len__(self) -> int:
        return len(_PACKAGES)


#: Flavour name -> the flavour's package (:class:`~dicomsel.fhir.base.Flavour`).
FLAVOURS: Mapping[str, Flavour] = _Flavours()


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
