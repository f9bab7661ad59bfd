"""`tts-dsl new NAME [--from PROGRAM]`: write a starting program.

Without --from: a small template that passes `check`. With --from (a stdlib
name such as `cmc`, or a file): a copy of that program under the controller
name NAME. The file is NAME.tts (or the path given); an existing file is
never overwritten without --force."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .console import stdout_console
from .errors import EXIT_OK, EXIT_USAGE, CliError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "new",
        help="start a program: a template, or a copy of a stdlib controller",
        description="Write a new program. NAME is the controller name (the file is NAME.tts) "
        "or a path ending in .tts (the controller is named after its stem). --from PROGRAM "
        "starts from a copy of a stdlib controller (`tts-dsl stdlib` lists them) or a file, "
        "renamed to NAME; without it, a small template that passes `tts-dsl check`.",
    )
    p.add_argument("name", metavar="NAME", help="controller name, or PATH.tts")
    p.add_argument("--from", dest="source", metavar="PROGRAM", help="stdlib name or .tts file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--stdout", action="store_true", help="print the program instead of writing")
    p.set_defaults(handler=run)


def _target(name: str) -> tuple[str, Path]:
    """(controller name, file) of the NAME argument."""
    if name.endswith(".tts") or "/" in name:
        path = Path(name)
        return path.stem, path if path.suffix == ".tts" else path.with_suffix(".tts")
    return name, Path(f"{name}.tts")


def run(args: argparse.Namespace) -> int:
    from ..api.authoring import ScaffoldError, new_program
    from ..api.programs import ProgramNotFound
    from ..io_atomic import atomic_write_text

    controller, path = _target(args.name)
    try:
        text = new_program(controller, start_from=args.source)
    except ScaffoldError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except ProgramNotFound as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.source}: cannot read: {exc}", EXIT_USAGE) from None
    if args.stdout:
        print(text, end="")
        return EXIT_OK
    if path.exists() and not args.force:
        raise CliError(f"{path}: exists; pass --force to overwrite it", EXIT_USAGE)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise CliError(f"{path}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    out = stdout_console()
    out.print(f"wrote {path} (controller {controller})", soft_wrap=True)
    out.print(f"next: tts-dsl check {path}  ·  tts-dsl run {path}", soft_wrap=True)
    return EXIT_OK
