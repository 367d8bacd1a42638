"""The exception tree, the warning classes and the :class:`Issue` record of dicomsel.

Every error raised on bad input is a :class:`DicomselError`; those about one
input name the file, the DICOM attribute (keyword and tag) and the reason, so
that a batch report line is enough to find the problem. What is read
tolerantly or cannot be carried by the target is not an exception but an
:class:`Issue`, collected in results and reports; the :class:`Validation`
setting (pydicom's ``reading_validation_mode`` is the model) says whether an
issue fails its input, is logged, or is only recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "DicomselError",
    "FhirServerError",
    "InputWarning",
    "InvalidInputError",
    "InvalidUIDError",
    "Issue",
    "LossyMappingWarning",
    "MappingError",
    "NotDicomError",
    "PacsError",
    "Severity",
    "UnsupportedObjectError",
    "Validation",
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


class PacsError(DicomselError):
    """A PACS (DICOMweb or DIMSE peer) refused, failed or could not be reached.

    ``path`` names the peer or the item (a URL, ``dimse://AET@host:port/...``);
    never a credential.
    """


class FhirServerError(DicomselError):
    """A FHIR server refused, failed or could not be reached (after the retries allowed).

    Parameters
    ----------
    reason : str
    path : str or None
        The server's base URL (never with a credential).
    status : int or None
        The HTTP status of the last answer, None when there was none.
    """

    def __init__(self, reason: str, *, path: str | None = None, status: int | None = None):
        self.status = status
        super().__init__(reason, path=path)


class LossyMappingWarning(UserWarning):
    """Something the target format cannot carry was left out or changed."""


class InputWarning(UserWarning):
    """The input was read tolerantly: a value was malformed, missing or out of place."""


class Severity(StrEnum):
    """How bad an :class:`Issue` is."""

    #: the input (or part of it) could not be converted
    ERROR = "error"
    #: converted, but something was read tolerantly or left out
    WARNING = "warning"


class Validation(StrEnum):
    """What a warning-level :class:`Issue` does to its input (``--strict`` is ``RAISE``).

    Whatever the setting, every issue is kept in the result and the report:
    nothing is dropped silently.
    """

    #: the input fails (the batch goes on with the next one)
    RAISE = "raise"
    #: the input converts; each issue is logged as a warning
    WARN = "warn"
    #: the input converts; issues are recorded in the report, not logged
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing reported about one input: what was read tolerantly, left out or failed.

    Parameters
    ----------
    reason : str
        The message, in one sentence; it names the attribute when it is about one.
    severity : Severity
        ``warning`` (converted, with a loss or a tolerant read) or ``error``.
    path : str or None
        The file (or other source) the issue is about.
    attribute : str or None
        The DICOM attribute (``"ContentDate (0008,0023)"``) or FHIR element path involved,
        when the reporter knows it apart from the message.
    category : type of Warning
        :class:`LossyMappingWarning` for what the target cannot carry,
        :class:`InputWarning` for what was read tolerantly.
    """

    reason: str
    severity: Severity = Severity.WARNING
    path: str | None = None
    attribute: str | None = None
    category: type[Warning] = InputWarning

    def __str__(self) -> str:
        return self.reason

    @classmethod
    def lossy(cls, reason: str, *, path: str | None = None, attribute: str | None = None) -> Issue:
        """An issue about something the target cannot carry (:class:`LossyMappingWarning`)."""
        return cls(reason, path=path, attribute=attribute, category=LossyMappingWarning)

    @classmethod
    def from_error(cls, error: DicomselError) -> Issue:
        """The error-level issue of a :class:`DicomselError`."""
        return cls(
            error.reason, severity=Severity.ERROR, path=error.path, attribute=error.attribute
        )

    def with_path(self, path: str) -> Issue:
        """The same issue, naming ``path`` when it named no file yet."""
        if self.path is not None:
            return self
        return Issue(self.reason, self.severity, path, self.attribute, self.category)

    def as_json(self) -> dict[str, Any]:
        """The issue as a report entry (the path is the report entry's own)."""
        out: dict[str, Any] = {"severity": str(self.severity)}
        if self.attribute:
            out["attribute"] = self.attribute
        out["reason"] = self.reason
        out["kind"] = "lossy" if issubclass(self.category, LossyMappingWarning) else "input"
        return out
