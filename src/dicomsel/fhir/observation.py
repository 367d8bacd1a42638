"""Model -> FHIR R5 5.0.0 Observation, for the measurements and evaluations an SR holds.

Flavour-independent: an observation names the selections it derives from by
key, and the flavour writer's :attr:`dicomsel.fhir.base.Output.refs` turns
each key into the literal references of the resources written for it (one
ImagingSelection in R5, several where a flavour splits a selection).

The shape follows the HL7 "DICOM SR to FHIR Resource Mapping" IG
(hl7.fhir.uv.dicom-sr): a measurement group is an Observation with
``hasMember`` its measurements and qualitative evaluations; docs/sr.md lists
where dicomsel differs. Resources are plain JSON-ready dicts in FHIR element
order; ids are UUIDv5 of the source UID and the record's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dicomsel import terminology
from dicomsel.errors import ValidationError
from dicomsel.fhir.base import Output
from dicomsel.fhir.datatypes import code_to_codeable_concept, coding, typed_uid_identifier
from dicomsel.fhir.datatypes import reference as reference_json
from dicomsel.fhir.ids import IdFactory, observation_id, relative_reference
from dicomsel.fhir.primitives import instant, json_number
from dicomsel.fhir.r5.validate import validate_r5
from dicomsel.fhir.text import clean_output
from dicomsel.model import Code, ObservationKind, ObservationRecord

__all__ = [
    "STATUS_CODES",
    "observation_id",
    "observation_status",
    "to_observation",
    "validate",
    "write",
]

#: Observation.status (required binding, observation-status).
STATUS_CODES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)

_DCM = terminology.DCM
_UCUM = "http://unitsofmeasure.org"
_DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
#: The IG's identifier type code system (dicom-identifier-type#observation-uid).
_DICOM_ID_TYPE = "http://hl7.org/fhir/uv/dicom-sr/CodeSystem/dicom-identifier-type"

_MEASUREMENT_GROUP = Code(value="125007", scheme="DCM", meaning="Measurement Group")
_QUALITATIVE = Code(value="C0034375", scheme="UMLS", meaning="Qualitative Evaluations")
_DERIVATION = Code(value="121401", scheme="DCM", meaning="Derivation")

# Numeric Value Qualifier (CID 42) -> data-absent-reason
_ABSENT: dict[str, str] = {
    "114000": "not-a-number",
    "114001": "negative-infinity",
    "114002": "positive-infinity",
    "114003": "error",
    "114004": "error",
    "114005": "error",
    "114006": "error",
    "114007": "not-performed",
    "114008": "error",
    "114009": "error",
    "114010": "unknown",
    "114011": "unknown",
}


def observation_status(rec: ObservationRecord) -> str:
    """Observation.status from the document's flags.

    The Preliminary Flag, when present, decides (the IG: PRELIMINARY ->
    ``preliminary``, FINAL -> ``final``). Otherwise a complete and verified
    document is ``final``; a partial or unverified one ``preliminary`` (FHIR:
    "data may be incomplete or unverified"); without flags, ``unknown``.
    """
    if rec.preliminary_flag == "PRELIMINARY":
        return "preliminary"
    if rec.preliminary_flag == "FINAL":
        return "final"
    if rec.completion_flag is None and rec.verification_flag is None:
        return "unknown"
    if rec.completion_flag == "COMPLETE" and rec.verification_flag == "VERIFIED":
        return "final"
    return "preliminary"


def _quantity(rec: ObservationRecord, where: str, warnings: list[str]) -> dict[str, Any]:
    assert rec.numeric_value is not None
    out: dict[str, Any] = {"value": json_number(rec.numeric_value)}
    unit = rec.unit
    if unit is None:
        return out
    c = coding(unit, warnings)
    if unit.meaning or unit.value:
        out["unit"] = unit.meaning or unit.value
    if c is not None and "system" in c:
        out["system"] = c["system"]
        out["code"] = c["code"]
        if c["system"] != _UCUM:
            warnings.append(
                f"{where}: unit {unit.value!r} ({unit.scheme}) is not UCUM: "
                "valueQuantity carries it with its own system"
            )
    elif unit.value:
        # a Quantity code needs a system (qty-3): an unknown scheme's unit stays text only
        warnings.append(
            f"{where}: unit {unit.value!r} has no known system: written as unit text only"
        )
    return out


def _absent(qualifier: Code | None) -> dict[str, Any]:
    reason = _ABSENT.get(qualifier.value or "", "unknown") if qualifier else "unknown"
    out: dict[str, Any] = {"coding": [{"system": _DATA_ABSENT, "code": reason}]}
    if qualifier is not None:
        c = coding(qualifier)
        if c is not None:
            out["coding"].append(c)
        if qualifier.meaning:
            out["text"] = qualifier.meaning
    return out


def to_observation(
    rec: ObservationRecord,
    refs: Mapping[str, Sequence[str]],
    out: Output,
    reference: IdFactory = relative_reference,
) -> dict[str, Any]:
    """Write one observation record as an R5 Observation (appended to ``out.resources``).

    Parameters
    ----------
    rec : dicomsel.model.ObservationRecord
    refs : mapping of str to sequence of str
        Selection key -> literal references of its resources (``Output.refs``).
    out : Output
        Collects the resource and warnings.
    reference : callable
        ``(resource_type, id) -> str`` for references to other observations.

    Returns
    -------
    dict
        The resource.
    """
    rid = observation_id(rec.source_uid, rec.key)
    where = f"Observation/{rid} ({rec.kind} {rec.code.meaning or rec.code.value or rec.code.text})"
    warnings = out.warnings
    res: dict[str, Any] = {"resourceType": "Observation", "id": rid}
    identifiers = []
    if rec.observation_uid:
        identifiers.append(
            typed_uid_identifier(
                rec.observation_uid, _DICOM_ID_TYPE, "observation-uid", "Observation UID"
            )
        )
    if rec.tracking_id:
        identifiers.append(
            {
                "type": {
                    "coding": [{"system": _DCM, "code": "112039", "display": "Tracking Identifier"}]
                },
                "value": rec.tracking_id,
            }
        )
    if rec.tracking_uid:
        identifiers.append(
            typed_uid_identifier(rec.tracking_uid, _DCM, "112040", "Tracking Unique Identifier")
        )
    if identifiers:
        res["identifier"] = identifiers
    if rec.based_on:
        res["basedOn"] = [reference_json(r) for r in rec.based_on]
    if rec.study_instance_uid:
        res["partOf"] = [
            {
                "type": "ImagingStudy",
                "identifier": typed_uid_identifier(
                    rec.study_instance_uid, _DCM, "110180", "Study Instance UID"
                ),
            }
        ]
    res["status"] = observation_status(rec)
    code = rec.code
    categories: list[Code] = []
    if rec.kind == ObservationKind.GROUP:
        # the IG: code = finding category, category = Measurement Group; a group without a
        # finding category has code Measurement Group and no category (invariant)
        if rec.finding_category is not None:
            code = rec.finding_category
            categories = [_MEASUREMENT_GROUP]
    elif rec.kind == ObservationKind.QUALITATIVE:
        categories = [_QUALITATIVE]
    if categories:
        res["category"] = [code_to_codeable_concept(c, warnings) for c in categories]
    res["code"] = code_to_codeable_concept(code, warnings)
    if rec.subject is not None:
        res["subject"] = reference_json(rec.subject)
    if rec.observation_datetime:
        res["effectiveDateTime"] = rec.observation_datetime
    if rec.issued:
        res["issued"] = instant(rec.issued)
    if rec.performers:
        res["performer"] = [reference_json(p.actor) for p in rec.performers]
    if rec.kind == ObservationKind.MEASUREMENT:
        if rec.numeric_value is not None:
            res["valueQuantity"] = _quantity(rec, where, warnings)
        else:
            res["dataAbsentReason"] = _absent(rec.value_qualifier)
    elif rec.kind == ObservationKind.GROUP:
        if rec.finding is not None:
            res["valueCodeableConcept"] = code_to_codeable_concept(rec.finding, warnings)
    elif rec.value_code is not None:
        res["valueCodeableConcept"] = code_to_codeable_concept(rec.value_code, warnings)
    elif rec.value_text is not None:
        res["valueString"] = rec.value_text
    if rec.finding_site is not None:
        res["bodySite"] = code_to_codeable_concept(rec.finding_site, warnings)
    if rec.method is not None:
        res["method"] = code_to_codeable_concept(rec.method, warnings)
    if rec.device is not None:
        res["device"] = reference_json(rec.device)
    if rec.members:
        res["hasMember"] = [
            {"reference": reference("Observation", observation_id(rec.source_uid, k))}
            for k in rec.members
        ]
    derived: list[dict[str, str]] = []
    for key in rec.derived_from:
        targets = refs.get(key)
        if not targets:
            warnings.append(f"{where}: derived from selection {key!r}, which was not written")
            continue
        derived.extend({"reference": t} for t in targets)
    if derived:
        res["derivedFrom"] = derived
    if rec.derivation is not None:
        # TID 300 Derivation (mean, maximum...) qualifies the value; Observation has no
        # element for it: kept as a component, name DCM 121401, as DICOM writes it
        res["component"] = [
            {
                "code": code_to_codeable_concept(_DERIVATION, warnings),
                "valueCodeableConcept": code_to_codeable_concept(rec.derivation, warnings),
            }
        ]
    out.resources.append(res)
    return res


def write(records: Sequence[ObservationRecord], refs: Mapping[str, Sequence[str]]) -> Output:
    """Write observation records as R5 Observations.

    Parameters
    ----------
    records : sequence of ObservationRecord
    refs : mapping of str to sequence of str
        The flavour writer's ``Output.refs``: selection key -> literal references.

    Returns
    -------
    Output
    """
    out = Output()
    known = {r.key for r in records}
    for rec in records:
        for member in rec.members:
            if member not in known:
                out.warnings.append(
                    f"observation {rec.key!r}: member {member!r} is not among the observations"
                )
        to_observation(rec, refs, out)
    return clean_output(out)


def validate(resource: dict[str, Any], full: bool | None = None) -> None:
    """Validate an R5 Observation: the fast check, and fhir.resources under ``full``.

    Parameters
    ----------
    resource : dict
        An Observation (other resources are validated as R5).
    full : bool or None
        As :func:`dicomsel.fhir.r5.validate.validate_r5` takes it.

    Raises
    ------
    dicomsel.errors.ValidationError
    """
    status = resource.get("status")
    if resource.get("resourceType") == "Observation" and status not in STATUS_CODES:
        raise ValidationError(
            f"Observation/{resource.get('id', '?')} is not valid R5: status {status!r} "
            f"not in {sorted(STATUS_CODES)}"
        )
    validate_r5(resource, full)
