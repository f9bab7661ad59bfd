"""Numeric semantics shared by the replay protocol and the language.

These are part of the project's definition, independent of the host Python:
the published AutoTTS numbers were produced with Python >= 3.12, whose
built-in `sum` over floats is Neumaier-compensated; on 3.10/3.11 it is plain
left-to-right addition. We never call `sum` on floats where the result is
observable; we call `neumaier_sum`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


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
