"""Softcopy Presentation State reader: graphic annotations as image regions (PS3.3 C.10.5).

Every graphic object of the Graphic Annotation Sequence becomes a 2D region
on each image (and frame) it applies to: the annotation's own Referenced
Image Sequence, else every image of the Referenced Series Sequence. One
selection per (series, graphic layer); its code is DCM 111030 Image Region
with the layer's Graphic Layer Description as text, its narrative the text
objects' Unformatted Text Value (a viewer's measurement text), its focus the
presentation state itself (DCM 111040 Original Source); ``issued`` is the
Presentation Creation Date/Time, the performer the Content Creator's Name.

PIXEL units are image pixels as they stand. DISPLAY units are fractions of
the Displayed Area of that image (C.10.4): converted to pixels, reported;
where no displayed area applies or a rotation or flip stands between display
and image, the region is reported as lost. Compound graphics (C.10.5.1.3) are
carried by the graphic objects that name their Compound Graphic Instance ID;
one without such objects becomes the polyline or point it defines, reported.
See docs/annotations.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.graphics import IMAGE_REGION, Head, read_head, rectangle
from dicomsel.dicom.references import A_FRAME, A_SEGMENT, check_frames, int_list, sop_reference
from dicomsel.dicom.sopclasses import PRESENTATION_STATES
from dicomsel.dicom.values import attr_name, number_list, text_of
from dicomsel.errors import InvalidInputError, Issue
from dicomsel.model import Code, Instance, Provenance, Region2D, RegionType2D

__all__ = ["SOP_CLASS_UIDS", "read_pstate"]

#: The Softcopy Presentation State Storage classes whose IOD has the Graphic Annotation
#: Module (PS3.3 A.33.1-A.33.8). The Volumetric Presentation States (11.6, 11.7,
#: 11.9-11.11) annotate in 3D through the Volumetric Graphic Annotation Module instead
#: and are not read here.
SOP_CLASS_UIDS = PRESENTATION_STATES

_GRAPHIC_TYPES = {
    "POINT": RegionType2D.POINT,
    "POLYLINE": RegionType2D.POLYLINE,
    "INTERPOLATED": RegionType2D.INTERPOLATED,
    "CIRCLE": RegionType2D.CIRCLE,
    "ELLIPSE": RegionType2D.ELLIPSE,
}
# compound graphics drawn as the line through their first two points
_LINES = frozenset({"ARROW", "RULER", "CUTLINE", "RANGELINE", "AXIS"})
_A_GAS = attr_name("GraphicAnnotationSequence")
_A_RIS = attr_name("ReferencedImageSequence")


@dataclass(frozen=True, slots=True)
class _Image:
    """An image the state applies to."""

    uid: str
    sop_class_uid: str | None
    series: str | None
    frames: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class _Area:
    """One Displayed Area Selection item: which images, and its corners (1-based pixels)."""

    images: dict[str, tuple[int, ...]] | None  # uid -> frames (empty: all); None: all images
    tlhc: tuple[float, float]
    brhc: tuple[float, float]


@dataclass(slots=True)
class _Part:
    """The regions of one layer on one image, for one set of frames."""

    image: _Image
    regions: list[Region2D] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    """A (series, layer) selection being built."""

    code: Code
    texts: list[str] = field(default_factory=list)
    parts: dict[str, list[_Part]] = field(default_factory=dict)  # uid -> parts, in order

    def part(self, image: _Image) -> _Part:
        for p in self.parts.setdefault(image.uid, []):
            if (p.image.frames, p.image.segments) == (image.frames, image.segments):
                return p
        p = _Part(image)
        self.parts[image.uid].append(p)
        return p


def _lossy(ctx: ReadContext, message: str) -> Issue:
    return Issue.lossy(message, path=ctx.path)


def _floats(raw: object, what: str, ctx: ReadContext) -> list[float]:
    try:
        return [float(v) for v in number_list(raw)]
    except (TypeError, ValueError) as e:
        raise ctx.error("is not a list of numbers", what) from e


def _images(seq: object, where: str, ctx: ReadContext, series: str | None) -> list[_Image]:
    out = []
    for item in seq or ():  # type: ignore[attr-defined]
        uid, cls = sop_reference(
            item,
            ctx,
            f"{where} > {attr_name('ReferencedSOPInstanceUID')}",
            f"{where} > {attr_name('ReferencedSOPClassUID')}",
        )
        frames = int_list(item.get("ReferencedFrameNumber"), A_FRAME, ctx, prefix=f"{where}: ")
        check_frames(frames, ctx)
        segments = int_list(
            item.get("ReferencedSegmentNumber"), A_SEGMENT, ctx, prefix=f"{where}: "
        )
        out.append(_Image(uid, cls, series, tuple(sorted(frames)), tuple(sorted(segments))))
    return out


def _series_images(ds: Dataset, ctx: ReadContext) -> list[_Image]:
    """Every image of the Referenced Series Sequence (Presentation State Relationship)."""
    out: list[_Image] = []
    for i, item in enumerate(ds.get("ReferencedSeriesSequence") or ()):
        where = f"{attr_name('ReferencedSeriesSequence')}[{i}]"
        series = ctx.uid(item.get("SeriesInstanceUID"), f"{where} > SeriesInstanceUID")
        out += _images(item.get("ReferencedImageSequence"), f"{where} > {_A_RIS}", ctx, series)
    if not out:
        ctx.warn(
            f"{attr_name('ReferencedSeriesSequence')} lists no image (Type 1): only graphic "
            "annotations with their own Referenced Image Sequence are read"
        )
    return out


def _areas(ds: Dataset, ctx: ReadContext) -> list[_Area]:
    out = []
    for i, item in enumerate(ds.get("DisplayedAreaSelectionSequence") or ()):
        where = f"{attr_name('DisplayedAreaSelectionSequence')}[{i}]"
        tl = _floats(item.get("DisplayedAreaTopLeftHandCorner"), where, ctx)
        br = _floats(item.get("DisplayedAreaBottomRightHandCorner"), where, ctx)
        if len(tl) != 2 or len(br) != 2:
            ctx.warn(f"{where}: the displayed area's corners are not two (column, row) pairs")
            continue
        images = None
        if item.get("ReferencedImageSequence"):
            images = {
                im.uid: im.frames
                for im in _images(item.ReferencedImageSequence, f"{where} > {_A_RIS}", ctx, None)
            }
        out.append(_Area(images, (tl[0], tl[1]), (br[0], br[1])))
    return out


def _area_for(areas: list[_Area], image: _Image) -> _Area | None:
    """The displayed area of an image (and its frames): its own item first, else the default."""
    default = None
    for a in areas:
        if a.images is None:
            default = default or a
            continue
        frames = a.images.get(image.uid)
        if frames is not None and (not frames or set(image.frames) <= set(frames)):
            return a
    return default


def _display_to_pixels(coords: tuple[float, ...], area: _Area) -> tuple[float, ...]:
    """DISPLAY fractions -> image pixels: 0.0 the TLHC of the area's TLHC pixel, 1.0 the
    BRHC of its BRHC pixel (PS3.3 C.10.5.1.1); pixel column c spans c-1 .. c."""
    (c0, r0), (c1, r1) = area.tlhc, area.brhc
    x0, y0 = c0 - 1.0, r0 - 1.0
    sx, sy = c1 - x0, r1 - y0
    out: list[float] = []
    for i in range(0, len(coords), 2):
        out += [x0 + coords[i] * sx, y0 + coords[i + 1] * sy]
    return tuple(out)


class _Reader:
    def __init__(self, ds: Dataset, ctx: ReadContext, head: Head) -> None:
        self.ds = ds
        self.ctx = ctx
        self.head = head
        self.series_images = _series_images(ds, ctx)
        self.by_uid = {im.uid: im for im in self.series_images}
        self.areas = _areas(ds, ctx)
        rotation = text_of(ds.get("ImageRotation"))
        flip = text_of(ds.get("ImageHorizontalFlip"))
        self.transformed = (rotation not in (None, "0")) or flip == "Y"
        self.layers = self._layers()
        self.groups: dict[tuple[str, str], _Group] = {}

    def _layers(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for item in self.ds.get("GraphicLayerSequence") or ():
            name = text_of(item.get("GraphicLayer"))
            if name is not None:
                out[name] = text_of(item.get("GraphicLayerDescription"))
        return out

    def read(self) -> None:
        seq = self.ds.get("GraphicAnnotationSequence")
        if not seq:
            self.ctx.warn(
                f"{_A_GAS} is missing or empty: the presentation state has no graphic "
                "annotation, only the state itself is selected"
            )
        for i, ann in enumerate(seq or ()):
            self._annotation(ann, f"{_A_GAS}[{i}]")

    def _targets(self, ann: Dataset, where: str) -> list[_Image]:
        own = ann.get("ReferencedImageSequence")
        if not own:
            return self.series_images
        out = []
        for im in _images(own, f"{where} > {_A_RIS}", self.ctx, None):
            known = self.by_uid.get(im.uid)
            if known is None:
                self.ctx.warn(
                    f"{where}: image {im.uid} is not in "
                    f"{attr_name('ReferencedSeriesSequence')}: its series is unknown"
                )
            out.append(
                _Image(
                    im.uid,
                    im.sop_class_uid or (known.sop_class_uid if known else None),
                    known.series if known else None,
                    im.frames,
                    im.segments,
                )
            )
        return out

    def _annotation(self, ann: Dataset, where: str) -> None:
        ctx = self.ctx
        layer = text_of(ann.get("GraphicLayer"))
        if layer is None:
            ctx.warn(f"{where}: {attr_name('GraphicLayer')} is missing (Type 1)")
            layer = ""
        elif layer not in self.layers:
            ctx.warn(
                f"{where}: layer {layer!r} is not in {attr_name('GraphicLayerSequence')}: "
                "its description is unknown"
            )
        targets = self._targets(ann, where)
        if not targets:
            ctx.warn(f"{where}: applies to no image: left out")
            return
        # (region, units) of each graphic object and of each compound graphic without them
        shapes: list[tuple[Region2D, str, str]] = []
        components: set[str] = set()
        for j, obj in enumerate(ann.get("GraphicObjectSequence") or ()):
            w = f"{where} > {attr_name('GraphicObjectSequence')}[{j}]"
            cid = text_of(obj.get("CompoundGraphicInstanceID"))
            if cid is not None:
                components.add(cid)
            shape = self._graphic(obj, w)
            if shape is not None:
                shapes.append((*shape, w))
        for j, obj in enumerate(ann.get("CompoundGraphicSequence") or ()):
            w = f"{where} > {attr_name('CompoundGraphicSequence')}[{j}]"
            if text_of(obj.get("CompoundGraphicInstanceID")) in components:
                continue  # drawn by its graphic objects
            shape = self._compound(obj, w)
            if shape is not None:
                shapes.append((*shape, w))
        texts = []
        for obj in ann.get("TextObjectSequence") or ():
            t = obj.get("UnformattedTextValue")
            if t is not None and str(t).strip():
                texts.append(str(t).strip().replace("\r\n", "\n"))
        for image in targets:
            group = self._group(image.series, layer)
            for t in texts:
                if t not in group.texts:
                    group.texts.append(t)
            part = group.part(image)
            for region, units, w in shapes:
                r = self._on_image(region, units, image, w)
                if r is not None:
                    part.regions.append(r)

    def _group(self, series: str | None, layer: str) -> _Group:
        key = (series or "", layer)
        g = self.groups.get(key)
        if g is None:
            description = self.layers.get(layer)
            code = IMAGE_REGION
            if description:
                code = dataclasses.replace(IMAGE_REGION, text=description)
            g = self.groups[key] = _Group(code)
        return g

    def _graphic(self, obj: Dataset, where: str) -> tuple[Region2D, str] | None:
        ctx = self.ctx
        gtype = (text_of(obj.get("GraphicType")) or "").upper()
        rtype = _GRAPHIC_TYPES.get(gtype)
        if rtype is None:
            ctx.warn(
                f"{where}: {attr_name('GraphicType')} {gtype or '(none)'!r} is not a "
                "presentation state graphic type: left out"
            )
            return None
        dims = obj.get("GraphicDimensions")
        if dims not in (None, 2):
            ctx.warn(f"{where}: {attr_name('GraphicDimensions')} {dims} is not 2: left out")
            return None
        data = _floats(obj.get("GraphicData"), f"{where} > {attr_name('GraphicData')}", ctx)
        n = obj.get("NumberOfGraphicPoints")
        if n is not None and int(n) * 2 != len(data):
            ctx.warn(
                f"{where}: {attr_name('NumberOfGraphicPoints')} is {n} but "
                f"{attr_name('GraphicData')} holds {len(data) / 2:g} points: the data is read"
            )
        try:
            region = Region2D(rtype, tuple(data))
        except InvalidInputError as e:
            ctx.warn(f"{where}: {attr_name('GraphicData')} {e.reason}: left out")
            return None
        return region, self._units(obj, "GraphicAnnotationUnits", where)

    def _units(self, obj: Dataset, keyword: str, where: str) -> str:
        units = (text_of(obj.get(keyword)) or "").upper()
        if units not in ("PIXEL", "DISPLAY"):
            self.ctx.warn(f"{where}: {attr_name(keyword)} {units!r} is not PIXEL or DISPLAY")
        return units

    def _compound(self, obj: Dataset, where: str) -> tuple[Region2D, str] | None:
        """A compound graphic without its graphic objects, as the shape it defines."""
        ctx = self.ctx
        ctype = (text_of(obj.get("CompoundGraphicType")) or "").upper()
        data = _floats(obj.get("GraphicData"), f"{where} > {attr_name('GraphicData')}", ctx)
        units = self._units(obj, "CompoundGraphicUnits", where)
        rotation = float(text_of(obj.get("RotationAngle")) or 0)
        try:
            if ctype == "MULTILINE":
                region, kept = Region2D(RegionType2D.POLYLINE, tuple(data)), "its polyline"
            elif ctype in _LINES:
                region = Region2D(RegionType2D.POLYLINE, tuple(data[:4]))
                kept = "the line between its first two points (heads, ticks, gaps not kept)"
            elif ctype == "CROSSHAIR":
                region, kept = Region2D(RegionType2D.POINT, tuple(data[:2])), "its centre point"
            elif ctype == "RECTANGLE" and rotation == 0 and len(data) == 4:
                region, kept = Region2D(RegionType2D.POLYLINE, rectangle(*data)), "its outline"
            elif ctype == "ELLIPSE" and rotation == 0 and len(data) == 8:
                region, kept = Region2D(RegionType2D.ELLIPSE, tuple(data)), "its ellipse"
            else:
                ctx.warn(
                    f"{where}: compound graphic {ctype or '(none)'!r} (rotation {rotation:g}) "
                    "has no graphic objects and no region form: left out"
                )
                return None
        except InvalidInputError as e:
            ctx.warn(f"{where}: {attr_name('GraphicData')} {e.reason}: left out")
            return None
        ctx.issues.append(
            _lossy(
                ctx,
                f"{where}: compound graphic {ctype} has no graphic objects: written as {kept}",
            )
        )
        return region, units

    def _on_image(self, region: Region2D, units: str, image: _Image, where: str) -> Region2D | None:
        if units != "DISPLAY":
            return region
        ctx = self.ctx
        if self.transformed:
            ctx.issues.append(
                _lossy(
                    ctx,
                    f"{where}: DISPLAY units under a rotation or flip "
                    f"({attr_name('ImageRotation')}, {attr_name('ImageHorizontalFlip')}): "
                    f"the region on image {image.uid} cannot be placed in image pixels: left out",
                )
            )
            return None
        area = _area_for(self.areas, image)
        if area is None:
            ctx.issues.append(
                _lossy(
                    ctx,
                    f"{where}: DISPLAY units and no "
                    f"{attr_name('DisplayedAreaSelectionSequence')} item for image "
                    f"{image.uid}: the region cannot be placed in image pixels: left out",
                )
            )
            return None
        coords = _display_to_pixels(region.coordinates, area)
        rtype = region.region_type
        if rtype is RegionType2D.CIRCLE:
            sx = area.brhc[0] - area.tlhc[0]
            sy = area.brhc[1] - area.tlhc[1]
            if sx != sy:
                ctx.issues.append(
                    _lossy(
                        ctx,
                        f"{where}: a DISPLAY-unit circle on a non-square displayed area is "
                        f"no circle in the pixels of image {image.uid}: left out",
                    )
                )
                return None
        ctx.warn(
            f"{where}: DISPLAY units converted to the pixels of image {image.uid} through "
            f"its displayed area {area.tlhc[0]:g}\\{area.tlhc[1]:g} to "
            f"{area.brhc[0]:g}\\{area.brhc[1]:g}"
        )
        return Region2D(rtype, coords)

    def result(self) -> ReadResult:
        head = self.head
        hdr = head.header
        result = ReadResult(sop_class_uid=hdr.sop_class_uid, sop_instance_uid=hdr.sop_instance_uid)
        for (series, layer), g in sorted(self.groups.items()):
            variants = max(len(parts) for parts in g.parts.values())
            for v in range(variants):
                instances = [
                    Instance(
                        uid=p.image.uid,
                        sop_class_uid=p.image.sop_class_uid,
                        frames=p.image.frames,
                        segments=p.image.segments,
                        regions_2d=tuple(p.regions),
                    )
                    for parts in g.parts.values()
                    if v < len(parts)
                    for p in (parts[v],)
                ]
                suffix = f"|{v}" if v else ""
                result.selections.append(
                    head.selection(
                        f"pr|layer|{series}|{layer}{suffix}",
                        g.code,
                        instances,
                        study=hdr.study_instance_uid if series else None,
                        series=series or None,
                        description="\n".join(g.texts) or None,
                    )
                )
        result.selections.append(head.source_selection(self.ctx))
        return result


def read_pstate(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Softcopy Presentation State's graphic annotations into selections.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The presentation state (no pixel data).
    ctx : dicomsel.dicom.context.ReadContext
        The file path, options and the warning list.

    Returns
    -------
    dicomsel.dicom.context.ReadResult
        One selection per (series, graphic layer) (keys ``pr|layer|<series>|<layer>``,
        with ``|<n>`` for further frame sets of one image), then the state itself
        (``pr|source``).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the state's own UIDs are missing or invalid, or a reference's UID,
        frame or segment number is invalid.
    """
    head = read_head(
        ds,
        ctx,
        Provenance.PRESENTATION_STATE,
        "pr",
        "PresentationCreationDate",
        "PresentationCreationTime",
    )
    reader = _Reader(ds, ctx, head)
    reader.read()
    result = reader.result()
    result.issues = ctx.issues
    return result
