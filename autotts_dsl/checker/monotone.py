"""Proving each knob's declared β-direction, DCP style.

`beta` is up, literals are constant, an earlier knob carries its declared
direction, a param the direction of its default. Composition:

* `a + b` keeps a common direction; `a - b` is `a + (-b)`; `-a` flips;
* `a * b` is the sum of two terms, "a's direction scaled by b's sign" and
  "b's direction scaled by a's sign" (f2g2 - f1g1 = (f2-f1)g2 + f1(g2-g1)),
  signs coming from interval arithmetic; so a constant of known sign keeps
  or flips, and two non-negative up factors make an up product;
* `a / b` is `a * (1/b)` where 1/b has b's sign and the opposite direction,
  provided b's range excludes 0; `//` is the same (floor is monotone);
* a builtin composes by its per-argument monotonicity from the builtins
  table (`mono`, refined by `mono_at` over the argument ranges: pow, clamp,
  abs) — an `incr` argument passes its direction, `decr` flips it, and a
  non-monotone argument must be constant;
* anything else (`%`, `? :` on a varying test) is unproved unless constant.

A claim the rules cannot prove is an error: E201 with a counterexample from
the β grid (evaluated by the real compiler) when the claim is false, E202
when the grid finds none.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any

from .. import ast
from ..diagnostics import Span
from ..records import record
from ..types import DECLARABLE, NUMERIC, T
from .context import Context, fmt_beta, fmt_value
from .intervals import Env, Interval, IntervalEval, Sign, Val, children

UP, DOWN, CONST, UNKNOWN = "up", "down", "const", "unknown"

# Two knob values closer than this (relative) are equal: floating-point noise
# is not a counterexample.
REL_TOL = 1e-9


def flip(d: str) -> str:
    return {UP: DOWN, DOWN: UP}.get(d, d)


def add(a: str, b: str) -> str:
    if a == CONST:
        return b
    if b == CONST or a == b:
        return a
    return UNKNOWN


def scale(d: str, sign: Sign) -> str:
    if d == CONST or sign == "zero":
        return CONST
    if d == UNKNOWN:
        return UNKNOWN
    if sign == "pos":
        return d
    if sign == "neg":
        return flip(d)
    return UNKNOWN


def satisfies(proved: str, declared: str) -> bool:
    return proved in (declared, CONST)


@record(frozen=False)
class Proof:
    direction: str
    reason: str = ""  # why it is unknown: the innermost sub-expression that failed


class Prover:
    """Directions of static expressions; `dirs` maps params and knobs to the
    direction later proofs may assume."""

    def __init__(
        self, ev: IntervalEval, dirs: dict[str, str], text: Any, failed: set[str] | None = None
    ) -> None:
        self.ev = ev
        self.dirs = dirs
        self.text = text  # Expr -> source-like text, for reasons
        # knobs whose own claim failed (already an error): not held against
        # the knobs built from them
        self.failed = failed if failed is not None else set()
        self._ranges: dict[tuple[int, int], tuple[ast.Expr, Val]] = {}

    def prove(self, e: ast.Expr, env: Env) -> Proof:
        if isinstance(e, ast.IntLit | ast.FloatLit | ast.BoolLit):
            return Proof(CONST)
        if isinstance(e, ast.Name):
            if e.id == "beta":
                return Proof(UP)
            d = self.dirs.get(e.id, UNKNOWN)
            return Proof(d, "" if d != UNKNOWN else f"`{e.id}` has no proved direction")
        proof = self._compound(e, env)
        if proof.direction != UNKNOWN:
            # checked bottom-up: the reason names the innermost culprit
            overflow = self._overflow(e, env)
            if overflow:
                return Proof(UNKNOWN, overflow)
        return proof

    def _overflow(self, e: ast.Expr, env: Env) -> str:
        """Why `e` may leave the finite numbers ("" if it cannot). A static
        expression is bounded unless it overflows (or divides by a range
        holding 0, which the rules reject anyway): ∞ and NaN have no
        direction, and `0 * ∞` is not 0."""
        if _mentions(e, self.failed):
            return ""
        iv = self._range(e, env)
        if iv.nan:
            return f"`{self.text(e)}` may be NaN (it can overflow, and 0 × ∞ or ∞ − ∞ is NaN)"
        if not iv.finite:
            return f"`{self.text(e)}` may overflow: it ranges over {iv}"
        return ""

    def _compound(self, e: ast.Expr, env: Env) -> Proof:
        if isinstance(e, ast.Unary) and e.op == "-":
            p = self.prove(e.operand, env)
            return Proof(flip(p.direction), p.reason)
        if isinstance(e, ast.Binary):
            return self._binary(e, env)
        if isinstance(e, ast.Call):
            return self._call(e, env)
        if isinstance(e, ast.Cond):
            test = self._range(e.test, env)
            if test.is_point:  # decided by params and literals: one arm counts
                return self.prove(e.then if test.lo == 1 else e.other, env)
            parts = [self.prove(x, env) for x in (e.test, e.then, e.other)]
            if all(p.direction == CONST for p in parts):
                return Proof(CONST)
            return Proof(UNKNOWN, f"`{self.text(e)}`: a choice that varies with β is not proved")
        return Proof(UNKNOWN, f"`{self.text(e)}` is not a schedule expression")

    def _val(self, e: ast.Expr, env: Env) -> Val:
        # memoised per node and scope: proving evaluates every sub-expression
        # (without it, nested calls would take quadratic time)
        key = (id(e), id(env))
        got = self._ranges.get(key)
        if got is None or got[0] is not e:
            got = self._ranges[key] = (e, self.ev.eval(e, env, quiet=True))
        return got[1]

    def _range(self, e: ast.Expr, env: Env) -> Interval:
        return self._val(e, env).iv

    def _sign(self, e: ast.Expr, env: Env) -> tuple[Sign, Interval]:
        iv = self._range(e, env)
        return iv.sign, iv

    def _binary(self, e: ast.Binary, env: Env) -> Proof:
        a = self.prove(e.left, env)
        b = self.prove(e.right, env)
        inner = a.reason or b.reason
        if a.direction == UNKNOWN or b.direction == UNKNOWN:
            return Proof(UNKNOWN, inner)
        if e.op in ("+", "-"):
            d = add(a.direction, b.direction if e.op == "+" else flip(b.direction))
            if d == UNKNOWN:
                word = "sum" if e.op == "+" else "difference"
                return Proof(
                    UNKNOWN,
                    f"`{self.text(e)}`: `{self.text(e.left)}` is {a.direction} and "
                    f"`{self.text(e.right)}` is {b.direction}, so their {word} has no "
                    "proved direction",
                )
            return Proof(d)
        if e.op == "%":
            if a.direction == CONST and b.direction == CONST:
                return Proof(CONST)
            return Proof(UNKNOWN, f"`{self.text(e)}`: `%` is not monotone")
        sa, ia = self._sign(e.left, env)
        sb, ib = self._sign(e.right, env)
        if e.op == "*":
            d = add(scale(a.direction, sb), scale(b.direction, sa))
            if d == UNKNOWN:
                return Proof(
                    UNKNOWN,
                    f"`{self.text(e)}`: the factors' signs ({self.text(e.left)} in {ia}, "
                    f"{self.text(e.right)} in {ib}) do not fix the product's direction",
                )
            return Proof(d)
        # `/` and `//`: a * (1/b), with 1/b of b's sign and opposite direction
        if ib.contains(0):
            return Proof(
                UNKNOWN, f"`{self.text(e)}`: the divisor ranges over {ib}, which includes 0"
            )
        d = add(scale(a.direction, sb), scale(flip(b.direction), sa))
        if d == UNKNOWN:
            return Proof(
                UNKNOWN,
                f"`{self.text(e)}`: the signs ({self.text(e.left)} in {ia}, "
                f"{self.text(e.right)} in {ib}) do not fix the quotient's direction",
            )
        return Proof(d)

    def _call(self, e: ast.Call, env: Env) -> Proof:
        vals = [self._val(a, env) for a in e.args]
        row = self.ev.row_for(e, vals, env)
        if row is None or not row.schedule:
            return Proof(UNKNOWN, f"`{e.func}` is not a schedule function")
        bounds = [v.iv.bounds for v in vals]
        if row.domain_at is not None and row.domain_at(bounds):
            return Proof(UNKNOWN, f"`{self.text(e)}`: {row.domain_at(bounds)}")
        monos = row.mono_for(bounds)
        d = CONST
        for arg, mono in zip(e.args, monos, strict=False):
            p = self.prove(arg, env)
            if p.direction == UNKNOWN:
                return p
            if mono == "incr":
                term = p.direction
            elif mono == "decr":
                term = flip(p.direction)
            elif p.direction == CONST:
                term = CONST
            else:
                return Proof(
                    UNKNOWN,
                    f"`{e.func}` is not monotone in `{self.text(arg)}` over its range "
                    f"{self.ev.eval(arg, env, quiet=True).iv}",
                )
            d = add(d, term)
            if d == UNKNOWN:
                return Proof(
                    UNKNOWN, f"`{self.text(e)}`: its arguments move in opposite directions"
                )
        return Proof(d)


# ------------------------------------------------------------------ knobs


@record(frozen=False)
class KnobProof:
    name: str
    type: str
    declared: str
    proved: str  # up | down | const | unknown
    status: str  # proved | false | unproved | pinned
    range: Interval
    reason: str = ""
    counterexample: str = ""
    span: Span = field(default_factory=lambda: Span(0, 0, 0, 0))


def counterexample(
    grid: list[tuple[float, dict[str, Any]]], name: str, declared: str
) -> tuple[str, str] | None:
    """The grid's worst violation of `declared` as (message, direction it
    shows), or None when every step is consistent (floats to REL_TOL; ints
    exactly)."""
    pts: list[tuple[float, int | float, Any]] = []
    for b, vals in grid:
        x = vals.get(name)
        if (isinstance(x, int) and not isinstance(x, bool)) or (
            isinstance(x, float) and math.isfinite(x)
        ):
            pts.append((b, x, x))
    if len(pts) < 2:
        return None
    raw = {b: x for b, _, x in pts}
    exact = all(isinstance(x, int) for _, x, _ in pts)

    def tol(a: float, b: float) -> float:
        return 0.0 if exact else REL_TOL * max(1.0, abs(a), abs(b))

    if declared == CONST:
        lo = min(pts, key=lambda p: p[1])
        hi = max(pts, key=lambda p: p[1])
        if hi[1] - lo[1] <= tol(lo[1], hi[1]):
            return None
        first, second = sorted([lo, hi], key=lambda p: p[0])
        shows = UP if second[1] > first[1] else DOWN
        return (
            f"{fmt_value(raw[first[0]])} at β={fmt_beta(first[0])} and "
            f"{fmt_value(raw[second[0]])} at β={fmt_beta(second[0])}",
            shows,
        )
    sgn = 1.0 if declared == UP else -1.0
    best: tuple[int | float, float, float] | None = None  # (violation, β1, β2)
    run = pts[0]  # the extreme so far (max for up, min for down)
    for p in pts[1:]:
        drop = sgn * (run[1] - p[1])
        if drop > tol(run[1], p[1]) and (best is None or drop > best[0]):
            best = (drop, run[0], p[0])
        if sgn * p[1] > sgn * run[1]:
            run = p
    if best is None:
        return None
    _, b1, b2 = best
    return (
        f"{fmt_value(raw[b1])} at β={fmt_beta(b1)} and {fmt_value(raw[b2])} at β={fmt_beta(b2)}",
        flip(declared),
    )


def exact_range(ctx: Context, name: str, direction: str, fallback: Interval) -> Interval:
    """A monotone knob's range is spanned by its values at β = 0 and 1."""
    if direction not in (UP, DOWN, CONST):
        return fallback
    ends = [v[name] for _, v in ctx.endpoints() if name in v]
    if len(ends) != 2 or not all(isinstance(x, int | float) for x in ends):
        return fallback
    lo, hi = min(ends), max(ends)
    return fallback.meet(lo, hi) if fallback.contains(lo) and fallback.contains(hi) else fallback


