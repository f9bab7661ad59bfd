"""Name resolution, typing and compilation of a program to closures.

`compile_program(program, beta, overrides)` evaluates the schedule, params
and limits to constants (the knobs of one β), resolves every name, checks
types, and turns every expression and statement into a Python closure over
a `Ctx`. Constant subexpressions are folded. Type and name errors are
collected as diagnostics and raised together as one `DiagnosticError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .builtins import (
    FIELDS_BY_NAME,
    RESERVED,
    VALUES_BY_NAME,
    Builtin,
    Window,
    overloads,
)
from .diagnostics import Diagnostic, DiagnosticError, Span, did_you_mean
from .replay.episode import Episode
from .replay.store import NO_ANSWER
from .runtime import AnswerGiven, AnswerRef, Ctx, RuntimeFault, StopRounds
from .types import DECLARABLE, NUMERIC, T, accepts, unify_numeric

Fn = Callable[[Ctx], Any]
Action = Callable[[Ctx], None]

DEFAULT_FUEL = 1_000_000
DEFAULT_MAX_ROUNDS = 1000
LIMIT_MINIMUM = {"max_branches": 0, "max_rounds": 0, "fuel": 1}
LIMIT_NAMES = tuple(LIMIT_MINIMUM)


class _Const:
    """Marks a folded constant closure (so callers can fold further)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, c: Ctx) -> Any:
        return self.value


@dataclass
class Sym:
    kind: str  # const | state | local | branchvar | value
    type: T | None  # None: its definition had an error (suppresses follow-on errors)
    slot: int = -1
    value: Any = None
    size: int = 0  # window capacity


@dataclass
class Compiled:
    """A program specialised to one β and one set of parameters."""

    program: ast.Program
    beta: float
    knobs: dict[str, Any]
    params: dict[str, Any]
    max_branches: int
    max_rounds: int
    fuel: int
    init: Action
    round: Action
    final: Action
    make_state: Callable[[], list[Any]]
    field_inits: tuple[Any, ...]
    n_locals: int
    state_names: tuple[str, ...] = ()
    field_names: tuple[str, ...] = ()
    source: str = ""
    path: str = ""

    @property
    def constants(self) -> dict[str, Any]:
        return {**self.params, **self.knobs}


@dataclass
class _Scope:
    names: dict[str, Sym] = field(default_factory=dict)
    parent: _Scope | None = None

    def lookup(self, name: str) -> Sym | None:
        s: _Scope | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def all_names(self) -> list[str]:
        out: list[str] = []
        s: _Scope | None = self
        while s is not None:
            out.extend(s.names)
            s = s.parent
        return out


