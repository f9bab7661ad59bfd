"""`tts-dsl store build|inspect|merge`: make, check and grow replay stores.
Thin wiring over autotts_dsl/live (build.py, stats.py, merge.py)."""

from __future__ import annotations

import argparse
from typing import Any

from .collect_cmd import add_sampling_arguments


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "store",
        help="build, inspect and merge replay stores",
        description="Build a store from traces you have, inspect a store, or merge stores.",
    )
    actions = p.add_subparsers(dest="store_action", metavar="ACTION")
    actions.required = True

    bp = actions.add_parser(
        "build",
        help="a store from traces you already have",
        description="Build a store from a JSONL of traces (question, gold, and the trace's "
        "text or token_ids; or probe_answers + tokens + final_answer). Traces without "
        "probe answers are segmented and probed against --server (it needs /tokenize for text).",
    )
    bp.add_argument("traces", metavar="TRACES", help="JSONL, one trace per line")
    bp.add_argument("--out", required=True, metavar="STORE")
    bp.add_argument("--journal", metavar="FILE", help="journal path (default: STORE.journal)")
    add_sampling_arguments(bp)
    bp.set_defaults(handler=run)

    ip = actions.add_parser(
        "inspect",
        help="accuracy, lengths and probe convergence of a store",
        description="Per-question majority and pass@k, the length distribution and how probe "
        "answers converge with depth.",
    )
    ip.add_argument("store", metavar="STORE", help="a store name or file")
    ip.add_argument("--questions", action="store_true", help="also list every question")
    ip.add_argument("--json", action="store_true")
    ip.set_defaults(handler=run)

    mp = actions.add_parser(
        "merge",
        help="add the traces of other stores to a store",
        description="Append the traces of each STORE, question by question (matched by question "
        "text and gold answer), into --out. Stores must share the probe interval; stores "
        "collected with overlapping seeds from one model are refused (their traces would repeat).",
    )
    mp.add_argument("stores", nargs="+", metavar="STORE")
    mp.add_argument("--out", required=True, metavar="STORE")
    mp.add_argument(
        "--equivalence",
        choices=["math-verify", "exact"],
        default=None,
        help="re-intern answers (default: math-verify if an input used it, else exact)",
    )
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from . import live_support as cli_support

    return cli_support.store_action(args)
