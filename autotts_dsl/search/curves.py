"""Accuracy–token curves as a user can run them, interpolated in log tokens.

A program's result on one store is one (tokens, accuracy) point per β. At a
budget of t tokens a user runs the best configuration that costs at most t,
and can always run a single full trace (SC@1: its mean length and its mean
accuracy, the store's *floor*), which is therefore a point of every curve.
Between two points of the upper envelope the curve is interpolated linearly
in log tokens, as the published figures draw it — from the floor to a
program's cheapest point too, so a budget just below that point costs a
little accuracy, not a cliff down to the floor (a cliff that made shaving
tokens off β = 0 look like a large gain, and made the bootstrap over
questions flip it at random); beyond the most expensive point it stays
flat. `accuracy_at` reads that curve at a budget; `tokens_for` inverts it
(the budget needed to reach an accuracy, None when the program never
reaches it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ..records import record


@record
class Floor:
    """What one full trace buys on a store: SC@1."""

    tokens: float
    accuracy: float


Point = tuple[float, float]
"""(tokens, accuracy %)."""


def envelope(points: Sequence[Point]) -> list[Point]:
    """By rising tokens, each point strictly more accurate than every cheaper one."""
    out: list[Point] = []
    for tokens, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if tokens <= 0:
            continue
        if not out or acc > out[-1][1]:
            if out and tokens == out[-1][0]:
                out[-1] = (tokens, acc)
            else:
                out.append((tokens, acc))
    return out


def _lerp_log(t: float, a: Point, b: Point) -> float:
    la, lb = math.log(a[0]), math.log(b[0])
    if lb <= la:
        return b[1]
    w = (math.log(t) - la) / (lb - la)
    return a[1] + w * (b[1] - a[1])


def with_floor(env: Sequence[Point], floor: Floor | None) -> Sequence[Point]:
    """`env` with the floor's point (SC@1) on it, when it is not dominated."""
    if floor is None or floor.tokens <= 0:
        return env
    return envelope([*env, (floor.tokens, floor.accuracy)])


def accuracy_at(env: Sequence[Point], t: float, floor: Floor | None = None) -> float:
    """Accuracy achievable with a budget of `t` tokens (`env` from `envelope`)."""
    env = with_floor(env, floor)
    base = floor.accuracy if floor is not None and t >= floor.tokens else 0.0
    if not env or t < env[0][0]:
        return base
    if t >= env[-1][0]:
        return max(base, env[-1][1])
    for a, b in itertools.pairwise(env):
        if a[0] <= t < b[0]:
            return max(base, _lerp_log(t, a, b))
    return max(base, env[-1][1])  # pragma: no cover - the loop always returns


def _inverse(env: Sequence[Point], acc: float) -> float | None:
    if not env or acc > env[-1][1]:
        return None
    if acc <= env[0][1]:
        return env[0][0]
    for a, b in itertools.pairwise(env):
        if acc == b[1]:
            return b[0]  # exactly, not through exp(log(...))
        if a[1] < acc < b[1]:
            la, lb = math.log(a[0]), math.log(b[0])
            w = (acc - a[1]) / (b[1] - a[1])
            return math.exp(la + w * (lb - la))
    return None  # pragma: no cover - the envelope rises, so a segment holds acc


def tokens_for(env: Sequence[Point], acc: float, floor: Floor | None = None) -> float | None:
    """The smallest budget whose achievable accuracy reaches `acc` (None: never)."""
    got = _inverse(with_floor(env, floor), acc)
    if floor is not None and acc <= floor.accuracy:
        got = floor.tokens if got is None else min(got, floor.tokens)
    return got
