"""Per-item work: one item read from its source, written in the chosen flavour, its outcome."""

from __future__ import annotations

import logging

from dicomsel import fhir
from dicomsel.dicom import ReadResult, image
from dicomsel.errors import DicomselError, NotDicomError, UnsupportedObjectError
from dicomsel.export.guard import ItemTimeout, describe, time_limit
from dicomsel.fhir import observation
from dicomsel.fhir.base import Output
from dicomsel.io.base import Item, Source
from dicomsel.pipeline.outcome import (
    ConvertOptions,
    ItemResult,
    Outcome,
    error_reason,
    report_issues,
    strict_failure,
)

__all__ = ["convert_batch", "convert_item"]

log = logging.getLogger("dicomsel")


def convert_batch(source: Source, opts: ConvertOptions, items: list[Item]) -> list[ItemResult]:
    """Convert a batch of items (the unit of work an executor runs), in order."""
    return [convert_item(source, item, opts) for item in items]


def convert_item(source: Source, item: Item, opts: ConvertOptions) -> ItemResult:
    """Convert one item: read it from its source, write its resources, record its outcome.

    Never raises on bad input: any exception while reading or converting the item
    (not only a :class:`~dicomsel.errors.DicomselError`) is the outcome's failure,
    its reason the exception's type and message and the element being read when
    known (the traceback is logged at debug level); so is running longer than
    ``opts.item_timeout``. ``KeyboardInterrupt`` and ``SystemExit`` go through.

    Parameters
    ----------
    source : dicomsel.io.Source
        The source that listed ``item`` (and reads it).
    item : dicomsel.io.Item
    opts : ConvertOptions

    Returns
    -------
    ItemResult
        The outcome, the item's own and shared resources, and its per-file image
        selections for the driver to merge per series.
    """
    try:
        with time_limit(opts.item_timeout):
            return _convert_item(source, item, opts)
    except ItemTimeout as e:
        reason = str(e)
    except Exception as e:  # the per-item guard: one input never stops the batch
        reason = describe(e)
    log.error("%s: %s", item.key, reason)
    log.debug("%s: traceback", item.key, exc_info=True)
    return ItemResult(Outcome(item.key, "failed", reason=reason))


def _convert_item(source: Source, item: Item, opts: ConvertOptions) -> ItemResult:
    if item.missing is not None:
        log.error("%s: %s", item.key, item.missing)
        return ItemResult(Outcome(item.key, "failed", reason=item.missing))
    path = item.key
    try:
        result = source.read(item, opts.read)
    except (NotDicomError, UnsupportedObjectError) as e:
        if item.explicit:
            log.error("%s", e)
            return ItemResult(Outcome(path, "failed", reason=e.reason))
        log.info("skipped %s: %s", path, e.reason)
        return ItemResult(Outcome(path, "skipped", reason=e.reason))
    except DicomselError as e:
        log.error("%s", e)
        log.debug("details", exc_info=True)
        return ItemResult(Outcome(path, "failed", reason=error_reason(e)))
    outcome = Outcome(
        path,
        "converted",
        sop_class_uid=result.sop_class_uid,
        sop_instance_uid=result.sop_instance_uid,
    )
    writer = fhir.flavour(opts.fhir)
    # per-file image selections are merged per series by the driver, then written
    pending = [s for s in result.selections if image.is_series_selection(s)]
    selections = [s for s in result.selections if not image.is_series_selection(s)]
    try:
        out = writer.write(selections)
        for res in out.resources + list(out.shared.values()):
            writer.validate(res, opts.full_validation)
        if opts.observations and result.observations:
            # flavour-independent: observations reach selections through out.refs
            obs = observation.write(result.observations, out.refs)
            for res in obs.resources:
                observation.validate(res, opts.full_validation)
            out.resources.extend(obs.resources)
            out.warnings.extend(obs.warnings)
        if opts.profile == "dicom-sr":
            _profile_dicom_sr(result, out, path, opts.full_validation)
    except DicomselError as e:
        log.error("%s: %s", path, e)
        outcome.status, outcome.reason = "failed", error_reason(e)
        return ItemResult(outcome)
    report_issues(outcome, result.issues, opts)
    report_issues(outcome, [i.with_path(path) for i in out.issues], opts)
    if strict_failure(outcome, opts):
        return ItemResult(outcome)
    outcome.resources = [f"{r['resourceType']}/{r['id']}" for r in out.resources]
    outcome.resources += [f"{v['resourceType']}/{k}" for k, v in sorted(out.shared.items())]
    return ItemResult(outcome, out.resources, out.shared, pending)


def _profile_dicom_sr(result: ReadResult, out: Output, path: str, full: bool) -> None:
    """``--profile dicom-sr``: an SR's resources become the IG's graph (others stay as they are)."""
    if result.document is None:
        log.info("%s: --profile dicom-sr applies to SR documents only: written as R5", path)
        return
    from dicomsel.fhir import dicomsr  # only under the option

    graph, warnings = dicomsr.write_graph(result.document, out.resources)
    for res in graph:
        observation.validate(res, full)
    out.resources[:] = graph
    out.warnings.extend(warnings)
