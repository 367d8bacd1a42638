"""One pipeline: source -> per-item conversion -> per-series merge -> sink.

``dicomsel convert`` (and the export job) is a run of this pipeline: a
:class:`~dicomsel.io.Source` lists items, an executor converts batches of them
(:mod:`~dicomsel.pipeline.item`: each item read by its source, converted by
the reader its SOP class calls for, written in the chosen FHIR flavour), the
driver (:mod:`~dicomsel.pipeline.run`) merges the per-file image selections of
each series (:mod:`~dicomsel.pipeline.series`) and writes the resources to a
:class:`~dicomsel.io.Sink` in input order. A bad input never stops the run:
each item ends with an :class:`Outcome` (:mod:`~dicomsel.pipeline.outcome`),
and the :class:`Batch` holds them all for the report.
"""

from __future__ import annotations

from dicomsel.pipeline.item import convert_batch, convert_item
from dicomsel.pipeline.outcome import Batch, ConvertOptions, ItemResult, Outcome
from dicomsel.pipeline.run import BATCH_SIZE, Journal, Output, convert, run
from dicomsel.pipeline.series import SeriesKey, SeriesMerger, series_key

__all__ = [
    "BATCH_SIZE",
    "Batch",
    "ConvertOptions",
    "ItemResult",
    "Journal",
    "Outcome",
    "Output",
    "SeriesKey",
    "SeriesMerger",
    "convert",
    "convert_batch",
    "convert_item",
    "run",
    "series_key",
]
