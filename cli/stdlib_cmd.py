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
    from ..programs import STDLIB_DIR, ProgramNotFound, resolve_program_path, stdlib_names

    if args.stdlib_action == "show":
        if "/" in args.program or args.program.endswith(".tts"):
            raise CliError(f"{args.program}: give a stdlib name such as `cmc`", EXIT_USAGE)
        try:
            path = resolve_program_path(args.program)
        except ProgramNotFound as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        if path.parent != STDLIB_DIR:
            raise CliError(f"{args.program}: not a stdlib controller", EXIT_USAGE)
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return EXIT_OK
    from ..parser import parse

    out = stdout_console()
    table = new_table(out, title="stdlib controllers")
    table.add_column("name", no_wrap=True)
    table.add_column("lines", justify="right", no_wrap=True)
    table.add_column("description")
    for name in stdlib_names():
        source = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
        program = parse(source, name)
        code = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        table.add_row(name, str(len(code)), program.description)
    print_table(out, table)
    return EXIT_OK
