"""`tts-dsl sweep PROGRAM... --betas 0:1:0.1 --store ... --out DIR`.

Evaluates every program at every β on every store (plus SC@64 on each store,
and with `--baselines` the stdlib baselines), on all cores, caching each
finished cell in DIR/cache.sqlite: re-running is instant, an interrupted
sweep resumes. Writes DIR/results.csv (tidy), DIR/summary.csv (the headline),
DIR/matrix_results_<MODEL>/<DATASET>_raw.csv (AutoTTS's layout),
DIR/provenance.json, and the figures: accuracy_tokens, accuracy_seq_tokens
(one panel per store) and accuracy_tokens_mean (one panel, a paper column)
in each --format.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    add_backend_argument,
    add_executor_arguments,
    add_store_argument,
    diagnostics_exit_code,
    int_at_least,
    load_program_or_exit,
    parse_seeds,
    print_diagnostics,
)
from .console import (
    Text,
    dim,
    print_error,
    stderr_console,
    write_plain,
)
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError
from .headline_view import print_headline, summary_console

if TYPE_CHECKING:
    from ..api.execution import Executor
    from ..api.figures import ProgramHeadline, StoreHeadline
    from ..api.sweeping import Cell, SweepPlan, SweepResult, SweepStats
    from .console import Console
TRACE_LEVELS = ("off", "actions", "full")  # autotts_dsl.trace.TRACE_LEVELS

_jobs = int_at_least(1)


def _cores() -> int:
    from ..api.execution import cpu_count

    return cpu_count()


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="evaluate programs over a β grid × stores: CSVs, AutoTTS matrix files, plots",
        description="Evaluate each PROGRAM at every β of the grid on every store, in parallel, "
        "with every finished cell cached in OUT/cache.sqlite (re-running is instant; an "
        "interrupted sweep resumes). Writes OUT/results.csv, OUT/summary.csv, "
        "OUT/matrix_results_<MODEL>/<DATASET>_raw.csv, OUT/provenance.json and the "
        "accuracy-token figures (per store, and one compact panel of the means).",
    )
    p.add_argument(
        "programs", nargs="+", metavar="PROGRAM", help=".tts files or stdlib controller names"
    )
    p.add_argument(
        "-b",
        "--betas",
        default="0:1:0.1",
        metavar="GRID",
        help="START:STOP:STEP (inclusive) or a comma list (default 0:1:0.1)",
    )
    add_store_argument(p)
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="[PROGRAM:]NAME=VALUE",
        help="set a param or pin a knob in every program that declares NAME, or only in "
        "PROGRAM (repeatable)",
    )
    p.add_argument("--seeds", metavar="N|A:B", help="shuffle seeds (default 100: 0..99)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        metavar="N",
        help=f"worker processes (default: all cores, here {_cores()})",
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also run SC over the β grid and ASC / ESC / Parallel-Probe at their "
        "published configurations, and overlay them on the plots",
    )
    p.add_argument("--no-plot", action="store_true", help="write the CSVs only")
    p.add_argument(
        "--format",
        default="png",
        metavar="FMT[,FMT]",
        help="figure formats, comma-separated: png, pdf, svg (default png)",
    )
    p.add_argument(
        "--trajectory",
        action="store_true",
        help="also draw trajectory.<FMT>: the swept programs in order as t1, t2, ... at the "
        "largest β, search stores (aime24) vs held-out (aime25 + hmmt25)",
    )
    p.add_argument(
        "--fresh", action="store_true", help="recompute every cell, replacing cached results"
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="sweep even programs that `check` finds errors in (as `run --no-check`)",
    )
    p.add_argument(
        "--traces",
        action="store_true",
        help="also write OUT/traces/<program>/<store>/beta_<B>.jsonl per cell (the reference "
        "interpreter replays each cell with tracing; existing files are kept)",
    )
    p.add_argument(
        "--trace-level",
        choices=TRACE_LEVELS,
        default="actions",
        help="with --traces: actions (actions and guards that fired) or full (every guard)",
    )
    add_backend_argument(p)
    add_executor_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    p.set_defaults(handler=run)


# ---------------------------------------------------------------------------
# Setting up


def _parse_param_items(items: Sequence[str] | None) -> list[tuple[str | None, str, str]]:
    out: list[tuple[str | None, str, str]] = []
    for item in items or ():
        key, sep, value = item.partition("=")
        scope, colon, name = key.partition(":")
        if not colon:
            scope, name = "", key
        if not sep or not name.strip() or (colon and not scope.strip()):
            raise CliError(f"--param {item!r}: expected [PROGRAM:]NAME=VALUE", EXIT_USAGE)
        out.append((scope.strip() or None, name.strip(), value.strip()))
    return out


def _plan(args: argparse.Namespace, betas: Sequence[float], seeds: tuple[int, ...]) -> SweepPlan:
    """`api.plan_sweep`, its failures as the CLI reports them: diagnostics on
    stderr, one line, the exit code of the kind of failure."""
    from ..api.programs import ProgramError
    from ..api.replay_stores import StoreError, StoreUnavailable
    from ..api.sweeping import CheckFailed, ParamError, plan_sweep

    items = _parse_param_items(args.param)
    programs = [load_program_or_exit(spec) for spec in args.programs]
    try:
        plan = plan_sweep(
            programs,
            args.store or None,
            betas=betas,
            params=items,
            seeds=seeds,
            baselines=args.baselines,
            check_first=not args.no_check,
        )
    except ParamError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except CheckFailed as exc:
        err = stderr_console()
        for report in exc.reports:
            write_plain(err, report.render() + "\n")
        raise CliError(f"{exc} (--no-check sweeps anyway)", EXIT_INVALID) from None
    except ProgramError as exc:
        print_diagnostics(exc)
        raise CliError(
            f"{exc.path}: {len(exc.diagnostics)} error(s); nothing was run",
            diagnostics_exit_code(exc.diagnostics),
        ) from None
    except StoreError as exc:
        missing = exc.reason.startswith(("no such", "cannot read", "unknown store", "not down"))
        unavailable = isinstance(exc, StoreUnavailable)
        raise CliError(str(exc), EXIT_USAGE if missing or unavailable else EXIT_INVALID) from None
    if plan.warnings:
        warned = "; ".join(f"{label}: {n}" for label, n in plan.warnings.items())
        stderr_console().print(
            dim(f"check: ok, with warnings ({warned}; `tts-dsl check` shows them)"),
            soft_wrap=True,
        )
    return plan


# ---------------------------------------------------------------------------
# Running


def _run_with_progress(
    args: argparse.Namespace,
    plan: SweepPlan,
    out_dir: Path,
    err: Console,
    early: Executor | None = None,
) -> SweepResult:
    from ..api.execution import ExecutorError, cpu_count
    from ..api.sweeping import CACHE_FILE, CacheError, CellOutcome, cell_text, run_sweep_plan
    from .progress import ProgressReporter

    jobs = args.jobs
    with ProgressReporter(err, unit="cells", transient=False) as bar:

        def on_start(to_compute: int, cached: int, executor: Executor | None) -> None:
            if to_compute == 0:
                return
            if executor is not None and executor is not early:
                desc = f"sweep (ray, {executor.workers} CPUs"
            else:
                n_jobs = min(jobs or cpu_count(), to_compute)
                desc = f"sweep ({n_jobs} job{'s' if n_jobs > 1 else ''}"
            desc += f", {cached} cached)" if cached else ")"
            bar.start(desc, to_compute)

        def on_result(cell: Cell, outcome: CellOutcome, done: int, total: int) -> None:
            mark = "" if outcome.metrics is not None else "failed: "
            bar.update(done, note=mark + cell_text(cell))

        try:
            return run_sweep_plan(
                plan,
                out_dir / CACHE_FILE,
                jobs=jobs,
                fresh=args.fresh,
                executor=early or getattr(args, "executor", "local"),
                address=getattr(args, "ray_address", None),
                backend=args.backend,
                on_start=on_start,
                on_result=on_result,
            )
        except (CacheError, ExecutorError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    from ..api.evaluation import GridError, parse_betas
    from ..api.figures import FigureFormatError, parse_formats

    try:
        betas = parse_betas(args.betas)
        formats = parse_formats(args.format)
    except (GridError, FigureFormatError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    seeds = parse_seeds(args.seeds)
    early = _early_workers(args)
    try:
        plan = _plan(args, betas, seeds)
        return _run_cells(args, plan, formats, early)
    finally:
        if early is not None:
            early.close()


def _early_workers(args: argparse.Namespace) -> Executor | None:
    """A fresh local sweep starts its worker processes before loading the
    stores and checking the programs, so the two overlap (~0.7 s a worker).
    Not when resuming (the cells may all be cached), nor when --backend must
    reach the workers through their environment first."""
    from ..api.execution import open_executor
    from ..api.sweeping import CACHE_FILE

    jobs = args.jobs or _cores()
    if getattr(args, "executor", "local") != "local" or args.backend is not None or jobs < 2:
        return None
    if (Path(args.out) / CACHE_FILE).exists() and not args.fresh:
        return None
    return open_executor("local", jobs, start=True)


def _run_cells(
    args: argparse.Namespace, plan: SweepPlan, formats: Sequence[str], early: Executor | None
) -> int:
    from ..api.sweeping import CACHE_FILE, cell_text, write_sweep_files

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out {out_dir}: exists and is not a directory", EXIT_USAGE)
    err = stderr_console()
    result = _run_with_progress(args, plan, out_dir, err, early)
    stats = result.stats
    if stats.interrupted:
        err.print(
            f"interrupted: {stats.cached + stats.computed} of {stats.total} cells done and "
            f"cached in {out_dir / CACHE_FILE}; run the same command again to resume "
            "(no results file was written)",
            soft_wrap=True,
        )
        return 130
    rows = result.rows
    per_store, per_program = result.headline()
    try:
        written = write_sweep_files(
            result,
            out_dir,
            plots=not args.no_plot,
            formats=formats,
            argv=getattr(args, "argv", None),
            jobs=args.jobs or _cores(),
        )
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise CliError(f"plotting needs matplotlib ({exc}); use --no-plot", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(
            f"{out_dir}: cannot write results: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    files = written.files
    for cell, text in result.errors():
        print_error(err, f"{cell_text(cell)}: {text}")
    if args.traces and not stats.failed:
        traced = _write_traces(out_dir, result, args.trace_level, err)
        if traced is None:
            return 130
        files += traced
    if args.json:
        print(json.dumps(_json(stats, files, per_store, per_program, written.provenance), indent=2))
    else:
        console = summary_console()
        print_headline(console, per_store, per_program, betas=plan.betas, n_seeds=len(plan.seeds))
        _print_footer(console, stats, files, out_dir)
    if args.trajectory and rows and not stats.failed:
        from .plot_cmd import draw_trajectory

        outs = [out_dir / f"trajectory.{fmt}" for fmt in formats]
        draw_trajectory(rows, list(args.programs), max(plan.betas), outs)
    if stats.failed:
        print_error(
            err,
            f"{stats.failed} of {stats.total} cells failed "
            "(not cached; the files above hold the others)",
        )
        return EXIT_INVALID
    return EXIT_OK


def _write_traces(
    out_dir: Path, result: SweepResult, level: str, err: Console
) -> list[Path] | None:
    """Trace files for every swept cell; None when interrupted (finished files stay)."""
    from ..api.evaluation import EpisodeFault
    from ..api.sweeping import TRACES_DIR, cell_text, write_sweep_traces
    from .progress import ProgressReporter

    total = sum(1 for c in result.plan.cells if c.role == "sweep")
    done = 0
    with ProgressReporter(err, unit="cells") as bar:
        bar.start("traces", total)

        def advance(cell: Cell, written: bool) -> None:
            nonlocal done
            done += 1
            bar.update(done, note=cell_text(cell))

        try:
            return write_sweep_traces(out_dir, result, level, on_cell=advance)
        except KeyboardInterrupt:
            bar.stop()
            err.print(
                f"interrupted: {done} of {total} trace files are complete under "
                f"{out_dir / TRACES_DIR}; run the same command again to write the rest",
                soft_wrap=True,
            )
            return None
        except EpisodeFault as fault:
            raise CliError(f"run-time error while tracing: {fault}") from None
        except OSError as exc:
            raise CliError(f"{out_dir}: cannot write traces: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------
# Reporting


def _print_footer(console: Console, stats: SweepStats, files: Sequence[Path], out: Path) -> None:
    console.print(
        Text.assemble(
            f"{stats.total} cells: {stats.computed} computed, {stats.cached} cached",
            (f", {stats.failed} failed", "red") if stats.failed else "",
            f" in {stats.wall_seconds:.1f} s",
        )
    )
    shown = [str(f.relative_to(out)) if f.is_relative_to(out) else str(f) for f in files]
    matrices = [s for s in shown if s.startswith("matrix_results_")]
    others = [s for s in shown if not s.startswith("matrix_results_")]
    console.print(f"written to {out}/: " + ", ".join(others))
    if matrices:
        console.print(f"  + {len(matrices)} AutoTTS matrix file(s) matrix_results_*/*_raw.csv")


def _json(
    stats: SweepStats,
    files: Sequence[Path],
    per_store: Sequence[StoreHeadline],
    per_program: Sequence[ProgramHeadline],
    prov: dict[str, Any],
) -> dict[str, Any]:
    return {
        "cells": stats.total,
        "computed": stats.computed,
        "cached": stats.cached,
        "failed": stats.failed,
        "wall_seconds": round(stats.wall_seconds, 3),
        "files": [str(f) for f in files],
        "summary": [
            {
                "program": h.program,
                "store": h.store,
                "peak_accuracy": h.peak_accuracy,
                "peak_beta": h.peak_beta,
                "accuracy_at_beta_0.5": h.accuracy_at_half,
                "tokens_at_beta_0.5": h.tokens_at_half,
                "sc64_accuracy": h.sc64_accuracy,
                "sc64_tokens": h.sc64_tokens,
                "sc64_accuracy_reached": h.reached if h.sc64_accuracy is not None else None,
                "tokens_at_sc64_accuracy": h.matched_tokens,
                "tokens_saved_vs_sc64": h.savings,
            }
            for h in per_store
        ],
        "means": [
            {
                "program": p.program,
                "stores": p.n_stores,
                "reached": p.n_reached,
                "mean_peak_accuracy": p.mean_peak_accuracy,
                "mean_tokens_saved_vs_sc64": p.mean_savings,
            }
            for p in per_program
        ],
        "generated": prov["created"],
        "provenance": prov,
    }
