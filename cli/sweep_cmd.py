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
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    add_backend_argument,
    add_executor_arguments,
    add_store_argument,
    cluster_executor,
    diagnostics_exit_code,
    int_at_least,
    load_program_or_exit,
    parse_seeds,
    print_diagnostics,
)
from .console import (
    Text,
    dim,
    new_table,
    print_error,
    print_table,
    stderr_console,
    stdout_console,
    styled,
    write_plain,
)
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..executor import Executor
    from ..interpreter import ProgramRunner
    from ..sweeps.cache import CellMetrics, ResultCache
    from ..sweeps.grid import Cell, ProgramSpec, StoreSpec
    from ..sweeps.plot import ProgramHeadline, StoreHeadline
    from ..sweeps.runner import SweepStats
    from .console import Console

PROVENANCE_FILE = "provenance.json"
TRACE_LEVELS = ("off", "actions", "full")  # autotts_dsl.trace.TRACE_LEVELS

_jobs = int_at_least(1)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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


def _label(spec: str) -> str:
    """A file's stem, or the stdlib name as given."""
    p = Path(spec)
    return p.stem if p.is_file() else spec.removesuffix(".tts")


def load_programs(specs: Sequence[str]) -> list[tuple[ProgramRunner, ProgramSpec]]:
    """Each program once, with a unique label (`cmc`, a file's stem, or
    `stem#hash` when two different programs share a stem)."""
    from ..sweeps.grid import program_spec

    out: list[tuple[ProgramRunner, ProgramSpec]] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        runner = load_program_or_exit(spec)
        label = _label(spec)
        ps = program_spec(runner, label)
        if (label, ps.program_hash) in seen:
            continue
        if any(s.label == label for _, s in out):
            ps = program_spec(runner, f"{label}#{ps.program_hash[:6]}")
        seen.add((label, ps.program_hash))
        out.append((runner, ps))
    return out


def assign_params(
    programs: Sequence[tuple[ProgramRunner, ProgramSpec]],
    items: Sequence[tuple[str | None, str, str]],
) -> dict[str, dict[str, str]]:
    """label -> overrides, after checking every --param lands somewhere."""
    from ..diagnostics import did_you_mean
    from ..sweeps.grid import declared_names

    labels = [s.label for _, s in programs]
    out: dict[str, dict[str, str]] = {label: {} for label in labels}
    for scope, name, value in items:
        if scope is not None:
            if scope not in out:
                hint = did_you_mean(scope, labels)
                raise CliError(
                    f"--param {scope}:{name}: no program {scope!r} in this sweep"
                    + (f"; {hint}" if hint else f" (programs: {', '.join(labels)})"),
                    EXIT_USAGE,
                )
            out[scope][name] = value  # the compiler reports unknown names (exit 2)
            continue
        targets = [s.label for r, s in programs if name in declared_names(r)]
        if not targets:
            names = sorted(set().union(*(declared_names(r) for r, _ in programs)))
            hint = did_you_mean(name, names)
            raise CliError(
                f"--param {name}: no program of this sweep declares a param or knob "
                f"of that name" + (f"; {hint}" if hint else ""),
                EXIT_USAGE,
            )
        for label in targets:
            out[label][name] = value
    return out


def _check_first(
    programs: Sequence[tuple[ProgramRunner, ProgramSpec]], overrides: dict[str, dict[str, str]]
) -> None:
    """As `run` does: refuse programs that `check` rejects (with its params),
    before any cell runs; one line for the warnings."""
    from ..diagnostics import DiagnosticError
    from ..runs import check_before_run

    err = stderr_console()
    failed: list[str] = []
    warned: list[str] = []
    for runner, spec in programs:
        try:
            runner.compile(0.5, overrides[spec.label])
        except DiagnosticError:
            continue  # reported by build_cells, with its exit code
        report = check_before_run(runner, 0.5, overrides[spec.label])
        if report.errors:
            write_plain(err, report.render() + "\n")
            failed.append(runner.path)
        elif report.warnings:
            warned.append(f"{spec.label}: {len(report.warnings)}")
    if failed:
        raise CliError(
            f"check found errors in {', '.join(failed)}; nothing was run "
            "(--no-check sweeps anyway)",
            EXIT_INVALID,
        )
    if warned:
        err.print(
            dim(f"check: ok, with warnings ({'; '.join(warned)}; `tts-dsl check` shows them)"),
            soft_wrap=True,
        )


