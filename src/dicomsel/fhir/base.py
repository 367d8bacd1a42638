"""What every FHIR writer returns, and the interface a flavour module provides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dicomsel.errors import Issue
from dicomsel.model import Selection

__all__ = ["Flavour", "Output"]


@dataclass(slots=True)
class Output:
    """Resources written from one source, with what could not be carried.

    ``resources`` are the source's own resources, in order; ``shared`` are
    resources several sources may reference (Endpoints), by id, so a batch
    writes each once. ``refs`` maps each selection's ``key`` to the literal
    references (``ImagingSelection/<id>``) of the resources written for it (one
    in R5; several where a flavour splits a selection), so resources that point
    at selections (Observation.derivedFrom, focus) need not know the flavour.
    ``warnings`` collects the messages of what the flavour could not carry, as the
    writer goes; :attr:`issues` gives them as :class:`~dicomsel.errors.Issue` records.
    """

    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def issues(self) -> list[Issue]:
        """What the flavour could not carry (:class:`~dicomsel.errors.LossyMappingWarning`)."""
        return [Issue.lossy(w) for w in self.warnings]


class Flavour(Protocol):
    """A FHIR flavour module (``dicomsel.fhir.r5``, ...)."""

    NAME: str

    def write(self, selections: Sequence[Selection]) -> Output:
        """Write selections as resources of this flavour."""
        ...

    def validate(self, resource: dict[str, Any], full: bool | None = None) -> None:
        """Raise :class:`dicomsel.errors.ValidationError` if ``resource`` is not valid.

        The fast check always; ``full`` adds the heavy validator (fhir.resources,
        jsonschema); None: as ``DICOMSEL_VALIDATE`` says (fast when unset).
        """
        ...

    def from_imaging_selection(
        self,
        res: dict[str, Any],
        *,
        endpoints: dict[str, dict[str, Any]] | None = None,
        warnings: list[str] | None = None,
    ) -> Selection:
        """Read one ImagingSelection of this flavour back into the model."""
        ...
