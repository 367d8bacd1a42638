"""FHIR R5 ImagingSelection JSON -> the neutral model.

The reverse of :mod:`dicomsel.fhir.r5.write`. Tolerant where FHIR allows
several spellings (a sopClass as ``urn:oid:<uid>`` or as a bare UID, the
dicom-sr IG's form included) and strict where the model is: a bad UID, frame
or region is an :class:`~dicomsel.errors.InvalidInputError` naming the
element's path, e.g. ``ImagingSelection/x.instance[2].uid``. Reading inputs
(resources, Bundles, NDJSON) is :func:`dicomsel.fhir.bundle.read_fhir`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from dicomsel import terminology
from dicomsel.errors import InvalidInputError
from dicomsel.fhir.datatypes import read_codeable_concept, read_sop_class
from dicomsel.fhir.ids import target_id
from dicomsel.fhir.imaging_selection import read_head, read_shared_fields
from dicomsel.fhir.primitives import ElementPath, read_uid
from dicomsel.model import Instance, Provenance, Region2D, Region3D, Selection, Status
from dicomsel.uid import is_valid_uid

__all__ = ["from_imaging_selection"]


def _ints(values: Iterable[str], where: str, p: ElementPath) -> tuple[int, ...]:
    out = []
    for v in values:
        if not re.fullmatch(r"[0-9]+", str(v)):
            raise p.error(where, f"{v!r} is not a number")
        out.append(int(v))
    return tuple(out)


def _subset(
    inst: dict[str, Any], cls: str | None, where: str, p: ElementPath, warnings: list[str]
) -> dict[str, tuple[Any, ...]]:
    """R5's ``subset`` holds frames, segments, ROIs or observation UIDs, by SOP class."""
    items = [str(s) for s in inst.get("subset") or []]
    if not items:
        return {}
    if cls in terminology.SEG_SOP_CLASSES:
        return {"segments": _ints(items, where, p)}
    if cls in terminology.RTSTRUCT_SOP_CLASSES:
        return {"rois": _ints(items, where, p)}
    if terminology.is_sr_sop_class(cls):
        for i, u in enumerate(items):
            read_uid(u, f"{where}[{i}]", p)
        return {"observation_uids": tuple(items)}
    if cls is None:
        if all(re.fullmatch(r"[0-9]+", s) for s in items):
            warnings.append(f"{p.root}.{where}: no sopClass; numbers read as frame numbers")
            return {"frames": _ints(items, where, p)}
        if all(is_valid_uid(s) for s in items):
            warnings.append(f"{p.root}.{where}: no sopClass; UIDs read as observation UIDs")
            return {"observation_uids": tuple(items)}
    return {"frames": _ints(items, where, p)}


def _r5_type(dims: int, reg: dict[str, Any]) -> Any:
    """The model region type of an R5 ``regionType`` (terminology table); ValueError if none."""
    code = reg.get("regionType")
    for row in terminology.region_types():
        if row.dims == dims and row.r5 is not None and row.r5 == code:
            return row.type
    allowed = ", ".join(sorted(terminology.r5_codes(dims)))
    raise ValueError(f"regionType {code!r} is not an R5 {dims}D region type (one of {allowed})")


def from_imaging_selection(
    res: dict[str, Any],
    *,
    endpoints: dict[str, dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> Selection:
    """One R5 ImagingSelection (JSON dict) as a :class:`~dicomsel.model.Selection`.

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
    status = res.get("status") or "available"
    instances = []
    for i, inst in enumerate(res.get("instance") or []):
        w = f"instance[{i}]"
        uid = read_uid(inst.get("uid"), f"{w}.uid", p)
        cls = read_sop_class(inst.get("sopClass"), f"{w}.sopClass", p)
        number = inst.get("number")
        regions_2d = []
        for j, reg in enumerate(inst.get("imageRegion2D") or []):
            try:
                regions_2d.append(Region2D(_r5_type(2, reg), tuple(reg.get("coordinate") or ())))
            except (ValueError, TypeError) as e:
                raise p.error(f"{w}.imageRegion2D[{j}]", str(e)) from e
        regions_3d = []
        for j, reg in enumerate(inst.get("imageRegion3D") or []):
            for_uid = res.get("frameOfReferenceUid")
            if not for_uid:
                raise p.error(f"{w}.imageRegion3D[{j}]", "a 3D region needs frameOfReferenceUid")
            try:
                regions_3d.append(
                    Region3D(_r5_type(3, reg), tuple(reg.get("coordinate") or ()), for_uid)
                )
            except (ValueError, TypeError) as e:
                raise p.error(f"{w}.imageRegion3D[{j}]", str(e)) from e
        subset = _subset(inst, cls, f"{w}.subset", p, warn)
        try:
            instances.append(
                Instance(
                    uid=uid,
                    sop_class_uid=cls,
                    number=int(number) if number is not None else None,
                    regions_2d=tuple(regions_2d),
                    regions_3d=tuple(regions_3d),
                    **subset,
                )
            )
        except InvalidInputError as e:
            raise p.error(f"{w}.subset" if "Number" in (e.attribute or "") else w, e.reason) from e
    body = (res.get("bodySite") or {}).get("concept")
    return Selection(
        provenance=Provenance.FHIR,
        code=code,
        series_number=res.get("seriesNumber"),
        instances=tuple(instances),
        status=cast(Status, str(status)),  # the model checks it is a Status
        categories=tuple(
            c
            for c in (
                read_codeable_concept(cc, f"category[{i}]", p)
                for i, cc in enumerate(res.get("category") or [])
            )
            if c
        ),
        body_site=read_codeable_concept(body, "bodySite.concept", p) if body else None,
        focus=tuple(f"fhir|{target_id(f)}" for f in res.get("focus") or []),
        **read_shared_fields(res, rid, p, read_uid, endpoints, warn),
    )
