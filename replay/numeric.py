"""Numeric semantics shared by the replay protocol and the language.

These are part of the project's definition, independent of the host Python:
the published AutoTTS numbers were produced with Python >= 3.12, whose
built-in `sum` over floats is Neumaier-compensated; on 3.10/3.11 it is plain
left-to-right addition. We never call `sum` on floats where the result is
observable; we call `neumaier_sum`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def neumaier_sum(values: Iterable[float]) -> float:
    """Compensated sum, bit-identical to CPython 3.12+ `sum()` over floats."""
    s = 0.0
    c = 0.0
    for v in values:
        v = float(v)
        t = s + v
        if abs(s) >= abs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    if c and math.isfinite(c):
        return s + c
    return s


def round_half_even(x: float) -> int:
    """Python's `round(x)`: nearest int, ties to even (documented for clarity)."""
    return round(x)


_PW_BLOCK = 128  # numpy's PW_BLOCKSIZE


def pairwise_sum(values: Sequence[float]) -> float:
    """Sum of floats exactly as numpy's `add.reduce` (so `np.mean`) makes it
    for a contiguous float64 array: plain addition below 8 items, eight
    interleaved partial sums up to 128, halves (on a multiple of 8) above.
    Lets the summary skip importing numpy and keep numpy's digits; tested
    against numpy itself."""
    return _pairwise(values, 0, len(values))


def _pairwise(a: Sequence[float], lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _PW_BLOCK:
        r = [float(a[lo + j]) for j in range(8)]
        i = 8
        whole = n - n % 8
        while i < whole:
            for j in range(8):
                r[j] += a[lo + i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(lo + i, lo + n):
            res += a[k]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)
