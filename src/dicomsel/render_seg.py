"""Segment outlines: each segment of a DICOM SEG as the boundary of its mask, per source frame.

The SEG's frames are decoded (pydicom's pixel handling, bit-packed BINARY
unpacked by it; numpy for the rest). Each frame's segment comes from its
Segment Identification Sequence (a LABELMAP frame holds every segment, by
value), its source frame from Derivation Image Sequence > Source Image
Sequence. The outline is the mask's boundary: ``mask & ~eroded(mask)``, with a
4-neighbour erosion and the outside of the frame counted as background. A
FRACTIONAL frame is a mask where its value is at least half the Maximum
Fractional Value. The colour is the segment's Recommended Display CIELab Value
as sRGB (D65), else the caller's default.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dicomsel.errors import InputWarning, InvalidInputError

__all__ = ["SegmentOutline", "cielab_to_rgb", "is_seg", "outline", "segment_outlines"]

_SEG_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
# sRGB (IEC 61966-2-1) from CIE XYZ, D65 white
_XYZ_TO_RGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)
_D65 = (0.95047, 1.0, 1.08883)


@dataclass(frozen=True, slots=True)
class SegmentOutline:
    """The outline of one segment on one source frame.

    Parameters
    ----------
    sop_instance_uid : str
        The source image's SOP Instance UID.
    frame : int
        The source frame (1 for a single-frame image).
    segment_number : int
    label : str
        The Segment Label (or ``segment <n>``).
    colour : tuple of int
        sRGB, 0-255.
    pixels : numpy.ndarray
        Boolean, rows x columns of the SEG: True on the mask's boundary pixels.
    """

    sop_instance_uid: str
    frame: int
    segment_number: int
    label: str
    colour: tuple[int, int, int]
    pixels: np.ndarray[Any, Any]


def is_seg(path: str) -> bool:
    """Whether ``path`` is a DICOM Segmentation (66.4 or Label Map 66.7).

    Parameters
    ----------
    path : str

    Returns
    -------
    bool
        False for FHIR or any file pydicom cannot read as DICOM.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:  # not DICOM (FHIR, text): not a SEG
        return False
    return str(getattr(ds, "SOPClassUID", "")) in _SEG_CLASSES


def cielab_to_rgb(value: Sequence[int]) -> tuple[int, int, int]:
    """A DICOM CIELab value (PS3.3 C.10.7.1.1) as sRGB, clipped to the gamut.

    Parameters
    ----------
    value : sequence of int
        L*, a*, b* scaled to 0-65535 (L* from 0-100, a* and b* from -128-127).

    Returns
    -------
    tuple of int
        Red, green, blue in 0-255.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When ``value`` is not three numbers.
    """
    if len(value) != 3:
        raise InvalidInputError(
            f"{len(value)} values, not 3", attribute="RecommendedDisplayCIELabValue"
        )
    lum = float(value[0]) * 100.0 / 0xFFFF
    a, b = (float(v) * 255.0 / 0xFFFF - 128.0 for v in value[1:])
    fy = (lum + 16.0) / 116.0
    f = np.array([a / 500.0 + fy, fy, fy - b / 200.0])
    xyz = np.where(f**3 > 216.0 / 24389.0, f**3, (f - 16.0 / 116.0) * 108.0 / 841.0)
    lin = _XYZ_TO_RGB @ (xyz * np.array(_D65))
    srgb = np.where(lin > 0.0031308, 1.055 * np.abs(lin) ** (1 / 2.4) - 0.055, 12.92 * lin)
    r, g, bl = (int(v) for v in np.clip(np.rint(srgb * 255.0), 0, 255))
    return (r, g, bl)


