"""Microscopy Bulk Simple Annotations reader (PS3.3 A.88, C.37.1.2).

One selection per Annotation Group: code = Annotation Property Type (with the
group's label as text), category = Annotation Property Category, narrative =
the group's description. 2D coordinates lie on the referenced slide image
(Referenced Image Sequence; the total pixel matrix, or the frame when Pixel
Origin Interpretation is FRAME); 3D coordinates are in the instance's frame of
reference, anchored on the annotation instance itself. Point Coordinates Data
(OF) or Double Point Coordinates Data (OD), with the Long Primitive Point Index
List for POLYLINE and POLYGON, are decoded with numpy (never pixel data).

A group of more than ``ReadOptions.max_regions`` annotations is selected
without regions and the count reported. Measurements Sequence values become
observations (one per measured annotation) derived from their group's
selection. See docs/annotations.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.graphics import Head, closed, read_head
from dicomsel.dicom.references import A_FRAME, check_frames, int_list, sop_reference
from dicomsel.dicom.sopclasses import BULK_ANNOTATIONS
from dicomsel.dicom.values import attr_name, code_from_item, text_of
from dicomsel.errors import Issue
from dicomsel.model import (
    Code,
    Instance,
    ObservationKind,
    ObservationRecord,
    Provenance,
    Region2D,
    Region3D,
    RegionType2D,
    RegionType3D,
)

__all__ = ["SOP_CLASS_UIDS", "read_bulkann"]

#: Microscopy Bulk Simple Annotations Storage
SOP_CLASS_UIDS = BULK_ANNOTATIONS

_A_GROUPS = attr_name("AnnotationGroupSequence")
_A_INDEX = attr_name("LongPrimitivePointIndexList")
# points of one annotation: fixed count (POINT, ELLIPSE, RECTANGLE) or None (index list)
_POINTS = {"POINT": 1, "ELLIPSE": 4, "RECTANGLE": 4, "POLYLINE": None, "POLYGON": None}


@dataclass(frozen=True, slots=True)
class _Target:
    """The slide image 2D coordinates lie on."""

    uid: str
    sop_class_uid: str | None
    frames: tuple[int, ...]


def _code(item: Dataset, keyword: str, where: str, ctx: ReadContext) -> Code | None:
    seq = item.get(keyword)
    code = code_from_item(seq[0]) if seq else None
    if code is None:
        ctx.warn(f"{where}: {attr_name(keyword)} is missing or has no code (Type 1)")
    return code


def _array(item: Dataset, where: str, ctx: ReadContext, little: bool) -> NDArray[np.float64]:
    """The group's coordinate values, flat, as float64 (float32 values widen exactly)."""
    order = "<" if little else ">"
    for keyword, dtype in (("DoublePointCoordinatesData", "f8"), ("PointCoordinatesData", "f4")):
        raw = item.get(keyword)
        if raw is None:
            continue
        data = bytes(raw)
        size = int(dtype[1])
        if len(data) % size:
            raise ctx.error(
                f"{where}: {len(data)} bytes is not a whole number of {size}-byte values",
                attr_name(keyword),
            )
        values = np.frombuffer(data, dtype=order + dtype).astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ctx.error(f"{where}: holds NaN or infinite coordinates", attr_name(keyword))
        return values
    raise ctx.error(
        f"{where}: neither {attr_name('PointCoordinatesData')} nor "
        f"{attr_name('DoublePointCoordinatesData')} is present (Type 1C)",
        attr_name("PointCoordinatesData"),
    )


