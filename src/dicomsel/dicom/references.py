"""Referenced instances: SOP Instance / Class UIDs, frame and segment numbers.

The items that name an instance (Referenced SOP Sequence items of KOS and SR
content items, their Referenced Presentation State items, SEG Source Image
items, RT Contour Image items) are read with these helpers: the UIDs checked
and named in messages, the numbers read as lists of integers.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import Item, get_text
from dicomsel.dicom.values import attr_name, number_list, value

__all__ = [
    "A_FRAME",
    "A_SEGMENT",
    "check_frames",
    "int_list",
    "optional_uid",
    "sop_reference",
]

A_FRAME = attr_name("ReferencedFrameNumber")
A_SEGMENT = attr_name("ReferencedSegmentNumber")


def sop_reference(
    item: Item, ctx: ReadContext, where_instance: str, where_class: str
) -> tuple[str, str | None]:
    """(Referenced SOP Instance UID, Referenced SOP Class UID or None) of an item.

    Parameters
    ----------
    item : pydicom.dataset.Dataset or dicomsel.dicom.scanner.RawItem
        A Referenced SOP Sequence item.
    ctx : ReadContext
    where_instance, where_class : str
        Where each UID is, for messages.

    Returns
    -------
    tuple

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When the instance UID is missing or invalid, or the class UID invalid.
    """
    uid = ctx.uid(get_text(item, tags.ReferencedSOPInstanceUID), where_instance)
    cls = get_text(item, tags.ReferencedSOPClassUID)
    return uid, ctx.uid(cls, where_class) if cls else None


def optional_uid(item: Dataset, tag: int, where: str, ctx: ReadContext) -> str | None:
    """The UID in element ``tag``, checked; None when absent or empty.

    Parameters
    ----------
    item : pydicom.dataset.Dataset
    tag : int
    where : str
        For messages.
    ctx : ReadContext

    Returns
    -------
    str or None

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When it is not a valid UID.
    """
    raw = value(item, tag)
    if raw is None or not str(raw).strip():
        return None
    return ctx.uid(raw, where)


def int_list(
    raw: object, what: str, ctx: ReadContext, *, prefix: str = "", unique: bool = True
) -> list[int]:
    """Frame or segment numbers of one reference as integers.

    Parameters
    ----------
    raw : object
        The element's value (single or multi-valued; None or empty: none), or
        the text of its values (:func:`dicomsel.dicom.items.get_numbers` of IS).
    what : str
        The attribute, for messages.
    ctx : ReadContext
    prefix : str
        Put before the reason of an error (the content item, say).
    unique : bool
        True: a number given twice is an error; False: repeats are dropped.

    Returns
    -------
    list of int
        In the order given.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When a value is not a number, or (``unique``) is given twice.
    """
    out: list[int] = []
    for v in number_list(raw):
        try:
            n = _whole(v)
        except (TypeError, ValueError) as e:
            raise ctx.error(f"{prefix}{v!r} is not a number", what) from e
        if unique or n not in out:
            out.append(n)
    if unique and len(set(out)) != len(out):
        dup = sorted({v for v in out if out.count(v) > 1})
        raise ctx.error(f"{prefix}duplicate number(s) {dup} in one reference", what)
    return out


def _whole(v: object) -> int:
    """An integer value, or the text of one: an IS as pydicom reads it (``"2.0"`` is 2)."""
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            f = float(v)  # raises ValueError on what is not a number
            if not f.is_integer():
                raise
            return int(f)
    return int(v)  # type: ignore[call-overload,no-any-return]


def check_frames(frames: list[int], ctx: ReadContext, what: str = A_FRAME) -> None:
    """Raise unless every frame number is 1 or more.

    Parameters
    ----------
    frames : list of int
    ctx : ReadContext
    what : str
        The attribute, for messages.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        On a frame number below 1.
    """
    for f in frames:
        if f < 1:
            raise ctx.error(f"frame number {f} is out of range (frames start at 1)", what)
