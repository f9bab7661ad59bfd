"""Voting primitives with the exact semantics of replay protocol §4.

Answers are interned ints; NO_ANSWER never wins unless it is all there is.
All functions take answers in list order: ties go to the answer whose first
occurrence comes earliest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
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


EXACT_MAX_N = 8193
"""`beta_conf` is exact while top1 + top2 + 1 <= EXACT_MAX_N: every pair of
counts up to 4,096 (the cap on `max_branches`, hence on any count of
branches or answers) is exact."""


@lru_cache(maxsize=65536)
def beta_conf(top1: int, top2: int) -> float:
    """P(p > 1/2) under Beta(top1+1, top2+1); 0 when top1 <= 0 (a count below
    0 counts as 0).

    Computed exactly as P[Binomial(top1+top2+1, 1/2) <= top1] with integer
    arithmetic (the one final division is correctly rounded) while
    top1 + top2 + 1 <= EXACT_MAX_N. Beyond that it is the normal
    approximation Phi((top1 - top2) / sqrt(top1 + top2 + 1)) (within 1e-4
    there, closer as the counts grow): bounded time for every int.
    """
    if top1 <= 0:
        return 0.0
    top2 = max(top2, 0)
    n = top1 + top2 + 1
    if n > EXACT_MAX_N:
        z = (top1 - top2) / math.sqrt(n)
        return 0.5 * math.erfc(-z / math.sqrt(2.0))
    # Sum the shorter tail (C(n, j) = C(n, n - j)): min(top1, top2) + 1 terms.
    if top1 <= top2:
        return _binomial_head(n, top1) / (1 << n)
    return ((1 << n) - _binomial_head(n, top2)) / (1 << n)


def _binomial_head(n: int, m: int) -> int:
    """sum of C(n, k) for k = 0..m, exactly."""
    term = 1
    total = 1
    for k in range(m):
        term = term * (n - k) // (k + 1)
        total += term
    return total