def _split(
    values: NDArray[np.float64],
    gtype: str,
    dims: int,
    count: int,
    item: Dataset,
    where: str,
    ctx: ReadContext,
    little: bool,
) -> list[NDArray[np.float64]]:
    """The coordinate values of each annotation, checked against Number of Annotations."""
    if len(values) % dims:
        raise ctx.error(
            f"{where}: {len(values)} coordinate values is not a multiple of {dims}",
            attr_name("PointCoordinatesData"),
        )
    fixed = _POINTS[gtype]
    if fixed is not None:
        per = fixed * dims
        if len(values) != count * per:
            raise ctx.error(
                f"{where}: {len(values)} coordinate values for {count} {gtype} annotation(s) "
                f"of {per} values each",
                attr_name("NumberOfAnnotations"),
            )
        return list(values.reshape(count, per)) if count else []
    raw = item.get("LongPrimitivePointIndexList")
    if raw is None:
        raise ctx.error(f"{where}: missing for {gtype} annotations (Type 1C)", _A_INDEX)
    data = bytes(raw)
    if len(data) % 4:
        raise ctx.error(f"{where}: {len(data)} bytes is not a list of 32-bit indices", _A_INDEX)
    index = np.frombuffer(data, dtype=("<" if little else ">") + "i4").astype(np.int64) - 1
    if len(index) != count:
        raise ctx.error(
            f"{where}: {len(index)} indices for {count} annotation(s)",
            attr_name("NumberOfAnnotations"),
        )
    if count and (
        index[0] != 0
        or np.any(np.diff(index) <= 0)
        or np.any(index % dims)
        or index[-1] >= len(values)
    ):
        raise ctx.error(
            f"{where}: the indices do not start at 1, rise, fall on a point's first value "
            f"and stay within the {len(values)} coordinate values",
            _A_INDEX,
        )
    return np.split(values, index[1:]) if count else []


