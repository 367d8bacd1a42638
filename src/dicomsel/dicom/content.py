"""Content tree helpers the KOS and SR readers share: the walk, the observer context.

The observer context (TID 1002) is the HAS OBS CONTEXT items at the root of
a document's content tree; both a Key Object Selection and an SR name their
authors that way. Items are read with the accessors of :mod:`dicomsel.dicom.items`,
so they may be pydicom datasets or items split from the raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import Item, get_seq, get_text, iter_seq
from dicomsel.dicom.values import author, device, first_code, person_of_pn
from dicomsel.model import Identifier, Performer

__all__ = ["is_observer_context", "iter_content", "observer_performers"]

# TID 1002 observer context concept names (DCM)
_OBSERVER_TYPE = "121005"
_PERSON_NAME = "121008"
_PERSON_ORG = "121009"
_DEVICE_UID = "121012"
_DEVICE_NAME = "121013"
_DEVICE_MANUFACTURER = "121014"
_DEVICE_MODEL = "121015"


def _concept(item: Item) -> str | None:
    seq = get_seq(item, tags.ConceptNameCodeSequence)
    if not seq:
        return None
    return get_text(seq[0], tags.CodeValue)


def is_observer_context(item: Item) -> bool:
    """Whether a content item is observer context (Relationship Type HAS OBS CONTEXT).

    Parameters
    ----------
    item : Item

    Returns
    -------
    bool
    """
    return get_text(item, tags.RelationshipType) == "HAS OBS CONTEXT"


def observer_performers(items: Iterable[Item], ctx: ReadContext) -> tuple[Performer, ...]:
    """Observer context (TID 1002, HAS OBS CONTEXT items) as performers.

    Each Observer Type item starts a new observer; a person becomes a
    reference by name (the Person Observer's Name as a DICOM PN, PS3.5 6.2.1,
    with a readable display), a device a reference by identifier (Device
    Observer UID) and display.

    Parameters
    ----------
    items : iterable of Item
        The root content items (or those of them that are observer context).
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
        if not is_observer_context(item):
            continue
        concept = _concept(item)
        vt = get_text(item, tags.ValueType)
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
            current["name"] = (get_text(item, tags.PersonName) or "").strip()
        elif vt == "UIDREF":
            current["uid"] = get_text(item, tags.UID) or ""
        elif vt == "TEXT" and concept is not None:
            current[concept] = get_text(item, tags.TextValue) or ""
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


def iter_content(root: Item) -> Iterator[tuple[Item, int]]:
    """Every content item below ``root``, depth first, with its depth; iterative, not recursive.

    Each Content Sequence is split as it is walked (:func:`~dicomsel.dicom.items.iter_seq`):
    only the items on the path to the current one are held.

    Parameters
    ----------
    root : Item
        A document (or content item).

    Yields
    ------
    tuple
        (content item, depth from 1).
    """
    stack: list[Iterator[Item]] = [iter_seq(root, tags.ContentSequence)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        yield item, len(stack)
        stack.append(iter_seq(item, tags.ContentSequence))
