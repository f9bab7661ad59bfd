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
from dataclasses import dataclass

from .. import ast
from ..diagnostics import Span
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


@dataclass(frozen=True)
class Pruned:
    line: int
    certain: bool  # pruned on every path (else: on some path)


class Admissibility:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ev = IntervalEval(ctx.limits, ctx.field_types())
        self.reported: set[Span] = set()

    def run(self) -> None:
        p = self.ctx.program
        for block in (p.init, p.round, p.final):
            if block is not None:
                self.block(block.body, {}, {})
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

    # origins: branch variable -> the set it iterates ("" when not a set name);
    # lets that alias a branch map to their loop variable's name.
    def resolve(self, e: ast.Expr, origins: dict[str, str]) -> list[str]:
        """The loop variables a branch expression can denote."""
        if isinstance(e, ast.Name):
            target = origins.get(e.id)
            if target is not None and target.startswith("="):
                return [target[1:]]
            return [e.id]
        if isinstance(e, ast.Cond):
            return self.resolve(e.then, origins) + self.resolve(e.other, origins)
        return []

    def block(
        self, stmts: Sequence[ast.Stmt], origins: dict[str, str], pruned: dict[str, Pruned]
    ) -> tuple[dict[str, Pruned], bool]:
        """Walk a block; returns the branches pruned after it and whether it
        always ends the round/episode (answer/stop on every path)."""
        origins = dict(origins)
        pruned = dict(pruned)
        for s in stmts:
            pruned, ends = self.stmt(s, origins, pruned)
            if ends:
                return pruned, True
        return pruned, False

    def stmt(
        self, s: ast.Stmt, origins: dict[str, str], pruned: dict[str, Pruned]
    ) -> tuple[dict[str, Pruned], bool]:
        if isinstance(s, ast.Let):
            targets = self.resolve(s.value, origins)
            if isinstance(s.value, ast.Name) and targets and targets[0] in origins:
                origins[s.name] = "=" + targets[0]
            return pruned, False
        if isinstance(s, ast.Step | ast.Prune):
            verb = "step" if isinstance(s, ast.Step) else "prune"
            allowed = STEP_SETS if verb == "step" else PRUNE_SETS
            targets = self.resolve(s.branch, origins)
            for var in targets:
                src = origins.get(var, "")
                if src not in allowed:
                    self.bad_origin(s, verb, var, src)
                if var in pruned and s.span not in self.reported:
                    self.reported.add(s.span)
                    was = pruned[var]
                    how = "pruned" if was.certain else "may have been pruned"
                    self.ctx.add(
                        "E211",
                        "error",
                        f"`{verb} {var}` after `prune {var}`: the branch {how} at line {was.line}",
                        s.span,
                        label="used after prune",
                        hint="a pruned branch cannot be read; act on it before pruning it"
                        if verb == "step"
                        else "prune each branch once",
                    )
            if isinstance(s, ast.Prune):
                pruned = dict(pruned)
                for var in targets:
                    pruned.setdefault(var, Pruned(s.span.line, len(targets) == 1))
            return pruned, False
        if isinstance(s, ast.Answer | ast.StopLoop):
            return pruned, True
        if isinstance(s, ast.If):
            outs: list[dict[str, Pruned]] = []
            all_end = s.orelse is not None
            for _, body in s.arms:
                out, ends = self.block(body, origins, pruned)
                if not ends:
                    outs.append(out)
                all_end = all_end and ends
            if s.orelse is not None:
                out, ends = self.block(s.orelse, origins, pruned)
                if not ends:
                    outs.append(out)
                all_end = all_end and ends
            else:
                outs.append(pruned)
            return _merge(outs, pruned), all_end
        if isinstance(s, ast.For):
            h = s.head
            inner = dict(origins)
            inner[h.var] = h.source.id if isinstance(h.source, ast.Name) else ""
            first, _ = self.block(s.body, inner, _without(pruned, h.var))
            again, _ = self.block(s.body, inner, _without(_merge([first], pruned), h.var))
            return _merge([pruned, _without(again, h.var)], pruned), False
        if isinstance(s, ast.Repeat):
            first, _ = self.block(s.body, origins, pruned)
            again, _ = self.block(s.body, origins, _merge([first], pruned))
            return _merge([pruned, again], pruned), False
        return pruned, False

    def bad_origin(self, s: ast.Stmt, verb: str, var: str, src: str) -> None:
        allowed = " or ".join(f"`{x}`" for x in (STEP_SETS if verb == "step" else PRUNE_SETS))
        if src:
            msg = f"`{verb} {var}`: `{var}` iterates `{src}`; `{verb}` needs a branch of {allowed}"
            notes = (_SET_NOTES[src],) if src in _SET_NOTES else ()
        else:
            msg = f"`{verb}` needs a branch bound by `for ... in {allowed.split(' or ')[0]}`"
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
        line = min(h.line for h in hits)
        merged[n] = Pruned(line, len(hits) == len(outs) and all(h.certain for h in hits))
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
