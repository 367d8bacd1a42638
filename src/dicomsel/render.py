"""Region overlays: the referenced frame as a PNG with the 2D region drawn on it.

The one place where dicomsel decodes pixel data (pydicom + numpy; Pillow draws,
the ``dicomsel[render]`` extra). Every 2D region of the input (an SR SCOORD, a
selection's imageRegion2D) is drawn on the frame it references, found by SOP
Instance UID among the DICOM files of the image folder, at its pixel
coordinates: DICOM Graphic Data (column, row), 0.0\\0.0 the top-left corner of
the top-left pixel, so pixel (c, r) is drawn for the point (c + 0.5, r + 0.5).
The frame is shown at its own size, windowed by its VOI LUT / Window Center
and Width, else by the 1st-99th percentile of its values; a caption band below
it names the region's concept and, for a measurement, its value and unit.
A SEG's segments are drawn as their masks' outlines (:mod:`dicomsel.render_seg`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dicomsel.errors import DicomselError, InvalidInputError
from dicomsel.model import Region2D, RegionType2D
from dicomsel.render_seg import is_seg, segment_outlines

__all__ = ["COLOUR", "Overlay", "overlays", "render"]

#: the colour regions are drawn in (never a grey, so it tells itself from the image)
COLOUR = (255, 0, 0)
_CAPTION = 14  # caption band height in pixels


@dataclass(frozen=True, slots=True)
class Overlay:
    """One region to draw: on which instance and frame, and its caption."""

    sop_instance_uid: str
    frame: int
    region: Region2D
    caption: str


def overlays(path: str) -> list[Overlay]:
    """The 2D regions of a DICOM or FHIR input, with captions from its measurements.

    Parameters
    ----------
    path : str
        A DICOM file (SR, KOS, ...) or FHIR that dicomsel wrote.

    Returns
    -------
    list of Overlay
        In document order; frame 1 when the reference names no frame.
    """
    from dicomsel.measurements import measurements

    with open(path, "rb") as f:
        fhir = f.read(64).lstrip().startswith((b"{", b"<"))
    if fhir:
        from dicomsel.fhir.bundle import read_fhir

        selections = read_fhir(path).selections
    else:
        from dicomsel.dicom import read_file

        selections = read_file(path).selections
    captions: dict[tuple[str, str], str] = {}
    for row in measurements([path]):
        text = f"{row['concept_meaning']} {row['value']:g} {row['unit']}".strip()
        for uid, data in zip(
            row["referenced_sop_instance_uid"].split(";"),
            row["graphic_data"].split(";"),
            strict=False,
        ):
            captions.setdefault((uid, data), text)
    out: list[Overlay] = []
    for sel in selections:
        for inst in sel.instances:
            for region in inst.regions_2d:
                data = " ".join(repr(float(c)) for c in region.coordinates)
                caption = captions.get((inst.uid, data)) or (sel.code.meaning or "region")
                for frame in inst.frames or (1,):
                    out.append(Overlay(inst.uid, frame, region, caption))
    return out


def _index(folder: str) -> dict[str, str]:
    import pydicom

    found: dict[str, str] = {}
    for root, _dirs, files in sorted(os.walk(folder)):
        for name in sorted(files):
            p = os.path.join(root, name)
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
            except Exception:  # not DICOM: not an image of the folder
                continue
            uid = str(getattr(ds, "SOPInstanceUID", "") or "")
            if uid:
                found.setdefault(uid, p)
    return found


def _frame(path: str, frame: int) -> np.ndarray[Any, Any]:
    """The frame as 8-bit grey (or RGB), windowed."""
    import pydicom
    from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(path)
        n = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if not 1 <= frame <= n:
            raise InvalidInputError(f"{path}: frame {frame} of {n}", attribute="NumberOfFrames")
        arr = ds.pixel_array if n == 1 else ds.pixel_array[frame - 1]
    except DicomselError:
        raise
    except Exception as e:  # pydicom's decoders raise many kinds
        raise InvalidInputError(f"{path}: pixel data cannot be decoded ({e})") from e
    if getattr(ds, "SamplesPerPixel", 1) == 3:
        return np.asarray(arr, dtype=np.uint8)
    values = apply_modality_lut(arr, ds).astype(np.float64)
    if "WindowCenter" in ds or "VOILUTSequence" in ds:
        values = apply_voi_lut(values, ds, index=0).astype(np.float64)
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = (float(v) for v in np.percentile(values, [1, 99]))
    scaled = np.clip((values - lo) / ((hi - lo) or 1.0), 0.0, 1.0) * 255.0
    grey = np.rint(scaled).astype(np.uint8)
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        grey = 255 - grey
    return grey


def _ellipse(coords: tuple[float, ...]) -> list[tuple[float, float]]:
    (x1, y1, x2, y2, x3, y3, x4, y4) = coords
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a = math.hypot(x2 - x1, y2 - y1) / 2
    b = math.hypot(x4 - x3, y4 - y3) / 2
    t = math.atan2(y2 - y1, x2 - x1)
    pts = []
    for i in range(360):
        u = math.radians(i)
        ex, ey = a * math.cos(u), b * math.sin(u)
        pts.append(
            (cx + ex * math.cos(t) - ey * math.sin(t), cy + ex * math.sin(t) + ey * math.cos(t))
        )
    return pts


def _draw(draw: Any, region: Region2D) -> None:
    # DICOM's (c + 0.5, r + 0.5) is the centre of pixel (c, r), which Pillow calls (c, r)
    c = [v - 0.5 for v in region.coordinates]
    pts = list(zip(c[0::2], c[1::2], strict=True))
    rt = region.region_type
    if rt in (RegionType2D.POINT, RegionType2D.MULTIPOINT):
        for x, y in pts:
            draw.line([(x - 3, y), (x + 3, y)], fill=COLOUR)
            draw.line([(x, y - 3), (x, y + 3)], fill=COLOUR)
    elif rt == RegionType2D.CIRCLE:
        (cx, cy), (px, py) = pts
        r = math.hypot(px - cx, py - cy)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=COLOUR)
    elif rt == RegionType2D.ELLIPSE:
        draw.polygon([(x - 0.5, y - 0.5) for x, y in _ellipse(region.coordinates)], outline=COLOUR)
    else:  # polyline (closed when its last point is its first), interpolated
        draw.line(pts, fill=COLOUR, width=1)


def _caption(image: Any, caption: str) -> Any:
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (image.width, image.height + _CAPTION), (0, 0, 0))
    canvas.paste(image, (0, 0))
    ImageDraw.Draw(canvas).text((2, image.height + 1), caption, fill=(255, 255, 255))
    return canvas


def _render_seg(path: str, images: dict[str, str], image_dir: str, out_dir: str) -> list[str]:
    """Each segment's mask outline on its source frames, in the segment's colour."""
    from PIL import Image

    written = []
    for seg in segment_outlines(path, COLOUR):
        image = images.get(seg.sop_instance_uid)
        if image is None:
            raise InvalidInputError(
                f"source image {seg.sop_instance_uid} is not in {image_dir}",
                path=path,
                attribute="ReferencedSOPInstanceUID",
            )
        pixels = np.array(Image.fromarray(_frame(image, seg.frame)).convert("RGB"))
        if pixels.shape[:2] != seg.pixels.shape:
            raise InvalidInputError(
                f"segment {seg.segment_number}: {seg.pixels.shape[1]}x{seg.pixels.shape[0]} "
                f"frame on a {pixels.shape[1]}x{pixels.shape[0]} source frame {seg.frame} "
                f"of {seg.sop_instance_uid}",
                path=path,
                attribute="Rows, Columns",
            )
        pixels[seg.pixels] = seg.colour
        canvas = _caption(Image.fromarray(pixels), f"{seg.segment_number} {seg.label}")
        name = f"{seg.sop_instance_uid}-f{seg.frame}-s{seg.segment_number}.png"
        target = os.path.join(out_dir, name)
        canvas.save(target, format="PNG", optimize=False)
        written.append(target)
    return written


def render(inputs: Iterable[str], image_dir: str, out_dir: str) -> list[str]:
    """Draw every 2D region of ``inputs`` on its frame; write one PNG per region.

    A DICOM SEG is drawn as each segment's mask outline on each of its source
    frames (:func:`dicomsel.render_seg.segment_outlines`), in the segment's
    colour, one PNG ``<source SOP Instance UID>-f<frame>-s<segment>.png`` each.

    Parameters
    ----------
    inputs : iterable of str
        DICOM (SR, KOS, SEG, ...) or FHIR files with 2D regions.
    image_dir : str
        Folder (searched recursively) with the referenced images.
    out_dir : str
        Existing folder for the PNGs, named ``<SOP Instance UID>-f<frame>-<n>.png``.

    Returns
    -------
    list of str
        The paths written, in input order.

    Raises
    ------
    dicomsel.errors.DicomselError
        Without Pillow (``dicomsel[render]``), for an image not in ``image_dir`` or
        pixel data that cannot be decoded.
    """
    try:
        from PIL import Image, ImageDraw
    except ImportError as e:
        raise DicomselError("render needs Pillow: pip install 'dicomsel[render]'") from e
    if not os.path.isdir(out_dir):
        raise InvalidInputError(f"{out_dir}: not a folder")
    images = _index(image_dir)
    written: list[str] = []
    counts: dict[tuple[str, int], int] = {}
    for path in map(os.fspath, inputs):
        if is_seg(path):
            written.extend(_render_seg(path, images, image_dir, out_dir))
            continue
        for ov in overlays(path):
            image = images.get(ov.sop_instance_uid)
            if image is None:
                raise InvalidInputError(
                    f"{path}: referenced image {ov.sop_instance_uid} is not in {image_dir}",
                    attribute="ReferencedSOPInstanceUID",
                )
            pixels = _frame(image, ov.frame)
            base = Image.fromarray(pixels).convert("RGB")
            canvas = Image.new("RGB", (base.width, base.height + _CAPTION), (0, 0, 0))
            canvas.paste(base, (0, 0))
            draw = ImageDraw.Draw(canvas)
            _draw(draw, ov.region)
            draw.rectangle([0, base.height, base.width, base.height + _CAPTION], fill=(0, 0, 0))
            draw.text((2, base.height + 1), ov.caption, fill=(255, 255, 255))
            n = counts.get((ov.sop_instance_uid, ov.frame), 0) + 1
            counts[(ov.sop_instance_uid, ov.frame)] = n
            target = os.path.join(out_dir, f"{ov.sop_instance_uid}-f{ov.frame}-{n}.png")
            canvas.save(target, format="PNG", optimize=False)
            written.append(target)
    return written