class _Reader:
    def __init__(self, ds: Dataset, ctx: ReadContext, head: Head) -> None:
        self.ds = ds
        self.ctx = ctx
        self.head = head
        self.little = getattr(ds, "is_little_endian", True) is not False
        self.result = ReadResult(
            sop_class_uid=head.header.sop_class_uid,
            sop_instance_uid=head.header.sop_instance_uid,
        )

    def read(self) -> ReadResult:
        ds, ctx = self.ds, self.ctx
        coord_type = (text_of(ds.get("AnnotationCoordinateType")) or "").upper()
        if coord_type not in ("2D", "3D"):
            raise ctx.error(
                f"{coord_type or '(none)'!r} is not 2D or 3D", attr_name("AnnotationCoordinateType")
            )
        self.dims = 2 if coord_type == "2D" else 3
        self.target: _Target | None = None
        self.frame_of_reference: str | None = None
        if self.dims == 2:
            self.target = self._target()
        else:
            self.frame_of_reference = ctx.uid(
                ds.get("FrameOfReferenceUID"), attr_name("FrameOfReferenceUID")
            )
        groups = ds.get("AnnotationGroupSequence")
        if not groups:
            ctx.warn(f"{_A_GROUPS} is missing or empty (Type 1): only the instance is selected")
        for i, group in enumerate(groups or ()):
            self._group(group, f"{_A_GROUPS}[{i}]")
        self.result.selections.append(self.head.source_selection(ctx))
        return self.result

    def _target(self) -> _Target:
        ds, ctx = self.ds, self.ctx
        seq = ds.get("ReferencedImageSequence")
        where = attr_name("ReferencedImageSequence")
        if not seq:
            raise ctx.error("missing or empty for 2D annotations (Type 1C): no image", where)
        if len(seq) > 1:
            ctx.warn(f"{where} has {len(seq)} items: the regions are placed on the first")
        item = seq[0]
        uid, cls = sop_reference(
            item,
            ctx,
            f"{where} > {attr_name('ReferencedSOPInstanceUID')}",
            f"{where} > {attr_name('ReferencedSOPClassUID')}",
        )
        frames = int_list(item.get("ReferencedFrameNumber"), A_FRAME, ctx)
        check_frames(frames, ctx)
        origin = (text_of(ds.get("PixelOriginInterpretation")) or "VOLUME").upper()
        if origin == "FRAME" and len(frames) != 1:
            ctx.warn(
                f"{attr_name('PixelOriginInterpretation')} is FRAME but {where} names "
                f"{len(frames)} frame(s): coordinates are read as those of the image selected"
            )
        if origin != "FRAME":
            frames = []  # total pixel matrix coordinates: on the whole image
        return _Target(uid, cls, tuple(sorted(frames)))

    def _group(self, group: Dataset, where: str) -> None:
        ctx, head = self.ctx, self.head
        number = group.get("AnnotationGroupNumber")
        key = f"ann|group|{number if number is not None else where}"
        if any(s.key == key for s in self.result.selections):
            ctx.warn(f"{where}: {attr_name('AnnotationGroupNumber')} {number} is used twice")
            key = f"{key}|{where}"
        code = _code(group, "AnnotationPropertyTypeCodeSequence", where, ctx)
        label = text_of(group.get("AnnotationGroupLabel"))
        if code is None:
            code = Code(value=None, text=label or "Annotation group")
        elif label:
            code = Code(
                code.value, code.scheme, code.meaning, code.system, code.scheme_version, label
            )
        category = _code(group, "AnnotationPropertyCategoryCodeSequence", where, ctx)
        if group.get("AnnotationPropertyTypeModifierCodeSequence"):
            ctx.issues.append(
                Issue.lossy(
                    f"{where}: {attr_name('AnnotationPropertyTypeModifierCodeSequence')} has no "
                    "place in ImagingSelection.code: left out",
                    path=ctx.path,
                )
            )
        if text_of(group.get("AnnotationAppliesToAllOpticalPaths")) == "NO":
            ctx.issues.append(
                Issue.lossy(
                    f"{where}: applies to some optical paths only; ImagingSelection cannot "
                    "name optical paths: the whole image is selected",
                    path=ctx.path,
                )
            )
        gtype = (text_of(group.get("GraphicType")) or "").upper()
        if gtype not in _POINTS:
            raise ctx.error(
                f"{where}: {gtype or '(none)'!r} is not POINT, POLYLINE, POLYGON, ELLIPSE or "
                "RECTANGLE",
                attr_name("GraphicType"),
            )
        raw_count = group.get("NumberOfAnnotations")
        if raw_count is None:
            raise ctx.error(f"{where}: missing (Type 1)", attr_name("NumberOfAnnotations"))
        count = int(raw_count)
        dims = self.dims
        values = _array(group, where, ctx, self.little)
        common_z = group.get("CommonZCoordinateValue")
        stored_dims = 2 if dims == 3 and common_z is not None else dims
        shapes = _split(values, gtype, stored_dims, count, group, where, ctx, self.little)
        limit = ctx.options.max_regions
        regions2d: list[Region2D] = []
        regions3d: list[Region3D] = []
        if count > limit:
            ctx.issues.append(
                Issue.lossy(
                    f"{where}: {count} annotations exceed --max-regions {limit}: the group is "
                    "selected without its regions",
                    path=ctx.path,
                )
            )
        else:
            for shape in shapes:
                coords = [float(v) for v in shape]
                if stored_dims != dims:
                    z = float(common_z)
                    coords = [c for i in range(0, len(coords), 2) for c in (*coords[i : i + 2], z)]
                if dims == 2:
                    regions2d.append(_region2d(gtype, coords))
                else:
                    assert self.frame_of_reference is not None
                    regions3d.append(_region3d(gtype, coords, self.frame_of_reference))
            if gtype in ("POLYGON", "RECTANGLE") and dims == 2 and count:
                ctx.warn(
                    f"{where}: 2D {gtype} annotations written as closed polylines "
                    "(ImagingSelection has no 2D polygon or rectangle)"
                )
        hdr = head.header
        if dims == 2:
            assert self.target is not None
            t = self.target
            inst = Instance(
                uid=t.uid,
                sop_class_uid=t.sop_class_uid,
                frames=t.frames,
                regions_2d=tuple(regions2d),
            )
            study, series = hdr.study_instance_uid, None
        else:
            inst = Instance(
                uid=hdr.sop_instance_uid,
                sop_class_uid=hdr.sop_class_uid,
                number=hdr.instance_number,
                regions_3d=tuple(regions3d),
            )
            study, series = hdr.study_instance_uid, hdr.series_instance_uid
        if dims == 2:
            series = self._image_series(inst.uid)
        self.result.selections.append(
            head.selection(
                key,
                code,
                [inst],
                study=study,
                series=series,
                categories=[category] if category else [],
                description=text_of(group.get("AnnotationGroupDescription")),
                frame_of_reference_uid=self.frame_of_reference,
            )
        )
        self._measurements(group, where, key, count)

    def _image_series(self, uid: str) -> str | None:
        """The series of the slide image, from the Referenced Series Sequence."""
        for item in self.ds.get("ReferencedSeriesSequence") or ():
            for ref in item.get("ReferencedInstanceSequence") or ():
                if text_of(ref.get("ReferencedSOPInstanceUID")) == uid:
                    return self.ctx.uid(
                        item.get("SeriesInstanceUID"),
                        f"{attr_name('ReferencedSeriesSequence')} > SeriesInstanceUID",
                    )
        self.ctx.warn(
            f"image {uid} is not in {attr_name('ReferencedSeriesSequence')}: its series is unknown"
        )
        return None

    def _measurements(self, group: Dataset, where: str, key: str, count: int) -> None:
        ctx, head = self.ctx, self.head
        hdr = head.header
        for m, item in enumerate(group.get("MeasurementsSequence") or ()):
            w = f"{where} > {attr_name('MeasurementsSequence')}[{m}]"
            name = _code(item, "ConceptNameCodeSequence", w, ctx)
            units_seq = item.get("MeasurementUnitsCodeSequence")
            unit = code_from_item(units_seq[0]) if units_seq else None
            values_seq = item.get("MeasurementValuesSequence")
            if name is None or not values_seq:
                ctx.warn(f"{w}: no concept name or no values: left out")
                continue
            vitem = values_seq[0]
            order = "<" if self.little else ">"
            raw = bytes(vitem.get("FloatingPointValues") or b"")
            if len(raw) % 4:
                raise ctx.error(f"{w}: not a list of 32-bit floats", "FloatingPointValues")
            vals = np.frombuffer(raw, dtype=order + "f4")
            index_raw = vitem.get("AnnotationIndexList")
            if index_raw is not None:
                idx = np.frombuffer(bytes(index_raw), dtype=order + "i4").astype(np.int64)
            else:
                idx = np.arange(1, len(vals) + 1)
            if len(idx) != len(vals) or (len(idx) and (idx.min() < 1 or idx.max() > count)):
                raise ctx.error(
                    f"{w}: {len(vals)} values for annotation numbers outside 1..{count}",
                    attr_name("AnnotationIndexList"),
                )
            if len(vals) > ctx.options.max_regions:
                ctx.issues.append(
                    Issue.lossy(
                        f"{w}: {len(vals)} measured values exceed --max-regions "
                        f"{ctx.options.max_regions}: no observations made",
                        path=ctx.path,
                    )
                )
                continue
            for n, v in zip(idx.tolist(), vals.tolist(), strict=True):
                if not math.isfinite(v):
                    ctx.warn(f"{w}: annotation {n} has no finite value: left out")
                    continue
                self.result.observations.append(
                    ObservationRecord(
                        key=f"{key}|measurement{m + 1}|annotation{n}",
                        source_uid=hdr.sop_instance_uid,
                        kind=ObservationKind.MEASUREMENT,
                        code=name,
                        numeric_value=v,
                        unit=unit,
                        study_instance_uid=hdr.study_instance_uid,
                        subject=hdr.subject,
                        issued=head.issued,
                        performers=head.performers,
                        based_on=hdr.based_on,
                        derived_from=(key,),
                    )
                )


