"""The UIDs of the documents written, and the UIDs a KOS takes from identifiers.

New Series and SOP Instance UIDs are derived from a digest of everything a
document is made of (:func:`content_key`), so the same input always gives the
same UIDs (:func:`kos_uid`).
"""

from __future__ import annotations

import hashlib
import uuid

from dicomsel.model import Identifier, IdentifierKind
from dicomsel.uid import check_uid, is_valid_uid

__all__ = ["UID_NAMESPACE", "content_key", "dicom_uid", "kos_uid"]

#: Namespace of the UUIDv5-derived UIDs of the documents written here.
UID_NAMESPACE = uuid.UUID("6f1c7d1e-2a9b-5c55-8a0e-6b6f73646963")


def kos_uid(key: str, what: str, root: str | None = None) -> str:
    """A new UID derived from ``key``: the same key always gives the same UID.

    Parameters
    ----------
    key : str
        What the UID is of (:func:`content_key`).
    what : str
        Which UID of it (``series``, ``instance``): different UIDs of one key.
    root : str, optional
        The UID root (``--uid-root``).

    Returns
    -------
    str
        Without ``root``: ``2.25.`` and the integer of the UUIDv5 of
        ``what|key`` (PS3.5 B.2). With ``root``: ``root.`` and as many decimal
        digits of that integer as fit in 64 characters.

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When ``root`` does not make a valid UID.
    """
    value = uuid.uuid5(UID_NAMESPACE, f"{what}|{key}").int
    if root is None:
        return f"2.25.{value}"
    digits = min(39, 64 - len(root) - 1)
    return check_uid(f"{root}.{value % 10**digits}", "--uid-root")


def content_key(parts: object) -> str:
    """A digest of what a document is made of, the key of its new UIDs.

    Parameters
    ----------
    parts : object
        Frozen dataclasses, tuples, lists, strings and numbers, whose ``repr``
        is stable across runs (sets sorted first).

    Returns
    -------
    str
        The SHA-256 of that ``repr``, in hex.
    """
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def dicom_uid(ident: Identifier | None) -> str | None:
    """The UID a DICOM UID identifier holds.

    Parameters
    ----------
    ident : Identifier or None
        An identifier of the model (a device's, ...).

    Returns
    -------
    str or None
        The UID, or None when the identifier is of another kind.
    """
    if ident is None or ident.kind is not IdentifierKind.DICOM_UID:
        return None
    return ident.value if is_valid_uid(ident.value) else None
