"""The batch job's machinery: executors that run per-item work (serial, processes, Dask).

Each name is imported from its module when first asked for (PEP 562), so that
``dicomsel.export.guard`` does not bring the executors with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomsel.exports import module_getattr

if TYPE_CHECKING:
    from dicomsel.export.dask import DaskExecutor
    from dicomsel.export.executors import (
        Executor,
        ProcessExecutor,
        SerialExecutor,
        executor_for,
        local_executor,
    )

_LAZY = {
    "DaskExecutor": "dicomsel.export.dask",
    **dict.fromkeys(
        ("Executor", "ProcessExecutor", "SerialExecutor", "executor_for", "local_executor"),
        "dicomsel.export.executors",
    ),
}

__getattr__ = module_getattr(__name__, globals(), _LAZY)

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "executor_for",
    "local_executor",
]
