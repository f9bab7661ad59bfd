"""Trace instrumentation, compiled in only when tracing is asked for:
one event per action and per guard, with line, rule and deciding values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import ast
from ..builtins import (
    Window,
)
from ..diagnostics import Span
from ..runtime import AnswerRef, Ctx, RuntimeFault
from ..types import T
from .base import Action, Fn, _Const, _Scope
from .exprs import ExprCompiler


class TracingCompiler(ExprCompiler):
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
