"""`tts-dsl run PROGRAM --beta B`: check a program, then evaluate it at one β."""

from __future__ import annotations

import argparse
import json
import os
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
    from ..checker import CheckReport
    from ..interpreter import ProgramRunner
    from .console import Console

TRACE_LEVELS = ("off", "actions", "full")  # autotts_dsl.trace.TRACE_LEVELS (a test checks)


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


def _check_first(args: argparse.Namespace, runner: ProgramRunner, beta: float, params: Any) -> Any:
    """The checker's verdict on the program at this β and params: refuse on
    errors (exit 1, diagnostics on stderr), mention warnings in one line."""
    from ..runs import check_before_run

    err = stderr_console()
    started = time.perf_counter()
    report: CheckReport = check_before_run(runner, beta, params)
    seconds = time.perf_counter() - started
    if report.errors:
        write_plain(err, report.render() + "\n")
        n = len(report.errors)
        raise CliError(
            f"{runner.path}: check found {n} error{'s' * (n != 1)}; nothing was run "
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
    from ..provenance import ProgramRef, StoreRef, provenance
    from ..runs import total_row, write_run_files

    beta = parse_beta(args.beta)
    seeds = parse_seeds(args.seeds)
    params = parse_params(args.param)
    runner: ProgramRunner = load_program_or_exit(args.program)
    compile_or_exit(runner, beta, params)
    check = (
        {"ok": None, "skipped": True} if args.no_check else _check_first(args, runner, beta, params)
    )
    if args.trace and args.executor != "local":
        raise CliError("--trace writes traces from this process: drop --executor", EXIT_USAGE)
    specs_stores = load_stores_with_specs(args.store)
    stores = [store for _, store in specs_stores]
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
    records: list[str] = []
    with cluster_executor(args, args.jobs or _cores()) as executor:
        if executor is not None:
            rows = _rows_on(executor, runner, specs_stores, beta, params, seeds, args)
        else:
            rows = _rows_here(runner, stores, beta, params, seeds, args, records)
    if args.trace:
        from ..io_atomic import atomic_write_lines

        try:
            atomic_write_lines(args.trace, records)
        except OSError as exc:
            raise CliError(f"{args.trace}: cannot write trace: {exc.strerror or exc}", 2) from None
    knobs = runner.compile(beta, params).constants
    from ..ast import program_hash

    engines = sorted({str(r["engine"]) for r in rows})
    doc: dict[str, Any] = {
        "program": runner.path,
        "controller": runner.program.name,
        "beta": beta,
        "params": {k: knobs[k] for k in params},  # typed, as the program read them
        "knobs": knobs,
        "engine": engines,
        "check": check,
        "results": rows,
        "total": total_row(rows),
        "provenance": provenance(
            getattr(args, "argv", None),
            programs=[ProgramRef(runner.program.name, runner.path, program_hash(runner.program))],
            stores=[StoreRef(s.name, s.content_hash, s.synthetic) for s in stores],
            seeds=seeds,
            backend=args.backend or os.environ.get("TTS_DSL_BACKEND") or "auto",
            engines=[r["engine"] for r in rows],
        ),
    }
    written = []
    if args.out:
        try:
            written = write_run_files(args.out, doc)
        except OSError as exc:
            raise CliError(
                f"{args.out}: cannot write results: {exc.strerror or exc}", EXIT_USAGE
            ) from None
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK
    out = stdout_console()
    _print_table(out, runner, beta, knobs, rows)
    out.print(dim(f"engine: {', '.join(engines)}"), soft_wrap=True)
    if args.trace:
        out.print(dim(f"traces written to {args.trace}"), soft_wrap=True)
    if written:
        out.print(dim("results written to " + ", ".join(str(p) for p in written)), soft_wrap=True)
    return EXIT_OK


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _rows_here(
    runner: ProgramRunner,
    stores: list[Any],
    beta: float,
    params: dict[str, str],
    seeds: tuple[int, ...],
    args: argparse.Namespace,
    records: list[str],
) -> list[dict[str, Any]]:
    """Store after store in this process, with progress per episode (and
    traces into `records` with --trace)."""
    from ..engines import BackendError
    from ..runs import evaluate_store, result_row, sc64_tokens
    from ..runtime import EpisodeFault
    from .progress import ProgressReporter

    rows: list[dict[str, Any]] = []
    episodes = len(seeds) * sum(len(s) for s in stores)
    backend = args.backend
    with ProgressReporter(stderr_console(), unit="episodes") as bar:
        bar.start(f"{runner.program.name} β={beta:g}", episodes)
        base = 0
        for i, store in enumerate(stores):
            where = f"{store.name} ({i + 1}/{len(stores)})" if len(stores) > 1 else store.name
            traces: list[list[dict[str, Any]]] | None = [] if args.trace else None
            started = time.perf_counter()

            def advance(done: int, base: int = base, where: str = where) -> None:
                bar.update(base + done, note=where)

            try:
                ev = evaluate_store(
                    runner,
                    store,
                    beta,
                    params,
                    seeds,
                    backend=backend,
                    traces=traces,
                    progress=advance,
                )
                wall = time.perf_counter() - started
                sc64 = None
                if not args.no_baseline:
                    bar.update(base + len(seeds) * len(store), note=f"SC@64 on {store.name}")
                    sc64 = sc64_tokens(store, seeds, backend)
            except EpisodeFault as fault:
                raise CliError(f"run-time error: {fault}") from None
            except BackendError as exc:
                raise CliError(str(exc)) from None
            base += len(seeds) * len(store)
            rows.append(result_row(store, ev, sc64, wall))
            if traces is not None:
                from ..trace import evaluation_records

                records.extend(evaluation_records(store, ev, traces, args.trace_level))
    return rows


def _rows_on(
    executor: Any,
    runner: ProgramRunner,
    stores: list[tuple[str, Any]],
    beta: float,
    params: dict[str, str],
    seeds: tuple[int, ...],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """One task per store on the executor; the rows in store order."""
    from ..run_stores import run_on_stores
    from .progress import ProgressReporter

    got: dict[int, dict[str, Any]] = {}
    with ProgressReporter(stderr_console(), unit="stores") as bar:
        bar.start(f"{runner.program.name} β={beta:g} (ray, {executor.workers} CPUs)", len(stores))
        for index, row in run_on_stores(
            executor,
            runner,
            stores,
            beta,
            params,
            seeds,
            backend=args.backend,
            baseline=not args.no_baseline,
        ):
            if isinstance(row, str):
                raise CliError(row)
            got[index] = row
            bar.update(len(got), note=str(row["store"]))
    return [got[i] for i in range(len(stores))]


def _short(name: str, terminal: bool) -> str:
    """Store names as a terminal table shows them (the AutoTTS prefix is implied)."""
    return name.removeprefix("autotts/") if terminal else name


def _print_table(
    console: Console,
    runner: ProgramRunner,
    beta: float,
    knobs: dict[str, Any],
    rows: list[dict[str, Any]],
) -> None:
    from ..runs import total_row

    term = console.is_terminal
    table = new_table(console, title=f"{runner.program.name} at β = {beta:g}")
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
        t = total_row(rows)
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