class _Compiler:
    def __init__(
        self,
        program: ast.Program,
        beta: float,
        overrides: Mapping[str, Any],
        tracing: bool,
        source: str,
    ) -> None:
        self.program = program
        self.beta = beta
        self.overrides = dict(overrides)
        self.tracing = tracing
        self.source_lines = source.split("\n")
        self.diags: list[Diagnostic] = []
        self.n_locals = 0
        self.global_scope = _Scope()
        self.fields: dict[str, tuple[int, T]] = {}
        self.max_branches = 1 << 30
        self.in_final = False

    # -- diagnostics -------------------------------------------------------------

    def error(self, code: str, message: str, span: Span, label: str = "", hint: str = "") -> None:
        self.diags.append(Diagnostic(code, "error", message, span, label=label, hint=hint))

    # -- declarations --------------------------------------------------------------

    def declare(self, scope: _Scope, name: str, sym: Sym, span: Span) -> None:
        if name in RESERVED:
            self.error(
                "E103",
                f"`{name}` is a builtin name and cannot be redeclared",
                span,
                label="reserved",
                hint="choose another name",
            )
            return
        if scope.lookup(name) is not None:
            self.error(
                "E104",
                f"`{name}` is already defined",
                span,
                label="redefined here",
                hint="names cannot be shadowed; choose another name",
            )
            return
        scope.names[name] = sym

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
                return int(raw) if not isinstance(raw, float) or raw.is_integer() else int("x")
            if typ is T.FLOAT:
                return float(raw)
            if typ is T.BOOL:
                if isinstance(raw, bool):
                    return raw
                if str(raw).lower() in ("true", "false"):
                    return str(raw).lower() == "true"
                raise ValueError(raw)
        except (TypeError, ValueError):
            pass
        self.error(
            "E107", f"--param {name}={raw!r} is not a valid {typ}", span, label="declared here"
        )
        return None

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
                continue
            if p.name in self.overrides:
                value = self.parse_override(p.name, want, p.span)
            else:
                v, have = self.const_eval(p.default, g, f"default of param `{p.name}`")
                if have is None:
                    continue
                value = self.coerce(v, have, want, p.default.span, f"param `{p.name}`")
            params[p.name] = value
            self.declare(g, p.name, Sym("const", want, value=value), p.span)
        knobs: dict[str, Any] = {}
        for k in self.program.knobs:
            want = DECLARABLE.get(k.type)
            if want not in NUMERIC:
                self.error("E106", f"knob type must be int or float, not `{k.type}`", k.span)
                continue
            if k.name in self.overrides:
                value = self.parse_override(k.name, want, k.span)
            else:
                v, have = self.const_eval(k.expr, g, f"knob `{k.name}`")
                if have is None:
                    continue
                value = self.coerce(v, have, want, k.expr.span, f"knob `{k.name}`")
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
            low = LIMIT_MINIMUM[lim.name]
            if v < low:
                self.error("E109", f"limit `{lim.name}` must be >= {low}, got {v}", lim.expr.span)
                continue
            values[lim.name] = v
        return (
            values.get("max_branches", 1 << 30),
            values.get("max_rounds", DEFAULT_MAX_ROUNDS),
            values.get("fuel", DEFAULT_FUEL),
        )

    def compile_state(self) -> tuple[Callable[[], list[Any]], tuple[str, ...]]:
        makers: list[Callable[[], Any]] = []
        names: list[str] = []
        g = self.global_scope
        for slot, d in enumerate(self.program.state):
            typ = self.declared_type(d.type, allow_window=True)
            if typ is None:
                continue
            names.append(d.name)
            if typ is T.WINDOW:
                assert d.type.size is not None
                size, st = self.const_eval(d.type.size, g, f"size of window `{d.name}`")
                if st is not None and (st is not T.INT or size < 1):
                    self.error("E109", "a window size must be an int >= 1", d.type.size.span)
                    size = 1
                if d.init is not None:
                    self.error(
                        "E110", "a window starts empty and takes no initial value", d.init.span
                    )
                cap = int(size) if isinstance(size, int) else 1
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

    # -- expressions -----------------------------------------------------------------

    def expr(self, e: ast.Expr, scope: _Scope) -> tuple[Fn, T | None]:
        method = getattr(self, "expr_" + type(e).__name__)
        result: tuple[Fn, T | None] = method(e, scope)
        return result

    def expr_IntLit(self, e: ast.IntLit, scope: _Scope) -> tuple[Fn, T | None]:
        return _Const(e.value), T.INT

    def expr_FloatLit(self, e: ast.FloatLit, scope: _Scope) -> tuple[Fn, T | None]:
        return _Const(e.value), T.FLOAT

    def expr_BoolLit(self, e: ast.BoolLit, scope: _Scope) -> tuple[Fn, T | None]:
        return _Const(e.value), T.BOOL

    def expr_NoneLit(self, e: ast.NoneLit, scope: _Scope) -> tuple[Fn, T | None]:
        return _Const(NO_ANSWER), T.NONE

    def expr_Name(self, e: ast.Name, scope: _Scope) -> tuple[Fn, T | None]:
        sym = scope.lookup(e.id)
        if sym is not None:
            if sym.type is None:
                return _Const(0), None
            if sym.kind == "const":
                return _Const(sym.value), sym.type
            slot = sym.slot
            if sym.kind == "state":
                return (lambda c: c.state[slot]), sym.type
            return (lambda c: c.locals[slot]), sym.type
        bv = VALUES_BY_NAME.get(e.id)
        if bv is not None and bv.kind != "beta":
            if scope is self.global_scope or not self.in_body:
                self.error(
                    "E111",
                    f"`{e.id}` is run-time state and cannot be used here",
                    e.span,
                    label="not a constant",
                    hint="schedules, params and limits see only `beta`, params and knobs",
                )
                return _Const(0), None
            return _value_reader(e.id), bv.type
        if e.id in ("True", "False", "None"):
            hint = f"literals are lower case: `{e.id.lower()}`"
        elif e.id == "gold" or e.id.startswith("gold"):
            hint = "the gold answer is not visible to controllers"
        else:
            candidates = scope.all_names() + [v.name for v in VALUES_BY_NAME.values()]
            hint = did_you_mean(e.id, candidates)
        self.error("E101", f"unknown name `{e.id}`", e.span, label="not defined", hint=hint)
        return _Const(0), None

    in_body = False

    def expr_Field(self, e: ast.Field, scope: _Scope) -> tuple[Fn, T | None]:
        obj_fn, obj_t = self.expr(e.obj, scope)
        if obj_t is None:
            return _Const(0), None
        if obj_t is not T.BRANCH:
            self.error(
                "E102",
                f"`.{e.name}` needs a branch, but this is `{obj_t}`",
                e.obj.span,
                label=f"{obj_t}",
            )
            return _Const(0), None
        slot = self.branch_slot(e.obj, scope)
        if e.name in self.fields:
            k, typ = self.fields[e.name]
            if slot is not None:
                return (lambda c: c.fields[k][c.locals[slot]]), typ
            return (lambda c: c.fields[k][obj_fn(c)]), typ
        bf = FIELDS_BY_NAME.get(e.name)
        if bf is None:
            self.error(
                "E101",
                f"branches have no field `{e.name}`",
                e.span,
                label="unknown field",
                hint=did_you_mean(e.name, [*FIELDS_BY_NAME, *self.fields])
                or "declare it in a `branch { ... }` section",
            )
            return _Const(0), None
        if slot is not None:
            return _slot_field_reader(e.name, slot), bf.type
        return _field_reader(e.name, obj_fn), bf.type

    def branch_slot(self, e: ast.Expr, scope: _Scope) -> int | None:
        """The local slot when `e` is a loop variable (lets field reads skip a call)."""
        if isinstance(e, ast.Name):
            sym = scope.lookup(e.id)
            if sym is not None and sym.kind == "branchvar":
                return sym.slot
        return None

    def expr_Unary(self, e: ast.Unary, scope: _Scope) -> tuple[Fn, T | None]:
        fn, t = self.expr(e.operand, scope)
        if t is None:
            return fn, None
        if e.op == "not":
            if t is not T.BOOL:
                self.error("E102", f"`not` needs a bool, got `{t}`", e.operand.span)
                return fn, None
            if isinstance(fn, _Const):
                return _Const(not fn.value), T.BOOL
            return (lambda c: not fn(c)), T.BOOL
        if t not in NUMERIC:
            self.error("E102", f"unary `-` needs a number, got `{t}`", e.operand.span)
            return fn, None
        if isinstance(fn, _Const):
            return _Const(-fn.value), t
        return (lambda c: -fn(c)), t

    def expr_Binary(self, e: ast.Binary, scope: _Scope) -> tuple[Fn, T | None]:
        lf, lt = self.expr(e.left, scope)
        rf, rt = self.expr(e.right, scope)
        if lt is None or rt is None:
            return _Const(0), None
        for side, t in ((e.left, lt), (e.right, rt)):
            if t not in NUMERIC:
                self.error(
                    "E102", f"`{e.op}` needs numbers, but this is `{t}`", side.span, label=str(t)
                )
                return _Const(0), None
        op = e.op
        result = T.FLOAT if op == "/" else unify_numeric(lt, rt)
        span = e.span
        impl = _BINARY[op]
        if op in ("/", "//", "%"):

            def fn(c: Ctx) -> Any:
                b = rf(c)
                if b == 0:
                    raise RuntimeFault(f"division by zero in `{op}`", span)
                return impl(lf(c), b)
        else:

            def fn(c: Ctx) -> Any:
                return impl(lf(c), rf(c))

        if isinstance(lf, _Const) and isinstance(rf, _Const):
            try:
                return _Const(fn(None)), result  # type: ignore[arg-type]
            except RuntimeFault as fault:
                self.error("E112", fault.message, span)
                return _Const(0), None
            except (OverflowError, ValueError) as exc:
                self.error("E112", f"arithmetic error: {exc}", span)
                return _Const(0), None
        return fn, result

    def expr_Compare(self, e: ast.Compare, scope: _Scope) -> tuple[Fn, T | None]:
        lf, lt = self.expr(e.left, scope)
        rf, rt = self.expr(e.right, scope)
        if lt is None or rt is None:
            return _Const(False), None
        answerish = (T.ANSWER, T.NONE)
        if lt in answerish or rt in answerish:
            if not (lt in answerish and rt in answerish):
                self.error(
                    "E102",
                    f"cannot compare `{lt}` with `{rt}`",
                    e.span,
                    hint="answers compare only with answers (or `none`)",
                )
                return _Const(False), None
            if e.op not in ("==", "!="):
                self.error(
                    "E113",
                    f"answers are unordered: `{e.op}` is not defined on them",
                    e.span,
                    hint="compare answers with `==` or `!=`",
                )
                return _Const(False), None
        elif not (
            (lt in NUMERIC and rt in NUMERIC)
            or (lt is T.BOOL and rt is T.BOOL and e.op in ("==", "!="))
        ):
            self.error("E102", f"cannot compare `{lt}` with `{rt}` using `{e.op}`", e.span)
            return _Const(False), None
        impl = _COMPARE[e.op]
        if isinstance(lf, _Const) and isinstance(rf, _Const):
            return _Const(impl(lf.value, rf.value)), T.BOOL
        if isinstance(rf, _Const):
            rv = rf.value
            return (lambda c: impl(lf(c), rv)), T.BOOL
        return (lambda c: impl(lf(c), rf(c))), T.BOOL

    def expr_BoolOp(self, e: ast.BoolOp, scope: _Scope) -> tuple[Fn, T | None]:
        lf, lt = self.expr(e.left, scope)
        rf, rt = self.expr(e.right, scope)
        for side, t in ((e.left, lt), (e.right, rt)):
            if t is not None and t is not T.BOOL:
                self.error(
                    "E102", f"`{e.op}` needs bools, but this is `{t}`", side.span, label=str(t)
                )
                return _Const(False), None
        if lt is None or rt is None:
            return _Const(False), None
        if e.op == "and":
            if isinstance(lf, _Const):
                return (rf, T.BOOL) if lf.value else (_Const(False), T.BOOL)
            return (lambda c: lf(c) and rf(c)), T.BOOL
        if isinstance(lf, _Const):
            return (_Const(True), T.BOOL) if lf.value else (rf, T.BOOL)
        return (lambda c: lf(c) or rf(c)), T.BOOL

    def expr_Cond(self, e: ast.Cond, scope: _Scope) -> tuple[Fn, T | None]:
        tf, tt = self.expr(e.test, scope)
        af, at = self.expr(e.then, scope)
        bf, bt = self.expr(e.other, scope)
        if tt is not None and tt is not T.BOOL:
            self.error("E102", f"the condition of `? :` must be a bool, got `{tt}`", e.test.span)
            return _Const(0), None
        if tt is None or at is None or bt is None:
            return _Const(0), None
        if at in NUMERIC and bt in NUMERIC:
            typ = unify_numeric(at, bt)
        elif at is bt or {at, bt} <= {T.ANSWER, T.NONE}:
            typ = T.ANSWER if T.NONE in (at, bt) and at is not bt else at
        else:
            self.error("E102", f"the two arms of `? :` differ: `{at}` and `{bt}`", e.span)
            return _Const(0), None
        if isinstance(tf, _Const):
            return (af if tf.value else bf), typ
        return (lambda c: af(c) if tf(c) else bf(c)), typ

    def expr_Coalesce(self, e: ast.Coalesce, scope: _Scope) -> tuple[Fn, T | None]:
        lf, lt = self.expr(e.left, scope)
        rf, rt = self.expr(e.right, scope)
        for side, t in ((e.left, lt), (e.right, rt)):
            if t is not None and t not in (T.ANSWER, T.NONE):
                self.error("E102", f"`??` works on answers, but this is `{t}`", side.span)
                return _Const(NO_ANSWER), None
        if lt is None or rt is None:
            return _Const(NO_ANSWER), None

        def fn(c: Ctx) -> int:
            a: int = lf(c)
            if a != NO_ANSWER:
                return a
            b: int = rf(c)
            return b

        return fn, T.ANSWER

    def branch_var_scope(self, var: str, scope: _Scope, span: Span) -> tuple[_Scope, int]:
        inner = _Scope(parent=scope)
        slot = self.new_local()
        self.declare(inner, var, Sym("branchvar", T.BRANCH, slot=slot), span)
        return inner, slot

    def new_local(self) -> int:
        self.n_locals += 1
        return self.n_locals - 1

    def set_source(self, src: ast.Expr, scope: _Scope) -> Fn | None:
        fn, t = self.expr(src, scope)
        if t is None:
            return None
        if t is not T.SET:
            self.error(
                "E102",
                f"expected a set of branches, got `{t}`",
                src.span,
                hint="sets: running, alive, finished, pruned, opened",
            )
            return None
        return fn

    def filtered(
        self, var: str, source: ast.Expr, where: ast.Expr | None, scope: _Scope, span: Span
    ) -> tuple[Fn | None, _Scope, int]:
        src = self.set_source(source, scope)
        inner, slot = self.branch_var_scope(var, scope, span)
        if where is None:
            return src, inner, slot
        cond, ct = self.expr(where, inner)
        if ct is not None and ct is not T.BOOL:
            self.error("E102", f"`where` needs a bool, got `{ct}`", where.span)
            return None, inner, slot
        if src is None:
            return None, inner, slot
        s = src

        def fn(c: Ctx) -> list[int]:
            loc = c.locals
            out = []
            for i in s(c):
                loc[slot] = i
                if cond(c):
                    out.append(i)
            return out

        return fn, inner, slot

    def expr_Query(self, e: ast.Query, scope: _Scope) -> tuple[Fn, T | None]:
        fn, _, _ = self.filtered(e.var, e.source, e.where, scope, e.span)
        return (fn, T.SET) if fn is not None else (_Const([]), None)

    def expr_Generator(self, e: ast.Generator, scope: _Scope) -> tuple[Fn, T | None]:
        src, inner, slot = self.filtered(e.var, e.source, e.where, scope, e.span)
        vf, vt = self.expr(e.value, inner)
        if src is None or vt is None:
            return _Const([]), None
        s = src

        def fn(c: Ctx) -> list[Any]:
            loc = c.locals
            out = []
            for i in s(c):
                loc[slot] = i
                out.append(vf(c))
            return out

        self._gen_elem = vt
        return fn, T.GEN

    _gen_elem: T = T.FLOAT

    def keyed_generator(self, e: ast.Generator, scope: _Scope) -> tuple[Fn, T | None]:
        """`w for b in S` yielding (b.answer, w) pairs, for branch-keyed builtins."""
        src, inner, slot = self.filtered(e.var, e.source, e.where, scope, e.span)
        vf, vt = self.expr(e.value, inner)
        if src is None or vt is None:
            return _Const([]), None
        if vt not in NUMERIC:
            self.error("E102", f"a weight must be a number, got `{vt}`", e.value.span)
            return _Const([]), None
        s = src

        def fn(c: Ctx) -> list[tuple[int, Any]]:
            loc = c.locals
            latest = c.latest
            out = []
            for i in s(c):
                loc[slot] = i
                out.append((latest[i], vf(c)))
            return out

        self._gen_elem = vt
        return fn, T.GEN

    def expr_Call(self, e: ast.Call, scope: _Scope) -> tuple[Fn, T | None]:
        rows = overloads(e.func)
        if not rows:
            self.error(
                "E101",
                f"unknown function `{e.func}`",
                e.span,
                label="not a builtin",
                hint=did_you_mean(e.func, _all_builtin_names()),
            )
            return _Const(0), None
        arg_fns: list[Fn] = []
        arg_types: list[T | None] = []
        gen_elem: T | None = None
        keyed = any(r.branch_keyed for r in rows) and any(
            isinstance(a, ast.Generator) for a in e.args
        )
        for a in e.args:
            if keyed and isinstance(a, ast.Generator):
                fn, t = self.keyed_generator(a, scope)
            else:
                fn, t = self.expr(a, scope)
            if isinstance(a, ast.Generator):
                gen_elem = self._gen_elem
            arg_fns.append(fn)
            arg_types.append(t)
        if any(t is None for t in arg_types):
            return _Const(0), None
        types = [t for t in arg_types if t is not None]
        row = _pick_overload(rows, types)
        if row is None:
            sigs = "; ".join(r.signature for r in rows)
            got = ", ".join(str(t) for t in types)
            self.error(
                "E114",
                f"no form of `{e.func}` takes ({got})",
                e.span,
                label="wrong arguments",
                hint=f"available: {sigs}",
            )
            return _Const(0), None
        if row.effect:
            self.error(
                "E115",
                f"`{e.func}` changes state and must be used as a statement",
                e.span,
                hint=f"write `{row.example}` on its own line",
            )
            return _Const(0), None
        if not self.in_body and not row.schedule:
            self.error(
                "E111",
                f"`{e.func}` reads run-time state and cannot be used here",
                e.span,
                hint="schedules, params and limits may use numeric builtins only",
            )
            return _Const(0), None
        result = row.result
        if T.GEN in types and gen_elem is not None:
            # An aggregate's values must fit it: any/all take bools, the others numbers.
            want = T.BOOL if row.result is T.BOOL else T.FLOAT
            if not accepts(want, gen_elem):
                self.error(
                    "E114",
                    f"`{e.func}` aggregates {'bools' if want is T.BOOL else 'numbers'}, "
                    f"not `{gen_elem}` values",
                    e.span,
                    hint="answers are unordered: count them with count(...) or votes(...)"
                    if gen_elem in (T.ANSWER, T.NONE)
                    else "",
                )
                return _Const(0), None
        if row.int_preserving:
            elems = [gen_elem] if T.GEN in types else types
            if all(t is T.INT for t in elems):
                result = T.INT
        impl = row.impl
        span = e.span
        name = e.func
        if all(isinstance(f, _Const) for f in arg_fns) and not row.needs_ctx and row.schedule:
            try:
                return _Const(impl(*[f.value for f in arg_fns])), result  # type: ignore[attr-defined]
            except (ValueError, OverflowError, ZeroDivisionError) as exc:
                self.error("E112", f"`{name}` fails on these arguments: {exc}", span)
                return _Const(0), None
        return self.call_closure(impl, arg_fns, row.needs_ctx, span, name), result

    def call_closure(
        self, impl: Callable[..., Any], fns: Sequence[Fn], needs_ctx: bool, span: Span, name: str
    ) -> Fn:
        def guard(c: Ctx, *args: Any) -> Any:
            try:
                return impl(c, *args) if needs_ctx else impl(*args)
            except (ValueError, OverflowError, ZeroDivisionError) as exc:
                raise RuntimeFault(f"`{name}` failed: {exc}", span) from None

        if len(fns) == 1:
            (f0,) = fns
            if needs_ctx:
                return lambda c: impl(c, f0(c))
            if name in _MATH_CAN_FAIL:
                return lambda c: guard(c, f0(c))
            return lambda c: impl(f0(c))
        if len(fns) == 2:
            f0, f1 = fns
            if name in _MATH_CAN_FAIL:
                return lambda c: guard(c, f0(c), f1(c))
            if needs_ctx:
                return lambda c: impl(c, f0(c), f1(c))
            return lambda c: impl(f0(c), f1(c))
        return lambda c: guard(c, *[f(c) for f in fns])

    # -- statements --------------------------------------------------------------------

    def block(self, stmts: Sequence[ast.Stmt], scope: _Scope) -> Action:
        inner = _Scope(parent=scope)
        actions = [self.stmt(s, inner) for s in stmts]
        actions = [a for a in actions if a is not _noop]
        if not actions:
            return _noop
        if len(actions) == 1:
            return actions[0]
        if len(actions) == 2:
            a0, a1 = actions

            def run2(c: Ctx) -> None:
                a0(c)
                a1(c)

            return run2
        tup = tuple(actions)

        def run(c: Ctx) -> None:
            for a in tup:
                a(c)

        return run

    def stmt(self, s: ast.Stmt, scope: _Scope) -> Action:
        method = getattr(self, "stmt_" + type(s).__name__)
        act: Action = method(s, scope)
        return act

    def stmt_Let(self, s: ast.Let, scope: _Scope) -> Action:
        fn, t = self.expr(s.value, scope)
        if t is T.GEN:
            self.error("E102", "a generator can only be an aggregate's argument", s.value.span)
            t = None
        if t is T.VOID:
            t = None
        slot = self.new_local()
        self.declare(
            scope, s.name, Sym("local", t if t is not T.NONE else T.ANSWER, slot=slot), s.span
        )
        if t is None:
            return _noop

        def run(c: Ctx) -> None:
            c.locals[slot] = fn(c)

        return run

    def stmt_AssignVar(self, s: ast.AssignVar, scope: _Scope) -> Action:
        sym = scope.lookup(s.name)
        fn, t = self.expr(s.value, scope)
        if sym is None and s.name in VALUES_BY_NAME:
            self.error(
                "E116",
                f"cannot assign to `{s.name}`: it is read-only state of the episode",
                s.span,
                hint="declare a `state` variable of your own to keep a value",
            )
            return _noop
        if sym is None:
            self.error(
                "E101",
                f"unknown variable `{s.name}`",
                s.span,
                hint=did_you_mean(s.name, scope.all_names())
                or "declare it in `state { ... }`, or use `let` for a local",
            )
            return _noop
        if sym.kind != "state":
            what = {
                "const": "a knob or param (a constant)",
                "local": "a `let` binding",
                "branchvar": "a loop variable",
            }.get(sym.kind, sym.kind)
            self.error(
                "E116",
                f"cannot assign to `{s.name}`: it is {what}",
                s.span,
                hint="only `state` variables and branch fields can be assigned",
            )
            return _noop
        if sym.type is T.WINDOW:
            self.error("E116", f"`{s.name}` is a window; change it with push/set_last", s.span)
            return _noop
        if t is None or sym.type is None:
            return _noop
        if not accepts(sym.type, t):
            self.error(
                "E105",
                f"`{s.name}` is `{sym.type}` but the value is `{t}`",
                s.value.span,
                label=str(t),
            )
            return _noop
        slot = sym.slot
        if sym.type is T.FLOAT and t is T.INT:

            def run_f(c: Ctx) -> None:
                c.state[slot] = float(fn(c))

            return run_f

        def run(c: Ctx) -> None:
            c.state[slot] = fn(c)

        return run

    def stmt_AssignField(self, s: ast.AssignField, scope: _Scope) -> Action:
        sym = scope.lookup(s.var)
        fn, t = self.expr(s.value, scope)
        if sym is None or sym.type is not T.BRANCH:
            self.error("E102", f"`{s.var}` is not a branch", s.span)
            return _noop
        if s.name not in self.fields:
            builtin = s.name in FIELDS_BY_NAME
            self.error(
                "E116" if builtin else "E101",
                f"cannot assign `{s.var}.{s.name}`"
                + (": built-in fields are read-only" if builtin else ": no such field"),
                s.span,
                hint="" if builtin else "declare it in a `branch { ... }` section",
            )
            return _noop
        k, ftype = self.fields[s.name]
        if t is None:
            return _noop
        if not accepts(ftype, t):
            self.error(
                "E105", f"field `{s.name}` is `{ftype}` but the value is `{t}`", s.value.span
            )
            return _noop
        slot = sym.slot
        conv = float if ftype is T.FLOAT and t is T.INT else None

        def run(c: Ctx) -> None:
            v = fn(c)
            c.fields[k][c.locals[slot]] = conv(v) if conv else v

        return run

    def stmt_CallStmt(self, s: ast.CallStmt, scope: _Scope) -> Action:
        if not overloads(s.func):
            self.error(
                "E101",
                f"unknown function `{s.func}`",
                s.span,
                label="not a builtin",
                hint=did_you_mean(s.func, _all_builtin_names()),
            )
            return _noop
        rows = [r for r in overloads(s.func) if r.effect]
        if not rows:
            self.error(
                "E115",
                f"`{s.func}(...)` has no effect as a statement",
                s.span,
                hint="only push(...) and set_last(...) are statements; "
                "use `let x = ...` to name a value",
            )
            return _noop
        fns = []
        types = []
        for a in s.args:
            fn, t = self.expr(a, scope)
            if t is None:
                return _noop
            fns.append(fn)
            types.append(t)
        row = _pick_overload(rows, types)
        if row is None:
            self.error(
                "E114",
                f"no form of `{s.func}` takes ({', '.join(map(str, types))})",
                s.span,
                hint="; ".join(r.signature for r in rows),
            )
            return _noop
        impl = row.impl
        f0, f1 = fns

        def run(c: Ctx) -> None:
            impl(f0(c), f1(c))

        return run

    def cond(self, e: ast.Expr, scope: _Scope, what: str) -> Fn | None:
        fn, t = self.expr(e, scope)
        if t is None:
            return None
        if t is not T.BOOL:
            self.error("E102", f"{what} must be a bool, got `{t}`", e.span, label=str(t))
            return None
        return fn

    def stmt_If(self, s: ast.If, scope: _Scope) -> Action:
        arms: list[tuple[Fn, Action]] = []
        outer_rule = self.current_rule
        self.current_rule = s.rule or outer_rule
        for cond_e, body in s.arms:
            cf = self.cond(cond_e, scope, "a condition" if s.rule is None else "a rule's guard")
            act = self.block(body, scope)
            if cf is not None:
                arms.append((cf, act))
        orelse = self.block(s.orelse, scope) if s.orelse is not None else _noop
        self.current_rule = outer_rule
        if len(arms) != len(s.arms):
            return _noop
        if self.tracing:
            arms = [
                (self.traced_gate(cf, ce, s, scope), a)
                for (cf, a), (ce, _) in zip(arms, s.arms, strict=True)
            ]
        if len(arms) == 1:
            ((c0, a0),) = arms

            def run1(c: Ctx) -> None:
                if c0(c):
                    a0(c)
                else:
                    orelse(c)

            return run1
        tup = tuple(arms)

        def run(c: Ctx) -> None:
            for cf, act in tup:
                if cf(c):
                    act(c)
                    return
            orelse(c)

        return run

    def loop_items(self, head: ast.LoopHead, scope: _Scope) -> tuple[Fn | None, _Scope, int]:
        src, inner, slot = self.filtered(head.var, head.source, head.where, scope, head.span)
        keys: list[tuple[Fn, bool]] = []
        for k in head.order:
            kf, kt = self.expr(k.key, inner)
            if kt is None:
                continue
            if kt not in NUMERIC and kt is not T.BOOL:
                self.error(
                    "E102",
                    f"cannot order by a `{kt}`",
                    k.key.span,
                    hint="order by numbers or bools",
                )
                continue
            keys.append((kf, k.descending))
        limit_fn = None
        if head.limit is not None:
            lf, lt = self.expr(head.limit, scope)  # the loop variable is not visible here
            if lt is not None and lt is not T.INT:
                self.error("E102", f"`limit` needs an int, got `{lt}`", head.limit.span)
            elif lt is not None:
                limit_fn = lf
        if src is None:
            return None, inner, slot
        s = src
        if not keys and limit_fn is None:
            return s, inner, slot
        key_list = tuple(reversed(keys))

        def items(c: Ctx) -> list[int]:
            got = list(s(c))
            loc = c.locals
            for kf, desc in key_list:  # stable sorts, last key first

                def key(i: int, kf: Fn = kf) -> Any:
                    loc[slot] = i
                    return kf(c)

                got.sort(key=key, reverse=desc)
            if limit_fn is not None:
                n = limit_fn(c)
                got = got[: max(0, n)]
            return got

        return items, inner, slot

    def stmt_For(self, s: ast.For, scope: _Scope) -> Action:
        items, inner, slot = self.loop_items(s.head, scope)
        outer_rule = self.current_rule
        self.current_rule = s.rule or outer_rule
        body = self.block(s.body, inner)
        self.current_rule = outer_rule
        if items is None:
            return _noop
        it = items

        def run(c: Ctx) -> None:
            loc = c.locals
            for i in it(c):  # a snapshot: the body cannot change what is iterated
                loc[slot] = i
                body(c)

        if self.tracing and s.rule is not None:
            return self.traced_rule_loop(run, it, s)
        return run

    def stmt_Repeat(self, s: ast.Repeat, scope: _Scope) -> Action:
        nf, nt = self.expr(s.count, scope)
        body = self.block(s.body, scope)
        if nt is None:
            return _noop
        if nt is not T.INT:
            self.error("E102", f"`repeat` needs an int count, got `{nt}`", s.count.span)
            return _noop
        span = s.span

        def run(c: Ctx) -> None:
            n = nf(c)
            if n > c.fuel:
                raise RuntimeFault(f"`repeat {n}` exceeds the remaining fuel", span)
            for _ in range(n):
                c.fuel -= 1
                body(c)

        return run

    def count_arg(self, e: ast.Expr, scope: _Scope, what: str) -> Fn | None:
        fn, t = self.expr(e, scope)
        if t is None:
            return None
        if t is not T.INT:
            self.error(
                "E102",
                f"the count of `{what}` must be an int, got `{t}`",
                e.span,
                hint="wrap it in round(...)" if t is T.FLOAT else "",
            )
            return None
        return fn

    def branch_arg(self, e: ast.Expr, scope: _Scope, what: str) -> Fn | None:
        fn, t = self.expr(e, scope)
        if t is None:
            return None
        if t is not T.BRANCH:
            self.error("E102", f"`{what}` needs a branch, got `{t}`", e.span)
            return None
        return fn

    def stmt_Spawn(self, s: ast.Spawn, scope: _Scope) -> Action:
        return self.opener(s, s.count, scope, "spawn", _open_by_branch)

    def stmt_ReadFull(self, s: ast.ReadFull, scope: _Scope) -> Action:
        return self.opener(s, s.count, scope, "read_full", _open_by_full_read)

    def opener(
        self,
        s: ast.Stmt,
        count: ast.Expr,
        scope: _Scope,
        what: str,
        open_one: Callable[[Episode], tuple[int, bool] | None],
    ) -> Action:
        """`spawn N` / `read_full N`: open up to N branches, stopping when the
        question has none left (not admissible) or `max_branches` is reached."""
        nf = self.count_arg(count, scope, what)
        if nf is None:
            return _noop
        cap = self.max_branches
        inits = self.field_inits
        span = s.span

        def run(c: Ctx) -> None:
            ep = c.ep
            n = nf(c)
            if n > c.fuel:
                raise RuntimeFault(f"`{what} {n}` exceeds the remaining fuel", span)
            for _ in range(n):
                if ep.opened >= cap:
                    break
                out = open_one(ep)
                if out is None:
                    break
                c.fuel -= 1
                a, done = out
                c.latest.append(a)
                for k, v in enumerate(inits):
                    c.fields[k].append(v)
                if done:
                    c.completed.append(a)

        return self.traced_action(run, s, {"n": nf}) if self.tracing else run

    def stmt_Step(self, s: ast.Step, scope: _Scope) -> Action:
        bf = self.branch_arg(s.branch, scope, "step")
        nf: Fn | None = _Const(1)
        if s.times is not None:
            nf = self.count_arg(s.times, scope, "step ... times")
        if bf is None or nf is None:
            return _noop
        span = s.span
        times = nf
        times_const = nf.value if isinstance(nf, _Const) else None

        def run(c: Ctx) -> None:
            ep = c.ep
            i = bf(c)
            if ep.pruned[i]:
                raise RuntimeFault(f"`step` on branch {i}, which is pruned", span)
            fin = ep.finished
            n = times(c) if times_const is None else times_const
            if n > c.fuel:
                raise RuntimeFault(f"`step ... times {n}` exceeds the remaining fuel", span)
            read = ep.cont_unchecked  # checked above: open, unpruned; `answer` ends the run
            for _ in range(n):
                if fin[i]:
                    break
                c.fuel -= 1
                a, done = read(i)
                c.latest[i] = a
                if done:
                    c.completed.append(a)

        return self.traced_action(run, s, {"branch": bf, "times": nf}) if self.tracing else run

    def stmt_Prune(self, s: ast.Prune, scope: _Scope) -> Action:
        bf = self.branch_arg(s.branch, scope, "prune")
        if bf is None:
            return _noop

        def run(c: Ctx) -> None:
            c.ep.prune(bf(c))

        return self.traced_action(run, s, {"branch": bf}) if self.tracing else run

    def stmt_Answer(self, s: ast.Answer, scope: _Scope) -> Action:
        fn, t = self.expr(s.value, scope)
        if t is None:
            return _noop
        if t not in (T.ANSWER, T.NONE):
            self.error(
                "E102",
                f"`answer` needs an answer, got `{t}`",
                s.value.span,
                hint="e.g. `answer winner(completed)`",
            )
            return _noop

        def run(c: Ctx) -> None:
            c.ep.finish(fn(c))
            raise AnswerGiven

        return self.traced_action(run, s, {"answer": _as_answer_ref(fn)}) if self.tracing else run

    def stmt_StopLoop(self, s: ast.StopLoop, scope: _Scope) -> Action:
        if self.in_final or self.in_init:
            self.error(
                "E117",
                "`stop` ends the round loop; it is only allowed in `round`",
                s.span,
                hint="use `answer ...` here",
            )
            return _noop

        def run(c: Ctx) -> None:
            raise StopRounds

        return self.traced_action(run, s, {}) if self.tracing else run

    in_init = False
    current_rule: str | None = None
    field_inits: tuple[Any, ...] = ()

    # -- tracing (compiled in only when asked for) ------------------------------------

    def snippet(self, span: Span) -> str:
        if span.line < 1 or span.line > len(self.source_lines) or span.end_line != span.line:
            return ""
        return self.source_lines[span.line - 1][span.col - 1 : span.end_col - 1]

    def traced_action(self, act: Action, s: ast.Stmt, args: dict[str, Fn]) -> Action:
        kind = type(s).__name__.lower()
        kind = {"readfull": "read_full", "stoploop": "stop"}.get(kind, kind)
        line = s.span.line
        rule = self.current_rule

        def run(c: Ctx) -> None:
            if c.events is None:
                act(c)
                return
            values = {k: _jsonable(f(c)) for k, f in args.items()}
            before = c.ep.cost
            ev: dict[str, Any] = {
                "event": "action",
                "action": kind,
                "line": line,
                "rule": rule,
                "round": c.round,
                "args": values,
                "state": _snapshot(c),
            }
            c.events.append(ev)
            try:
                act(c)
            finally:
                ev["charged"] = c.ep.cost - before

        return run

    def traced_gate(self, cf: Fn, cond_e: ast.Expr, s: ast.If, scope: _Scope) -> Fn:
        line = cond_e.span.line or s.span.line
        rule = s.rule
        probes = [(self.snippet(sub.span), fn) for sub, fn in self.deciding_values(cond_e, scope)]
        text = self.snippet(cond_e.span)

        def traced(c: Ctx) -> Any:
            result = cf(c)
            if c.events is not None:
                c.events.append(
                    {
                        "event": "rule" if rule else "gate",
                        "rule": rule,
                        "line": line,
                        "round": c.round,
                        "condition": text,
                        "fired": bool(result),
                        "values": _probe_values(c, probes),
                        "state": _snapshot(c),
                    }
                )
            return result

        return traced

    def traced_rule_loop(self, run: Action, items: Fn, s: ast.For) -> Action:
        line = s.span.line
        rule = s.rule

        def traced(c: Ctx) -> None:
            if c.events is not None:
                c.events.append(
                    {
                        "event": "rule",
                        "rule": rule,
                        "line": line,
                        "round": c.round,
                        "branches": list(items(c)),
                        "state": _snapshot(c),
                    }
                )
            run(c)

        return traced

    def deciding_values(self, e: ast.Expr, scope: _Scope) -> list[tuple[ast.Expr, Fn]]:
        """Non-constant leaves of a condition (names, calls, fields), compiled
        again in the same scope, so a trace can show what the guard saw."""
        out: list[tuple[ast.Expr, Fn]] = []
        saved = len(self.diags)

        def walk(x: ast.Expr) -> None:
            if isinstance(x, ast.Name | ast.Call | ast.Field):
                fn, t = self.expr(x, scope)
                if t is not None and t not in (T.SET, T.GEN) and not isinstance(fn, _Const):
                    out.append((x, _as_answer_ref(fn) if t is T.ANSWER else fn))
                return
            for child in vars(x).values():
                if isinstance(child, ast.Expr):
                    walk(child)

        walk(e)
        del self.diags[saved:]
        return out


