"""The FHIR names of the neutral model's kinds: resource types, identifier types, roles.

The model says what a reference points at, what an identifier is, how an
endpoint is reached and what part a performer played in its own terms
(:mod:`dicomsel.model`); these tables give the FHIR codes for them, both ways.
"""

from __future__ import annotations

from dicomsel.model import ActorKind, Code, EndpointKind, IdentifierKind, PerformerFunction

__all__ = [
    "ACTOR_KINDS",
    "CONNECTION_TYPES",
    "FUNCTIONS",
    "FUNCTION_CODES",
    "IDENTIFIER_KINDS",
    "IDENTIFIER_TYPES",
    "RESOURCE_TYPES",
]

#: The resource type a reference to each kind of actor names.
RESOURCE_TYPES: dict[ActorKind, str] = {
    ActorKind.PATIENT: "Patient",
    ActorKind.GROUP: "Group",
    ActorKind.LOCATION: "Location",
    ActorKind.PROCEDURE: "Procedure",
    ActorKind.SPECIMEN: "Specimen",
    ActorKind.MEDICATION: "Medication",
    ActorKind.SUBSTANCE: "Substance",
    ActorKind.PERSON: "Practitioner",
    ActorKind.PERSON_ROLE: "PractitionerRole",
    ActorKind.RELATED_PERSON: "RelatedPerson",
    ActorKind.DEVICE: "Device",
    ActorKind.ORGANIZATION: "Organization",
    ActorKind.CARE_TEAM: "CareTeam",
    ActorKind.HEALTHCARE_SERVICE: "HealthcareService",
    ActorKind.REQUEST: "ServiceRequest",
    ActorKind.CARE_PLAN: "CarePlan",
    ActorKind.APPOINTMENT: "Appointment",
    ActorKind.APPOINTMENT_RESPONSE: "AppointmentResponse",
    ActorKind.TASK: "Task",
    ActorKind.STUDY: "ImagingStudy",
    ActorKind.SELECTION: "ImagingSelection",
}
ACTOR_KINDS = {v: k for k, v in RESOURCE_TYPES.items()}

#: The HL7 endpoint-connection-type code of each endpoint kind (DIMSE has none: the
#: project's own ``dicom-dimse``, written as text, docs/design.md).
CONNECTION_TYPES: dict[EndpointKind, str] = {
    EndpointKind.DICOMWEB: "dicom-wado-rs",
    EndpointKind.WADO_URI: "dicom-wado-uri",
    EndpointKind.QIDO_RS: "dicom-qido-rs",
    EndpointKind.DIMSE: "dicom-dimse",
}

#: HL7 v2-0203 identifier types of the identifier kinds that have one.
IDENTIFIER_TYPES = {
    IdentifierKind.ACCESSION: "ACSN",
    IdentifierKind.PLACER: "PLAC",
    IdentifierKind.FILLER: "FILL",
}
IDENTIFIER_KINDS = {v: k for k, v in IDENTIFIER_TYPES.items()}

#: The FHIR coding of each performer function.
FUNCTIONS = {
    PerformerFunction.AUTHOR: Code(
        value="AUT",
        system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
        meaning="author (originator)",
    ),
}
FUNCTION_CODES = {(c.system, c.value): f for f, c in FUNCTIONS.items()}
