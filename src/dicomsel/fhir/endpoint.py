"""Endpoint resources <-> model endpoints, both ways (R5's Endpoint, in both flavours).

A DICOMweb or WADO-URI address is carried as such, with its HL7 connection
type. A bare AE title has no network address in the KOS and HL7 has no DIMSE
connection type: it is written as ``name``, the connection type as text and
the address ``urn:dicom:ae:<AE title>`` (docs/design.md); a Retrieve
Location UID becomes an identifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomsel.fhir.base import Output
from dicomsel.fhir.datatypes import dicom_uid_identifier, read_dicom_uid
from dicomsel.fhir.ids import IdFactory, endpoint_id
from dicomsel.fhir.vocabulary import CONNECTION_TYPES
from dicomsel.model import Endpoint, EndpointKind

__all__ = ["endpoint_references", "endpoint_resource", "read_endpoint"]

_ENDPOINT_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
_KINDS = {code: kind for kind, code in CONNECTION_TYPES.items()}


def endpoint_resource(ep: Endpoint) -> dict[str, Any]:
    """An R5 Endpoint for a retrieve location.

    Parameters
    ----------
    ep : dicomsel.model.Endpoint

    Returns
    -------
    dict
        The resource, its id :func:`dicomsel.fhir.ids.endpoint_id`.
    """
    out: dict[str, Any] = {"resourceType": "Endpoint", "id": endpoint_id(ep)}
    if ep.location_uid:
        out["identifier"] = [dicom_uid_identifier(ep.location_uid)]
    out["status"] = "active"
    if ep.kind is not EndpointKind.DIMSE:
        code = CONNECTION_TYPES[ep.kind]
        out["connectionType"] = [{"coding": [{"system": _ENDPOINT_TYPES, "code": code}]}]
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


def endpoint_references(
    endpoints: Sequence[Endpoint], out: Output, reference: IdFactory
) -> list[dict[str, Any]]:
    """The ``endpoint`` references of a resource; each Endpoint goes to ``out.shared`` once.

    Parameters
    ----------
    endpoints : sequence of dicomsel.model.Endpoint
    out : Output
        Collects the Endpoint resources, by id.
    reference : callable
        ``(resource_type, id) -> str``: how literal references are written.

    Returns
    -------
    list of dict
    """
    refs = []
    for ep in endpoints:
        epr = endpoint_resource(ep)
        out.shared.setdefault(epr["id"], epr)
        refs.append({"reference": reference("Endpoint", epr["id"])})
    return refs


def read_endpoint(res: dict[str, Any]) -> Endpoint | None:
    """The model endpoint of an Endpoint resource; None when it has no address.

    Parameters
    ----------
    res : dict

    Returns
    -------
    dicomsel.model.Endpoint or None
    """
    address = res.get("address")
    name = res.get("name")
    kinds = [
        c.get("code") for cc in res.get("connectionType") or [] for c in cc.get("coding") or []
    ]
    location = None
    for ident in res.get("identifier") or []:
        uid = read_dicom_uid(ident)
        if uid is not None:
            location = uid
    if isinstance(address, str) and address.startswith("urn:dicom:ae:"):
        return Endpoint(
            kind=EndpointKind.DIMSE,
            ae_title=name or address[len("urn:dicom:ae:") :],
            location_uid=location,
        )
    if isinstance(address, str) and address.startswith("urn:oid:"):
        return Endpoint(kind=EndpointKind.DIMSE, location_uid=address[len("urn:oid:") :])
    if not address:
        return None
    # a DICOMweb base unless the connection type says WADO-URI or QIDO-RS
    kind = next((_KINDS[k] for k in kinds if k in _KINDS), EndpointKind.DICOMWEB)
    if kind is EndpointKind.DIMSE:
        kind = EndpointKind.DICOMWEB
    return Endpoint(kind=kind, address=str(address), location_uid=location)
