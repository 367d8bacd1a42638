"""What the presentation-state and bulk-annotation readers share.

Both describe regions drawn on images by an object of their own: its header
(study, series, patient, creator) is read once into a :class:`Head`, the
object itself becomes a selection (DCM 111040 Original Source) that the
region selections name as their ``focus``, and the graphic types without an
ImagingSelection code (a 2D POLYGON, a RECTANGLE) become the closed
polylines that draw them (PS3.3 C.18.6.1.2: a closed POLYLINE repeats its
first point).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.image import Header, creator_performers, read_header
from dicomsel.dicom.sr.concepts import IMAGE_REGION, ORIGINAL_SOURCE
from dicomsel.dicom.values import issued
from dicomsel.model import (
    Code,
    Identifier,
    Instance,
    Performer,
    Provenance,
    Selection,
)

__all__ = [
    "IMAGE_REGION",
    "ORIGINAL_SOURCE",
    "Head",
    "closed",
    "read_head",
    "rectangle",
    "tag",
]


def tag(keyword: str) -> int:
    """The tag of a DICOM keyword, as an int (for :func:`dicomsel.dicom.values.value`).

    Parameters
    ----------
    keyword : str

    Returns
    -------
    int
    """
    return int(Tag(keyword))


@dataclass(frozen=True, slots=True)
class Head:
    """The object's own attributes, shared by every selection it makes.

    Parameters
    ----------
    header : dicomsel.dicom.image.Header
    identifier : Identifier
        Its SOP Instance UID as business identifier.
    issued : datetime.datetime or None
    performers : tuple of Performer
    provenance : Provenance
    prefix : str
        Key prefix of its selections (``pr``, ``ann``).
    """

    header: Header
    identifier: Identifier
    issued: dt.datetime | None
    performers: tuple[Performer, ...]
    provenance: Provenance
    prefix: str

    @property
    def source_key(self) -> str:
        """Key of the selection of the object itself."""
        return f"{self.prefix}|source"

    def selection(
        self,
        key: str,
        code: Code,
        instances: Sequence[Instance],
        *,
        study: str | None,
        series: str | None,
        categories: Sequence[Code] = (),
        description: str | None = None,
        frame_of_reference_uid: str | None = None,
    ) -> Selection:
        """A selection of this object, focused on the object itself.

        Parameters
        ----------
        key : str
        code : Code
        instances : sequence of Instance
        study, series : str or None
        categories : sequence of Code
        description : str or None
            The narrative (text objects, a group's description).
        frame_of_reference_uid : str or None

        Returns
        -------
        Selection
        """
        h = self.header
        return Selection(
            provenance=self.provenance,
            key=key,
            source_uid=h.sop_instance_uid,
            code=code,
            study_instance_uid=study,
            series_instance_uid=series,
            frame_of_reference_uid=frame_of_reference_uid,
            instances=tuple(instances),
            identifiers=(self.identifier,),
            based_on=h.based_on,
            subject=h.subject,
            issued=self.issued,
            performers=self.performers,
            categories=tuple(categories),
            focus=(self.source_key,),
            description=description,
        )

    def source_selection(self, ctx: ReadContext) -> Selection:
        """The object itself (DCM 111040 Original Source), in its own series.

        Parameters
        ----------
        ctx : ReadContext

        Returns
        -------
        Selection
        """
        h = self.header  # a negative Series/Instance Number was left out (warned) by the header
        series_number, number = h.series_number, h.instance_number
        sel = self.selection(
            self.source_key,
            ORIGINAL_SOURCE,
            [
                Instance(
                    uid=h.sop_instance_uid,
                    sop_class_uid=h.sop_class_uid,
                    number=number,
                )
            ],
            study=h.study_instance_uid,
            series=h.series_instance_uid,
        )
        return dataclasses.replace(sel, focus=(), series_number=series_number)


def read_head(
    ds: Dataset,
    ctx: ReadContext,
    provenance: Provenance,
    prefix: str,
    date_keyword: str = "ContentDate",
    time_keyword: str = "ContentTime",
) -> Head:
    """Read the header, ``issued`` (from the given date and time) and the creator.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
    provenance : Provenance
    prefix : str
    date_keyword, time_keyword : str
        The DA and TM attributes ``issued`` is read from.

    Returns
    -------
    Head

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the SOP Instance UID is missing or a UID is invalid.
    """
    header = read_header(ds, ctx)
    return Head(
        header=header,
        identifier=Identifier.dicom_uid(header.sop_instance_uid),
        issued=issued(ds, ctx, tag(date_keyword), tag(time_keyword)),
        performers=creator_performers(ds, ctx),
        provenance=provenance,
        prefix=prefix,
    )


def closed(coords: Sequence[float], dims: int) -> tuple[float, ...]:
    """A polygon's points as a closed polyline: the first point repeated at the end.

    Parameters
    ----------
    coords : sequence of float
        Flat, ``dims`` values a point.
    dims : int

    Returns
    -------
    tuple of float
        Unchanged when the polygon already ends on its first point.
    """
    out = tuple(coords)
    if len(out) >= dims and out[:dims] != out[-dims:]:
        out += out[:dims]
    return out


def rectangle(x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    """An axis-aligned rectangle, given two opposite corners, as a closed 5-point polyline.

    Parameters
    ----------
    x0, y0, x1, y1 : float

    Returns
    -------
    tuple of float
    """
    return (x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)
