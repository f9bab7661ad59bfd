"""Running a sweep grid on all cores, with caching and clean interruption.

The evaluation of one cell is a single swappable call,
`evaluate_cell(program_source, beta, params, store_path, seeds) -> CellMetrics`;
`run_sweep(..., evaluator=...)` accepts any function of that shape (a batched
backend, say). With more than one job it must be a module-level function, so
the `spawn` start method can send it to workers by reference.

Workers keep every store and every compiled program they have seen in
module-level caches, so each worker loads each store once and compiles each
(program, β, params) once. On a cluster executor the stores come from its
object store (shared once by the parent), not from the worker's disk. Only
the parent writes to the cache, one cell per transaction as results arrive.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any, Protocol

from ..diagnostics import DiagnosticError
from ..executor import Executor, ProcessExecutor
from ..executor.stores import share_stores, task_store
from ..interpreter import ProgramRunner
from ..parser import parse
from ..records import record
from ..replay import registry
from ..replay.store import ReplayStore, StoreError
from ..runtime import EpisodeFault
from .cache import CellMetrics, ResultCache
from .grid import Cell, params_text, seeds_spec


class Evaluator(Protocol):
    def __call__(
        self,
        program_source: str,
        beta: float,
        params: Mapping[str, Any],
        store_path: str,
        seeds: Sequence[int],
    ) -> CellMetrics: ...


# ---------------------------------------------------------------------------
# The reference evaluator (one process; caches live as long as the process)

_STORES: dict[str, ReplayStore] = {}
_RUNNERS: dict[str, ProgramRunner] = {}


def _store(store_path: str) -> ReplayStore:
    got = _STORES.get(store_path)
    if got is None:
        got = task_store(store_path) or registry.resolve_store(store_path)
        _STORES[store_path] = got
    return got


def _runner(program_source: str) -> ProgramRunner:
    digest = hashlib.sha256(program_source.encode()).hexdigest()
    got = _RUNNERS.get(digest)
    if got is None:
        got = _RUNNERS[digest] = ProgramRunner(
            parse(program_source, "<sweep>"), program_source, "<sweep>"
        )
    return got


def store_content_hash(store_path: str) -> str:
    """The content hash of a store as the evaluator loads it (cached)."""
    return _store(store_path).content_hash


def evaluate_cell(
    program_source: str,
    beta: float,
    params: Mapping[str, Any],
    store_path: str,
    seeds: Sequence[int],
) -> CellMetrics:
    """Evaluate one program at one β on one store under the replay protocol.

    `store_path` is a store spec (`registry.resolve_store`); `params` are
    `--param` overrides (typed values or their text). Raises
    `DiagnosticError`, `StoreError` or `EpisodeFault`.
    """
    store = _store(store_path)
    runner = _runner(program_source)
    started = time.perf_counter()
    ev = runner.evaluate(store, beta, dict(params), tuple(seeds))
    return CellMetrics.of(ev, time.perf_counter() - started)


# ---------------------------------------------------------------------------
# Tasks and outcomes (what crosses the process boundary)


@record
class Task:
    key: str
    program_source: str
    program_path: str
    beta: float
    params: tuple[tuple[str, Any], ...]
    store_path: str
    store_hash: str
    seeds: tuple[int, ...]


@record
class Outcome:
    key: str
    metrics: CellMetrics | None
    error: str | None = None


def _describe_error(task: Task, exc: BaseException) -> str:
    if isinstance(exc, EpisodeFault):
        return (
            f"{task.program_path}:{exc.span.line}:{exc.span.col}: run-time error: "
            f"{exc.message} (store {exc.store}, question {exc.question}, seed {exc.seed}, "
            f"β = {task.beta:g})"
        )
    if isinstance(exc, DiagnosticError):
        return f"{task.program_path}: {exc.render()}"
    if isinstance(exc, StoreError):
        return str(exc)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"internal error in the evaluator: {type(exc).__name__}: {exc}\n{tb}"


def run_task(evaluator: Evaluator, task: Task) -> Outcome:
    """Evaluate one task; any failure becomes an `Outcome` with an error text
    (exceptions of the evaluator never have to be pickled)."""
    try:
        if evaluator is evaluate_cell and store_content_hash(task.store_path) != task.store_hash:
            return Outcome(
                task.key,
                None,
                f"{task.store_path}: the store changed while the sweep ran "
                f"(content hash {store_content_hash(task.store_path)}, "
                f"expected {task.store_hash}); run the sweep again",
            )
        metrics = evaluator(
            task.program_source, task.beta, dict(task.params), task.store_path, task.seeds
        )
    except Exception as exc:
        return Outcome(task.key, None, _describe_error(task, exc))
    return Outcome(task.key, metrics)


# ---------------------------------------------------------------------------
# The sweep


@record(frozen=False)
class SweepStats:
    total: int = 0
    cached: int = 0
    computed: int = 0
    failed: int = 0
    interrupted: bool = False
    wall_seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    """Cell key -> error text, for cells that failed (never cached)."""


ProgressFn = Callable[[Cell, Outcome, int, int], None]
"""`progress(cell, outcome, done, to_compute)` after each computed cell."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _task(cell: Cell) -> Task:
    return Task(
        key=cell.key,
        program_source=cell.program.source,
        program_path=cell.program.path,
        beta=cell.beta,
        params=cell.params,
        store_path=cell.store.spec,
        store_hash=cell.store.content_hash,
        seeds=cell.seeds,
    )