def outline(mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The boundary pixels of a 2D mask: the mask less its 4-neighbour erosion.

    Parameters
    ----------
    mask : numpy.ndarray
        2D, truthy where the segment is; outside the array counts as background.

    Returns
    -------
    numpy.ndarray
        Boolean, the same shape.
    """
    m = np.asarray(mask, dtype=bool)
    p = np.pad(m, 1, constant_values=False)
    eroded = m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return np.asarray(m & ~eroded, dtype=bool)


def _segments(ds: Any, default: tuple[int, int, int]) -> dict[int, tuple[str, tuple[int, ...]]]:
    out: dict[int, tuple[str, tuple[int, ...]]] = {}
    for item in getattr(ds, "SegmentSequence", None) or ():
        n = int(item.SegmentNumber)
        lab = item.get("RecommendedDisplayCIELabValue")
        colour = cielab_to_rgb([int(v) for v in lab]) if lab else default
        out[n] = (str(item.get("SegmentLabel", "") or f"segment {n}"), colour)
    return out


def _source(group: Any) -> tuple[str, int] | None:
    for deriv in group.get("DerivationImageSequence") or ():
        for src in deriv.get("SourceImageSequence") or ():
            uid = str(src.get("ReferencedSOPInstanceUID", "") or "")
            if uid:
                frames = src.get("ReferencedFrameNumber")
                if frames is None or frames == "":
                    return uid, 1
                first = frames[0] if isinstance(frames, Sequence) else frames
                return uid, int(first)
    return None


def _masks(ds: Any, path: str) -> np.ndarray[Any, Any]:
    try:
        arr = np.asarray(ds.pixel_array)
    except Exception as e:  # pydicom's decoders raise many kinds
        raise InvalidInputError(f"pixel data cannot be decoded ({e})", path=path) from e
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    kind = str(getattr(ds, "SegmentationType", "BINARY"))
    if kind == "FRACTIONAL":
        top = float(getattr(ds, "MaximumFractionalValue", 255) or 255)
        return np.asarray(arr.astype(np.float64) >= top / 2.0)
    return arr


def segment_outlines(
    path: str, default: tuple[int, int, int] = (255, 0, 0)
) -> list[SegmentOutline]:
    """Each segment's outline on each source frame of a DICOM SEG.

    Frames that name no source image are not drawn: each is an
    :class:`~dicomsel.errors.InputWarning` (matching by Plane Position and Frame
    of Reference is not done).

    Parameters
    ----------
    path : str
        A Segmentation (66.4, BINARY or FRACTIONAL) or Label Map Segmentation (66.7).
    default : tuple of int
        The colour of a segment without a Recommended Display CIELab Value.

    Returns
    -------
    list of SegmentOutline
        Ordered by segment number, then source UID and frame; one per segment and
        source frame (frames of one segment on the same source frame are joined).

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the file cannot be read or its pixel data cannot be decoded, or its
        frames do not match its Per-frame Functional Groups.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path)
    except Exception as e:  # pydicom raises many kinds on a broken file
        raise InvalidInputError(f"cannot be read as DICOM ({e})", path=path) from e
    segments = _segments(ds, default)
    groups = list(getattr(ds, "PerFrameFunctionalGroupsSequence", None) or ())
    masks = _masks(ds, path)
    if len(groups) != masks.shape[0]:
        raise InvalidInputError(
            f"{masks.shape[0]} frames but {len(groups)} functional group items",
            path=path,
            attribute="PerFrameFunctionalGroupsSequence",
        )
    shared = (getattr(ds, "SharedFunctionalGroupsSequence", None) or [None])[0]
    labelmap = str(getattr(ds, "SegmentationType", "")) == "LABELMAP"
    joined: dict[tuple[int, str, int], np.ndarray[Any, Any]] = {}
    for i, group in enumerate(groups):
        src = _source(group) or (_source(shared) if shared is not None else None)
        if src is None:
            warnings.warn(
                f"{path}: frame {i + 1} names no source image "
                "(DerivationImageSequence > SourceImageSequence): not drawn",
                InputWarning,
                stacklevel=2,
            )
            continue
        frame = masks[i]
        if labelmap:
            parts = [(n, frame == n) for n in sorted(segments)]
        else:
            ident = group.get("SegmentIdentificationSequence") or (
                shared.get("SegmentIdentificationSequence") if shared is not None else None
            )
            if not ident:
                raise InvalidInputError(
                    f"frame {i + 1} names no segment",
                    path=path,
                    attribute="SegmentIdentificationSequence",
                )
            parts = [(int(ident[0].ReferencedSegmentNumber), frame.astype(bool))]
        for n, mask in parts:
            if not mask.any():
                continue
            key = (n, src[0], src[1])
            joined[key] = joined[key] | mask if key in joined else mask
    out = []
    for (n, uid, fr), mask in sorted(joined.items(), key=lambda kv: kv[0]):
        label, colour = segments.get(n, (f"segment {n}", default))
        rgb = (int(colour[0]), int(colour[1]), int(colour[2]))
        out.append(SegmentOutline(uid, fr, n, label, rgb, outline(mask)))
    return out
