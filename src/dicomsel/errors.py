"""The exception tree and warning classes of dicomsel.

Every error raised on bad input is a :class:`DicomselError`; those about one
input name the file, the DICOM attribute (keyword and tag) and the reason, so
that a batch report line is enough to find the problem.
"""

from __future__ import annotations

__all__ = [
    "DicomselError",
    "InvalidInputError",
    "InvalidUIDError",
    "LossyMappingWarning",
    "MappingError",
    "NotDicomError",
    "UnsupportedObjectError",
    "ValidationError",
]


class DicomselError(Exception):
    """Root of every error dicomsel raises on purpose.

    Parameters
    ----------
    reason : str
        What is wrong, in one sentence.
    path : str or None
        The file (or other source) the error is about.
    attribute : str or None
        The DICOM attribute involved, e.g. ``"ReferencedSOPInstanceUID (0008,1155)"``.
    """

    def __init__(self, reason: str, *, path: str | None = None, attribute: str | None = None):
        self.reason = reason
        self.path = path
        self.attribute = attribute
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts = []
        if self.path:
            parts.append(self.path)
        if self.attribute:
            parts.append(self.attribute)
        parts.append(self.reason)
        return ": ".join(parts)

    def with_path(self, path: str) -> DicomselError:
        """Return the same error, naming ``path`` when it named no file yet."""
        if self.path is None:
            self.path = path
            self.args = (self._compose(),)
        return self


class InvalidInputError(DicomselError, ValueError):
    """The input cannot be read as what it claims to be."""


class NotDicomError(InvalidInputError):
    """The file is not a DICOM Part 10 file (no preamble/DICM prefix, no dataset)."""


class InvalidUIDError(InvalidInputError):
    """A value that must be a DICOM UID (PS3.5 section 9) is not one."""


class UnsupportedObjectError(DicomselError):
    """The object is DICOM, but of a SOP class no reader handles."""


class MappingError(DicomselError):
    """The input is valid but cannot be mapped to the target without losing meaning."""


class ValidationError(DicomselError):
    """Output failed validation against the target's rules."""


class LossyMappingWarning(UserWarning):
    """Something the target format cannot carry was left out or changed."""
