"""Scoring a program's β sweep on the search stores.

A program's result on one store is a curve: one (tokens, accuracy) point per
β. The default objective, `ref:cmc`, compares that curve with a reference
controller's curve on the same stores and seeds (CMC by default): at each of
the reference's β points, the accuracy the candidate achieves with the
reference's tokens minus the reference's accuracy there, in percentage
points, averaged over the reference's points and over stores (so the score
lives on the reference's own token range, and the reference scores exactly
0). Curves are read as a user can run them (`curves.py`: the upper envelope,
interpolated in log tokens, never below one full trace's accuracy once a
budget affords one trace). `ref-tokens:NAME` scores the other way round: the
mean log2 of (reference tokens / tokens the candidate needs for the
reference's accuracy), with a point the candidate never reaches counted as
needing twice its most expensive point.

Older objectives stay available. `auc` is the area under the *achievable*
accuracy-vs-log-tokens curve: at a budget of t tokens a user can run the
best β that costs at most t, so accuracy(t) = max accuracy over points with
tokens <= t (0 below the cheapest point). The area is taken over a fixed
window per store, from the cost of one full trace (SC@1, the mean trace
length) to sixty-four of them (SC@64), and divided by the window's width:
a mean accuracy in percent over log-budgets, comparable across programs.
Points at or beyond the window's right edge do not count. `auc:A-B` takes
the window from A to B full traces instead (e.g. `auc:8-32` scores the
middle of the budget range only).

It scores 0 below a program's cheapest point, which ranks cheap
specialists (ASC) above CMC on AIME24 although held-out says otherwise —
hence the default above.

Other objectives: `max-acc` (the best mean accuracy over β) and
`budget:N` (the best mean accuracy among β points whose mean tokens are at
most N).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import field

from ..records import record
from .curves import Floor, accuracy_at, envelope, tokens_for

DEFAULT_OBJECTIVE = "ref:cmc"
UNREACHED_FACTOR = 2.0
"""`ref-tokens`: a reference accuracy the candidate never reaches counts as
needing this many times the candidate's most expensive point."""


@record
class CurvePoint:
    beta: float
    accuracy: float
    tokens: float
    seq_tokens: float


@record
class Window:
    """A token range of one store; the objective's window is taken in units
    of `lo`, the cost of one full trace (SC@1)."""

    lo: float
    hi: float


class ObjectiveError(ValueError):
    """An unknown or malformed objective name."""


def staircase_auc(points: Sequence[tuple[float, float]], window: Window) -> float:
    """Mean over log t in [lo, hi] of max{acc : (tokens, acc), tokens <= t}."""
    lo, hi = math.log(window.lo), math.log(window.hi)
    if hi <= lo:
        return 0.0
    area = 0.0
    best = 0.0
    x = lo
    for tokens, acc in sorted(points):
        t = math.log(max(tokens, 1.0))
        if t >= hi:
            break
        if acc <= best:
            continue
        t = max(t, lo)
        area += best * (t - x)
        x, best = t, acc
    area += best * (hi - x)
    return area / (hi - lo)


def mean_curve(per_store: Mapping[str, Sequence[CurvePoint]]) -> list[CurvePoint]:
    """Per β, the mean over stores (only β values every store has)."""
    if not per_store:
        return []
    by_beta: dict[float, list[CurvePoint]] = {}
    for points in per_store.values():
        for p in points:
            by_beta.setdefault(p.beta, []).append(p)
    n = len(per_store)
    out = []
    for beta in sorted(by_beta):
        pts = by_beta[beta]
        if len(pts) == n:
            out.append(
                CurvePoint(
                    beta,
                    sum(p.accuracy for p in pts) / n,
                    sum(p.tokens for p in pts) / n,
                    sum(p.seq_tokens for p in pts) / n,
                )
            )
    return out


@record
class ScoreContext:
    """What scoring needs besides the program's own curves, per store
    content hash: the auc windows, SC@1 floors, and the reference's curves
    (same stores, same seeds) for the `ref` objectives."""

    windows: Mapping[str, Window]
    floors: Mapping[str, Floor] = field(default_factory=dict)
    reference: Mapping[str, Sequence[CurvePoint]] | None = None


@record
class PointGap:
    """One reference point against a candidate's curve on one store."""

    store: str
    beta: float
    ref_tokens: float
    ref_accuracy: float
    accuracy: float
    """The candidate's achievable accuracy at the reference's tokens."""
    tokens_needed: float | None
    """Tokens the candidate needs for the reference's accuracy (None: never)."""


def _pts(points: Sequence[CurvePoint]) -> list[tuple[float, float]]:
    return [(p.tokens, p.accuracy) for p in points]


def point_gaps(
    per_store: Mapping[str, Sequence[CurvePoint]],
    reference: Mapping[str, Sequence[CurvePoint]],
    floors: Mapping[str, Floor],
    *,
    tokens: bool = True,
) -> list[PointGap]:
    """Every reference point on every store the candidate has, compared
    (`tokens`: also the tokens the candidate needs for each)."""
    out = []
    for s, pts in per_store.items():
        ref = reference.get(s)
        if not ref:
            continue
        floor = floors.get(s)
        env, renv = envelope(_pts(pts)), envelope(_pts(ref))
        for p in ref:
            if p.tokens <= 0:
                continue
            ref_acc = accuracy_at(renv, p.tokens, floor)
            out.append(
                PointGap(
                    s,
                    p.beta,
                    p.tokens,
                    ref_acc,
                    accuracy_at(env, p.tokens, floor),
                    tokens_for(env, ref_acc, floor) if tokens else None,
                )
            )
    return out


