"""Model -> FHIR R5 Snapshot #1 ImagingSelection (``--fhir r5-snapshot1``).

The shape is the one of ../shared/spec/ImagingSelection-R5-snapshot1.txt,
exactly: UIDs typed ``oid`` (``urn:oid:<UID>``), ``instance.frameList`` /
``segmentList`` / ``roiList`` as comma-separated strings, the
``instance.observationUid`` list, one top-level ``imageRegion`` and
``bodySite`` a Coding. No ``status``, ``category``, ``focus``,
``seriesNumber`` nor ``instance.number``: what the model holds there is
reported as lost. Datatypes (Identifier, Reference, Coding, CodeableConcept,
Narrative) and Endpoint resources are R5's, written by the shared modules
(:mod:`dicomsel.fhir.datatypes`, :mod:`dicomsel.fhir.endpoint`) as R5 writes them.

A resource holds at most one region, and a 2D region's coordinates are in the
image of the instance it lies on, so a selection is split (docs/snapshot1.md):

* no region: one resource with every instance;
* one region that reads back onto the same instance (see
  :func:`anchor_on_read`): one resource with every instance and the region;
* otherwise one resource per region, holding the instance the region lies on
  (none for a selection-level 3D region), plus one resource with the instances
  that carry no region.

A selection whose series is unknown is written one resource per instance, so
that each resource keeps the spec's rule that all its instances lie in one
series. Resource ids are UUIDv5 of the source UID and the selection key, the
key suffixed with ``|region<n>`` / ``|instance<n>`` for split parts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from dicomsel import terminology
from dicomsel.fhir.base import Output
from dicomsel.fhir.datatypes import (
    code_to_codeable_concept,
    coding,
    identifier,
    performer,
    sop_class,
    study_reference,
)
from dicomsel.fhir.datatypes import reference as reference_json
from dicomsel.fhir.endpoint import endpoint_references
from dicomsel.fhir.ids import IdFactory, key_id, relative_reference
from dicomsel.fhir.imaging_selection import narrative
from dicomsel.fhir.primitives import instant, json_number
from dicomsel.fhir.snapshot1.rules import anchor_on_read, is_oid, number_list, oid
from dicomsel.fhir.text import clean_output
from dicomsel.model import Instance, Region2D, Region3D, Selection, Status

__all__ = ["NAME", "circle_as_ellipse", "to_imaging_selections", "write"]

NAME = "r5-snapshot1"

Region = Region2D | Region3D


def _oid_safe(sel: Selection, where: str, warnings: list[str]) -> Selection:
    """The selection without the UIDs Snapshot #1 cannot type ``oid``, each reported."""

    def bad(uid: str | None, what: str) -> bool:
        if uid is None or is_oid(uid):
            return False
        warnings.append(f"{where}: {what} {uid} is not an OID, so not an oid: left out")
        return True

    instances = []
    for inst in sel.instances:
        if bad(inst.uid, "SOP Instance UID"):
            continue
        obs = tuple(u for u in inst.observation_uids if not bad(u, "observation UID"))
        r3 = tuple(
            r
            for r in inst.regions_3d
            if not bad(r.frame_of_reference_uid, "frame of reference UID")
        )
        if obs != inst.observation_uids or r3 != inst.regions_3d:
            inst = dataclasses.replace(inst, observation_uids=obs, regions_3d=r3)
        instances.append(inst)
    return dataclasses.replace(
        sel,
        instances=tuple(instances),
        regions_3d=tuple(
            r for r in sel.regions_3d if not bad(r.frame_of_reference_uid, "frame of reference UID")
        ),
        study_instance_uid=(
            None if bad(sel.study_instance_uid, "Study Instance UID") else sel.study_instance_uid
        ),
        series_instance_uid=(
            None if bad(sel.series_instance_uid, "Series Instance UID") else sel.series_instance_uid
        ),
        frame_of_reference_uid=(
            None
            if bad(sel.frame_of_reference_uid, "Frame of Reference UID")
            else sel.frame_of_reference_uid
        ),
    )


def circle_as_ellipse(c: Sequence[float]) -> tuple[float, ...]:
    """A DICOM CIRCLE (centre, a point on it) as the same circle in ELLIPSE form.

    PS3.3 C.18.6.1.2: an ELLIPSE is the two end points of its major axis, then
    those of its minor axis. Both axes go through the centre: the given point
    and its mirror, then the two points a quarter turn away. No square root, so
    nothing is approximated.

    Parameters
    ----------
    c : sequence of float
        Centre x, y, then a point on the circle.

    Returns
    -------
    tuple of float
        The eight ELLIPSE coordinates.
    """
    cx, cy, px, py = c
    dx, dy = px - cx, py - cy
    return (px, py, cx - dx, cy - dy, cx - dy, cy + dx, cx + dy, cy - dx)


