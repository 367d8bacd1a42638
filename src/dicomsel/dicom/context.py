"""What one read carries: the options, the per-file context, the result.

A reader receives a :class:`ReadContext` with the dataset: the file's path,
the :class:`ReadOptions`, the warnings reported so far and, when the file
reader stopped before the Per-frame Functional Groups Sequence, the
:class:`DeferredGroups` that reads them when a reader asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydicom.dataset import Dataset

from dicomsel.errors import InvalidInputError, InvalidUIDError, Issue
from dicomsel.model import Code, ObservationRecord, Selection
from dicomsel.uid import check_uid

if TYPE_CHECKING:  # the SR reader imports it; other objects have no document
    from dicomsel.document import SrDocument

__all__ = ["DeferredGroups", "ReadContext", "ReadOptions", "ReadResult"]


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Settings that change what readers produce.

    Parameters
    ----------
    timezone : str or None
        UTC offset (``+01:00`` or ``+0100``) to assume when a document has
        Content Date/Time but no Timezone Offset From UTC. None: leave
        ``issued`` out and warn.
    patient_id_system : str or None
        Identifier system for Patient ID when the file names no usable issuer.
    seg_frames : bool
        SEG: list each segment's own frames (walks the per-frame functional groups).
    code : Code or None
        Images: the selection's code (None: DCM 113000 "Of Interest").
    frames : tuple of int
        Images: the frames to select in multi-frame instances (empty: whole instances).
    max_regions : int
        Bulk annotations: the most regions one annotation group becomes; a larger
        group is selected without regions and its count reported (``--max-regions``).
    """

    timezone: str | None = None
    patient_id_system: str | None = None
    seg_frames: bool = False
    code: Code | None = None
    frames: tuple[int, ...] = ()
    max_regions: int = 1000


class DeferredGroups(Protocol):
    """The Per-frame Functional Groups Sequence of a file, left unread by the file reader.

    ``path``, ``offset`` (of the sequence's header) and the dataset's
    ``implicit`` / ``little`` encoding let a reader scan the bytes itself;
    ``items``, when not None, are the (content position, length) of the
    sequence's items, found already; :meth:`read_into` has pydicom read them
    (see :mod:`dicomsel.dicom.filereader`).
    """

    path: str
    offset: int
    implicit: bool
    little: bool
    deflated: bool
    pending: bool
    items: list[tuple[int, int]] | None

    def read_into(self, ds: Dataset) -> None:
        """Read the elements from the sequence up to Pixel Data into ``ds`` (once).

        Parameters
        ----------
        ds : pydicom.dataset.Dataset
            The dataset the file reader read.
        """


@dataclass(slots=True)
class ReadContext:
    """Per-file state of one read: where we are and what was reported.

    Parameters
    ----------
    path : str or None
        The file, for messages (None: an in-memory dataset).
    options : ReadOptions
    issues : list of dicomsel.errors.Issue
        What was read tolerantly or left out, in order.
    deferred : DeferredGroups or None
        The per-frame groups the file reader left unread (None: they are in the
        dataset, or the object has none).
    """

    path: str | None
    options: ReadOptions = field(default_factory=ReadOptions)
    issues: list[Issue] = field(default_factory=list)
    deferred: DeferredGroups | None = None

    @property
    def warnings(self) -> list[str]:
        """The messages of the issues recorded so far."""
        return [i.reason for i in self.issues]

    def warn(self, message: str, attribute: str | None = None) -> None:
        """Record something that was read tolerantly or left out.

        Parameters
        ----------
        message : str
            The whole message (it names the attribute, as it is shown to users).
        attribute : str or None
            The attribute, as :func:`dicomsel.dicom.values.attr_name` names it, when
            the caller knows it apart from the message.
        """
        self.issues.append(Issue(message, path=self.path, attribute=attribute))

    def error(self, reason: str, attribute: str | None = None) -> InvalidInputError:
        """Build an error naming this file.

        Parameters
        ----------
        reason : str
        attribute : str or None
            The attribute, as :func:`dicomsel.dicom.values.attr_name` names it.

        Returns
        -------
        dicomsel.errors.InvalidInputError
        """
        return InvalidInputError(reason, path=self.path, attribute=attribute)

    def uid(self, value: object, attribute: str) -> str:
        """Check a UID read from the file, naming the file and attribute when it is bad.

        Parameters
        ----------
        value : object
            What was read (stripped here when it is text).
        attribute : str
            Where it was read, for the message.

        Returns
        -------
        str
            The UID.

        Raises
        ------
        dicomsel.errors.InvalidUIDError
            When it is not a valid UID.
        """
        try:
            return check_uid(value if value is None else str(value).strip(), attribute)
        except InvalidUIDError as e:
            raise InvalidUIDError(e.reason, path=self.path, attribute=attribute) from e

    def pending_groups(self) -> DeferredGroups | None:
        """The deferred per-frame groups when they are still unread, else None.

        Returns
        -------
        DeferredGroups or None
        """
        deferred = self.deferred
        return deferred if deferred is not None and deferred.pending else None


@dataclass(slots=True)
class ReadResult:
    """What a reader produced from one DICOM object.

    ``observations`` are the measurements and evaluations an SR holds; their
    ``derived_from`` name selections of ``selections`` by key. ``issues`` are
    what was read tolerantly or left out (pydicom's warnings among them).
    ``document`` is what an SR says of itself (None for other objects).
    """

    sop_class_uid: str
    sop_instance_uid: str
    selections: list[Selection] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    observations: list[ObservationRecord] = field(default_factory=list)
    document: SrDocument | None = None

    @property
    def warnings(self) -> list[str]:
        """The messages of :attr:`issues`, in order."""
        return [i.reason for i in self.issues]
