"""Lints (warnings): unused declarations, knobs that never reach an action,
unreachable statements.

W301 unused knob · W302 unused param · W303 state variable never read ·
W304 branch field never read · W305 knob that never reaches an action ·
W306 unreachable statement after `answer`/`stop` · W307 unused `let` ·
W309 state variable read but never written · W310 branch field read but
never written (either keeps its initial value: a crossover that moved a rule
reading CMC's `ema` without the statements that update it made one).

"Reaches an action" is a backwards data-flow closure: a name reaches an
action when it is read by an action's operand, by a guard or loop head that
encloses an action, or by a limit — or when it flows into something that
does (a let, a state variable, a branch field, a window, a later knob),
counting the guards that enclose an assignment as flowing into it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import ast
from ..scopes import Scope
from .context import Context, fmt_beta
from .intervals import IntervalEval, children
from .polarity import kinds_of

# ("knob", name), ("param", name), ("state", name), ("field", name), ("let", id of the node)
Node = tuple[str, object]


_Scope = Scope[Node]


SINK: Node = ("sink", None)


class Lints:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.reads: set[Node] = set()
        self.writes: set[Node] = set()  # assigned, pushed or set_last in a block
        self.edges: dict[Node, set[Node]] = {}  # source -> the things it flows into
        self.lets: list[ast.Let] = []
        self.top = _Scope()
        p = ctx.program
        for x in p.params:
            self.top.names[x.name] = ("param", x.name)
        for k in p.knobs:
            self.top.names[k.name] = ("knob", k.name)
        for d in p.state:
            self.top.names[d.name] = ("state", d.name)

    # -- uses ------------------------------------------------------------------------

    def names_in(self, e: ast.Expr, scope: _Scope) -> Iterator[Node]:
        if isinstance(e, ast.Name):
            n = scope.lookup(e.id)
            if n is not None:
                yield n
            return
        if isinstance(e, ast.Field) and e.name in self.ctx.fields:
            yield ("field", e.name)
        if isinstance(e, ast.Query | ast.Generator):
            inner = _Scope(parent=scope)
            inner.names[e.var] = ("loop", e.var)
            for c in children(e):
                yield from self.names_in(c, inner if c is not e.source else scope)
            return
        for c in children(e):
            yield from self.names_in(c, scope)

    def flow(self, exprs: Sequence[ast.Expr | None], scope: _Scope, target: Node) -> None:
        for e in exprs:
            if e is None:
                continue
            for n in self.names_in(e, scope):
                self.reads.add(n)
                self.edges.setdefault(n, set()).add(target)

    # -- walk ---------------------------------------------------------------------------

    def run(self) -> None:
        p = self.ctx.program
        top = self.top
        for x in p.params:
            self.flow([x.default], top, ("param", x.name))
        for k in p.knobs:
            self.flow([k.expr], top, ("knob", k.name))
        for lim in p.limits:
            self.flow([lim.expr], top, SINK)
        for d in p.state:
            self.flow([d.type.size, d.init], top, ("state", d.name))
        for d in p.branch_fields:
            self.flow([d.init], top, ("field", d.name))
        for block in (p.init, p.round, p.final):
            if block is not None:
                self.block(block.body, _Scope(parent=top), [])
        self.report()
        self.dead_rounds()

    def dead_rounds(self) -> None:
        """W308: β where `max_rounds` is 0, so the round block never runs (ESC
        below β ≈ 0.48, where `max_samples // window_size` is 0)."""
        p = self.ctx.program
        lim = next((x for x in p.limits if x.name == "max_rounds"), None)
        if p.round is None or lim is None or self.ctx.limits["max_rounds"].lo > 0:
            return
        probe = IntervalEval(self.ctx.limits, self.ctx.field_types())
        dead = [
            beta
            for beta, env in self.ctx.grid_envs()
            if probe.eval(lim.expr, env, quiet=True).iv.hi == 0
        ]
        if not dead:
            return
        where = (
            f"β = {fmt_beta(dead[0])}"
            if len(dead) == 1
            else f"β in [{fmt_beta(dead[0])}, {fmt_beta(dead[-1])}]"
            + ("" if len(dead) == _between(self.ctx, dead) else " (not everywhere between)")
        )
        self.ctx.add(
            "W308",
            "warning",
            f"for {where} `max_rounds` is 0: the round block never runs there",
            lim.expr.span,
            label="0 for some β",
            hint="if that range should do something, keep max_rounds >= 1 (e.g. max(1, ...))",
        )

    def block(self, stmts: Sequence[ast.Stmt], scope: _Scope, guards: list[ast.Expr]) -> None:
        dead_reported = False
        ended = False
        for s in stmts:
            if ended and not dead_reported:
                self.ctx.add(
                    "W306",
                    "warning",
                    "unreachable statement: the block has already ended with `answer` or `stop`",
                    s.span,
                    label="never runs",
                    hint="remove it, or move it before the `answer`/`stop`",
                )
                dead_reported = True
            self.stmt(s, scope, guards)
            ended = ended or ends(s)

    def control(self, guards: list[ast.Expr], scope: _Scope, target: Node) -> None:
        self.flow(guards, scope, target)

    def stmt(self, s: ast.Stmt, scope: _Scope, guards: list[ast.Expr]) -> None:
        if isinstance(s, ast.Let):
            node: Node = ("let", id(s))
            self.flow([s.value], scope, node)
            scope.names[s.name] = node
            self.lets.append(s)
        elif isinstance(s, ast.AssignVar):
            target = scope.lookup(s.name) or ("state", s.name)
            self.writes.add(target)
            self.flow([s.value, *guards], scope, target)
        elif isinstance(s, ast.AssignField):
            self.writes.add(("field", s.name))
            self.flow([s.value, *guards], scope, ("field", s.name))
        elif isinstance(s, ast.CallStmt):
            window = s.args[0] if s.args else None
            target = (
                scope.lookup(window.id) or SINK if isinstance(window, ast.Name) else SINK
            )  # push/set_last write their first argument
            self.writes.add(target)
            self.flow([*s.args[1:], *guards], scope, target)
        elif isinstance(s, ast.If):
            acts = bool(kinds_of([s]))
            prev: list[ast.Expr] = []
            for cond, body in s.arms:
                self.flow([cond], scope, SINK if acts else ("guard", None))
                self.block(body, _Scope(parent=scope), [*guards, *prev, cond])
                prev.append(cond)
            if s.orelse is not None:
                self.block(s.orelse, _Scope(parent=scope), [*guards, *prev])
        elif isinstance(s, ast.For):
            h = s.head
            inner = _Scope(parent=scope)
            inner.names[h.var] = ("loop", h.var)
            acts = bool(kinds_of(s.body))
            head: Node = SINK if acts else ("guard", None)
            self.flow([h.source, h.limit], scope, head)
            self.flow([h.where, *(k.key for k in h.order)], inner, head)
            heads = [x for x in (h.source, h.where, h.limit) if x is not None]
            self.block(s.body, _Scope(parent=inner), [*guards, *heads])
        elif isinstance(s, ast.Repeat):
            acts = bool(kinds_of(s.body))
            self.flow([s.count], scope, SINK if acts else ("guard", None))
            self.block(s.body, _Scope(parent=scope), [*guards, s.count])
        elif isinstance(s, ast.Spawn | ast.ReadFull):
            self.flow([s.count], scope, SINK)
        elif isinstance(s, ast.Step):
            self.flow([s.branch, s.times], scope, SINK)
        elif isinstance(s, ast.Prune):
            self.flow([s.branch], scope, SINK)
        elif isinstance(s, ast.Answer):
            self.flow([s.value], scope, SINK)

    # -- findings ------------------------------------------------------------------------

    def reaching(self) -> set[Node]:
        back: dict[Node, set[Node]] = {}
        for src, dsts in self.edges.items():
            for d in dsts:
                back.setdefault(d, set()).add(src)
        seen: set[Node] = {SINK}
        todo = [SINK]
        while todo:
            n = todo.pop()
            for src in back.get(n, ()):
                if src not in seen:
                    seen.add(src)
                    todo.append(src)
        return seen

    def report(self) -> None:
        ctx, p = self.ctx, self.ctx.program
        reach = self.reaching()
        for k in p.knobs:
            n: Node = ("knob", k.name)
            if n not in self.reads:
                ctx.add(
                    "W301",
                    "warning",
                    f"knob `{k.name}` is never used",
                    k.span,
                    label="unused",
                    hint="remove it, or use it",
                )
            elif n not in reach:
                ctx.add(
                    "W305",
                    "warning",
                    f"knob `{k.name}` never reaches an action: nothing it feeds decides a "
                    "spawn, step, prune, answer or stop",
                    k.span,
                    label="has no effect",
                    hint="remove it, or use it in a guard or a count",
                )
        for x in p.params:
            if ("param", x.name) not in self.reads:
                ctx.add(
                    "W302",
                    "warning",
                    f"param `{x.name}` is never used",
                    x.span,
                    label="unused",
                    hint="remove it, or use it",
                )
        for d in p.state:
            if ("state", d.name) not in self.reads:
                ctx.add(
                    "W303",
                    "warning",
                    f"state variable `{d.name}` is never read",
                    d.span,
                    label="never read",
                    hint="remove it, or read it in a guard or a count",
                )
            elif ("state", d.name) not in self.writes:
                ctx.add(
                    "W309",
                    "warning",
                    f"state variable `{d.name}` is read but never written: it keeps its "
                    "initial value",
                    d.span,
                    label="never written",
                    hint="update it in `round` (as the rule that reads it expects), or make "
                    "it a param",
                )
        for d in p.branch_fields:
            if ("field", d.name) in self.reads and ("field", d.name) not in self.writes:
                ctx.add(
                    "W310",
                    "warning",
                    f"branch field `{d.name}` is read but never written: every branch keeps "
                    "its initial value",
                    d.span,
                    label="never written",
                    hint=f"assign it (`b.{d.name} = ...`) in `round`, or drop it",
                )
            if ("field", d.name) not in self.reads:
                ctx.add(
                    "W304",
                    "warning",
                    f"branch field `{d.name}` is never read",
                    d.span,
                    label="never read",
                    hint="remove it, or read it as `b.{d.name}`",
                )
        for let in self.lets:
            if ("let", id(let)) not in self.reads:
                ctx.add(
                    "W307",
                    "warning",
                    f"`let {let.name}` is never used",
                    let.span,
                    label="unused",
                    hint="remove it",
                )


def ends(s: ast.Stmt) -> bool:
    """Does `s` end the block on every path (answer or stop)?"""
    if isinstance(s, ast.Answer | ast.StopLoop):
        return True
    if isinstance(s, ast.If) and s.orelse is not None:
        return all(any(ends(x) for x in b) for _, b in s.arms) and any(ends(x) for x in s.orelse)
    return False


def _between(ctx: Context, betas: list[float]) -> int:
    """How many grid points lie in [betas[0], betas[-1]]."""
    lo, hi = betas[0], betas[-1]
    return sum(1 for beta, _ in ctx.grid() if lo <= beta <= hi)
