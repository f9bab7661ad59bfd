"""Declarations (params, schedule, limits, state, branch fields) and the
entry point that compiles a whole program for one β."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .. import ast
from ..builtins import (
    FIELDS_BY_NAME,
    Window,
    int64,
)
from ..diagnostics import DiagnosticError, Span, did_you_mean
from ..replay.store import NO_ANSWER
from ..types import DECLARABLE, NUMERIC, T
from .base import (
    DEFAULT_FUEL,
    DEFAULT_MAX_BRANCHES,
    DEFAULT_MAX_ROUNDS,
    LIMIT_MAXIMUM,
    LIMIT_MINIMUM,
    LIMIT_NAMES,
    MAX_WINDOW,
    MAX_WINDOW_TOTAL,
    Compiled,
    Sym,
    _Const,
    _noop,
    _Scope,
)
from .stmts import StmtCompiler

_MISSING = object()  # a declaration whose value could not be computed


class ProgramCompiler(StmtCompiler):
    def const_eval(self, expr: ast.Expr, scope: _Scope, what: str) -> tuple[Any, T | None]:
        fn, typ = self.expr(expr, scope)
        if typ is None:
            return None, None
        if not isinstance(fn, _Const):
            self.error(
                "E110",
                f"{what} must be a constant expression",
                expr.span,
                label="depends on run-time state",
                hint="use literals, `beta`, params and earlier knobs only",
            )
            return None, None
        return fn.value, typ

    def coerce(self, value: Any, have: T, want: T, span: Span, what: str) -> Any:
        if want is T.FLOAT and have in NUMERIC:
            return float(value)
        if want is have or (want is T.ANSWER and have is T.NONE):
            return value
        hint = (
            "wrap it in round(...), floor(...) or ceil(...)"
            if want is T.INT and have is T.FLOAT
            else ""
        )
        self.error(
            "E105",
            f"{what} is declared `{want}` but the expression is `{have}`",
            span,
            label=f"this is {have}",
            hint=hint,
        )
        return value

    def declared_type(self, ref: ast.TypeRef, allow_window: bool) -> T | None:
        if ref.name in DECLARABLE and ref.size is None:
            return DECLARABLE[ref.name]
        if ref.name == "window" and allow_window:
            return T.WINDOW
        allowed = ", ".join([*DECLARABLE, *(["window(n)"] if allow_window else [])])
        self.error(
            "E106",
            f"unknown type `{ref.name}`",
            ref.span,
            label="not a type",
            hint=f"types here: {allowed}",
        )
        return None

    def parse_override(self, name: str, typ: T, span: Span) -> Any:
        raw = self.overrides.pop(name)
        try:
            if typ is T.INT:
                v = int(raw) if not isinstance(raw, float) or raw.is_integer() else int("x")
                return int64(v)
            if typ is T.FLOAT:
                f = float(raw)
                if not math.isfinite(f):
                    raise ValueError(raw)
                return f
            if typ is T.BOOL:
                if isinstance(raw, bool):
                    return raw
                if str(raw).lower() in ("true", "false"):
                    return str(raw).lower() == "true"
                raise ValueError(raw)
        except (TypeError, ValueError, OverflowError):
            pass
        self.error(
            "E107",
            f"--param {name}={raw!r} is not a valid {typ}"
            + (" (a finite number; ints are 64-bit)" if typ in NUMERIC else ""),
            span,
            label="declared here",
        )
        return _MISSING

    def declared_value(self, name: str, want: T, expr: ast.Expr, span: Span, kind: str) -> Any:
        """A param's or knob's value: its `--param` override, else its
        expression evaluated as a constant; `_MISSING` after an error."""
        if name in self.overrides:
            return self.parse_override(name, want, span)
        what = f"default of param `{name}`" if kind == "param" else f"knob `{name}`"
        v, have = self.const_eval(expr, self.global_scope, what)
        if have is None:
            return _MISSING
        return self.coerce(v, have, want, expr.span, f"{kind} `{name}`")

    def compile_decls(self) -> tuple[dict[str, Any], dict[str, Any]]:
        g = self.global_scope
        g.names["beta"] = Sym("const", T.FLOAT, value=self.beta)
        params: dict[str, Any] = {}
        for p in self.program.params:
            want = DECLARABLE.get(p.type)
            if want is None or want is T.ANSWER:
                self.error(
                    "E106",
                    f"unknown param type `{p.type}`",
                    p.span,
                    hint="params are int, float or bool",
                )
                self.declare(g, p.name, Sym("const", None), p.span)
                continue
            value = self.declared_value(p.name, want, p.default, p.span, "param")
            if value is _MISSING:
                # Declared without a type: its uses raise no follow-on errors.
                self.declare(g, p.name, Sym("const", None), p.span)
                continue
            params[p.name] = value
            self.declare(g, p.name, Sym("const", want, value=value), p.span)
        knobs: dict[str, Any] = {}
        for k in self.program.knobs:
            want = DECLARABLE.get(k.type)
            if want not in NUMERIC:
                self.error("E106", f"knob type must be int or float, not `{k.type}`", k.span)
                self.declare(g, k.name, Sym("const", None), k.span)
                continue
            value = self.declared_value(k.name, want, k.expr, k.span, "knob")
            if value is _MISSING:
                self.declare(g, k.name, Sym("const", None), k.span)
                continue
            knobs[k.name] = value
            self.declare(g, k.name, Sym("const", want, value=value), k.span)
        return params, knobs

    def compile_limits(self) -> tuple[int, int, int]:
        values: dict[str, int] = {}
        for lim in self.program.limits:
            if lim.name not in LIMIT_NAMES:
                self.error(
                    "E108",
                    f"unknown limit `{lim.name}`",
                    lim.span,
                    hint=did_you_mean(lim.name, LIMIT_NAMES)
                    or f"limits are: {', '.join(LIMIT_NAMES)}",
                )
                continue
            v, have = self.const_eval(lim.expr, self.global_scope, f"limit `{lim.name}`")
            if have is None:
                continue
            if have is not T.INT:
                self.error("E105", f"limit `{lim.name}` must be an int", lim.expr.span)
                continue
            low, high = LIMIT_MINIMUM[lim.name], LIMIT_MAXIMUM[lim.name]
            if v < low:
                self.error("E109", f"limit `{lim.name}` must be >= {low}, got {v}", lim.expr.span)
                continue
            if v > high:
                self.error(
                    "E109",
                    f"limit `{lim.name}` must be <= {high:,}, got {v:,}",
                    lim.expr.span,
                    label="above the language's cap",
                    hint=f"the most a program may declare is {lim.name} = {high}",
                )
                continue
            values[lim.name] = v
        return (
            values.get("max_branches", DEFAULT_MAX_BRANCHES),
            values.get("max_rounds", DEFAULT_MAX_ROUNDS),
            values.get("fuel", DEFAULT_FUEL),
        )

    def compile_state(self) -> tuple[Callable[[], list[Any]], tuple[str, ...]]:
        makers: list[Callable[[], Any]] = []
        names: list[str] = []
        g = self.global_scope
        total_window = 0
        for slot, d in enumerate(self.program.state):
            typ = self.declared_type(d.type, allow_window=True)
            if typ is None:
                continue
            names.append(d.name)
            if typ is T.WINDOW:
                assert d.type.size is not None
                size, st = self.const_eval(d.type.size, g, f"size of window `{d.name}`")
                if st is not None and (st is not T.INT or not 1 <= size <= MAX_WINDOW):
                    self.error(
                        "E109",
                        f"a window size must be an int in [1, {MAX_WINDOW:,}]"
                        + (f", got {size:,}" if st is T.INT else ""),
                        d.type.size.span,
                    )
                    size = 1
                if d.init is not None:
                    self.error(
                        "E110", "a window starts empty and takes no initial value", d.init.span
                    )
                cap = int(size) if isinstance(size, int) else 1
                if total_window + cap > MAX_WINDOW_TOTAL:
                    self.error(
                        "E109",
                        f"windows may hold at most {MAX_WINDOW_TOTAL:,} entries in all; "
                        f"`{d.name}` brings them to {total_window + cap:,}",
                        d.type.size.span,
                    )
                    cap = 1
                total_window += cap
                makers.append(lambda cap=cap: Window(cap))  # type: ignore[misc]
                self.declare(g, d.name, Sym("state", T.WINDOW, slot=slot, size=cap), d.span)
                continue
            value = self.initial_value(d, typ)
            makers.append(lambda v=value: v)  # type: ignore[misc]
            self.declare(g, d.name, Sym("state", typ, slot=slot), d.span)

        def make_state() -> list[Any]:
            return [m() for m in makers]

        return make_state, tuple(names)

    def initial_value(self, d: ast.VarDecl, typ: T) -> Any:
        if d.init is None:
            return NO_ANSWER if typ is T.ANSWER else {T.INT: 0, T.FLOAT: 0.0, T.BOOL: False}[typ]
        v, have = self.const_eval(d.init, self.global_scope, f"initial value of `{d.name}`")
        if have is None:
            return None
        return self.coerce(v, have, typ, d.init.span, f"`{d.name}`")

    def compile_fields(self) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        inits: list[Any] = []
        names: list[str] = []
        for d in self.program.branch_fields:
            typ = self.declared_type(d.type, allow_window=False)
            if typ is None:
                continue
            if d.name in FIELDS_BY_NAME or d.name in self.fields:
                self.error(
                    "E104",
                    f"branch field `{d.name}` is already defined",
                    d.span,
                    hint="built-in fields: " + ", ".join(FIELDS_BY_NAME),
                )
                continue
            self.fields[d.name] = (len(inits), typ)
            inits.append(self.initial_value(d, typ))
            names.append(d.name)
        return tuple(inits), tuple(names)


def compile_program(
    program: ast.Program,
    beta: float,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "",
    path: str = "<input>",
    tracing: bool = False,
) -> Compiled:
    """Specialise `program` to β (and `--param` overrides) and compile it.

    Raises `DiagnosticError` with every name/type error found.
    """
    comp = ProgramCompiler(program, beta, overrides or {}, tracing, source)
    params, knobs = comp.compile_decls()
    for name in list(comp.overrides):
        comp.error(
            "E107",
            f"--param {name}: no param or knob of that name",
            program.span,
            hint=did_you_mean(name, [*params, *knobs])
            or f"params: {', '.join(params) or '-'}; knobs: {', '.join(knobs) or '-'}",
        )
    max_branches, max_rounds, fuel = comp.compile_limits()
    comp.max_branches = max_branches
    make_state, state_names = comp.compile_state()
    field_inits, field_names = comp.compile_fields()
    comp.field_inits = field_inits
    comp.in_body = True
    if program.final is None:
        comp.error(
            "E120",
            "missing `finally { ... }`: every controller needs a final aggregator",
            program.span,
            hint="e.g. `finally { answer winner(completed) }`",
        )
    comp.in_init = True
    init = comp.block(program.init.body, comp.global_scope) if program.init else _noop
    comp.in_init = False
    rnd = comp.block(program.round.body, comp.global_scope) if program.round else _noop
    comp.in_final = True
    final = comp.block(program.final.body, comp.global_scope) if program.final else _noop
    if comp.diags:
        raise DiagnosticError(sorted(comp.diags, key=lambda d: d.span), source, path)
    return Compiled(
        program=program,
        beta=beta,
        knobs=knobs,
        params=params,
        max_branches=max_branches,
        max_rounds=max_rounds,
        fuel=fuel,
        init=init,
        round=rnd,
        final=final,
        make_state=make_state,
        field_inits=field_inits,
        n_locals=comp.n_locals,
        state_names=state_names,
        field_names=field_names,
        source=source,
        path=path,
    )
