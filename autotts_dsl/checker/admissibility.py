"""Action admissibility and termination.

* E210 — `step b` needs `b` bound by a loop over `running` (only running
  branches can be read further); `prune b` needs a loop over a set of
  unpruned branches: `running`, `alive` or `finished` (pruning a finished
  branch removes its vote from `alive`, which SDGV relies on). Sets that
  may hold pruned branches (`pruned`, `opened`) are rejected for both.
* E211 — a branch used by `step`/`prune` after `prune` of the same branch
  earlier in the same scope (on every path, or on some path: both fail at
  run time or are meaningless). Loop bodies are walked twice so that a
  prune in one iteration is seen by the next.
* E212 — a path through `finally` that does not end in `answer`.

Counts (`spawn`, `step ... times`, `repeat`) and `repeat` bounds are range
questions and live in `ranges.py`; `stop` outside `round` is the compiler's
E117; the gold answer is not nameable (E101).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import ast
from ..diagnostics import Span
from ..records import record
from .context import Context
from .intervals import IntervalEval

STEP_SETS = ("running",)
PRUNE_SETS = ("running", "alive", "finished")

_SET_NOTES = {
    "alive": "`alive` also holds finished branches",
    "finished": "`finished` holds branches that cannot be read further",
    "opened": "`opened` also holds finished and pruned branches",
    "pruned": "`pruned` holds only pruned branches",
}


@record
class Pruned:
    line: int
    certain: bool  # pruned on every path (else: on some path)
    # `prune` of this very variable; else the prune of another loop variable,
    # whose branch may be this one (its set snapshot can hold this branch)
    direct: bool = True
    by: str = ""  # the pruned variable, for an indirect mark


@record
class _Site:
    stmt: ast.Step | ast.Prune
    var: str  # the loop variable it acts on
    written: str  # the branch expression as written


@record(frozen=False)
class Scope:
    """Loop variables (and the set each iterates, "" when not a set name) and
    lets aliasing them (a let bound to `c ? a : b` may denote either)."""

    loops: dict[str, str]
    aliases: dict[str, list[str]]

    def copy(self) -> Scope:
        return Scope(dict(self.loops), dict(self.aliases))


class Admissibility:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ev = IntervalEval(ctx.limits, ctx.field_types())
        self.reported: set[Span] = set()
        # per enclosing loop: the step/prune actions visited in its body
        self.frames: list[list[_Site]] = []

    def run(self) -> None:
        p = self.ctx.program
        for block in (p.init, p.round, p.final):
            if block is not None:
                self.block(block.body, Scope({}, {}), {})
        if p.final is not None and not always_answers(p.final.body, self.ctx, self.ev):
            sp = p.final.span
            self.ctx.add(
                "E212",
                "error",
                "`finally` can finish without answering",
                Span.point(sp.line, sp.col, len("finally")),
                label="some path through this block ends without `answer`",
                hint="end every path with `answer ...` (an `if` needs an `else` that answers)",
            )

    def resolve(self, e: ast.Expr, scope: Scope) -> list[str]:
        """The loop variables a branch expression can denote (a name that is
        neither a loop variable nor an alias denotes itself)."""
        if isinstance(e, ast.Name):
            return list(scope.aliases.get(e.id, [e.id]))
        if isinstance(e, ast.Cond):
            out = self.resolve(e.then, scope)
            return out + [v for v in self.resolve(e.other, scope) if v not in out]
        return []

    def block(
        self, stmts: Sequence[ast.Stmt], scope: Scope, pruned: dict[str, Pruned]
    ) -> tuple[dict[str, Pruned], bool]:
        """Walk a block; returns the branches pruned after it and whether it
        always ends the round/episode (answer/stop on every path)."""
        scope = scope.copy()
        pruned = dict(pruned)
        for s in stmts:
            pruned, ends = self.stmt(s, scope, pruned)
            if ends:
                return pruned, True
        return pruned, False

    def stmt(
        self, s: ast.Stmt, scope: Scope, pruned: dict[str, Pruned]
    ) -> tuple[dict[str, Pruned], bool]:
        if isinstance(s, ast.Let):
            if isinstance(s.value, ast.Name | ast.Cond):
                targets = self.resolve(s.value, scope)
                if targets and all(t in scope.loops for t in targets):
                    scope.aliases[s.name] = targets
            return pruned, False
        if isinstance(s, ast.Step | ast.Prune):
            return self.action(s, scope, pruned), False
        if isinstance(s, ast.Answer | ast.StopLoop):
            return pruned, True
        if isinstance(s, ast.If):
            outs: list[dict[str, Pruned]] = []
            all_end = s.orelse is not None
            for _, body in s.arms:
                out, ends = self.block(body, scope, pruned)
                if not ends:
                    outs.append(out)
                all_end = all_end and ends
            if s.orelse is not None:
                out, ends = self.block(s.orelse, scope, pruned)
                if not ends:
                    outs.append(out)
                all_end = all_end and ends
            else:
                outs.append(pruned)
            return _merge(outs, pruned), all_end
        if isinstance(s, ast.For):
            h = s.head
            inner = scope.copy()
            inner.loops[h.var] = h.source.id if isinstance(h.source, ast.Name) else ""
            # the loop takes a fresh snapshot of its set: no pruned branch in it
            start = _without(pruned, h.var)
            out = self.loop_body(s.body, inner, start, set(scope.loops) | {h.var}, h.var)
            return _merge([pruned, _without(out, h.var)], pruned), False
        if isinstance(s, ast.Repeat):
            out = self.loop_body(s.body, scope, pruned, set(scope.loops), None)
            return _merge([pruned, out], pruned), False
        return pruned, False

    def loop_body(
        self,
        body: Sequence[ast.Stmt],
        scope: Scope,
        start: dict[str, Pruned],
        visible: set[str],
        var: str | None,
    ) -> dict[str, Pruned]:
        """One walk of a loop body, then the marks it carries into the next
        iteration held against the actions it visited (what a second walk
        would find, in linear time however deeply loops nest). `visible`: the
        variables bound outside the body, which keep their branch across
        iterations; `var`'s own direct prune does not reach the next branch."""
        self.frames.append([])
        out, _ = self.block(body, scope, start)
        sites = self.frames.pop()
        carried = {
            v: m
            for v, m in out.items()
            if start.get(v) != m and v in visible and not (v == var and m.direct)
        }
        for site in sites:
            if site.var in carried:
                self.report(site.stmt, site.var, site.written, carried[site.var])
        if self.frames:  # the enclosing loop holds these actions too
            self.frames[-1].extend(x for x in sites if x.var != var and x.var in visible)
        return _merge([out, {**out, **carried}], start)

    def action(
        self, s: ast.Step | ast.Prune, scope: Scope, pruned: dict[str, Pruned]
    ) -> dict[str, Pruned]:
        verb = "step" if isinstance(s, ast.Step) else "prune"
        allowed = STEP_SETS if verb == "step" else PRUNE_SETS
        targets = self.resolve(s.branch, scope)
        written = _text(s.branch)
        for var in targets:
            src = scope.loops.get(var)
            if src is None or src not in allowed:
                self.bad_origin(s, verb, var, src or "")
            if self.frames:
                self.frames[-1].append(_Site(s, var, written))
            was = pruned.get(var)
            if was is not None:
                self.report(s, var, written, was)
        if isinstance(s, ast.Prune):
            pruned = dict(pruned)
            certain = len(targets) == 1
            for var in targets:
                old = pruned.get(var)
                if old is None or not old.direct:
                    pruned[var] = Pruned(s.span.line, certain)
            # every other loop variable in scope may denote the same branch
            for other in scope.loops:
                if other not in targets and other not in pruned:
                    by = targets[0] if targets else written
                    pruned[other] = Pruned(s.span.line, False, direct=False, by=by)
        return pruned

    def report(self, s: ast.Step | ast.Prune, var: str, written: str, was: Pruned) -> None:
        verb = "step" if isinstance(s, ast.Step) else "prune"
        if s.span in self.reported or (not was.direct and verb == "prune"):
            return  # (pruning twice does no harm; stepping a pruned branch fails)
        self.reported.add(s.span)
        if was.direct:
            how = "pruned" if was.certain else "may have been pruned"
            what = f"after `prune {var}`: the branch {how} at line {was.line}"
        else:
            what = (
                f"after `prune {was.by}` at line {was.line}: `{was.by}` can be the same "
                "branch, so it may have been pruned"
            )
        shown = f"`{verb} {written}`" + ("" if written == var else f" (`{var}`)")
        self.ctx.add(
            "E211",
            "error",
            f"{shown} {what}",
            s.span,
            label="used after prune",
            hint="a pruned branch cannot be read; act on it before pruning it"
            if verb == "step"
            else "prune each branch once",
        )

    def bad_origin(self, s: ast.Stmt, verb: str, var: str, src: str) -> None:
        sets = STEP_SETS if verb == "step" else PRUNE_SETS
        allowed = " or ".join(f"`{x}`" for x in sets)
        if src:
            msg = f"`{verb} {var}`: `{var}` iterates `{src}`; `{verb}` needs a branch of {allowed}"
            notes = (_SET_NOTES[src],) if src in _SET_NOTES else ()
        else:
            msg = f"`{verb}` needs a branch bound by `for ... in {sets[0]}`"
            notes = ()
        self.ctx.add(
            "E210",
            "error",
            msg,
            s.span,
            label="not admissible",
            hint="iterate `running` instead (narrow it with `where`)"
            if verb == "step"
            else f"iterate one of {allowed}",
            notes=notes,
        )


