"""Replay stores on the executor seam: shared once by the caller, read by
every task that needs them.

The caller (`sweep`, `search`, `run`) calls `share_stores` before it maps
cells; a cluster executor then holds each store in its object store once,
and a task's `task_store(spec)` returns it without touching the worker's
disk (which, on another machine, may not have the file at all). With a
local executor `task_store` is None and the worker loads the file itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from . import shared
from .base import Executor

if TYPE_CHECKING:
    from ..replay.store import ReplayStore

STORE_KEY = "store:"


def store_key(spec: str) -> str:
    return STORE_KEY + spec


def share_stores(
    executor: Executor, specs: Iterable[str], load: Callable[[str], ReplayStore]
) -> None:
    """Offer every store of `specs` to the executor's tasks (`load(spec)` is
    called only by executors that share, once per spec)."""
    for spec in dict.fromkeys(specs):
        executor.share(store_key(spec), functools.partial(load, spec))


def task_store(spec: str) -> ReplayStore | None:
    """The store the executor shared under `spec`, or None."""
    from ..replay.store import ReplayStore

    got = shared.lookup(store_key(spec))
    return got if isinstance(got, ReplayStore) else None