def val_type(decl_type: str) -> T | None:
    typ = DECLARABLE.get(decl_type)
    return typ if typ in (T.INT, T.FLOAT, T.BOOL) else None


def prove_schedule(ctx: Context, ev: IntervalEval, text: Any) -> list[KnobProof]:
    """Ranges and directions of params and knobs, in declaration order; adds
    E201/E202 for claims that fail. Range problems inside the expressions
    are reported through `ev` (the caller's reporter)."""
    failed_names: set[str] = set()
    prover = Prover(ev, ctx.directions, text, failed_names)
    for p in ctx.program.params:
        env = ctx.global_env()
        typ = val_type(p.type)
        if p.name in ctx.pinned:  # the value a run uses (`--param`)
            ctx.param_vals[p.name] = Val(_point(ctx.pinned[p.name], typ), typ, True)
            ctx.directions[p.name] = CONST
            continue
        v = ev.eval(p.default, env)
        iv = _typed(v.iv, typ)
        ctx.param_vals[p.name] = Val(iv, typ, True)
        ctx.directions[p.name] = prover.prove(p.default, env).direction
    proofs: list[KnobProof] = []
    failed: list[KnobProof] = []
    for k in ctx.program.knobs:
        env = ctx.global_env()
        if k.name in ctx.pinned:
            # `--param` pins a knob to a constant: any declared direction holds
            typ = val_type(k.type)
            value = ctx.pinned[k.name]
            iv = _point(value, typ)
            proofs.append(KnobProof(k.name, k.type, k.direction, CONST, "pinned", iv, span=k.span))
            ctx.knob_vals[k.name] = Val(iv, typ if typ in NUMERIC else None, True)
            ctx.directions[k.name] = CONST
            continue
        before = len(ctx.diags)
        v = ev.eval(k.expr, env)
        # A range error in the expression already explains a failed proof.
        broken = any(d.code in ("E205", "E206") for d in ctx.diags[before:])
        typ = val_type(k.type)
        proof = prover.prove(k.expr, env)
        ok = satisfies(proof.direction, k.direction)
        iv = _typed(v.iv, typ)
        if ok:
            iv = exact_range(ctx, k.name, proof.direction, iv)
        kp = KnobProof(
            k.name,
            k.type,
            k.direction,
            proof.direction,
            "proved" if ok else "unproved",
            iv,
            reason=proof.reason,
            span=k.span,
        )
        proofs.append(kp)
        if not ok:
            failed_names.add(k.name)
        if not ok and not broken:
            failed.append(kp)
        ctx.knob_vals[k.name] = Val(iv, typ if typ in NUMERIC else None, True)
        # Later proofs assume the declared direction: one wrong claim is one error.
        ctx.directions[k.name] = k.direction
    if failed:
        grid = ctx.grid()
        for kp in failed:
            k = ctx.knobs[kp.name]
            cx = counterexample(grid, kp.name, kp.declared)
            if kp.proved != UNKNOWN:
                why = f"the rules prove it `{kp.proved}`"
            else:
                why = kp.reason or "no rule applies"
            if cx is not None:
                kp.status = "false"
                kp.counterexample = cx[0]
                hint = "make the expression monotone in β, or change the declaration"
                if kp.proved in (UP, DOWN, CONST):
                    hint = f"declare it `{kp.proved}` if that is the intent"
                else:
                    for other in (UP, DOWN, CONST):
                        if other != kp.declared and counterexample(grid, kp.name, other) is None:
                            hint = (
                                f"on the grid it is `{other}`: declare it so if that is the intent"
                            )
                            break
                    else:
                        hint = "it is not monotone in β: " + hint
                ctx.add(
                    "E201",
                    "error",
                    f"knob `{kp.name}` is declared `{kp.declared}`, but it is {cx[0]}",
                    k.expr.span,
                    label=f"not {kp.declared}",
                    hint=hint,
                    notes=(why,),
                )
            else:
                ctx.add(
                    "E202",
                    "error",
                    f"cannot prove that knob `{kp.name}` is `{kp.declared}`",
                    k.expr.span,
                    label="unproved",
                    hint="rewrite it from pieces the rules understand: sums of terms with one "
                    "direction, products of non-negative factors, monotone builtins "
                    "(docs/checker.md lists the rules)",
                    notes=(
                        why,
                        *_grid_failures(ctx, k.expr.span),
                        f"no counterexample on a {ctx.grid_points}-point β grid: it may "
                        "well be monotone, but the checker cannot show it",
                    ),
                )
    return proofs


