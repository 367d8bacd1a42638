"""Terminology tables shared by every reader and writer.

The tables live as data in ``dicomsel/data`` so that one place answers, in
both directions: which FHIR system a DICOM coding scheme designator is
(``coding_schemes.json``), what a SOP class is called (``sop_classes.json``,
generated from PS3.6 by ``tools/gen_sop_classes.py``) and how image region
types are written in each FHIR flavour (``region_types.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dicomsel.model import Code
from dicomsel.uid import is_valid_uid

__all__ = [
    "DCM",
    "RTSTRUCT_SOP_CLASSES",
    "SEG_SOP_CLASSES",
    "SINGLE_FRAME_CLASSES",
    "SOP_CLASS_SYSTEM",
    "V2_0203",
    "V2_0203_DISPLAYS",
    "RegionType",
    "canonical_scheme",
    "is_sr_sop_class",
    "key_object_title",
    "key_object_titles",
    "normalise_code",
    "r5_codes",
    "region_type",
    "region_types",
    "scheme_for_system",
    "scheme_version",
    "sct_for_srt",
    "snapshot1_codes",
    "snapshot1_coordinate_types",
    "snapshot1_region",
    "sop_class_name",
    "system_for_scheme",
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
#: The system of ``instance.sopClass`` codings: RFC 3986 URIs, ``urn:oid:<uid>``.
SOP_CLASS_SYSTEM = "urn:ietf:rfc:3986"
#: HL7 v2 table 0203, identifier types: the Defined Terms of Identifier Type Code
#: (0040,0035) (PS3.3 C.7.1.1) and the types dicomsel gives accession, placer and
#: filler numbers.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
#: Displays of the v2-0203 codes dicomsel writes or reads most (HL7 v2 table 0203).
V2_0203_DISPLAYS = {
    "ACSN": "Accession ID",
    "PLAC": "Placer Identifier",
    "FILL": "Filler Identifier",
    "MR": "Medical record number",
    "PI": "Patient internal identifier",
    "PT": "Patient external identifier",
    "PN": "Person number",
    "SS": "Social Security number",
    "DL": "Driver's license number",
    "PPN": "Passport number",
    "NI": "National unique individual identifier",
}

#: Segmentation Storage and Label Map Segmentation Storage: a subset means segment numbers.
SEG_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
#: RT Structure Set Storage: a subset means ROI numbers.
RTSTRUCT_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.481.3"})
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."

#: Image classes whose IODs have no Multi-frame Module: their instances are never
#: multi-frame, so a SEG of them needs no per-frame walk to name source frames.
SINGLE_FRAME_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.1.3",  # Digital Intra-Oral X-Ray Image - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.3.1",  # Digital Intra-Oral X-Ray Image - For Processing
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.2",  # VL Microscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.3",  # VL Slide-Coordinates Microscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image
    }
)


def is_sr_sop_class(uid: str | None) -> bool:
    """Whether ``uid`` is a Structured Report storage class (a subset means observation UIDs)."""
    return bool(uid) and str(uid).startswith(_SR_PREFIX)


def _data(name: str) -> Any:
    text = resources.files("dicomsel").joinpath(f"data/{name}").read_text("utf-8")
    return json.loads(text)


@cache
def _schemes() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = _data("coding_schemes.json")["schemes"]
    return table


@cache
def _systems() -> dict[str, str]:
    """System URI (written or alias) and ``urn:oid:`` of the scheme OID -> designator."""
    out: dict[str, str] = {}
    for scheme, row in _schemes().items():
        if row.get("read_as"):
            continue  # SNM3, 99SDM: written as SRT's system, read back as SRT
        out.setdefault(row["system"], scheme)
        for alias in row.get("aliases", ()):
            out.setdefault(alias, scheme)
        if row.get("oid"):
            out.setdefault(f"urn:oid:{row['oid']}", scheme)
    return out


@cache
def _folded() -> dict[str, str]:
    """Upper-cased designator (and designator alias) -> the table's designator."""
    out: dict[str, str] = {}
    for scheme, row in _schemes().items():
        out.setdefault(scheme.upper(), scheme)
        for alias in row.get("aliases_designator", ()):
            out.setdefault(alias.upper(), scheme)
    return out


