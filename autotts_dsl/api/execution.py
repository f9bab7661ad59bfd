"""Where work runs: the engines (`backend=`) and the executors (`executor=`).

Light: neither the engines, multiprocessing nor Ray load until used (the
command line's common options come from here, `tts-dsl check` included).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engines import BACKEND_ENV, BACKENDS, BackendError

if TYPE_CHECKING:
    from ..executor import Executor, ExecutorError

EXECUTORS: tuple[str, ...] = ("local", "ray")
"""local: worker processes on this machine; ray: tasks on a Ray cluster
(`autotts_dsl.executor.EXECUTORS`; a test checks they agree)."""

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "EXECUTORS",
    "BackendError",
    "Executor",
    "ExecutorError",
    "cpu_count",
    "open_executor",
]


def cpu_count() -> int:
    """The cores this process may use (the default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def open_executor(
    kind: str = "local",
    jobs: int | None = None,
    *,
    address: str | None = None,
    initializer: Callable[[], None] | None = None,
    start: bool = False,
) -> Executor:
    """An executor to pass as `executor=` to `sweep`, `evaluate` or `search`:
    `"local"` (worker processes here, `jobs` of them, default all cores) or
    `"ray"` (tasks on a Ray cluster at `address`, `"auto"` or HOST:PORT; with
    no address, a Ray instance started here with `jobs` CPUs). With `start`,
    local workers start now (their start-up overlaps yours) instead of at
    the first task. Close it with `.close()`. Raises `ExecutorError` (one
    line: Ray not installed, cluster unreachable, ...)."""
    from ..executor import open_executor as _open

    executor = _open(kind, jobs or cpu_count(), address=address, initializer=initializer)
    if start:
        begin = getattr(executor, "start", None)
        if begin is not None:
            begin()
    return executor


def __getattr__(name: str) -> Any:
    # The executor types load the executor package (multiprocessing): on use.
    if name in ("Executor", "ExecutorError"):
        return getattr(importlib.import_module("autotts_dsl.executor"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