# ------------------------------------------------------------------ helpers


def _noop(c: Ctx) -> None:
    return None


def _open_by_branch(ep: Episode) -> tuple[int, bool] | None:
    out = ep.branch()
    return None if out is None else (out[0], out[2])


def _open_by_full_read(ep: Episode) -> tuple[int, bool] | None:
    a = ep.full_read()
    return None if a is None else (a, True)


def _as_answer_ref(fn: Fn) -> Fn:
    return lambda c: AnswerRef(fn(c))


def _probe_values(c: Ctx, probes: Sequence[tuple[str, Fn]]) -> dict[str, Any]:
    """Values a guard saw, for traces. A sub-expression the guard itself may
    have skipped (short-circuit) can fail here: it is left out, never raised,
    so tracing cannot change what a program does."""
    out: dict[str, Any] = {}
    for text, f in probes:
        if not text:
            continue
        try:
            out[text] = _jsonable(f(c))
        except (RuntimeFault, ArithmeticError, ValueError, IndexError):
            continue
    return out


def _snapshot(c: Ctx) -> dict[str, Any]:
    ep = c.ep
    return {"round": c.round, "spawned": ep.opened, "cost": ep.cost, "completed": len(c.completed)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, Window):
        return list(v.items)
    return v


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_MATH_CAN_FAIL = frozenset({"log", "sqrt", "pow", "exp"})