def _region2d(gtype: str, c: list[float]) -> Region2D:
    if gtype == "POINT":
        return Region2D(RegionType2D.POINT, tuple(c))
    if gtype == "ELLIPSE":
        return Region2D(RegionType2D.ELLIPSE, tuple(c))
    if gtype == "POLYLINE":
        return Region2D(RegionType2D.POLYLINE, tuple(c))
    # POLYGON, and RECTANGLE (its four corners in order): the outline, closed
    return Region2D(RegionType2D.POLYLINE, closed(c, 2))


def _region3d(gtype: str, c: list[float], for_uid: str) -> Region3D:
    types = {
        "POINT": RegionType3D.POINT,
        "POLYLINE": RegionType3D.POLYLINE,
        "POLYGON": RegionType3D.POLYGON,
        "ELLIPSE": RegionType3D.ELLIPSE,
        "RECTANGLE": RegionType3D.POLYGON,  # its four corners
    }
    return Region3D(types[gtype], tuple(c), for_uid)


def read_bulkann(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read Microscopy Bulk Simple Annotations into one selection per annotation group.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The annotation instance (it has no pixel data).
    ctx : dicomsel.dicom.context.ReadContext
        The file path, options (``max_regions``) and the warning list.

    Returns
    -------
    dicomsel.dicom.context.ReadResult
        Selections ``ann|group|<number>`` and the instance itself (``ann|source``);
        observations for the measured values, derived from their group.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        On a damaged group: coordinate data missing, of the wrong length or with
        NaN, a point index list that does not fit, an unknown graphic type or
        coordinate type, no referenced image for 2D annotations.
    """
    head = read_head(ds, ctx, Provenance.ANNOTATION, "ann")
    result = _Reader(ds, ctx, head).read()
    result.issues = ctx.issues
    return result
