"""Model -> FHIR R5 5.0.0 ImagingSelection (and the Endpoints it references).

Resources are built as plain JSON-ready dicts in FHIR's element order, then
validated with fhir.resources plus the checks it skips (required code
bindings, the 64-character id limit). Output is a pure function of the model.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError
from dicomsel.fhir.base import Output
from dicomsel.model import Code, Endpoint, Identifier, Instance, Reference, Selection

__all__ = [
    "NAME",
    "IdFactory",
    "code_to_codeable_concept",
    "endpoint_id",
    "selection_id",
    "to_imaging_selection",
    "validate",
    "validate_r5",
    "write",
]

NAME = "r5"

#: Namespace of the UUIDv5 resource ids: the same source UIDs always give the same ids.
ID_NAMESPACE = uuid.UUID("5b0d0a44-6f1e-5c2a-9a53-6469636f6d73")


STATUS_CODES = frozenset({"available", "entered-in-error", "unknown"})
#: R5's required region type codes, from the terminology table (data/region_types.json)
REGION_2D_CODES = terminology.r5_codes(2)
REGION_3D_CODES = terminology.r5_codes(3)

_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_ENDPOINT_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
_THO_CONNECTION_TYPES = frozenset({"dicom-wado-rs", "dicom-wado-uri", "dicom-qido-rs"})


def selection_id(sel: Selection) -> str:
    """The resource id of a selection: UUIDv5 of its source UID and key."""
    return key_id(sel.source_uid, sel.key)


def key_id(source_uid: str, key: str) -> str:
    """The resource id of the selection ``key`` read from the object ``source_uid``."""
    return str(uuid.uuid5(ID_NAMESPACE, f"ImagingSelection|{source_uid}|{key}"))


def endpoint_id(ep: Endpoint) -> str:
    """The resource id of an endpoint: UUIDv5 of what it is."""
    return str(
        uuid.uuid5(ID_NAMESPACE, f"Endpoint|{ep.kind}|{ep.address}|{ep.ae_title}|{ep.location_uid}")
    )


IdFactory = Callable[[str, str], str]


def relative_reference(resource_type: str, rid: str) -> str:
    """``Type/id``: a literal reference relative to the server base."""
    return f"{resource_type}/{rid}"


def coding(code: Code, warnings: list[str] | None = None) -> dict[str, Any] | None:
    """A FHIR Coding of a model code, or None when it has no value."""
    if not code.value:
        return None
    out: dict[str, Any] = {}
    system = code.system or (terminology.system_for_scheme(code.scheme) if code.scheme else None)
    if system is None and code.scheme and warnings is not None:
        warnings.append(
            f"coding scheme designator {code.scheme!r} has no known FHIR system: "
            f"code {code.value!r} written without system"
        )
    if system:
        out["system"] = system
    if code.scheme_version:
        out["version"] = code.scheme_version
    out["code"] = code.value
    if code.meaning:
        out["display"] = code.meaning
    return out


def code_to_codeable_concept(code: Code, warnings: list[str] | None = None) -> dict[str, Any]:
    """A FHIR CodeableConcept of a model code."""
    out: dict[str, Any] = {}
    c = coding(code, warnings)
    if c is not None:
        out["coding"] = [c]
    if code.text:
        out["text"] = code.text
    return out


def _identifier(ident: Identifier) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ident.type_code:
        out["type"] = {"coding": [{"system": _V2_0203, "code": ident.type_code}]}
    if ident.system:
        out["system"] = ident.system
    out["value"] = ident.value
    if ident.assigner:
        out["assigner"] = {"display": ident.assigner}
    return out


def _reference(ref: Reference) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ref.resource_type}
    if ref.identifier is not None:
        out["identifier"] = _identifier(ref.identifier)
    if ref.display:
        out["display"] = ref.display
    return out


def _sop_class(uid: str) -> dict[str, Any]:
    out: dict[str, Any] = {"system": terminology.SOP_CLASS_SYSTEM, "code": f"urn:oid:{uid}"}
    name = terminology.sop_class_name(uid)
    if name:
        out["display"] = name
    return out


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


def _decimal(x: float) -> float | int:
    """A coordinate as JSON: integral values as integers, others as the shortest float repr."""
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def _instance(inst: Instance, where: str, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": inst.uid}
    if inst.number is not None:
        out["number"] = inst.number
    if inst.sop_class_uid:
        out["sopClass"] = _sop_class(inst.sop_class_uid)
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
                        "coordinate": [_decimal(c) for c in r.coordinates[i : i + 2]],
                    }
                )
            continue
        regions2d.append({"regionType": code, "coordinate": [_decimal(c) for c in r.coordinates]})
    if regions2d:
        out["imageRegion2D"] = regions2d
    regions3d = [
        {
            "regionType": terminology.region_type(3, r.region_type).r5,
            "coordinate": [_decimal(c) for c in r.coordinates],
        }
        for r in inst.regions_3d
    ]
    if regions3d:
        out["imageRegion3D"] = regions3d
    return out


def endpoint_resource(ep: Endpoint) -> dict[str, Any]:
    """An R5 Endpoint for a retrieve location.

    A DICOMweb or WADO-URI address is carried as such, with its HL7 connection
    type. A bare AE title has no network address in the KOS and HL7 has no DIMSE
    connection type: it is written as ``name``, the connection type as text and
    the address ``urn:dicom:ae:<AE title>`` (docs/design.md); a Retrieve
    Location UID becomes an identifier.
    """
    out: dict[str, Any] = {"resourceType": "Endpoint", "id": endpoint_id(ep)}
    if ep.location_uid:
        out["identifier"] = [_identifier(Identifier.dicom_uid(ep.location_uid))]
    out["status"] = "active"
    if ep.kind in _THO_CONNECTION_TYPES:
        out["connectionType"] = [{"coding": [{"system": _ENDPOINT_TYPES, "code": ep.kind}]}]
    else:
        # HL7's endpoint-connection-type has no DIMSE code (binding strength: example)
        out["connectionType"] = [{"text": "DICOM DIMSE (C-MOVE / C-GET)"}]
    if ep.ae_title:
        out["name"] = ep.ae_title
    out["payload"] = [{"mimeType": ["application/dicom"]}]
    if ep.address:
        out["address"] = ep.address
    elif ep.ae_title:
        out["address"] = f"urn:dicom:ae:{ep.ae_title}"
    else:
        out["address"] = f"urn:oid:{ep.location_uid}"
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
    """
    rid = selection_id(sel)
    where = f"ImagingSelection/{rid} (series {sel.series_instance_uid})"
    warnings = out.warnings
    res: dict[str, Any] = {"resourceType": "ImagingSelection", "id": rid}
    if sel.description:
        res["text"] = {
            "status": "additional",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
            + html.escape(sel.description, quote=False).replace("\n", "<br/>")
            + "</p></div>",
        }
    if sel.identifiers:
        res["identifier"] = [_identifier(i) for i in sel.identifiers]
    res["status"] = sel.status
    if sel.subject is not None:
        res["subject"] = _reference(sel.subject)
    if sel.issued:
        res["issued"] = sel.issued
    if sel.performers:
        perfs = []
        for p in sel.performers:
            perf: dict[str, Any] = {}
            if p.function is not None:
                perf["function"] = code_to_codeable_concept(p.function, warnings)
            perf["actor"] = _reference(p.actor)
            perfs.append(perf)
        res["performer"] = perfs
    if sel.based_on:
        res["basedOn"] = [_reference(r) for r in sel.based_on]
    if sel.categories:
        res["category"] = [code_to_codeable_concept(c, warnings) for c in sel.categories]
    res["code"] = code_to_codeable_concept(sel.code, warnings)
    if sel.study_instance_uid:
        res["studyUid"] = sel.study_instance_uid
        res["derivedFrom"] = [
            _reference(
                Reference("ImagingStudy", identifier=Identifier.dicom_uid(sel.study_instance_uid))
            )
        ]
    if sel.endpoints:
        refs = []
        for ep in sel.endpoints:
            epr = endpoint_resource(ep)
            out.shared.setdefault(epr["id"], epr)
            refs.append({"reference": reference("Endpoint", epr["id"])})
        res["endpoint"] = refs
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
    """Write selections as R5 ImagingSelections (+ the Endpoints they reference)."""
    out = Output()
    for sel in selections:
        to_imaging_selection(sel, out)
    return out