def _all_builtin_names() -> list[str]:
    from .builtins import BUILTINS

    return [b.name for b in BUILTINS] + list(VALUES_BY_NAME)


def _pick_overload(rows: Sequence[Builtin], types: Sequence[T]) -> Builtin | None:
    for row in rows:
        ps = row.params
        if row.variadic:
            if len(types) < len(ps):
                continue
            ps = ps[:-1] + (ps[-1],) * (len(types) - len(ps) + 1)
        if len(ps) == len(types) and all(accepts(p, t) for p, t in zip(ps, types, strict=True)):
            return row
    return None


def _running(c: Ctx) -> list[int]:
    ep = c.ep
    fin = ep.finished
    pr = ep.pruned
    return [i for i in range(ep.opened) if not fin[i] and not pr[i]]


def _alive(c: Ctx) -> list[int]:
    pr = c.ep.pruned
    return [i for i in range(c.ep.opened) if not pr[i]]


def _finished(c: Ctx) -> list[int]:
    ep = c.ep
    fin = ep.finished
    pr = ep.pruned
    return [i for i in range(ep.opened) if fin[i] and not pr[i]]


def _pruned(c: Ctx) -> list[int]:
    pr = c.ep.pruned
    return [i for i in range(c.ep.opened) if pr[i]]


