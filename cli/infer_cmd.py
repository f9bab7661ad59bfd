"""`tts-dsl infer PROGRAM --beta B --server URL --model NAME --questions FILE`:
a program drives generation on a live model.

Thin wiring: the work is autotts_dsl/live/infer.py (see docs/infer.md).
Library imports happen inside `run`, so `tts-dsl --help` stays light.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .collect_cmd import add_sampling_arguments
from .common import int_at_least
from .errors import EXIT_OK, EXIT_USAGE, CliError

TRACE_LEVELS = ("off", "actions", "full")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "infer",
        help="run a program against a live model (OpenAI-compatible server)",
        description="Run PROGRAM at β on every question × seed against an OpenAI-compatible "
        "server: `spawn` samples a new trace, `step` continues one by an interval and probes "
        "it, `read_full` samples a whole trace; each batch's requests go out together. "
        "Costs follow the replay's definitions, so against `serve-replay STORE` the answers "
        "and tokens are `run`'s on STORE, episode for episode. Every request is journaled: "
        "kill it any time and re-run the same command to resume. See docs/infer.md.",
    )
    p.add_argument("program", help="path to a .tts file, or a stdlib controller name")
    p.add_argument("-b", "--beta", default="0.5", help="the budget knob in [0, 1] (default 0.5)")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="override a param, or pin a knob to a constant (repeatable)",
    )
    p.add_argument(
        "--questions",
        required=True,
        metavar="FILE",
        help="JSONL, JSON or CSV with a question (and, to score it, a gold answer) per record",
    )
    p.add_argument(
        "--out", required=True, metavar="FILE", help="results, one JSON line per episode"
    )
    p.add_argument(
        "--seeds",
        metavar="N|A:B",
        default="1",
        help="episode seeds: N for 0..N-1, A:B for A..B-1 (default 1: seed 0)",
    )
    p.add_argument("--journal", metavar="FILE", help="journal path (default: OUT.journal)")
    p.add_argument("--trace", metavar="FILE", help="write per-episode traces as JSONL (as run)")
    p.add_argument("--trace-level", choices=TRACE_LEVELS, default="actions")
    p.add_argument(
        "--record",
        metavar="STORE",
        help="also write the traces sampled to their end as a replay store (collect's layout)",
    )
    p.add_argument(
        "--branches",
        type=int_at_least(1),
        default=128,
        metavar="N",
        help="traces an episode may open per question, the replay's N (default 128)",
    )
    p.add_argument(
        "--seed-base",
        type=int,
        default=0,
        metavar="S",
        help="branch i of the episode with seed s samples with seed S + shuffle(s, N)[i] "
        "(serve-replay: S = 0 gives the replay's branches)",
    )
    p.add_argument(
        "--parallel",
        type=int_at_least(1),
        default=8,
        metavar="N",
        help="episodes run at once (default 8)",
    )
    p.add_argument(
        "--no-speculate",
        action="store_true",
        help="request each read when the program makes it (no look-ahead; one request at a "
        "time per episode)",
    )
    p.add_argument("--temperature", type=float, default=0.6)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-tokens", type=int, default=32768, metavar="N", help="per trace")
    p.add_argument(
        "--extra",
        metavar="JSON",
        default=None,
        help="more sampling fields for the server, e.g. '{\"top_k\": 20}'",
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="run even when `check` finds errors in the program (at your own risk)",
    )
    add_sampling_arguments(p, probe_batch=False, concurrency=64)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api import live
    from ..api.evaluation import EpisodeFault
    from ..api.programs import check
    from . import live_support as ls
    from .common import (
        compile_or_exit,
        load_program_or_exit,
        parse_beta,
        parse_params,
        parse_seeds,
    )
    from .console import stderr_console, write_plain

    beta = parse_beta(args.beta)
    params = parse_params(args.param)
    seeds = parse_seeds(args.seeds)
    if not args.server or not args.model:
        raise CliError("infer needs --server URL and --model NAME", EXIT_USAGE)
    prog = load_program_or_exit(args.program)
    compile_or_exit(prog, beta, params)
    if not args.no_check:
        report = check(prog, beta=beta, params=params)
        if report.errors:
            write_plain(stderr_console(), report.render() + "\n")
            raise CliError(
                f"{prog.path}: check found {len(report.errors)} error(s); nothing was run "
                "(--no-check runs it anyway)"
            )
    collect_like, _ = ls.settings_from_args(args, load=False)
    with ls.library_errors():
        questions = live.load_questions(args.questions, require_gold=False)
    settings = live.InferSettings(
        model=args.model,
        interval=collect_like.interval,
        sampling=collect_like.sampling,
        prompt_template=collect_like.prompt_template,
        chat_template=collect_like.chat_template,
        chat_template_name=collect_like.chat_template_name,
        probe_suffix=collect_like.probe_suffix,
        probe_max_tokens=collect_like.probe_max_tokens,
        marker=collect_like.marker,
        branches=args.branches,
        seed_base=args.seed_base,
        concurrency=collect_like.concurrency,
        parallel=args.parallel,
        speculate=not args.no_speculate,
    )
    rule = ls.rule_named(args.equivalence)
    server = ls.model_server(args, os.environ.get(args.api_key_env))
    journal_path = args.journal or live.infer_journal_path(args.out)
    err = stderr_console()
    bar = _Bar(err, prog.name, beta)
    try:
        with bar.progress, ls.library_errors():
            inference, result = live.infer(
                prog,
                server,
                settings,
                questions,
                beta=beta,
                params=params,
                seeds=seeds,
                rule=rule,
                journal=journal_path,
                tokens=args.tokens,
                progress=bar,
            )
    except KeyboardInterrupt:
        err.print(f"interrupted: what arrived is in {journal_path}; re-run to resume", markup=False)
        sys.stderr.flush()
        os._exit(130)
    except live.InferError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except EpisodeFault as fault:
        raise CliError(f"run-time error: {fault}") from None
    try:
        recorded = None
        if args.record:
            with ls.library_errors():
                recorded = live.record_inference(
                    inference, args.record, server_url=server.client.api
                )
        _write(args, inference, result)
    finally:
        inference.journal.close()
    summary = result.summary()
    doc = {
        "program": prog.path,
        "controller": prog.name,
        "beta": beta,
        "model": args.model,
        "summary": summary,
        "resumed_episodes": result.resumed_episodes,
        "journal": journal_path,
        "spend": result.journal_spend,
        "results": args.out,
        "record": None
        if recorded is None
        else {
            "store": recorded.path,
            "traces": recorded.traces,
            "probe_requests": recorded.probe_requests,
            "skipped_questions": list(recorded.skipped_questions),
        },
    }
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _print_summary(doc, args)
    return EXIT_OK


def _write(args: argparse.Namespace, inference: Any, result: Any) -> None:
    from ..api.live import infer_result_lines
    from ..io_atomic import atomic_write_lines

    try:
        atomic_write_lines(args.out, infer_result_lines(result))
        if args.trace:
            atomic_write_lines(args.trace, inference.trace_lines(result, args.trace_level))
    except OSError as exc:
        raise CliError(f"cannot write results: {exc.strerror or exc}", EXIT_USAGE) from None


class _Bar:
    def __init__(self, console: Any, name: str, beta: float) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from .console import rich_console

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            console=rich_console(console),
            transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task(f"{name} β={beta:g}", total=None, note="")

    def __call__(self, state: Any) -> None:
        self.progress.update(
            self.task,
            completed=state.episodes_done,
            total=state.episodes_total,
            note=f"{state.requests:,} requests",
        )


def _print_summary(doc: dict[str, Any], args: argparse.Namespace) -> None:
    from .console import dim, new_table, print_table, stdout_console

    out = stdout_console()
    s = doc["summary"]
    table = new_table(out, title=f"{doc['controller']} at β = {doc['beta']:g} on {doc['model']}")
    for col in (
        "episodes",
        "acc %",
        "tokens",
        "seq tok",
        "generated",
        "unread",
        "requests",
        "wall s/question",
        "max wall s",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    acc = s["accuracy"]
    table.add_row(
        str(s["episodes"]),
        "-" if acc is None else f"{acc:.2f}",
        f"{s['tokens']:,.0f}",
        f"{s['seq_tokens']:,.0f}",
        f"{s['generated_tokens']:,.0f}",
        f"{s['unread_tokens']:,.0f}",
        f"{s['requests']:,.1f}",
        f"{s['wall_seconds']:.2f}",
        f"{s['max_wall_seconds']:.2f}",
    )
    print_table(out, table)
    notes = [f"results written to {doc['results']}", f"journal: {doc['journal']}"]
    if doc["resumed_episodes"]:
        notes.append(f"{doc['resumed_episodes']} episode(s) resumed from the journal")
    if args.trace:
        notes.append(f"traces written to {args.trace}")
    rec = doc["record"]
    if rec is not None:
        notes.append(
            f"recorded {rec['traces']} traces to {rec['store']} "
            f"({rec['probe_requests']} probes asked for the record)"
        )
    out.print(dim("; ".join(notes)), soft_wrap=True)
