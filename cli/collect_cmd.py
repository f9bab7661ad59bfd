"""`tts-dsl collect`: build a replay store from an OpenAI-compatible server.

Thin wiring: the work is autotts_dsl/live (see docs/collect.md). Imports of
the library happen inside `run`, so `tts-dsl --help` stays light.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError


def add_sampling_arguments(
    p: argparse.ArgumentParser, *, probe_batch: bool = True, concurrency: int = 32
) -> None:
    """Server, prompt and probe options shared with `store build` and `infer`
    (which sends one probe per request: no --probe-batch)."""
    p.add_argument("--server", metavar="URL", help="server base URL, e.g. http://localhost:8000/v1")
    p.add_argument("--model", metavar="NAME", help="model name as the server knows it")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default: OPENAI_API_KEY)",
    )
    p.add_argument(
        "--interval",
        type=int,
        default=500,
        metavar="TOKENS",
        help="probe interval in the model's tokens (default 500)",
    )
    p.add_argument(
        "--chat-template",
        default="chatml",
        metavar="NAME|FILE",
        help="chatml (default; Qwen), raw, or a file with a {prompt} placeholder",
    )
    p.add_argument(
        "--prompt-template",
        default=None,
        metavar="TEXT",
        help="the user message, with a {question} placeholder (default: the question "
        "and 'Please reason step by step, and put your final answer within \\boxed{}.')",
    )
    p.add_argument(
        "--probe-suffix",
        default=None,
        metavar="TEXT",
        help="appended to a trace prefix to ask for the answer there (default: the "
        "Dynasor/Parallel-Probe cue ending in '\\boxed{')",
    )
    p.add_argument(
        "--probe-max-tokens",
        type=int,
        default=32,
        metavar="N",
        help="tokens a probe may answer with (greedy; default 32)",
    )
    p.add_argument(
        "--reasoning-marker",
        default="</think>",
        metavar="TEXT",
        help="where the reasoning ends (probes stop there); '' for none",
    )
    p.add_argument(
        "--tokens",
        choices=["auto", "ids", "text"],
        default="auto",
        help="how the model's tokens are seen: ids (vLLM /tokenize + token ids), "
        "text (logprobs token texts), auto (ids when /tokenize exists)",
    )
    p.add_argument(
        "--equivalence",
        choices=["math-verify", "exact"],
        default="math-verify",
        help="how equal answers are interned (math-verify needs tts-dsl[live])",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=concurrency,
        metavar="N",
        help=f"requests in flight (default {concurrency})",
    )
    if probe_batch:
        p.add_argument(
            "--probe-batch",
            type=int,
            default=8,
            metavar="N",
            help="probes of one trace sent in one request (default 8)",
        )
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="per request")
    p.add_argument(
        "--retries",
        type=int,
        default=8,
        metavar="N",
        help="retries per request on 429/5xx/timeouts/broken responses (default 8)",
    )
    p.add_argument(
        "--backoff",
        type=float,
        default=0.5,
        metavar="S",
        help="first retry delay, doubled each time up to 30 s",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "collect",
        help="build a replay store from a live model",
        description="Sample N traces per question from an OpenAI-compatible server, probe each "
        "at every interval boundary of its own tokens, and write an AutoTTS-format store plus a "
        "metadata sidecar. Every finished trace and probe is journaled: kill it any time and "
        "re-run the same command to resume. See docs/collect.md.",
    )
    p.add_argument(
        "--questions",
        required=True,
        metavar="FILE",
        help="JSONL, JSON or CSV with a question and a gold answer per record",
    )
    p.add_argument("--out", required=True, metavar="STORE", help="the store file to write (.json)")
    p.add_argument("--n", type=int, default=128, metavar="N", help="traces per question (128)")
    p.add_argument("--temperature", type=float, default=0.6)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-tokens", type=int, default=32768, metavar="N", help="per trace")
    p.add_argument("--seed", type=int, default=0, help="trace i uses seed SEED + i (default 0)")
    p.add_argument(
        "--extra",
        metavar="JSON",
        default=None,
        help="more sampling fields for the server, e.g. '{\"top_k\": 20}'",
    )
    p.add_argument("--journal", metavar="FILE", help="journal path (default: STORE.journal)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the requests and tokens the collection will spend; send nothing",
    )
    p.add_argument(
        "--expect-tokens",
        type=int,
        metavar="N",
        help="with --dry-run: also estimate for traces of N tokens on average",
    )
    add_sampling_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from . import live_support as cs

    settings, questions = cs.settings_from_args(args)
    if args.dry_run:
        plan = cs.dry_run(settings, questions, args)
        if args.json:
            sys.stdout.write(json.dumps(plan, indent=2) + "\n")
        else:
            cs.print_plan(plan)
        return EXIT_OK
    if not args.server or not args.model:
        raise CliError("collect needs --server URL and --model NAME (or --dry-run)", EXIT_USAGE)
    result = cs.run_collect(args, settings, questions, api_key=os.environ.get(args.api_key_env))
    if args.json:
        sys.stdout.write(json.dumps({"store": result.path, "meta": result.meta}, indent=2) + "\n")
    else:
        cs.print_collected(result)
    return EXIT_OK if result else EXIT_INVALID
