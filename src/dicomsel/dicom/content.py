"""Content tree helpers the KOS and SR readers share: the walk, the observer context.

The observer context (TID 1002) is the HAS OBS CONTEXT items at the root of
a document's content tree; both a Key Object Selection and an SR name their
authors that way.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.values import author, device, first_code, person_of_pn, text, value
from dicomsel.model import Identifier, Performer

__all__ = ["iter_content", "observer_performers"]

# TID 1002 observer context concept names (DCM)
_OBSERVER_TYPE = "121005"
_PERSON_NAME = "121008"
_PERSON_ORG = "121009"
_DEVICE_UID = "121012"
_DEVICE_NAME = "121013"
_DEVICE_MANUFACTURER = "121014"
_DEVICE_MODEL = "121015"


def _concept(item: Dataset) -> str | None:
    seq = value(item, tags.ConceptNameCodeSequence)
    if not seq:
        return None
    return text(seq[0], tags.CodeValue)


def observer_performers(items: Sequence | list[Dataset], ctx: ReadContext) -> tuple[Performer, ...]:
    """Observer context (TID 1002, HAS OBS CONTEXT items) as performers.

    Each Observer Type item starts a new observer; a person becomes a
    reference by name (the Person Observer's Name as a DICOM PN, PS3.5 6.2.1,
    with a readable display), a device a reference by identifier (Device
    Observer UID) and display.

    Parameters
    ----------
    items : sequence of pydicom.dataset.Dataset
        The root content items.
    ctx : ReadContext

    Returns
    -------
    tuple of Performer
        Authors, in document order.

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When a Device Observer UID is invalid.
    """
    observers: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for item in items:
        # by tag: this runs over every root item, tens of thousands in a large manifest
        if value(item, tags.RelationshipType) != "HAS OBS CONTEXT":
            continue
        concept = _concept(item)
        vt = text(item, tags.ValueType)
        if concept == _OBSERVER_TYPE:
            ctype = first_code(item, tags.ConceptCodeSequence)
            current = {"type": "DEVICE" if ctype and ctype.value == "121007" else "PERSON"}
            observers.append(current)
            continue
        if current is None:
            # TID 1002 defaults to a person observer when the type is left out
            if concept in (_PERSON_NAME, _PERSON_ORG):
                current = {"type": "PERSON"}
                observers.append(current)
            elif concept in (_DEVICE_UID, _DEVICE_NAME, _DEVICE_MANUFACTURER, _DEVICE_MODEL):
                current = {"type": "DEVICE"}
                observers.append(current)
            else:
                continue
        if vt == "PNAME":
            current["name"] = str(item.get("PersonName", "")).strip()
        elif vt == "UIDREF":
            current["uid"] = str(item.get("UID", "")).strip()
        elif vt == "TEXT" and concept is not None:
            current[concept] = str(item.get("TextValue", "")).strip()
    out: list[Performer] = []
    for obs in observers:
        if obs["type"] == "PERSON":
            actor = person_of_pn(
                obs.get("name"), "Person Observer's Name (DCM 121008)", ctx, obs.get(_PERSON_ORG)
            )
            if actor is None:
                ctx.warn("a person observer has no Person Observer's Name: left out")
                continue
            out.append(author(actor))
        else:
            uid = obs.get("uid")
            ident = None
            if uid:
                ident = Identifier.dicom_uid(ctx.uid(uid, "Device Observer UID (DCM 121012)"))
            parts = [obs.get(_DEVICE_NAME), obs.get(_DEVICE_MANUFACTURER), obs.get(_DEVICE_MODEL)]
            name_parts = " ".join(p for p in parts if p) or None
            if ident is None and name_parts is None:
                ctx.warn("a device observer has neither UID nor name: left out")
                continue
            out.append(author(device(ident, name_parts)))
    return tuple(out)


def iter_content(root: Dataset) -> Iterator[tuple[Dataset, int]]:
    """Every content item below ``root``, depth first, with its depth; iterative, not recursive.

    Parameters
    ----------
    root : pydicom.dataset.Dataset
        A document (or content item).

    Yields
    ------
    tuple
        (content item, depth from 1).
    """
    stack: list[tuple[Dataset, int]] = [
        (item, 1) for item in reversed(value(root, tags.ContentSequence) or ())
    ]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        children = value(item, tags.ContentSequence)
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
