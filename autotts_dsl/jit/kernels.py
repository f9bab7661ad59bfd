# mypy: disable-error-code="no-any-return"
# (kernels index untyped arrays: numba, not mypy, types them)
"""Run-time kernels of the compiled backend.

Plain Python written in the subset numba compiles: the same functions run
interpreted (the `python` backend, for debugging and tests) and as machine
code (the `numba` backend). Each mirrors one implementation of the builtins
table (`autotts_dsl.builtins`) value for value; the differential tests
compare the two on every stdlib program and on mutated programs.

Conventions, fixed by the code generator:

* Answers are interned ints, `-1` is `none`. Answer lists, branch sets and
  generator values arrive as 1-D int64/float64 arrays.
* Kernels of non-schedule builtins take the tally workspace `tw` first:
  `(counts[V+1], keys[W], beta_table[W+1, W+1], latest[W])`.
* A tally (`votes`) is a pair `(answers, weights)` in order of first vote.
* Whatever would raise in the reference interpreter (a domain error, an
  overflow, a table miss) raises `Rerun`: the episode is then replayed by the
  reference interpreter, which produces the exact result or the exact fault.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

NO_ANSWER = -1

# Compiled on first use and cached on disk (numba's cache, keyed by this file).
kernel = njit(cache=True, nogil=True)


class Rerun(Exception):
    """This episode must be replayed by the reference interpreter."""


# ---------------------------------------------------------------- numerics


@kernel
def k_neumaier(values: Any) -> float:
    """`replay.numeric.neumaier_sum` over a 1-D array."""
    s = 0.0
    c = 0.0
    for j in range(values.shape[0]):
        v = float(values[j])
        t = s + v
        if abs(s) >= abs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    if c != 0.0 and math.isfinite(c):
        return s + c
    return s


@kernel
def k_min2(a: Any, b: Any) -> Any:
    # Python's min keeps the first of equal (or unordered) values.
    return b if b < a else a


@kernel
def k_max2(a: Any, b: Any) -> Any:
    return b if b > a else a


@kernel
def k_clamp(x: Any, lo: Any, hi: Any) -> Any:
    return lo if x < lo else hi if x > hi else x


# Floats this large have no exact int64 counterpart: Python's answer is a big int.
_INT_SAFE = 2.0**62
_INT_MAX = 2**63 - 1
_INT_MIN = -(2**63)
# |a * b| below this (computed in floats) means the exact product fits in int64.
_MUL_SAFE = 9.2e18


# Ints are 64-bit in the language and a result outside the range is a fault:
# these detect it (int64 arithmetic would wrap) and leave it to the reference.


@kernel
def k_iadd(a: int, b: int) -> int:
    r = a + b
    if (a >= 0) == (b >= 0) and (r >= 0) != (a >= 0):
        raise Rerun()
    return r


@kernel
def k_isub(a: int, b: int) -> int:
    r = a - b
    if (a >= 0) != (b >= 0) and (r >= 0) != (a >= 0):
        raise Rerun()
    return r


@kernel
def k_imul(a: int, b: int) -> int:
    p = float(a) * float(b)
    if not -_MUL_SAFE < p < _MUL_SAFE:
        raise Rerun()
    return a * b


@kernel
def k_ifloordiv(a: int, b: int) -> int:
    if b == -1 and a == _INT_MIN:
        raise Rerun()
    return a // b


@kernel
def k_imod(a: int, b: int) -> int:
    if b == -1:
        return 0  # Python's a % -1 (and no int64 trap on the most negative a)
    return a % b


@kernel
def k_ineg(a: int) -> int:
    if a == _INT_MIN:
        raise Rerun()
    return -a


@kernel
def k_round(x: float) -> int:
    # Python's round(): half to even; rint rounds that way by default.
    if not -_INT_SAFE < x < _INT_SAFE:
        raise Rerun()
    return int(np.rint(x))


@kernel
def k_round_n(x: float, n: int) -> float:
    # Python rounds to decimals with exact decimal arithmetic; not replicated.
    # (The unreachable return gives numba the result type.)
    if n >= -(2**63):  # always, for an int64: replay
        raise Rerun()
    return float(x)


@kernel
def k_floor(x: float) -> int:
    if not -_INT_SAFE < x < _INT_SAFE:
        raise Rerun()
    return int(math.floor(x))  # noqa: RUF046 - numba types floor() as float


@kernel
def k_ceil(x: float) -> int:
    if not -_INT_SAFE < x < _INT_SAFE:
        raise Rerun()
    return int(math.ceil(x))  # noqa: RUF046 - numba types ceil() as float


@kernel
def k_abs(x: Any) -> Any:
    r = abs(x)
    if r < 0:  # abs of the most negative int64 wraps; Python's int does not
        raise Rerun()
    return r


@kernel
def k_exp(x: float) -> float:
    y = math.exp(x)
    if math.isinf(y) and not math.isinf(x):
        raise Rerun()  # Python raises OverflowError
    return y


@kernel
def k_log(x: float) -> float:
    if not x > 0.0:
        raise Rerun()
    return math.log(x)


@kernel
def k_sqrt(x: float) -> float:
    if x < 0.0:
        raise Rerun()
    return math.sqrt(x)


@kernel
def k_sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@kernel
def k_pow(x: float, y: float) -> float:
    if x < 0.0 or (x == 0.0 and y < 0.0) or not (math.isfinite(x) and math.isfinite(y)):
        raise Rerun()
    r = math.pow(float(x), float(y))  # libm pow, as Python (not repeated multiplication)
    if math.isinf(r):
        raise Rerun()
    return r


@kernel
def k_float(x: Any) -> float:
    return float(x)


# ---------------------------------------------------------------- tallies


@kernel
def k_stats(tw: Any, xs: Any) -> tuple[int, int, int, int]:
    """(winner, top1, top2, distinct) of an answer list: `replay.voting.vote_stats`."""
    counts = tw[0]
    keys = tw[1]
    nd = 0
    for j in range(xs.shape[0]):
        a = xs[j]
        if counts[a + 1] == 0:
            keys[nd] = a
            nd += 1
        counts[a + 1] += 1
    best = NO_ANSWER
    t1 = 0
    t2 = 0
    for k in range(nd):
        a = keys[k]
        n = counts[a + 1]
        counts[a + 1] = 0
        if n > t1:
            best = a
            t2 = t1
            t1 = n
        elif n > t2:
            t2 = n
    return best, t1, t2, nd


@kernel
def k_winner(tw: Any, xs: Any) -> int:
    return k_stats(tw, xs)[0]


@kernel
def k_top1(tw: Any, xs: Any) -> int:
    return k_stats(tw, xs)[1]


@kernel
def k_top2(tw: Any, xs: Any) -> int:
    return k_stats(tw, xs)[2]


@kernel
def k_distinct(tw: Any, xs: Any) -> int:
    return k_stats(tw, xs)[3]


@kernel
def k_beta_conf(tw: Any, t1: int, t2: int) -> float:
    if t1 <= 0:
        return 0.0
    table = tw[2]
    if t2 < 0 or t1 >= table.shape[0] or t2 >= table.shape[1]:
        raise Rerun()
    v: float = table[t1, t2]
    return v


@kernel
def k_conf(tw: Any, xs: Any) -> float:
    _, t1, t2, _ = k_stats(tw, xs)
    return k_beta_conf(tw, t1, t2)


@kernel
def k_count_of(tw: Any, xs: Any, a: int) -> int:
    n = 0
    for j in range(xs.shape[0]):
        if xs[j] == a:
            n += 1
    return n


@kernel
def k_share(tw: Any, xs: Any, a: int) -> float:
    if xs.shape[0] == 0:
        return 0.0
    return k_count_of(tw, xs, a) / xs.shape[0]


@kernel
def k_recent(tw: Any, xs: Any, n: int, out: Any) -> Any:
    if n <= 0:
        return xs[:0]
    start = xs.shape[0] - n
    return xs[start:] if start > 0 else xs


@kernel
def k_len(tw: Any, xs: Any) -> int:
    return xs.shape[0]


@kernel
def k_answers(tw: Any, branches: Any, out: Any) -> Any:
    latest = tw[3]
    n = branches.shape[0]
    for j in range(n):
        out[j] = latest[branches[j]]
    return out[:n]


# ---------------------------------------------------------------- weighted votes


@kernel
def _vote(keys: Any, ws: Any, mark: Any, nd: int, a: int, w: float) -> int:
    """Add one vote to a tally of `nd` answers; returns the new size.
    As `out[a] = out.get(a, 0.0) + w`: a new answer starts at 0.0 + w."""
    if a == NO_ANSWER:
        return nd  # `none` casts no vote
    k = mark[a + 1]
    if k == 0:
        keys[nd] = a
        ws[nd] = 0.0 + w
        mark[a + 1] = nd + 1
        return nd + 1
    ws[k - 1] = ws[k - 1] + w
    return nd


@kernel
def _tally(keys: Any, ws: Any, mark: Any, nd: int) -> Any:
    for k in range(nd):
        mark[keys[k] + 1] = 0  # leave the marker row clean for the next tally
    return keys[:nd], ws[:nd]


@kernel
def k_votes_pairs(tw: Any, answers: Any, weights: Any, keys: Any, ws: Any, mark: Any) -> Any:
    """`builtins._votes_from_pairs`: weights add in order; `none` casts no vote."""
    nd = 0
    for j in range(answers.shape[0]):
        nd = _vote(keys, ws, mark, nd, answers[j], float(weights[j]))
    return _tally(keys, ws, mark, nd)


@kernel
def k_votes_set(tw: Any, branches: Any, keys: Any, ws: Any, mark: Any) -> Any:
    latest = tw[3]
    nd = 0
    for j in range(branches.shape[0]):
        nd = _vote(keys, ws, mark, nd, latest[branches[j]], 1.0)
    return _tally(keys, ws, mark, nd)


@kernel
def k_votes_list(tw: Any, xs: Any, keys: Any, ws: Any, mark: Any) -> Any:
    nd = 0
    for j in range(xs.shape[0]):
        nd = _vote(keys, ws, mark, nd, xs[j], 1.0)
    return _tally(keys, ws, mark, nd)


@kernel
def k_vstats(v: Any) -> tuple[int, float, float]:
    """`builtins.vote_stats_weighted`."""
    keys = v[0]
    ws = v[1]
    best = NO_ANSWER
    t1 = 0.0
    t2 = 0.0
    for k in range(keys.shape[0]):
        a = keys[k]
        w = ws[k]
        if w > t1 or best == NO_ANSWER:
            if best != NO_ANSWER:
                t2 = t1
            best = a
            t1 = w
        elif w > t2:
            t2 = w
    return best, t1, t2


@kernel
def k_vwinner(tw: Any, v: Any) -> int:
    return k_vstats(v)[0]


@kernel
def k_vtop1(tw: Any, v: Any) -> float:
    return k_vstats(v)[1]


@kernel
def k_vtop2(tw: Any, v: Any) -> float:
    return k_vstats(v)[2]


@kernel
def k_vtotal(tw: Any, v: Any) -> float:
    return k_neumaier(v[1])


@kernel
def k_weight_of(tw: Any, v: Any, a: int) -> float:
    keys = v[0]
    for k in range(keys.shape[0]):
        if keys[k] == a:
            w: float = v[1][k]
            return w
    return 0.0


# ---------------------------------------------------------------- aggregates


@kernel
def k_sum_i(tw: Any, xs: Any) -> int:
    s = 0
    for j in range(xs.shape[0]):
        v = xs[j]
        if (v > 0 and s > _INT_MAX - v) or (v < 0 and s < _INT_MIN - v):
            raise Rerun()  # Python's int sum would leave int64
        s += v
    return s


@kernel
def k_sum_f(tw: Any, xs: Any) -> float:
    return k_neumaier(xs)


@kernel
def k_mean(tw: Any, xs: Any) -> float:
    if xs.shape[0] == 0:
        return 0.0
    return k_neumaier(xs) / xs.shape[0]


@kernel
def k_gmin(tw: Any, xs: Any) -> Any:
    if xs.shape[0] == 0:
        return xs.dtype.type(0)
    m = xs[0]
    for j in range(1, xs.shape[0]):
        if xs[j] < m:
            m = xs[j]
    return m


@kernel
def k_gmax(tw: Any, xs: Any) -> Any:
    if xs.shape[0] == 0:
        return xs.dtype.type(0)
    m = xs[0]
    for j in range(1, xs.shape[0]):
        if xs[j] > m:
            m = xs[j]
    return m


@kernel
def k_any(tw: Any, xs: Any) -> bool:
    for j in range(xs.shape[0]):  # noqa: SIM110 - a plain loop compiles to plain code
        if xs[j] != 0:
            return True
    return False


@kernel
def k_all(tw: Any, xs: Any) -> bool:
    for j in range(xs.shape[0]):  # noqa: SIM110 - a plain loop compiles to plain code
        if xs[j] == 0:
            return False
    return True


@kernel
def k_count_set(tw: Any, branches: Any) -> int:
    return branches.shape[0]


# ---------------------------------------------------------------- windows


@kernel
def k_push(buf: Any, n: int, cap: int, x: float) -> int:
    if n < cap:
        buf[n] = x
        return n + 1
    for j in range(cap - 1):
        buf[j] = buf[j + 1]
    buf[cap - 1] = x
    return n


@kernel
def k_set_last(buf: Any, n: int, cap: int, x: float) -> int:
    if n > 0:
        buf[n - 1] = x
    return n


@kernel
def k_wfirst(tw: Any, buf: Any, n: int, cap: int) -> float:
    v: float = buf[0] if n > 0 else 0.0
    return v


@kernel
def k_wlast(tw: Any, buf: Any, n: int, cap: int) -> float:
    v: float = buf[n - 1] if n > 0 else 0.0
    return v


@kernel
def k_wdelta(tw: Any, buf: Any, n: int, cap: int) -> float:
    v: float = buf[n - 1] - buf[0] if n >= 2 else 0.0
    return v


@kernel
def k_wlen(tw: Any, buf: Any, n: int, cap: int) -> int:
    return n


@kernel
def k_wmean(tw: Any, buf: Any, n: int, cap: int) -> float:
    if n == 0:
        return 0.0
    return k_neumaier(buf[:n]) / n


# ---------------------------------------------------------------- ordering


@kernel
def k_sort(items: Any, n: int, keys: Any, desc: Any, perm: Any, tmp: Any) -> None:
    """Stable sort of items[:n] by the key rows (first row most significant,
    each ascending or descending): equal to Python's successive stable sorts,
    last key first. NaN keys make Python's order unspecified: replay them."""
    nk = keys.shape[0]
    for p in range(n):
        perm[p] = p
        for k in range(nk):
            if keys[k, p] != keys[k, p]:
                raise Rerun()
    for p in range(1, n):
        x = perm[p]
        q = p - 1
        while q >= 0:
            y = perm[q]
            before = False
            for k in range(nk):
                a = keys[k, x]
                b = keys[k, y]
                if a != b:
                    before = (a > b) if desc[k] else (a < b)
                    break
            if not before:
                break
            perm[q + 1] = y
            q -= 1
        perm[q + 1] = x
    for p in range(n):
        tmp[p] = items[perm[p]]
    for p in range(n):
        items[p] = tmp[p]


def beta_table(n_max: int) -> Any:
    """`replay.voting.beta_conf(t1, t2)` for 0 <= t1, t2 <= n_max, computed
    with the same integers and the same single correctly rounded division."""
    from math import comb

    size = n_max + 1
    table = np.zeros((size, size), dtype=np.float64)
    for n in range(2, 2 * n_max + 2):
        prefix = 0
        for t1 in range(0, min(n - 1, n_max) + 1):
            prefix += comb(n, t1)
            t2 = n - 1 - t1
            if t1 >= 1 and t2 <= n_max:
                table[t1, t2] = prefix / (1 << n)
    return table
