"""Who and what for: the patient (``subject``) and the requests (``based_on``) of an object."""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomsel import terminology
from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.values import attr_name, text, value
from dicomsel.model import ActorKind, Code, Identifier, IdentifierKind, Reference

__all__ = ["based_on", "entity_system", "subject"]

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
# HL7 v2 table 0203 codes: upper-case letters and digits (MR, PI, PPN, ...)
_V2_CODE = re.compile(r"[A-Z0-9]{1,10}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def entity_system(item: Dataset) -> str | None:
    """The Identifier.system of an HL7 v2 Hierarchic Designator item (PS3.3 Table 10-17).

    Universal Entity ID of type ISO (an OID) gives ``urn:oid:<oid>``, URI gives the URI as
    it stands, UUID gives ``urn:uuid:<uuid>`` (lower case); other types (DNS, EUI64, X400,
    X500) and malformed values give none.

    Parameters
    ----------
    item : pydicom.dataset.Dataset
        An item with Universal Entity ID (0040,0032) and its Type (0040,0033).

    Returns
    -------
    str or None
    """
    uei = text(item, tags.UniversalEntityID)
    kind = (text(item, tags.UniversalEntityIDType) or "").upper()
    if not uei:
        return None
    if kind == "ISO" and _OID.fullmatch(uei):
        return f"urn:oid:{uei}"
    if kind == "URI" and _URI.fullmatch(uei):
        return uei
    if kind == "UUID" and _UUID.fullmatch(uei):
        return f"urn:uuid:{uei.lower()}"
    return None


def _identifier_type(item: Dataset, ctx: ReadContext) -> Code | None:
    """Identifier Type Code (0040,0035): an HL7 v2 table 0203 code (PS3.3 C.7.1.1), e.g. MR."""
    code = text(item, tags.IdentifierTypeCode)
    if not code:
        return None
    if not _V2_CODE.fullmatch(code):
        ctx.warn(
            f"{attr_name('IssuerOfPatientIDQualifiersSequence')} > "
            f"{attr_name('IdentifierTypeCode')} {code!r} is not an HL7 v2 table 0203 code: "
            "left out",
            attribute=attr_name("IdentifierTypeCode"),
        )
        return None
    return Code(
        value=code,
        system=terminology.V2_0203,
        meaning=terminology.V2_0203_DISPLAYS.get(code),
    )


def subject(ds: Dataset, ctx: ReadContext) -> Reference | None:
    """Patient ID (+ Issuer of Patient ID) as a Reference(Patient) by identifier.

    The identifier system is, in order: the Universal Entity ID of Issuer of
    Patient ID Qualifiers (type ISO, URI or UUID: :func:`entity_system`),
    Issuer of Patient ID when it is an OID,
    ``ReadOptions.patient_id_system``; otherwise no system and the issuer is
    kept as the identifier's assigner. Identifier Type Code (0040,0035) of the
    qualifiers, an HL7 v2 table 0203 code (PS3.3 C.7.1.1), is the identifier's type.

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
    kind: Code | None = None
    quals = value(ds, tags.IssuerOfPatientIDQualifiersSequence)
    if quals:
        system = entity_system(quals[0])
        kind = _identifier_type(quals[0], ctx)
    if system is None and issuer and _OID.fullmatch(issuer):
        system = f"urn:oid:{issuer}"
    if system is None:
        system = ctx.options.patient_id_system
    assigner = issuer if issuer and system != f"urn:oid:{issuer}" else None
    ident = Identifier(value=pid, system=system, kind=kind, assigner=assigner)
    return Reference(ActorKind.PATIENT, identifier=ident)


def _accession(number: str, issuer_seq: Sequence | None) -> Identifier:
    system = None
    assigner = None
    if issuer_seq:
        q = issuer_seq[0]
        system = entity_system(q)
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
