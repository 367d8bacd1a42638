"""Model -> FHIR R5 5.0.0 ImagingSelection (and the Endpoints it references).

Resources are built as plain JSON-ready dicts in FHIR's element order
(validated by :mod:`dicomsel.fhir.r5.validate`). Output is a pure function
of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomsel import terminology
from dicomsel.fhir.base import Output
from dicomsel.fhir.datatypes import (
    code_to_codeable_concept,
    identifier,
    performer,
    sop_class,
    study_reference,
)
from dicomsel.fhir.datatypes import reference as reference_json
from dicomsel.fhir.endpoint import endpoint_references
from dicomsel.fhir.ids import IdFactory, key_id, relative_reference, selection_id
from dicomsel.fhir.imaging_selection import narrative
from dicomsel.fhir.primitives import instant, json_number
from dicomsel.fhir.text import clean_output
from dicomsel.model import Instance, Selection

__all__ = ["NAME", "to_imaging_selection", "write"]

NAME = "r5"


def _subset(inst: Instance, where: str, warnings: list[str]) -> list[str]:
    """R5 has one ``subset`` list whose meaning follows the SOP class: pick, and report the rest."""
    kinds: list[tuple[str, tuple[Any, ...]]] = [
        ("frames", inst.frames),
        ("segments", inst.segments),
        ("ROIs", inst.rois),
        ("observation UIDs", inst.observation_uids),
    ]
    present = [(name, vals) for name, vals in kinds if vals]
    if not present:
        return []
    if len(present) == 1:
        chosen = present[0][0]
    else:
        cls = inst.sop_class_uid or ""
        if cls in terminology.SEG_SOP_CLASSES and inst.segments:
            chosen = "segments"
        elif cls in terminology.RTSTRUCT_SOP_CLASSES and inst.rois:
            chosen = "ROIs"
        elif terminology.is_sr_sop_class(cls) and inst.observation_uids:
            chosen = "observation UIDs"
        else:
            chosen = present[0][0]
        for name, vals in present:
            if name != chosen:
                warnings.append(
                    f"{where}: R5 instance.subset holds one kind of item; "
                    f"{name} {list(vals)} left out, {chosen} kept"
                )
    return [str(v) for name, vals in present if name == chosen for v in vals]


def _instance(inst: Instance, where: str, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": inst.uid}
    if inst.number is not None:
        out["number"] = inst.number
    if inst.sop_class_uid:
        out["sopClass"] = sop_class(inst.sop_class_uid)
    subset = _subset(inst, where, warnings)
    if subset:
        out["subset"] = subset
    regions2d = []
    for r in inst.regions_2d:
        code = terminology.region_type(2, r.region_type).r5
        if code is None:  # multipoint
            warnings.append(
                f"{where}: R5 has no 2D multipoint; "
                f"written as {len(r.coordinates) // 2} point regions"
            )
            for i in range(0, len(r.coordinates), 2):
                regions2d.append(
                    {
                        "regionType": "point",
                        "coordinate": [json_number(c) for c in r.coordinates[i : i + 2]],
                    }
                )
            continue
        regions2d.append(
            {"regionType": code, "coordinate": [json_number(c) for c in r.coordinates]}
        )
    if regions2d:
        out["imageRegion2D"] = regions2d
    regions3d = [
        {
            "regionType": terminology.region_type(3, r.region_type).r5,
            "coordinate": [json_number(c) for c in r.coordinates],
        }
        for r in inst.regions_3d
    ]
    if regions3d:
        out["imageRegion3D"] = regions3d
    return out


def to_imaging_selection(
    sel: Selection,
    out: Output,
    reference: IdFactory = relative_reference,
) -> dict[str, Any]:
    """Write one selection as an R5 ImagingSelection; its endpoints go to ``out.shared``.

    Parameters
    ----------
    sel : dicomsel.model.Selection
    out : Output
        Collects the resource, the endpoints (shared, by id) and warnings.
    reference : callable
        ``(resource_type, id) -> str``: how literal references are written
        (``Type/id`` by default, ``urn:uuid:<id>`` inside a collection Bundle).

    Returns
    -------
    dict
        The resource (also appended to ``out.resources``).
    """
    rid = selection_id(sel)
    where = f"ImagingSelection/{rid} (series {sel.series_instance_uid})"
    warnings = out.warnings
    res: dict[str, Any] = {"resourceType": "ImagingSelection", "id": rid}
    if sel.description:
        res["text"] = narrative(sel.description)
    contained: list[dict[str, Any]] = []
    performers = [performer(p, warnings, contained) for p in sel.performers]
    if contained:  # Practitioners of persons known by a DICOM PN
        res["contained"] = contained
    if sel.identifiers:
        res["identifier"] = [identifier(i) for i in sel.identifiers]
    res["status"] = str(sel.status)
    if sel.subject is not None:
        res["subject"] = reference_json(sel.subject)
    if sel.issued:
        res["issued"] = instant(sel.issued)
    if performers:
        res["performer"] = performers
    if sel.based_on:
        res["basedOn"] = [reference_json(r) for r in sel.based_on]
    if sel.categories:
        res["category"] = [code_to_codeable_concept(c, warnings) for c in sel.categories]
    res["code"] = code_to_codeable_concept(sel.code, warnings)
    if sel.study_instance_uid:
        res["studyUid"] = sel.study_instance_uid
        res["derivedFrom"] = [study_reference(sel.study_instance_uid)]
    if sel.endpoints:
        res["endpoint"] = endpoint_references(sel.endpoints, out, reference)
    if sel.series_instance_uid:
        res["seriesUid"] = sel.series_instance_uid
    if sel.series_number is not None:
        res["seriesNumber"] = sel.series_number
    if sel.frame_of_reference_uid:
        res["frameOfReferenceUid"] = sel.frame_of_reference_uid
    if sel.body_site is not None:
        res["bodySite"] = {"concept": code_to_codeable_concept(sel.body_site, warnings)}
    if sel.focus:
        res["focus"] = [
            {"reference": reference("ImagingSelection", key_id(sel.source_uid, f))}
            for f in sel.focus
        ]
    instances = [_instance(i, where, warnings) for i in sel.instances]
    if sel.regions_3d:
        warnings.append(
            f"{where}: R5 carries 3D regions under an instance only; "
            f"{len(sel.regions_3d)} selection-level 3D region(s) left out"
        )
    if instances:
        res["instance"] = instances
    out.resources.append(res)
    out.refs.setdefault(sel.key, []).append(relative_reference("ImagingSelection", rid))
    return res


def write(selections: Sequence[Selection]) -> Output:
    """Write selections as R5 ImagingSelections (+ the Endpoints they reference).

    Parameters
    ----------
    selections : sequence of dicomsel.model.Selection

    Returns
    -------
    Output
    """
    out = Output()
    for sel in selections:
        to_imaging_selection(sel, out)
    return clean_output(out)