def load_store_specs(specs: Sequence[str] | None) -> list[StoreSpec]:
    """Like `common.load_stores`, keeping the spec each worker resolves."""
    from ..replay import registry
    from ..replay.store import StoreError
    from ..sweeps.grid import store_spec

    try:
        expanded = registry.expand_store_specs(list(specs)) if specs else ["default"]
        out = []
        for s in expanded:
            out.append(store_spec(registry.resolve_store(s), s))
        return list({st.content_hash + st.name: st for st in out}.values())
    except StoreError as exc:
        missing = exc.reason.startswith(("no such", "cannot read", "unknown store", "not down"))
        unavailable = isinstance(exc, registry.StoreUnavailable)
        raise CliError(str(exc), EXIT_USAGE if missing or unavailable else EXIT_INVALID) from None


def build_cells(
    programs: Sequence[tuple[ProgramRunner, ProgramSpec]],
    overrides: dict[str, dict[str, str]],
    betas: Sequence[float],
    stores: Sequence[StoreSpec],
    seeds: Sequence[int],
    baselines: bool,
) -> list[Cell]:
    from ..diagnostics import DiagnosticError
    from ..programs import load_program
    from ..sweeps.grid import dedupe_cells, program_cells, reference_and_baseline_cells

    cells: list[Cell] = []
    for runner, spec in programs:
        try:
            cells += program_cells(runner, spec, betas, overrides[spec.label], stores, seeds)
        except DiagnosticError as exc:
            print_diagnostics(exc)
            raise CliError(
                f"{runner.path}: {len(exc.diagnostics)} error(s); nothing was run",
                diagnostics_exit_code(exc.diagnostics),
            ) from None
    cells += reference_and_baseline_cells(
        betas, stores, seeds, baselines=baselines, load=load_program
    )
    return dedupe_cells(cells)


# ---------------------------------------------------------------------------
# Running


def _cell_text(cell: Cell) -> str:
    from ..sweeps.grid import params_text

    params = params_text(cell.params)
    what = f"{cell.program.label} β={cell.beta:g}" + (f" {params}" if params else "")
    return f"{what} · {cell.store.name}"


def _run_with_progress(
    cells: Sequence[Cell],
    cache: ResultCache,
    jobs: int | None,
    fresh: bool,
    err: Console,
    executor: Executor | None = None,
) -> tuple[dict[str, CellMetrics], SweepStats]:
    from ..sweeps.runner import Outcome, run_sweep
    from .progress import ProgressReporter

    with ProgressReporter(err, unit="cells", transient=False) as bar:

        def on_start(to_compute: int, cached: int) -> None:
            if to_compute == 0:
                return
            if executor is not None:
                desc = f"sweep (ray, {executor.workers} CPUs"
            else:
                n_jobs = min(jobs or _cores(), to_compute)
                desc = f"sweep ({n_jobs} job{'s' if n_jobs > 1 else ''}"
            desc += f", {cached} cached)" if cached else ")"
            bar.start(desc, to_compute)

        def on_result(cell: Cell, outcome: Outcome, done: int, total: int) -> None:
            mark = "" if outcome.metrics is not None else "failed: "
            bar.update(done, note=mark + _cell_text(cell))

        return run_sweep(
            cells,
            cache,
            jobs=jobs,
            fresh=fresh,
            on_start=on_start,
            on_result=on_result,
            executor=executor,
        )