def _region(region: Region, where: str, warnings: list[str]) -> dict[str, Any]:
    dims = 3 if isinstance(region, Region3D) else 2
    row = terminology.region_type(dims, str(region.region_type))
    coords: Sequence[float] = region.coordinates
    if dims == 2 and region.region_type == "circle":
        coords = circle_as_ellipse(coords)
        warnings.append(
            f"{where}: Snapshot #1 has no CIRCLE: written as the same circle in ELLIPSE form "
            "(reads back as an ellipse)"
        )
    elif row.snapshot1_note and row.snapshot1 != row.type.upper():
        warnings.append(
            f"{where}: Snapshot #1 has no {row.type.upper()}: written as {row.snapshot1} "
            f"({row.snapshot1_note})"
        )
    return {
        "regionType": row.snapshot1,
        "coordinateType": f"{dims}d",
        "coordinates": [json_number(float(x)) for x in coords],
    }


def _instance(inst: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": oid(inst.uid)}
    if inst.sop_class_uid:
        out["sopClass"] = sop_class(inst.sop_class_uid)
    if inst.frames:
        out["frameList"] = number_list(inst.frames)
    if inst.observation_uids:
        out["observationUid"] = [oid(u) for u in inst.observation_uids]
    if inst.segments:
        out["segmentList"] = number_list(inst.segments)
    if inst.rois:
        out["roiList"] = number_list(inst.rois)
    return out


def _plain(inst: Instance) -> Instance:
    if not inst.regions_2d and not inst.regions_3d:
        return inst
    return Instance(
        uid=inst.uid,
        sop_class_uid=inst.sop_class_uid,
        number=inst.number,
        frames=inst.frames,
        segments=inst.segments,
        rois=inst.rois,
        observation_uids=inst.observation_uids,
    )


# a part of a selection: (key suffix or None, instances, region or None)
_Part = tuple[str | None, list[Instance], Region | None]


def _parts(sel: Selection, where: str, warnings: list[str]) -> list[_Part]:
    plain = [_plain(i) for i in sel.instances]
    regions: list[tuple[int | None, Region]] = []
    for n, inst in enumerate(sel.instances):
        regions += [(n, r) for r in inst.regions_2d]
        regions += [(n, r) for r in inst.regions_3d]
    regions += [(None, r) for r in sel.regions_3d]
    one_series = sel.series_instance_uid is not None or len(plain) <= 1
    if one_series and not regions:
        return [(None, plain, None)]
    if one_series and len(regions) == 1:
        anchor, region = regions[0]
        dims = 3 if isinstance(region, Region3D) else 2
        if anchor is None or anchor_on_read([i.sop_class_uid for i in plain], dims) == anchor:
            return [(None, plain, region)]
    anchors = {a for a, _ in regions if a is not None}
    rest = [(n, inst) for n, inst in enumerate(plain) if n not in anchors]
    parts: list[_Part] = []
    if one_series:
        if rest:
            parts.append((None, [inst for _, inst in rest], None))
    else:
        parts += [(f"instance{n}", [inst], None) for n, inst in rest]
    for k, (anchor, region) in enumerate(regions):
        parts.append((f"region{k}", [plain[anchor]] if anchor is not None else [], region))
    why = []
    if len(regions) > 1:
        why.append(f"{len(regions)} regions, one imageRegion per resource")
    elif regions:
        why.append("its region lies on one of several instances")
    if not one_series:
        why.append("series unknown, one series per resource")
    warnings.append(f"{where}: written as {len(parts)} Snapshot #1 resources ({'; '.join(why)})")
    return parts


def _lost(sel: Selection, where: str, warnings: list[str]) -> None:
    """Report what the model holds and Snapshot #1 has no element for."""
    if sel.status is not Status.AVAILABLE:
        warnings.append(f"{where}: Snapshot #1 has no status: {str(sel.status)!r} left out")
    if sel.categories:
        names = [c.meaning or c.text or c.value for c in sel.categories]
        warnings.append(f"{where}: Snapshot #1 has no category: {names} left out")
    if sel.focus:
        warnings.append(
            f"{where}: Snapshot #1 has no focus: {len(sel.focus)} related selection(s) left out"
        )
    if sel.series_number is not None:
        warnings.append(f"{where}: Snapshot #1 has no seriesNumber: {sel.series_number} left out")
    numbered = sum(1 for i in sel.instances if i.number is not None)
    if numbered:
        warnings.append(
            f"{where}: Snapshot #1 has no instance.number: the numbers of {numbered} "
            "instance(s) left out"
        )
    site = sel.body_site
    if site is not None:
        if not site.value:
            warnings.append(
                f"{where}: bodySite is a Coding in Snapshot #1 and {site.text!r} has no code: "
                "left out"
            )
        elif site.text and site.text != site.meaning:
            warnings.append(
                f"{where}: bodySite is a Coding in Snapshot #1: its text {site.text!r} left out"
            )


def to_imaging_selections(
    sel: Selection, out: Output, reference: IdFactory = relative_reference
) -> list[dict[str, Any]]:
    """Write one selection as one or more Snapshot #1 ImagingSelections.

    Endpoints go to ``out.shared``; ``out.refs[sel.key]`` gets the literal
    reference of every resource written; what cannot be carried goes to
    ``out.warnings``.

    Parameters
    ----------
    sel : dicomsel.model.Selection
    out : Output
    reference : callable
        ``(resource_type, id) -> str``: how literal references are written.

    Returns
    -------
    list of dict
        The resources written (also appended to ``out.resources``).
    """
    warnings = out.warnings
    where = f"selection {sel.key} (series {sel.series_instance_uid})"
    _lost(sel, where, warnings)
    study_uid = sel.study_instance_uid
    sel = _oid_safe(sel, where, warnings)
    head: dict[str, Any] = {}
    if sel.description:
        head["text"] = narrative(sel.description)
    contained: list[dict[str, Any]] = []
    performers = [performer(p, warnings, contained) for p in sel.performers]
    if contained:  # Practitioners of persons known by a DICOM PN (DomainResource.contained)
        head["contained"] = contained
    if sel.identifiers:
        head["identifier"] = [identifier(i) for i in sel.identifiers]
    if sel.based_on:
        head["basedOn"] = [reference_json(r) for r in sel.based_on]
    if sel.subject is not None:
        head["subject"] = reference_json(sel.subject)
    if sel.issued:
        head["issued"] = instant(sel.issued)
    if performers:
        head["performer"] = performers
    head["code"] = code_to_codeable_concept(sel.code, warnings)
    if sel.study_instance_uid:
        head["studyUid"] = oid(sel.study_instance_uid)
    if study_uid:  # an Identifier's value is a string: any UID goes
        head["derivedFrom"] = [study_reference(study_uid)]
    if sel.endpoints:
        head["endpoint"] = endpoint_references(sel.endpoints, out, reference)
    if sel.series_instance_uid:
        head["seriesUid"] = oid(sel.series_instance_uid)
    body = coding(sel.body_site, warnings) if sel.body_site is not None else None

    written = []
    for suffix, instances, region in _parts(sel, where, warnings):
        key = sel.key if suffix is None else f"{sel.key}|{suffix}"
        rid = key_id(sel.source_uid, key)
        res: dict[str, Any] = {"resourceType": "ImagingSelection", "id": rid}
        res.update(head)
        for_uid = sel.frame_of_reference_uid
        if isinstance(region, Region3D):
            if for_uid and for_uid != region.frame_of_reference_uid:
                warnings.append(
                    f"ImagingSelection/{rid}: the 3D region's frame of reference "
                    f"{region.frame_of_reference_uid} is written, not the selection's {for_uid}"
                )
            for_uid = region.frame_of_reference_uid
        if for_uid:
            res["frameOfReferenceUid"] = oid(for_uid)
        if body:
            res["bodySite"] = body
        if instances:
            res["instance"] = [_instance(i) for i in instances]
        if region is not None:
            res["imageRegion"] = _region(region, f"ImagingSelection/{rid}", warnings)
        out.resources.append(res)
        out.refs.setdefault(sel.key, []).append(relative_reference("ImagingSelection", rid))
        written.append(res)
    return written


def write(selections: Sequence[Selection]) -> Output:
    """Write selections as Snapshot #1 ImagingSelections (+ the R5 Endpoints they reference).

    Parameters
    ----------
    selections : sequence of dicomsel.model.Selection

    Returns
    -------
    Output
    """
    out = Output()
    for sel in selections:
        to_imaging_selections(sel, out)
    return clean_output(out)
