"""`tts-dsl stdlib [list]` / `tts-dsl stdlib show NAME`: the stdlib controllers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .console import new_table, print_table, stdout_console
from .errors import EXIT_OK, EXIT_USAGE, CliError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stdlib",
        help="list the stdlib controllers, or print one",
        description="List the stdlib controllers (what `run cmc`, `check cmc` ... name), or "
        "print one's source with `show NAME` (`tts-dsl new NAME --from cmc` writes a copy).",
    )
    actions = p.add_subparsers(dest="stdlib_action", metavar="ACTION")
    actions.add_parser("list", help="names, descriptions and sizes (the default)")
    sp = actions.add_parser("show", help="print a controller's source")
    sp.add_argument("program", metavar="NAME", help="a stdlib controller name, such as cmc")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api.programs import ProgramNotFound, stdlib, stdlib_source

    if args.stdlib_action == "show":
        try:
            text = stdlib_source(args.program)
        except ProgramNotFound as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        sys.stdout.write(text)
        return EXIT_OK
    out = stdout_console()
    table = new_table(out, title="stdlib controllers")
    table.add_column("name", no_wrap=True)
    table.add_column("lines", justify="right", no_wrap=True)
    table.add_column("description")
    for entry in stdlib():
        table.add_row(entry.name, str(entry.lines), entry.description)
    print_table(out, table)
    return EXIT_OK
