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
* `ray_executor.RayExecutor` — tasks on a Ray cluster (`pip install
  'tts-dsl[ray]'`; imported only when chosen).

`choose.open_executor(kind, jobs, address=...)` picks one by name. Values
the tasks read (replay stores) are offered with `Executor.share`; a task
reads them back with `shared.lookup` (`stores.task_store` for stores).
"""

from __future__ import annotations

from .base import Executor, ExecutorError, TaskResult, TaskStatus
from .choose import EXECUTORS, open_executor
from .local import InlineExecutor, ProcessExecutor, make_executor

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorError",
    "InlineExecutor",
    "ProcessExecutor",
    "TaskResult",
    "TaskStatus",
    "make_executor",
    "open_executor",
]
