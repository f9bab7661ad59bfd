"""`tts-dsl search`: discover controllers — a proposer (offline mutations or
an LLM) writes programs or edits, the checker and the search's caps gate
them, the replay screens and then evaluates the survivors on the search
stores; held-out stores see only the final pick. `tts-dsl search report
DIR` shows what a search did. The logic lives in `autotts_dsl.search`
(`session` sets a search up, `loop` runs it, `render` shows it); this
module only wires arguments to it."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..api import search as api
from ..api.search import (
    HISTORY_FILE,
    PICK_FILE,
    PLOT_FILE,
    PROPOSERS,
    BackendDown,
    History,
    SearchConfig,
    SearchReporter,
    SeedError,
    SetupError,
)
from ..api.search import SEARCH_BETAS as DEFAULT_BETAS
from ..api.search import SEARCH_N_SEEDS as DEFAULT_N_SEEDS
from ..api.search import SEARCH_SEEDS as DEFAULT_SEEDS
from .common import (
    add_backend_argument,
    add_executor_arguments,
    cluster_executor,
    int_at_least,
    parse_seeds,
    stderr_console,
)
from .console import dim, rich_console, styled
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

EXIT_BACKEND = 3
"""The LLM backend failed; the round stays open for --resume."""

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


def _seconds(text: str) -> float:
    x = _money(text)
    if x <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return x


def _share(text: str) -> float:
    x = _money(text)
    if x > 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
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
        help=f"shuffle seeds of every reported number (default {DEFAULT_N_SEEDS}, the "
        "protocol's); the screen uses the first --screen-seeds of them",
    )
    p.add_argument(
        "--heldout-seeds",
        metavar="N|A:B",
        help="shuffle seeds on held-out stores (default: --seeds)",
    )
    p.add_argument(
        "--objective",
        metavar="NAME",
        help="ref:NAME (default ref:cmc: accuracy gained over NAME at NAME's token levels), "
        "ref-tokens:NAME, auc, auc:A-B, max-acc, or budget:N (see docs/search.md)",
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
    p.add_argument(
        "--screen-seeds",
        type=_count,
        metavar="N",
        help="seeds of the cheap screen (default 10; 0: every candidate gets all seeds)",
    )
    p.add_argument(
        "--promote",
        type=_share,
        metavar="F",
        help="share of screened candidates evaluated on all seeds (default 0.5)",
    )
    p.add_argument("--bootstrap", type=_positive, metavar="N", help="bootstrap replicates (500)")
    p.add_argument(
        "--cell-timeout",
        type=_seconds,
        metavar="S",
        help="wall-clock budget of a 100-seed cell, scaled by its seeds (default 60)",
    )
    p.add_argument(
        "--smoke-timeout",
        type=_seconds,
        metavar="S",
        help="LLM proposals: budget of the one-cell smoke run (default 10)",
    )
    p.add_argument("--cap-rounds", type=_positive, metavar="N", help="hard cap (default 1000)")
    p.add_argument("--cap-branches", type=_positive, metavar="N", help="hard cap (default 128)")
    p.add_argument("--cap-fuel", type=_positive, metavar="N", help="hard cap (default 1e6)")
    p.add_argument("--cap-window", type=_positive, metavar="N", help="hard cap (default 256)")
    p.add_argument(
        "--max-minutes",
        type=_seconds,
        metavar="M",
        help="stop starting rounds after this much search wall time",
    )
    p.add_argument(
        "--tune-share",
        type=_share,
        metavar="F",
        help="offline: share of each round's slots for the CMA-ES schedule tuner (0.25)",
    )
    p.add_argument(
        "--workspace",
        action="store_true",
        help="--proposer command: run the command in a workspace per proposal (parent, "
        "programs, stdlib, docs and ./evaluate on the search stores only)",
    )
    add_backend_argument(p)
    add_executor_arguments(p)
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
    add_executor_arguments(r)
    r.add_argument("--no-plot", action="store_true", help="do not write the plot")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(handler=run_report)


def _setup(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a setup step; its errors become CLI errors with exit codes."""
    try:
        return call(*args, **kwargs)
    except SetupError as exc:
        if exc.details:
            stderr_console().out(exc.details + "\n")
        raise CliError(str(exc), EXIT_INVALID if exc.kind == "invalid" else EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    opts = vars(args)
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
    history = None
    if args.resume:
        history = _setup(api.open_search, out)
        config = _setup(api.resume_search, history, opts)
    else:
        config = _setup(api.configure_search, opts, parse_seeds=parse_seeds)
    # The cluster first: a search that cannot reach it leaves no history behind.
    with cluster_executor(args, args.jobs or 1, initializer=api.search_worker_setup) as executor:
        if history is None:
            history = _setup(api.start_search, out, config)
        with history:
            return _search(out, history, config, args, executor)


def _search(
    out: Path, history: History, config: SearchConfig, args: argparse.Namespace, executor: Any
) -> int:
    console = api.search_console()
    err = stderr_console()
    reporter = SearchReporter(console, rich_console(err), quiet=bool(args.json))
    try:
        result = _setup(
            api.run_search,
            out,
            history,
            config,
            reporter=reporter,
            jobs=args.jobs or 1,
            backend=args.backend,
            executor=executor,
            warn=lambda m: err.print(styled(m, "yellow")),
        )
    except SeedError as exc:
        raise CliError(str(exc)) from None
    except BackendDown as exc:
        reporter.close()
        err.print(str(exc), markup=False)
        return EXIT_BACKEND
    except KeyboardInterrupt:
        reporter.close()
        err.print(f"interrupted; continue with: tts-dsl search --out {out} --resume")
        return 130
    finally:
        reporter.close()
    state, pick = result.state, result.pick
    if args.json:
        print(json.dumps(api.search_summary(history, state, pick), indent=2))
        return EXIT_OK
    api.print_search_pick(console, history, state, pick)
    rep = api.search_heldout(history, result)
    if rep is not None:
        api.print_search_heldout(console, rep)
    console.print(
        dim(
            f"final pick: {out / PICK_FILE}; history: {out / HISTORY_FILE}; "
            f"report: tts-dsl search report {out}"
        )
    )
    return EXIT_OK


def _dry_run(args: argparse.Namespace) -> int:
    """Print the prompt of the next round; call no LLM, write nothing to --out."""
    out = Path(args.out) if args.out else None
    if args.resume and (out is None or not (out / HISTORY_FILE).is_file()):
        raise CliError("--dry-run --resume needs --out DIR holding a search", EXIT_USAGE)
    err = stderr_console()
    try:
        prompt, config = _setup(
            api.search_prompt,
            vars(args),
            out=out if args.resume else None,
            jobs=args.jobs or 1,
            backend=args.backend,
            reporter=SearchReporter(rich_console(err), rich_console(err), False),
            parse_seeds=parse_seeds,
        )
    except SeedError as exc:
        raise CliError(str(exc)) from None
    if not config.uses_llm:
        stderr_console().print(
            dim("offline proposer: no LLM sees this prompt; shown for inspection")
        )
    print(prompt, end="")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    with _setup(api.open_search, out) as history:
        with cluster_executor(args, args.jobs or 1) if args.heldout else _no_cluster() as cluster:
            try:
                report = _setup(
                    api.search_report,
                    history,
                    heldout=args.heldout,
                    heldout_stores=args.heldout_store,
                    executor=cluster,
                    jobs=args.jobs or 1,
                    plot=None if args.no_plot else out / PLOT_FILE,
                )
            except ValueError as exc:
                code = EXIT_USAGE if "held-out stores" in str(exc) else EXIT_INVALID
                raise CliError(str(exc), code) from None
        if args.json:
            data = api.search_summary(history, report.state, report.pick, report)
            print(json.dumps(data, indent=2, default=str))
            return EXIT_OK
        api.print_search_report(api.search_console(), history, report)
    return EXIT_OK


@contextlib.contextmanager
def _no_cluster() -> Iterator[None]:
    yield None
