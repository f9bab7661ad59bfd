"""Evaluating programs on replay stores, in this process (or one task per
store on an executor).

* `evaluate` — one program at one β on stores: one result per store with
  the SC@64 comparison, per-episode traces on request, progress as it goes
  (what `tts-dsl run` computes);
* `run` — programs × stores × β as a table with the sweep CSV's columns;
* `episodes` — one row per (seed, question) episode;
* `check_empirical` — the empirical monotonicity check (`check --empirical`).

Heavy imports (the engines, numpy, pandas) happen inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from ..diagnostics import DiagnosticError
from ..records import record
from ..replay.protocol import DEFAULT_SEEDS
from ..runtime import EpisodeFault
from .programs import Program, ProgramError, ProgramLike, ProgramText, load

if TYPE_CHECKING:
    import pandas as pd

    from ..checker.empirical import EmpiricalReport
    from ..executor import Executor
    from ..replay.store import ReplayStore
    from ..sweeps.grid import Cell, GridError, parse_betas
    from ..sweeps.results import TIDY_COLUMNS as COLUMNS

__all__ = [
    "COLUMNS",
    "DEFAULT_SEEDS",
    "EPISODE_COLUMNS",
    "TRACE_LEVELS",
    "EmpiricalReport",
    "EpisodeFault",
    "GridError",
    "ProgressFn",
    "RunError",
    "RunResult",
    "StoreLike",
    "check_empirical",
    "episodes",
    "evaluate",
    "parse_betas",
    "run",
]

StoreLike: TypeAlias = "str | Path | ReplayStore | tuple[str, ReplayStore]"
"""A store spec (name, file, directory), a loaded store, or a (spec, store)
pair from `open_stores` (the spec is what a worker opens it by)."""

ProgressFn: TypeAlias = Callable[[int, int, str], None]
"""`progress(done, total, note)`: called with `done == 0` first (announcing
`total`), then as work completes; `note` says where it is."""

TRACE_LEVELS: tuple[str, ...] = ("off", "actions", "full")
"""`trace_level=`: actions (the actions and the guards that fired) or full
(every guard); `autotts_dsl.trace` defines them."""


class RunError(RuntimeError):
    """A store's evaluation failed on a worker (a run-time fault, an engine
    that cannot run the program, a store that changed, a worker that died):
    the message says which and why in one line."""


def _programs(programs: ProgramLike | Sequence[ProgramLike]) -> list[Program]:
    if isinstance(programs, (Program, ProgramText, str, Path)):
        return [load(programs)]
    return [load(p) for p in programs]


def _store_pairs(
    stores: StoreLike | Sequence[StoreLike] | None,
) -> list[tuple[str, ReplayStore]]:
    """(spec, store) pairs: `None` is the embedded default store; a directory
    expands to the stores under it (as on the command line)."""
    from ..replay.store import ReplayStore
    from .replay_stores import open_stores

    if stores is None:
        return open_stores(None)
    single = isinstance(stores, (str, Path, ReplayStore)) or (
        isinstance(stores, tuple) and len(stores) == 2 and isinstance(stores[1], ReplayStore)
    )
    items = [cast("StoreLike", stores)] if single else list(cast("Sequence[StoreLike]", stores))
    out: list[tuple[str, ReplayStore]] = []
    for item in items:
        if isinstance(item, ReplayStore):
            out.append((item.source or item.name, item))
        elif isinstance(item, tuple):
            out.append(item)
        else:
            out += open_stores([item])
    return out


def _betas(betas: float | str | Sequence[float]) -> tuple[float, ...]:
    if isinstance(betas, str):
        from ..sweeps.grid import parse_betas

        return parse_betas(betas)
    if isinstance(betas, (int, float)):
        return (float(betas),)
    return tuple(float(b) for b in betas)


def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    return tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)


# Loaded on first use (the sweep and checker modules a one-store evaluation
# does not need): COLUMNS, the columns of `run` and `sweep` (those of a
# sweep's `results.csv`); GridError and parse_betas; EmpiricalReport.
_LAZY: dict[str, tuple[str, str]] = {
    "COLUMNS": ("autotts_dsl.sweeps.results", "TIDY_COLUMNS"),
    "GridError": ("autotts_dsl.sweeps.grid", "GridError"),
    "parse_betas": ("autotts_dsl.sweeps.grid", "parse_betas"),
    "EmpiricalReport": ("autotts_dsl.checker.empirical", "EmpiricalReport"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


# ---------------------------------------------------------------------------
# One program at one β, store by store


@record(frozen=False)
class RunResult:
    """What `evaluate` computed: one row per store (`rows`), their mean
    (`total`), the typed param and knob values (`knobs`), the engines that
    ran, and with `trace_level` one JSON line per episode (`traces`)."""

    program: Program
    beta: float
    params: dict[str, Any]
    """The params and knobs given, typed as the program read them."""
    knobs: dict[str, Any]
    """Every param and knob value at β."""
    seeds: tuple[int, ...]
    backend: str
    """The engine asked for (`auto` when none was)."""
    stores: list[ReplayStore]
    rows: list[dict[str, Any]]
    """Per store: store, store_hash, synthetic, questions, seeds, accuracy,
    avg_tokens, avg_seq_tokens, sc64_tokens, tokens_vs_sc64, mean_opened,
    mean_depth, wall_seconds, engine."""
    traces: list[str] = field(default_factory=list)

    @property
    def total(self) -> dict[str, Any]:
        """Means over the stores (tokens relative to SC@64: a ratio of sums)."""
        from ..runs import total_row

        return total_row(self.rows)

    @property
    def engines(self) -> list[str]:
        return sorted({str(r["engine"]) for r in self.rows})

    def to_json(
        self, *, argv: Sequence[str] | None = None, check: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The document `tts-dsl run --json` prints (and `save` writes):
        program, knobs, results, total and provenance (`argv`: the command
        line to record; `check`: the pre-run check's summary)."""
        from ..provenance import ProgramRef, StoreRef, provenance

        p = self.program
        return {
            "program": p.path,
            "controller": p.name,
            "beta": self.beta,
            "params": self.params,
            "knobs": self.knobs,
            "engine": self.engines,
            "check": dict(check) if check is not None else None,
            "results": self.rows,
            "total": self.total,
            "provenance": provenance(
                argv,
                programs=[ProgramRef(p.name, p.path, p.program_hash)],
                stores=[StoreRef(s.name, s.content_hash, s.synthetic) for s in self.stores],
                seeds=self.seeds,
                backend=self.backend,
                engines=[r["engine"] for r in self.rows],
            ),
        }

    def save(self, directory: str | Path, document: Mapping[str, Any] | None = None) -> list[Path]:
        """Write `directory/run.json` (`document`, default `to_json()`) and
        `directory/run.csv` (one row per store with its provenance), each
        atomically; returns the paths. Raises `OSError`."""
        from ..runs import write_run_files

        Path(directory).mkdir(parents=True, exist_ok=True)
        return write_run_files(directory, document if document is not None else self.to_json())

    def to_frame(self) -> pd.DataFrame:
        """`rows` as a DataFrame."""
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(self.rows)
        return frame