def _text(e: ast.Expr) -> str:
    from ..fmt import format_expr

    return format_expr(e)


def _without(pruned: dict[str, Pruned], var: str) -> dict[str, Pruned]:
    # A loop variable is a fresh branch in every iteration.
    return {k: v for k, v in pruned.items() if k != var}


def _merge(outs: list[dict[str, Pruned]], before: dict[str, Pruned]) -> dict[str, Pruned]:
    """Join of paths: certain only where every path pruned it."""
    if not outs:
        return dict(before)
    names = {n for o in outs for n in o}
    merged: dict[str, Pruned] = {}
    for n in names:
        hits = [o[n] for o in outs if n in o]
        first = min(hits, key=lambda h: (h.line, not h.direct))
        certain = len(hits) == len(outs) and all(h.certain for h in hits)
        direct = any(h.direct for h in hits)
        line = min(h.line for h in hits if h.direct == direct)
        by = "" if direct else first.by
        merged[n] = Pruned(line, certain, direct, by)
    return merged


def always_answers(stmts: Sequence[ast.Stmt], ctx: Context, ev: IntervalEval) -> bool:
    """Does every path through `stmts` reach an `answer`?"""
    for s in stmts:
        if isinstance(s, ast.Answer):
            return True
        if (
            isinstance(s, ast.If)
            and s.orelse is not None
            and all(always_answers(b, ctx, ev) for _, b in s.arms)
            and always_answers(s.orelse, ctx, ev)
        ):
            return True
        if isinstance(s, ast.Repeat) and always_answers(s.body, ctx, ev):
            n = ev.eval(s.count, ctx.global_env(), quiet=True)
            if n.static and n.iv.lo >= 1:
                return True
    return False
