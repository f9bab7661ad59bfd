"""Discovery: a proposer (offline mutations or an LLM) writes programs or
edits, the checker and the search's caps gate them, the replay screens and
then evaluates the survivors on the search stores; held-out stores see only
the final pick. Everything is recorded in DIR/history.sqlite, so a search
resumes where it stopped. See docs/search.md.

The settings (`options`) are those of `tts-dsl search`, by option name
with underscores (`seed_programs`, `search_store`, `heldout_store`,
`betas`, `rounds`, `candidates`, `proposer`, `model`, `seeds`,
`objective`, `budget_usd`, ...); missing ones take the defaults.

    config = tts.configure_search({"seed_programs": ["cmc"], "rounds": 2})
    with tts.start_search("out/search", config) as history:
        result = tts.run_search("out/search", history, config)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import record
from ..search.config import DEFAULT_BETAS as SEARCH_BETAS
from ..search.config import DEFAULT_N_SEEDS as SEARCH_N_SEEDS
from ..search.config import DEFAULT_SEEDS as SEARCH_SEEDS
from ..search.config import PROPOSERS, SearchConfig
from ..search.history import HISTORY_FILE, History
from ..search.loop import BackendDown, SeedError
from ..search.render import Reporter as SearchReporter
from ..search.report import PLOT_FILE, HeldoutReport
from ..search.session import SetupError
from ..search.view import SearchState

if TYPE_CHECKING:
    from rich.console import Console

    from ..executor import Executor
    from ..search.objective import Objective

__all__ = [
    "HISTORY_FILE",
    "PICK_FILE",
    "PLOT_FILE",
    "PROPOSERS",
    "SEARCH_BETAS",
    "SEARCH_N_SEEDS",
    "SEARCH_SEEDS",
    "BackendDown",
    "HeldoutReport",
    "History",
    "SearchConfig",
    "SearchReport",
    "SearchReporter",
    "SearchResult",
    "SearchState",
    "SeedError",
    "SetupError",
    "configure_search",
    "open_search",
    "print_search_heldout",
    "print_search_pick",
    "print_search_report",
    "resume_search",
    "run_search",
    "search_console",
    "search_heldout",
    "search_prompt",
    "search_report",
    "search_summary",
    "search_worker_setup",
    "start_search",
]

PICK_FILE = "final_pick.tts"
"""The final pick's source, written in the search directory."""

SeedsParser = Callable[[str], tuple[int, ...]]


def _seeds(text: str) -> tuple[int, ...]:
    """`100` -> 0..99, `5:10` -> 5..9 (as `--seeds`)."""
    if ":" in text:
        lo, hi = (int(x) for x in text.split(":", 1))
        return tuple(range(lo, hi))
    return tuple(range(int(text)))


def configure_search(
    options: Mapping[str, Any], *, parse_seeds: SeedsParser = _seeds
) -> SearchConfig:
    """A new search's configuration from `options`, with its seed programs
    checked and its stores opened. Raises `SetupError` (`.kind`: "usage" for
    bad options or I/O, "invalid" for a seed or store that is wrong;
    `.details`: the diagnostics)."""
    from ..search import session

    config = session.build_config(options, parse_seeds)
    session.check_seeds(config.seed_programs)
    session.probe_stores(config)
    return config


def open_search(out: str | Path, *, create: bool = False) -> History:
    """The history of the search in `out` (a context manager; `create`
    makes a new one). Raises `SetupError`."""
    from ..search import session

    return session.open_history(Path(out) / HISTORY_FILE, create)


def resume_search(history: History, options: Mapping[str, Any] | None = None) -> SearchConfig:
    """The stored configuration of a search, with the settings a resumed
    search may change (rounds, budget, timeouts, ...) taken from `options`."""
    from ..search import session

    return session.resumed_config(history, options or {})


def start_search(out: str | Path, config: SearchConfig) -> History:
    """A new search directory: its history created with `config` recorded
    (the seeds, the stores). Raises `SetupError`."""
    from ..search import session

    history = open_search(out, create=True)
    session.init_history(history, config)
    return history


def search_worker_setup() -> None:
    """The initializer of a search's worker processes (pass it as
    `open_executor(..., initializer=search_worker_setup)`): loads the
    engine's machinery before tasks arrive, so it never counts against a
    cell's wall-clock budget."""
    from ..search.cells import warm_up

    warm_up()


@record
class SearchResult:
    """What a search found: the final pick's program id (None if nothing
    scored), the search's state (scored programs, frontier, best) and its
    objective."""

    pick: int | None
    state: SearchState
    objective: Objective


def run_search(
    out: str | Path,
    history: History,
    config: SearchConfig,
    *,
    reporter: SearchReporter | None = None,
    jobs: int = 1,
    backend: str | None = None,
    executor: Executor | None = None,
    warn: Callable[[str], None] | None = None,
) -> SearchResult:
    """Run (or continue) the search recorded in `history` until its rounds,
    budget or time run out, and write the final pick to `out/final_pick.tts`.
    Cells run in `jobs` local processes or on `executor`. `warn(message)`
    hears the LLM backend's notices. Raises `SetupError` (the LLM backend
    cannot be set up), `SeedError` (a seed does not check), `BackendDown`
    (the LLM backend failed: the round stays open, resume later),
    `KeyboardInterrupt` (what finished is recorded)."""
    from ..io_atomic import atomic_write_text
    from ..search import session
    from ..search.loop import Search

    llm = session.make_llm(config, history, warn or (lambda _: None))
    search = Search(
        Path(out),
        history,
        config,
        reporter=reporter,
        jobs=jobs,
        llm=llm,
        backend=backend,
        executor=executor,  # None: the search's own local pool
    )
    pick = search.run()
    state = search.state()
    if pick is not None:
        atomic_write_text(Path(out) / PICK_FILE, history.program(pick).source)
    return SearchResult(pick, state, search.objective)


