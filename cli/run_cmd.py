"""`tts-dsl run PROGRAM --beta B`: check a program, then evaluate it at one β."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from typing import TYPE_CHECKING, Any

from .common import (
    add_backend_argument,
    add_executor_arguments,
    add_store_argument,
    cluster_executor,
    compile_or_exit,
    int_at_least,
    load_program_or_exit,
    load_stores_with_specs,
    parse_beta,
    parse_params,
    parse_seeds,
)
from .console import dim, new_table, print_table, stderr_console, stdout_console, write_plain
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..api.evaluation import RunResult
    from ..api.execution import Executor
    from ..api.programs import CheckReport, Program
    from ..api.replay_stores import ReplayStore
    from .console import Console

TRACE_LEVELS = ("off", "actions", "full")  # autotts_dsl.api.TRACE_LEVELS (a test checks)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="evaluate a program at one beta on one or more replay stores",
        description="Check PROGRAM (a .tts file or a stdlib name such as `cmc`) as `tts-dsl "
        "check` does, at this β and these params, and refuse to run it when the check finds "
        "errors (--no-check runs it anyway); then evaluate it under the replay protocol "
        "(100 shuffle seeds × all questions by default) on each store. Exit 0 ok; 1 the "
        "program or the data is wrong; 2 usage or I/O.",
    )
    p.add_argument("program", help="path to a .tts file, or a stdlib controller name")
    p.add_argument("-b", "--beta", default="0.5", help="the budget knob in [0, 1] (default 0.5)")
    add_store_argument(p)
    p.add_argument("--seeds", metavar="N|A:B", help="shuffle seeds (default 100: 0..99)")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="override a param, or pin a knob to a constant (repeatable)",
    )
    p.add_argument(
        "-o",
        "--out",
        "--output-path",
        dest="out",
        metavar="DIR",
        help="also save the results: DIR/run.json (what --json prints, with provenance: "
        "version, command line, program and store hashes, seeds, engine) and DIR/run.csv",
    )
    p.add_argument("--trace", metavar="FILE", help="write per-episode traces as JSONL")
    p.add_argument(
        "--trace-level",
        choices=TRACE_LEVELS,
        default="actions",
        help="actions: actions and guards that fired; full: every guard",
    )
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the SC@64 reference run used for the relative-token column",
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="run even when `check` finds errors in the program (at your own risk)",
    )
    add_backend_argument(p)
    add_executor_arguments(p)
    p.add_argument(
        "-j",
        "--jobs",
        type=int_at_least(1),
        metavar="N",
        help="with --executor ray and no cluster: CPUs of the Ray instance started here "
        "(default: all cores)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(handler=run)


def _check_first(args: argparse.Namespace, program: Program, beta: float, params: Any) -> Any:
    """The checker's verdict on the program at this β and params: refuse on
    errors (exit 1, diagnostics on stderr), mention warnings in one line."""
    from ..api.programs import check

    err = stderr_console()
    started = time.perf_counter()
    report: CheckReport = check(program, beta=beta, params=params)
    seconds = time.perf_counter() - started
    if report.errors:
        write_plain(err, report.render() + "\n")
        n = len(report.errors)
        raise CliError(
            f"{program.path}: check found {n} error{'s' * (n != 1)}; nothing was run "
            "(--no-check runs it anyway)",
            EXIT_INVALID,
        )
    if report.warnings and not args.json:
        n = len(report.warnings)
        err.print(
            dim(
                f"check: ok, {n} warning{'s' * (n != 1)} "
                f"(`tts-dsl check {shlex.quote(args.program)}` shows them)"
            ),
            soft_wrap=True,
        )
    return {
        "ok": True,
        "errors": 0,
        "warnings": len(report.warnings),
        "codes": sorted({d.code for d in report.warnings}),
        "seconds": round(seconds, 4),
    }


def run(args: argparse.Namespace) -> int:
    from ..api.execution import cpu_count

    beta = parse_beta(args.beta)
    seeds = parse_seeds(args.seeds)
    params = parse_params(args.param)
    program = load_program_or_exit(args.program)
    compile_or_exit(program, beta, params)
    skipped = {"ok": None, "skipped": True}
    check = skipped if args.no_check else _check_first(args, program, beta, params)
    if args.trace and args.executor != "local":
        raise CliError("--trace writes traces from this process: drop --executor", EXIT_USAGE)
    stores = load_stores_with_specs(args.store)
    if args.out:  # fail before the work, not after it
        from pathlib import Path

        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(
                f"{args.out}: cannot write results there: {exc.strerror or exc} "
                "(checked before running)",
                EXIT_USAGE,
            ) from None
    with cluster_executor(args, args.jobs or cpu_count()) as executor:
        result = _evaluate(program, stores, beta, params, seeds, args, executor)
    if args.trace:
        from ..io_atomic import atomic_write_lines

        try:
            atomic_write_lines(args.trace, result.traces)
        except OSError as exc:
            raise CliError(f"{args.trace}: cannot write trace: {exc.strerror or exc}", 2) from None
    doc = result.to_json(argv=getattr(args, "argv", None), check=check)
    written = []
    if args.out:
        try:
            written = result.save(args.out, doc)
        except OSError as exc:
            raise CliError(
                f"{args.out}: cannot write results: {exc.strerror or exc}", EXIT_USAGE
            ) from None
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    out = stdout_console()
    _print_table(out, program, beta, result.knobs, result.rows, result.total)
    out.print(dim(f"engine: {', '.join(result.engines)}"), soft_wrap=True)
    if args.trace:
        out.print(dim(f"traces written to {args.trace}"), soft_wrap=True)
    if written:
        out.print(dim("results written to " + ", ".join(str(p) for p in written)), soft_wrap=True)
    return EXIT_OK


def _evaluate(
    program: Program,
    stores: list[tuple[str, ReplayStore]],
    beta: float,
    params: dict[str, str],
    seeds: tuple[int, ...],
    args: argparse.Namespace,
    executor: Executor | None,
) -> RunResult:
    """`api.evaluate` with a progress bar: episodes in this process (and
    traces with --trace), stores on an executor."""
    from ..api.evaluation import EpisodeFault, RunError, evaluate
    from ..api.execution import BackendError
    from .progress import ProgressReporter

    desc = f"{program.name} β={beta:g}"
    if executor is not None:
        desc += f" (ray, {executor.workers} CPUs)"
    with ProgressReporter(stderr_console(), unit="stores" if executor else "episodes") as bar:

        def progress(done: int, total: int, note: str) -> None:
            if done == 0 and not note:
                bar.start(desc, total)
            else:
                bar.update(done, note=note)

        try:
            return evaluate(
                program,
                stores,
                beta=beta,
                params=params,
                seeds=seeds,
                backend=args.backend,
                sc64=not args.no_baseline,
                trace_level=args.trace_level if args.trace else None,
                executor=executor,
                progress=progress,
            )
        except EpisodeFault as fault:
            raise CliError(f"run-time error: {fault}") from None
        except (BackendError, RunError) as exc:
            raise CliError(str(exc)) from None


def _short(name: str, terminal: bool) -> str:
    """Store names as a terminal table shows them (the AutoTTS prefix is implied)."""
    return name.removeprefix("autotts/") if terminal else name


def _print_table(
    console: Console,
    program: Program,
    beta: float,
    knobs: dict[str, Any],
    rows: list[dict[str, Any]],
    t: dict[str, Any],
) -> None:
    term = console.is_terminal
    table = new_table(console, title=f"{program.name} at β = {beta:g}")
    table.add_column("store", overflow="fold")  # numbers keep their width
    for col in ("acc %", "tokens", "seq tok", "vs SC@64", "opened", "depth", "wall s"):
        table.add_column(col, justify="right", no_wrap=True)

    def rel(r: dict[str, Any]) -> str:
        v = r.get("tokens_vs_sc64")
        return f"{v:.2f}×" if v else "-"

    for r in rows:
        table.add_row(
            _short(r["store"], term) + (" *" if r["synthetic"] else ""),
            f"{r['accuracy']:.2f}",
            f"{r['avg_tokens']:,}",
            f"{r['avg_seq_tokens']:,}",
            rel(r),
            f"{r['mean_opened']:.1f}",
            f"{r['mean_depth']:.1f}",
            f"{r['wall_seconds']:.1f}",
        )
    if len(rows) > 1:
        if term:
            table.add_section()
        table.add_row(
            f"mean of {len(rows)}",
            f"{t['accuracy']:.2f}",
            f"{t['avg_tokens']:,}",
            f"{t['avg_seq_tokens']:,}",
            rel(t),
            "",
            "",
            f"{t['wall_seconds']:.1f}",
        )
    print_table(console, table)
    knob_text = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in knobs.items()
    )
    if knob_text:
        console.print(dim(f"knobs: {knob_text}"), soft_wrap=True)
    if any(r["synthetic"] for r in rows):
        console.print(
            dim(
                "* synthetic: the default store is a seeded simulator shipped with tts-dsl; "
                "pass --store for real AutoTTS replay data."
            ),
            soft_wrap=False,
        )
