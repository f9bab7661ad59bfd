"""What every checker pass shares: the program's declarations, their ranges
and directions, the β grid, and the list of diagnostics being built."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from .. import ast
from ..compiler import DEFAULT_FUEL, DEFAULT_MAX_ROUNDS, compile_program
from ..compiler.base import DEFAULT_MAX_BRANCHES
from ..diagnostics import Diagnostic, DiagnosticError, Severity, Span
from ..records import record
from ..types import DECLARABLE, T
from .intervals import Binding, Env, Interval, Val

GRID_POINTS = 1001

Direction = str  # "up" | "down" | "const" | "unknown"


@record(frozen=False)
class Context:
    program: ast.Program
    source: str
    path: str
    strict: bool = False
    grid_points: int = GRID_POINTS
    # `--param` values of the run being checked (params and pinned knobs), as
    # the compiler parsed them: these replace the defaults everywhere
    pinned: dict[str, Any] = field(default_factory=dict)
    diags: list[Diagnostic] = field(default_factory=list)
    params: dict[str, ast.Param] = field(default_factory=dict)
    knobs: dict[str, ast.Knob] = field(default_factory=dict)
    state: dict[str, ast.VarDecl] = field(default_factory=dict)
    fields: dict[str, ast.VarDecl] = field(default_factory=dict)
    param_vals: dict[str, Val] = field(default_factory=dict)
    knob_vals: dict[str, Val] = field(default_factory=dict)
    # the direction each knob (and param) is taken to have by later proofs
    directions: dict[str, Direction] = field(default_factory=dict)
    limits: dict[str, Interval] = field(default_factory=dict)
    windows: dict[str, Interval] = field(default_factory=dict)
    _grid: list[tuple[float, dict[str, Any]]] | None = None
    _ends: list[tuple[float, dict[str, Any]]] | None = None
    # grid points where the schedule fails to evaluate: (β, the compiler's errors)
    failures: list[tuple[float, tuple[Diagnostic, ...]]] = field(default_factory=list)
    _seen: set[tuple[str, Span, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        p = self.program
        self.params = {x.name: x for x in p.params}
        self.knobs = {k.name: k for k in p.knobs}
        self.state = {d.name: d for d in p.state}
        self.fields = {d.name: d for d in p.branch_fields}
        self.limits = {
            "max_branches": Interval.point(DEFAULT_MAX_BRANCHES, True),
            "max_rounds": Interval.point(DEFAULT_MAX_ROUNDS, True),
            "fuel": Interval.point(DEFAULT_FUEL, True),
        }

    # -- diagnostics ------------------------------------------------------------

    def add(
        self,
        code: str,
        severity: Severity,
        message: str,
        span: Span,
        label: str = "",
        hint: str = "",
        notes: tuple[str, ...] = (),
    ) -> None:
        key = (code, span, message)
        if key not in self._seen:
            self._seen.add(key)
            self.diags.append(
                Diagnostic(code, severity, message, span, label=label, hint=hint, notes=notes)
            )

    # -- names --------------------------------------------------------------------

    def field_types(self) -> dict[str, T]:
        return {
            n: DECLARABLE[d.type.name] for n, d in self.fields.items() if d.type.name in DECLARABLE
        }

    def global_env(self) -> Env:
        """β, params, knobs and state variables with their ranges."""
        env = Env()
        env.names["beta"] = Binding("beta", Val(Interval(0.0, 1.0), T.FLOAT, True))
        for name, v in self.param_vals.items():
            env.names[name] = Binding("param", v, node=self.params[name])
        for name, v in self.knob_vals.items():
            env.names[name] = Binding("knob", v, node=self.knobs[name])
        for name, d in self.state.items():
            if d.type.name == "window":
                size = self.windows.get(name, Interval(1, math.inf, True))
                env.names[name] = Binding(
                    "window", Val(Interval.make(0, size.hi, True), T.WINDOW, False), node=d
                )
            else:
                typ = DECLARABLE.get(d.type.name)
                env.names[name] = Binding(
                    "state", Val(Interval.top(typ is T.INT), typ, False), node=d
                )
        return env

    def snippet(self, span: Span) -> str:
        lines = self.source.splitlines()
        if span.line < 1 or span.line > len(lines) or span.end_line != span.line:
            return ""
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]

    # -- the β grid -------------------------------------------------------------------

    def grid(self) -> list[tuple[float, dict[str, Any]]]:
        """(β, params and knob values) at every grid point, from the real
        compiler; points where the schedule fails to evaluate are left out.
        Built on first use: only failing proofs and range checks need it."""
        if self._grid is None:
            self._grid = self._evaluate(max(2, self.grid_points))
        return self._grid

    def endpoints(self) -> list[tuple[float, dict[str, Any]]]:
        """The schedule at β = 0 and β = 1 (fewer entries where it fails)."""
        if self._ends is None:
            self._ends = (
                [g for g in self._grid if g[0] in (0.0, 1.0)]
                if self._grid is not None
                else self._evaluate(2)
            )
        return self._ends

    def _evaluate(self, n: int) -> list[tuple[float, dict[str, Any]]]:
        schedule_only = dataclasses.replace(
            self.program,
            limits=(),
            state=(),
            branch_fields=(),
            init=None,
            round=None,
            final=ast.Block(()),
        )
        out: list[tuple[float, dict[str, Any]]] = []
        for i in range(n):
            beta = i / (n - 1)
            try:
                c = compile_program(schedule_only, beta, self.pinned)
            except DiagnosticError as err:
                if n > 2:
                    self.failures.append((beta, err.diagnostics))
                continue
            except (ArithmeticError, ValueError, TypeError):
                continue
            out.append((beta, c.constants))
        return out

    def grid_envs(self) -> Iterator[tuple[float, Env]]:
        """A point environment (β, params and knobs exact) per grid point."""
        for beta, values in self.grid():
            env = Env()
            env.names["beta"] = Binding("beta", Val(Interval.point(beta), T.FLOAT, True))
            for name, v in values.items():
                kind = "param" if name in self.params else "knob"
                decl = self.params.get(name) or self.knobs.get(name)
                typ = DECLARABLE.get(decl.type if decl is not None else "float")
                integral = isinstance(v, int) and not isinstance(v, bool)
                env.names[name] = Binding(
                    kind,  # type: ignore[arg-type]
                    Val(Interval.point(int(v) if integral else float(v), integral), typ, True),
                )
            yield beta, env


def fmt_beta(beta: float) -> str:
    return f"{beta:.3f}".rstrip("0").rstrip(".") if beta not in (0.0, 1.0) else str(int(beta))


def fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
