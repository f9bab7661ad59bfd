"""Entry point of `tts-dsl`.

Each subcommand lives in its own module and registers itself through
`add_parser(subparsers)`, its handler set as `args.handler(args) -> int`.
Only the module of the command being run is imported (`tts-dsl --help` and
`tts-dsl check` never load numpy, pandas, matplotlib or the search stack):
the other commands are listed from `COMMANDS` alone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from autotts_dsl import __version__

from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

# One BLAS thread unless the user says otherwise: nothing here does linear
# algebra big enough to share, and OpenBLAS starting a thread per core at
# numpy's import costs ~0.1 CPU-s per process (more than evaluating CMC on a
# store) and oversubscribes the cores the worker pool already uses.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run_cmd", "evaluate a program at one beta on one or more replay stores"),
    "stores": ("stores_cmd", "list, inspect, add and fetch replay stores"),
    "sweep": (
        "sweep_cmd",
        "evaluate programs over a β grid × stores: CSVs, AutoTTS matrix files, plots",
    ),
    "plot": ("plot_cmd", "re-draw the accuracy-token plots of a sweep from its results CSV"),
    "check": ("check_cmd", "check programs without running them"),
    "explain": ("explain_cmd", "knob values, ranges, proofs and budget polarity of a program"),
    "fmt": ("fmt_cmd", "format programs in the canonical layout"),
    "new": ("new_cmd", "start a program: a template, or a copy of a stdlib controller"),
    "stdlib": ("stdlib_cmd", "list the stdlib controllers, or print one"),
    "search": (
        "search_cmd",
        "discover controllers: propose, check, evaluate, select (offline or with an LLM)",
    ),
    "collect": (
        "collect_cmd",
        "build a replay store from an OpenAI-compatible server (traces, probes, answers)",
    ),
    "infer": ("infer_cmd", "run a program against a live model (OpenAI-compatible server)"),
    "store": ("store_cmd", "build, inspect and merge replay stores"),
    "serve-replay": ("serve_cmd", "serve a replay store as an OpenAI-compatible model"),
    "grammar": ("grammar_cmd", "print the language grammar for constrained decoders"),
    "completion": ("completion_cmd", "print a shell completion script (bash, zsh, fish)"),
}
"""name -> (module under autotts_dsl.cli, one-line help). The list `tts-dsl
--help` prints comes from here, without importing any command's module."""

EPILOG = (
    "Exit codes: 0 ok; 1 the program or the data is wrong (diagnostics on stderr); "
    "2 usage or I/O errors; 130 interrupted. `tts-dsl COMMAND --help` for each command."
)


class _Parser(argparse.ArgumentParser):
    """argparse with abbreviations off (`--seed` is not `--seeds`) and usage
    errors as exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _command_module(name: str) -> Any:
    return importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")


def build_parser(only: str | None = None, *, full: bool = True) -> argparse.ArgumentParser:
    """The `tts-dsl` parser. `full`: every command's own parser (imports them
    all); `only=NAME`: that command's parser, the others as one-line stubs."""
    parser = _Parser(
        prog="tts-dsl",
        description="Check, run and sweep test-time-scaling controllers written in tts-dsl.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"tts-dsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (_, help_text) in COMMANDS.items():
        if full or name == only:
            _command_module(name).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    parser.set_defaults(_subparsers=sub.choices)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an
    option), if it is one of ours."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _unknown_command(argv: Sequence[str]) -> str | None:
    word = next((w for w in argv if not w.startswith("-")), None)
    if word is None or word in COMMANDS:
        return None
    from ..diagnostics import did_you_mean

    hint = did_you_mean(word, COMMANDS)
    return f"unknown command {word!r}" + (
        f"; {hint}" if hint else f" (commands: {', '.join(COMMANDS)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        build_parser(full=False).print_help(sys.stdout)
        return EXIT_OK
    unknown = _unknown_command(words)
    if unknown is not None:
        build_parser(full=False).print_usage(sys.stderr)
        sys.stderr.write(f"tts-dsl: error: {unknown}\n")
        return EXIT_USAGE
    command = _command_in(words)
    args, extra = build_parser(command, full=False).parse_known_args(words)
    if extra:  # reported with the command's own usage line, not the top level's
        parser = args._subparsers.get(args.command) if command else None
        (parser or build_parser(full=False)).error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = ["tts-dsl", *words]  # the command line, for provenance records
    from .console import print_error, stderr_console

    try:
        code: int = args.handler(args)
    except CliError as exc:
        print_error(stderr_console(), str(exc))
        return exc.code
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_USAGE
    return code


__all__ = ["COMMANDS", "EXIT_INVALID", "EXIT_USAGE", "build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
