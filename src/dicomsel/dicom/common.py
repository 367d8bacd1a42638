"""Former home of the readers' shared helpers, kept for the modules outside ``dicom/`` that
still import from here (``dicomsel/__init__.py``, ``convert.py``, ``cli/convert.py``,
``bench/bench_seg.py``); new code imports :mod:`dicomsel.dicom.context` and
:mod:`dicomsel.dicom.values`. Remove once those imports have moved.
"""

from __future__ import annotations

from dicomsel.dicom.context import ReadContext, ReadOptions, ReadResult
from dicomsel.dicom.values import attr_name

__all__ = ["ReadContext", "ReadOptions", "ReadResult", "attr_name"]