def search_heldout(history: History, result: SearchResult) -> HeldoutReport | None:
    """The final pick against CMC and SC@64 on the held-out stores recorded
    in the search (None without a pick or held-out results)."""
    from ..search.heldout import baseline_ids
    from ..search.report import heldout_report

    if result.pick is None or not history.stores("heldout"):
        return None
    return heldout_report(history, result.pick, baseline_ids(history), result.objective)


def search_prompt(
    options: Mapping[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    jobs: int = 1,
    backend: str | None = None,
    reporter: SearchReporter | None = None,
    parse_seeds: SeedsParser = _seeds,
) -> tuple[str, SearchConfig]:
    """The prompt the proposer would see next, calling no LLM and writing
    nothing: of the search in `out` (resumed), or of a new search with
    `options` (its seeds are evaluated in a scratch directory first).
    Returns the prompt and the configuration. Raises `SetupError`, `SeedError`."""
    from ..search import session
    from ..search.loop import Search

    if out is not None:
        with open_search(out) as history:
            config = session.stored_config(history)
            search = Search(Path(out), history, config, backend=backend)
            try:
                return search.first_prompt(), config
            finally:
                search.close()
    config = session.build_config(options or {}, parse_seeds)
    session.check_seeds(config.seed_programs)
    with tempfile.TemporaryDirectory(prefix="tts-dsl-search-dry-") as tmp:
        scratch = Path(tmp)
        with History(scratch / HISTORY_FILE, create=True) as history:
            session.init_history(history, config)
            search = Search(scratch, history, config, reporter=reporter, jobs=jobs, backend=backend)
            try:
                search.evaluate_seeds()
                return search.first_prompt(), config
            finally:
                search.close()


@record
class SearchReport:
    """A finished (or running) search, as `tts-dsl search report` shows it:
    its configuration and state, the final pick (or the best so far), the
    held-out comparison when asked for, and the progress plot's path."""

    config: SearchConfig
    state: SearchState
    pick: int | None
    heldout: HeldoutReport | None
    plot: Path | None


def search_report(
    history: History,
    *,
    heldout: bool = False,
    heldout_stores: Sequence[str] | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    plot: str | Path | None = None,
) -> SearchReport:
    """The report of the search in `history`. With `heldout`, evaluate the
    pick (and CMC, SC@64) on the held-out stores (`heldout_stores` adds them
    if the search had none) on `executor` or `jobs` local processes. `plot`:
    where to draw the progress plot (None: no plot). Raises `SetupError`,
    `ValueError` (no held-out stores, or nothing scored yet)."""
    from ..search import session
    from ..search.heldout import evaluate_heldout
    from ..search.objective import parse_objective
    from ..search.report import heldout_report, plot_progress
    from ..search.view import search_state

    config = session.stored_config(history)
    objective = parse_objective(config.objective)
    state = search_state(history, config, objective)
    final = history.final()
    pick = final[0] if final else (state.best.id if state.best else None)
    rep = None
    if heldout:
        if heldout_stores:
            session.add_heldout_stores(history, heldout_stores)
        if not history.stores("heldout"):
            raise ValueError("no held-out stores: pass --heldout-store STORE...")
        if pick is None:
            raise ValueError("the search has no scored program yet")
        from ..executor import make_executor

        ex = executor or make_executor(jobs)
        try:
            base = evaluate_heldout(history, config, ex, pick)
        finally:
            if executor is None:
                ex.close()
        rep = heldout_report(history, pick, base, objective)
    drawn = plot_progress(state, pick, Path(plot)) if plot is not None else None
    return SearchReport(config, state, pick, rep, drawn)


def search_summary(
    history: History, state: SearchState, pick: int | None, report: SearchReport | None = None
) -> dict[str, Any]:
    """The JSON summary of a search (`--json`): rounds, spend, the pick; with
    a `report`, also the frontier, the pick's lineage, the plot and the
    held-out comparison."""
    from ..search.render import heldout_json, summary_json
    from ..search.report import frontier_rows, lineage

    data = summary_json(history, state, pick)
    if report is None:
        return data
    data["frontier"] = [{"program": label, **vars(p)} for label, p in frontier_rows(state)]
    data["lineage"] = [
        {
            "program": p.label,
            "proposer": p.proposer,
            "round": p.round,
            "score": s,
            "change": p.rationale,
        }
        for p, s in (lineage(history, state, pick) if pick else [])
    ]
    data["plot"] = str(report.plot) if report.plot else None
    if report.heldout is not None:
        data["heldout"] = heldout_json(report.heldout)
    return data


def search_console() -> Console:
    """The console search reports print on (stdout, tables at full width)."""
    from ..search.render import stdout_console

    return stdout_console()


def print_search_pick(
    console: Console, history: History, state: SearchState, pick: int | None
) -> None:
    """The final pick and how it compares, as `tts-dsl search` ends."""
    from ..search.render import print_pick

    print_pick(console, history, state, pick)


def print_search_heldout(console: Console, report: HeldoutReport) -> None:
    """The held-out comparison table."""
    from ..search.render import print_heldout

    print_heldout(console, report)


def print_search_report(console: Console, history: History, report: SearchReport) -> None:
    """Rounds, frontier, the pick's lineage, spend and time (and the held-out
    table when the report has one)."""
    from ..search.render import print_heldout, print_report

    print_report(console, history, report.state, report.pick, report.plot)
    if report.heldout is not None:
        print_heldout(console, report.heldout)
