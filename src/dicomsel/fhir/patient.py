"""FHIR Patient resources -> the patient attributes a DICOM object needs.

The reverse path (:mod:`dicomsel.kos`) takes Patient's Name, ID, Issuer of
Patient ID, Birth Date and Sex from the Patient resources of its input when no
DICOM file gives them; the FHIR element names stay in this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.humanname import person_name_of
from dicomsel.model import Reference

__all__ = ["PatientDemographics", "find_patient", "patient_from_resource"]

_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": ""}


@dataclass(frozen=True, slots=True)
class PatientDemographics:
    """What a Patient resource says of its patient, as DICOM text.

    ``resource`` names the resource (``Patient/<id>``); ``issuer`` is Issuer
    of Patient ID (an OID, a URI or a local name). Empty strings are what the
    resource does not say.
    """

    resource: str
    patient_id: str
    issuer: str = ""
    name: str = ""
    birth_date: str = ""
    sex: str = ""


def _patient_name(names: Any, where: str) -> str:
    """Patient.name as DICOM PN, components and representations restored (PS3.5 6.2.1)."""
    if not isinstance(names, list):
        return ""
    try:
        return person_name_of(names)
    except InvalidInputError as e:
        raise InvalidInputError(e.reason, attribute=f"{where}.name") from e


def patient_from_resource(
    res: Mapping[str, Any], rid: str, subject: Reference | None = None
) -> PatientDemographics:
    """The patient attributes of a FHIR Patient resource (R4 and R5 agree on these elements).

    Patient ID is the identifier the subject names (else the first one with a
    value); an ``urn:oid:`` system becomes Issuer of Patient ID as the OID,
    another system as it stands, else the assigner's display. A partial birth
    date (year or month only) cannot be a DICOM DA and is left empty; gender
    ``unknown`` leaves Patient's Sex empty.

    Parameters
    ----------
    res : mapping
        The Patient resource (JSON).
    rid : str
        Its resource id.
    subject : Reference, optional
        The reference that named it: its identifier picks the Patient ID.

    Returns
    -------
    PatientDemographics

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the resource has no identifier with a value (no Patient ID).
    """
    where = f"Patient/{rid}"
    idents = [d for d in res.get("identifier") or () if isinstance(d, dict) and d.get("value")]
    chosen = None
    if subject is not None and subject.identifier is not None:
        chosen = next(
            (d for d in idents if str(d["value"]) == subject.identifier.value),
            None,
        )
    if chosen is None and idents:
        chosen = idents[0]
    if chosen is None:
        raise InvalidInputError(
            "has no identifier with a value, so no Patient ID for the KOS", attribute=where
        )
    system = str(chosen.get("system") or "")
    issuer = system.removeprefix("urn:oid:")
    if not issuer:
        issuer = str((chosen.get("assigner") or {}).get("display") or "")
    birth = str(res.get("birthDate") or "")
    birth_da = birth.replace("-", "") if re.fullmatch(r"\d{4}-\d\d-\d\d", birth) else ""
    return PatientDemographics(
        resource=where,
        patient_id=str(chosen["value"]),
        issuer=issuer,
        name=_patient_name(res.get("name"), where),
        birth_date=birth_da,
        sex=_GENDER.get(str(res.get("gender") or ""), ""),
    )


def find_patient(
    resources: Mapping[str, Mapping[str, Any]], subject: Reference | None
) -> PatientDemographics | None:
    """The patient of the Patient resource that ``subject`` names, among ``resources``.

    Matched by literal reference (``Patient/<id>`` or a Bundle's
    ``urn:uuid:<id>``, which the R5 reader keeps as the display), else by
    identifier (value, and system when both have one). With no subject, the
    only resource, if there is exactly one.

    Parameters
    ----------
    resources : mapping
        Patient resources (JSON) by resource id.
    subject : Reference or None
        A selection's subject.

    Returns
    -------
    PatientDemographics or None
        None when no resource matches.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the matching resource cannot give a Patient ID.
    """
    if subject is None:
        if len(resources) == 1:
            rid, res = next(iter(resources.items()))
            return patient_from_resource(res, rid)
        return None
    if subject.display:
        rid = subject.display.rsplit("/", 1)[-1].removeprefix("urn:uuid:")
        named = resources.get(rid)
        if named is not None and (
            subject.display.startswith("urn:uuid:") or "/" in subject.display
        ):
            return patient_from_resource(named, rid, subject)
    ident = subject.identifier
    if ident is None:
        return None
    for rid, res in resources.items():
        for d in res.get("identifier") or ():
            if not isinstance(d, dict) or str(d.get("value") or "") != ident.value:
                continue
            system = d.get("system")
            if system and ident.system and system != ident.system:
                continue
            return patient_from_resource(res, rid, subject)
    return None
