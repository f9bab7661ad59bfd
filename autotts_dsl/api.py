"""The public Python API: what notebooks, scripts and agents call.

    import autotts_dsl as tts

    cmc = tts.load("cmc")                          # a stdlib name, a path, or program text
    tts.check(cmc).ok                              # diagnostics as objects, rendering separate
    df = tts.run(cmc, "autotts/Qwen3-8B/aime24", betas=[0.25, 0.5, 1.0])
    fig = tts.plot(df)                             # a matplotlib Figure

`run` evaluates in this process; `sweep` does the same on all cores with a
result cache (a re-run is instant, a killed one resumes). Both return one
row per program × store × β with the columns of a sweep's `results.csv`
(`COLUMNS`); `episodes(...)` returns one row per episode. Everything here is
stable, typed and documented in docs/api.md; names not exported from this
module are internals. Heavy imports (pandas, matplotlib, the sweep stack)
happen on first use, so `import autotts_dsl` stays cheap.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from .diagnostics import Diagnostic, DiagnosticError, render_all
from .interpreter import ProgramRunner
from .sweeps.results import TIDY_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .checker import CheckReport
    from .replay.store import ReplayStore

__all__ = [
    "COLUMNS",
    "EPISODE_COLUMNS",
    "Program",
    "ProgramError",
    "check",
    "episodes",
    "load",
    "plot",
    "run",
    "stores",
    "sweep",
]


class ProgramError(ValueError):
    """A program that does not parse or compile; `.diagnostics` holds them."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str, path: str) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        self.path = path
        super().__init__(render_all(self.diagnostics, source, path))


