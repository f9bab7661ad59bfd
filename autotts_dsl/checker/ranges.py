"""Range errors, found with the interval arithmetic of `intervals.py`.

Static expressions (schedule, params, limits, window sizes, and any part of
a statement that depends on β, params and knobs only) are judged over the
whole β range: when the interval says something can go wrong, the β grid
is searched for a witness; found, it is an error at that β, not found, a
warning that the range could not be proved (intervals over-approximate).
Expressions that read run-time state can only be warned about.

Codes: E203 a count, limit or window size that goes negative (below 1 for a
window); E204 a probability threshold outside [0, 1]; E205 a division by a
static value that can be 0; E206 a static argument outside a builtin's
domain; E213 a `repeat` count without a static upper bound; W203 a count not
provably >= 0 (a negative count does nothing at run time); W204 arithmetic
that may fail (run-time divisor or domain, or a static range not proved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import ast
from ..compiler.base import LIMIT_MAXIMUM, MAX_WINDOW
from ..diagnostics import Span
from ..records import record
from ..types import T
from .context import Context, fmt_beta
from .intervals import Binding, Env, Interval, IntervalEval, IssueKind, Val, is_stable

Text = Callable[[ast.Expr], str]


@record
class Fact:
    cmp: ast.Compare
    epoch: int
    stable: bool


class Ranges:
    """Turns interval findings into diagnostics (with grid witnesses)."""

    def __init__(self, ctx: Context, text: Text) -> None:
        self.ctx = ctx
        self.text = text
        self.ev = IntervalEval(ctx.limits, ctx.field_types(), self.issue)
        self.env: Env = Env()  # the scope of the expression being evaluated

    # -- witnesses ------------------------------------------------------------------

    def witness(
        self, e: ast.Expr, env: Env, bad: Callable[[Val, list[str]], bool]
    ) -> tuple[str, str] | None:
        """The first grid β where `bad` holds for the static expression `e`
        (given its value and the issues raised evaluating it): (β, value)."""
        probe = IntervalEval(self.ctx.limits, self.ctx.field_types())
        seen: list[str] = []
        self.ctx.grid()  # also collects the points where the compiler fails
        for beta, errors in self.ctx.failures:
            # the compiler itself failed on this expression at that β
            if any(d.code == "E112" and _overlaps(d.span, e.span) for d in errors):
                return fmt_beta(beta), "an evaluation error"
        lets = _lets_in_scope(env)
        for beta, point_env in self.ctx.grid_envs():
            local = _with_lets(probe, point_env, lets)
            seen.clear()
            probe.report = lambda kind, x, msg, v: seen.append(kind)
            v = probe.eval(e, local)
            probe.report = None
            if bad(v, seen):
                return fmt_beta(beta), _short(v.iv)
        return None

    def sign_change(self, e: ast.Expr, env: Env) -> str:
        """Where a static value crosses 0 between two grid points."""
        probe = IntervalEval(self.ctx.limits, self.ctx.field_types())
        lets = _lets_in_scope(env)
        prev: tuple[float, float] | None = None
        for beta, point_env in self.ctx.grid_envs():
            iv = probe.eval(e, _with_lets(probe, point_env, lets), quiet=True).iv
            if prev is not None and iv.is_point and prev[1] * iv.lo < 0:
                return f"it changes sign between β={fmt_beta(prev[0])} and β={fmt_beta(beta)}"
            prev = (beta, iv.lo) if iv.is_point else None
        return ""

    # -- the issue callback of IntervalEval ------------------------------------------

    def issue(self, kind: IssueKind, e: ast.Expr, message: str, v: Val) -> None:
        ctx = self.ctx
        if kind == "prob":
            found = self.witness(e, self.env, lambda x, _: not x.iv.within(0, 1))
            fn = message.split("`")[1] if "`" in message else "conf"
            if found:
                ctx.add(
                    "E204",
                    "error",
                    f"threshold `{self.text(e)}` is {found[1]} at β={found[0]}, outside the "
                    f"[0, 1] where `{fn}` lies",
                    e.span,
                    label=f"ranges over {v.iv}",
                    hint="keep thresholds on probabilities inside [0, 1], e.g. with "
                    "min(..., 1.0) or a smaller slope in β",
                    notes=("wherever it leaves [0, 1] the comparison is decided by β alone",),
                )
            else:
                ctx.add(
                    "W204",
                    "warning",
                    f"cannot prove threshold `{self.text(e)}` stays in [0, 1]: {message}",
                    e.span,
                    label="range not proved",
                )
            return
        if not v.static:
            what = "may divide by zero" if kind == "div0" else "may fail"
            ctx.add(
                "W204",
                "warning",
                f"`{self.text(e)}` {what} at run time: {message}",
                e.span,
                label="may fail",
                hint="guard it (e.g. `x > 0 ? y / x : 0.0`)"
                if kind == "div0"
                else "keep the argument inside the domain, or guard the call",
            )
            return
        where = ""
        if kind == "div0":
            found = self.witness(e, self.env, _zero_divisor)
            if found:
                where = f"`{self.text(e)}` is 0 at β={found[0]}"
            else:
                where = self.sign_change(e, self.env)
            code, what = "E205", "division by zero"
        else:
            found = self.witness(e, self.env, lambda x, seen: "domain" in seen)
            if found:
                where = f"at β={found[0]}"
            code, what = "E206", "domain error"
        if where:
            ctx.add(
                code,
                "error",
                f"{what}: {message}",
                e.span,
                label=where,
                hint="keep the divisor away from 0 for every β in [0, 1], e.g. with max(1, ...)"
                if kind == "div0"
                else "keep the argument inside the domain for every β in [0, 1], e.g. with "
                "max(0, ...) or clamp(...)",
            )
        else:
            ctx.add(
                "W204",
                "warning",
                f"cannot rule out a {what}: {message}",
                e.span,
                label="range not proved",
                hint="no grid point fails; the interval bound may just be loose",
            )

    # -- checks on values -------------------------------------------------------------

    def eval(self, e: ast.Expr, env: Env, facts: Sequence[ast.Compare] = ()) -> Val:
        saved = self.env
        self.env = env
        try:
            return self.ev.eval(e, env, facts)
        finally:
            self.env = saved

    def at_least(self, e: ast.Expr, v: Val, env: Env, floor: int, what: str, runtime: str) -> None:
        """Counts and sizes must be >= floor (0 or 1)."""
        if v.type not in (T.INT, T.FLOAT) or v.iv.lo >= floor:
            return
        if v.static:
            found = self.witness(e, env, lambda x, _: x.iv.hi < floor)
            if found:
                self.ctx.add(
                    "E203",
                    "error",
                    f"{what} must be >= {floor}, but it is {found[1]} at β={found[0]}",
                    e.span,
                    label=f"ranges over {v.iv}",
                    hint=f"e.g. max({floor}, ...)",
                )
                return
        self.ctx.add(
            "W203",
            "warning",
            f"{what} is not provably >= {floor}: it ranges over {v.iv}",
            e.span,
            label="may be negative" if floor == 0 else f"may be < {floor}",
            hint=runtime,
        )

    def at_most(self, e: ast.Expr, v: Val, env: Env, cap: int, what: str) -> None:
        """Limits and window sizes may not exceed the language's caps (E109
        at a grid β where one does)."""
        if v.type not in (T.INT, T.FLOAT) or v.iv.hi <= cap:
            return
        found = self.witness(e, env, lambda x, _: x.iv.lo > cap)
        if found:
            self.ctx.add(
                "E109",
                "error",
                f"{what} must be <= {cap:,}, but it is {found[1]} at β={found[0]}",
                e.span,
                label=f"ranges over {v.iv}",
                hint=f"e.g. min({cap}, ...)",
            )
        else:
            self.ctx.add(
                "W204",
                "warning",
                f"cannot prove {what} stays <= {cap:,}: it ranges over {v.iv}",
                e.span,
                label="range not proved",
            )


def _lets_in_scope(env: Env) -> list[tuple[str, ast.Expr]]:
    """The lets visible in `env`, outermost and earliest first."""
    chain: list[Env] = []
    at: Env | None = env
    while at is not None:
        chain.append(at)
        at = at.parent
    return [
        (name, b.expr)
        for scope in reversed(chain)
        for name, b in scope.names.items()
        if b.kind == "let" and b.expr is not None
    ]


def _with_lets(probe: IntervalEval, point: Env, lets: list[tuple[str, ast.Expr]]) -> Env:
    """`point` (β, params and knobs exact) with every let evaluated there, once
    each: an expression over lets is judged at a grid point in linear time
    (inlining the definitions could grow exponentially)."""
    local = point.child()
    for name, expr in lets:
        local.names[name] = Binding("let", probe.eval(expr, local, quiet=True), expr=expr)
    return local


def _overlaps(a: Span, b: Span) -> bool:
    return (a.line, a.col) <= (b.end_line, b.end_col) and (b.line, b.col) <= (a.end_line, a.end_col)


def _zero_divisor(v: Val, seen: list[str]) -> bool:
    return v.iv.contains(0)


def _short(iv: Interval) -> str:
    return str(iv)[1:-1].split(",")[0] if iv.is_point else str(iv)


# --------------------------------------------------------------- declarations


def check_declarations(r: Ranges) -> None:
    """Limits and window sizes over the β range (after the schedule)."""
    ctx = r.ctx
    env = ctx.global_env()
    for lim in ctx.program.limits:
        v = r.eval(lim.expr, env)
        r.at_least(
            lim.expr,
            v,
            env,
            0,
            f"limit `{lim.name}`",
            "the compiler rejects a negative limit at the β where it occurs",
        )
        cap = LIMIT_MAXIMUM.get(lim.name)
        if cap is not None:
            r.at_most(lim.expr, v, env, cap, f"limit `{lim.name}`")
        if lim.name in ctx.limits and v.iv.lo >= 0 and v.iv.finite:
            # above the cap the program does not compile: those values never run
            ctx.limits[lim.name] = v.iv.meet(0, cap if cap is not None else v.iv.hi)
            r.ev.forget()
    for d in ctx.program.state:
        if d.type.name == "window" and d.type.size is not None:
            v = r.eval(d.type.size, env)
            r.at_least(
                d.type.size,
                v,
                env,
                1,
                f"the size of window `{d.name}`",
                "the compiler rejects a window size below 1 at the β where it occurs",
            )
            r.at_most(d.type.size, v, env, MAX_WINDOW, f"the size of window `{d.name}`")
            ctx.windows[d.name] = v.iv.meet(1, MAX_WINDOW)
    env = ctx.global_env()
    for d in (*ctx.program.state, *ctx.program.branch_fields):
        if d.init is not None:
            r.eval(d.init, env)


# ------------------------------------------------------------------- statements


def has_effects(stmts: Sequence[ast.Stmt]) -> bool:
    for s in stmts:
        if isinstance(s, ast.Let):
            continue
        if isinstance(s, ast.If):
            if any(has_effects(b) for _, b in s.arms) or has_effects(s.orelse or ()):
                return True
            continue
        if isinstance(s, ast.For | ast.Repeat):
            if has_effects(s.body):
                return True
            continue
        return True  # actions, assignments, push/set_last
    return False


_CLAMPED = "a negative count does nothing at run time; guard it or write max(0, ...)"


class RangeWalker:
    def __init__(self, r: Ranges) -> None:
        self.r = r
        self.ev = r.ev

    def run(self) -> None:
        p = self.r.ctx.program
        for block in (p.init, p.round, p.final):
            if block is not None:
                self.block(block.body, self.r.ctx.global_env().child(), [])

    def valid(self, facts: Sequence[Fact]) -> list[ast.Compare]:
        return [f.cmp for f in facts if f.stable or f.epoch == self.ev.epoch]

    def new_facts(self, e: ast.Expr, positive: bool, env: Env) -> list[Fact]:
        return [
            Fact(c, self.ev.epoch, is_stable(c, env)) for c in self.ev.facts_of(e, positive, env)
        ]

    def block(self, stmts: Sequence[ast.Stmt], env: Env, facts: list[Fact]) -> None:
        for s in stmts:
            self.stmt(s, env, facts)

    def eval(self, e: ast.Expr, env: Env, facts: Sequence[Fact]) -> Val:
        return self.r.eval(e, env, self.valid(facts))

    def count(self, e: ast.Expr, env: Env, facts: Sequence[Fact], what: str) -> Val:
        v = self.eval(e, env, facts)
        self.r.at_least(e, v, env, 0, f"the count of `{what}`", _CLAMPED)
        return v

    def stmt(self, s: ast.Stmt, env: Env, facts: list[Fact]) -> None:
        ev = self.ev
        if isinstance(s, ast.Let):
            v = self.eval(s.value, env, facts)
            env.names[s.name] = Binding("let", v, expr=s.value, epoch=ev.epoch, node=s)
            return
        if isinstance(s, ast.AssignVar | ast.AssignField):
            self.eval(s.value, env, facts)
        elif isinstance(s, ast.CallStmt):
            for a in s.args:
                self.eval(a, env, facts)
        elif isinstance(s, ast.If):
            self.if_stmt(s, env, facts)
            return
        elif isinstance(s, ast.For):
            self.for_stmt(s, env, facts)
            return
        elif isinstance(s, ast.Repeat):
            v = self.count(s.count, env, facts, "repeat")
            if v.iv.hi == float("inf"):
                self.r.ctx.add(
                    "E213",
                    "error",
                    f"`repeat` needs a count with a static upper bound, but this one ranges "
                    f"over {v.iv}",
                    s.count.span,
                    label="unbounded",
                    hint="bound it with min(..., N) where N is a literal, a param or a knob",
                )
            if has_effects(s.body):
                ev.epoch += 1  # earlier iterations ran the body's effects
            self.block(s.body, env.child(), list(facts))
            return
        elif isinstance(s, ast.Spawn):
            self.count(s.count, env, facts, "spawn")
        elif isinstance(s, ast.ReadFull):
            self.count(s.count, env, facts, "read_full")
        elif isinstance(s, ast.Step):
            self.eval(s.branch, env, facts)
            if s.times is not None:
                self.count(s.times, env, facts, "step ... times")
        elif isinstance(s, ast.Prune):
            self.eval(s.branch, env, facts)
        elif isinstance(s, ast.Answer):
            self.eval(s.value, env, facts)
            return
        else:
            return
        ev.epoch += 1  # the statement changed state: mutable facts are stale

    def if_stmt(self, s: ast.If, env: Env, facts: list[Fact]) -> None:
        negated: list[Fact] = []
        for cond, body in s.arms:
            self.eval(cond, env, [*facts, *negated])
            arm = [*facts, *negated, *self.new_facts(cond, True, env)]
            self.block(body, env.child(), arm)
            negated += self.new_facts(cond, False, env)
        if s.orelse is not None:
            self.block(s.orelse, env.child(), [*facts, *negated])

    def for_stmt(self, s: ast.For, env: Env, facts: list[Fact]) -> None:
        h = s.head
        self.eval(h.source, env, facts)
        origin = h.source.id if isinstance(h.source, ast.Name) else ""
        inner = env.child()
        inner.names[h.var] = Binding(
            "loop", Val(Interval.top(True), T.BRANCH, False), origin=origin, node=h
        )
        if h.limit is not None:
            self.count(h.limit, env, facts, "limit")
        where: list[Fact] = []
        if h.where is not None:
            self.eval(h.where, inner, facts)
        for k in h.order:
            self.eval(k.key, inner, facts)
        if has_effects(s.body):
            self.ev.epoch += 1
        if h.where is not None:
            where = self.new_facts(h.where, True, inner)
        self.block(s.body, inner.child(), [*facts, *where])
