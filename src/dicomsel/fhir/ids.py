"""Resource ids and literal references: UUIDv5 in one namespace, and back.

The same source UIDs always give the same ids, so re-running a conversion
writes the same resources (and a transaction Bundle of PUTs is idempotent).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from dicomsel.fhir.vocabulary import CONNECTION_TYPES
from dicomsel.model import Endpoint, Selection

__all__ = [
    "ID_NAMESPACE",
    "IdFactory",
    "bundle_id",
    "endpoint_id",
    "key_id",
    "observation_id",
    "relative_reference",
    "resource_uid",
    "selection_id",
    "target_id",
]

#: Namespace of the UUIDv5 resource ids: the same source UIDs always give the same ids.
ID_NAMESPACE = uuid.UUID("5b0d0a44-6f1e-5c2a-9a53-6469636f6d73")

#: ``(resource_type, id) -> str``: how a writer spells a literal reference.
IdFactory = Callable[[str, str], str]


def selection_id(sel: Selection) -> str:
    """The resource id of a selection: UUIDv5 of its source UID and key.

    Parameters
    ----------
    sel : dicomsel.model.Selection

    Returns
    -------
    str
    """
    return key_id(sel.source_uid, sel.key)


def key_id(source_uid: str, key: str) -> str:
    """The resource id of the selection ``key`` read from the object ``source_uid``.

    Parameters
    ----------
    source_uid : str
        The SOP Instance UID of the object the selection was read from.
    key : str
        The selection's key (suffixed where a flavour splits a selection).

    Returns
    -------
    str
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"ImagingSelection|{source_uid}|{key}"))


def endpoint_id(ep: Endpoint) -> str:
    """The resource id of an endpoint: UUIDv5 of what it is.

    Parameters
    ----------
    ep : dicomsel.model.Endpoint

    Returns
    -------
    str
    """
    return str(
        uuid.uuid5(
            ID_NAMESPACE,
            f"Endpoint|{CONNECTION_TYPES[ep.kind]}|{ep.address}|{ep.ae_title}|{ep.location_uid}",
        )
    )


def observation_id(source_uid: str, key: str) -> str:
    """The resource id of the observation ``key`` read from the object ``source_uid``.

    Parameters
    ----------
    source_uid : str
    key : str

    Returns
    -------
    str
    """
    return str(uuid.uuid5(ID_NAMESPACE, f"Observation|{source_uid}|{key}"))


def bundle_id(fmt: str, references: Iterable[str]) -> str:
    """The id of a Bundle of format ``fmt`` holding the resources ``Type/id`` listed.

    Parameters
    ----------
    fmt : str
        ``bundle`` or ``transaction``.
    references : iterable of str
        ``Type/id`` of each entry, in order.

    Returns
    -------
    str
    """
    return str(uuid.uuid5(ID_NAMESPACE, "Bundle|" + fmt + "|" + "|".join(references)))


def resource_uid(resource_id: str) -> str:
    """A DICOM UID derived from a resource id (PS3.5 B.2: ``2.25.`` and a UUID as integer).

    For a resource read without a DICOM identifier.

    Parameters
    ----------
    resource_id : str

    Returns
    -------
    str
    """
    return f"2.25.{uuid.uuid5(ID_NAMESPACE, 'resource|' + resource_id).int}"


def relative_reference(resource_type: str, rid: str) -> str:
    """``Type/id``: a literal reference relative to the server base.

    Parameters
    ----------
    resource_type : str
    rid : str

    Returns
    -------
    str
    """
    return f"{resource_type}/{rid}"


def target_id(ref: dict[str, Any]) -> str:
    """The id a literal reference points at: ``Type/id`` or a Bundle's ``urn:uuid:id``.

    Parameters
    ----------
    ref : dict
        A FHIR Reference.

    Returns
    -------
    str
        Empty when the reference has no literal ``reference``.
    """
    literal = str(ref.get("reference") or "")
    return literal.rsplit("/", 1)[-1].removeprefix("urn:uuid:")
