"""Evaluating candidates: programs × β grid × stores, on the sweep's runner.

Cells go through `sweep.run_sweep` (all cores, one SQLite commit per
finished cell in the sweep cache under OUT/). Every finished cell is also
handed to a `record` callback as it arrives, so the history has it at once;
cells already cached (after a kill) are handed over afterwards without being
computed again. Run-time faults are returned as failures, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import DiagnosticError
from ..interpreter import ProgramRunner
from ..parser import parse
from ..replay import registry
from ..replay.store import ReplayStore
from ..sweep.cache import CellMetrics, ResultCache
from ..sweep.grid import Cell, StoreSpec, program_cells, program_spec
from ..sweep.runner import Outcome, run_sweep
from .history import StoreRow

SC_WINDOW = 64
"""The objective's token window ends at the cost of this many full traces."""

Record = Callable[[int, float, str, CellMetrics | None, str], None]
"""`record(program_id, beta, store_hash, metrics or None, error)`."""


@dataclass(frozen=True)
class Candidate:
    id: int
    source: str
    label: str


def load_store(spec: str) -> ReplayStore:
    """A store spec as `--store` takes it (raises `StoreError`)."""
    return registry.resolve_store(spec)


def expand_specs(specs: Sequence[str]) -> list[str]:
    return registry.expand_store_specs(list(specs))


def store_row(role: str, spec: str, store: ReplayStore) -> StoreRow:
    """A store with its objective window: one mean trace (SC@1) to 64 (SC@64)."""
    lengths = [sum(q.tokens) / max(1, len(q.tokens)) for q in store.questions]
    lo = max(1.0, sum(lengths) / max(1, len(lengths)))
    # Files by absolute path, so a resumed search finds them from any directory.
    spec_text = str(Path(spec).resolve()) if Path(spec).is_file() else spec
    return StoreRow(
        role,
        spec_text,
        store.name,
        store.content_hash,
        len(store.questions),
        lo,
        lo * SC_WINDOW,
        store.synthetic,
    )


def _spec(row: StoreRow) -> StoreSpec:
    return StoreSpec(row.spec, row.name, row.content_hash, row.synthetic, row.n_questions)


@dataclass
class EvalStats:
    computed: int = 0
    cached: int = 0
    failed: int = 0
    total: int = 0
    wall_seconds: float = 0.0


def cells_for(
    programs: Sequence[Candidate],
    betas: Sequence[float],
    stores: Sequence[StoreRow],
    seeds: Sequence[int],
    skip: Iterable[tuple[int, float, str]] = (),
) -> tuple[list[Cell], dict[str, list[tuple[int, float, str]]], dict[int, str]]:
    """Cells still to evaluate; for each cell key the (program, β, store) it
    stands for; and the programs that do not compile at some β (with why)."""
    done = set(skip)
    specs = [_spec(s) for s in stores]
    cells: list[Cell] = []
    owners: dict[str, list[tuple[int, float, str]]] = {}
    broken: dict[int, str] = {}
    for cand in programs:
        try:
            runner = ProgramRunner(parse(cand.source, cand.label), cand.source, cand.label)
            spec = program_spec(runner, cand.label)
            planned = program_cells(runner, spec, betas, {}, specs, seeds)
        except DiagnosticError as exc:  # the checker passed it at β = 0.5 only
            broken[cand.id] = exc.render()
            continue
        for cell in planned:
            owner = (cand.id, cell.beta, cell.store.content_hash)
            if owner in done:
                continue
            if cell.key not in owners:
                cells.append(cell)
            owners.setdefault(cell.key, []).append(owner)
    return cells, owners, broken


def evaluate(
    programs: Sequence[Candidate],
    betas: Sequence[float],
    stores: Sequence[StoreRow],
    seeds: Sequence[int],
    cache: ResultCache,
    record: Record,
    *,
    skip: Iterable[tuple[int, float, str]] = (),
    jobs: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalStats:
    """Evaluate every (program, β, store) not in `skip`; `record` each result.

    Raises KeyboardInterrupt after recording what finished, if interrupted."""
    cells, owners, broken = cells_for(programs, betas, stores, seeds, skip)
    stats = EvalStats(total=len(cells), failed=len(broken))
    for pid, why in broken.items():
        for beta in betas:
            for s in stores:
                record(pid, beta, s.content_hash, None, why)
    seen: set[str] = set()

    def hand_over(key: str, metrics: CellMetrics | None, error: str) -> None:
        seen.add(key)
        for pid, beta, store_hash in owners.get(key, []):
            record(pid, beta, store_hash, metrics, error)

    def on_result(cell: Cell, outcome: Outcome, done: int, todo: int) -> None:
        hand_over(cell.key, outcome.metrics, outcome.error or "")
        if on_progress is not None:
            on_progress(done, todo)

    if not cells:
        return stats
    results, sweep = run_sweep(cells, cache, jobs=jobs, on_result=on_result)
    for key, metrics in results.items():
        if key not in seen:
            hand_over(key, metrics, "")
    stats.computed, stats.cached = sweep.computed, sweep.cached
    stats.failed += sweep.failed
    stats.wall_seconds = sweep.wall_seconds
    if sweep.interrupted:
        raise KeyboardInterrupt
    return stats
