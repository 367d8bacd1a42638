"""An SR's R5 resources as the dicom-sr IG's resource graph, each claiming its profile.

:func:`write_graph` takes what the R5 writers made of an SR (ImagingSelections,
Observations) and the document's descriptor (:class:`dicomsel.model.SrDocument`)
and returns the IG's graph: the same selections and observations with
``meta.profile`` and what their profiles ask for (the IG's sopClass system, the
Observation's device, category and bodyStructure), plus the Devices (general
equipment, algorithms, device observers), Practitioners (person observers),
BodyStructures (finding sites) and the DiagnosticReport that holds the
observations. References inside the graph are literal (``Type/id``); ids are
UUIDv5 of the document's SOP Instance UID and what the resource stands for.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from dicomsel import terminology
from dicomsel.document import SrDocument
from dicomsel.fhir.datatypes import code_to_codeable_concept, typed_uid_identifier
from dicomsel.fhir.datatypes import reference as reference_json
from dicomsel.fhir.humanname import human_name
from dicomsel.fhir.ids import ID_NAMESPACE, relative_reference, target_id
from dicomsel.fhir.primitives import instant

__all__ = ["IG", "PROFILES", "SOP_CLASS_SYSTEM", "write_graph"]

#: The IG's canonical base; each profile's URL is ``IG + "/StructureDefinition/" + name``.
IG = "http://hl7.org/fhir/uv/dicom-sr"
#: The IG's sopClass system (its patterns), not R5 core's ``urn:ietf:rfc:3986``.
SOP_CLASS_SYSTEM = "https://dicom.nema.org/medical/dicom/current/output/chtml/part04/sect_B.5"

#: The profiles dicomsel writes, by name (the StructureDefinitions' ``id``).
PROFILES = (
    "algorithm-identification",
    "dicom-general-equipment",
    "dicom-participant-device",
    "dicom-participant-person",
    "dicom-sr-finding-site",
    "image-region-2d",
    "image-region-3d",
    "imaging-measurement",
    "imaging-measurement-group",
    "imaging-qualitative-evaluation",
    "illustration-of-roi",
    "real-world-value-map",
    "referenced-segment",
    "referenced-segmentation-frame",
    "region-in-space",
    "source-image-for-segmentation",
    "source-sr-content-item",
    "visual-explanation",
    "volume-surface",
)

_DCM = terminology.DCM
_DATA_ABSENT_EXT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
_RADIOLOGY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
            "code": "RAD",
            "display": "Radiology",
        }
    ]
}
#: DCM code of a selection -> its profile (shape checks in :func:`_selection_profile`)
_SELECTION_CODES = {
    "111030": "image-region",
    "121191": "referenced-segment",
    "121214": "referenced-segmentation-frame",
    "121233": "source-image-for-segmentation",
    "111040": "source-sr-content-item",
    "126100": "real-world-value-map",
    "121200": "illustration-of-roi",
    "130401": "visual-explanation",
    "121231": "volume-surface",
    "130488": "region-in-space",
}
#: SOP classes the source-sr-content-item profile slices instance by
_SR_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.34",
    }
)
_SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
_OBSERVATION_PROFILES = {
    "group": "imaging-measurement-group",
    "measurement": "imaging-measurement",
    "qualitative": "imaging-qualitative-evaluation",
}
#: derivedFrom slices of imaging-observation of at most one reference each
_SINGLE_DERIVED = frozenset(
    {
        "source-sr-content-item",
        "image-region-2d",
        "image-region-3d",
        "referenced-segment",
        "referenced-segmentation-frame",
        "region-in-space",
        "volume-surface",
        "real-world-value-map",
        "illustration-of-roi",
        "visual-explanation",
    }
)


def profile_url(name: str) -> str:
    """The canonical URL of the IG profile ``name``."""
    return f"{IG}/StructureDefinition/{name}"


def _id(kind: str, source_uid: str, what: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}|dicom-sr|{source_uid}|{what}"))


def _claim(res: dict[str, Any], name: str) -> dict[str, Any]:
    """``res`` with ``meta.profile`` the IG profile ``name``, ``meta`` right after ``id``."""
    out: dict[str, Any] = {"resourceType": res["resourceType"], "id": res["id"]}
    out["meta"] = {"profile": [profile_url(name)]}
    out.update((k, v) for k, v in res.items() if k not in out)
    return out


def _absent() -> dict[str, Any]:
    return {"extension": [{"url": _DATA_ABSENT_EXT, "valueCode": "unknown"}]}


def _ref(res: dict[str, Any]) -> dict[str, Any]:
    return {"reference": relative_reference(res["resourceType"], res["id"])}


def _code_of(res: dict[str, Any]) -> str | None:
    for c in (res.get("code") or {}).get("coding") or []:
        if c.get("system") == _DCM:
            return str(c.get("code"))
    return None


def _sop_uid(inst: dict[str, Any]) -> str | None:
    code = str((inst.get("sopClass") or {}).get("code") or "")
    return code.removeprefix("urn:oid:") or None


def _selection_profile(res: dict[str, Any]) -> tuple[str | None, str | None]:
    """The profile a selection meets, or None and why none fits."""
    kind = _SELECTION_CODES.get(_code_of(res) or "")
    instances = res.get("instance") or []
    if kind is None:
        return None, "the IG has no profile for its code"
    if not instances:
        return None, f"{kind} needs at least one instance"
    if kind == "image-region":
        if res.get("frameOfReferenceUid") and any(i.get("imageRegion3D") for i in instances):
            return "image-region-3d", None
        regions = [len(i.get("imageRegion2D") or []) for i in instances]
        if any(regions) and max(regions) == 1:
            return "image-region-2d", None
        return None, "image-region-2d takes one 2D region per instance"
    if kind in ("referenced-segment", "referenced-segmentation-frame"):
        if all(_sop_uid(i) == _SEGMENTATION and len(i.get("subset") or []) == 1 for i in instances):
            return kind, None
        return None, f"{kind} takes Segmentation instances with one number each"
    if kind == "source-sr-content-item":
        one = instances[0]
        if (
            len(instances) == 1
            and _sop_uid(one) in _SR_CLASSES
            and len(one.get("subset") or []) == 1
        ):
            return kind, None
        return None, f"{kind} takes one Basic, Enhanced or Comprehensive (3D) SR content item"
    if kind == "region-in-space":
        # the IG's sopClass pattern reads 11.2.840...481.3, no real UID: nothing can meet it
        return None, "the IG's RT Structure Set sopClass pattern is no valid UID"
    if kind == "volume-surface" and not res.get("frameOfReferenceUid"):
        return None, f"{kind} needs a frame of reference"
    return kind, None


#: displays of the IG's code patterns where PS3.16's capitalisation differs
_IG_DISPLAYS = {"121233": "Source image for segmentation"}


def _ig_display(res: dict[str, Any]) -> None:
    for c in (res.get("code") or {}).get("coding") or []:
        if c.get("system") == _DCM and c.get("code") in _IG_DISPLAYS:
            c["display"] = _IG_DISPLAYS[c["code"]]


def _ig_sop_classes(res: dict[str, Any]) -> None:
    for inst in res.get("instance") or []:
        uid = _sop_uid(inst)
        if uid is None:
            continue
        coding: dict[str, Any] = {"system": SOP_CLASS_SYSTEM, "code": uid}
        name = terminology.sop_class_name(uid)
        if name:
            coding["display"] = name
        inst["sopClass"] = coding


class _Graph:
    """The resources of one document's graph, built in order."""

    def __init__(self, doc: SrDocument, warnings: list[str]) -> None:
        self.doc = doc
        self.warnings = warnings
        self.devices: list[dict[str, Any]] = []
        self.people: list[dict[str, Any]] = []
        self.sites: dict[str, dict[str, Any]] = {}
        self.equipment = self._equipment()
        self.algorithms = {self._label(n, v): self._algorithm(n, v) for n, v in doc.algorithms}
        self.observers: dict[str, dict[str, Any]] = {}
        for i, d in enumerate(doc.device_observers):
            ref = reference_json(d)
            res = self._participant_device(i, d.display, ref.get("identifier"))
            self.observers[_device_key(ref)] = res
        for i, pn in enumerate(doc.person_names):
            self.people.append(
                _claim(
                    {
                        "resourceType": "Practitioner",
                        "id": _id("Practitioner", doc.source_uid, f"person|{i}|{pn}"),
                        "name": [human_name(pn)],
                    },
                    "dicom-participant-person",
                )
            )

    @staticmethod
    def _label(name: str, version: str | None) -> str:
        return f"{name} {version}" if version else name

    def _subject(self) -> dict[str, Any]:
        return reference_json(self.doc.subject) if self.doc.subject is not None else _absent()

    def _equipment(self) -> dict[str, Any]:
        eq = self.doc.equipment
        res: dict[str, Any] = {
            "resourceType": "Device",
            "id": _id("Device", self.doc.source_uid, "equipment"),
        }
        if eq is not None:
            if eq.device_uid:
                res["identifier"] = [
                    {"system": "urn:dicom:uid", "value": f"urn:oid:{eq.device_uid}"}
                ]
            label = " ".join(p for p in (eq.manufacturer, eq.model_name) if p)
            if label:
                res["displayName"] = label
            if eq.manufacturer:
                res["manufacturer"] = eq.manufacturer
            if eq.serial_number:
                res["serialNumber"] = eq.serial_number
            if eq.model_name:
                res["modelNumber"] = eq.model_name
            if eq.software_versions:
                res["version"] = [{"value": v} for v in eq.software_versions]
        res = _claim(res, "dicom-general-equipment")
        self.devices.append(res)
        return res

    def _algorithm(self, name: str, version: str | None) -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "Device",
            "id": _id("Device", self.doc.source_uid, f"algorithm|{name}|{version}"),
            "displayName": name,
        }
        if version:
            res["version"] = [{"value": version}]
        res["parent"] = _ref(self.equipment)
        res = _claim(res, "algorithm-identification")
        self.devices.append(res)
        return res

    def _participant_device(
        self, i: int, display: str | None, ident: dict[str, Any] | None
    ) -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "Device",
            "id": _id("Device", self.doc.source_uid, f"observer|{i}|{display}"),
        }
        if ident is not None:
            res["identifier"] = [ident]
        if display:
            res["displayName"] = display
        res = _claim(res, "dicom-participant-device")
        self.devices.append(res)
        return res

    def device_for(self, device: dict[str, Any] | None) -> dict[str, Any]:
        """The graph's Device for an Observation's logical device reference."""
        display = (device or {}).get("display") or ""
        if display in self.algorithms:
            return self.algorithms[display]
        return self.observers.get(_device_key(device or {}), self.equipment)

    def site_for(self, obs: dict[str, Any], key: str, body_site: dict[str, Any]) -> dict[str, Any]:
        """The BodyStructure (dicom-sr-finding-site) of a finding site, shared by a group."""
        site = self.sites.get(key)
        if site is None:
            res: dict[str, Any] = {
                "resourceType": "BodyStructure",
                "id": _id("BodyStructure", self.doc.source_uid, key),
            }
            tracking = [
                i for i in obs.get("identifier") or [] if _type_code(i) in ("112039", "112040")
            ]
            if tracking:
                res["identifier"] = tracking
            res["includedStructure"] = [{"structure": body_site}]
            res["patient"] = self._subject()
            site = self.sites[key] = _claim(res, "dicom-sr-finding-site")
        return site


