"""Images: the selections of one series, read from many files, merged into one."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from dicomsel import fhir
from dicomsel.dicom import image
from dicomsel.dicom.values import attr_name
from dicomsel.errors import DicomselError, Issue
from dicomsel.model import Instance, Selection
from dicomsel.pipeline.outcome import (
    Batch,
    ConvertOptions,
    Outcome,
    error_reason,
    report_issues,
    strict_failure,
)

__all__ = ["Series", "SeriesKey", "SeriesMerger", "series_key"]

log = logging.getLogger("dicomsel")


#: a series' selection is one per (Series Instance UID, code)
SeriesKey = tuple[str | None, str]


def series_key(sel: Selection) -> SeriesKey:
    """The key of the series selection a per-file image selection joins.

    Parameters
    ----------
    sel : dicomsel.model.Selection

    Returns
    -------
    tuple
        (Series Instance UID, the code's key).
    """
    return (sel.series_instance_uid, image.code_key(sel.code))


@dataclass(slots=True)
class Series:
    """The images of one series (and code) read so far."""

    first: Selection
    path: str
    instances: dict[str, Instance] = field(default_factory=dict)
    outcomes: list[int] = field(default_factory=list)


class SeriesMerger:
    """Merges the per-file image selections of each series, checking that the files agree."""

    def __init__(self, opts: ConvertOptions) -> None:
        self.opts = opts
        self.series: dict[SeriesKey, Series] = {}

    def groups(self) -> list[Series]:
        """Every series, in the order of its first file."""
        return list(self.series.values())

    def keys(self) -> list[SeriesKey]:
        """The key of every series (:func:`series_key`), in the order of its first file."""
        return list(self.series)

    def add_earlier(self, sel: Selection, path: str) -> None:
        """Add a selection read by an earlier run (resumed export): its instances only.

        The checks that files of one series agree were made when it was read; a
        series that only earlier runs read is written after those this run read.
        """
        key = series_key(sel)
        group = self.series.get(key)
        if group is None:
            group = self.series[key] = Series(sel, path)
        for inst in sel.instances:
            group.instances.setdefault(inst.uid, inst)

    def add(self, sel: Selection, outcome: Outcome, index: int) -> Series | None:
        """Add one file's selection; return the new group when the series is new."""
        key = series_key(sel)
        group = self.series.get(key)
        if group is None:
            group = self.series[key] = Series(sel, outcome.path)
            self._take(group, sel, index)
            return group
        first = group.first
        if sel.study_instance_uid != first.study_instance_uid:
            outcome.fail(
                f"{attr_name('StudyInstanceUID')}: series {sel.series_instance_uid} is in study "
                f"{first.study_instance_uid} in {group.path} but in study "
                f"{sel.study_instance_uid} here: left out of the series' selection"
            )
            return None
        notes = []
        for what, mine, theirs in (
            ("SeriesNumber", sel.series_number, first.series_number),
            ("FrameOfReferenceUID", sel.frame_of_reference_uid, first.frame_of_reference_uid),
            ("PatientID", sel.subject, first.subject),
            ("body site", sel.body_site, first.body_site),
        ):
            if mine != theirs:
                name = attr_name(what) if what[0].isupper() else what
                notes.append(
                    Issue(
                        f"{name} differs from {group.path} in series {sel.series_instance_uid}: "
                        "the series' selection keeps the first file's",
                        path=outcome.path,
                        attribute=name,
                    )
                )
        report_issues(outcome, notes, self.opts)
        if strict_failure(outcome, self.opts):
            return None
        self._take(group, sel, index)
        return None

    @staticmethod
    def _take(group: Series, sel: Selection, index: int) -> None:
        group.outcomes.append(index)
        for inst in sel.instances:
            prior = group.instances.get(inst.uid)
            if prior is None:
                group.instances[inst.uid] = inst
            else:  # the same instance twice (a file named twice): whole wins over frames
                merged = prior.merged(inst)
                if not prior.frames or not inst.frames:
                    merged = dataclasses.replace(merged, frames=())
                group.instances[inst.uid] = merged

    def write(self, group: Series, batch: Batch) -> list[dict[str, Any]]:
        """Write a series' selection; record its resources on every file's outcome."""
        instances = sorted(
            group.instances.values(),
            key=lambda i: (i.number is None, i.number or 0, i.uid),
        )
        sel = dataclasses.replace(group.first, instances=tuple(instances))
        outcomes = [batch.outcomes[i] for i in group.outcomes]
        writer = fhir.flavour(self.opts.fhir)
        try:
            out = writer.write([sel])
            for res in out.resources + list(out.shared.values()):
                writer.validate(res, self.opts.full_validation)
        except DicomselError as e:
            for o in outcomes:
                o.status, o.reason = "failed", error_reason(e)
            log.error("series %s: %s", sel.series_instance_uid, e)
            return []
        if out.warnings and not outcomes:  # a series only earlier runs read: reported then
            if self.opts.strict:
                log.error("series %s: --strict: %s", sel.series_instance_uid, out.warnings[0])
                return []
        elif out.warnings:
            first = outcomes[0]
            report_issues(first, [i.with_path(first.path) for i in out.issues], self.opts)
            if self.opts.strict:
                for o in outcomes:
                    o.status = "failed"
                    o.reason = (
                        f"--strict: series {sel.series_instance_uid}: {len(out.warnings)} "
                        f"warning(s), first: {out.warnings[0]}"
                    )
                log.error("series %s: %s", sel.series_instance_uid, first.reason)
                return []
        for k, v in out.shared.items():
            batch.shared.setdefault(k, v)
        refs = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
        refs += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
        for o in outcomes:
            o.resources = list(refs)
        return out.resources
