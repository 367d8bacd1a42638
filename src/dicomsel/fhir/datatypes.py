"""FHIR datatypes <-> the neutral model, both ways, for every resource dicomsel writes or reads.

Writing (model -> JSON-ready dicts in FHIR element order): :func:`coding`,
:func:`code_to_codeable_concept`, :func:`identifier`, :func:`reference`,
:func:`sop_class`, :func:`performer`, :func:`instant`, :func:`json_number`.
Reading (JSON -> model, strict where the model is; errors name the element's
path through :class:`ElementPath`): :func:`read_uid`, :func:`read_codeable_concept`,
:func:`read_coding`, :func:`read_identifier`, :func:`read_reference`,
:func:`read_sop_class`, :func:`read_performer`, :func:`read_instant`,
:func:`read_dicom_uid`.

Each model-to-FHIR construction the neutral model will stop carrying
(identifier kinds, actor types, the issued instant, performer functions)
happens here once, in the pair of functions named after it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dicomsel import terminology
from dicomsel.errors import InvalidInputError
from dicomsel.fhir.humanname import human_names, person_name_of
from dicomsel.fhir.primitives import ElementPath
from dicomsel.fhir.vocabulary import (
    ACTOR_KINDS,
    FUNCTION_CODES,
    FUNCTIONS,
    IDENTIFIER_KINDS,
    IDENTIFIER_TYPES,
    RESOURCE_TYPES,
)
from dicomsel.model import (
    ActorKind,
    Code,
    Identifier,
    IdentifierKind,
    Performer,
    PerformerFunction,
    Reference,
)
from dicomsel.personname import readable
from dicomsel.uid import is_valid_uid

__all__ = [
    "DICOM_UID_SYSTEM",
    "V2_0203",
    "code_to_codeable_concept",
    "coding",
    "dicom_uid_identifier",
    "identifier",
    "performer",
    "read_codeable_concept",
    "read_coding",
    "read_dicom_uid",
    "read_identifier",
    "read_performer",
    "read_reference",
    "read_sop_class",
    "reference",
    "sop_class",
    "study_reference",
    "typed_uid_identifier",
]

#: HL7 v2 table 0203, identifier types (``ACSN``, ``PLAC``, ...).
V2_0203 = terminology.V2_0203
#: HL7 v2-0203 displays of the identifier types written (the dicom-sr IG's pattern).
V2_0203_DISPLAYS = terminology.V2_0203_DISPLAYS
#: The Identifier.system of a DICOM UID, whose value is ``urn:oid:<uid>``.
DICOM_UID_SYSTEM = "urn:dicom:uid"


# ---- model -> FHIR


def coding(code: Code, warnings: list[str] | None = None) -> dict[str, Any] | None:
    """A FHIR Coding of a model code, or None when it has no value.

    Parameters
    ----------
    code : dicomsel.model.Code
    warnings : list of str, optional
        Receives a warning when the coding scheme has no known FHIR system.

    Returns
    -------
    dict or None

    Notes
    -----
    A SNOMED-RT code (``SRT``, ``SNM3``, ``99SDM``) that PS3.16 Annex O maps is
    written as its SNOMED CT concept id (``http://snomed.info/sct``); a scheme
    whose table row names an edition (``ICD-O-2``) gets it as ``version``.
    """
    if not code.value:
        return None
    out: dict[str, Any] = {}
    value, scheme, version = code.value, code.scheme, code.scheme_version
    if scheme and not code.system:
        # PS3.16 Annex O: a SNOMED-RT id goes out as its SNOMED CT concept id
        value, mapped = terminology.normalise_code(value, scheme)
        if mapped != terminology.canonical_scheme(scheme):
            version = None  # an SRT version says nothing of SNOMED CT's
        scheme = mapped
        version = version or terminology.scheme_version(scheme)
    system = code.system or (terminology.system_for_scheme(scheme) if scheme else None)
    if system is None and scheme and warnings is not None:
        warnings.append(
            f"coding scheme designator {scheme!r} has no known FHIR system: "
            f"code {value!r} written without system"
        )
    if system:
        out["system"] = system
    if version:
        out["version"] = version
    out["code"] = value
    if code.meaning:
        out["display"] = code.meaning
    return out


def code_to_codeable_concept(code: Code, warnings: list[str] | None = None) -> dict[str, Any]:
    """A FHIR CodeableConcept of a model code.

    Parameters
    ----------
    code : dicomsel.model.Code
    warnings : list of str, optional
        As for :func:`coding`.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    c = coding(code, warnings)
    if c is not None:
        out["coding"] = [c]
    if code.text:
        out["text"] = code.text
    return out


def identifier(ident: Identifier) -> dict[str, Any]:
    """A FHIR Identifier of a model identifier.

    A DICOM UID is written ``urn:dicom:uid`` / ``urn:oid:<uid>``; an accession,
    placer or filler number gets its HL7 v2-0203 type (``ACSN``, ``PLAC``, ``FILL``).

    Parameters
    ----------
    ident : dicomsel.model.Identifier

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    kind = ident.kind
    if kind is IdentifierKind.DICOM_UID:
        out = {"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{ident.value}"}
    elif isinstance(kind, Code):
        out["type"] = {"coding": [coding(kind)]}
    elif kind is not None:
        code = IDENTIFIER_TYPES[kind]
        out["type"] = {
            "coding": [{"system": V2_0203, "code": code, "display": V2_0203_DISPLAYS[code]}]
        }
    if kind is not IdentifierKind.DICOM_UID:
        if ident.system:
            out["system"] = ident.system
        out["value"] = ident.value
    if ident.assigner:
        out["assigner"] = {"display": ident.assigner}
    return out


def dicom_uid_identifier(uid: str) -> dict[str, Any]:
    """The FHIR Identifier of a DICOM UID (``urn:dicom:uid``, ``urn:oid:<uid>``).

    Parameters
    ----------
    uid : str

    Returns
    -------
    dict

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``uid`` is not a valid DICOM UID.
    """
    return identifier(Identifier.dicom_uid(uid))


def typed_uid_identifier(
    uid: str, type_system: str, type_code: str, display: str
) -> dict[str, Any]:
    """A DICOM UID Identifier with a type coding (the dicom-sr IG's observation identifiers).

    Parameters
    ----------
    uid : str
    type_system, type_code, display : str
        The coding of ``Identifier.type``.

    Returns
    -------
    dict
    """
    return {
        "type": {"coding": [{"system": type_system, "code": type_code, "display": display}]},
        "system": DICOM_UID_SYSTEM,
        "value": f"urn:oid:{uid}",
    }


def reference(ref: Reference) -> dict[str, Any]:
    """A FHIR Reference (logical: type, identifier, display) of a model reference.

    Parameters
    ----------
    ref : dicomsel.model.Reference

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {"type": RESOURCE_TYPES[ref.kind]}
    if ref.identifier is not None:
        out["identifier"] = identifier(ref.identifier)
    display = ref.display or (readable(ref.person_name) if ref.person_name else None)
    if display:
        out["display"] = display
    return out


def study_reference(study_instance_uid: str) -> dict[str, Any]:
    """A Reference to the ImagingStudy of a Study Instance UID, by identifier.

    The identifier is typed DCM 110180 "Study Instance UID", as the dicom-sr IG
    types ``partOf`` / ``derivedFrom`` study references.

    Parameters
    ----------
    study_instance_uid : str

    Returns
    -------
    dict

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If the UID is not a valid DICOM UID.
    """
    ident = Identifier.dicom_uid(study_instance_uid)  # checks the UID
    return {
        "type": RESOURCE_TYPES[ActorKind.STUDY],
        "identifier": typed_uid_identifier(
            ident.value, terminology.DCM, "110180", "Study Instance UID"
        ),
    }


def sop_class(uid: str) -> dict[str, Any]:
    """``instance.sopClass``: a Coding ``urn:oid:<uid>`` in the DICOM UID registry system.

    Parameters
    ----------
    uid : str
        SOP Class UID.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {"system": terminology.SOP_CLASS_SYSTEM, "code": f"urn:oid:{uid}"}
    name = terminology.sop_class_name(uid)
    if name:
        out["display"] = name
    return out


def performer(
    p: Performer, warnings: list[str] | None = None, contained: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An ImagingSelection.performer: its function (a CodeableConcept) and actor.

    A person known by a DICOM PN (``Reference.person_name``) is, when ``contained`` is
    given, a Practitioner contained in the resource, whose ``name`` keeps the PN's
    components (:func:`dicomsel.fhir.humanname.human_names`); the actor references it
    (``#person<n>``) and keeps the readable display. FHIR contains a resource that
    "does not have an independent existence apart from the resource that contains it"
    (R5 References, 2.1.0.x): an observer known by name only is such a one.

    Parameters
    ----------
    p : dicomsel.model.Performer
    warnings : list of str, optional
        As for :func:`coding`.
    contained : list of dict, optional
        The resource's ``contained`` list, which receives the Practitioner (one per
        distinct name).

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    function = p.function
    if isinstance(function, PerformerFunction):
        function = FUNCTIONS[function]
    if function is not None:
        out["function"] = code_to_codeable_concept(function, warnings)
    actor = reference(p.actor)
    pn = p.actor.person_name
    if pn and contained is not None and p.actor.kind is ActorKind.PERSON:
        names = human_names(pn)
        found = next((c for c in contained if c.get("name") == names), None)
        if found is None:
            found = {"resourceType": "Practitioner", "id": f"person{len(contained) + 1}"}
            found["name"] = names
            contained.append(found)
        actor = {"reference": f"#{found['id']}", **actor}
    out["actor"] = actor
    return out


# ---- FHIR -> model


def read_codeable_concept(cc: dict[str, Any] | None, where: str, p: ElementPath) -> Code | None:
    """The first coding of a CodeableConcept (others are reported by the caller).

    Parameters
    ----------
    cc : dict or None
    where : str
    p : ElementPath

    Returns
    -------
    dicomsel.model.Code or None
        None for an absent or empty concept.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``cc`` is not a CodeableConcept or its coding has no code.
    """
    if not cc:
        return None
    if not isinstance(cc, dict):
        raise p.error(where, "is not a CodeableConcept")
    codings = cc.get("coding") or []
    text = cc.get("text")
    if codings:
        c = codings[0]
        return read_coding(c, where + ".coding[0]", p, text=text)
    if text:
        return Code(value=None, text=str(text))
    return None


def read_coding(c: dict[str, Any], where: str, p: ElementPath, text: str | None = None) -> Code:
    """A Coding as a model code.

    Parameters
    ----------
    c : dict
    where : str
    p : ElementPath
    text : str, optional
        The enclosing CodeableConcept's text.

    Returns
    -------
    dicomsel.model.Code

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``c`` is not a Coding with a code (or a text).
    """
    if not isinstance(c, dict) or not (c.get("code") or text):
        raise p.error(where, "a Coding needs a code")
    system = c.get("system")
    scheme = terminology.scheme_for_system(system) if system else None
    return Code(
        value=c.get("code"),
        scheme=scheme,
        meaning=c.get("display"),
        system=None if scheme else system,
        scheme_version=c.get("version"),
        text=text,
    )


def read_identifier(d: dict[str, Any]) -> Identifier | None:
    """An Identifier as a model identifier; None when it has no value.

    Parameters
    ----------
    d : dict

    Returns
    -------
    dicomsel.model.Identifier or None
    """
    if not isinstance(d, dict) or not d.get("value"):
        return None
    uid = read_dicom_uid(d)
    assigner = (d.get("assigner") or {}).get("display")
    if uid is not None and is_valid_uid(uid) and set(d) <= {"system", "value", "assigner"}:
        return Identifier(value=uid, kind=IdentifierKind.DICOM_UID, assigner=assigner)
    kind: IdentifierKind | Code | None = None
    for c in (d.get("type") or {}).get("coding") or []:
        if c.get("system") == V2_0203 and c.get("code") in IDENTIFIER_KINDS:
            kind = IDENTIFIER_KINDS[c["code"]]
        elif c.get("code"):
            kind = Code(value=str(c["code"]), system=c.get("system"), meaning=c.get("display"))
    return Identifier(value=str(d["value"]), system=d.get("system"), kind=kind, assigner=assigner)


def read_dicom_uid(d: dict[str, Any]) -> str | None:
    """The UID of a DICOM UID Identifier (``urn:dicom:uid``, ``urn:oid:<uid>``), else None.

    Parameters
    ----------
    d : dict
        A FHIR Identifier.

    Returns
    -------
    str or None
        The UID, not checked.
    """
    v = str(d.get("value") or "")
    if d.get("system") == DICOM_UID_SYSTEM and v.startswith("urn:oid:"):
        return v[len("urn:oid:") :]
    return None


def read_reference(
    d: dict[str, Any], default_kind: ActorKind, where: str, p: ElementPath
) -> Reference:
    """A Reference as a model reference (by identifier, or display, or the literal reference).

    Parameters
    ----------
    d : dict
    default_kind : dicomsel.model.ActorKind
        What the reference points at when neither ``type`` nor the literal reference says.
    where : str
    p : ElementPath

    Returns
    -------
    dicomsel.model.Reference

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``d`` is not a Reference, has no identifier, display or literal reference, or
        names a resource type no ImagingSelection or Observation reference can point at.
    """
    if not isinstance(d, dict):
        raise p.error(where, "is not a Reference")
    rtype = d.get("type")
    literal = d.get("reference")
    if not rtype and isinstance(literal, str) and "/" in literal:
        rtype = literal.split("/")[-2]
    ident = read_identifier(d.get("identifier") or {})
    display = d.get("display")
    if ident is None and not display:
        display = literal
    if ident is None and not display:
        raise p.error(where, "a reference with no identifier, display or literal reference")
    kind = ACTOR_KINDS.get(str(rtype)) if rtype else default_kind
    if kind is None:
        raise p.error(where, f"a reference to a {rtype!r}, which dicomsel does not know")
    return Reference(kind, identifier=ident, display=display)


def read_sop_class(c: dict[str, Any] | None, where: str, p: ElementPath) -> str | None:
    """``urn:oid:<uid>`` (R5 / dicom-sr IG), or a bare UID code (older producers).

    Parameters
    ----------
    c : dict or None
        The ``sopClass`` Coding.
    where : str
    p : ElementPath

    Returns
    -------
    str or None
        The SOP Class UID; None when absent.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If the code is neither form.
    """
    if not c:
        return None
    code = str(c.get("code") or "")
    uid = code[len("urn:oid:") :] if code.startswith("urn:oid:") else code
    if not is_valid_uid(uid):
        raise p.error(where, f"SOP class code {code!r} is neither urn:oid:<UID> nor a UID")
    return uid


def read_performer(
    perf: dict[str, Any],
    where: str,
    p: ElementPath,
    contained: dict[str, dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> Performer | None:
    """An ImagingSelection.performer as a model performer; None when it has no actor.

    An actor that references a contained Practitioner (``#id``) gets the DICOM PN of
    its names (:func:`dicomsel.fhir.humanname.person_name_of`), components restored.

    Parameters
    ----------
    perf : dict
    where : str
        Its path (``performer[i]``).
    p : ElementPath
    contained : dict, optional
        The resource's contained resources by id.
    warnings : list of str, optional
        Receives a name that cannot be a PN (the display is kept).

    Returns
    -------
    dicomsel.model.Performer or None

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If the actor or the function cannot be read.
    """
    if not perf.get("actor"):
        return None
    actor = read_reference(perf["actor"], ActorKind.PERSON, f"{where}.actor", p)
    literal = str(perf["actor"].get("reference") or "")
    target = (contained or {}).get(literal[1:]) if literal.startswith("#") else None
    if target is not None and target.get("resourceType") == "Practitioner":
        try:
            pn = person_name_of(target.get("name") or [], warnings)
        except InvalidInputError as e:
            if warnings is not None:
                warnings.append(f"{p.root}.contained[{literal}].name: {e.reason}; display kept")
            pn = ""
        if pn:
            display = actor.display if actor.display != literal else None
            actor = dataclasses.replace(actor, display=display, person_name=pn)
    code = read_codeable_concept(perf.get("function"), "performer.function", p)
    function: PerformerFunction | Code | None = code
    if code is not None:
        system = code.system or terminology.system_for_scheme(code.scheme or "")
        function = FUNCTION_CODES.get((system, code.value), code)
    return Performer(actor, function)
