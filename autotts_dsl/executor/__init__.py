"""The executor seam: "run these tasks, hand me each result as it arrives".

A task is a picklable module-level function and one argument. An executor
runs tasks in any order and yields one `TaskResult` per task as it finishes:
its value, or the error it raised, or that it ran out of its wall-clock
budget (the worker was killed from outside and replaced), or that its worker
died. Nothing a task does can stop the caller: a task that never returns
costs its budget and no more.

* `local.ProcessExecutor` — worker processes on this machine (the default);
* `local.InlineExecutor` — the caller's own process, no budget (tests,
  debugging, and callers that enforce nothing);
* a cluster implementation (issue #14: Ray) plugs in behind `Executor`.
"""

from __future__ import annotations

from .base import Executor, TaskResult, TaskStatus
from .local import InlineExecutor, ProcessExecutor, make_executor

__all__ = [
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "TaskResult",
    "TaskStatus",
    "make_executor",
]
