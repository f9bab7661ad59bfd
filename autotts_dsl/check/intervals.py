"""Interval arithmetic over β ∈ [0, 1].

An `Interval` is a closed range of numbers (ends may be infinite) that also
remembers whether every value in it is an integer, so strict facts such as
`spawned < cap` tighten by one. `IntervalEval` gives any expression of a
program a `Val`: its range, its type and whether it is *static* (depends on
β, params and knobs only). Collections are ranged by their size; a
generator by the values it yields (the same convention as the `interval`
rules of the builtins table, which this module applies and never repeats).

While evaluating it reports range problems through a callback: divisions
whose denominator range holds 0, builtin domain violations, and probability
thresholds (compared with `conf(...)`, `beta_conf`, `share`) that leave
[0, 1]. Guard facts (`if spawned < cap { spawn cap - spawned }`) refine the
range of an expression that appears in them; the caller decides which facts
still hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .. import ast
from ..builtins import FIELDS_BY_NAME, VALUES_BY_NAME, Bounds, Builtin, overloads, resolve_overload
from ..types import NUMERIC, T, unify_numeric

INF = math.inf

Sign = Literal["zero", "pos", "neg", "any"]


def _mul(a: float, b: float) -> float:
    # 0 × ∞ is 0 here: an unbounded end times an exact zero stays zero.
    return 0.0 if a == 0 or b == 0 else a * b


def _num(v: float) -> str:
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    integral: bool = False

    @staticmethod
    def make(lo: float, hi: float, integral: bool = False) -> Interval:
        if math.isnan(lo):
            lo = -INF
        if math.isnan(hi):
            hi = INF
        if integral:
            lo = math.ceil(lo) if math.isfinite(lo) else lo
            hi = math.floor(hi) if math.isfinite(hi) else hi
        return Interval(float(lo), float(hi), integral)

    @staticmethod
    def point(v: float, integral: bool = False) -> Interval:
        return Interval.make(v, v, integral)

    @staticmethod
    def top(integral: bool = False) -> Interval:
        return Interval(-INF, INF, integral)

    @property
    def bounds(self) -> Bounds:
        return self.lo, self.hi

    @property
    def finite(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    @property
    def is_point(self) -> bool:
        return self.lo == self.hi

    def contains(self, v: float) -> bool:
        return self.lo <= v <= self.hi

    def within(self, lo: float, hi: float) -> bool:
        return lo <= self.lo and self.hi <= hi

    @property
    def sign(self) -> Sign:
        if self.lo == 0 and self.hi == 0:
            return "zero"
        if self.lo >= 0:
            return "pos"
        if self.hi <= 0:
            return "neg"
        return "any"

    def hull(self, other: Interval) -> Interval:
        return Interval(
            min(self.lo, other.lo), max(self.hi, other.hi), self.integral and other.integral
        )

    def meet(self, lo: float, hi: float) -> Interval:
        """Intersect with [lo, hi]; an empty result keeps the original (the
        fact that produced it cannot hold here, so it is no information)."""
        got = Interval.make(max(self.lo, lo), min(self.hi, hi), self.integral)
        return self if got.lo > got.hi else got

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo, self.integral)

    def __add__(self, o: Interval) -> Interval:
        return Interval.make(self.lo + o.lo, self.hi + o.hi, self.integral and o.integral)

    def __sub__(self, o: Interval) -> Interval:
        return self + (-o)

    def __mul__(self, o: Interval) -> Interval:
        ps = [_mul(a, b) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
        return Interval.make(min(ps), max(ps), self.integral and o.integral)

    def divide(self, o: Interval) -> Interval:
        if o.contains(0):
            return Interval.top()
        # Float division is monotone in each argument on either side of 0, so
        # the corners bound it — computed with the same operation as the
        # compiler, hence sound to the last bit.
        qs: list[float] = []
        for a in (self.lo, self.hi):
            for b in (o.lo, o.hi):
                if math.isinf(a) and math.isinf(b):
                    qs += [0.0, math.copysign(INF, a) * math.copysign(1.0, b)]
                else:
                    qs.append(a / b)
        return Interval.make(min(qs), max(qs))

    def floordiv(self, o: Interval) -> Interval:
        if o.contains(0):
            return Interval.top(True)
        if self.integral and o.integral and self.finite and o.finite:
            qs = [int(a) // int(b) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
            return Interval.make(min(qs), max(qs), True)
        q = self.divide(o)
        # `a // b` floors the exact quotient, which can sit just below the
        # rounded `a / b` when that lands on an integer: widen by one.
        lo = math.floor(q.lo) - 1 if math.isfinite(q.lo) else q.lo
        hi = math.floor(q.hi) if math.isfinite(q.hi) else q.hi
        return Interval.make(lo, hi, True)

    def mod(self, o: Interval) -> Interval:
        integral = self.integral and o.integral
        if o.contains(0):
            return Interval.top(integral)
        # Python's % takes the sign of the divisor and is smaller in size.
        if o.lo > 0:
            hi = o.hi - 1 if integral else o.hi
            if self.lo >= 0:
                hi = min(hi, self.hi)
            return Interval.make(0, hi, integral)
        lo = o.lo + 1 if integral else o.lo
        return Interval.make(lo, 0, integral)

    def __str__(self) -> str:
        return f"[{_num(self.lo)}, {_num(self.hi)}]"


# ------------------------------------------------------------------ values


@dataclass(frozen=True)
class Val:
    iv: Interval
    type: T | None  # None: not known (an error elsewhere, or no type matters)
    static: bool  # depends only on β, params, knobs and literals


TOP = Val(Interval.top(), None, False)

BindingKind = Literal["beta", "param", "knob", "state", "window", "let", "loop"]


@dataclass
class Binding:
    kind: BindingKind
    val: Val
    expr: ast.Expr | None = None  # a let's defining expression
    epoch: int = 0  # when a let was bound (see RangeWalker)
    origin: str = ""  # for a loop variable: the set it iterates
    node: object = None  # the declaring AST node (lints key uses on it)


@dataclass
class Env:
    names: dict[str, Binding] = field(default_factory=dict)
    parent: Env | None = None

    def lookup(self, name: str) -> Binding | None:
        env: Env | None = self
        while env is not None:
            if name in env.names:
                return env.names[name]
            env = env.parent
        return None

    def child(self) -> Env:
        return Env(parent=self)


IssueKind = Literal["div0", "domain", "prob"]
Issue = Callable[[IssueKind, ast.Expr, str, Val], None]
"""(kind, the offending expression, a message, the value at fault)"""

_NEGATE: dict[str, ast.CmpOp] = {
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
    "==": "!=",
    "!=": "==",
}
_MIRROR: dict[str, ast.CmpOp] = {
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
    "==": "==",
    "!=": "!=",
}


def _probability_row(row: Builtin) -> bool:
    """A float-valued row whose range is inside [0, 1] whatever its inputs."""
    if row.interval is None or row.result is not T.FLOAT:
        return False
    lo, hi = row.interval([(-INF, INF)] * max(1, len(row.params)))
    return lo >= 0 and hi <= 1


class IntervalEval:
    """Ranges of expressions. `limits` caps the builtin values that name one
    (`spawned` <= max_branches); `report` receives range problems; `epoch`
    and `stable_let` decide which let-bound conditions still give facts."""

    def __init__(
        self,
        limits: dict[str, Interval],
        field_types: dict[str, T],
        report: Issue | None = None,
    ) -> None:
        self.limits = limits
        self.field_types = field_types
        self.report = report
        self.epoch = 0

    # -- facts ------------------------------------------------------------------

    def facts_of(self, e: ast.Expr, positive: bool, env: Env) -> list[ast.Compare]:
        """Comparisons known to hold when `e` is `positive` (true) or false."""
        if isinstance(e, ast.Compare):
            if positive:
                return [e]
            return [ast.Compare(_NEGATE[e.op], e.left, e.right)]
        if isinstance(e, ast.BoolOp):
            if (e.op == "and") == positive:
                return self.facts_of(e.left, positive, env) + self.facts_of(e.right, positive, env)
            return []
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.facts_of(e.operand, not positive, env)
        if isinstance(e, ast.Name):
            b = env.lookup(e.id)
            if (
                b is not None
                and b.kind == "let"
                and b.expr is not None
                and (b.epoch == self.epoch or is_stable(b.expr, env))
            ):
                return self.facts_of(b.expr, positive, env)
        return []

    def _refine(self, e: ast.Expr, v: Val, env: Env, facts: Sequence[ast.Compare]) -> Val:
        iv = v.iv
        if v.type not in NUMERIC and v.type is not None:
            return v
        for f in facts:
            if f.left == e:
                op, other = f.op, f.right
            elif f.right == e:
                op, other = _MIRROR[f.op], f.left
            else:
                op, other = None, None
            if op is not None and other is not None:
                o = self.eval(other, env, quiet=True).iv
                iv = _refine_by(iv, op, o)
            if isinstance(e, ast.Binary) and e.op == "-":
                # `a - b` under `b < a` (or `a > b`, `a >= b`) is positive.
                if (f.left, f.right) == (e.right, e.left) and f.op in ("<", "<="):
                    iv = _refine_by(iv, ">" if f.op == "<" else ">=", Interval.point(0))
                if (f.left, f.right) == (e.left, e.right) and f.op in (">", ">="):
                    iv = _refine_by(iv, f.op, Interval.point(0))
        return v if iv is v.iv else Val(iv, v.type, v.static)

    # -- evaluation ---------------------------------------------------------------

    def eval(
        self,
        e: ast.Expr,
        env: Env,
        facts: Sequence[ast.Compare] = (),
        quiet: bool = False,
    ) -> Val:
        saved = self.report
        if quiet:
            self.report = None
        try:
            v = self._eval(e, env, facts)
            return self._refine(e, v, env, facts) if facts else v
        finally:
            self.report = saved

    def _issue(self, kind: IssueKind, e: ast.Expr, message: str, v: Val) -> None:
        if self.report is not None:
            self.report(kind, e, message, v)

    def _eval(self, e: ast.Expr, env: Env, facts: Sequence[ast.Compare]) -> Val:
        if isinstance(e, ast.IntLit):
            return Val(Interval.point(e.value, True), T.INT, True)
        if isinstance(e, ast.FloatLit):
            return Val(Interval.point(e.value), T.FLOAT, True)
        if isinstance(e, ast.BoolLit):
            # a bool's range is its truth: [1, 1] surely true, [0, 1] unknown
            return Val(Interval.point(int(e.value), True), T.BOOL, True)
        if isinstance(e, ast.NoneLit):
            return Val(Interval.top(), T.NONE, True)
        if isinstance(e, ast.Name):
            return self._name(e, env)
        if isinstance(e, ast.Field):
            return self._field(e, env)
        if isinstance(e, ast.Unary):
            v = self.eval(e.operand, env, facts)
            if e.op == "not":
                return Val(Interval(1 - v.iv.hi, 1 - v.iv.lo, True), T.BOOL, v.static)
            return Val(-v.iv, v.type, v.static)
        if isinstance(e, ast.Binary):
            return self._binary(e, env, facts)
        if isinstance(e, ast.Compare):
            return self._compare(e, env, facts)
        if isinstance(e, ast.BoolOp):
            left = self.eval(e.left, env, facts)
            more = self.facts_of(e.left, e.op == "and", env)
            right = self.eval(e.right, env, [*facts, *more])
            lo, hi = left.iv.bounds, right.iv.bounds
            if e.op == "and":
                truth = Interval(min(lo[0], hi[0]), min(lo[1], hi[1]), True)
            else:
                truth = Interval(max(lo[0], hi[0]), max(lo[1], hi[1]), True)
            return Val(truth.meet(0, 1), T.BOOL, left.static and right.static)
        if isinstance(e, ast.Cond):
            test = self.eval(e.test, env, facts)
            a = self.eval(e.then, env, [*facts, *self.facts_of(e.test, True, env)])
            b = self.eval(e.other, env, [*facts, *self.facts_of(e.test, False, env)])
            typ = _join_types(a.type, b.type)
            static = test.static and a.static and b.static
            if test.iv.is_point and test.type is T.BOOL:
                chosen = a if test.iv.lo == 1 else b
                return Val(chosen.iv, typ, static)
            return Val(a.iv.hull(b.iv), typ, static)
        if isinstance(e, ast.Coalesce):
            a = self.eval(e.left, env, facts)
            b = self.eval(e.right, env, facts)
            return Val(Interval.top(), T.ANSWER, a.static and b.static)
        if isinstance(e, ast.Call):
            return self._call(e, env, facts)
        if isinstance(e, ast.Query):
            return self._query(e, env)
        if isinstance(e, ast.Generator):
            return self._generator(e, env)
        return TOP

    def _name(self, e: ast.Name, env: Env) -> Val:
        b = env.lookup(e.id)
        if b is not None:
            return b.val
        bv = VALUES_BY_NAME.get(e.id)
        if bv is None:
            return TOP
        hi = bv.hi
        if bv.hi_limit:
            hi = min(hi, self.limits[bv.hi_limit].hi)
        integral = bv.type is T.INT or bv.type in (T.SET, T.ANSWERS)
        return Val(Interval.make(bv.lo, hi, integral), bv.type, bv.kind == "beta")

    def _field(self, e: ast.Field, env: Env) -> Val:
        self.eval(e.obj, env, quiet=True)
        bf = FIELDS_BY_NAME.get(e.name)
        if bf is not None:
            hi = bf.hi
            if bf.hi_limit:
                hi = min(hi, self.limits[bf.hi_limit].hi)
            return Val(Interval.make(bf.lo, hi, bf.type is T.INT), bf.type, False)
        typ = self.field_types.get(e.name)
        return Val(Interval.top(typ is T.INT), typ, False)

    def _binary(self, e: ast.Binary, env: Env, facts: Sequence[ast.Compare]) -> Val:
        a = self.eval(e.left, env, facts)
        b = self.eval(e.right, env, facts)
        static = a.static and b.static
        typ = T.FLOAT if e.op == "/" else unify_numeric(a.type or T.FLOAT, b.type or T.FLOAT)
        if e.op in ("/", "//", "%") and b.iv.contains(0):
            self._issue(
                "div0",
                e.right,
                f"the divisor of `{e.op}` ranges over {b.iv}, which includes 0",
                b,
            )
        if e.op == "+":
            iv = a.iv + b.iv
        elif e.op == "-":
            iv = a.iv - b.iv
        elif e.op == "*":
            iv = a.iv * b.iv
        elif e.op == "/":
            iv = a.iv.divide(b.iv)
        elif e.op == "//":
            iv = a.iv.floordiv(b.iv)
        else:
            iv = a.iv.mod(b.iv)
        if typ is T.INT and not iv.integral:
            iv = Interval.make(iv.lo, iv.hi, True)
        return Val(iv, typ, static)

    def probability_like(self, e: ast.Expr, env: Env) -> str:
        """The builtin that makes `e` a probability in [0, 1] ("" if none)."""
        if isinstance(e, ast.Name):
            b = env.lookup(e.id)
            if b is not None and b.kind == "let" and b.expr is not None:
                return self.probability_like(b.expr, env)
            return ""
        if isinstance(e, ast.Call):
            rows = overloads(e.func)
            if rows and all(_probability_row(r) for r in rows):
                return e.func
            return ""
        if isinstance(e, ast.Cond):
            sides = [e.then, e.other]
            names = [self.probability_like(s, env) for s in sides]
            lits = [isinstance(s, ast.IntLit | ast.FloatLit) and 0 <= s.value <= 1 for s in sides]
            if all(n or lit for n, lit in zip(names, lits, strict=True)) and any(names):
                return next(n for n in names if n)
        return ""

    def _compare(self, e: ast.Compare, env: Env, facts: Sequence[ast.Compare]) -> Val:
        a = self.eval(e.left, env, facts)
        b = self.eval(e.right, env, facts)
        for prob, thr, tv in ((e.left, e.right, b), (e.right, e.left, a)):
            if tv.static and tv.type in NUMERIC and not tv.iv.within(0, 1):
                fn = self.probability_like(prob, env)
                if fn:
                    self._issue(
                        "prob",
                        thr,
                        f"threshold ranges over {tv.iv}, but `{fn}(...)` is a probability "
                        "in [0, 1]",
                        tv,
                    )
        return Val(_truth(e.op, a, b), T.BOOL, a.static and b.static)

    def _query(self, e: ast.Query, env: Env) -> Val:
        src = self.eval(e.source, env, quiet=True)
        inner = env.child()
        inner.names[e.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
        if e.where is not None:
            self.eval(e.where, inner)
        return Val(Interval.make(0, src.iv.hi, True), T.SET, False)

    def _generator(self, e: ast.Generator, env: Env) -> Val:
        self.eval(e.source, env, quiet=True)
        inner = env.child()
        inner.names[e.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
        facts: list[ast.Compare] = []
        if e.where is not None:
            self.eval(e.where, inner)
            facts = self.facts_of(e.where, True, inner)
        v = self.eval(e.value, inner, facts)
        return Val(v.iv, T.GEN, False)

    def _call(self, e: ast.Call, env: Env, facts: Sequence[ast.Compare]) -> Val:
        args = [self.eval(a, env, facts) for a in e.args]
        row = self.row_for(e, args, env)
        if row is None:
            return TOP
        result = row.result
        if row.int_preserving:
            elems = [self._gen_elem(a, env) for a in e.args] if T.GEN in _types(args) else args
            if all(v.type is T.INT for v in elems):
                result = T.INT
        bounds = [a.iv.bounds for a in args]
        static = row.schedule and all(a.static for a in args)
        if row.domain_at is not None:
            why = row.domain_at(bounds)
            if why:
                self._issue("domain", e, f"`{e.func}`: {why}", Val(args[0].iv, None, static))
                return Val(Interval.top(result is T.INT), result, static)
        if row.interval is None:
            return Val(Interval.top(result is T.INT), result, static)
        lo, hi = row.interval(bounds)
        return Val(Interval.make(lo, hi, result is T.INT), result, static)

    def _gen_elem(self, e: ast.Expr, env: Env) -> Val:
        if not isinstance(e, ast.Generator):
            return self.eval(e, env, quiet=True)
        inner = env.child()
        inner.names[e.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
        return self.eval(e.value, inner, quiet=True)

    def row_for(self, e: ast.Call, args: Sequence[Val], env: Env) -> Builtin | None:
        """The overload the compiler picks for this call (None if unknown)."""
        rows = overloads(e.func)
        types = _types(args)
        if None in types:
            return rows[0] if len(rows) == 1 else None
        return resolve_overload(rows, [t for t in types if t is not None])


def _truth(op: str, a: Val, b: Val) -> Interval:
    """What the ranges decide about `a op b`: [1, 1], [0, 0] or [0, 1]."""
    unknown = Interval(0, 1, True)
    if a.type not in NUMERIC or b.type not in NUMERIC:
        return unknown
    x, y = a.iv, b.iv
    sure = {
        "<": (x.hi < y.lo, x.lo >= y.hi),
        "<=": (x.hi <= y.lo, x.lo > y.hi),
        ">": (x.lo > y.hi, x.hi <= y.lo),
        ">=": (x.lo >= y.hi, x.hi < y.lo),
        "==": (x.is_point and y.is_point and x.lo == y.lo, x.hi < y.lo or y.hi < x.lo),
        "!=": (x.hi < y.lo or y.hi < x.lo, x.is_point and y.is_point and x.lo == y.lo),
    }
    true, false = sure[op]
    return Interval(1, 1, True) if true else Interval(0, 0, True) if false else unknown


def _types(args: Sequence[Val]) -> list[T | None]:
    return [a.type for a in args]


def _join_types(a: T | None, b: T | None) -> T | None:
    if a in NUMERIC and b in NUMERIC:
        return unify_numeric(a, b)
    if a is b:
        return a
    if {a, b} <= {T.ANSWER, T.NONE}:
        return T.ANSWER
    return a or b


def _refine_by(iv: Interval, op: str, o: Interval) -> Interval:
    """The part of `iv` where `x op y` can hold for some y in `o`."""
    strict_hi = o.hi - 1 if iv.integral else math.nextafter(o.hi, -INF)
    strict_lo = o.lo + 1 if iv.integral else math.nextafter(o.lo, INF)
    if op == "<":
        return iv.meet(-INF, strict_hi if math.isfinite(o.hi) else INF)
    if op == "<=":
        return iv.meet(-INF, o.hi)
    if op == ">":
        return iv.meet(strict_lo if math.isfinite(o.lo) else -INF, INF)
    if op == ">=":
        return iv.meet(o.lo, INF)
    if op == "==":
        return iv.meet(o.lo, o.hi)
    if op == "!=" and o.is_point:
        p = o.lo
        step = 1.0 if iv.integral else 0.0
        if iv.lo == p:
            return iv.meet(p + step if step else math.nextafter(p, INF), INF)
        if iv.hi == p:
            return iv.meet(-INF, p - step if step else math.nextafter(p, -INF))
    return iv


# ------------------------------------------------------------- stability


def is_stable(e: ast.Expr, env: Env) -> bool:
    """Does `e` keep its value for the rest of the round? Lets, loop
    variables, params, knobs and `round` do; state, fields, sets and the
    counters that actions move (`spawned`, `cost`, ...) do not."""
    if isinstance(e, ast.Name):
        b = env.lookup(e.id)
        if b is not None:
            return b.kind in ("let", "loop", "param", "knob", "beta")
        return e.id in ("beta", "round")
    if isinstance(e, ast.Field):
        return False
    if isinstance(e, ast.Query | ast.Generator):
        return False
    return all(is_stable(c, env) for c in children(e))


def children(e: ast.Expr) -> list[ast.Expr]:
    """Direct sub-expressions, in source order."""
    if isinstance(e, ast.Field):
        return [e.obj]
    if isinstance(e, ast.Unary):
        return [e.operand]
    if isinstance(e, ast.Binary | ast.Compare | ast.BoolOp | ast.Coalesce):
        return [e.left, e.right]
    if isinstance(e, ast.Cond):
        return [e.test, e.then, e.other]
    if isinstance(e, ast.Call):
        return list(e.args)
    if isinstance(e, ast.Query):
        return [e.source] + ([e.where] if e.where is not None else [])
    if isinstance(e, ast.Generator):
        return [e.value, e.source] + ([e.where] if e.where is not None else [])
    return []