def _grid_failures(ctx: Context, span: Span) -> tuple[str, ...]:
    """A note on the grid points where the compiler fails on this expression."""
    hits = [
        (beta, d)
        for beta, diags in ctx.failures
        for d in diags
        if d.code == "E112" and _overlaps(d.span, span)
    ]
    if not hits:
        return ()
    beta, d = hits[0]
    return (
        f"it does not evaluate at {len({b for b, _ in hits})} grid points, first at "
        f"β={fmt_beta(beta)}: {d.message}",
    )


def _overlaps(a: Span, b: Span) -> bool:
    return (a.line, a.col) <= (b.end_line, b.end_col) and (b.line, b.col) <= (a.end_line, a.end_col)


def _typed(iv: Interval, typ: T | None) -> Interval:
    """A declared int holds ints; a declared float holds floats (an int
    expression is converted, and rounded as the conversion rounds)."""
    if typ is T.INT:
        return Interval.make(iv.lo, iv.hi, True, iv.nan)
    if typ is T.FLOAT:
        return iv.as_float()
    return iv


def _mentions(e: ast.Expr, names: set[str]) -> bool:
    if not names:
        return False
    if isinstance(e, ast.Name):
        return e.id in names
    return any(_mentions(c, names) for c in children(e))


def _point(value: Any, typ: T | None) -> Interval:
    if typ is T.BOOL:
        return Interval.point(int(bool(value)), True)
    return Interval.point(value, typ is T.INT)
