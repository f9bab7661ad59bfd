"""`tts-dsl serve-replay STORE`: a replay store as an OpenAI-compatible model
on loopback (for tests, docs and `infer`); see autotts_dsl/live/replay_server.py."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve-replay",
        help="serve a replay store as an OpenAI-compatible model (loopback)",
        description="Serve STORE as a deterministic model: the trace sampled with seed s is the "
        "store's branch s, as a token stream of its stored length; a probe after k intervals "
        "answers the stored probe answer. Collecting from it with the store's own N and interval "
        "gives the store back. Runs until interrupted.",
    )
    p.add_argument("store", metavar="STORE", help="a store name or file")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default 8000)")
    p.add_argument("--port-file", metavar="FILE", help="write the bound port here once listening")
    p.add_argument("--model", metavar="NAME", help="model name to serve (default replay/<store>)")
    p.add_argument(
        "--faults",
        metavar="SPEC",
        default="",
        help="inject faults, e.g. 500=0.05,drop=0.02,hang=0.01,truncate=0.02,"
        "malformed=0.02,shape=0.02,429=0.05",
    )
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--hang-seconds", type=float, default=30.0, help="how long a hang lasts")
    p.add_argument(
        "--token-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="simulated decode time per generated token, in milliseconds",
    )
    p.add_argument(
        "--no-tokenize",
        action="store_true",
        help="act as a server without /tokenize and token ids (text mode)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from . import live_support as cli_support

    return cli_support.serve_replay(args)