def _cost_order(cell: Cell) -> tuple[float, int]:
    # Biggest first (β raises the budget of every stdlib controller; pinned
    # sample counts say it directly): fewer idle cores at the end.
    size = max((float(v) for k, v in cell.params if k in _SIZE_PARAMS), default=64**cell.beta)
    return (-size, len(cell.seeds))


_SIZE_PARAMS = ("samples", "max_samples", "num_chains")


def run_sweep(
    cells: Sequence[Cell],
    cache: ResultCache,
    *,
    jobs: int | None = None,
    evaluator: Evaluator = evaluate_cell,
    fresh: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_result: ProgressFn | None = None,
    executor: Executor | None = None,
) -> tuple[dict[str, CellMetrics], SweepStats]:
    """Evaluate every cell not yet in `cache` and store each result as it
    arrives. Returns metrics by cell key (cached and computed) and stats.

    `on_start(to_compute, cached)` runs once before any work. Ctrl-C stops
    the sweep: finished cells stay cached, running ones are abandoned, and
    `stats.interrupted` is set (no exception escapes). With more than one
    job the cells run on `executor` (the executor seam; default: local
    worker processes, one per job).
    """
    started = time.perf_counter()
    stats = SweepStats(total=len(cells))
    keys = [c.key for c in cells]
    results: dict[str, CellMetrics] = {} if fresh else cache.get_many(keys)
    stats.cached = sum(1 for k in set(keys) if k in results)
    todo: dict[str, Cell] = {}
    for c in cells:
        if c.key not in results:
            todo.setdefault(c.key, c)
    pending = sorted(todo.values(), key=_cost_order)
    if on_start is not None:
        on_start(len(pending), stats.cached)
    n_jobs = max(1, min(jobs or default_jobs(), len(pending)))

    def record(cell: Cell, outcome: Outcome) -> None:
        if outcome.metrics is not None:
            cache.put(
                cell.key,
                outcome.metrics,
                program_hash=cell.program.program_hash,
                beta=cell.beta,
                params=params_text(cell.params),
                store_hash=cell.store.content_hash,
                seeds=seeds_spec(cell.seeds),
            )
            results[cell.key] = outcome.metrics
            stats.computed += 1
        else:
            stats.failed += 1
            stats.errors[cell.key] = outcome.error or "failed"
        if on_result is not None:
            on_result(cell, outcome, stats.computed + stats.failed, len(pending))

    try:
        if n_jobs <= 1 and executor is None:
            for cell in pending:
                record(cell, run_task(evaluator, _task(cell)))
        elif executor is not None:
            _run_on(executor, pending, evaluator, record)
        else:
            with ProcessExecutor(n_jobs) as pool:
                _run_on(pool, pending, evaluator, record)
    except KeyboardInterrupt:
        stats.interrupted = True
    stats.wall_seconds = time.perf_counter() - started
    return results, stats


def _run_on(
    executor: Executor,
    pending: Sequence[Cell],
    evaluator: Evaluator,
    record: Callable[[Cell, Outcome], None],
) -> None:
    """Cells on the executor seam, each recorded as it arrives. A worker that
    dies (e.g. out of memory) fails its cell; Ctrl-C stops the running ones."""
    task = functools.partial(run_task, evaluator)
    share_stores(executor, [c.store.spec for c in pending], _store)
    for res in executor.map_unordered(task, [_task(c) for c in pending]):
        cell = pending[res.index]
        if res.ok and isinstance(res.value, Outcome):
            outcome = res.value
        else:
            outcome = Outcome(cell.key, None, f"worker failed: {res.status}: {res.error}")
        record(cell, outcome)
