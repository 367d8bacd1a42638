"""FHIR R5 Snapshot #1 ImagingSelection JSON -> the neutral model.

The reverse of :mod:`dicomsel.fhir.snapshot1.write`; :func:`dicomsel.fhir.bundle.read_fhir`
calls it for resources of this shape (a resource, a Bundle or NDJSON). Strict
where the spec is: a UID that is not an ``oid``, a frame list that is not
comma-separated non-duplicate numbers, coordinates that do not fit their
coordinateType or regionType, an unknown regionType: each an
:class:`~dicomsel.errors.InvalidInputError` naming the element's path, e.g.
``ImagingSelection/x.instance[2].frameList``. Tolerant where it can be: spaces
around list items, R5-only elements (reported and left out).

The top-level ``imageRegion`` is put back on an instance as
:func:`dicomsel.fhir.snapshot1.rules.anchor_on_read` says (the writer splits
selections so that this finds the instance each region came from).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from dicomsel import terminology
from dicomsel.errors import InvalidInputError
from dicomsel.fhir.datatypes import read_coding, read_sop_class
from dicomsel.fhir.imaging_selection import read_head, read_shared_fields
from dicomsel.fhir.primitives import ElementPath
from dicomsel.fhir.snapshot1.rules import OID_PATTERN, anchor_on_read, region_problem
from dicomsel.model import (
    Instance,
    Provenance,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
    Selection,
)
from dicomsel.uid import is_valid_uid

__all__ = ["R5_ONLY", "from_imaging_selection"]

#: R5 5.0.0 elements Snapshot #1 does not have (top level, and under instance)
R5_ONLY = ("status", "category", "seriesNumber", "focus")
R5_ONLY_INSTANCE = ("number", "subset", "imageRegion2D", "imageRegion3D")


def _oid(value: Any, where: str, p: ElementPath) -> str:
    """The UID of an ``oid`` value; an error naming ``where`` otherwise."""
    if isinstance(value, str) and OID_PATTERN.fullmatch(value):
        uid = value[len("urn:oid:") :]
        if is_valid_uid(uid):
            return uid
        raise p.error(where, f"{value!r}: {uid!r} is not a valid DICOM UID (PS3.5 9.1)")
    if isinstance(value, str) and is_valid_uid(value):
        raise p.error(
            where,
            f"{value!r} is a bare UID: Snapshot #1 types UIDs as oid, i.e. 'urn:oid:{value}'",
        )
    raise p.error(where, f"{value!r} is not an oid (urn:oid: followed by a DICOM UID)")


def _numbers(value: Any, where: str, p: ElementPath, *, what: str, zero: bool) -> tuple[int, ...]:
    """``"1,3,5"`` -> (1, 3, 5): one or more non-duplicate numbers (spec lines 70-73)."""
    if not isinstance(value, str) or not value.strip():
        raise p.error(where, f"{value!r} is not a comma-separated list of {what} numbers")
    out: list[int] = []
    for item in value.split(","):
        item = item.strip()
        if not re.fullmatch(r"[0-9]+", item):
            raise p.error(where, f"{value!r}: {item!r} is not a {what} number")
        n = int(item)
        if n == 0 and not zero:
            raise p.error(where, f"{value!r}: {what} numbers start at 1, not 0")
        if n in out:
            raise p.error(where, f"{value!r}: {what} number {n} is listed twice (non duplicate)")
        out.append(n)
    return tuple(sorted(out))


def _region(
    res: dict[str, Any], p: ElementPath, warnings: list[str]
) -> tuple[int, Region2D | Region3D] | None:
    reg = res.get("imageRegion")
    if reg is None:
        return None
    if not isinstance(reg, dict):
        raise p.error("imageRegion", "is not an object (0..1 BackboneElement)")
    ctype = reg.get("coordinateType")
    dims = terminology.snapshot1_coordinate_types().get(ctype) if isinstance(ctype, str) else None
    if dims is None:
        raise p.error("imageRegion.coordinateType", f"{ctype!r} is not one of 2d, 3d")
    code = reg.get("regionType")
    if not isinstance(code, str) or code not in terminology.snapshot1_codes():
        raise p.error(
            "imageRegion.regionType",
            f"{code!r} is not a region type "
            f"(one of {', '.join(sorted(terminology.snapshot1_codes()))})",
        )
    coords = reg.get("coordinates")
    if (
        not isinstance(coords, list)
        or not coords
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
    ):
        raise p.error("imageRegion.coordinates", "needs one or more numbers (1..* decimal)")
    why = region_problem(dims, code, len(coords))
    if why:
        element, _, reason = why.partition(": ")
        raise p.error(element, reason)
    row = terminology.snapshot1_region(dims, code)
    assert row is not None  # region_problem checked it
    values = tuple(float(c) for c in coords)
    if dims == 2 and row.type != code.lower():  # a 2d POLYGON: a closed polyline
        if values[:2] != values[-2:]:
            values += values[:2]
        warnings.append(f"{p.root}.imageRegion: a 2d POLYGON is read as a closed POLYLINE")
    try:
        if dims == 2:
            return 2, Region2D(RegionType2D(row.type), values)
        for_uid = res.get("frameOfReferenceUid")
        if not for_uid:
            raise p.error(
                "frameOfReferenceUid",
                "missing: 3d coordinates are in the frame of reference it names",
            )
        for_uid = _oid(for_uid, "frameOfReferenceUid", p)
        return 3, Region3D(RegionType3D(row.type), values, for_uid)
    except InvalidInputError as e:
        if e.attribute and e.attribute.startswith(p.root):
            raise
        raise p.error("imageRegion.coordinates", e.reason) from e


def from_imaging_selection(
    res: dict[str, Any],
    *,
    endpoints: dict[str, dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> Selection:
    """One Snapshot #1 ImagingSelection (JSON dict) as a :class:`~dicomsel.model.Selection`.

    Parameters
    ----------
    res : dict
        The resource.
    endpoints : dict, optional
        Endpoint resources of the same input by id, to resolve ``endpoint`` references.
    warnings : list of str, optional
        Receives what was read tolerantly or left out.

    Returns
    -------
    dicomsel.model.Selection

    Raises
    ------
    dicomsel.errors.InvalidInputError
        Naming the element's path.
    """
    warn = warnings if warnings is not None else []
    rid, p, code = read_head(res, warn)
    for name in R5_ONLY:
        if name in res:
            warn.append(f"{p.root}.{name}: not a Snapshot #1 element (R5 only): left out")
    raw_instances = res.get("instance") or []
    if not isinstance(raw_instances, list):
        raise p.error("instance", "is not a list (0..*)")
    instances: list[Instance] = []
    seen: set[str] = set()
    for i, inst in enumerate(raw_instances):
        w = f"instance[{i}]"
        if not isinstance(inst, dict):
            raise p.error(w, "is not an object")
        for name in R5_ONLY_INSTANCE:
            if name in inst:
                warn.append(f"{p.root}.{w}.{name}: not a Snapshot #1 element (R5 only): left out")
        if "uid" not in inst:
            raise p.error(f"{w}.uid", "missing (1..1)")
        uid = _oid(inst.get("uid"), f"{w}.uid", p)
        obs = inst.get("observationUid") or []
        if not isinstance(obs, list):
            raise p.error(f"{w}.observationUid", "is not a list (0..* oid)")
        parts: dict[str, Any] = {
            "observation_uids": tuple(
                _oid(u, f"{w}.observationUid[{j}]", p) for j, u in enumerate(obs)
            )
        }
        for element, field, what, zero in (
            ("frameList", "frames", "frame", False),
            ("segmentList", "segments", "segment", True),
            ("roiList", "rois", "ROI", False),
        ):
            if element in inst:
                parts[field] = _numbers(inst[element], f"{w}.{element}", p, what=what, zero=zero)
        if len(set(parts["observation_uids"])) != len(parts["observation_uids"]):
            raise p.error(f"{w}.observationUid", "an observation UID is listed twice")
        if uid in seen:
            raise p.error(f"{w}.uid", f"{uid} is listed twice")
        seen.add(uid)
        instances.append(
            Instance(
                uid=uid,
                sop_class_uid=read_sop_class(inst.get("sopClass"), f"{w}.sopClass", p),
                **parts,
            )
        )
    regions_3d: tuple[Region3D, ...] = ()
    found = _region(res, p, warn)
    if found is not None:
        dims, region = found
        anchor = anchor_on_read([x.sop_class_uid for x in instances], dims)
        if dims == 2 and not instances:
            raise p.error(
                "imageRegion",
                "a 2d region lies on an image, and the resource selects no instance",
            )
        if dims == 2 and len(instances) > 1:
            warn.append(
                f"{p.root}.imageRegion: a 2d region with {len(instances)} instances: read as "
                "lying on instance[0]"
            )
        if anchor is None:
            assert isinstance(region, Region3D)
            regions_3d = (region,)
        else:
            inst = instances[anchor]
            if isinstance(region, Region3D):
                instances[anchor] = dataclasses.replace(inst, regions_3d=(region,))
            else:
                instances[anchor] = dataclasses.replace(inst, regions_2d=(region,))
    body = res.get("bodySite")
    if body is not None and not isinstance(body, dict):
        raise p.error("bodySite", "is not a Coding")
    if isinstance(body, dict) and "concept" in body:
        raise p.error("bodySite", "is an R5 CodeableReference; Snapshot #1 takes a Coding")
    return Selection(
        provenance=Provenance.FHIR,
        code=code,
        instances=tuple(instances),
        body_site=read_coding(body, "bodySite", p) if body else None,
        regions_3d=regions_3d,
        **read_shared_fields(res, rid, p, _oid, endpoints, warn),
    )
