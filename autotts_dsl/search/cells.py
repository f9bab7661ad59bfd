"""One evaluated cell — (program, β, store, seeds) — kept in enough detail
for paired statistics.

A cell is stored as per-seed sums (correct answers, tokens, sequential
tokens, branches opened, reads) and per-question sums over its seeds
(correct answers, tokens). From per-seed sums the protocol's own summary is
recomputed exactly (`metrics`: the same arithmetic as
`replay.protocol.Evaluation`), so evaluating seeds 0–9 and then 10–99 and
merging gives the numbers of one 100-seed evaluation. Per-question sums are
what the bootstrap resamples (`stats.py`).

`evaluate_cell_task` is the module-level function the executor's workers
run; each worker keeps the stores and programs it has seen (stores from the
executor's object store when it shares them, else from the worker's disk).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from ..executor import Executor
from ..executor.stores import share_stores, task_store
from ..interpreter import ProgramRunner
from ..parser import parse
from ..records import record
from ..replay import registry
from ..replay.numeric import neumaier_sum
from ..replay.store import ReplayStore
from ..sweeps.cache import CellMetrics


@record
class CellData:
    n_questions: int
    seeds: tuple[int, ...]
    correct_by_seed: tuple[int, ...]
    cost_by_seed: tuple[int, ...]
    seq_by_seed: tuple[int, ...]
    opened_by_seed: tuple[int, ...]
    reads_by_seed: tuple[int, ...]
    correct_by_q: tuple[int, ...]
    cost_by_q: tuple[int, ...]
    wall_seconds: float = 0.0
    backend: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CellData:
        d = json.loads(text)
        for k, v in d.items():
            if isinstance(v, list):
                d[k] = tuple(v)
        return cls(**d)

    def merge(self, other: CellData) -> CellData:
        """Both evaluations as one, seeds in rising order (disjoint seeds)."""
        if self.n_questions != other.n_questions or set(self.seeds) & set(other.seeds):
            raise ValueError("cells to merge must share questions and have disjoint seeds")
        first, second = (self, other) if self.seeds[:1] <= other.seeds[:1] else (other, self)

        def cat(name: str) -> tuple[int, ...]:
            return tuple(getattr(first, name)) + tuple(getattr(second, name))

        return CellData(
            self.n_questions,
            cat("seeds"),
            cat("correct_by_seed"),
            cat("cost_by_seed"),
            cat("seq_by_seed"),
            cat("opened_by_seed"),
            cat("reads_by_seed"),
            tuple(a + b for a, b in zip(self.correct_by_q, other.correct_by_q, strict=True)),
            tuple(a + b for a, b in zip(self.cost_by_q, other.cost_by_q, strict=True)),
            self.wall_seconds + other.wall_seconds,
            self.backend if self.backend == other.backend else f"{self.backend}+{other.backend}",
        )

    def _per_seed(self, column: Sequence[int]) -> np.ndarray:
        out: np.ndarray = np.asarray(column, dtype=np.int64) / self.n_questions
        return out

    @property
    def accuracy(self) -> float:
        """Percent, exactly as the protocol reports it (2 decimals)."""
        return round(100 * float(np.mean(self._per_seed(self.correct_by_seed))), 2)

    @property
    def avg_tokens(self) -> int:
        return int(neumaier_sum(self._per_seed(self.cost_by_seed).tolist()) / len(self.seeds))

    @property
    def avg_seq_tokens(self) -> int:
        return int(neumaier_sum(self._per_seed(self.seq_by_seed).tolist()) / len(self.seeds))

    @property
    def n_episodes(self) -> int:
        return self.n_questions * len(self.seeds)

    def metrics(self) -> CellMetrics:
        episodes = max(1, self.n_episodes)
        opened = sum(self.opened_by_seed)
        return CellMetrics(
            accuracy=self.accuracy,
            avg_tokens=self.avg_tokens,
            avg_seq_tokens=self.avg_seq_tokens,
            mean_opened=opened / episodes,
            mean_depth=sum(self.reads_by_seed) / max(1, opened),
            wall_seconds=self.wall_seconds,
            n_questions=self.n_questions,
            n_seeds=len(self.seeds),
        )


@record
class CellTask:
    """What a worker needs to evaluate one cell (picklable)."""

    program_source: str
    path: str
    beta: float
    store_spec: str
    store_hash: str
    seeds: tuple[int, ...]
    backend: str | None = None


_STORES: dict[str, ReplayStore] = {}
_RUNNERS: dict[str, ProgramRunner] = {}
MAX_CACHED_RUNNERS = 256
BACKEND_ENV = "TTS_DSL_BACKEND"
"""The engine's environment setting (see the `--backend` option)."""


def cached_store(spec: str) -> ReplayStore:
    got = _STORES.get(spec)
    if got is None:
        got = _STORES[spec] = task_store(spec) or registry.resolve_store(spec)
    return got


def share_search_stores(executor: Executor, specs: Sequence[str]) -> None:
    """Offer the stores of `specs` to the executor's tasks (a cluster
    executor puts each into its object store once)."""
    share_stores(executor, specs, cached_store)


def cached_runner(source: str, path: str) -> ProgramRunner:
    digest = hashlib.sha256(source.encode()).hexdigest()
    got = _RUNNERS.get(digest)
    if got is None:
        if len(_RUNNERS) >= MAX_CACHED_RUNNERS:  # a long search must not grow without bound
            _RUNNERS.pop(next(iter(_RUNNERS)))
        got = _RUNNERS[digest] = ProgramRunner(parse(source, path), source, path)
    return got


def evaluate_cell_task(task: CellTask) -> CellData:
    """Evaluate one cell (raises on a store change or a run-time fault)."""
    store = cached_store(task.store_spec)
    if store.content_hash != task.store_hash:
        raise RuntimeError(
            f"{task.store_spec}: the store changed since the search started "
            f"(content hash {store.content_hash}, expected {task.store_hash})"
        )
    runner = cached_runner(task.program_source, task.path)
    started = time.perf_counter()
    ev = runner.evaluate(store, task.beta, {}, task.seeds, backend=task.backend)
    wall = time.perf_counter() - started
    n_s, n_q = len(ev.seeds), ev.n_questions

    def by_seed(col: np.ndarray) -> tuple[int, ...]:
        return tuple(int(x) for x in col.reshape(n_s, n_q).astype(np.int64).sum(axis=1))

    def by_q(col: np.ndarray) -> tuple[int, ...]:
        return tuple(int(x) for x in col.reshape(n_s, n_q).astype(np.int64).sum(axis=0))

    return CellData(
        n_q,
        tuple(int(s) for s in ev.seeds),
        by_seed(ev.correct),
        by_seed(ev.cost),
        by_seed(ev.seq_cost),
        by_seed(ev.opened),
        by_seed(ev.reads),
        by_q(ev.correct),
        by_q(ev.cost),
        wall,
        ev.backend,
    )


def warm_up() -> None:
    """Worker initializer: load the engine's machinery (numba and its cached
    kernels) before the worker takes tasks, so start-up never counts against
    a cell's wall-clock budget."""
    from ..programs import load_program

    if os.environ.get(BACKEND_ENV) == "reference":
        return
    try:
        runner = load_program("sc")
        runner.evaluate(cached_store("default"), 0.0, {}, (0,))
    except Exception:  # warming is best effort; the first cell pays instead
        return
