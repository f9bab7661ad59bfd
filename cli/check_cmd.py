"""`tts-dsl check FILE...`: names, types, schedule proofs, ranges, polarity,
admissibility and lints, before anything runs.

Stays light: the checker and the parser, never the engines (a test keeps
numpy, pandas and matplotlib off this path)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from . import check_empirical
from .console import (
    Console,
    Table,
    Text,
    new_table,
    print_error,
    print_table,
    stderr_console,
    stdout_console,
    styled,
    write_plain,
)
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from ..api.programs import CheckReport

__all__ = ["knob_table", "stdout_console", "summary"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="check programs without running them",
        description="Check each PROGRAM (a .tts file or a stdlib name such as `cmc`): names and "
        "types, proofs of the schedule's β-directions with ranges, budget polarity, "
        "admissibility, termination and lints. Diagnostics go to stderr, the knob table and "
        "the verdict to stdout. Exit 0 when there are no errors (warnings allowed), 1 when a "
        "program has errors, 2 on a usage or I/O problem.",
    )
    p.add_argument("programs", nargs="+", metavar="PROGRAM", help="a .tts file or stdlib name")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--strict", action="store_true", help="budget-polarity warnings become errors")
    p.add_argument("-q", "--quiet", action="store_true", help="diagnostics only, no knob table")
    check_empirical.add_arguments(p)
    p.set_defaults(handler=run)


def knob_table(
    report: CheckReport, title: str, with_value: bool, console: Console | None = None
) -> Table:
    table = new_table(console or stdout_console(), title=title)
    table.add_column("knob", no_wrap=True)
    table.add_column("type", no_wrap=True)
    if with_value:
        table.add_column(f"β={report.beta:g}", justify="right", no_wrap=True)
    table.add_column("range β∈[0,1]", no_wrap=True)
    table.add_column("declared", no_wrap=True)
    table.add_column("proved", no_wrap=True)
    table.add_column("β↑ spends", no_wrap=True)
    for k in report.knobs:
        if k.status == "proved":
            proved = styled(k.proved, "green")
        elif k.status == "pinned":
            proved = styled("pinned", "green")
        elif k.status == "false":
            proved = styled("false", "red")
        else:
            proved = styled("unproved", "red")
        verdict = styled(
            k.polarity.summary(), "yellow" if k.polarity.verdict in ("mixed", "less") else ""
        )
        row: list[str | Text] = [k.name, k.type]
        if with_value:
            row.append(_value(k.value))
        row += [str(k.range), k.declared, proved, verdict]
        table.add_row(*row)
    return table


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def summary(report: CheckReport) -> Text:
    """`PATH: ok (1 warning); 3/3 knob directions proved` (the path as given)."""
    e, w = len(report.errors), len(report.warnings)
    state = styled("failed", "bold red") if e else styled("ok", "green")
    parts = [f"{e} error{'s' * (e != 1)}" if e else "", f"{w} warning{'s' * (w != 1)}" if w else ""]
    detail = ", ".join(p for p in parts if p)
    proved = sum(1 for k in report.knobs if k.status in ("proved", "pinned"))
    knobs = f"; {proved}/{len(report.knobs)} knob directions proved" if report.knobs else ""
    return Text.assemble(f"{report.path}: ", state, f" ({detail})" if detail else "", knobs)


def run(args: argparse.Namespace) -> int:
    from ..api.programs import ProgramNotFound, check, read_program

    out = stdout_console()
    err = stderr_console()
    reports: list[CheckReport] = []
    usage_problem = False
    for spec in args.programs:
        try:
            source = read_program(spec)
        except ProgramNotFound as exc:
            print_error(err, str(exc))
            usage_problem = True
            continue
        except OSError as exc:
            print_error(err, f"{spec}: cannot read: {exc.strerror or exc}")
            usage_problem = True
            continue
        reports.append(check(source, strict=args.strict, params=check_empirical.given_params(args)))
    found = {id(r): check_empirical.run_empirical(args, r, err) for r in reports}
    if args.json:
        doc = {
            "ok": all(r.ok for r in reports) and not usage_problem,
            "errors": sum(len(r.errors) for r in reports),
            "warnings": sum(len(r.warnings) for r in reports),
            "files": [
                {**r.to_json(), "empirical": e.to_json() if (e := found[id(r)]) else None}
                for r in reports
            ],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for r in reports:
            if r.diagnostics:
                write_plain(err, r.render() + "\n")
            if r.knobs and not args.quiet:
                name = r.program.name if r.program else r.path
                print_table(out, knob_table(r, f"{name}: knobs over β ∈ [0, 1]", False, out))
            out.print(summary(r), soft_wrap=True)
            if (e := found[id(r)]) is not None:
                if e.diagnostics:
                    write_plain(err, e.render() + "\n")
                out.print(
                    f"{r.path}: empirical: {len(e.drops)} token drops, "
                    f"{len(e.dead)} dead β ranges over {len(e.stores)} stores",
                    soft_wrap=True,
                    markup=False,
                )
    if usage_problem:
        return EXIT_USAGE
    strict_fail = args.strict and any(e is not None and not e.ok for e in found.values())
    return EXIT_OK if all(r.ok for r in reports) and not strict_fail else EXIT_INVALID