def _device_key(ref: dict[str, Any]) -> str:
    """What tells device observers apart in logical references: identifier, display."""
    ident = ref.get("identifier") or {}
    return f"{ident.get('value', '')}|{ref.get('display', '')}"


def _type_code(identifier: dict[str, Any]) -> str | None:
    for c in (identifier.get("type") or {}).get("coding") or []:
        return str(c.get("code"))
    return None


def _status(doc: SrDocument) -> str:
    if doc.preliminary_flag == "PRELIMINARY":
        return "preliminary"
    if doc.preliminary_flag == "FINAL":
        return "final"
    if doc.completion_flag == "PARTIAL":
        return "partial"
    if doc.completion_flag == "COMPLETE" and doc.verification_flag == "VERIFIED":
        return "final"
    if doc.completion_flag is None and doc.verification_flag is None:
        return "unknown"
    return "preliminary"


def write_graph(
    doc: SrDocument, resources: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The dicom-sr IG's graph of an SR: its R5 resources profiled, and the rest of the graph.

    Parameters
    ----------
    doc : dicomsel.model.SrDocument
        The document's descriptor (:attr:`dicomsel.dicom.ReadResult.document`).
    resources : sequence of dict
        What the R5 writers made of the SR: ImagingSelections and Observations
        (references between them literal, ``Type/id``). Not changed.

    Returns
    -------
    list of dict
        DiagnosticReport, the selections, the observations, then Devices,
        Practitioners and BodyStructures, each claiming its profile (the
        DiagnosticReport, which the IG gives no profile, and selections the IG
        has no profile for claim none).
    list of str
        What does not meet a profile and so claims none, or was left out.
    """
    warnings: list[str] = []
    graph = _Graph(doc, warnings)
    resources = [json.loads(json.dumps(r)) for r in resources]  # never change the caller's
    profile_of: dict[str, str] = {}
    selections: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for res in resources:
        if res["resourceType"] == "ImagingSelection":
            name, why = _selection_profile(res)
            if name is None:
                if why != "the IG has no profile for its code":
                    warnings.append(f"ImagingSelection/{res['id']}: claims no profile: {why}")
                selections.append(res)
                continue
            _ig_sop_classes(res)
            _ig_display(res)
            res.setdefault("subject", _absent())
            profile_of[res["id"]] = name
            selections.append(_claim(res, name))
        elif res["resourceType"] == "Observation":
            observations.append(res)
    people = [_ref(p) for p in graph.people]
    by_id = {o["id"]: o for o in observations}
    members = {target_id(m) for o in observations for m in o.get("hasMember") or []}
    group_of = {target_id(m): o["id"] for o in observations for m in o.get("hasMember") or []}
    profiled: list[dict[str, Any]] = []
    sites = {o["id"]: o["bodySite"] for o in observations if "bodySite" in o}
    for obs in observations:
        name = _observation_profile(obs)
        obs["subject"] = obs.get("subject") or _absent()
        if "issued" not in obs:
            obs["_issued"] = _absent()
        if people:
            obs["performer"] = people
        obs["device"] = _ref(graph.device_for(obs.get("device")))
        if obs["id"] in sites:
            group = group_of.get(obs["id"])
            owner = by_id.get(group) if group else None
            if owner is not None and sites.get(owner["id"]) == sites[obs["id"]]:
                site = graph.site_for(owner, f"site|{owner['id']}", sites[owner["id"]])
            else:
                site = graph.site_for(obs, f"site|{obs['id']}", sites[obs["id"]])
            # R5 obs-8: bodyStructure only without bodySite; the site is the structure's
            del obs["bodySite"]
            obs["bodyStructure"] = _ref(site)
        _single_derived(obs, by_id, profile_of, warnings)
        if name is None:
            warnings.append(f"Observation/{obs['id']}: claims no profile: {_why_not(obs)}")
            profiled.append(obs)
        else:
            profiled.append(_claim(obs, name))
    report = _report(doc, graph, [o for o in observations if o["id"] not in members])
    out = [report, *selections, *profiled, *graph.devices, *graph.people]
    out.extend(graph.sites[k] for k in sorted(graph.sites))
    return out, warnings


def _observation_profile(obs: dict[str, Any]) -> str | None:
    category = {c.get("code") for cc in obs.get("category") or [] for c in cc.get("coding") or []}
    if "C0034375" in category:
        return "imaging-qualitative-evaluation" if "valueCodeableConcept" in obs else None
    if "hasMember" in obs or "125007" in category or _code_of(obs) == "125007":
        return "imaging-measurement-group" if "partOf" in obs else None
    if "valueQuantity" in obs and "partOf" in obs:
        return "imaging-measurement"
    return None


def _why_not(obs: dict[str, Any]) -> str:
    if "partOf" not in obs:
        return "no Study Instance UID for partOf (ImagingStudy), which every IG observation needs"
    return "no value of the type its profile needs (a NUM without value, a TEXT evaluation)"


def _single_derived(
    obs: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    profile_of: dict[str, str],
    warnings: list[str],
) -> None:
    """Keep at most one derivedFrom per single-reference slice (a group: its own region).

    A group whose members carry their own regions derives from them through its
    members; what the slices still cannot hold is reported.
    """
    derived = obs.get("derivedFrom") or []
    carried = {
        target_id(d)
        for m in obs.get("hasMember") or []
        for d in (by_id.get(target_id(m)) or {}).get("derivedFrom") or []
    }
    seen: set[str] = set()
    kept: list[dict[str, Any]] = []
    for ref in derived:
        tid = target_id(ref)
        name = profile_of.get(tid)
        if name in _SINGLE_DERIVED:
            if tid in carried and obs.get("hasMember"):
                continue
            if name in seen:
                warnings.append(
                    f"Observation/{obs['id']}: derivedFrom ImagingSelection/{tid} left out: "
                    f"the IG's {name} slice holds one selection"
                )
                continue
            seen.add(name)
        kept.append(ref)
    if kept:
        obs["derivedFrom"] = kept
    else:
        obs.pop("derivedFrom", None)


def _report(doc: SrDocument, graph: _Graph, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The DiagnosticReport of the document (the IG's example claims no profile)."""
    res: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": _id("DiagnosticReport", doc.source_uid, "report"),
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{doc.source_uid}"}],
    }
    if doc.based_on:
        res["basedOn"] = [reference_json(r) for r in doc.based_on]
    res["status"] = _status(doc)
    res["category"] = [_RADIOLOGY]
    res["code"] = code_to_codeable_concept(doc.title, graph.warnings)
    if doc.subject is not None:
        res["subject"] = reference_json(doc.subject)
    if doc.issued is not None:
        res["issued"] = instant(doc.issued)
    if graph.people:
        res["performer"] = [_ref(p) for p in graph.people]
    if results:
        res["result"] = [_ref(o) for o in results]
    if doc.study_instance_uid:
        res["study"] = [
            {
                "type": "ImagingStudy",
                "identifier": typed_uid_identifier(
                    doc.study_instance_uid, _DCM, "110180", "Study Instance UID"
                ),
            }
        ]
    return res
