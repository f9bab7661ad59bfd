"""`tts-dsl check FILE...`: names, types, schedule proofs, ranges, polarity,
admissibility and lints, before anything runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ..check import CheckReport, check_source
from ..programs import ProgramNotFound, resolve_program_path
from . import check_empirical
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="check programs without running them",
        description="Check each PROGRAM (a .tts file or a stdlib name such as `cmc`): names and "
        "types, proofs of the schedule's β-directions with ranges, budget polarity, "
        "admissibility, termination and lints. Exit 0 when there are no errors (warnings "
        "allowed), 1 when a program has errors, 2 on a usage or I/O problem.",
    )
    p.add_argument("programs", nargs="+", metavar="PROGRAM", help="a .tts file or stdlib name")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--strict", action="store_true", help="budget-polarity warnings become errors")
    p.add_argument("-q", "--quiet", action="store_true", help="diagnostics only, no knob table")
    check_empirical.add_arguments(p)
    p.set_defaults(handler=run)


def stdout_console() -> Console:
    # Tables are the output: a pipe gets room for them instead of 80 columns.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)


def read_program(spec: str) -> tuple[str, str]:
    """(text, the path to show) of a file or stdlib controller. Raises
    ProgramNotFound or OSError."""
    path = resolve_program_path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProgramNotFound(f"{spec}: not UTF-8 text") from None
    shown = str(path) if Path(spec).is_file() else f"stdlib/{path.name}"
    return text, shown


def knob_table(report: CheckReport, title: str, with_value: bool) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
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
            proved = f"[green]{k.proved}[/]"
        elif k.status == "pinned":
            proved = "[green]pinned[/]"
        elif k.status == "false":
            proved = "[red]false[/]"
        else:
            proved = "[red]unproved[/]"
        verdict = k.polarity.summary()
        if k.polarity.verdict in ("mixed", "less"):
            verdict = f"[yellow]{verdict}[/]"
        row = [k.name, k.type]
        if with_value:
            row.append(_value(k.value))
        row += [str(k.range), k.declared, proved, verdict]
        table.add_row(*row)
    return table


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def summary(report: CheckReport) -> str:
    e, w = len(report.errors), len(report.warnings)
    state = "[bold red]failed[/]" if e else "[green]ok[/]"
    parts = [f"{e} error{'s' * (e != 1)}" if e else "", f"{w} warning{'s' * (w != 1)}" if w else ""]
    detail = ", ".join(p for p in parts if p)
    proved = sum(1 for k in report.knobs if k.status in ("proved", "pinned"))
    knobs = f"; {proved}/{len(report.knobs)} knob directions proved" if report.knobs else ""
    return f"{report.path}: {state}{' (' + detail + ')' if detail else ''}{knobs}"


def run(args: argparse.Namespace) -> int:
    out = stdout_console()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    reports: list[CheckReport] = []
    usage_problem = False
    for spec in args.programs:
        try:
            text, shown = read_program(spec)
        except ProgramNotFound as exc:
            err.print(f"[bold red]error:[/] {exc}")
            usage_problem = True
            continue
        except OSError as exc:
            err.print(f"[bold red]error:[/] {spec}: cannot read: {exc.strerror or exc}")
            usage_problem = True
            continue
        reports.append(
            check_source(text, shown, strict=args.strict, params=check_empirical.given_params(args))
        )
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
                out.out(r.render() + "\n")
            if r.knobs and not args.quiet:
                name = r.program.name if r.program else r.path
                out.print(knob_table(r, f"{name}: knobs over β ∈ [0, 1]", False))
            out.print(summary(r))
            if (e := found[id(r)]) is not None:
                out.out((e.render() + "\n") if e.diagnostics else "")
                out.print(
                    f"{r.path}: empirical: {len(e.drops)} token drops, "
                    f"{len(e.dead)} dead β ranges over {len(e.stores)} stores"
                )
    if usage_problem:
        return EXIT_USAGE
    strict_fail = args.strict and any(e is not None and not e.ok for e in found.values())
    return EXIT_OK if all(r.ok for r in reports) and not strict_fail else EXIT_INVALID