@dataclass(frozen=True)
class Program:
    """A parsed program: its text, where it came from, and its declarations."""

    name: str
    path: str
    source: str
    runner: ProgramRunner = field(repr=False, compare=False)

    @property
    def description(self) -> str:
        return self.runner.program.description

    @property
    def params(self) -> dict[str, str]:
        """Declared params: name -> type."""
        return {p.name: p.type for p in self.runner.program.params}

    @property
    def knobs(self) -> dict[str, str]:
        """Schedule knobs: name -> declared direction in β (up, down, const)."""
        return {k.name: k.direction for k in self.runner.program.knobs}

    @property
    def program_hash(self) -> str:
        from .ast import program_hash

        return program_hash(self.runner.program)

    def constants(
        self, beta: float = 0.5, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Every param and knob value at β (raises `ProgramError`)."""
        try:
            return dict(self.runner.compile(beta, dict(params or {})).constants)
        except DiagnosticError as err:
            raise ProgramError(err.diagnostics, self.source, self.path) from None

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(d)}</td></tr>"
            for n, d in self.knobs.items()
        )
        desc = html.escape(self.description or "")
        return (
            f"<div><b>{html.escape(self.name)}</b> <small>{html.escape(self.path)}</small>"
            f"<br>{desc}<table><tr><th>knob</th><th>direction</th></tr>{rows}</table></div>"
        )


ProgramLike = Program | str | Path


def load(spec: ProgramLike) -> Program:
    """A program from a stdlib name (`"cmc"`), a file path, or program text
    (anything containing a newline or starting with `controller`). Raises
    `ProgramError` (syntax) or `FileNotFoundError`."""
    if isinstance(spec, Program):
        return spec
    from .parser import parse
    from .programs import ProgramNotFound, load_program

    text = str(spec)
    if isinstance(spec, str) and ("\n" in text or text.lstrip().startswith("controller")):
        try:
            program = parse(text, "<source>")
        except DiagnosticError as err:
            raise ProgramError(err.diagnostics, text, "<source>") from None
        return Program(program.name, "<source>", text, ProgramRunner(program, text, "<source>"))
    try:
        runner = load_program(text)
    except ProgramNotFound as exc:
        raise FileNotFoundError(str(exc)) from None
    except DiagnosticError as err:
        raise ProgramError(err.diagnostics, Path(text).read_text(encoding="utf-8"), text) from None
    return Program(runner.program.name, runner.path, runner.source, runner)


def check(
    program: ProgramLike,
    *,
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> CheckReport:
    """Everything `tts-dsl check` proves, as a report object: `.ok`,
    `.diagnostics` (objects with code, severity, message, span), `.knobs`
    (value, range, proved direction), `.render()` for text, `.to_json()`,
    and an HTML view in notebooks. Never raises on a bad program."""
    from .checker import check_program, check_source

    if isinstance(program, str) and ("\n" in program or program.lstrip().startswith("controller")):
        return check_source(program, "<source>", strict=strict, beta=beta, params=params)
    p = load(program)
    return check_program(
        p.runner.program, p.source, p.path, strict=strict, beta=beta, params=params
    )


# ---------------------------------------------------------------------------
# Evaluation


def _programs(programs: ProgramLike | Sequence[ProgramLike]) -> list[Program]:
    if isinstance(programs, (Program, str, Path)):
        return [load(programs)]
    return [load(p) for p in programs]


StoreLike: TypeAlias = "str | Path | ReplayStore"


def _stores(stores: StoreLike | Sequence[StoreLike] | None) -> list[tuple[str, ReplayStore]]:
    """(spec, store) pairs: `None` is the embedded default store; a directory
    expands to the stores under it (as on the command line)."""
    from .replay import registry
    from .replay.store import ReplayStore

    if stores is None:
        return [("default", registry.resolve_store(None))]
    items: Iterable[StoreLike] = (
        [stores] if isinstance(stores, (str, Path, ReplayStore)) else stores
    )
    out: list[tuple[str, ReplayStore]] = []
    for item in items:
        if isinstance(item, ReplayStore):
            out.append((item.source or item.name, item))
            continue
        for spec in registry.expand_store_specs([str(item)]):
            out.append((spec, registry.resolve_store(spec)))
    return out


def _betas(betas: float | str | Sequence[float]) -> tuple[float, ...]:
    from .sweeps.grid import parse_betas

    if isinstance(betas, str):
        return parse_betas(betas)
    if isinstance(betas, (int, float)):
        return (float(betas),)
    return tuple(float(b) for b in betas)


def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    return tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)


COLUMNS: tuple[str, ...] = TIDY_COLUMNS
"""Columns of `run` and `sweep` (those of a sweep's `results.csv`)."""


def _cells(
    progs: Sequence[Program],
    store_pairs: Sequence[tuple[str, ReplayStore]],
    betas: Sequence[float],
    params: Mapping[str, Any],
    seeds: Sequence[int],
    baselines: bool,
) -> list[Any]:
    from .programs import load_program
    from .sweeps.grid import (
        dedupe_cells,
        program_cells,
        program_spec,
        reference_and_baseline_cells,
        store_spec,
    )

    specs = [store_spec(store, spec) for spec, store in store_pairs]
    cells = []
    for p in progs:
        label = Path(p.path).stem if p.path != "<source>" else p.name
        known = {q.name for q in p.runner.program.params} | set(p.knobs)
        own = {k: v for k, v in params.items() if k in known}
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


def _frame(cells: Sequence[Any], metrics: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    from .sweeps.results import tidy_rows

    rows = tidy_rows(cells, metrics)
    frame: pd.DataFrame = pd.DataFrame(rows, columns=list(COLUMNS))
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
) -> pd.DataFrame:
    """Evaluate programs × stores × β in this process under the replay
    protocol (100 seeds by default); one row per cell (`COLUMNS`).

    `stores`: store names (`"autotts/Qwen3-8B/aime24"`), files, directories
    (every store under them) or loaded `ReplayStore`s; `None` is the embedded
    default store. `betas`: a number, a list, or a grid `"0:1:0.1"`. `params`
    pins params or knobs by name (each program takes the ones it declares).
    `baselines` adds SC@64 and the published baselines. Raises `ProgramError`
    for a program that does not compile and `EpisodeFault` for a run-time
    fault (with its line, store, question and seed)."""
    from .sweeps.cache import CellMetrics

    progs = _programs(programs)
    pairs = _stores(stores)
    by_spec = dict(pairs)
    runners = {p.program_hash: p.runner for p in progs}
    cells = _cells(progs, pairs, _betas(betas), dict(params or {}), _seeds(seeds), baselines)
    metrics: dict[str, Any] = {}
    for cell in cells:
        runner = runners.get(cell.program.program_hash)
        if runner is None:  # a baseline
            runner = load(cell.program.label).runner
        ev = runner.evaluate(
            by_spec[cell.store.spec], cell.beta, cell.params_dict, cell.seeds, backend=backend
        )
        metrics[cell.key] = CellMetrics(
            accuracy=float(ev.accuracy),
            avg_tokens=int(ev.avg_tokens),
            avg_seq_tokens=int(ev.avg_seq_tokens),
            mean_opened=float(ev.mean_opened),
            mean_depth=float(ev.mean_depth),
            wall_seconds=float(ev.wall_seconds),
            n_questions=int(ev.n_questions),
            n_seeds=len(ev.seeds),
            backend=ev.backend,
        )
    return _frame(cells, metrics)


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
) -> pd.DataFrame:
    """`run` on all cores (`jobs` worker processes) with a result cache:
    cells already in `cache` (an SQLite file; default: a temporary one) are
    not recomputed, and each finished cell is saved as it arrives, so an
    interrupted sweep resumes. Stores must be names or files here (workers
    load them). Same rows and columns as `run`."""
    import tempfile

    from .sweeps.cache import ResultCache
    from .sweeps.runner import run_sweep

    progs = _programs(programs)
    pairs = _stores(stores)
    cells = _cells(progs, pairs, _betas(betas), dict(params or {}), _seeds(seeds), baselines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(cache) if cache is not None else Path(tmp) / "cache.sqlite"
        with ResultCache(path) as rc:
            metrics, stats = run_sweep(cells, rc, jobs=jobs)
    if stats.interrupted:
        raise KeyboardInterrupt
    if stats.errors:
        first = next(iter(stats.errors.values()))
        raise RuntimeError(f"{len(stats.errors)} cell(s) failed; first: {first}")
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
    ((_, st),) = _stores(store)[:1] if store is not None else _stores(None)
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
# Plots and stores


def plot(results: pd.DataFrame, *, metric: str = "tokens", compact: bool = False) -> Figure:
    """The accuracy-token figure of `run`/`sweep` results (a matplotlib
    Figure; nothing is written). `metric`: "tokens" or "seq_tokens";
    `compact`: means over stores in one panel (a paper column), else one
    panel per store. Rows of role `reference`/`baseline` draw as such."""
    from .sweeps.plot import mean_figure, results_figure

    column = {"tokens": "avg_tokens", "seq_tokens": "avg_seq_tokens"}.get(metric)
    if column is None:
        raise ValueError(f"metric must be 'tokens' or 'seq_tokens', not {metric!r}")
    rows = [_plain_row({str(k): v for k, v in r.items()}) for r in results.to_dict("records")]
    draw = mean_figure if compact else results_figure
    fig: Figure = draw(rows, metric=column)  # type: ignore[arg-type]
    return fig


def _plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A DataFrame record with numpy scalars as Python values (as the CSV reader gives)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def stores() -> pd.DataFrame:
    """The replay stores tts-dsl knows (embedded, AutoTTS, added
    directories, collected), with whether each is present here."""
    import pandas as pd

    from .replay.registry import list_stores

    rows = [
        {
            "name": s.name,
            "kind": s.kind,
            "present": s.present,
            "questions": s.n_questions,
            "branches": s.n_branches,
            "synthetic": s.synthetic,
            "path": str(s.path),
            "status": s.status,
        }
        for s in list_stores()
    ]
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame
