"""R5 Observations dicomsel wrote (:mod:`dicomsel.fhir.observation`) back to the model.

What the writer put in each element is read back as the record it came from:
the kind from the category (Qualitative Evaluations, Measurement Group) or the
value, the Measurement Group's finding category and finding from its code and
value, identifiers (Observation UID, Tracking Identifier / UID), bodySite
(finding site), method, the Derivation component, partOf (study), derivedFrom
(selections, by the keys :func:`dicomsel.fhir.bundle.read_fhir` gave them) and
hasMember. What the writer does not write is not looked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dicomsel.fhir.datatypes import read_codeable_concept, read_dicom_uid
from dicomsel.fhir.ids import resource_uid, target_id
from dicomsel.fhir.primitives import ElementPath
from dicomsel.model import Code, ObservationKind, ObservationRecord, Selection

__all__ = ["read_observations"]

_GROUP = ("DCM", "125007")
_QUALITATIVE = ("UMLS", "C0034375")
_DERIVATION = ("DCM", "121401")


def _is(code: Code | None, what: tuple[str, str]) -> bool:
    return code is not None and (code.scheme, code.value) == what


def _identifier(res: dict[str, Any], code: str) -> dict[str, Any] | None:
    for ident in res.get("identifier") or []:
        for c in (ident.get("type") or {}).get("coding") or []:
            if c.get("code") == code:
                return dict(ident)
    return None


def read_observations(
    resources: Iterable[dict[str, Any]],
    keys: Mapping[str, str],
    selections: Mapping[str, Selection],
) -> list[ObservationRecord]:
    """Observations as :class:`~dicomsel.model.ObservationRecord` records.

    Parameters
    ----------
    resources : iterable of dict
        Resources of a FHIR input; those that are not Observations are skipped.
    keys : mapping of str to str
        ImagingSelection resource id -> selection key (``FhirInput.keys``).
    selections : mapping of str to Selection
        Selection key -> selection, for the SR document's SOP Instance UID.

    Returns
    -------
    list of ObservationRecord
        In input order; ``key`` is ``fhir|<Observation id>`` and ``members`` name
        other records by that key.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        For a code that is not a CodeableConcept, naming the element.
    """
    out: list[ObservationRecord] = []
    for res in resources:
        if res.get("resourceType") != "Observation":
            continue
        rid = str(res.get("id") or "")
        p = ElementPath(f"Observation/{rid}")
        code = read_codeable_concept(res.get("code"), "code", p) or Code(value=None)
        categories = [
            read_codeable_concept(c, f"category[{i}]", p)
            for i, c in enumerate(res.get("category") or [])
        ]
        derived = [keys[t] for r in res.get("derivedFrom") or [] if (t := target_id(r)) in keys]
        members = [f"fhir|{target_id(r)}" for r in res.get("hasMember") or []]
        value_cc = read_codeable_concept(res.get("valueCodeableConcept"), "valueCodeableConcept", p)
        if any(_is(c, _QUALITATIVE) for c in categories):
            kind = ObservationKind.QUALITATIVE
        elif members or any(_is(c, _GROUP) for c in categories) or _is(code, _GROUP):
            kind = ObservationKind.GROUP
        elif "valueQuantity" in res or "dataAbsentReason" in res:
            kind = ObservationKind.MEASUREMENT
        else:
            kind = ObservationKind.QUALITATIVE
        fields: dict[str, Any] = {}
        if kind == ObservationKind.GROUP:
            if not _is(code, _GROUP):
                fields["finding_category"] = code
                code = Code(value="125007", scheme="DCM", meaning="Measurement Group")
            fields["finding"] = value_cc
        else:
            fields["value_code"] = value_cc
            fields["value_text"] = res.get("valueString")
        q = res.get("valueQuantity") or {}
        if q.get("value") is not None:
            fields["numeric_value"] = float(q["value"])
        if q.get("code") is not None or q.get("unit") is not None:
            fields["unit"] = Code(
                value=q.get("code"), meaning=q.get("unit"), system=q.get("system")
            )
        for comp in res.get("component") or []:
            name = read_codeable_concept(comp.get("code"), "component.code", p)
            if _is(name, _DERIVATION):
                fields["derivation"] = read_codeable_concept(
                    comp.get("valueCodeableConcept"), "component.valueCodeableConcept", p
                )
        tracking = _identifier(res, "112039")
        tracking_uid = _identifier(res, "112040")
        obs_uid = _identifier(res, "observation-uid")
        study = None
        for part in res.get("partOf") or []:
            study = read_dicom_uid(part.get("identifier") or {}) or study
        source = next(
            (selections[k].source_uid for k in derived if k in selections), resource_uid(rid)
        )
        out.append(
            ObservationRecord(
                key=f"fhir|{rid}",
                source_uid=source,
                kind=kind,
                code=code,
                finding_site=read_codeable_concept(res.get("bodySite"), "bodySite", p),
                method=read_codeable_concept(res.get("method"), "method", p),
                tracking_id=tracking.get("value") if tracking else None,
                tracking_uid=read_dicom_uid(tracking_uid) if tracking_uid else None,
                observation_uid=read_dicom_uid(obs_uid) if obs_uid else None,
                study_instance_uid=study,
                derived_from=tuple(derived),
                members=tuple(members),
                **fields,
            )
        )
    return out
