"""Sweeps: programs × a β grid × stores, on all cores (or a Ray cluster),
with every finished cell cached so that a re-run is instant and an
interrupted one resumes.

* `sweep` — the whole thing as a table (`COLUMNS`), for notebooks;
* `plan_sweep` → `run_sweep_plan` → `write_sweep_files`: the same in steps,
  with progress per cell and the files of `tts-dsl sweep` (results.csv,
  summary.csv, AutoTTS matrix files, provenance.json, figures, traces).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..diagnostics import DiagnosticError, did_you_mean
from ..records import record
from ..sweeps.cache import CACHE_FILE, CacheError, CellMetrics, ResultCache
from ..sweeps.grid import Cell, ProgramSpec, StoreSpec, params_text
from ..sweeps.headline import ProgramHeadline, StoreHeadline
from ..sweeps.runner import Outcome, SweepStats
from ..sweeps.traces import TRACES_DIR
from .evaluation import StoreLike, _betas, _seeds, _store_pairs
from .execution import BACKEND_ENV
from .programs import CheckReport, Program, ProgramError, ProgramLike, ProgramText, check, load

if TYPE_CHECKING:
    import pandas as pd

    from ..executor import Executor

__all__ = [
    "CACHE_FILE",
    "PROVENANCE_FILE",
    "TRACES_DIR",
    "CacheError",
    "Cell",
    "CellMetrics",
    "CellOutcome",
    "CheckFailed",
    "ParamError",
    "SweepFiles",
    "SweepPlan",
    "SweepProgram",
    "SweepResult",
    "SweepStats",
    "cell_text",
    "plan_sweep",
    "run_sweep_plan",
    "sweep",
    "write_sweep_files",
    "write_sweep_traces",
]

PROVENANCE_FILE = "provenance.json"

CellOutcome: TypeAlias = Outcome
"""One computed cell: `.metrics` (None when it failed) and `.error`."""

ParamItem: TypeAlias = "tuple[str | None, str, Any]"
"""(program label or None for every program declaring it, name, value)."""


class ParamError(ValueError):
    """A sweep param that lands nowhere: an unknown program label, or a
    name no program of the sweep declares (a usage error)."""


class CheckFailed(ValueError):
    """The static check found errors in programs of the sweep (`.reports`,
    `.paths`); nothing was run."""

    def __init__(self, reports: Sequence[CheckReport]) -> None:
        self.reports = list(reports)
        self.paths = [r.path for r in reports]
        super().__init__(f"check found errors in {', '.join(self.paths)}; nothing was run")


@record
class SweepProgram:
    """A program of a sweep with its unique label (`cmc`, a file's stem, or
    `stem#hash` when two different programs share a stem)."""

    program: Program
    spec: ProgramSpec

    @property
    def label(self) -> str:
        return self.spec.label


@record(frozen=False)
class SweepPlan:
    """Everything a sweep will compute, before any of it runs."""

    programs: list[SweepProgram]
    params: dict[str, dict[str, Any]]
    """label -> the params and knobs set in that program."""
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    stores: list[StoreSpec]
    cells: list[Cell]
    """The programs' cells, SC@64 on each store, and the baselines if asked."""
    baselines: bool
    warnings: dict[str, int] = field(default_factory=dict)
    """label -> warnings the pre-run check found (when it ran)."""


def _label(spec: ProgramLike, program: Program) -> str:
    if isinstance(spec, (str, Path)) and program.path != "<source>":
        p = Path(spec)
        return p.stem if p.is_file() else str(spec).removesuffix(".tts")
    return Path(program.path).stem if program.path != "<source>" else program.name


def _labelled(specs: Sequence[ProgramLike]) -> list[SweepProgram]:
    from ..sweeps.grid import program_spec

    out: list[SweepProgram] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        program = load(spec)
        label = _label(spec, program)
        ps = program_spec(program.runner, label)
        if (label, ps.program_hash) in seen:
            continue
        if any(s.label == label for s in out):
            ps = program_spec(program.runner, f"{label}#{ps.program_hash[:6]}")
        seen.add((label, ps.program_hash))
        out.append(SweepProgram(program, ps))
    return out


