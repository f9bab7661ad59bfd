"""`tts-dsl fmt FILE... [--check]`: rewrite programs in the canonical layout
(comments kept; see autotts_dsl/fmt.py)."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from rich.console import Console

from ..diagnostics import DiagnosticError
from ..fmt import fmt
from ..io_atomic import atomic_write_text
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fmt",
        help="format programs in the canonical layout",
        description="Rewrite each FILE in the canonical layout, keeping comments. With --check, "
        "change nothing and exit 1 if a file would change. Exit 2 on an I/O problem, 1 on a "
        "syntax error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help=".tts files")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="report files that are not formatted; write nothing"
    )
    mode.add_argument("--diff", action="store_true", help="print the changes; write nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    io_problem = False
    invalid = False
    changed = 0
    for name in args.files:
        path = Path(name)
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            err.print(f"[bold red]error:[/] {name}: not UTF-8 text")
            io_problem = True
            continue
        except OSError as exc:
            err.print(f"[bold red]error:[/] {name}: cannot read: {exc.strerror or exc}")
            io_problem = True
            continue
        try:
            formatted = fmt(source, name)
        except DiagnosticError as exc:
            err.out(exc.render() + "\n")
            invalid = True
            continue
        except RuntimeError as exc:  # fmt's own guard: it would have lost a comment
            err.print(f"[bold red]error:[/] {exc}")
            invalid = True
            continue
        if formatted == source:
            continue
        changed += 1
        if args.check:
            out.print(f"would reformat {name}")
        elif args.diff:
            out.out(
                "".join(
                    difflib.unified_diff(
                        source.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=name,
                        tofile=f"{name} (formatted)",
                    )
                ),
                end="",
            )
        else:
            try:
                atomic_write_text(path, formatted)
            except OSError as exc:
                err.print(f"[bold red]error:[/] {name}: cannot write: {exc.strerror or exc}")
                io_problem = True
                continue
            out.print(f"reformatted {name}")
    if io_problem:
        return EXIT_USAGE
    if invalid or (changed and args.check):
        return EXIT_INVALID
    return EXIT_OK
