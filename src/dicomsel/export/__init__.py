"""The batch job's machinery: executors that run per-item work (serial, worker processes)."""

from __future__ import annotations

from dicomsel.export.executors import Executor, ProcessExecutor, SerialExecutor, local_executor

__all__ = ["Executor", "ProcessExecutor", "SerialExecutor", "local_executor"]