def canonical_scheme(designator: str) -> str:
    """A Coding Scheme Designator as PS3.16 Table 8-1 spells it (``RadLex`` -> ``RADLEX``).

    Designators are matched case-insensitively (the dicom-sr IG's own examples
    write ``RadLex``); one the table does not know is returned as given.

    Parameters
    ----------
    designator : str

    Returns
    -------
    str
    """
    if designator in _schemes():
        return designator
    return _folded().get(designator.upper(), designator)


@cache
def _srt_sct() -> dict[str, str]:
    table: dict[str, str] = _data("srt_sct.json")["srt_to_sct"]
    return table


#: The designators of SNOMED-RT style SnomedIDs (PS3.16 8.1: SNM3 and 99SDM read as SRT).
_SNOMED_RT = frozenset({"SRT", "SNM3", "99SDM"})


def sct_for_srt(snomed_id: str) -> str | None:
    """The SNOMED CT concept id of a SNOMED-RT style SnomedID (PS3.16 Annex O), or None.

    Parameters
    ----------
    snomed_id : str
        A code value of scheme ``SRT`` (``T-32000``, ``G-C0E3``).

    Returns
    -------
    str or None
    """
    return _srt_sct().get(snomed_id.strip().upper())


def normalise_code(value: str, designator: str) -> tuple[str, str]:
    """A (code value, designator) pair as concepts are compared and written.

    The designator is made canonical (:func:`canonical_scheme`); a SNOMED-RT
    code (``SRT``, ``SNM3``, ``99SDM``) that PS3.16 Annex O maps becomes its
    SNOMED CT concept id with designator ``SCT``. Anything else is returned
    as it stands.

    Parameters
    ----------
    value : str
    designator : str

    Returns
    -------
    tuple of str
    """
    scheme = canonical_scheme(designator)
    if scheme in _SNOMED_RT:
        sct = sct_for_srt(value)
        if sct is not None:
            return sct, "SCT"
    return value, scheme


def scheme_version(designator: str) -> str | None:
    """The Coding.version a scheme implies when the code gives none (``ICD-O-2``: ``2``)."""
    row = _schemes().get(canonical_scheme(designator))
    return str(row["version"]) if row and row.get("version") else None


def system_for_scheme(designator: str) -> str | None:
    """The FHIR system URI of a DICOM Coding Scheme Designator, or None if unknown.

    Designators match case-insensitively. ``99``-prefixed (private) designators
    other than PS3.16's ``99SDM`` and those the dicom-sr IG names
    (``99LIDCQIICR``), and unknown ones, give None; the caller decides how to report that. A
    designator that is itself a UID (PS3.16 allows the scheme UID as
    designator) becomes ``urn:oid:<uid>``.
    """
    known = _schemes().get(canonical_scheme(designator))
    if known is not None:
        return str(known["system"])
    if is_valid_uid(designator) and "." in designator:
        return f"urn:oid:{designator}"
    return None


def scheme_for_system(system: str) -> str | None:
    """The DICOM Coding Scheme Designator of a FHIR system URI, or None if unknown.

    Aliases seen in practice (``http://www.radlex.org``, the pre-THO UMLS and
    NCIt URIs, ...) and ``urn:oid:`` of a known scheme's OID give that scheme;
    another ``urn:oid:<uid>`` gives the UID itself (PS3.16 allows it as a
    designator).
    """
    known = _systems().get(system)
    if known is not None:
        return known
    if system.startswith("urn:oid:"):
        return system[len("urn:oid:") :]
    return None


@cache
def _sop_classes() -> dict[str, str]:
    table: dict[str, str] = _data("sop_classes.json")["sop_classes"]
    return table


def sop_class_name(uid: str) -> str | None:
    """The name of a SOP Class UID from PS3.6 (``data/sop_classes.json``), or None."""
    return _sop_classes().get(uid)


