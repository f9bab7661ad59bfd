"""Statements and actions: blocks, control flow, loops, replay actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import ast
from ..builtins import (
    FIELDS_BY_NAME,
    VALUES_BY_NAME,
    overloads,
    resolve_overload,
)
from ..diagnostics import did_you_mean
from ..replay.episode import Episode
from ..runtime import AnswerGiven, Ctx, RuntimeFault, StopRounds
from ..types import NUMERIC, T, accepts
from .base import Action, Fn, Sym, _Const, _noop, _Scope
from .readers import _all_builtin_names, _open_by_branch, _open_by_full_read
from .tracing import TracingCompiler, _as_answer_ref


class StmtCompiler(TracingCompiler):
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
        if t is T.ANSWERS:
            # A value, not an alias: `let xs = completed` must not grow later.

            def run_copy(c: Ctx) -> None:
                c.locals[slot] = list(fn(c))

            return run_copy

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
        row = resolve_overload(rows, types)
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
        span = s.span

        def run(c: Ctx) -> None:
            loc = c.locals
            got = it(c)  # a snapshot: the body cannot change what is iterated
            if len(got) > c.fuel:
                raise RuntimeFault(
                    f"`for` over {len(got)} branches exceeds the remaining fuel", span
                )
            for i in got:
                c.fuel -= 1  # one unit per iteration, like `repeat`
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
