"""Scoring a program's β sweep on the search stores.

A program's result on one store is a curve: one (tokens, accuracy) point per
β. The default objective, `auc`, is the area under the *achievable*
accuracy-vs-log-tokens curve: at a budget of t tokens a user can run the
best β that costs at most t, so accuracy(t) = max accuracy over points with
tokens <= t (0 below the cheapest point). The area is taken over a fixed
window per store, from the cost of one full trace (SC@1, the mean trace
length) to sixty-four of them (SC@64), and divided by the window's width:
a mean accuracy in percent over log-budgets, comparable across programs.
Points at or beyond the window's right edge do not count. `auc:A-B` takes
the window from A to B full traces instead (e.g. `auc:8-32` scores the
middle of the budget range only).

Other objectives: `max-acc` (the best mean accuracy over β) and
`budget:N` (the best mean accuracy among β points whose mean tokens are at
most N).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CurvePoint:
    beta: float
    accuracy: float
    tokens: float
    seq_tokens: float


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Objective:
    """A named score (higher is better) of a program's curves."""

    name: str
    kind: str
    budget: float = 0.0
    traces: tuple[float, float] = (1.0, 64.0)
    """`auc`: the window, in full traces (SC@A to SC@B)."""

    def score(
        self, per_store: Mapping[str, Sequence[CurvePoint]], windows: Mapping[str, Window]
    ) -> float:
        if not per_store:
            return 0.0
        if self.kind == "auc":
            a, b = self.traces
            areas = [
                staircase_auc(
                    [(p.tokens, p.accuracy) for p in pts],
                    Window(windows[s].lo * a, windows[s].lo * b),
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
    def description(self) -> str:
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


OBJECTIVE_NAMES = ("auc", "auc:A-B", "max-acc", "budget:N")


def parse_objective(text: str) -> Objective:
    spec = text.strip()
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
