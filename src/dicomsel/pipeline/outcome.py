"""The records of a run: options, each input's outcome, the batch and one item's result."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dicomsel.dicom import ReadOptions
from dicomsel.errors import DicomselError, Issue, Severity, Validation
from dicomsel.fhir.r5.check import default_full
from dicomsel.model import Selection

__all__ = [
    "Batch",
    "ConvertOptions",
    "ItemResult",
    "Outcome",
    "error_reason",
    "report_issues",
    "strict_failure",
]

log = logging.getLogger("dicomsel")


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options of a conversion run.

    Parameters
    ----------
    fhir : str
        Output flavour: ``r5`` (FHIR R5 5.0.0) or ``r5-snapshot1``.
    validation : dicomsel.errors.Validation
        What a warning does to its input: ``raise`` fails it (``--strict``), ``warn``
        (default) logs it, ``ignore`` only records it in the outcome.
    read : dicomsel.dicom.ReadOptions
        Reader settings (assumed time zone, patient identifier system, ...).
    jobs : int
        Processes converting items in parallel; the output does not depend on it.
    observations : bool
        Write the Observations an SR holds (measurements, groups, evaluations).
    item_timeout : float or None
        Seconds one item may take to read and convert, enforced in the process
        that converts it (main thread only, POSIX); over it the item fails and the
        batch goes on. None or 0: no limit.
    profile : str
        ``none`` (default) or ``dicom-sr``: an SR becomes the HL7 dicom-sr IG's
        resource graph, each resource claiming its profile (R5 only; other inputs
        are written as without it).
    full_validation : bool
        Validate each resource written with the heavy validators too
        (fhir.resources, jsonschema: ``--validate full``), not only the fast
        check; the default is ``DICOMSEL_VALIDATE``'s (fast when unset).
    """

    fhir: str = "r5"
    validation: Validation = Validation.WARN
    read: ReadOptions = field(default_factory=ReadOptions)
    jobs: int = 1
    observations: bool = True
    item_timeout: float | None = 60.0
    profile: str = "none"
    full_validation: bool = field(default_factory=default_full)

    @property
    def strict(self) -> bool:
        """Whether any warning fails its input (``validation`` is ``raise``)."""
        return self.validation is Validation.RAISE


@dataclass(slots=True)
class Outcome:
    """What happened to one input: its status, its issues and the resources it produced."""

    path: str
    status: str  # converted | skipped | failed
    reason: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    issues: list[Issue] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """The warning-level issues' messages."""
        return [i.reason for i in self.issues if i.severity is Severity.WARNING]

    def fail(self, reason: str) -> None:
        """Mark the input failed (its resources are not written) and log why."""
        self.status, self.reason, self.resources = "failed", reason, []
        log.error("%s: %s", self.path, reason)

    def as_json(self) -> dict[str, Any]:
        """The outcome as a report entry."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.sop_class_uid:
            out["sopClassUid"] = self.sop_class_uid
        if self.sop_instance_uid:
            out["sopInstanceUid"] = self.sop_instance_uid
        out["warnings"] = self.warnings
        out["issues"] = [i.as_json() for i in self.issues]
        out["resources"] = list(self.resources)
        return out


@dataclass(slots=True)
class Batch:
    """The result of a run: every input's outcome and, without a sink, the resources.

    ``resources`` are the inputs' own resources in output order, ``shared`` those
    several inputs reference (Endpoints), by id; with a sink both are empty, the
    resources having gone to the sink.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: resources written to the run's sink
    written: int = 0

    def all_resources(self) -> list[dict[str, Any]]:
        """Each input's resources in input order, then shared ones (Endpoints) sorted by id."""
        return self.resources + [self.shared[k] for k in sorted(self.shared)]

    def count(self, status: str) -> int:
        """How many inputs ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    def report(self) -> dict[str, Any]:
        """The batch report: a summary and every input's outcome."""
        return {
            "summary": {
                "inputs": len(self.outcomes),
                "converted": self.count("converted"),
                "skipped": self.count("skipped"),
                "failed": self.count("failed"),
                "resources": self.written or len(self.all_resources()),
            },
            "inputs": [o.as_json() for o in self.outcomes],
        }


@dataclass(slots=True)
class ItemResult:
    """One item's conversion, as per-item work hands it back to the driver.

    ``pending`` are the item's per-file image selections, merged per series by
    the driver before they are written.
    """

    outcome: Outcome
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[Selection] = field(default_factory=list)


def report_issues(outcome: Outcome, issues: Iterable[Issue], opts: ConvertOptions) -> None:
    """Add issues to an outcome, logging them unless validation is ``ignore``."""
    for issue in issues:
        outcome.issues.append(issue)
        if opts.validation is not Validation.IGNORE:
            log.warning("%s: %s", outcome.path, issue.reason)


def strict_failure(outcome: Outcome, opts: ConvertOptions, what: str = "") -> bool:
    """Under ``raise``, fail an outcome that has warnings; tell whether it did."""
    warnings = outcome.warnings
    if not (opts.strict and warnings):
        return False
    outcome.fail(f"--strict: {what}{len(warnings)} warning(s), first: {warnings[0]}")
    return True


def error_reason(e: DicomselError) -> str:
    parts = [p for p in (e.attribute, e.reason) if p]
    return ": ".join(parts)
