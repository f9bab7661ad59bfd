"""`tts-dsl search`: discover controllers — a proposer (offline mutations or
an LLM) writes programs or edits, the checker gates them, the replay
evaluates the survivors on the search stores; held-out stores see only the
final pick. `tts-dsl search report DIR` shows what a search did."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from ..grammar_export import export_grammar
from ..io_atomic import atomic_write_text
from ..programs import ProgramNotFound
from ..replay import registry
from ..replay.store import StoreError
from ..search.config import DEFAULT_BETAS, DEFAULT_N_SEEDS, DEFAULT_SEEDS, PROPOSERS, SearchConfig
from ..search.evaluate import expand_specs, load_store, store_row
from ..search.heldout import baseline_ids, evaluate_heldout
from ..search.history import HISTORY_FILE, History, HistoryError, StoreRow
from ..search.llm import BackendSetupError, LLMProposer, make_backend
from ..search.loop import RoundSummary, Search, SeedError
from ..search.objective import ObjectiveError, parse_objective
from ..search.pricing import PriceError, PriceTable, parse_price
from ..search.report import (
    PLOT_FILE,
    HeldoutReport,
    frontier_rows,
    heldout_report,
    lineage,
    plot_progress,
    rounds_table,
    totals,
)
from ..search.sources import read_seed
from ..search.verify import verify
from ..search.view import search_state
from ..sweep.grid import GridError, parse_betas
from .check_cmd import stdout_console
from .common import int_at_least, parse_seeds, stderr_console
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

PICK_FILE = "final_pick.tts"


_positive = int_at_least(1)


_count = int_at_least(0)


def _money(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not x >= 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return x


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "search",
        # Options after `report` belong to it: no abbreviations, so `report
        # --heldout` is not taken for a prefix of `--heldout-store`.
        allow_abbrev=False,
        help="discover controllers: propose, check, evaluate, select (offline or with an LLM)",
        description="Search for better controllers. Round 0 evaluates the --seed programs; "
        "each round then asks the proposer for --candidates new programs (offline: typed "
        "mutations; openai/anthropic/command: an LLM writing programs or SEARCH/REPLACE "
        "edits), rejects anything that does not parse or check (LLM proposals get the "
        "diagnostics back, up to --repairs times), evaluates the rest over the β grid on the "
        "--search-store stores and keeps a Pareto archive. Everything is recorded in "
        "OUT/history.sqlite; --resume continues after an interruption. Held-out stores are "
        "evaluated for the final pick only. `tts-dsl search report DIR` shows the results.",
    )
    p.add_argument(
        "--seed",
        dest="seed_programs",
        action="extend",
        nargs="+",
        metavar="PROGRAM",
        help=f"seed programs: stdlib names or .tts files (default: {' '.join(DEFAULT_SEEDS)})",
    )
    p.add_argument(
        "--search-store",
        action="extend",
        nargs="+",
        metavar="STORE",
        help="stores the search optimises on: files, directories, registry names "
        "(default: the embedded synthetic store)",
    )
    p.add_argument(
        "--heldout-store",
        action="extend",
        nargs="+",
        metavar="STORE",
        help="stores for the final pick only; never seen by the proposer",
    )
    p.add_argument("--betas", metavar="GRID", help=f"β grid (default {DEFAULT_BETAS})")
    p.add_argument("--rounds", type=_count, metavar="N", help="rounds after the seeds (default 5)")
    p.add_argument(
        "--candidates", type=_positive, metavar="K", help="proposals per round (default 4)"
    )
    p.add_argument(
        "--repairs",
        type=_count,
        metavar="R",
        help="tries to fix a rejected LLM proposal with the diagnostics (default 2)",
    )
    p.add_argument("--proposer", choices=PROPOSERS, help="who proposes (default offline)")
    p.add_argument("--model", help="model name for openai/anthropic (and the price table)")
    p.add_argument(
        "--base-url",
        help="API base URL (openai default https://api.openai.com/v1; vLLM, llama.cpp, "
        "Ollama: e.g. http://127.0.0.1:8000/v1)",
    )
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key "
        "(default OPENAI_API_KEY / ANTHROPIC_API_KEY)",
    )
    p.add_argument("--command", help="--proposer command: a command reading the prompt on stdin")
    p.add_argument("--budget-usd", type=_money, metavar="X", help="hard cap on estimated spend")
    p.add_argument(
        "--price",
        action="append",
        metavar="MODEL=IN,OUT",
        help="$ per 1M input and output tokens for a model (repeatable)",
    )
    p.add_argument(
        "--seeds",
        metavar="N|A:B",
        help=f"shuffle seeds per evaluation (default {DEFAULT_N_SEEDS}: 0..{DEFAULT_N_SEEDS - 1}; "
        "the replay protocol uses 100)",
    )
    p.add_argument(
        "--heldout-seeds",
        metavar="N|A:B",
        help="shuffle seeds on held-out stores (default: --seeds)",
    )
    p.add_argument(
        "--objective",
        metavar="NAME",
        help="auc (default: area under accuracy vs log-tokens from SC@1 to SC@64 cost), "
        "auc:A-B (from A to B full traces), max-acc, or budget:N",
    )
    p.add_argument("--out", metavar="DIR", help="output directory (history, caches, plot)")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="evaluate the seeds in a scratch directory, print the first prompt, call nothing",
    )
    p.add_argument("--random-seed", type=int, metavar="N", help="offline proposer seed (default 0)")
    p.add_argument("--jobs", type=_positive, metavar="N", help="evaluation processes (default 1)")
    p.add_argument("--max-prompt-chars", type=_positive, metavar="N", help="default 24000")
    p.add_argument("--max-tokens", type=_positive, metavar="N", help="reply limit (default 4000)")
    p.add_argument("--temperature", type=float, metavar="T", help="default 0.8")
    p.add_argument("--timeout", type=float, metavar="S", help="per call (default 120)")
    p.add_argument("--retries", type=_count, metavar="N", help="on 429/5xx/timeouts (default 3)")
    p.add_argument("--backoff", type=float, metavar="S", help="first retry wait (default 2)")
    p.add_argument(
        "--grammar",
        action="store_true",
        help="send the grammar with each request for constrained decoding (default: the "
        "llguidance export, for vLLM's guidance backend; see docs/grammar.md)",
    )
    p.add_argument(
        "--grammar-field",
        metavar="NAME",
        help="request field carrying the grammar, dotted for nesting "
        "(default structured_outputs.grammar, vLLM; llama.cpp: grammar)",
    )
    p.add_argument(
        "--grammar-file",
        metavar="FILE",
        help="send this grammar instead of the llguidance export (e.g. a GBNF for llama.cpp)",
    )
    p.add_argument("--json", action="store_true", help="a JSON summary on stdout at the end")
    p.set_defaults(handler=run)

    sub2 = p.add_subparsers(dest="search_command", metavar="report", parser_class=type(p))
    r = sub2.add_parser(
        "report",
        help="rounds, frontier, lineage, plot, $ and time of a search",
        description="Show a search's rounds table, best-so-far frontier, the final pick's "
        "lineage, total $ and wall time, and write DIR/search_progress.png. With --heldout, "
        "evaluate the final pick (and CMC, SC@64) on the held-out stores.",
    )
    r.add_argument("dir", metavar="DIR", help="the --out directory of a search")
    r.add_argument("--heldout", action="store_true", help="report the final pick on held-out")
    r.add_argument(
        "--heldout-store",
        action="extend",
        nargs="+",
        metavar="STORE",
        help="held-out stores, if the search was run without any",
    )
    r.add_argument("--jobs", type=_positive, metavar="N", help="evaluation processes (default 1)")
    r.add_argument("--no-plot", action="store_true", help="do not write the plot")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(handler=run_report)


# ---------------------------------------------------------------------------
# Configuration


def _config(args: argparse.Namespace) -> SearchConfig:
    base = SearchConfig()
    try:
        betas = parse_betas(args.betas) if args.betas else base.betas
        objective = args.objective or base.objective
        parse_objective(objective)
        prices = dict(parse_price(i) for i in args.price or ())
    except (GridError, ObjectiveError, PriceError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    seeds = parse_seeds(args.seeds) if args.seeds else base.seeds
    heldout_seeds = parse_seeds(args.heldout_seeds) if args.heldout_seeds else seeds
    given = {
        "rounds": args.rounds,
        "candidates": args.candidates,
        "repairs": args.repairs,
        "proposer": args.proposer,
        "model": args.model,
        "base_url": args.base_url,
        "api_key_env": args.api_key_env,
        "command": args.command,
        "budget_usd": args.budget_usd,
        "random_seed": args.random_seed,
        "max_prompt_chars": args.max_prompt_chars,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "timeout": args.timeout,
        "retries": args.retries,
        "backoff": args.backoff,
        "grammar_field": args.grammar_field,
        "grammar_file": str(Path(args.grammar_file).resolve()) if args.grammar_file else None,
    }
    kept = {k: v for k, v in given.items() if v is not None}
    return SearchConfig(
        seed_programs=tuple(args.seed_programs or base.seed_programs),
        search_stores=tuple(args.search_store or base.search_stores),
        heldout_stores=tuple(args.heldout_store or ()),
        betas=betas,
        seeds=seeds,
        heldout_seeds=heldout_seeds,
        objective=objective,
        grammar=bool(args.grammar),
        prices=prices,
        **kept,
    )


def _store_rows(role: str, specs: Sequence[str]) -> list[StoreRow]:
    try:
        expanded = expand_specs(specs)
        return [store_row(role, s, load_store(s)) for s in expanded]
    except registry.StoreUnavailable as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except StoreError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None


def _check_seeds(specs: Sequence[str]) -> None:
    for spec in specs:
        try:
            source, shown = read_seed(spec)
        except ProgramNotFound as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{spec}: cannot read: {exc}", EXIT_USAGE) from None
        verdict = verify(source, shown)
        if not verdict.ok:
            stderr_console().out(verdict.diagnostics + "\n")
            raise CliError(f"seed {spec} does not check; nothing was run")


def _disjoint(search: Sequence[StoreRow], heldout: Sequence[StoreRow]) -> None:
    same = {s.content_hash for s in search} & {h.content_hash for h in heldout}
    if same:
        names = ", ".join(h.name for h in heldout if h.content_hash in same)
        raise CliError(f"held-out store(s) {names} are also search stores", EXIT_USAGE)


def _init_history(history: History, config: SearchConfig) -> None:
    search = _store_rows("search", config.search_stores)
    heldout = _store_rows("heldout", config.heldout_stores)
    _disjoint(search, heldout)
    with history.tx():
        history.set_meta("config", config.to_json())
        for row in [*search, *heldout]:
            history.add_store(row)


def _resumed_config(history: History, args: argparse.Namespace) -> SearchConfig:
    stored = history.get_meta("config")
    if stored is None:
        raise CliError(f"{history.path}: holds no search configuration", EXIT_USAGE)
    config = SearchConfig.from_json(stored)
    changes: dict[str, Any] = {}
    if args.rounds is not None:
        changes["rounds"] = args.rounds
    if args.budget_usd is not None:
        changes["budget_usd"] = args.budget_usd
    if changes:
        config = SearchConfig.from_json(json.dumps({**json.loads(config.to_json()), **changes}))
        history.set_meta("config", config.to_json())
    return config


def _llm(config: SearchConfig, history: History, console: Console) -> LLMProposer | None:
    if not config.uses_llm:
        return None
    grammar = None
    if config.grammar:
        if config.grammar_file:
            source = Path(config.grammar_file)
            try:
                grammar = source.read_text(encoding="utf-8")
            except OSError as exc:
                raise CliError(f"{source}: cannot read the grammar: {exc}", EXIT_USAGE) from None
        else:
            grammar = export_grammar("llguidance")
    try:
        backend = make_backend(config, grammar)
    except BackendSetupError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    prices = PriceTable.with_overrides(config.prices)
    return LLMProposer(
        backend, history, config, prices, on_event=lambda m: console.print(f"[yellow]{m}[/]")
    )


# ---------------------------------------------------------------------------
# Progress


class _Reporter:
    """Round summary lines on stdout; a transient cell progress bar on stderr."""

    def __init__(self, out: Console, err: Console, quiet: bool) -> None:
        self.out, self.err, self.quiet = out, err, quiet
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""

    def note(self, text: str) -> None:
        self._stop()
        self.err.print(f"[dim]{text}[/]")

    def phase(self, round_no: int, text: str) -> None:
        self._stop()
        self._label = f"round {round_no}: {text}"

    def progress(self, done: int, total: int) -> None:
        if not self.err.is_terminal:
            return  # a bar in a log file is noise
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.err,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label or "evaluating", total=total)
        if self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar, self._task = None, None

    def round_done(self, summary: RoundSummary) -> None:
        self._stop()
        if not self.quiet:
            self.out.print(summary.line(), markup=False, highlight=False)

    def close(self) -> None:
        self._stop()


# ---------------------------------------------------------------------------
# tts-dsl search


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(args)
    if not args.out:
        raise CliError("--out DIR is required (or --dry-run)", EXIT_USAGE)
    out = Path(args.out)
    path = out / HISTORY_FILE
    if args.resume and not path.is_file():
        raise CliError(f"{out}: no search to resume (no {HISTORY_FILE})", EXIT_USAGE)
    if not args.resume and path.exists():
        raise CliError(f"{out}: holds a search already; pass --resume or another --out", EXIT_USAGE)
    if args.resume:
        history = _open(path)
        config = _resumed_config(history, args)
    else:
        config = _config(args)
        _check_seeds(config.seed_programs)
        _probe_stores(config)
        history = _open(path, create=True)
        _init_history(history, config)
    with history:
        return _search(out, history, config, args)


def _probe_stores(config: SearchConfig) -> None:
    """Fail on bad stores before anything is written."""
    _disjoint(
        _store_rows("search", config.search_stores), _store_rows("heldout", config.heldout_stores)
    )


def _open(path: Path, create: bool = False) -> History:
    try:
        return History(path, create=create)
    except HistoryError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _search(out: Path, history: History, config: SearchConfig, args: argparse.Namespace) -> int:
    console = stdout_console()
    err = stderr_console()
    reporter = _Reporter(console, err, quiet=bool(args.json))
    llm = _llm(config, history, err)
    search = Search(out, history, config, reporter=reporter, jobs=args.jobs or 1, llm=llm)
    try:
        pick = search.run()
    except SeedError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        reporter.close()
        err.print(f"interrupted; continue with: tts-dsl search --out {out} --resume")
        return 130
    finally:
        reporter.close()
    state = search.state()
    if pick is not None:
        atomic_write_text(out / PICK_FILE, history.program(pick).source)
    if args.json:
        print(json.dumps(_summary_json(history, state, pick), indent=2))
        return EXIT_OK
    _print_pick(console, history, state, pick)
    if pick is not None and history.stores("heldout"):
        rep = heldout_report(history, pick, baseline_ids(history), search.objective)
        if rep is not None:
            _print_heldout(console, rep)
    console.print(
        f"[dim]final pick: {out / PICK_FILE}; history: {out / HISTORY_FILE}; "
        f"report: tts-dsl search report {out}[/]"
    )
    return EXIT_OK


def _dry_run(args: argparse.Namespace) -> int:
    """Print the prompt of the next round; call no LLM, write nothing to --out."""
    out = Path(args.out) if args.out else None
    if args.resume:
        if out is None or not (out / HISTORY_FILE).is_file():
            raise CliError("--dry-run --resume needs --out DIR holding a search", EXIT_USAGE)
        with _open(out / HISTORY_FILE) as history:
            config = SearchConfig.from_json(history.get_meta("config") or "{}")
            prompt = Search(out, history, config).first_prompt()
    else:
        config = _config(args)
        _check_seeds(config.seed_programs)
        with tempfile.TemporaryDirectory(prefix="tts-dsl-search-dry-") as tmp:
            scratch = Path(tmp)
            with History(scratch / HISTORY_FILE, create=True) as history:
                _init_history(history, config)
                err = stderr_console()
                search = Search(
                    scratch,
                    history,
                    config,
                    reporter=_Reporter(err, err, False),
                    jobs=args.jobs or 1,
                )
                try:
                    search.evaluate_seeds()
                except SeedError as exc:
                    raise CliError(str(exc)) from None
                prompt = search.first_prompt()
    if not config.uses_llm:
        stderr_console().print(
            "[dim]offline proposer: no LLM sees this prompt; shown for inspection[/]"
        )
    print(prompt, end="")
    return EXIT_OK


# ---------------------------------------------------------------------------
# Output


def _summary_json(history: History, state: Any, pick: int | None) -> dict[str, Any]:
    t = totals(history)
    best = next((s for s in state.scored if s.id == pick), None)
    return {
        "final_pick": None
        if best is None
        else {
            "id": best.id,
            "label": best.program.label,
            "objective": best.objective,
            "source": best.program.source,
            "curve": [vars(p) for p in best.curve],
        },
        "rounds": rounds_table(history),
        "programs": t.programs,
        "rejected": t.rejected,
        "calls": t.calls,
        "usd": t.usd,
        "wall_seconds": t.search_seconds,
    }


def _print_pick(console: Console, history: History, state: Any, pick: int | None) -> None:
    if pick is None:
        console.print("no program has complete results")
        return
    best = next(s for s in state.scored if s.id == pick)
    console.print(
        f"final pick: {best.program.label} ({best.program.name}), score {best.objective:.2f} "
        f"on the search stores"
    )
    chain = lineage(history, state, pick)
    console.print(
        "lineage: "
        + " ← ".join(
            f"{p.label}" + (f" ({score:.2f})" if score is not None else "") for p, score in chain
        ),
        markup=False,
    )


def _k(x: float) -> str:
    return f"{x:,.0f}"


def _print_heldout(console: Console, rep: HeldoutReport) -> None:
    table = Table(
        title=f"held-out ({', '.join(rep.stores)}): final pick {rep.pick_label} vs CMC "
        "(mean over stores)",
        title_justify="left",
    )
    for col in (
        "β",
        f"{rep.pick_label} acc %",
        f"{rep.pick_label} tokens",
        "CMC acc %",
        "CMC tokens",
    ):
        table.add_column(col, justify="right")
    for row in rep.rows:
        pick = row.pick
        cmc = row.cmc
        table.add_row(
            f"{row.beta:g}",
            f"{pick.accuracy:.2f}" if pick else "-",
            _k(pick.tokens) if pick else "-",
            f"{cmc.accuracy:.2f}" if cmc else "-",
            _k(cmc.tokens) if cmc else "-",
        )
    console.print(table)
    if rep.sc64 is not None:
        console.print(f"SC@64: {rep.sc64.accuracy:.2f} % at {_k(rep.sc64.tokens)} tokens")
    console.print(
        f"held-out {rep.auc_name}: {rep.pick_label} {rep.pick_auc:.2f}, CMC {rep.cmc_auc:.2f}"
    )
    if rep.target_accuracy is not None and rep.target_tokens is not None:
        goal = (
            f"target: accuracy >= {rep.target_accuracy:.2f} % (CMC β=1) at <= "
            f"{_k(rep.target_tokens)} tokens (CMC β=0.5): "
        )
        if rep.meets is not None:
            goal += (
                f"MET by {rep.pick_label} at β={rep.meets.beta:g} "
                f"({rep.meets.accuracy:.2f} %, {_k(rep.meets.tokens)} tokens)"
            )
        else:
            goal += "not met"
        console.print(goal)


# ---------------------------------------------------------------------------
# tts-dsl search report


def run_report(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    with _open(out / HISTORY_FILE) as history:
        config = SearchConfig.from_json(history.get_meta("config") or "{}")
        objective = parse_objective(config.objective)
        state = search_state(history, objective, len(config.betas))
        final = history.final()
        pick = final[0] if final else (state.best.id if state.best else None)
        rep: HeldoutReport | None = None
        if args.heldout:
            if args.heldout_store:
                rows = _store_rows("heldout", args.heldout_store)
                _disjoint(history.stores("search"), rows)
                for row in rows:
                    history.add_store(row)
            if not history.stores("heldout"):
                raise CliError("no held-out stores: pass --heldout-store STORE...", EXIT_USAGE)
            if pick is None:
                raise CliError("the search has no scored program yet")
            base = evaluate_heldout(history, config, out, pick, jobs=args.jobs or 1)
            rep = heldout_report(history, pick, base, objective)
        plot = None if args.no_plot else plot_progress(state, pick, out / PLOT_FILE)
        if args.json:
            data = _summary_json(history, state, pick)
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
            data["plot"] = str(plot) if plot else None
            if rep is not None:
                data["heldout"] = _heldout_json(rep)
            print(json.dumps(data, indent=2, default=str))
            return EXIT_OK
        _print_report(history, state, pick, plot)
        if rep is not None:
            _print_heldout(stdout_console(), rep)
    return EXIT_OK


def _heldout_json(rep: HeldoutReport) -> dict[str, Any]:
    return {
        "stores": list(rep.stores),
        "rows": [
            {
                "beta": r.beta,
                "pick": vars(r.pick) if r.pick else None,
                "cmc": vars(r.cmc) if r.cmc else None,
            }
            for r in rep.rows
        ],
        "sc64": vars(rep.sc64) if rep.sc64 else None,
        "target_accuracy": rep.target_accuracy,
        "target_tokens": rep.target_tokens,
        "met": None if rep.meets is None else vars(rep.meets),
        "auc": rep.auc_name,
        "pick_auc": rep.pick_auc,
        "cmc_auc": rep.cmc_auc,
    }


def _print_report(history: History, state: Any, pick: int | None, plot: Path | None) -> None:
    console = stdout_console()
    table = Table(title="rounds", title_justify="left")
    for col in (
        "round",
        "status",
        "accepted",
        "rejected",
        "dup",
        "cells",
        "best new",
        "best",
        "$",
        "wall s",
    ):
        table.add_column(col, justify="right")
    for r in rounds_table(history):
        best_new = (
            f"{r.get('best_new', '')} {r['best_new_score']:.2f}"
            if r.get("best_new_score") is not None
            else ""
        )
        best = (
            f"{r.get('best', '')} {r['best_score']:.2f}" if r.get("best_score") is not None else ""
        )
        table.add_row(
            str(r["round"]),
            r["status"],
            f"{r.get('accepted', 0)}/{r.get('slots', 0)}",
            str(r.get("rejected", 0)),
            str(r.get("duplicates", 0)),
            str(r.get("cells", 0)),
            best_new,
            best,
            f"{r.get('usd', 0.0):.4f}",
            f"{r['wall_seconds']:.1f}",
        )
    console.print(table)
    front = Table(title="best-so-far frontier (mean over search stores)", title_justify="left")
    for col in ("program", "β", "acc %", "tokens", "seq tokens"):
        front.add_column(col, justify="right")
    for label, pt in frontier_rows(state):
        front.add_row(label, f"{pt.beta:g}", f"{pt.accuracy:.2f}", _k(pt.tokens), _k(pt.seq_tokens))
    console.print(front)
    if pick is not None:
        lin = Table(title=f"lineage of the final pick p{pick}", title_justify="left")
        for col in ("program", "round", "proposer", "score", "change"):
            lin.add_column(col)
        for p, score in lineage(history, state, pick):
            lin.add_row(
                p.label,
                str(p.round),
                p.proposer,
                f"{score:.2f}" if score is not None else "-",
                p.rationale[:120],
            )
        console.print(lin)
    t = totals(history)
    console.print(
        f"programs {t.programs}, rejected proposals {t.rejected}; LLM calls {t.calls}"
        + (f" (+{t.lost_calls} lost)" if t.lost_calls else "")
        + f", tokens in/out {t.input_tokens:,}/{t.output_tokens:,}, total ${t.usd:.4f}; "
        f"wall time {t.search_seconds:.1f} s search"
        + (f" + {t.heldout_seconds:.1f} s held-out" if t.heldout_seconds else "")
    )
    if plot is not None:
        console.print(f"[dim]plot: {plot}[/]")
