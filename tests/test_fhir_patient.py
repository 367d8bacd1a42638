"""FHIR Patient resources -> patient attributes (``dicomsel.fhir.patient``)."""

from __future__ import annotations

from typing import Any

import pytest

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.patient import PatientDemographics, find_patient, patient_from_resource
from dicomsel.model import ActorKind, Identifier, Reference


def patient(**extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "urn:oid:1.2.3", "value": "PAT-1"},
            {"system": "http://example.org/mrn", "value": "MRN-9"},
        ],
        "name": [
            {"use": "usual", "given": ["Janie"]},
            {"use": "official", "family": "Doe", "given": ["Jane", "Q"], "prefix": ["Dr"]},
        ],
        "birthDate": "1970-01-02",
        "gender": "female",
    }
    res.update(extra)
    return res


def subject(value: str | None = None, system: str | None = None, display: str | None = None):
    ident = Identifier(value, system) if value is not None else None
    return Reference(ActorKind.PATIENT, identifier=ident, display=display)


def test_patient_attributes_as_dicom_text() -> None:
    assert patient_from_resource(patient(), "p1") == PatientDemographics(
        resource="Patient/p1",
        patient_id="PAT-1",
        issuer="1.2.3",
        name="Doe^Jane^Q^Dr",
        birth_date="19700102",
        sex="F",
    )


def test_the_subject_picks_the_identifier() -> None:
    p = patient_from_resource(patient(), "p1", subject("MRN-9"))
    assert (p.patient_id, p.issuer) == ("MRN-9", "http://example.org/mrn")


@pytest.mark.parametrize(
    ("extra", "name", "birth", "sex"),
    [
        (
            {"name": [{"text": "Jane Doe"}], "birthDate": "1970", "gender": "unknown"},
            "Jane Doe",
            "",
            "",
        ),
        ({"name": "not a list", "birthDate": "1970-01", "gender": "other"}, "", "", "O"),
        ({"name": [], "gender": "male"}, "", "19700102", "M"),
    ],
)
def test_what_dicom_cannot_carry_stays_empty(
    extra: dict[str, Any], name: str, birth: str, sex: str
) -> None:
    p = patient_from_resource(patient(**extra), "p1")
    assert (p.name, p.birth_date, p.sex) == (name, birth, sex)


def test_assigner_as_issuer_without_system() -> None:
    res = patient(identifier=[{"value": "PAT-1", "assigner": {"display": "Clinic"}}])
    assert patient_from_resource(res, "p1").issuer == "Clinic"


def test_no_identifier_no_patient_id() -> None:
    with pytest.raises(InvalidInputError, match="no identifier") as e:
        patient_from_resource(patient(identifier=[{"system": "urn:oid:1.2.3"}]), "p1")
    assert e.value.attribute == "Patient/p1"


def test_find_patient() -> None:
    resources = {"p1": patient(), "p2": patient(identifier=[{"value": "PAT-2"}])}
    found = find_patient(resources, subject(display="Patient/p2"))
    assert found is not None and found.patient_id == "PAT-2"
    found = find_patient(resources, subject(display="urn:uuid:p2"))
    assert found is not None and found.resource == "Patient/p2"
    found = find_patient(resources, subject("PAT-2", "urn:oid:9.9"))  # p2 has no system
    assert found is not None and found.patient_id == "PAT-2"
    assert find_patient(resources, subject("PAT-1", "urn:oid:9.9")) is None  # systems differ
    assert find_patient(resources, subject(display="p2")) is None  # not a literal reference
    assert find_patient(resources, None) is None  # two resources and no subject
    only = find_patient({"p1": patient()}, None)
    assert only is not None and only.patient_id == "PAT-1"
