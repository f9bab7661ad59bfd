"""Evaluating candidates: programs × β grid × stores × one seed chunk, on
the executor seam, each cell recorded in the history as it arrives.

Every cell runs in a worker under a wall-clock budget (`SearchConfig.
cell_budget`). A cell that raises (a run-time fault, a β at which the
program does not compile) fails its program; a cell that overruns has its
worker killed, its program failed as `timeout`, and a traced re-run in a
fresh worker (`watchdog.py`) finds the line where the time went; the
program's remaining cells are skipped. Failures are recorded before
anything else happens, so `--resume` never re-enters a failed program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path

from ..diagnostics import DiagnosticError
from ..executor import Executor
from ..records import record
from ..replay import registry
from ..replay.store import ReplayStore
from ..runtime import EpisodeFault
from ..sweeps.grid import seeds_spec
from .cells import CellData, CellTask, evaluate_cell_task, share_search_stores
from .history import History, StoreRow
from .watchdog import TIMEOUT_CODE, Diagnosis, DiagTask, diagnose_task

SC_WINDOW = 64
"""The `auc` objective's token window ends at the cost of this many full traces."""
DIAGNOSIS_BUDGET = 3.0
"""Seconds of the traced re-run after a timeout."""
SPURIOUS_SHARE = 0.5
"""A timeout whose traced re-run projects the whole cell under this share of
the budget was the machine's doing (load, start-up), not the program's: the
cell is run once more with twice the budget before anything is rejected."""


def load_store(spec: str) -> ReplayStore:
    """A store spec as `--store` takes it (raises `StoreError`)."""
    return registry.resolve_store(spec)


def expand_specs(specs: Sequence[str]) -> list[str]:
    return registry.expand_store_specs(list(specs))


def store_row(role: str, spec: str, store: ReplayStore) -> StoreRow:
    """A store with its SC@1 floor (one mean trace: tokens and accuracy) and
    the `auc` window (one to 64 mean traces)."""
    lengths = [sum(q.tokens) / max(1, len(q.tokens)) for q in store.questions]
    lo = max(1.0, sum(lengths) / max(1, len(lengths)))
    shares = [
        sum(1 for f in q.finals if f == q.gold) / max(1, len(q.finals)) for q in store.questions
    ]
    floor = 100 * sum(shares) / max(1, len(shares))
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
        floor,
        max((q.n_branches for q in store.questions), default=0),
    )


def evaluate_or_error(task: CellTask) -> CellData | str:
    """A worker's cell: the data, or the program's own error as text (a
    run-time fault with its line and episode, or a compile error at this β)."""
    try:
        return evaluate_cell_task(task)
    except EpisodeFault as exc:
        return (
            f"{task.path}:{exc.span.line}:{exc.span.col}: run-time error: {exc.message} "
            f"(store {exc.store}, question {exc.question}, seed {exc.seed}, β = {task.beta:g})"
        )
    except DiagnosticError as exc:
        return f"{task.path}: does not compile at β = {task.beta:g}: {exc.render()}"


@record(frozen=False)
class EvalStats:
    computed: int = 0
    failed: int = 0
    skipped: int = 0
    total: int = 0
    timeouts: list[int] = field(default_factory=list)


Progress = Callable[[int, int], None]


@record
class Job:
    pid: int
    source: str
    label: str


