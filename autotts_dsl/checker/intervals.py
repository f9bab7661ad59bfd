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
from dataclasses import field
from typing import Literal

from .. import ast
from ..builtins import FIELDS_BY_NAME, VALUES_BY_NAME, Bounds, Builtin, overloads, resolve_overload
from ..records import record
from ..types import NUMERIC, T, unify_numeric

INF = math.inf

Sign = Literal["zero", "pos", "neg", "any"]

Num = int | float
"""An end of an interval: a finite int end is exact (never rounded through a
float); float ends and the infinities are floats."""


def to_float(x: Num) -> float:
    """`float(x)` as the run time computes it (rounding to nearest, which is
    monotone); an int beyond the float range becomes ±∞."""
    if isinstance(x, float):
        return x
    try:
        return float(x)
    except OverflowError:
        return math.copysign(INF, x)


def _isinf(x: Num) -> bool:
    return isinstance(x, float) and math.isinf(x)


def _ceil(x: Num) -> Num:
    return x if isinstance(x, int) or math.isinf(x) else math.ceil(x)


def _floor(x: Num) -> Num:
    return x if isinstance(x, int) or math.isinf(x) else math.floor(x)


def _sgn(x: Num) -> int:
    return (x > 0) - (x < 0)


def _num(v: Num) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if isinstance(v, int):
        if abs(v) < 10**20:  # every int64, exactly
            return str(v)
        digits = str(abs(v))
        return f"{'-' if v < 0 else ''}{digits[0]}.{digits[1:6]}e+{len(digits) - 1:02d}"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


