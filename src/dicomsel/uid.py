"""DICOM UIDs: the rules of PS3.5 section 9 that every UID dicomsel reads or writes keeps."""

from __future__ import annotations

import re
from functools import lru_cache

from dicomsel.errors import InvalidUIDError

__all__ = ["check_uid", "is_valid_uid"]

_UID_CHARS = re.compile(r"[0-9.]+")
_LEADING_ZERO = re.compile(r"(?:^|\.)0[0-9]")


@lru_cache(maxsize=1 << 16)
def is_valid_uid(value: str) -> bool:
    """Tell whether ``value`` is a valid DICOM UID (PS3.5 section 9.1).

    At most 64 characters, digits and dots only, no empty component and no
    component with a leading zero (a lone ``0`` is allowed). Cached: a large
    manifest repeats its class, study and series UIDs thousands of times.
    """
    return (
        0 < len(value) <= 64
        and _UID_CHARS.fullmatch(value) is not None
        and ".." not in value
        and value[0] != "."
        and value[-1] != "."
        and _LEADING_ZERO.search(value) is None
    )


def check_uid(value: object, what: str = "UID") -> str:
    """Return ``value`` if it is a valid DICOM UID, else raise :class:`InvalidUIDError`.

    Parameters
    ----------
    value : object
        The candidate UID.
    what : str
        Which attribute it came from, for the message.
    """
    if not isinstance(value, str):
        raise InvalidUIDError(f"{type(value).__name__} {value!r} is not a UID", attribute=what)
    if not is_valid_uid(value):
        if len(value) > 64:
            why = f"{len(value)} characters, more than 64"
        elif not value:
            why = "empty"
        elif re.search(r"[^0-9.]", value):
            why = "characters other than digits and dots"
        elif ".." in value or value.startswith(".") or value.endswith("."):
            why = "an empty component"
        else:
            why = "a component with a leading zero"
        raise InvalidUIDError(f"{value!r} is not a valid UID ({why})", attribute=what)
    return value