def evaluate(
    history: History,
    executor: Executor,
    jobs: Sequence[Job],
    betas: Sequence[float],
    stores: Sequence[StoreRow],
    seeds: Sequence[int],
    *,
    budget: float | None,
    heldout: bool = False,
    backend: str | None = None,
    on_progress: Progress | None = None,
    on_timeout: Callable[[int, str], None] | None = None,
) -> EvalStats:
    """Evaluate every (job, β, store) cell of `seeds` not yet recorded."""
    spec = seeds_spec(seeds)
    done = history.cell_keys(heldout=heldout)
    failed = set(history.failures()) if not heldout else set()
    tasks: list[CellTask] = []
    owner: list[int] = []
    for job in jobs:
        if job.pid in failed:
            continue
        for beta in betas:
            for s in stores:
                if (job.pid, float(beta), s.content_hash, spec) in done:
                    continue
                tasks.append(
                    CellTask(
                        job.source,
                        job.label,
                        float(beta),
                        s.spec,
                        s.content_hash,
                        tuple(seeds),
                        backend,
                    )
                )
                owner.append(job.pid)
    stats = EvalStats(total=len(tasks))
    if not tasks:
        return stats
    share_search_stores(executor, [s.spec for s in stores])
    sources = {j.pid: j for j in jobs}
    dead: set[int] = set()
    retry: list[tuple[int, CellTask]] = []
    finished = 0

    def fail(pid: int, task: CellTask, kind: str, message: str) -> None:
        if not heldout:
            history.add_failure(pid, task.beta, task.store_hash, spec, kind, message, replace=True)
        dead.add(pid)
        stats.failed += 1

    def run(batch: list[tuple[int, CellTask]], limit: float | None, last: bool) -> None:
        nonlocal finished
        ids = [pid for pid, _ in batch]
        of = {id(t): pid for pid, t in batch}
        for res in executor.map_unordered(
            evaluate_or_error,
            [t for _, t in batch],
            timeout=limit,
            skip=lambda t: of[id(t)] in dead,  # a program's other cells once one failed
        ):
            task = res.arg
            pid = ids[res.index]
            finished += 1
            if res.status == "skipped" or pid in dead:
                stats.skipped += 1
            elif res.status == "ok" and isinstance(res.value, CellData):
                history.add_cell(pid, task.beta, task.store_hash, spec, res.value, heldout=heldout)
                stats.computed += 1
            elif res.status == "timeout":
                # Recorded at once: a kill during the diagnosis must not let
                # --resume run this cell again.
                fail(
                    pid,
                    task,
                    "timeout",
                    (
                        f"{task.path}: error[{TIMEOUT_CODE}]: the cell at β = {task.beta:g} on "
                        f"{task.store_spec} overran its budget ({limit:g} s); diagnosing"
                    ),
                )
                diag = diagnose(executor, sources[pid], task, limit or 0.0)
                spurious = (
                    not last
                    and diag.projected_seconds is not None
                    and diag.projected_seconds < SPURIOUS_SHARE * (limit or 0.0)
                )
                if spurious:
                    if not heldout:
                        history.remove_failure(pid, task.beta, task.store_hash, spec)
                    dead.discard(pid)
                    stats.failed -= 1
                    retry.append((pid, task))
                    continue
                fail(pid, task, "timeout", diag.text)
                stats.timeouts.append(pid)
                if on_timeout is not None:
                    on_timeout(pid, diag.text)
            else:
                kind = "error" if res.status in ("ok", "error") else res.status
                fail(pid, task, kind, res.value if isinstance(res.value, str) else res.error)
            if on_progress is not None:
                on_progress(finished, len(tasks))

    run(list(zip(owner, tasks, strict=True)), budget, False)
    if retry:
        run(retry, None if budget is None else 2 * budget, True)
    return stats


def diagnose(executor: Executor, job: Job, task: CellTask, budget: float) -> Diagnosis:
    """Where the time went (a traced re-run in a fresh worker, short budget)."""
    diag = DiagTask(
        job.source,
        job.label,
        task.beta,
        task.store_spec,
        task.seeds,
        DIAGNOSIS_BUDGET,
        budget,
        len(task.seeds),
    )
    for res in executor.map_unordered(diagnose_task, [diag], timeout=DIAGNOSIS_BUDGET + 30):
        if res.status == "ok" and isinstance(res.value, Diagnosis):
            return res.value
        return Diagnosis(
            f"{job.label}:1:1: error[{TIMEOUT_CODE}]: evaluation overran the search's "
            f"wall-clock budget ({budget:g} s at β = {task.beta:g}); the traced re-run "
            f"failed too ({res.status}: {res.error.splitlines()[0] if res.error else ''})",
            None,
        )
    raise AssertionError("one task, one result")  # pragma: no cover
