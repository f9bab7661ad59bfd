"""`tts-dsl run PROGRAM --beta B`: evaluate one program at one β."""

from __future__ import annotations

import argparse
import functools
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from ..engines import BackendError
from ..interpreter import ProgramRunner
from ..io_atomic import atomic_write_lines
from ..programs import load_program
from ..replay.protocol import Evaluation
from ..replay.store import ReplayStore
from ..runtime import EpisodeFault
from ..trace import TRACE_LEVELS, TraceLevel, evaluation_records
from .common import (
    add_backend_argument,
    compile_or_exit,
    load_program_or_exit,
    load_stores,
    parse_beta,
    parse_params,
    parse_seeds,
)
from .errors import EXIT_OK, CliError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="evaluate a program at one beta on one or more replay stores",
        description="Evaluate PROGRAM (a .tts file or a stdlib name such as `cmc`) at one β "
        "under the replay protocol (100 shuffle seeds × all questions by default).",
    )
    p.add_argument("program", help="path to a .tts file, or a stdlib controller name")
    p.add_argument("--beta", default="0.5", help="the budget knob in [0, 1] (default 0.5)")
    p.add_argument(
        "--store",
        action="append",
        metavar="STORE",
        help="store file, directory of stores, or registry name (repeatable); "
        "default: the embedded synthetic store",
    )
    p.add_argument("--seeds", metavar="N|A:B", help="shuffle seeds (default 100: 0..99)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="override a param, or pin a knob to a constant (repeatable)",
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
    add_backend_argument(p)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(handler=run)


@functools.cache
def _sc_program() -> ProgramRunner:
    return load_program("sc")  # parsed once, not once per store


def _sc64_tokens(store: ReplayStore, seeds: tuple[int, ...], cache: dict[str, int]) -> int:
    if store.content_hash not in cache:
        ev = _sc_program().evaluate(store, 1.0, {"samples": 64}, seeds)
        cache[store.content_hash] = ev.avg_tokens
    return cache[store.content_hash]


def _row(store: ReplayStore, ev: Evaluation, sc64: int | None, wall: float) -> dict[str, Any]:
    return {
        "store": store.name,
        "synthetic": store.synthetic,
        "questions": ev.n_questions,
        "seeds": len(ev.seeds),
        "accuracy": ev.accuracy,
        "avg_tokens": ev.avg_tokens,
        "avg_seq_tokens": ev.avg_seq_tokens,
        "sc64_tokens": sc64,
        "tokens_vs_sc64": round(ev.avg_tokens / sc64, 4) if sc64 else None,
        "mean_opened": round(ev.mean_opened, 3),
        "mean_depth": round(ev.mean_depth, 3),
        "wall_seconds": round(wall, 3),
    }


def run(args: argparse.Namespace) -> int:
    beta = parse_beta(args.beta)
    seeds = parse_seeds(args.seeds)
    params = parse_params(args.param)
    runner: ProgramRunner = load_program_or_exit(args.program)
    compile_or_exit(runner, beta, params)
    stores = load_stores(args.store)
    level: TraceLevel = args.trace_level
    rows: list[dict[str, Any]] = []
    records: list[str] = []
    sc_cache: dict[str, int] = {}
    engines: set[str] = set()
    backend = args.backend
    for store in stores:
        traces: list[list[dict[str, Any]]] | None = [] if args.trace else None
        started = time.perf_counter()
        try:
            ev = runner.evaluate(store, beta, params, seeds, traces=traces, backend=backend)
        except EpisodeFault as fault:
            raise CliError(f"run-time error: {fault}") from None
        except BackendError as exc:
            raise CliError(str(exc)) from None
        wall = time.perf_counter() - started
        sc64 = None if args.no_baseline else _sc64_tokens(store, seeds, sc_cache)
        rows.append(_row(store, ev, sc64, wall))
        if traces is not None:
            records.extend(evaluation_records(store, ev, traces, level))
        engines.add(ev.backend if not ev.reruns else f"{ev.backend} ({ev.reruns} replayed)")
    if args.trace:
        try:
            atomic_write_lines(args.trace, records)
        except OSError as exc:
            raise CliError(f"{args.trace}: cannot write trace: {exc.strerror or exc}", 2) from None
    knobs = runner.compile(beta, params).constants
    if args.json:
        print(
            json.dumps(
                {
                    "program": runner.path,
                    "beta": beta,
                    "params": {k: knobs[k] for k in params},  # typed, as the program read them
                    "knobs": knobs,
                    "engine": sorted(engines),
                    "results": rows,
                    "total": _total(rows),
                },
                indent=2,
            )
        )
        return EXIT_OK
    _print_table(runner, beta, knobs, rows, args.trace)
    Console(highlight=False).print(f"[dim]engine: {', '.join(sorted(engines))}[/]")
    return EXIT_OK


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    tot: dict[str, Any] = {
        "stores": n,
        "accuracy": round(sum(r["accuracy"] for r in rows) / n, 2),
        "avg_tokens": int(sum(r["avg_tokens"] for r in rows) / n),
        "avg_seq_tokens": int(sum(r["avg_seq_tokens"] for r in rows) / n),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 3),
    }
    if all(r["sc64_tokens"] for r in rows):
        sc = sum(r["sc64_tokens"] for r in rows)
        tot["tokens_vs_sc64"] = round(sum(r["avg_tokens"] for r in rows) / sc, 4)
    return tot


def _print_table(
    runner: ProgramRunner,
    beta: float,
    knobs: dict[str, Any],
    rows: list[dict[str, Any]],
    trace: str | None,
) -> None:
    console = Console(highlight=False)
    title = f"{runner.program.name} at β = {beta:g}"
    table = Table(title=title, title_justify="left")
    table.add_column("store", overflow="fold", ratio=1)  # numbers keep their width
    for col in ("acc %", "tokens", "seq tok", "vs SC@64", "branches", "depth", "wall s"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))

    def rel(r: dict[str, Any]) -> str:
        v = r.get("tokens_vs_sc64")
        return f"{v:.2f}×" if v else "-"

    for r in rows:
        name = r["store"] + (" [dim](synthetic)[/]" if r["synthetic"] else "")
        table.add_row(
            name,
            f"{r['accuracy']:.2f}",
            f"{r['avg_tokens']:,}",
            f"{r['avg_seq_tokens']:,}",
            rel(r),
            f"{r['mean_opened']:.1f}",
            f"{r['mean_depth']:.1f}",
            f"{r['wall_seconds']:.1f}",
        )
    if len(rows) > 1:
        t = _total(rows)
        table.add_section()
        table.add_row(
            f"mean ({len(rows)} stores)",
            f"{t['accuracy']:.2f}",
            f"{t['avg_tokens']:,}",
            f"{t['avg_seq_tokens']:,}",
            rel(t),
            "",
            "",
            f"{t['wall_seconds']:.1f}",
        )
    console.print(table)
    knob_text = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in knobs.items()
    )
    console.print(f"[dim]knobs: {knob_text}[/]")
    if any(r["synthetic"] for r in rows):
        console.print(
            "[dim]note: the default store is synthetic (a seeded simulator shipped "
            "with tts-dsl); pass --store for real AutoTTS replay data.[/]"
        )
    if trace:
        console.print(f"[dim]traces written to {trace}[/]")
