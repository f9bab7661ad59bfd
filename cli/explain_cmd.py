"""`tts-dsl explain PROGRAM --beta B`: what every knob is at β, its range over
[0, 1], its declared and proved direction and, use by use, whether a larger
β makes the controller spend more."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .check_cmd import knob_table, summary
from .common import parse_beta
from .console import (
    dim,
    new_table,
    print_table,
    stderr_console,
    stdout_console,
    styled,
    write_plain,
)
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..api.programs import CheckReport
    from .console import Console, Table


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="knob values, ranges, proofs and budget polarity of a program",
        description="Explain PROGRAM's schedule at one β: each knob's value, its range over "
        "β ∈ [0, 1], its declared and proved direction, and per use site whether a larger "
        "β spends more (+) or less (−). Diagnostics go to stderr.",
    )
    p.add_argument("program", help="path to a .tts file, or a stdlib controller name")
    p.add_argument("-b", "--beta", default="0.5", help="the budget knob in [0, 1] (default 0.5)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(handler=run)


def sites_table(report: CheckReport, console: Console) -> Table:
    table = new_table(
        console, title="budget polarity per use (β↑: + spends more, − less, ? depends on the run)"
    )
    table.add_column("knob", no_wrap=True)
    table.add_column("β↑", justify="center")
    table.add_column("line", justify="right")
    table.add_column("use")
    for k in report.knobs:
        for site, b in zip(k.polarity.sites, k.polarity.beta_signs, strict=True):
            mark = styled("+", "green") if b > 0 else styled("−", "yellow") if b < 0 else dim("?")
            via = f" via {' → '.join(site.via)}" if site.via else ""
            table.add_row(k.name, mark, str(site.line), site.context + via)
    return table


def run(args: argparse.Namespace) -> int:
    from ..api.programs import ProgramNotFound, check, read_program

    beta = parse_beta(args.beta)
    try:
        source = read_program(args.program)
    except ProgramNotFound as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"{args.program}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    report = check(source, beta=beta)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK if report.ok else EXIT_INVALID
    out = stdout_console()
    if report.program is not None and report.knobs:
        print_table(out, knob_table(report, f"{report.program.name} at β = {beta:g}", True, out))
        if any(k.polarity.sites for k in report.knobs):
            print_table(out, sites_table(report, out))
    if report.params:
        out.print(dim("params: " + ", ".join(f"{k}={v}" for k, v in report.params.items())))
    if report.limits:
        lim = report.limits
        out.print(
            dim(
                f"terminates: at most {lim['max_rounds']} rounds, every `repeat` and `for` "
                f"bounded, fuel {lim['fuel']:,}"
                if report.ok
                else "limits: " + ", ".join(f"{k}={v}" for k, v in lim.items())
            )
        )
    if report.cost is not None:
        out.print(f"[dim]cost: {report.cost.describe()}[/]")
    if report.diagnostics:
        write_plain(stderr_console(), report.render() + "\n")
    out.print(summary(report), soft_wrap=True)
    return EXIT_OK if report.ok else EXIT_INVALID
