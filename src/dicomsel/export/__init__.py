"""The batch job's machinery: executors that run per-item work (serial, processes, Dask)."""

from __future__ import annotations

from dicomsel.export.dask import DaskExecutor
from dicomsel.export.executors import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    executor_for,
    local_executor,
)

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "executor_for",
    "local_executor",
]
