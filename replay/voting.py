"""Voting primitives with the exact semantics of replay protocol §4.

Answers are interned ints; NO_ANSWER never wins unless it is all there is.
All functions take answers in list order: ties go to the answer whose first
occurrence comes earliest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from math import comb
from typing import TypeVar

A = TypeVar("A")


def tally(answers: Iterable[A]) -> dict[A, int]:
    """Counts per answer, in order of first occurrence."""
    counts: dict[A, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    return counts


def vote_stats(answers: Iterable[A]) -> tuple[A | None, int, int]:
    """(winner, top1, top2): plurality answer and the two largest counts.

    Ties for the winner go to the earliest first occurrence; `top2` is 0 with
    a single distinct answer; `(None, 0, 0)` for no answers.
    """
    best: A | None = None
    top1 = 0
    top2 = 0
    for a, n in tally(answers).items():
        if n > top1:
            best, top1, top2 = a, n, top1
        elif n > top2:
            top2 = n
    return best, top1, top2


def winner(answers: Sequence[A]) -> A | None:
    """Most frequent answer, earliest first occurrence on ties; None if empty."""
    return vote_stats(answers)[0]


@lru_cache(maxsize=65536)
def beta_conf(top1: int, top2: int) -> float:
    """P(p > 1/2) under Beta(top1+1, top2+1); 0 when top1 == 0.

    Computed exactly as P[Binomial(top1+top2+1, 1/2) <= top1] with integer
    arithmetic; the one final division is correctly rounded.
    """
    if top1 <= 0:
        return 0.0
    n = top1 + top2 + 1
    return sum(comb(n, j) for j in range(top1 + 1)) / (1 << n)