_VALUE_READERS: dict[str, Fn] = {
    "round": lambda c: c.round,
    "spawned": lambda c: c.ep.opened,
    "cost": lambda c: c.ep.cost,
    "remaining": lambda c: c.ep.n_branches - c.ep.opened,
    "completed": lambda c: c.completed,
    "opened": lambda c: list(range(c.ep.opened)),
    "running": _running,
    "alive": _alive,
    "finished": _finished,
    "pruned": _pruned,
}


def _value_reader(name: str) -> Fn:
    return _VALUE_READERS[name]


def _slot_field_reader(name: str, slot: int) -> Fn:
    if name == "answer":
        return lambda c: c.latest[c.locals[slot]]
    if name == "reads":
        return lambda c: c.ep.reads[c.locals[slot]]
    if name == "spent":
        return lambda c: c.ep.spent[c.locals[slot]]
    if name == "index":
        return lambda c: c.locals[slot]
    if name == "finished":
        return lambda c: c.ep.finished[c.locals[slot]]
    if name == "pruned":
        return lambda c: c.ep.pruned[c.locals[slot]]
    raise KeyError(name)


def _field_reader(name: str, obj: Fn) -> Fn:
    if name == "answer":
        return lambda c: c.latest[obj(c)]
    if name == "reads":
        return lambda c: c.ep.reads[obj(c)]
    if name == "spent":
        return lambda c: c.ep.spent[obj(c)]
    if name == "index":
        return obj
    if name == "finished":
        return lambda c: c.ep.finished[obj(c)]
    if name == "pruned":
        return lambda c: c.ep.pruned[obj(c)]
    raise KeyError(name)


# ------------------------------------------------------------------ entry point


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
    comp = _Compiler(program, beta, overrides or {}, tracing, source)
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
