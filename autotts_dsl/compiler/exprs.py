"""Expressions: name resolution, typing, constant folding, closures."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import ast
from ..builtins import (
    FIELDS_BY_NAME,
    INT_MAX,
    INT_MIN,
    VALUES_BY_NAME,
    describe_int,
    overloads,
    resolve_overload,
)
from ..diagnostics import Span, did_you_mean
from ..replay.store import NO_ANSWER
from ..runtime import Ctx, RuntimeFault
from ..types import NUMERIC, T, accepts, unify_numeric
from .base import CompilerBase, Fn, Sym, _Const, _Scope
from .readers import (
    _BINARY,
    _COMPARE,
    _MATH_CAN_FAIL,
    _all_builtin_names,
    _field_reader,
    _slot_field_reader,
    _value_reader,
)


class ExprCompiler(CompilerBase):
    def expr(self, e: ast.Expr, scope: _Scope) -> tuple[Fn, T | None]:
        method = getattr(self, "expr_" + type(e).__name__)
        result: tuple[Fn, T | None] = method(e, scope)
        return result

    def expr_IntLit(self, e: ast.IntLit, scope: _Scope) -> tuple[Fn, T | None]:
        if not INT_MIN <= e.value <= INT_MAX:
            self.error(
                "E118",
                "integer literal out of range: ints are 64-bit",
                e.span,
                label=f"larger than {INT_MAX:,}",
                hint="a float literal (`1e30`) holds larger magnitudes",
            )
            return _Const(0), None
        return _Const(e.value), T.INT

    def expr_FloatLit(self, e: ast.FloatLit, scope: _Scope) -> tuple[Fn, T | None]:
        if not math.isfinite(e.value):
            self.error(
                "E118",
                "float literal out of range: it is beyond the largest float (~1.8e308)",
                e.span,
                label="overflows to infinity",
            )
            return _Const(0.0), None
        return _Const(e.value), T.FLOAT

    def folded(self, value: Any, typ: T, span: Span, what: str) -> tuple[Fn, T | None]:
        """A constant result, or E112 when it leaves the int64 or float range
        (at run time the same value would be a fault, or an inf/NaN that
        every later step must then carry)."""
        if typ is T.INT and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            self.error(
                "E112",
                f"constant arithmetic overflows at β = {self.beta:g}: {what} is outside the "
                "64-bit int range",
                span,
                label="integer overflow",
            )
            return _Const(0), None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(
                "E112",
                f"constant arithmetic overflows at β = {self.beta:g}: {what} gives {value}",
                span,
                label="not a finite number",
                hint="keep constants well inside the float range (|x| < 1.8e308)",
            )
            return _Const(0.0), None
        return _Const(value), typ

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
            return self.folded(-fn.value, t, e.span, "the negation")
        if t is T.INT:
            span = e.span

            def neg(c: Ctx) -> int:
                r = -fn(c)
                if r > INT_MAX:
                    raise RuntimeFault("integer overflow in unary `-`", span)
                return r  # type: ignore[no-any-return]

            return neg, t
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
        divides = op in ("/", "//", "%")
        if result is T.INT:
            # Ints are 64-bit: a result outside the range is a located fault.
            def fn(c: Ctx) -> Any:
                b = rf(c)
                if divides and b == 0:
                    raise RuntimeFault(f"division by zero in `{op}`", span)
                r = impl(lf(c), b)
                if INT_MIN <= r <= INT_MAX:
                    return r
                raise RuntimeFault(
                    f"integer overflow in `{op}`: {describe_int(r)} is outside the 64-bit range",
                    span,
                )
        elif divides:

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
                value = fn(None)  # type: ignore[arg-type]
            except RuntimeFault as fault:
                self.error("E112", fault.message, span)
                return _Const(0), None
            except (OverflowError, ValueError) as exc:
                self.error("E112", f"arithmetic error: {exc}", span)
                return _Const(0), None
            return self.folded(value, result, span, f"`{op}`")
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
        if typ is T.FLOAT:
            # A float-typed value is a float at run time (as in the compiled backend).
            af, bf = _as_float(af, at), _as_float(bf, bt)
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
        row = resolve_overload(rows, types)
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
        if result is T.FLOAT and (
            row.int_preserving or (row.name == "round" and len(row.params) == 2)
        ):
            # min/max/clamp of mixed ints and floats, round(int, n): Python would
            # return an int; a float-typed value is a float at run time.
            impl = _float_result(row.impl)
        span = e.span
        name = e.func
        if all(isinstance(f, _Const) for f in arg_fns) and not row.needs_ctx and row.schedule:
            try:
                value = impl(*[f.value for f in arg_fns])  # type: ignore[attr-defined]
            except (ValueError, OverflowError, ZeroDivisionError) as exc:
                self.error("E112", f"`{name}` fails on these arguments: {exc}", span)
                return _Const(0), None
            return self.folded(value, result, span, f"`{name}(...)`")
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


def _as_float(fn: Fn, t: T) -> Fn:
    if t is not T.INT:
        return fn
    if isinstance(fn, _Const):
        return _Const(float(fn.value))
    return lambda c: float(fn(c))


def _float_result(impl: Callable[..., Any]) -> Callable[..., Any]:
    def as_float(*args: Any) -> float:
        return float(impl(*args))

    return as_float
