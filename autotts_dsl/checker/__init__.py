"""`tts-dsl check`: everything provable about a controller before it runs.

Passes, in order (each one-directional, all reading the one builtins table):

1. names and types — the compiler at one β (0.5) with default params
   (codes E0xx/E1xx); later passes run only on a well-typed program;
2. the schedule (`monotone.py`) — each knob's range (interval arithmetic,
   `intervals.py`) and a proof of its declared direction (E201/E202);
3. ranges (`ranges.py`) — counts, limits, window sizes, probability
   thresholds, divisions and builtin domains (E203–E206, E213, W203, W204);
4. admissibility and termination (`admissibility.py`) — E210–E212, and
   the static per-episode bound on work and tokens (`cost.py`) — E214;
5. budget polarity (`polarity.py`) — W201/W202 (errors under `strict`);
6. lints (`lints.py`) — W301–W307.

`check_program` returns a `CheckReport`: diagnostics sorted by position and
a table of knobs (value at β, range over [0, 1], declared and proved
direction, polarity per use site). `docs/checker.md` has the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from .. import ast
from ..compiler import compile_program
from ..diagnostics import Diagnostic, DiagnosticError, Span, render_all
from ..fmt import format_expr
from ..parser import parse
from ..records import record
from .admissibility import Admissibility
from .context import GRID_POINTS, Context
from .cost import CostBound, check_cost, cost_bound
from .intervals import Interval
from .lints import Lints
from .monotone import KnobProof, prove_schedule
from .polarity import KnobPolarity, Polarity
from .ranges import Ranges, RangeWalker, check_declarations

__all__ = [
    "CheckReport",
    "CostBound",
    "KnobRow",
    "check_program",
    "check_source",
    "cost_bound",
    "explain",
]


@record(frozen=False)
class KnobRow:
    name: str
    type: str
    declared: str
    proved: str  # up | down | const | unknown
    status: str  # proved | false | unproved
    value: Any  # at the report's β
    range: Interval
    reason: str
    counterexample: str
    polarity: KnobPolarity

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "declared": self.declared,
            "proved": self.proved,
            "status": self.status,
            "value": self.value,
            "range": [_jnum(self.range.lo), _jnum(self.range.hi)],
            "reason": self.reason,
            "counterexample": self.counterexample,
            "polarity": self.polarity.verdict,
            "sites": [s.to_json(self.declared) for s in self.polarity.sites],
        }


def _jnum(v: float) -> float | int | str:
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    return int(v) if v == int(v) else v


@record(frozen=False)
class CheckReport:
    path: str
    source: str
    beta: float
    strict: bool
    program: ast.Program | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    knobs: list[KnobRow] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    # the static per-episode bound on work and tokens (None when the program
    # does not compile)
    cost: CostBound | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        return render_all(self.diagnostics, self.source, self.path)

    def _repr_html_(self) -> str:
        """A notebook view: the verdict, the diagnostics, and the knob table."""
        from html import escape

        verdict = "ok" if self.ok else f"{len(self.errors)} error(s)"
        diags = "".join(
            f"<tr><td>{escape(d.severity)}[{escape(d.code)}]</td><td>{d.span.line}:{d.span.col}</td>"
            f"<td>{escape(d.message)}</td></tr>"
            for d in self.diagnostics
        )
        knobs = "".join(
            f"<tr><td><code>{escape(k.name)}</code></td><td>{escape(k.declared)}</td>"
            f"<td>{escape(k.status)}</td><td>{escape(str(k.value))}</td>"
            f"<td>[{k.range.lo:g}, {k.range.hi:g}]</td></tr>"
            for k in self.knobs
        )
        return (
            f"<div><b>{escape(self.path)}</b>: {verdict}, {len(self.warnings)} warning(s) "
            f"at β = {self.beta:g}"
            f"<table><tr><th>diagnostic</th><th>at</th><th>message</th></tr>{diags}</table>"
            "<table><tr><th>knob</th><th>declared</th><th>proof</th><th>value</th>"
            f"<th>range over β</th></tr>{knobs}</table></div>"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "beta": self.beta,
            "strict": self.strict,
            "diagnostics": [d.to_json(self.path) for d in self.diagnostics],
            "params": self.params,
            "limits": self.limits,
            "cost": self.cost.to_json() if self.cost is not None else None,
            "knobs": [k.to_json() for k in self.knobs],
        }


def _sorted(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diags, key=lambda d: (d.span, d.code))


def check_program(
    program: ast.Program,
    source: str = "",
    path: str = "<input>",
    *,
    strict: bool = False,
    beta: float = 0.5,
    grid_points: int = GRID_POINTS,
    params: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Check a parsed program. Never raises on a bad program: every finding
    is a diagnostic in the report.

    `params` are the `--param` values of a run (params, or knobs pinned to a
    constant): the checker then judges the program as that run executes it
    (every knob and range over β ∈ [0, 1] with those values); a bad value is
    E107. Without them, params are their defaults."""
    given = dict(params or {})
    report = CheckReport(path, source, beta, strict, program)
    try:
        compiled = compile_program(program, beta, given, source=source, path=path)
    except DiagnosticError as err:
        report.diagnostics = _sorted(list(err.diagnostics))
        return report
    pinned = {n: compiled.constants[n] for n in given if n in compiled.constants}
    ctx = Context(program, source, path, strict=strict, grid_points=grid_points, pinned=pinned)
    ranges = Ranges(ctx, format_expr)
    proofs = prove_schedule(ctx, ranges.ev, format_expr)
    check_declarations(ranges)
    RangeWalker(ranges).run()
    Admissibility(ctx).run()
    report.cost = check_cost(ctx)
    polarity = Polarity(ctx).run()
    Lints(ctx).run()
    report.diagnostics = _sorted(ctx.diags)
    report.params = dict(compiled.params)
    report.limits = {
        "max_branches": compiled.max_branches,
        "max_rounds": compiled.max_rounds,
        "fuel": compiled.fuel,
    }
    report.knobs = [_row(p, compiled.knobs.get(p.name), polarity[p.name]) for p in proofs]
    return report


def _row(p: KnobProof, value: Any, pol: KnobPolarity) -> KnobRow:
    return KnobRow(
        p.name,
        p.type,
        p.declared,
        p.proved,
        p.status,
        value,
        p.range,
        p.reason,
        p.counterexample,
        pol,
    )


def check_source(
    source: str,
    path: str = "<input>",
    *,
    strict: bool = False,
    beta: float = 0.5,
    grid_points: int = GRID_POINTS,
    params: Mapping[str, Any] | None = None,
    cached: bool = False,
) -> CheckReport:
    """Parse and check program text; syntax errors become the report's
    diagnostics. `cached`: the text is a program file's, whose AST may come
    from the parse cache (parser.parse)."""
    try:
        program = parse(source, path, cached=cached)
    except DiagnosticError as err:
        return CheckReport(path, source, beta, strict, None, _sorted(list(err.diagnostics)))
    except RecursionError:
        msg = "the program nests too deeply to parse"
        diag = Diagnostic("E001", "error", msg, Span(1, 1, 1, 2))
        return CheckReport(path, source, beta, strict, None, [diag])
    return check_program(
        program, source, path, strict=strict, beta=beta, grid_points=grid_points, params=params
    )


def explain(
    program: ast.Program,
    source: str = "",
    path: str = "<input>",
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
) -> CheckReport:
    """The report `tts-dsl explain` prints: knob values at β, ranges over
    [0, 1], declared and proved directions, polarity per use site, and the
    static cost bound of an episode."""
    return check_program(program, source, path, beta=beta, params=params)
