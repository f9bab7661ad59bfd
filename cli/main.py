"""Entry point of `tts-dsl`. Each subcommand lives in its own module and
registers itself through `add_parser(subparsers)` + `run(args) -> int`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from rich.console import Console

from autotts_dsl import __version__

from . import (
    check_cmd,
    collect_cmd,
    explain_cmd,
    fmt_cmd,
    plot_cmd,
    run_cmd,
    search_cmd,
    serve_cmd,
    store_cmd,
    stores_cmd,
    sweep_cmd,
)
from .errors import EXIT_INVALID, EXIT_USAGE, CliError

SUBCOMMANDS: tuple[ModuleType, ...] = (
    run_cmd,
    stores_cmd,
    sweep_cmd,
    plot_cmd,
    check_cmd,
    explain_cmd,
    fmt_cmd,
    search_cmd,
    collect_cmd,
    store_cmd,
    serve_cmd,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"tts-dsl: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tts-dsl",
        description="Check, run and sweep test-time-scaling controllers written in tts-dsl.",
    )
    parser.add_argument("--version", action="version", version=f"tts-dsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code: int = args.handler(args)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        return exc.code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_USAGE
    return code


__all__ = ["EXIT_INVALID", "EXIT_USAGE", "build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