# ---- image region types (data/region_types.json)


@dataclass(frozen=True, slots=True)
class RegionType:
    """One row of the region type table.

    ``points``: the number of coordinate tuples, exact (> 0) or a minimum (its
    negation, < 0). ``r5`` / ``snapshot1``: the flavour's code, None when the
    flavour has none; ``*_note``: how the writer converts what has no code.
    """

    dims: int
    type: str
    points: int
    r5: str | None
    snapshot1: str
    r5_note: str | None = None
    snapshot1_note: str | None = None

    def fits(self, n_coordinates: int) -> str | None:
        """None if ``n_coordinates`` numbers fit this type, else why not."""
        if n_coordinates % self.dims:
            return f"{n_coordinates} coordinates is not a multiple of {self.dims}"
        n = n_coordinates // self.dims
        if (self.points > 0 and n != self.points) or (self.points < 0 and n < -self.points):
            need = f"exactly {self.points}" if self.points > 0 else f"at least {-self.points}"
            return f"{n} point(s) given, {need} needed for {self.type}"
        return None


@cache
def region_types() -> tuple[RegionType, ...]:
    """Every row of ``data/region_types.json``."""
    return tuple(RegionType(**row) for row in _data("region_types.json")["regions"])


def region_type(dims: int, model_type: str) -> RegionType:
    """The row of a model region type (``"circle"``...) in ``dims`` dimensions; KeyError if none."""
    for row in region_types():
        if row.dims == dims and row.type == model_type:
            return row
    raise KeyError(f"no {dims}D region type {model_type!r}")


@cache
def r5_codes(dims: int) -> frozenset[str]:
    """The codes R5's required binding allows for ``imageRegion2D`` / ``imageRegion3D``."""
    return frozenset(r.r5 for r in region_types() if r.dims == dims and r.r5)


@cache
def snapshot1_codes() -> frozenset[str]:
    """Snapshot #1's ImagingSelectionGraphicType codes (spec line 116)."""
    return frozenset(r.snapshot1 for r in region_types())


@cache
def snapshot1_coordinate_types() -> dict[str, int]:
    """Snapshot #1's ImagingSelectionCoordinateType codes -> dimensions (``2d``: 2, ``3d``: 3)."""
    table: dict[str, int] = _data("region_types.json")["snapshot1_coordinate_types"]
    return table


def snapshot1_region(dims: int, code: str) -> RegionType | None:
    """The model region type a Snapshot #1 ``regionType`` reads as, or None if it has none.

    A code that several model types write to (``ELLIPSE`` from a circle or an
    ellipse, ``POLYLINE`` from a polyline or an interpolated curve) reads as the
    type it names; a 2D ``POLYGON`` reads as a (closed) polyline.
    """
    for row in region_types():
        if row.dims == dims and row.type.upper() == code:
            return row
    alias = _data("region_types.json")["snapshot1_read_2d"].get(code) if dims == 2 else None
    return region_type(2, alias) if alias else None


# --- CID 7010 Key Object Selection Document Title (the reverse path, dicomsel.kos) ---


@cache
def key_object_titles() -> dict[str, str]:
    """PS3.16 CID 7010 "Key Object Selection Document Title": DCM code value -> code meaning."""
    text = resources.files("dicomsel").joinpath("data/cid7010.json").read_text("utf-8")
    titles: dict[str, str] = json.loads(text)["titles"]
    return titles


def key_object_title(code: Code) -> Code | None:
    """The CID 7010 document title ``code`` stands for, with its standard meaning; else None.

    ``code`` matches when its value is a CID 7010 code value and its scheme is
    ``DCM`` (given as the designator or as the DCM system URI). The meaning is
    always the one PS3.16 gives, whatever display the input carried.
    """
    if not code.value:
        return None
    if code.scheme != "DCM" and code.system != DCM:
        return None
    meaning = key_object_titles().get(code.value)
    if meaning is None:
        return None
    return Code(value=code.value, scheme="DCM", meaning=meaning)
