"""Who and what for: the patient (``subject``) and the requests (``based_on``) of an object."""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.values import attr_name, text, value
from dicomsel.model import ActorKind, Identifier, IdentifierKind, Reference

__all__ = ["based_on", "subject"]

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


def subject(ds: Dataset, ctx: ReadContext) -> Reference | None:
    """Patient ID (+ Issuer of Patient ID) as a Reference(Patient) by identifier.

    The identifier system is, in order: the issuer's Universal Entity ID when
    its type is ISO (``urn:oid:``), Issuer of Patient ID when it is an OID,
    ``ReadOptions.patient_id_system``; otherwise no system and the issuer is
    kept as the identifier's assigner.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext

    Returns
    -------
    Reference or None
        None (and a warning) without a Patient ID.
    """
    pid = text(ds, tags.PatientID)
    if pid is None:
        ctx.warn(f"{attr_name('PatientID')} is missing or empty: no subject")
        return None
    issuer = text(ds, tags.IssuerOfPatientID)
    system = None
    quals = value(ds, tags.IssuerOfPatientIDQualifiersSequence)
    if quals:
        q = quals[0]
        uei = text(q, tags.UniversalEntityID)
        if uei and text(q, tags.UniversalEntityIDType) == "ISO":
            system = f"urn:oid:{uei}"
    if system is None and issuer and _OID.fullmatch(issuer):
        system = f"urn:oid:{issuer}"
    if system is None:
        system = ctx.options.patient_id_system
    assigner = issuer if issuer and system != f"urn:oid:{issuer}" else None
    ident = Identifier(value=pid, system=system, assigner=assigner)
    return Reference(ActorKind.PATIENT, identifier=ident)


def _accession(number: str, issuer_seq: Sequence | None) -> Identifier:
    system = None
    assigner = None
    if issuer_seq:
        q = issuer_seq[0]
        uei = text(q, tags.UniversalEntityID)
        if uei and text(q, tags.UniversalEntityIDType) == "ISO":
            system = f"urn:oid:{uei}"
        assigner = text(q, tags.LocalNamespaceEntityID)
    return Identifier(value=number, system=system, kind=IdentifierKind.ACCESSION, assigner=assigner)


def based_on(ds: Dataset) -> tuple[Reference, ...]:
    """Accession Number and Referenced Request Sequence as Reference(ServiceRequest).

    Each request gives one reference; its identifier is the accession number
    (type ACSN) or else the placer / filler order number (PLAC / FILL).
    Duplicates are dropped.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset

    Returns
    -------
    tuple of Reference
    """
    out: list[Reference] = []

    def add(ref: Reference) -> None:
        if ref not in out:
            out.append(ref)

    acc = text(ds, tags.AccessionNumber)
    if acc:
        add(
            Reference(
                ActorKind.REQUEST,
                _accession(acc, value(ds, tags.IssuerOfAccessionNumberSequence)),
            )
        )
    for req in value(ds, tags.ReferencedRequestSequence) or ():
        racc = text(req, tags.AccessionNumber)
        if racc:
            ident = _accession(racc, value(req, tags.IssuerOfAccessionNumberSequence))
        elif placer := text(req, tags.PlacerOrderNumberImagingServiceRequest):
            ident = Identifier(value=placer, kind=IdentifierKind.PLACER)
        elif filler := text(req, tags.FillerOrderNumberImagingServiceRequest):
            ident = Identifier(value=filler, kind=IdentifierKind.FILLER)
        else:
            continue
        add(Reference(ActorKind.REQUEST, ident))
    return tuple(out)
