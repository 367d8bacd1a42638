"""DICOM files and folders -> FHIR resources, as a batch that never stops on one bad input.

This is the library behind ``dicomsel convert``: it expands inputs, reads
each file with the reader its SOP class calls for, writes the resources of
the chosen flavour and records every input's outcome for the report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dicomsel import dicom, fhir
from dicomsel.dicom.common import ReadOptions
from dicomsel.errors import (
    DicomselError,
    NotDicomError,
    UnsupportedObjectError,
)

__all__ = ["Batch", "ConvertOptions", "Outcome", "convert"]

log = logging.getLogger("dicomsel")


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Options of a conversion batch.

    Parameters
    ----------
    fhir : str
        Output flavour: ``r5`` (FHIR R5 5.0.0).
    strict : bool
        Treat every warning (anything left out or changed) as an error of its input.
    read : dicomsel.dicom.common.ReadOptions
        Reader settings (assumed time zone, patient identifier system).
    """

    fhir: str = "r5"
    strict: bool = False
    read: ReadOptions = field(default_factory=ReadOptions)


@dataclass(slots=True)
class Outcome:
    """What happened to one input."""

    path: str
    status: str  # converted | skipped | failed
    reason: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    warnings: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The outcome as a report entry."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.sop_class_uid:
            out["sopClassUid"] = self.sop_class_uid
        if self.sop_instance_uid:
            out["sopInstanceUid"] = self.sop_instance_uid
        out["warnings"] = list(self.warnings)
        out["resources"] = list(self.resources)
        return out


@dataclass(slots=True)
class Batch:
    """The result of a batch: resources in output order and every input's outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)

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
                "resources": len(self.all_resources()),
            },
            "inputs": [o.as_json() for o in self.outcomes],
        }


def _expand(inputs: Sequence[str]) -> Iterator[tuple[str, bool] | Outcome]:
    """Files to read, with whether they were named explicitly; failures for bad paths."""
    for item in inputs:
        if os.path.isdir(item):
            found = False
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    found = True
                    yield os.path.join(root, name), False
            if not found:
                yield Outcome(item, "failed", reason="folder holds no files")
        elif os.path.exists(item):
            yield item, True
        else:
            yield Outcome(item, "failed", reason="no such file or folder")


def convert(inputs: Sequence[str], options: ConvertOptions | None = None) -> Batch:
    """Convert DICOM files and folders (recursively) to FHIR resources.

    A bad input never stops the batch: it is recorded as failed with its
    reason. Files in folders that are not DICOM, or of a SOP class no reader
    handles, are skipped; named explicitly, they fail.
    """
    opts = options or ConvertOptions()
    fhir.flavour(opts.fhir)  # ValueError on an unknown flavour, before any work
    batch = Batch()
    for item in _expand(inputs):
        if isinstance(item, Outcome):
            log.error("%s: %s", item.path, item.reason)
            batch.outcomes.append(item)
            continue
        path, explicit = item
        batch.outcomes.append(_convert_one(path, explicit, opts, batch))
    return batch


def _convert_one(path: str, explicit: bool, opts: ConvertOptions, batch: Batch) -> Outcome:
    try:
        result = dicom.read_file(path, opts.read)
    except (NotDicomError, UnsupportedObjectError) as e:
        if explicit:
            log.error("%s", e)
            return Outcome(path, "failed", reason=e.reason)
        log.info("skipped %s: %s", path, e.reason)
        return Outcome(path, "skipped", reason=e.reason)
    except DicomselError as e:
        log.error("%s", e)
        log.debug("details", exc_info=True)
        return Outcome(path, "failed", reason=_reason(e))
    outcome = Outcome(
        path,
        "converted",
        sop_class_uid=result.sop_class_uid,
        sop_instance_uid=result.sop_instance_uid,
    )
    writer = fhir.flavour(opts.fhir)
    try:
        out = writer.write(result.selections)
        for res in out.resources + list(out.shared.values()):
            writer.validate(res)
    except DicomselError as e:
        log.error("%s: %s", path, e)
        return Outcome(
            path,
            "failed",
            reason=_reason(e),
            sop_class_uid=result.sop_class_uid,
            sop_instance_uid=result.sop_instance_uid,
        )
    outcome.warnings = result.warnings + out.warnings
    for w in outcome.warnings:
        log.warning("%s: %s", path, w)
    if opts.strict and outcome.warnings:
        outcome.status = "failed"
        first = outcome.warnings[0]
        outcome.reason = f"--strict: {len(outcome.warnings)} warning(s), first: {first}"
        log.error("%s: %s", path, outcome.reason)
        return outcome
    batch.resources.extend(out.resources)
    for k, v in out.shared.items():
        batch.shared.setdefault(k, v)
    outcome.resources = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
    outcome.resources += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
    return outcome


def _reason(e: DicomselError) -> str:
    parts = [p for p in (e.attribute, e.reason) if p]
    return ": ".join(parts)
