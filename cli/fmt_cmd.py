"""`tts-dsl fmt PROGRAM... [--check | --diff]`: rewrite programs in the
canonical layout (comments kept; see autotts_dsl/fmt.py).

A PROGRAM is a file, `-` (stdin to stdout) or a stdlib name such as `cmc`,
as in `check`. Stdlib controllers are never written to: without --check or
--diff their formatted text goes to stdout."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from .console import print_error, stderr_console, stdout_console, write_plain
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fmt",
        help="format programs in the canonical layout",
        description="Rewrite each PROGRAM in the canonical layout, keeping comments. PROGRAM "
        "is a .tts file, `-` (read stdin, write stdout) or a stdlib name such as `cmc` (never "
        "rewritten: printed to stdout). With --check, change nothing and exit 1 if a program "
        "would change. Exit 2 on an I/O problem, 1 on a syntax error.",
    )
    p.add_argument("files", nargs="+", metavar="PROGRAM", help=".tts files, `-`, stdlib names")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="report files that are not formatted; write nothing"
    )
    mode.add_argument("--diff", action="store_true", help="print the changes; write nothing")
    p.set_defaults(handler=run)


def _read(name: str) -> tuple[str, str, Path | None]:
    """(source, name to show, path to write or None). Raises OSError,
    ProgramNotFound (also for text that is not UTF-8)."""
    from ..api.programs import read_program

    if name == "-":
        return sys.stdin.read(), "<stdin>", None
    found = read_program(name)
    if found.file is not None:
        return found.text, name, found.file
    return found.text, found.path, None


def run(args: argparse.Namespace) -> int:
    from ..api.authoring import FormatError, format_program
    from ..api.programs import ProgramError, ProgramNotFound
    from ..io_atomic import atomic_write_text

    out = stdout_console()
    err = stderr_console()
    io_problem = False
    invalid = False
    changed = 0
    for name in args.files:
        try:
            source, shown, path = _read(name)
        except UnicodeDecodeError:
            print_error(err, f"{name}: not UTF-8 text")
            io_problem = True
            continue
        except ProgramNotFound as exc:
            print_error(err, str(exc))
            io_problem = True
            continue
        except OSError as exc:
            print_error(err, f"{name}: cannot read: {exc.strerror or exc}")
            io_problem = True
            continue
        try:
            formatted = format_program(source, shown)
        except ProgramError as exc:
            write_plain(err, exc.render() + "\n")
            invalid = True
            continue
        except FormatError as exc:  # fmt's own guard: it would have lost a comment
            print_error(err, str(exc))
            invalid = True
            continue
        if args.check:
            if formatted != source:
                changed += 1
                out.print(f"would reformat {shown}", soft_wrap=True)
            continue
        if args.diff:
            if formatted != source:
                changed += 1
                sys.stdout.write(
                    "".join(
                        difflib.unified_diff(
                            source.splitlines(keepends=True),
                            formatted.splitlines(keepends=True),
                            fromfile=shown,
                            tofile=f"{shown} (formatted)",
                        )
                    )
                )
            continue
        if path is None:  # stdin or the stdlib: the text is the output
            sys.stdout.write(formatted)
            continue
        if formatted == source:
            continue
        changed += 1
        try:
            atomic_write_text(path, formatted)
        except OSError as exc:
            print_error(err, f"{name}: cannot write: {exc.strerror or exc}")
            io_problem = True
            continue
        out.print(f"reformatted {shown}", soft_wrap=True)
    if io_problem:
        return EXIT_USAGE
    if invalid or (changed and args.check):
        return EXIT_INVALID
    return EXIT_OK