def run(args: argparse.Namespace) -> int:
    from ..engines import BACKEND_ENV
    from ..sweeps.figures import FigureFormatError, parse_formats
    from ..sweeps.grid import GridError, parse_betas

    try:
        betas = parse_betas(args.betas)
        formats = parse_formats(args.format)
    except (GridError, FigureFormatError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    seeds = parse_seeds(args.seeds)
    items = _parse_param_items(args.param)
    programs = load_programs(args.programs)
    overrides = assign_params(programs, items)
    if not args.no_check:
        _check_first(programs, overrides)
    stores = load_store_specs(args.store)
    cells = build_cells(programs, overrides, betas, stores, seeds, args.baselines)
    # Workers inherit the environment. Results do not depend on the engine, so
    # cached cells stay valid whichever engine computed them.
    requested = args.backend or os.environ.get(BACKEND_ENV)
    backend = requested or "auto"
    before = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = backend
    try:
        return _run_cells(args, betas, seeds, cells, programs, formats, requested or "auto")
    finally:
        if before is None:
            del os.environ[BACKEND_ENV]
        else:
            os.environ[BACKEND_ENV] = before


def _provenance(
    args: argparse.Namespace,
    programs: Sequence[tuple[ProgramRunner, ProgramSpec]],
    cells: Sequence[Cell],
    seeds: Sequence[int],
    betas: Sequence[float],
    backend: str,
    metrics: dict[str, CellMetrics],
    stats: SweepStats,
) -> dict[str, Any]:
    from ..provenance import ProgramRef, StoreRef, provenance

    stores = list({c.store.content_hash + c.store.name: c.store for c in cells}.values())
    doc = provenance(
        getattr(args, "argv", None),
        programs=[ProgramRef(s.label, r.path, s.program_hash) for r, s in programs],
        stores=[StoreRef(s.name, s.content_hash, s.synthetic) for s in stores],
        seeds=seeds,
        backend=backend,
        engines=[m.backend for m in metrics.values() if m.backend],
    )
    doc["betas"] = list(betas)
    doc["cells"] = {"total": stats.total, "computed": stats.computed, "cached": stats.cached}
    return doc


def _run_cells(
    args: argparse.Namespace,
    betas: Sequence[float],
    seeds: tuple[int, ...],
    cells: list[Cell],
    programs: Sequence[tuple[ProgramRunner, ProgramSpec]],
    formats: Sequence[str],
    backend: str,
) -> int:
    from ..io_atomic import atomic_write_text
    from ..sweeps.cache import CACHE_FILE, CacheError, ResultCache
    from ..sweeps.headline import SUMMARY_COLUMNS, headline, summary_table
    from ..sweeps.results import (
        RESULTS_FILE,
        SUMMARY_FILE,
        tidy_rows,
        write_csv,
        write_matrix,
        write_tidy_csv,
    )

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out {out_dir}: exists and is not a directory", EXIT_USAGE)
    err = stderr_console()
    with cluster_executor(args, args.jobs or _cores()) as executor:
        try:
            cache = ResultCache(out_dir / CACHE_FILE)
        except CacheError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        with cache:
            metrics, stats = _run_with_progress(cells, cache, args.jobs, args.fresh, err, executor)
    if stats.interrupted:
        err.print(
            f"interrupted: {stats.cached + stats.computed} of {stats.total} cells done and "
            f"cached in {out_dir / CACHE_FILE}; run the same command again to resume "
            "(no results file was written)",
            soft_wrap=True,
        )
        return 130
    rows = tidy_rows(cells, metrics)
    per_store, per_program = headline(rows)
    prov = _provenance(args, programs, cells, seeds, betas, backend, metrics, stats)
    files: list[Path] = []
    try:
        files.append(write_tidy_csv(out_dir / RESULTS_FILE, rows))
        files.append(
            write_csv(
                out_dir / SUMMARY_FILE,
                SUMMARY_COLUMNS,
                summary_table(per_store, per_program, rows),
            )
        )
        files += write_matrix(out_dir, cells, metrics)
        if not args.no_plot and rows:
            files += _plots(
                rows,
                out_dir,
                baselines=args.baselines,
                formats=formats,
                jobs=args.jobs or _cores(),
            )
        atomic_write_text(out_dir / PROVENANCE_FILE, json.dumps(prov, indent=2) + "\n")
        files.append(out_dir / PROVENANCE_FILE)
    except OSError as exc:
        raise CliError(
            f"{out_dir}: cannot write results: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    for key, text in stats.errors.items():
        cell = next(c for c in cells if c.key == key)
        print_error(err, f"{_cell_text(cell)}: {text}")
    if args.traces and not stats.failed:
        swept = [c for c in cells if c.role == "sweep"]  # not the SC@64 reference or baselines
        traced = _write_traces(out_dir, swept, args.trace_level, err)
        if traced is None:
            return 130
        files += traced
    if args.json:
        print(json.dumps(_json(stats, files, per_store, per_program, prov), indent=2))
    else:
        console = summary_console()
        print_headline(console, per_store, per_program, betas=betas, n_seeds=len(seeds))
        _print_footer(console, stats, files, out_dir)
    if args.trajectory and rows and not stats.failed:
        from .plot_cmd import draw_trajectory

        outs = [out_dir / f"trajectory.{fmt}" for fmt in formats]
        draw_trajectory(rows, list(args.programs), max(betas), outs)
    if stats.failed:
        print_error(
            err,
            f"{stats.failed} of {stats.total} cells failed "
            "(not cached; the files above hold the others)",
        )
        return EXIT_INVALID
    return EXIT_OK


def _write_traces(
    out_dir: Path, cells: Sequence[Cell], level: Any, err: Console
) -> list[Path] | None:
    """Trace files for every cell; None when interrupted (finished files stay)."""
    from ..runtime import EpisodeFault
    from ..sweeps.traces import TRACES_DIR, write_cell_traces
    from .progress import ProgressReporter

    done = 0
    with ProgressReporter(err, unit="cells") as bar:
        bar.start("traces", len(cells))

        def advance(cell: Cell, written: bool) -> None:
            nonlocal done
            done += 1
            bar.update(done, note=_cell_text(cell))

        try:
            paths = write_cell_traces(out_dir, cells, level, on_cell=advance)
        except KeyboardInterrupt:
            bar.stop()
            err.print(
                f"interrupted: {done} of {len(cells)} trace files are complete under "
                f"{out_dir / TRACES_DIR}; run the same command again to write the rest",
                soft_wrap=True,
            )
            return None
        except EpisodeFault as fault:
            raise CliError(f"run-time error while tracing: {fault}") from None
        except OSError as exc:
            raise CliError(f"{out_dir}: cannot write traces: {exc.strerror or exc}") from None
    return sorted({p.parent.parent.parent for p in paths})


def _plots(
    rows: list[dict[str, Any]], out_dir: Path, *, baselines: bool, formats: Sequence[str], jobs: int
) -> list[Path]:
    try:
        from ..sweeps.plot import draw_sweep_figures
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise CliError(f"plotting needs matplotlib ({exc}); use --no-plot", EXIT_USAGE) from None
    return draw_sweep_figures(rows, out_dir, baselines=baselines, formats=formats, jobs=jobs)


# ---------------------------------------------------------------------------
# Reporting


def _tok(x: float | None) -> str:
    """Compact token counts, 3 significant figures: 958, 52.1k, 227k, 1.07M
    (exact values are in the CSVs)."""
    if x is None:
        return "-"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= scale * 0.9995:
            v = x / scale
            return f"{v:.3g}{suffix}" if v < 1000 else f"{v:.0f}{suffix}"
    return f"{x:.0f}"


def _pair(acc: float | None, tokens: float | None) -> str:
    return "-" if acc is None else f"{acc:.2f} · {_tok(tokens)}"


def _saving(h: StoreHeadline) -> Text:
    if h.sc64_accuracy is None:
        return Text("-")
    if h.savings is None:
        return styled("not reached", "yellow")
    return Text(f"{100 * h.savings:.1f} %")


def _short_store(name: str) -> str:
    return name.removeprefix("autotts/")


def summary_console() -> Console:
    """stdout: a terminal gets a table for its width, a pipe plain rows."""
    return stdout_console()


def print_headline(
    console: Console,
    per_store: Sequence[StoreHeadline],
    per_program: Sequence[ProgramHeadline],
    *,
    betas: Sequence[float] | None = None,
    n_seeds: int | None = None,
) -> None:
    """The summary: per program × store, then per-program means. On a
    terminal, one section per program (fits 80 columns); in a pipe, one
    plain row per program and store, with full store names."""
    if not per_store:
        console.print(dim("no swept program results to summarise"))
        return
    title = "sweep summary"
    if betas is not None:
        title += f": {len(betas)} β"
    if n_seeds is not None:
        title += f" × {n_seeds} seeds"
    term = console.is_terminal
    table = new_table(console, title=title)
    if not term:
        table.add_column("program")
    table.add_column("store", overflow="fold")
    heads = ["peak acc\n(β)", "β=0.5\nacc · tok", "SC@64\nacc · tok"]
    if not term:  # a terminal keeps to 80 columns: `saved` already says it
        heads.append("tok at\nSC@64 acc")
    heads.append("saved")
    for head in heads:
        table.add_column(head if term else head.replace("\n", " "), justify="right", no_wrap=True)
    for prog in per_program:
        rows = [h for h in per_store if h.program == prog.program]
        if term:
            table.add_row(styled(prog.program, "bold"), *[""] * len(heads))
        for h in rows:
            store = (_short_store(h.store) if term else h.store) + (" *" if h.synthetic else "")
            cells: list[str | Text] = [
                ("  " + store) if term else store,
                f"{h.peak_accuracy:.2f} ({h.peak_beta:g})",
                _pair(h.accuracy_at_half, h.tokens_at_half),
                _pair(h.sc64_accuracy, h.sc64_tokens),
                *([] if term else [_tok(h.matched_tokens)]),
                _saving(h),
            ]
            table.add_row(*([] if term else [h.program]), *cells)
        if len(rows) > 1:
            saved = "-" if prog.mean_savings is None else f"{100 * prog.mean_savings:.1f} %"
            reach = f"{prog.n_reached}/{prog.n_with_reference}"
            cells = [
                styled("  mean" if term else "mean", "bold"),
                styled(f"{prog.mean_peak_accuracy:.2f}", "bold"),
                _pair(prog.mean_accuracy_at_half, prog.mean_tokens_at_half),
                _pair(prog.mean_sc64_accuracy, None).replace(" · -", ""),
                *([] if term else [f"reached {reach}"]),
                styled(f"{saved} ({reach})" if term else saved, "bold"),
            ]
            table.add_row(*([] if term else [prog.program]), *cells)
        if term:
            table.add_section()
    print_table(console, table)
    console.print(
        dim(
            "acc: accuracy %; tok: average tokens per question; saved: 1 - tokens the "
            "program's Pareto frontier needs to reach SC@64's accuracy (log-interpolated) "
            "/ SC@64's tokens; means over the stores where it is reached (how many, in "
            "brackets). Exact figures: summary.csv, results.csv."
        )
    )
    if any(h.synthetic for h in per_store):
        console.print(dim("* a synthetic store (illustrative numbers)"))


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
