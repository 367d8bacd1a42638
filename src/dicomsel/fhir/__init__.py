"""Model <-> FHIR: one subpackage per flavour; FHIR's camelCase never leaves this package.

Modules: :mod:`~dicomsel.fhir.datatypes` (Coding, Identifier, Reference,
sopClass, element paths; both ways), :mod:`~dicomsel.fhir.ids` (resource ids,
one namespace), :mod:`~dicomsel.fhir.endpoint`,
:mod:`~dicomsel.fhir.imaging_selection` (what both flavours share),
:mod:`~dicomsel.fhir.bundle` (reading inputs, flavour detection,
serialisation), :mod:`~dicomsel.fhir.r5` and :mod:`~dicomsel.fhir.snapshot1`
(write, read, validate), :mod:`~dicomsel.fhir.observation`,
:mod:`~dicomsel.fhir.xml`. :data:`FLAVOURS` maps a flavour name (``--fhir``)
to its package, which provides ``write(selections) -> Output`` and
``validate(resource)``.
"""

from __future__ import annotations

from dicomsel.fhir import observation
from dicomsel.fhir.base import Flavour, Output
from dicomsel.fhir.bundle import (
    FORMATS,
    FhirInput,
    detect_flavour,
    load_resources,
    read_fhir,
    serialise,
)
from dicomsel.fhir.flavours import FLAVOURS, flavour
from dicomsel.fhir.r5 import from_imaging_selection

__all__ = [
    "FLAVOURS",
    "FORMATS",
    "FhirInput",
    "Flavour",
    "Output",
    "detect_flavour",
    "flavour",
    "from_imaging_selection",
    "load_resources",
    "observation",
    "read_fhir",
    "serialise",
]
