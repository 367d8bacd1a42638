"""The content tree of a KOS: TID 2010 Key Object Selection below its title.

The root CONTAINER carries the CID 7010 title; below it, the TID 1002
observer context of each performer (a person by name, a device by UID), the
Key Object Description (the selections' descriptions), and one IMAGE,
COMPOSITE or WAVEFORM item per referenced instance, by SOP class
(:func:`~dicomsel.kos.values.value_type`), with Referenced Frame or Segment
Number when only part of an image is selected.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from dicomsel.kos.plan import Document, Report, actor_type, describe, observer_kind
from dicomsel.kos.uids import dicom_uid
from dicomsel.kos.values import code_item, is_valid_value, value_type
from dicomsel.model import Performer, Reference

__all__ = ["add_content"]

_KEY_OBJECT_DESCRIPTION = ("113012", "DCM", "Key Object Description")
_OBSERVER_TYPE = ("121005", "DCM", "Observer Type")
_PERSON = ("121006", "DCM", "Person")
_DEVICE = ("121007", "DCM", "Device")
_PERSON_NAME = ("121008", "DCM", "Person Observer Name")
_DEVICE_UID = ("121012", "DCM", "Device Observer UID")
_DEVICE_NAME = ("121013", "DCM", "Device Observer Name")


def add_content(ds: Dataset, doc: Document, report: Report) -> None:
    """Set the SR Document Content of ``ds``: the TID 2010 root and its content items.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The KOS being built.
    doc : Document
        Its title, selections (performers, descriptions) and references.
    report : Report
        Where performers a KOS cannot name go.
    """
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = DicomSequence(
        [code_item(str(doc.title.value), "DCM", str(doc.title.meaning))]
    )
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = DicomSequence([template])
    ds.ContentSequence = DicomSequence(_items(doc, report))


def _items(doc: Document, report: Report) -> list[Dataset]:
    """TID 2010 below the title: observer context, description, one item per instance."""
    items: list[Dataset] = []
    performers: list[Performer] = []
    for sel in doc.selections:
        performers.extend(p for p in sel.performers if p not in performers)
    for perf in performers:
        items.extend(_observer(perf.actor, report))
    descriptions: list[str] = []
    for sel in doc.selections:
        if sel.description and sel.description not in descriptions:
            descriptions.append(sel.description)
    if descriptions:
        text = Dataset()
        text.RelationshipType = "CONTAINS"
        text.ValueType = "TEXT"
        text.ConceptNameCodeSequence = DicomSequence([code_item(*_KEY_OBJECT_DESCRIPTION)])
        text.TextValue = "\n".join(descriptions)
        items.append(text)
    for ref in doc.refs.values():
        vt = value_type(ref.sop_class_uid)
        sop = Dataset()
        sop.ReferencedSOPClassUID = ref.sop_class_uid
        sop.ReferencedSOPInstanceUID = ref.uid
        if not ref.whole and vt == "IMAGE":
            if ref.segments:
                sop.ReferencedSegmentNumber = sorted(ref.segments)
            elif ref.frames:
                sop.ReferencedFrameNumber = sorted(ref.frames)
        item = Dataset()
        item.ReferencedSOPSequence = DicomSequence([sop])
        item.RelationshipType = "CONTAINS"
        item.ValueType = vt
        items.append(item)
    return items


def _observer(actor: Reference, report: Report) -> list[Dataset]:
    """TID 1002 observer context of a performer: a person by name, a device by UID."""
    out: list[Dataset] = []

    def obs(vt: str, concept: tuple[str, str, str]) -> Dataset:
        item = Dataset()
        item.RelationshipType = "HAS OBS CONTEXT"
        item.ValueType = vt
        item.ConceptNameCodeSequence = DicomSequence([code_item(*concept)])
        out.append(item)
        return item

    what = describe(actor)
    kind = observer_kind(actor)
    if kind == "device":
        uid = dicom_uid(actor.identifier)
        if uid is None:
            report.lossy(
                f"performer {what}: a device observer needs a Device Observer UID "
                "(identifier urn:dicom:uid): left out"
            )
            return []
        obs("CODE", _OBSERVER_TYPE).ConceptCodeSequence = DicomSequence([code_item(*_DEVICE)])
        obs("UIDREF", _DEVICE_UID).UID = uid
        if actor.display:
            obs("TEXT", _DEVICE_NAME).TextValue = actor.display
        return out
    if kind != "person":
        report.lossy(
            f"performer {what}: a KOS observer is a person or a device, not a "
            f"{actor_type(actor)}: left out"
        )
        return []
    # the PN as read (a contained Practitioner's name, components restored), else a
    # display that is itself a PN value (PS3.5 6.2.1)
    name = actor.person_name or actor.display or ""
    if not name or not is_valid_value("PN", name):
        report.lossy(
            f"performer {what}: no name that is a valid DICOM PN value for Person "
            "Observer's Name: left out"
        )
        return []
    obs("CODE", _OBSERVER_TYPE).ConceptCodeSequence = DicomSequence([code_item(*_PERSON)])
    obs("PNAME", _PERSON_NAME).PersonName = name
    return out