def evaluate(
    program: ProgramLike,
    stores: StoreLike | Sequence[StoreLike] | None = None,
    *,
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 100,
    backend: str | None = None,
    sc64: bool = True,
    trace_level: str | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Evaluate one program at one β on each store under the replay protocol
    (100 shuffle seeds × every question by default): what `tts-dsl run`
    computes. `sc64` adds SC@64's tokens on each store (the `vs SC@64`
    column). `trace_level` (`"actions"` or `"full"`) records one JSON line
    per episode in `.traces` (in this process only). With `executor` (see
    `open_executor`), one task per store runs there and `progress` counts
    stores; otherwise it counts episodes. Raises `ProgramError` (does not
    compile at β with `params`), `EpisodeFault` (a run-time fault),
    `BackendError`, `RunError` (a store failed on the executor)."""
    import os
    import time

    from ..engines import BACKEND_ENV

    p = load(program)
    given = dict(params or {})
    knobs = p.constants(beta, given)
    seed_list = _seeds(seeds)
    pairs = _store_pairs(stores)
    if executor is not None and trace_level not in (None, "off"):
        raise ValueError("traces are written from this process: evaluate without an executor")
    asked = backend or os.environ.get(BACKEND_ENV) or "auto"
    result = RunResult(
        p, beta, {k: knobs[k] for k in given}, knobs, seed_list, asked, [s for _, s in pairs], []
    )
    note: ProgressFn = progress or (lambda done, total, text: None)
    if executor is not None:
        from ..run_stores import run_on_stores

        got: dict[int, dict[str, Any]] = {}
        note(0, len(pairs), "")
        for index, row in run_on_stores(
            executor, p.runner, pairs, beta, given, seed_list, backend=backend, baseline=sc64
        ):
            if isinstance(row, str):
                raise RunError(row)
            got[index] = row
            note(len(got), len(pairs), str(row["store"]))
        result.rows = [got[i] for i in range(len(pairs))]
        return result

    from ..runs import evaluate_store, result_row, sc64_tokens

    stores_here = result.stores
    total = len(seed_list) * sum(len(s) for s in stores_here)
    note(0, total, "")
    base = 0
    for i, store in enumerate(stores_here):
        where = f"{store.name} ({i + 1}/{len(stores_here)})" if len(stores_here) > 1 else store.name
        traces: list[list[dict[str, Any]]] | None = [] if trace_level not in (None, "off") else None
        started = time.perf_counter()

        def advance(done: int, base: int = base, where: str = where) -> None:
            note(base + done, total, where)

        ev = evaluate_store(
            p.runner,
            store,
            beta,
            given,
            seed_list,
            backend=backend,
            traces=traces,
            progress=advance if progress is not None else None,
        )
        wall = time.perf_counter() - started
        sc = None
        if sc64:
            note(base + len(seed_list) * len(store), total, f"SC@64 on {store.name}")
            sc = sc64_tokens(store, seed_list, backend)
        base += len(seed_list) * len(store)
        result.rows.append(result_row(store, ev, sc, wall))
        if traces is not None:
            from ..trace import evaluation_records

            result.traces += evaluation_records(store, ev, traces, trace_level)  # type: ignore[arg-type]
    return result


# ---------------------------------------------------------------------------
# Grids as tables


def _cells(
    progs: Sequence[Program],
    store_pairs: Sequence[tuple[str, ReplayStore]],
    betas: Sequence[float],
    params: Mapping[str, Any],
    seeds: Sequence[int],
    baselines: bool,
) -> list[Cell]:
    from ..programs import load_program
    from ..sweeps.grid import (
        dedupe_cells,
        program_cells,
        program_spec,
        reference_and_baseline_cells,
        store_spec,
    )

    specs = [store_spec(store, spec) for spec, store in store_pairs]
    cells: list[Cell] = []
    for p in progs:
        label = Path(p.path).stem if p.path != "<source>" else p.name
        own = {k: v for k, v in params.items() if k in p.declared}
        try:
            spec = program_spec(p.runner, label)
            cells += program_cells(p.runner, spec, betas, own, specs, seeds)
        except DiagnosticError as err:
            raise ProgramError(err.diagnostics, p.source, p.path) from None
    if baselines:
        cells += reference_and_baseline_cells(
            betas, specs, seeds, baselines=True, load=load_program
        )
    return dedupe_cells(cells)


def _frame(cells: Sequence[Cell], metrics: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    from ..sweeps.results import tidy_rows

    rows = tidy_rows(cells, metrics)
    from ..sweeps.results import TIDY_COLUMNS

    frame: pd.DataFrame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    return frame


def run(
    programs: ProgramLike | Sequence[ProgramLike],
    stores: StoreLike | Sequence[StoreLike] | None = None,
    *,
    betas: float | str | Sequence[float] = 0.5,
    params: Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 100,
    backend: str | None = None,
    baselines: bool = False,
    progress: ProgressFn | None = None,
) -> pd.DataFrame:
    """Evaluate programs × stores × β in this process under the replay
    protocol (100 seeds by default); one row per cell (`COLUMNS`).

    `stores`: store names (`"autotts/Qwen3-8B/aime24"`), files, directories
    (every store under them) or loaded `ReplayStore`s; `None` is the embedded
    default store. `betas`: a number, a list, or a grid `"0:1:0.1"`. `params`
    pins params or knobs by name (each program takes the ones it declares).
    `baselines` adds SC@64 and the published baselines. `progress` counts
    cells. Raises `ProgramError` for a program that does not compile and
    `EpisodeFault` for a run-time fault (with its line, store, question and
    seed)."""
    from ..sweeps.cache import CellMetrics

    progs = _programs(programs)
    pairs = _store_pairs(stores)
    by_spec = dict(pairs)
    runners = {p.program_hash: p.runner for p in progs}
    cells = _cells(progs, pairs, _betas(betas), dict(params or {}), _seeds(seeds), baselines)
    metrics: dict[str, Any] = {}
    if progress is not None:
        progress(0, len(cells), "")
    for n, cell in enumerate(cells, 1):
        runner = runners.get(cell.program.program_hash)
        if runner is None:  # a baseline
            runner = load(cell.program.label).runner
        ev = runner.evaluate(
            by_spec[cell.store.spec], cell.beta, cell.params_dict, cell.seeds, backend=backend
        )
        metrics[cell.key] = CellMetrics.of(ev)
        if progress is not None:
            progress(n, len(cells), f"{cell.program.label} β={cell.beta:g} · {cell.store.name}")
    return _frame(cells, metrics)


EPISODE_COLUMNS: tuple[str, ...] = (
    "program",
    "store",
    "beta",
    "seed",
    "question",
    "answer",
    "correct",
    "tokens",
    "seq_tokens",
    "opened",
    "reads",
)
"""Columns of `episodes`: one row per (seed, question) episode."""


def episodes(
    program: ProgramLike,
    store: StoreLike | None = None,
    *,
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 100,
    backend: str | None = None,
) -> pd.DataFrame:
    """Per-episode records of one program at one β on one store
    (`EPISODE_COLUMNS`; `answer` is the answer text, `None` for no answer)."""
    import pandas as pd

    p = load(program)
    ((_, st), *_) = _store_pairs(store)
    ev = p.runner.evaluate(st, beta, dict(params or {}), _seeds(seeds), backend=backend)
    answers = [st.answer_text(int(a)) for a in ev.answer]
    frame: pd.DataFrame = pd.DataFrame(
        {
            "program": p.name,
            "store": st.name,
            "beta": beta,
            "seed": ev.seed_column,
            "question": ev.question_column,
            "answer": answers,
            "correct": ev.correct,
            "tokens": ev.cost,
            "seq_tokens": ev.seq_cost,
            "opened": ev.opened,
            "reads": ev.reads,
        },
        columns=list(EPISODE_COLUMNS),
    )
    return frame


# ---------------------------------------------------------------------------
# The empirical check


def check_empirical(
    program: ProgramLike,
    stores: StoreLike | Sequence[StoreLike] | None = None,
    *,
    betas: str | Sequence[float] | None = None,
    params: Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 100,
    backend: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> EmpiricalReport:
    """Run the program on each store over a fine β grid (default
    `0:1:0.02`) and report where average tokens drop as β grows (W401) and
    the β ranges that spend nothing (W402): `.drops`, `.dead`,
    `.diagnostics`, `.ok`, `.render()`, `.to_json()`. `progress(store, β)`
    before each point. Check the program statically first (`check`): this
    raises `ProgramError` if it does not compile at some β of the grid, and
    `EpisodeFault` on a run-time fault."""
    from ..checker.empirical import empirical_check

    p = load(program)
    grid = _betas(betas) if betas is not None else None
    pairs = _store_pairs(stores)
    try:
        return empirical_check(
            p.runner,
            [s for _, s in pairs],
            grid,
            dict(params or {}),
            _seeds(seeds),
            backend=backend,
            progress=progress,
        )
    except DiagnosticError as err:
        raise ProgramError(err.diagnostics, p.source, p.path) from None