def _assign(
    programs: Sequence[SweepProgram], items: Sequence[ParamItem]
) -> dict[str, dict[str, Any]]:
    labels = [s.label for s in programs]
    out: dict[str, dict[str, Any]] = {label: {} for label in labels}
    for scope, name, value in items:
        if scope is not None:
            if scope not in out:
                hint = did_you_mean(scope, labels)
                raise ParamError(
                    f"--param {scope}:{name}: no program {scope!r} in this sweep"
                    + (f"; {hint}" if hint else f" (programs: {', '.join(labels)})")
                )
            out[scope][name] = value  # the compiler reports unknown names
            continue
        targets = [s.label for s in programs if name in s.program.declared]
        if not targets:
            names = sorted(set().union(*(s.program.declared for s in programs)))
            hint = did_you_mean(name, names)
            raise ParamError(
                f"--param {name}: no program of this sweep declares a param or knob "
                f"of that name" + (f"; {hint}" if hint else "")
            )
        for label in targets:
            out[label][name] = value
    return out


def _param_items(params: Mapping[str, Any] | Sequence[ParamItem] | None) -> list[ParamItem]:
    if params is None:
        return []
    if isinstance(params, Mapping):
        return [(None, k, v) for k, v in params.items()]
    return list(params)


def plan_sweep(
    programs: ProgramLike | Sequence[ProgramLike],
    stores: StoreLike | Sequence[StoreLike] | None = None,
    *,
    betas: float | str | Sequence[float] = "0:1:0.1",
    params: Mapping[str, Any] | Sequence[ParamItem] | None = None,
    seeds: int | Sequence[int] = 100,
    baselines: bool = False,
    sc64: bool = True,
    check_first: bool = True,
) -> SweepPlan:
    """The cells of a sweep, checked before anything runs. `params`: a
    mapping (each program takes the names it declares; a name none declares
    is a `ParamError`) or (label or None, name, value) items to set a name in
    one program only. `check_first` refuses programs the static check
    rejects at β = 0.5 (`CheckFailed`). `sc64` adds SC@64 on each store (the
    reference of the headline), `baselines` the published baselines over
    the grid. Also raises `GridError`,
    `ProgramError` (a program that does not compile at some β),
    `StoreUnavailable`, `StoreError`."""
    from ..programs import load_program
    from ..sweeps.grid import (
        dedupe_cells,
        program_cells,
        reference_and_baseline_cells,
        store_spec,
    )

    grid = _betas(betas)
    seed_list = _seeds(seeds)
    specs: list[ProgramLike] = (
        [programs] if isinstance(programs, (Program, ProgramText, str, Path)) else list(programs)
    )
    progs = _labelled(specs)
    overrides = _assign(progs, _param_items(params))
    warnings = _check(progs, overrides) if check_first else {}
    pairs = _store_pairs(stores)
    stores_out = list(
        {
            st.content_hash + st.name: st for st in (store_spec(s, spec) for spec, s in pairs)
        }.values()
    )
    cells: list[Cell] = []
    for sp in progs:
        try:
            cells += program_cells(
                sp.program.runner, sp.spec, grid, overrides[sp.label], stores_out, seed_list
            )
        except DiagnosticError as err:
            raise ProgramError(err.diagnostics, sp.program.source, sp.program.path) from None
    if sc64 or baselines:
        cells += reference_and_baseline_cells(
            grid, stores_out, seed_list, baselines=baselines, load=load_program
        )
    return SweepPlan(
        progs, overrides, grid, seed_list, stores_out, dedupe_cells(cells), baselines, warnings
    )


