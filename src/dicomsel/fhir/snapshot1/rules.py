"""The Snapshot #1 rules its writer, reader and validator share.

UIDs typed ``oid``, number lists, which instance a top-level region lies on,
and whether a region's coordinates fit its type (../shared/spec/
ImagingSelection-R5-snapshot1.txt; the region table is in :mod:`dicomsel.terminology`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dicomsel import terminology

__all__ = ["OID_PATTERN", "anchor_on_read", "is_oid", "number_list", "oid", "region_problem"]

#: FHIR's ``oid`` type (R5 datatypes): ``urn:oid:`` and an OID
OID_PATTERN = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


def oid(uid: str) -> str:
    """A DICOM UID typed ``oid``: ``urn:oid:<uid>``.

    Parameters
    ----------
    uid : str

    Returns
    -------
    str
    """
    return f"urn:oid:{uid}"


def is_oid(uid: str) -> bool:
    """Whether a DICOM UID can be typed ``oid`` (FHIR's regex: first arc 0-2, two arcs or more).

    PS3.5 9.1 builds UIDs on ISO OIDs, but test data carries UIDs such as
    ``9.8.7.6`` that the DICOM character rules accept and no OID registry would.

    Parameters
    ----------
    uid : str

    Returns
    -------
    bool
    """
    return OID_PATTERN.fullmatch(oid(uid)) is not None


def number_list(values: Sequence[int]) -> str:
    """Frame, segment or ROI numbers as Snapshot #1 writes them: ``1,3,5``.

    Parameters
    ----------
    values : sequence of int

    Returns
    -------
    str
    """
    return ",".join(str(v) for v in values)


def anchor_on_read(sop_classes: Sequence[str | None], dims: int) -> int | None:
    """Which instance a resource's top-level region is read onto, by index.

    The rule :mod:`dicomsel.fhir.snapshot1.read` applies: the only instance
    when there is one; for a 3D region among several instances, the only SR
    instance (DESIGN.md anchors 3D regions on the SR that defines them); a 2D
    region among several instances goes on the first (with a warning, the
    writer never produces it); else none (a selection-level 3D region).

    Parameters
    ----------
    sop_classes : sequence of str or None
        The SOP Class UIDs of the resource's instances, in order.
    dims : int
        2 or 3.

    Returns
    -------
    int or None
    """
    if len(sop_classes) == 1:
        return 0
    if not sop_classes:
        return None
    if dims == 2:
        return 0
    srs = [i for i, c in enumerate(sop_classes) if terminology.is_sr_sop_class(c)]
    return srs[0] if len(srs) == 1 else None


def region_problem(dims: int, code: str, n_coordinates: int) -> str | None:
    """Why a Snapshot #1 region of ``code`` with ``n_coordinates`` numbers is wrong, or None.

    The message starts with the element path (``imageRegion.regionType`` or
    ``imageRegion.coordinates``). The codes and point counts come from the
    terminology table; ELLIPSOID has no 2d form and a 2d POLYGON needs 3 points.

    Parameters
    ----------
    dims : int
        2 or 3 (coordinateType ``2d`` / ``3d``).
    code : str
        The regionType.
    n_coordinates : int

    Returns
    -------
    str or None
    """
    row = terminology.snapshot1_region(dims, code)
    if row is None:
        allowed = sorted(
            c for c in terminology.snapshot1_codes() if terminology.snapshot1_region(dims, c)
        )
        return (
            f"imageRegion.regionType: {code!r} is not a {dims}d region type "
            f"(one of {', '.join(allowed)})"
        )
    why = row.fits(n_coordinates)
    if why is None and dims == 2 and code == "POLYGON" and n_coordinates < 6:
        why = f"{n_coordinates // 2} point(s) given, at least 3 needed for a polygon"
    if why:
        return f"imageRegion.coordinates: {why} (regionType {code}, coordinateType {dims}d)"
    return None
