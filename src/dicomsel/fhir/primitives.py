"""FHIR primitive values <-> Python: instants, decimals, UIDs, and the element paths of errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dicomsel.errors import InvalidInputError
from dicomsel.uid import is_valid_uid

__all__ = ["ElementPath", "instant", "json_number", "read_instant", "read_uid"]


class ElementPath:
    """Builds ``ImagingSelection/<id>.instance[2].uid`` style element paths for errors.

    Parameters
    ----------
    root : str
        ``Type/id`` of the resource read.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def error(self, where: str, reason: str) -> InvalidInputError:
        """The error for the element ``where`` (relative to the root; empty: the resource).

        Parameters
        ----------
        where : str
        reason : str

        Returns
        -------
        dicomsel.errors.InvalidInputError
            To be raised by the caller.
        """
        return InvalidInputError(reason, attribute=f"{self.root}.{where}" if where else self.root)


def json_number(x: float) -> float | int:
    """A decimal as JSON: integral values as integers, others as the shortest float repr.

    Parameters
    ----------
    x : float

    Returns
    -------
    int or float
    """
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def instant(when: dt.datetime) -> str:
    """A FHIR instant (or dateTime to the second) of an aware datetime.

    Seconds always, a fraction only when there is one (trailing zeros dropped),
    the UTC offset as ``+hh:mm`` (never ``Z``, so ``+00:00`` stays as DICOM said it).

    Parameters
    ----------
    when : datetime.datetime
        With a UTC offset.

    Returns
    -------
    str
    """
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    offset = when.utcoffset()
    if offset is None:  # pragma: no cover - the model only holds aware datetimes
        raise ValueError(f"{when!r} has no UTC offset")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{mins:02d}"


def read_uid(value: Any, where: str, p: ElementPath) -> str:
    """A bare DICOM UID (R5's ``id``-typed UIDs).

    Parameters
    ----------
    value : Any
        The JSON value.
    where : str
        Its element path, relative to ``p``.
    p : ElementPath

    Returns
    -------
    str

    Raises
    ------
    dicomsel.errors.InvalidInputError
        If ``value`` is not a valid DICOM UID.
    """
    if not isinstance(value, str) or not is_valid_uid(value):
        why = "is not a valid DICOM UID"
        if isinstance(value, str) and value.startswith("urn:oid:"):
            why += " (R5 takes the bare UID here, without urn:oid:)"
        raise p.error(where, f"{value!r} {why}")
    return value


def read_instant(value: Any, where: str, p: ElementPath) -> dt.datetime | None:
    """The aware datetime of a FHIR instant; None when absent.

    Parameters
    ----------
    value : Any
        The JSON value, or None.
    where : str
    p : ElementPath

    Returns
    -------
    datetime.datetime or None

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the value is not an instant (a date and time with a zone).
    """
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise p.error(where, f"{value!r} is not a FHIR instant") from None
    if "T" not in str(value) or when.utcoffset() is None:
        raise p.error(where, f"{value!r} is not a FHIR instant (it needs a time and a zone)")
    return when
