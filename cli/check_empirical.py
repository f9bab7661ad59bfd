"""`tts-dsl check --empirical`: the options, and running the library's
`empirical_check` for one program (`autotts_dsl/checker/empirical.py`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .errors import EXIT_USAGE, CliError

if TYPE_CHECKING:  # the engines load only when --empirical runs (check stays light)
    from ..api.evaluation import EmpiricalReport
    from ..api.programs import CheckReport
    from .console import Console


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--empirical",
        action="store_true",
        help="also run each program on replay stores over a fine β grid: warn where average "
        "tokens drop as β grows (W401) and about β ranges that spend nothing (W402)",
    )
    p.add_argument(
        "--store",
        action="append",
        help="with --empirical: store file, directory of stores, or registry name "
        "(repeatable); default: the embedded synthetic store",
    )
    p.add_argument("--betas", default=None, help="with --empirical: the β grid (default 0:1:0.02)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="check (and with --empirical, run) with this param or pinned knob (repeatable)",
    )


def given_params(args: argparse.Namespace) -> dict[str, Any]:
    from .common import parse_params

    return dict(parse_params(args.param))


def run_empirical(
    args: argparse.Namespace, report: CheckReport, err: Console
) -> EmpiricalReport | None:
    """The empirical report of a program that passed the static check (None
    when it did not: there is nothing sound to run)."""
    if not args.empirical or report.program is None or not report.ok:
        return None
    from ..api.evaluation import EpisodeFault, GridError, check_empirical, parse_betas
    from ..api.programs import Program, ProgramError
    from .common import load_stores_with_specs, print_diagnostics

    try:
        betas = parse_betas(args.betas) if args.betas else None
    except GridError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    stores = [store for _, store in load_stores_with_specs(args.store)]
    program = Program(report.program.name, report.path, report.source, report.program)

    def progress(store: str, beta: float) -> None:
        err.print(f"{report.path}: {store} β={beta:g}", end="\r", style="dim", markup=False)

    try:
        result = check_empirical(
            program,
            stores,
            betas=betas,
            params=given_params(args),
            progress=progress if err.is_terminal else None,
        )
    except EpisodeFault as fault:
        raise CliError(f"run-time error: {fault}") from None
    except ProgramError as exc:  # a β of the grid where the program does not compile
        print_diagnostics(exc)
        raise CliError(f"{report.path}: does not compile at every β of the grid") from None
    if err.is_terminal:
        err.print(" " * 60, end="\r")
    return result