@record
class Interval:
    """A closed range [lo, hi] of the values an expression can take.

    `integral`: every value is an integer (so an infinite end means
    "unbounded", never the value ∞). A non-integral float range with an
    infinite end may hold ∞ itself (float overflow). `nan`: the value may be
    NaN (0 × ∞, ∞ − ∞, ∞ / ∞, or a NaN input); comparisons with it are
    never decided."""

    lo: Num
    hi: Num
    integral: bool = False
    nan: bool = False

    @staticmethod
    def make(lo: Num, hi: Num, integral: bool = False, nan: bool = False) -> Interval:
        if lo != lo:  # NaN
            lo, nan = -INF, True
        if hi != hi:
            hi, nan = INF, True
        if integral:
            lo, hi = _ceil(lo), _floor(hi)
        return Interval(lo, hi, integral, nan)

    @staticmethod
    def point(v: Num, integral: bool = False) -> Interval:
        return Interval.make(v, v, integral)

    @staticmethod
    def top(integral: bool = False, nan: bool = False) -> Interval:
        return Interval(-INF, INF, integral, nan)

    @property
    def bounds(self) -> Bounds:
        return self.lo, self.hi

    @property
    def finite(self) -> bool:
        return not _isinf(self.lo) and not _isinf(self.hi)

    @property
    def may_inf(self) -> bool:
        """Can the value be ±∞ itself (not just unboundedly large)?"""
        return not self.integral and not self.finite

    @property
    def is_point(self) -> bool:
        return self.lo == self.hi and not self.nan

    def contains(self, v: Num) -> bool:
        return self.lo <= v <= self.hi

    def within(self, lo: Num, hi: Num) -> bool:
        return lo <= self.lo and self.hi <= hi and not self.nan

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
            min(self.lo, other.lo),
            max(self.hi, other.hi),
            self.integral and other.integral,
            self.nan or other.nan,
        )

    def meet(self, lo: Num, hi: Num) -> Interval:
        """Intersect with [lo, hi]; an empty result keeps the original (the
        fact that produced it cannot hold here, so it is no information)."""
        got = Interval.make(max(self.lo, lo), min(self.hi, hi), self.integral, self.nan)
        return self if got.lo > got.hi else got

    def as_float(self) -> Interval:
        """The values after conversion to float (what a float-typed value
        holds at run time: ends rounded as the conversion rounds)."""
        return Interval.make(to_float(self.lo), to_float(self.hi), self.integral, self.nan)

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo, self.integral, self.nan)

    # -- arithmetic: `floaty` runs the operation in floats (as the run time does
    # when either operand is a float), else in exact ints. Ends are computed
    # with the run time's own operations, so they are sound to the last bit
    # (every operation here is monotone in each argument on the ranges used).

    def add(self, o: Interval, floaty: bool = False) -> Interval:
        nan = self.nan or o.nan
        if floaty:
            # ∞ + (−∞) is NaN where both can actually be infinite
            nan = nan or (
                self.may_inf
                and o.may_inf
                and ((self.hi == INF and o.lo == -INF) or (self.lo == -INF and o.hi == INF))
            )
            lo = to_float(self.lo) + to_float(o.lo)
            hi = to_float(self.hi) + to_float(o.hi)
        else:
            lo, hi = _exact_add(self.lo, o.lo), _exact_add(self.hi, o.hi)
        return _result(lo, hi, self.integral and o.integral, nan, floaty)

    def sub(self, o: Interval, floaty: bool = False) -> Interval:
        return self.add(-o, floaty)

    def mul(self, o: Interval, floaty: bool = False) -> Interval:
        nan = self.nan or o.nan
        if floaty:
            nan = nan or (self.contains(0) and o.may_inf) or (o.contains(0) and self.may_inf)
        ps = [_mul_end(a, b, floaty) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
        return _result(min(ps), max(ps), self.integral and o.integral, nan, floaty)

    def divide(self, o: Interval, exact_ints: bool = False) -> Interval:
        """`/` (always a float result). With `exact_ints` both operands are
        ints: Python then rounds the exact quotient once."""
        nan = self.nan or o.nan or (self.may_inf and o.may_inf)
        if o.contains(0):
            return Interval.top(nan=nan)
        # Division is monotone in each argument on either side of 0, so the
        # corners bound it.
        qs: list[Num] = []
        for a in (self.lo, self.hi):
            for b in (o.lo, o.hi):
                if _isinf(a) and _isinf(b):
                    qs += [0.0, math.copysign(INF, a) * math.copysign(1.0, b)]
                else:
                    qs.append(_div_end(a, b, exact_ints))
        return _result(min(qs), max(qs), False, nan, True)

    def floordiv(self, o: Interval, floaty: bool = False) -> Interval:
        nan = self.nan or o.nan or (floaty and (self.may_inf or o.may_inf))
        if o.contains(0):
            return Interval.top(True, nan)
        if not floaty:
            # exact floor division of ints (monotone per argument on each side of 0)
            qs = [_ifloordiv(a, b) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
            return Interval.make(min(qs), max(qs), True, nan)
        q = self.divide(o)
        # `a // b` floors the exact quotient, which can sit just off the rounded
        # `a / b`: widen by one (and by the rounding error of huge quotients).
        lo = _floor(q.lo - _slack(q.lo)) if not _isinf(q.lo) else q.lo
        hi = _floor(q.hi + _slack(q.hi)) if not _isinf(q.hi) else q.hi
        return Interval.make(lo, hi, True, nan)

    def mod(self, o: Interval, floaty: bool = False) -> Interval:
        integral = self.integral and o.integral
        nan = self.nan or o.nan or (floaty and self.may_inf)
        if o.contains(0) or (floaty and o.may_inf):
            # (x % ∞ is x, or ∞ for a negative x)
            return Interval.top(integral, nan)
        # Python's % takes the sign of the divisor and is smaller in size.
        if o.lo > 0:
            hi: Num = o.hi - 1 if integral else o.hi
            if self.lo >= 0:
                hi = min(hi, self.hi)
            return Interval.make(0, hi, integral, nan)
        lo: Num = o.lo + 1 if integral else o.lo
        return Interval.make(lo, 0, integral, nan)

    def __str__(self) -> str:
        return f"[{_num(self.lo)}, {_num(self.hi)}]" + (" or NaN" if self.nan else "")


def _result(lo: Num, hi: Num, integral: bool, nan: bool, floaty: bool) -> Interval:
    if lo != lo or hi != hi:  # a NaN corner: nothing is known
        return Interval.top(False, True)
    if floaty and integral and (_isinf(lo) or _isinf(hi)):
        integral = False  # a float product or sum of integers can overflow to ∞
    return Interval.make(lo, hi, integral, nan)


def _exact_add(a: Num, b: Num) -> Num:
    if _isinf(a) or _isinf(b):
        if _isinf(a) and _isinf(b) and a != b:
            return math.nan
        return a if _isinf(a) else b
    return a + b


def _mul_end(a: Num, b: Num, floaty: bool) -> Num:
    # 0 × an unbounded end is 0 (the values are finite); where ∞ itself can
    # occur, `mul` has flagged the NaN already.
    if a == 0 or b == 0:
        return 0.0 if floaty else 0
    if _isinf(a) or _isinf(b):
        return math.copysign(INF, _sgn(a) * _sgn(b))
    if floaty:
        return to_float(a) * to_float(b)
    return a * b


def _div_end(a: Num, b: Num, exact_ints: bool) -> float:
    if _isinf(b):
        return math.copysign(0.0, _sgn(a) * _sgn(b)) if a != 0 else 0.0
    if _isinf(a):
        return math.copysign(INF, _sgn(a) * _sgn(b))
    try:
        return a / b if exact_ints else to_float(a) / to_float(b)
    except OverflowError:
        return math.copysign(INF, _sgn(a) * _sgn(b))


def _ifloordiv(a: Num, b: Num) -> Num:
    """a // b for ints, with unbounded (infinite) ends taken as limits."""
    if _isinf(a):
        return math.copysign(INF, _sgn(a) * _sgn(b))
    if _isinf(b):
        if a == 0:
            return 0
        return 0 if (a > 0) == (b > 0) else -1
    return a // b


def _slack(q: Num) -> Num:
    return 1 + abs(to_float(q)) * 2.0**-50


# ------------------------------------------------------------------ values


@record
class Val:
    iv: Interval
    type: T | None  # None: not known (an error elsewhere, or no type matters)
    static: bool  # depends only on β, params, knobs and literals


TOP = Val(Interval.top(), None, False)

BindingKind = Literal["beta", "param", "knob", "state", "window", "let", "loop"]


@record(frozen=False)
class Binding:
    kind: BindingKind
    val: Val
    expr: ast.Expr | None = None  # a let's defining expression
    epoch: int = 0  # when a let was bound (see RangeWalker)
    origin: str = ""  # for a loop variable: the set it iterates
    node: object = None  # the declaring AST node (lints key uses on it)


@record(frozen=False)
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


MAX_FACTS = 16
"""Guard facts consulted per expression: the innermost ones. Deeper nests of
guards lose precision, never soundness, and keep checking time linear."""


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
        self._memo: dict[tuple[int, ...], tuple[object, Val]] = {}
        self._negated: dict[int, tuple[ast.Compare, ast.Compare]] = {}

    def forget(self) -> None:
        """Drop memoised values (after `limits` changed)."""
        self._memo.clear()

    # -- facts ------------------------------------------------------------------

    def facts_of(
        self, e: ast.Expr, positive: bool, env: Env, _lets: set[str] | None = None
    ) -> list[ast.Compare]:
        """Comparisons known to hold when `e` is `positive` (true) or false.
        Each let is followed once (a chain of lets that use the previous one
        twice would otherwise take exponential time)."""
        lets = _lets if _lets is not None else set()
        if isinstance(e, ast.Compare):
            if positive:
                return [e]
            neg = self._negated.get(id(e))
            if neg is None or neg[0] is not e:
                # one object per negated comparison: facts are compared (and
                # memoised) by identity
                neg = self._negated[id(e)] = (e, ast.Compare(_NEGATE[e.op], e.left, e.right))
            return [neg[1]]
        if isinstance(e, ast.BoolOp):
            if (e.op == "and") == positive:
                return self.facts_of(e.left, positive, env, lets) + self.facts_of(
                    e.right, positive, env, lets
                )
            return []
        if isinstance(e, ast.Unary) and e.op == "not":
            return self.facts_of(e.operand, not positive, env, lets)
        if isinstance(e, ast.Name) and e.id not in lets:
            b = env.lookup(e.id)
            if (
                b is not None
                and b.kind == "let"
                and b.expr is not None
                and (b.epoch == self.epoch or is_stable(b.expr, env))
            ):
                lets.add(e.id)
                return self.facts_of(b.expr, positive, env, lets)
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
        if len(facts) > MAX_FACTS:
            facts = facts[-MAX_FACTS:]  # the innermost guards (bounded work per node)
        key: tuple[int, ...] = ()
        if self.report is None:
            # Reporting nothing, the value depends only on the node, its scope,
            # the facts and the epoch: memoised (deeply nested `? :` would
            # otherwise be evaluated once per enclosing level). The entry keeps
            # the objects alive, so their ids are not reused.
            key = (id(e), id(env), self.epoch, *map(id, facts))
            hit = self._memo.get(key)
            if hit is not None:
                self.report = saved
                return hit[1]
        try:
            v = self._eval(e, env, facts)
            v = self._refine(e, v, env, facts) if facts else v
            if key:
                self._memo[key] = ((e, env, tuple(facts)), v)
            return v
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
        # The operation runs in floats when either operand is one (a float-typed
        # value is a float at run time), else in exact 64-bit ints.
        floaty = typ is T.FLOAT
        if e.op == "+":
            iv = a.iv.add(b.iv, floaty)
        elif e.op == "-":
            iv = a.iv.sub(b.iv, floaty)
        elif e.op == "*":
            iv = a.iv.mul(b.iv, floaty)
        elif e.op == "/":
            iv = a.iv.divide(b.iv, exact_ints=a.type is T.INT and b.type is T.INT)
        elif e.op == "//":
            iv = a.iv.floordiv(b.iv, floaty)
        else:
            iv = a.iv.mod(b.iv, floaty)
        if typ is T.INT and not iv.integral:
            iv = Interval.make(iv.lo, iv.hi, True, iv.nan)
        return Val(iv, typ, static)

    def probability_like(self, e: ast.Expr, env: Env, _memo: dict[str, str] | None = None) -> str:
        """The builtin that makes `e` a probability in [0, 1] ("" if none);
        each let is judged once."""
        memo = _memo if _memo is not None else {}
        if isinstance(e, ast.Name):
            if e.id in memo:
                return memo[e.id]
            b = env.lookup(e.id)
            memo[e.id] = ""
            if b is not None and b.kind == "let" and b.expr is not None:
                memo[e.id] = self.probability_like(b.expr, env, memo)
            return memo[e.id]
        if isinstance(e, ast.Call):
            rows = overloads(e.func)
            if rows and all(_probability_row(r) for r in rows):
                return e.func
            return ""
        if isinstance(e, ast.Cond):
            sides = [e.then, e.other]
            names = [self.probability_like(s, env, memo) for s in sides]
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
        integral = result is T.INT
        if row.domain_at is not None:
            why = row.domain_at(bounds)
            if why:
                self._issue("domain", e, f"`{e.func}`: {why}", Val(args[0].iv, None, static))
                return Val(Interval.top(integral), result, static)
        if any(a.iv.nan for a in args):
            # NaN defeats every rule (min(0.5, NaN) is 0.5, round(NaN) fails, ...)
            return Val(Interval.top(integral, result is T.FLOAT), result, static)
        if row.interval is None:
            return Val(Interval.top(integral), result, static)
        lo, hi = row.interval(bounds)
        iv = Interval.make(lo, hi, integral)
        if result is T.FLOAT:
            # a float result (min of mixed ints and floats is converted); over
            # values that can be ∞, an aggregate may meet ∞ − ∞
            gen_inf = T.GEN in _types(args) and any(a.iv.may_inf for a in args)
            iv = iv.as_float()
            if gen_inf:
                iv = Interval.top(nan=True)
        return Val(iv, result, static)

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
    if a.type not in NUMERIC or b.type not in NUMERIC or a.iv.nan or b.iv.nan:
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
    """The part of `iv` where `x op y` can hold for some y in `o` (a NaN
    possibility is kept: a negated fact may hold because of it)."""
    if o.nan:
        return iv
    if op == "<":
        return iv.meet(-INF, _below(o.hi, iv.integral))
    if op == "<=":
        return iv.meet(-INF, o.hi)
    if op == ">":
        return iv.meet(_above(o.lo, iv.integral), INF)
    if op == ">=":
        return iv.meet(o.lo, INF)
    if op == "==":
        return iv.meet(o.lo, o.hi)
    if op == "!=" and o.is_point:
        p = o.lo
        if iv.lo == p:
            return iv.meet(_above(p, iv.integral), INF)
        if iv.hi == p:
            return iv.meet(-INF, _below(p, iv.integral))
    return iv


def _below(y: Num, integral: bool) -> Num:
    """The largest x with x < y: an int, or else a float (a non-integral
    range holds floats)."""
    if _isinf(y):
        return y
    if integral:
        return math.ceil(y) - 1
    f = to_float(y)
    return f if f < y else math.nextafter(f, -INF)


def _above(y: Num, integral: bool) -> Num:
    """The smallest x with x > y (as `_below`)."""
    if _isinf(y):
        return y
    if integral:
        return math.floor(y) + 1
    f = to_float(y)
    return f if f > y else math.nextafter(f, INF)


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
