"""The FHIR R5 Snapshot #1 flavour (``--fhir r5-snapshot1``): write, read and validate.

The flavour interface (:class:`dicomsel.fhir.base.Flavour`): :data:`NAME`,
:func:`write`, :func:`validate`. The shape and how a selection is split are
described in :mod:`dicomsel.fhir.snapshot1.write` and docs/snapshot1.md.
"""

from __future__ import annotations

from dicomsel.fhir.snapshot1.read import R5_ONLY, from_imaging_selection
from dicomsel.fhir.snapshot1.rules import (
    OID_PATTERN,
    anchor_on_read,
    is_oid,
    number_list,
    oid,
    region_problem,
)
from dicomsel.fhir.snapshot1.validate import SCHEMA_FILE, schema, validate
from dicomsel.fhir.snapshot1.write import NAME, circle_as_ellipse, to_imaging_selections, write

__all__ = [
    "NAME",
    "OID_PATTERN",
    "R5_ONLY",
    "SCHEMA_FILE",
    "anchor_on_read",
    "circle_as_ellipse",
    "from_imaging_selection",
    "is_oid",
    "number_list",
    "oid",
    "region_problem",
    "schema",
    "to_imaging_selections",
    "validate",
    "write",
]
