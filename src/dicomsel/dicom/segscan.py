"""The SEG reader's per-frame functional groups, read from the file's bytes.

pydicom builds a Dataset for every item of every nested sequence, which for a SEG of
thousands of frames costs more than all the rest of the conversion. The byte scanner
(:mod:`dicomsel.dicom.scanner`) walks the element headers of the Per-frame Functional
Groups Sequence (little endian, explicit or implicit VR) and only the five attributes
the SEG reader (:mod:`dicomsel.dicom.seg`) needs are decoded. Anything it does not
expect makes it give up, and pydicom reads the sequence instead (and reports what is
wrong).
"""

from __future__ import annotations

import mmap
import struct

from dicomsel.dicom import tags
from dicomsel.dicom.context import DeferredGroups
from dicomsel.dicom.scanner import Scanner, Unsupported, count_items

__all__ = ["RawFrame", "RawRef", "count_per_frame", "scan_per_frame"]

# Per-frame facts as read, before any check: (Referenced Segment Number, [(Referenced SOP
# Instance UID, Referenced SOP Class UID, [Referenced Frame Number, ...]), ...]). They come from
# the byte scanner below, or from pydicom (the SEG reader) when the scanner gives up.
RawRef = tuple[str, str | None, list[str]]
RawFrame = tuple[str | None, list[RawRef]]

_U16 = struct.Struct("<H")


def _scan_frame(scanner: Scanner, pos: int, length: int) -> RawFrame:
    segment: str | None = None
    refs: list[RawRef] = []
    for tag, ln, vpos in scanner.elements(pos, length):
        if tag == tags.SegmentIdentificationSequence:
            for ipos, iln in scanner.items(vpos, ln)[:1]:
                for t, l2, p2 in scanner.elements(ipos, iln):
                    if t == tags.ReferencedSegmentNumber and l2:
                        if l2 != 2:
                            raise Unsupported("Referenced Segment Number is not US")
                        segment = str(_U16.unpack_from(scanner.buf, p2)[0])
        elif tag == tags.DerivationImageSequence:
            for ipos, iln in scanner.items(vpos, ln):
                for t, l2, p2 in scanner.elements(ipos, iln):
                    if t == tags.SourceImageSequence:
                        for spos, sln in scanner.items(p2, l2):
                            refs.extend(_scan_source(scanner, spos, sln))
    return segment, refs


def _scan_source(scanner: Scanner, pos: int, length: int) -> list[RawRef]:
    uid = cls = None
    frames: list[str] = []
    for tag, ln, vpos in scanner.elements(pos, length):
        if tag == tags.ReferencedSOPInstanceUID:
            uid = scanner.text(vpos, ln)
        elif tag == tags.ReferencedSOPClassUID:
            cls = scanner.text(vpos, ln)
        elif tag == tags.ReferencedFrameNumber:
            t = scanner.text(vpos, ln)
            frames = [f for f in (t or "").split("\\") if f.strip()]
    return [(uid, cls, frames)] if uid else []


def _scannable(deferred: DeferredGroups) -> bool:
    """Whether the scanner reads this file's bytes (little endian, not deflated)."""
    return deferred.little and not deferred.deflated


def scan_per_frame(deferred: DeferredGroups) -> list[RawFrame] | None:
    """The per-frame facts read from the file's bytes, or None when pydicom must read them."""
    if not _scannable(deferred):
        return None
    try:
        with (
            open(deferred.path, "rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            scanner = Scanner(buf, deferred.implicit)
            spans = deferred.items
            if spans is None:
                tag, length, vpos = scanner.header(deferred.offset)
                if tag != tags.PerFrameFunctionalGroupsSequence:
                    return None
                spans = scanner.items(vpos, length)
            return [_scan_frame(scanner, p, ln) for p, ln in spans]
    except (Unsupported, OSError, ValueError, struct.error):
        return None


def count_per_frame(deferred: DeferredGroups) -> int | None:
    """The number of per-frame functional groups left unread, None when it cannot be counted."""
    if deferred.items is not None:  # walked by the header reader
        return len(deferred.items)
    if not _scannable(deferred):
        return None
    tag = tags.PerFrameFunctionalGroupsSequence
    return count_items(deferred.path, deferred.offset, tag, deferred.implicit)
