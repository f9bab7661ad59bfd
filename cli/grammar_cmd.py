"""`tts-dsl grammar [--dialect D] [-o FILE]`: print the language grammar in a
decoder's dialect (see autotts_dsl/grammar_export.py, docs/grammar.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..api.authoring import GRAMMAR_DIALECTS as DIALECTS
from ..api.authoring import GrammarExportError, grammar
from ..io_atomic import atomic_write_text
from .errors import EXIT_OK, EXIT_USAGE, CliError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "grammar",
        help="print the grammar for constrained decoding",
        description="Print the tts-dsl grammar. `llguidance` is the dialect of llguidance and "
        "of vLLM's `guidance` structured-output backend (send it as "
        "structured_outputs.grammar); `lark` is grammar/tts.lark, the source of truth.",
    )
    p.add_argument("--dialect", choices=DIALECTS, default="llguidance", help="default llguidance")
    p.add_argument("-o", "--output", metavar="FILE", help="write FILE instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        text = grammar(args.dialect)
    except GrammarExportError as exc:
        raise CliError(f"grammar/tts.lark: cannot export to {args.dialect}: {exc}") from None
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        atomic_write_text(args.output, text)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    return EXIT_OK