def _token_gain(gap: PointGap, per_store: Mapping[str, Sequence[CurvePoint]]) -> float:
    need = gap.tokens_needed
    if need is None:
        top = max((p.tokens for p in per_store[gap.store]), default=gap.ref_tokens)
        need = max(top, gap.ref_tokens) * UNREACHED_FACTOR
    return math.log2(gap.ref_tokens / max(need, 1.0))


@record
class Objective:
    """A named score (higher is better) of a program's curves."""

    name: str
    kind: str
    budget: float = 0.0
    traces: tuple[float, float] = (1.0, 64.0)
    """`auc`: the window, in full traces (SC@A to SC@B)."""
    reference: str = ""
    """`ref`, `ref-tokens`: the reference program (a stdlib name or a file)."""

    @property
    def needs_reference(self) -> bool:
        return self.kind in ("ref", "ref-tokens")

    def score(self, per_store: Mapping[str, Sequence[CurvePoint]], ctx: ScoreContext) -> float:
        if not per_store:
            return 0.0
        if self.needs_reference:
            if ctx.reference is None:
                raise ObjectiveError(f"{self.name}: the reference has no results yet")
            gaps = point_gaps(
                per_store, ctx.reference, ctx.floors, tokens=self.kind == "ref-tokens"
            )
            if not gaps:
                return 0.0
            by_store: dict[str, list[float]] = {}
            for g in gaps:
                value = (
                    g.accuracy - g.ref_accuracy if self.kind == "ref" else _token_gain(g, per_store)
                )
                by_store.setdefault(g.store, []).append(value)
            return sum(sum(v) / len(v) for v in by_store.values()) / len(by_store)
        if self.kind == "auc":
            a, b = self.traces
            areas = [
                staircase_auc(
                    [(p.tokens, p.accuracy) for p in pts],
                    Window(ctx.windows[s].lo * a, ctx.windows[s].lo * b),
                )
                for s, pts in per_store.items()
            ]
            return sum(areas) / len(areas)
        curve = mean_curve(per_store)
        if self.kind == "max-acc":
            return max((p.accuracy for p in curve), default=0.0)
        fits = [p.accuracy for p in curve if p.tokens <= self.budget]
        return max(fits, default=0.0)

    @property
    def unit(self) -> str:
        if self.kind == "ref":
            return "points"
        if self.kind == "ref-tokens":
            return "log2 tokens"
        return "%"

    @property
    def description(self) -> str:
        if self.kind == "ref":
            return (
                f"accuracy gained over {self.reference} at {self.reference}'s own token levels: "
                f"at each β point of {self.reference}, the accuracy this program achieves with "
                f"that many tokens (its curve interpolated in log tokens) minus "
                f"{self.reference}'s accuracy, in percentage points, averaged over the points "
                f"and the search stores; {self.reference} itself scores 0, higher is better"
            )
        if self.kind == "ref-tokens":
            return (
                f"tokens saved against {self.reference} at {self.reference}'s accuracy levels: "
                f"mean log2 of ({self.reference}'s tokens / the tokens this program needs for "
                f"the same accuracy); 1 means half the tokens; an accuracy never reached counts "
                f"as twice this program's most expensive point"
            )
        if self.kind == "auc":
            a, b = self.traces
            return (
                "area under the achievable accuracy vs log-tokens curve between the cost of "
                f"{a:g} full trace(s) (SC@{a:g}) and of {b:g} (SC@{b:g}), divided by the "
                "window's width: mean accuracy in percent over log-budgets, averaged over "
                "search stores"
            )
        if self.kind == "max-acc":
            return "best accuracy over the β grid, mean over search stores (percent)"
        return f"best mean accuracy among β points costing at most {self.budget:,.0f} tokens"


OBJECTIVE_NAMES = ("ref:NAME", "ref-tokens:NAME", "auc", "auc:A-B", "max-acc", "budget:N")


def parse_objective(text: str) -> Objective:
    spec = text.strip()
    for kind in ("ref-tokens", "ref"):
        if spec == kind or spec.startswith(kind + ":"):
            ref = spec[len(kind) + 1 :].strip() or "cmc"
            return Objective(f"{kind}:{ref}", kind, reference=ref)
    if spec in ("auc", "max-acc"):
        return Objective(spec, spec)
    if spec.startswith("auc:"):
        lo, _, hi = spec[4:].partition("-")
        try:
            a, b = float(lo), float(hi)
        except ValueError:
            a = b = -1.0
        if 0 < a < b and math.isfinite(b):
            return Objective(spec, "auc", traces=(a, b))
        raise ObjectiveError(f"--objective {text!r}: auc:A-B needs 0 < A < B (full traces)")
    if spec.startswith("budget:"):
        try:
            budget = float(spec.split(":", 1)[1].replace("_", "").replace(",", ""))
        except ValueError:
            budget = -1.0
        if budget > 0 and math.isfinite(budget):
            return Objective(spec, "budget", budget)
        raise ObjectiveError(f"--objective {text!r}: budget:N needs a positive token count")
    raise ObjectiveError(f"--objective {text!r}: expected one of {', '.join(OBJECTIVE_NAMES)}")
