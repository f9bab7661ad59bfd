"""`tts-dsl run` over many stores on the executor seam: one task per store.

Each task evaluates the program on one store and returns that store's
result row, exactly as the in-process run computes it (`runs.result_row`),
so the rows are the same whichever executor ran them (wall times apart).
Stores are shared through the executor (a cluster's object store), so a
worker on another machine needs no copy of the files.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .executor import Executor
from .executor.stores import share_stores, task_store
from .records import record
from .replay import registry

if TYPE_CHECKING:
    from .interpreter import ProgramRunner
    from .replay.store import ReplayStore


@record
class StoreRun:
    """What a worker needs to run the program on one store (picklable)."""

    program_source: str
    path: str
    beta: float
    params: tuple[tuple[str, Any], ...]
    store_spec: str
    store_hash: str
    seeds: tuple[int, ...]
    backend: str | None
    baseline: bool
    """Also compute SC@64's tokens on the store (the relative-token column)."""


_STORES: dict[str, ReplayStore] = {}
_RUNNERS: dict[str, ProgramRunner] = {}


def _store(spec: str) -> ReplayStore:
    got = _STORES.get(spec)
    if got is None:
        got = _STORES[spec] = task_store(spec) or registry.resolve_store(spec)
    return got


def _runner(source: str, path: str) -> ProgramRunner:
    from .interpreter import ProgramRunner
    from .parser import parse

    digest = hashlib.sha256(source.encode()).hexdigest()
    got = _RUNNERS.get(digest)
    if got is None:
        got = _RUNNERS[digest] = ProgramRunner(parse(source, path), source, path)
    return got


def run_store_task(task: StoreRun) -> dict[str, Any] | str:
    """One store's result row, or the error as one line (a run-time fault,
    a backend that cannot run the program, a store that changed)."""
    from .engines import BackendError
    from .runs import evaluate_store, result_row, sc64_tokens
    from .runtime import EpisodeFault

    store = _store(task.store_spec)
    if store.content_hash != task.store_hash:
        return (
            f"{task.store_spec}: the store changed since the run started "
            f"(content hash {store.content_hash}, expected {task.store_hash}); run it again"
        )
    runner = _runner(task.program_source, task.path)
    try:
        started = time.perf_counter()
        ev = evaluate_store(
            runner, store, task.beta, dict(task.params), task.seeds, backend=task.backend
        )
        wall = time.perf_counter() - started
        sc64 = sc64_tokens(store, task.seeds, task.backend) if task.baseline else None
    except EpisodeFault as fault:
        return f"run-time error: {fault}"
    except BackendError as exc:
        return str(exc)
    return result_row(store, ev, sc64, wall)


def run_on_stores(
    executor: Executor,
    runner: ProgramRunner,
    stores: Sequence[tuple[str, ReplayStore]],
    beta: float,
    params: Mapping[str, Any],
    seeds: Sequence[int],
    *,
    backend: str | None = None,
    baseline: bool = True,
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(store index, row or error text) per store of `stores` ((spec, store)
    pairs), as each finishes."""
    loaded = {spec: store for spec, store in stores}
    share_stores(executor, loaded, loaded.__getitem__)
    tasks = [
        StoreRun(
            runner.source,
            runner.path,
            beta,
            tuple(sorted(params.items())),
            spec,
            store.content_hash,
            tuple(seeds),
            backend,
            baseline,
        )
        for spec, store in stores
    ]
    for res in executor.map_unordered(run_store_task, tasks):
        if res.ok and res.value is not None:
            yield res.index, res.value
        else:
            yield res.index, f"{tasks[res.index].store_spec}: {res.status}: {res.error}"