def _check(
    progs: Sequence[SweepProgram], overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """As `evaluate` callers do: the check at β = 0.5 with the sweep's params;
    errors refuse the sweep, warnings are counted."""
    failed: list[CheckReport] = []
    warned: dict[str, int] = {}
    for sp in progs:
        try:
            sp.program.runner.compile(0.5, dict(overrides[sp.label]))
        except DiagnosticError:
            continue  # reported when its cells are built, with its diagnostics
        report = check(sp.program, beta=0.5, params=overrides[sp.label])
        if report.errors:
            failed.append(report)
        elif report.warnings:
            warned[sp.label] = len(report.warnings)
    if failed:
        raise CheckFailed(failed)
    return warned


def cell_text(cell: Cell) -> str:
    """`cmc β=0.5 samples=8 · autotts/Qwen3-8B/aime24`: a cell in one line."""
    params = params_text(cell.params)
    what = f"{cell.program.label} β={cell.beta:g}" + (f" {params}" if params else "")
    return f"{what} · {cell.store.name}"


@contextmanager
def _backend_for_workers(backend: str | None) -> Iterator[str]:
    """Workers inherit the environment: the engine goes there. Results do not
    depend on the engine, so cached cells stay valid whichever computed them."""
    chosen = backend or os.environ.get(BACKEND_ENV) or "auto"
    before = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = chosen
    try:
        yield chosen
    finally:
        if before is None:
            del os.environ[BACKEND_ENV]
        else:
            os.environ[BACKEND_ENV] = before


@record(frozen=False)
class SweepResult:
    """What `run_sweep_plan` computed: metrics by cell key (cached and
    computed), the counts (`stats`: total, computed, cached, failed,
    interrupted, errors by key, wall_seconds) and the engine asked for."""

    plan: SweepPlan
    metrics: dict[str, CellMetrics]
    stats: SweepStats
    backend: str

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One row per finished cell, the columns of results.csv."""
        from ..sweeps.results import tidy_rows

        return tidy_rows(self.plan.cells, self.metrics)

    def headline(self) -> tuple[list[StoreHeadline], list[ProgramHeadline]]:
        """Per program × store and per program: peak accuracy, β = 0.5, SC@64,
        and the tokens saved against SC@64 at matched accuracy."""
        from ..sweeps.headline import headline

        return headline(self.rows)

    def errors(self) -> list[tuple[Cell, str]]:
        """The failed cells with their one-line errors."""
        by_key = {c.key: c for c in self.plan.cells}
        return [(by_key[k], text) for k, text in self.stats.errors.items()]

    def provenance(self, argv: Sequence[str] | None = None) -> dict[str, Any]:
        """The provenance record of provenance.json."""
        from ..provenance import ProgramRef, StoreRef, provenance

        cells = self.plan.cells
        stores = list({c.store.content_hash + c.store.name: c.store for c in cells}.values())
        doc = provenance(
            argv,
            programs=[
                ProgramRef(s.label, s.program.path, s.spec.program_hash) for s in self.plan.programs
            ],
            stores=[StoreRef(s.name, s.content_hash, s.synthetic) for s in stores],
            seeds=self.plan.seeds,
            backend=self.backend,
            engines=[m.backend for m in self.metrics.values() if m.backend],
        )
        doc["betas"] = list(self.plan.betas)
        stats = self.stats
        doc["cells"] = {"total": stats.total, "computed": stats.computed, "cached": stats.cached}
        return doc


def run_sweep_plan(
    plan: SweepPlan,
    cache: str | Path,
    *,
    jobs: int | None = None,
    fresh: bool = False,
    executor: Executor | str | None = None,
    address: str | None = None,
    backend: str | None = None,
    on_start: Callable[[int, int, Executor | None], None] | None = None,
    on_result: Callable[[Cell, CellOutcome, int, int], None] | None = None,
) -> SweepResult:
    """Compute the plan's cells not yet in `cache` (an SQLite file, created
    if need be), saving each as it arrives. `jobs` worker processes here
    (default: all cores), or the cells go to `executor`: an open one, or
    `"ray"` to open one here (on the cluster at `address`, else a Ray
    instance of `jobs` CPUs) for this sweep; `fresh` recomputes cached cells.
    The engine (`backend`) is set for the workers. `on_start(to_compute,
    cached, executor)` once before any work,
    `on_result(cell, outcome, done, total)` per computed cell. Ctrl-C stops
    it with the finished cells cached (`stats.interrupted`); failed cells
    are in `stats.errors`, not cached. Raises `CacheError`, `ExecutorError`."""
    from ..sweeps.runner import run_sweep
    from .execution import open_executor

    with _backend_for_workers(backend) as chosen:
        opened = None
        if isinstance(executor, str):
            if executor != "local" or address is not None:
                opened = open_executor(executor, jobs, address=address)
            executor = opened
        try:
            with ResultCache(Path(cache)) as rc:
                ran = executor

                def started(to_compute: int, cached: int) -> None:
                    if on_start is not None:
                        on_start(to_compute, cached, ran)

                metrics, stats = run_sweep(
                    plan.cells,
                    rc,
                    jobs=jobs,
                    fresh=fresh,
                    on_start=started,
                    on_result=on_result,
                    executor=executor,
                )
        finally:
            if opened is not None:
                opened.close()
    return SweepResult(plan, metrics, stats, chosen)


@record(frozen=False)
class SweepFiles:
    """The files `write_sweep_files` wrote, and the provenance record."""

    files: list[Path]
    provenance: dict[str, Any]


def write_sweep_files(
    result: SweepResult,
    out_dir: str | Path,
    *,
    plots: bool = True,
    formats: Sequence[str] = ("png",),
    argv: Sequence[str] | None = None,
    jobs: int = 1,
) -> SweepFiles:
    """Write a sweep's files in `out_dir`, each atomically: results.csv,
    summary.csv, the AutoTTS matrix files, the figures (`plots`, in each of
    `formats`, drawn `jobs` at a time) and provenance.json (recording
    `argv`). Raises `OSError`."""
    import json

    from ..io_atomic import atomic_write_text
    from ..sweeps.headline import SUMMARY_COLUMNS, summary_table
    from ..sweeps.results import (
        RESULTS_FILE,
        SUMMARY_FILE,
        write_csv,
        write_matrix,
        write_tidy_csv,
    )

    out = Path(out_dir)
    rows = result.rows
    per_store, per_program = result.headline()
    prov = result.provenance(argv)
    files = [write_tidy_csv(out / RESULTS_FILE, rows)]
    files.append(
        write_csv(out / SUMMARY_FILE, SUMMARY_COLUMNS, summary_table(per_store, per_program, rows))
    )
    files += write_matrix(out, result.plan.cells, result.metrics)
    if plots and rows:
        from .figures import save_figures

        files += save_figures(
            rows, out, formats=formats, baselines=result.plan.baselines, jobs=jobs
        )
    atomic_write_text(out / PROVENANCE_FILE, json.dumps(prov, indent=2) + "\n")
    files.append(out / PROVENANCE_FILE)
    return SweepFiles(files, prov)


def write_sweep_traces(
    out_dir: str | Path,
    result: SweepResult,
    level: str = "actions",
    *,
    on_cell: Callable[[Cell, bool], None] | None = None,
) -> list[Path]:
    """Per-episode traces of every swept cell (not SC@64 or the baselines)
    in `out_dir/traces/<program>/<store>/beta_<B>.jsonl`, replayed on the
    reference interpreter; files already there are kept, so an interrupted
    run resumes. `on_cell(cell, written)` after each. Returns the program
    directories. Raises `EpisodeFault`, `OSError`."""
    from ..sweeps.traces import write_cell_traces

    swept = [c for c in result.plan.cells if c.role == "sweep"]
    paths = write_cell_traces(Path(out_dir), swept, level, on_cell=on_cell)  # type: ignore[arg-type]
    return sorted({p.parent.parent.parent for p in paths})


def sweep(
    programs: ProgramLike | Sequence[ProgramLike],
    stores: StoreLike | Sequence[StoreLike] | None = None,
    *,
    betas: float | str | Sequence[float] = "0:1:0.1",
    params: Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 100,
    cache: str | Path | None = None,
    jobs: int | None = None,
    baselines: bool = False,
    backend: str | None = None,
    executor: Executor | None = None,
    fresh: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """`run` on all cores (`jobs` worker processes, or `executor`) with a
    result cache: cells already in `cache` (an SQLite file; default: a
    temporary one) are not recomputed, and each finished cell is saved as
    it arrives, so an interrupted sweep resumes. Stores must be names or
    files here (workers load them). `progress(done, total, cell)` counts
    computed cells. Same rows and columns as `run`. Raises what `plan_sweep`
    raises (it does not check programs first: `check` them), and
    `RuntimeError` when cells failed."""
    import pandas as pd

    from .evaluation import COLUMNS

    plan = plan_sweep(
        programs,
        stores,
        betas=betas,
        params=params,
        seeds=seeds,
        baselines=baselines,
        sc64=baselines,  # as `run`: SC@64 comes with the baselines
        check_first=False,
    )

    def started(to_compute: int, cached: int, _: Executor | None) -> None:
        if progress is not None:
            progress(0, to_compute, "")

    def finished(cell: Cell, outcome: CellOutcome, done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, cell_text(cell))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(cache) if cache is not None else Path(tmp) / CACHE_FILE
        result = run_sweep_plan(
            plan,
            path,
            jobs=jobs,
            fresh=fresh,
            executor=executor,
            backend=backend,
            on_start=started,
            on_result=finished,
        )
    if result.stats.interrupted:
        raise KeyboardInterrupt
    if result.stats.errors:
        first = next(iter(result.stats.errors.values()))
        raise RuntimeError(f"{len(result.stats.errors)} cell(s) failed; first: {first}")
    frame: pd.DataFrame = pd.DataFrame(result.rows, columns=list(COLUMNS))
    return frame
