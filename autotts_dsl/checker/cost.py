"""A static bound on the work and tokens of one episode (the idea of CEL's
cost estimation: every loop has a bound, so the cost of a program is a
function of its limits).

Work is counted in *units*, about one step of the reference interpreter: an
expression node, a branch visited by a query or a loop, an entry shifted in
a window, one term of `beta_conf`'s exact sum. Two bounds hold, and the
smaller is reported:

* **loops** — `init`, then `max_rounds` times the round, then `finally`;
  a `for` runs at most `min(max_branches, its limit)` times, a `repeat` at
  most its count's static upper bound, `spawn N` opens at most
  `min(N, max_branches)` branches, a set has at most `max_branches`
  branches (so a query nested k deep costs up to `max_branches`^k);
* **fuel** — every round, `for` and `repeat` iteration, opened branch and
  read costs one unit of fuel, and between two charges each statement runs
  at most once, so the work is at most (fuel + 1) × (the program's cost with
  every loop body counted once).

Tokens: an episode opens at most `max_branches` branches (and at most what
its `spawn`/`read_full` counts allow), and a branch never costs more than
its whole trace, so it spends at most that many full traces.

`check` refuses a program whose bound exceeds `MAX_WORK` (E214);
`cost_bound(...)` gives the bound to callers that set their own caps (the
search).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .. import ast
from ..builtins import VALUES_BY_NAME, overloads
from ..diagnostics import Span
from ..records import record
from ..replay.voting import EXACT_MAX_N
from ..types import T
from .context import Context
from .intervals import Binding, Env, Interval, IntervalEval, Val, children

MAX_WORK = 10**11
"""The most work units a checked program may need per episode (E214 above):
at the reference interpreter's ~10^7 units a second, a few hours for one
episode in the very worst case (a store with 4,096 branches, every loop
running to its bound). The default limits leave room for two nested loops
over all branches; three nested loops over 4,096 branches need `limit`s or
a smaller `max_branches`. Every stdlib controller needs under 2·10^7
(`tts-dsl explain` prints the figure)."""

OPEN = 8  # opening one branch: the read, the bookkeeping, a field row
READ = 6  # one CONTINUE read
ROUND = 10  # a round's own bookkeeping (the batch it closes)
LOOP = 5  # a loop's own bookkeeping (snapshot, sort, limit)
ITERATION = 2  # one pass of a loop body, beyond the body's statements
BETA_CONF = EXACT_MAX_N // 2  # terms of the exact sum, at most


@record
class CostBound:
    """Upper bounds for one episode, whatever the store and the β."""

    work: int  # work units (see the module doc)
    by: str  # which bound is the smaller: "loops" or "fuel"
    rounds: int
    branches: int  # branches opened
    reads: int  # reads of any kind (BRANCH, CONTINUE, FULL_READ)

    def tokens(self, longest_trace: int) -> int:
        """Tokens per episode on a store whose longest trace has this many."""
        return self.branches * longest_trace

    def describe(self) -> str:
        return (
            f"at most {self.work:,} work units per episode (bounded by {self.by}), "
            f"{self.rounds:,} rounds, {self.reads:,} reads, and {self.branches:,} branches "
            f"opened: at most {self.branches:,} full traces of tokens"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "work": self.work,
            "bounded_by": self.by,
            "rounds": self.rounds,
            "branches": self.branches,
            "reads": self.reads,
            "max_work": MAX_WORK,
        }


def _hi(iv: Interval, cap: int) -> int:
    """An int upper bound of a count's range, at most `cap` (counts below 0
    do nothing)."""
    hi = iv.hi
    if iv.nan or hi != hi or hi >= cap:
        return cap
    return max(0, math.floor(hi))


class CostModel:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ev = IntervalEval(ctx.limits, ctx.field_types())
        lim = ctx.limits
        self.fuel = _hi(lim["fuel"], 1 << 62)
        self.rounds = min(_hi(lim["max_rounds"], 1 << 62), self.fuel)
        self.branches = _hi(lim["max_branches"], 1 << 62)
        self.n_fields = len(ctx.fields)
        self.reads = 0  # reads and branch openings along the structural walk
        self.opens = 0
        self.mult = 1  # iterations of the enclosing loops

    def window(self, e: ast.Expr) -> int:
        if isinstance(e, ast.Name) and e.id in self.ctx.windows:
            return _hi(self.ctx.windows[e.id], 1 << 62)
        return 1

    # -- expressions: the cost of one evaluation ------------------------------------

    def expr(self, e: ast.Expr, env: Env) -> int:
        B = self.branches
        if isinstance(e, ast.Name):
            bv = VALUES_BY_NAME.get(e.id)
            if bv is not None and env.lookup(e.id) is None and bv.type in (T.SET, T.ANSWERS):
                return 1 + B  # a snapshot of a set or list
            return 1
        if isinstance(e, ast.Query | ast.Generator):
            inner = env.child()
            inner.names[e.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
            per = 1 + (self.expr(e.where, inner) if e.where is not None else 0)
            if isinstance(e, ast.Generator):
                per += self.expr(e.value, inner)
            return self.expr(e.source, env) + B * per
        if isinstance(e, ast.Cond):
            return 1 + self.expr(e.test, env) + max(self.expr(e.then, env), self.expr(e.other, env))
        if isinstance(e, ast.Call):
            return 1 + sum(self.expr(a, env) for a in e.args) + self.call(e)
        return 1 + sum(self.expr(c, env) for c in children(e))

    def call(self, e: ast.Call) -> int:
        """The work of a builtin beyond evaluating its arguments."""
        rows = overloads(e.func)
        if e.func in ("beta_conf", "conf"):
            return BETA_CONF + (self.branches if e.func == "conf" else 0)
        if any(r.cost == "O(n)" for r in rows) or e.func in ("push", "set_last", "mean"):
            sizes = [self.window(a) for a in e.args]
            return max([self.branches, *sizes])
        return 0

    # -- statements: the cost of one execution ----------------------------------------

    def block(self, stmts: Sequence[ast.Stmt], env: Env, flat: bool) -> int:
        inner = env.child()
        return sum(self.stmt(s, inner, flat) for s in stmts)

    def count(self, e: ast.Expr, env: Env, cap: int) -> int:
        return _hi(self.ev.eval(e, env, quiet=True).iv, cap)

    def stmt(self, s: ast.Stmt, env: Env, flat: bool) -> int:
        """With `flat`, loop bodies count once (for the fuel bound)."""
        B = self.branches
        if isinstance(s, ast.Let):
            env.names[s.name] = Binding("let", self.ev.eval(s.value, env, quiet=True), expr=s.value)
            return 1 + self.expr(s.value, env)
        if isinstance(s, ast.AssignVar | ast.AssignField | ast.Answer):
            return 1 + self.expr(s.value, env)
        if isinstance(s, ast.CallStmt):
            return 1 + sum(self.expr(a, env) for a in s.args) + self.window(s.args[0])
        if isinstance(s, ast.If):
            tests = sum(self.expr(c, env) for c, _ in s.arms)
            arms = [self.block(b, env, flat) for _, b in s.arms]
            if s.orelse is not None:
                arms.append(self.block(s.orelse, env, flat))
            return tests + max(arms, default=0)
        if isinstance(s, ast.For):
            h = s.head
            inner = env.child()
            inner.names[h.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
            per_branch = 1 + (self.expr(h.where, inner) if h.where is not None else 0)
            keys = sum(self.expr(k.key, inner) for k in h.order)
            sort = B * (keys + max(1, B.bit_length())) if h.order else 0
            n = B
            head = LOOP + self.expr(h.source, env) + B * per_branch + sort
            if h.limit is not None:
                head += self.expr(h.limit, env)
                n = min(n, self.count(h.limit, env, B))
            n = min(n, self.fuel)
            body = self.looped(s.body, inner, flat, n)
            return head + (ITERATION + body) * (1 if flat else n)
        if isinstance(s, ast.Repeat):
            n = self.count(s.count, env, self.fuel)
            body = self.looped(s.body, env, flat, n)
            return LOOP + self.expr(s.count, env) + (ITERATION + body) * (1 if flat else n)
        if isinstance(s, ast.Spawn | ast.ReadFull):
            n = min(self.count(s.count, env, B), self.fuel)
            if not flat:
                self.reads += n * self.mult
                self.opens += n * self.mult
            return self.expr(s.count, env) + (OPEN + self.n_fields) * (1 if flat else n)
        if isinstance(s, ast.Step):
            n = 1 if s.times is None else self.count(s.times, env, self.fuel)
            times = 0 if s.times is None else self.expr(s.times, env)
            if not flat:
                self.reads += n * self.mult
            return 1 + self.expr(s.branch, env) + times + READ * (1 if flat else n)
        if isinstance(s, ast.Prune):
            return 1 + self.expr(s.branch, env)
        return 1

    def looped(self, body: Sequence[ast.Stmt], env: Env, flat: bool, n: int) -> int:
        """A loop body's cost per iteration; its reads count `n` times over."""
        saved = self.mult
        self.mult = saved * (1 if flat else n)
        try:
            return self.block(body, env, flat)
        finally:
            self.mult = saved

    def section(self, block: ast.Block | None, flat: bool) -> int:
        if block is None:
            return 0
        return self.block(block.body, self.ctx.global_env(), flat)

    def bound(self) -> CostBound:
        p = self.ctx.program
        rounds = self.rounds if p.round is not None else 0
        parts: list[tuple[int, int, int]] = []  # (work, reads, opens) per section
        for block in (p.init, p.round, p.final):
            self.reads = self.opens = 0
            parts.append((self.section(block, False), self.reads, self.opens))
        (init, r0, o0), (rnd, r1, o1), (final, r2, o2) = parts
        loops = ROUND + init + rounds * (ROUND + rnd) + final
        flat = sum(self.section(b, True) for b in (p.init, p.round, p.final))
        by_fuel = (self.fuel + 1) * (ROUND + flat + OPEN + self.n_fields + READ)
        reads = min(self.fuel, r0 + rounds * r1 + r2)
        opens = min(self.branches, reads, o0 + rounds * o1 + o2)
        work, by = (loops, "loops") if loops <= by_fuel else (by_fuel, "fuel")
        return CostBound(work, by, rounds, opens, reads)


def check_cost(ctx: Context) -> CostBound:
    """The bound, and E214 on the `limits` section (or the program) above MAX_WORK."""
    cost = CostModel(ctx).bound()
    if cost.work > MAX_WORK:
        p = ctx.program
        if p.limits:
            span = p.limits[0].span
        else:
            block = p.round or p.init or p.final
            sp = block.span if block is not None else p.span
            word = "round" if p.round else "init" if p.init else "finally"
            span = Span.point(sp.line, sp.col, len(word))
        ctx.add(
            "E214",
            "error",
            f"an episode may need up to {cost.work:,} work units (bounded by {cost.by}), "
            f"above the cap of {MAX_WORK:,}",
            span,
            label="too much work per episode",
            hint="lower `fuel` or `max_rounds`, bound loops with `limit`, or nest fewer "
            "queries over sets (each level multiplies by max_branches)",
            notes=(cost.describe(),),
        )
    return cost


def cost_bound(
    program: ast.Program,
    source: str = "",
    path: str = "<input>",
    params: Mapping[str, Any] | None = None,
) -> CostBound | None:
    """The static per-episode bound of a program (None when it does not
    compile: the bound needs its limits). For callers with their own caps."""
    from . import check_program

    return check_program(program, source, path, params=params).cost