def validate_r5(resource: dict[str, Any]) -> None:
    """Validate one R5 resource with fhir.resources plus the checks it skips.

    Raises
    ------
    dicomsel.errors.ValidationError
        Naming the resource and what is wrong.
    """
    from fhir.resources import get_fhir_model_class
    from pydantic import ValidationError as PydanticError

    rtype = resource.get("resourceType", "?")
    rid = resource.get("id", "?")
    problems: list[str] = []
    rid_str = str(rid)
    if not (1 <= len(rid_str) <= 64) or not all(c.isalnum() or c in "-." for c in rid_str):
        problems.append(f"id {rid_str!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
    if rtype == "ImagingSelection":
        if resource.get("status") not in STATUS_CODES:
            problems.append(f"status {resource.get('status')!r} not in {sorted(STATUS_CODES)}")
        for i, inst in enumerate(resource.get("instance", ())):
            for j, reg in enumerate(inst.get("imageRegion2D", ())):
                if reg.get("regionType") not in REGION_2D_CODES:
                    problems.append(
                        f"instance[{i}].imageRegion2D[{j}].regionType "
                        f"{reg.get('regionType')!r} is not a 2D graphic type"
                    )
            for j, reg in enumerate(inst.get("imageRegion3D", ())):
                if reg.get("regionType") not in REGION_3D_CODES:
                    problems.append(
                        f"instance[{i}].imageRegion3D[{j}].regionType "
                        f"{reg.get('regionType')!r} is not a 3D graphic type"
                    )
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except PydanticError as e:
        problems.extend(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
    except KeyError:
        problems.append(f"unknown resourceType {rtype!r}")
    if problems:
        raise ValidationError(f"{rtype}/{rid} is not valid R5: " + "; ".join(problems))


#: The flavour interface's name for :func:`validate_r5`.
validate = validate_r5
