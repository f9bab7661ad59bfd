"""Property tests: every kernel of the compiled backend (`autotts_dsl/jit/kernels.py`)
computes bit for bit what its reference computes — the `impl` of the builtins row
naming it (`Builtin.jit`), `replay.voting` and `replay.numeric` — or raises `Rerun`
where the reference raises (or where exact replication is not attempted).

The kernels run compiled (numba), exactly as the generated controllers call them:
answers are ints with -1 for `none`, lists and sets are 1-D int64/float64 arrays,
a tally is a pair (keys, weights), and non-schedule kernels take the tally
workspace `tw = (counts[V+1], keys[W], beta_table[N+1, N+1], latest[W])` first.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl import builtins as B
from autotts_dsl.builtins import BUILTINS, Window, vote_stats_weighted
from autotts_dsl.jit import kernels as K
from autotts_dsl.replay.numeric import neumaier_sum
from autotts_dsl.replay.voting import beta_conf, tally, vote_stats

V = 8  # answers -1..7: counts / vote marks are indexed by answer + 1
W = 48  # workspace width (branches); >= the longest list drawn below
N_TABLE = W  # beta table size used by the standard workspace
BT = K.beta_table(N_TABLE)

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(max_examples=60, deadline=None)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------- helpers


def make_tw(latest: Sequence[int] | None = None, table: np.ndarray = BT) -> tuple[Any, ...]:
    lat = np.zeros(W, dtype=np.int64)
    if latest is not None:
        lat[: len(latest)] = latest
    return (np.zeros(V + 1, dtype=np.int64), np.zeros(W, dtype=np.int64), table, lat)


def i64(xs: Sequence[int]) -> np.ndarray:
    return np.array(list(xs), dtype=np.int64)


def f64(xs: Sequence[float]) -> np.ndarray:
    return np.array(list(xs), dtype=np.float64)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same_float(got: Any, want: Any) -> None:
    """Bit-identical floats (so 0.0 != -0.0); any NaN equals any NaN."""
    assert isinstance(got, float), (got, want)
    want = float(want)
    if math.isnan(want):
        assert math.isnan(got), (got, want)
    else:
        assert bits(got) == bits(want), (got, want)


def assert_same_floats(got: Sequence[float], want: Sequence[float]) -> None:
    assert len(got) == len(want), (list(got), list(want))
    for g, w in zip(got, want, strict=True):
        assert_same_float(float(g), w)


def assert_same_int(got: Any, want: Any) -> None:
    assert isinstance(got, int) and not isinstance(got, bool), (got, want)
    assert isinstance(want, int), (got, want)
    assert got == want, (got, want)


def ref(jit: str) -> Callable[..., Any]:
    """The reference `impl` of the builtins rows compiled to kernel `jit`."""
    impls = {row.impl for row in BUILTINS if row.jit == jit}
    assert len(impls) == 1, (jit, impls)
    return impls.pop()


def kernel_outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except K.Rerun:
        return "rerun", None


def python_outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except (ValueError, OverflowError) as e:
        return "raise", type(e).__name__


def assert_clean(tw: tuple[Any, ...]) -> None:
    assert not tw[0].any(), f"counts workspace left dirty: {tw[0]}"


# ---------------------------------------------------------------- strategies

ANSWERS = st.lists(st.integers(-1, 7), max_size=40)

EDGE_FLOATS = [
    0.0,
    -0.0,
    0.1,
    -0.1,
    0.5,
    -0.5,
    1.0,
    -1.0,
    2.5,
    -2.5,
    1e16,
    -1e16,
    1e308,
    -1e308,
    5e-324,
    -5e-324,
    2.0**53,
    2.0**63,
    -(2.0**63),
    math.inf,
    -math.inf,
    math.nan,
]
ANY_FLOAT = st.one_of(st.floats(), st.sampled_from(EDGE_FLOATS), st.floats(-1e3, 1e3))
FLOAT_LISTS = st.lists(ANY_FLOAT, max_size=30)
# Sums that exercise compensation: huge terms that cancel, tiny ones that survive.
CANCEL_FLOATS = st.sampled_from([1e16, -1e16, 1.0, -1.0, 0.1, 1e100, -1e100, 3.0, 1e-16, -0.0])
INT64 = st.integers(INT64_MIN, INT64_MAX)
NUMBER = st.one_of(INT64, st.integers(-5, 5), ANY_FLOAT)


@st.composite
def branch_sets(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """(latest answers per branch, a branch set in index order)."""
    latest = draw(st.lists(st.integers(-1, 7), min_size=1, max_size=W))
    chosen = draw(st.sets(st.integers(0, len(latest) - 1), max_size=len(latest)))
    return latest, sorted(chosen)


# ---------------------------------------------------------------- table


def test_every_builtin_row_names_an_existing_kernel() -> None:
    assert BUILTINS
    for row in BUILTINS:
        assert row.jit, f"builtin {row.signature} has no kernel"
        assert row.jit.startswith("k_"), row.jit
        fn = getattr(K, row.jit, None)
        assert callable(fn), f"builtin {row.signature}: kernels.{row.jit} does not exist"


# ---------------------------------------------------------------- answer lists


@FAST
@given(ANSWERS)
def test_stats_kernels_match_vote_stats(xs: list[int]) -> None:
    arr = i64(xs)
    tw = make_tw()
    w, t1, t2 = vote_stats(xs)
    winner = -1 if w is None else w
    assert K.k_stats(tw, arr) == (winner, t1, t2, len(tally(xs)))
    assert_clean(tw)

    for name, want in [
        ("k_winner", ref("k_winner")(xs)),
        ("k_top1", ref("k_top1")(xs)),
        ("k_top2", ref("k_top2")(xs)),
        ("k_distinct", ref("k_distinct")(xs)),
    ]:
        assert_same_int(getattr(K, name)(tw, arr), want)
        assert_clean(tw)
    assert K.k_winner(tw, arr) == B._winner(xs)
    assert_clean(tw)
    assert_same_float(K.k_conf(tw, arr), B._conf(xs))
    assert_same_float(K.k_conf(tw, arr), ref("k_conf")(xs))
    assert_clean(tw)
    assert list(arr) == xs  # inputs are not modified


@FAST
@given(ANSWERS, st.integers(1, 8))
def test_conf_reruns_outside_a_small_beta_table(xs: list[int], n: int) -> None:
    tw = make_tw(table=K.beta_table(n))
    _, t1, t2 = vote_stats(xs)
    kind, got = kernel_outcome(K.k_conf, tw, i64(xs))
    assert_clean(tw)
    if t1 > 0 and (t1 > n or t2 > n):
        assert kind == "rerun", (xs, n, got)
    else:
        assert kind == "ok"
        assert_same_float(got, B._conf(xs))


def test_beta_table_exhaustive_40() -> None:
    n = 40
    table = K.beta_table(n)
    assert table.shape == (n + 1, n + 1)
    assert table.dtype == np.float64
    for t1 in range(n + 1):
        for t2 in range(n + 1):
            assert bits(float(table[t1, t2])) == bits(beta_conf(t1, t2)), (t1, t2)


@FAST
@given(st.integers(1, 12))
def test_beta_table_small_sizes(n: int) -> None:
    table = K.beta_table(n)
    assert table.shape == (n + 1, n + 1)
    for t1 in range(n + 1):
        for t2 in range(n + 1):
            assert bits(float(table[t1, t2])) == bits(beta_conf(t1, t2)), (n, t1, t2)


@FAST
@given(st.integers(-5, 50), st.integers(-5, 50), st.integers(1, 45))
def test_k_beta_conf(t1: int, t2: int, n: int) -> None:
    tw = make_tw(table=K.beta_table(n))
    kind, got = kernel_outcome(K.k_beta_conf, tw, t1, t2)
    if t1 <= 0:
        assert kind == "ok"
        assert_same_float(got, 0.0)
        assert_same_float(got, beta_conf(t1, t2))
    elif t2 < 0 or t1 > n or t2 > n:
        assert kind == "rerun", (t1, t2, n, got)
    else:
        assert kind == "ok"
        assert_same_float(got, beta_conf(t1, t2))
        assert_same_float(got, ref("k_beta_conf")(t1, t2))


@FAST
@given(ANSWERS, st.integers(-2, 8))
def test_count_of_and_share(xs: list[int], a: int) -> None:
    tw = make_tw()
    arr = i64(xs)
    assert_same_int(K.k_count_of(tw, arr, a), B._count_of(xs, a))
    assert_same_int(K.k_count_of(tw, arr, a), ref("k_count_of")(xs, a))
    assert_same_float(K.k_share(tw, arr, a), B._share(xs, a))
    assert_same_float(K.k_share(tw, arr, a), ref("k_share")(xs, a))
    assert_clean(tw)


@FAST
@given(ANSWERS, st.integers(-3, 45))
def test_recent_and_len(xs: list[int], n: int) -> None:
    tw = make_tw()
    arr = i64(xs)
    out = np.full(W, 99, dtype=np.int64)
    got = K.k_recent(tw, arr, n, out)
    assert got.dtype == np.int64
    assert list(got) == B._recent(xs, n) == ref("k_recent")(xs, n)
    assert_same_int(K.k_len(tw, arr), len(xs))
    assert_same_int(K.k_len(tw, arr), ref("k_len")(xs))


@FAST
@given(branch_sets())
def test_answers_and_count_of_a_set(case: tuple[list[int], list[int]]) -> None:
    latest, s = case
    tw = make_tw(latest)
    ctx = SimpleNamespace(latest=latest)
    out = np.full(W, 99, dtype=np.int64)
    got = K.k_answers(tw, i64(s), out)
    assert list(got) == [latest[i] for i in s] == ref("k_answers")(ctx, s)
    assert_same_int(K.k_count_set(tw, i64(s)), len(s))
    assert_same_int(K.k_count_set(tw, i64(s)), ref("k_count_set")(s))


# ---------------------------------------------------------------- weighted votes

WEIGHT = st.one_of(ANY_FLOAT, st.integers(-3, 3).map(float))


def vote_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Garbage in the key/weight rows (the kernels must not read stale entries);
    # the mark row must arrive zeroed and be left zeroed.
    return (
        np.full(W, 77, dtype=np.int64),
        np.full(W, 7.5, dtype=np.float64),
        np.zeros(V + 1, dtype=np.int64),
    )


def assert_same_tally(got: tuple[np.ndarray, np.ndarray], want: dict[int, float]) -> None:
    keys, ws = got
    assert keys.dtype == np.int64 and ws.dtype == np.float64
    assert list(keys) == list(want.keys())
    assert_same_floats(list(ws), list(want.values()))


@FAST
@given(st.lists(st.tuples(st.integers(-1, 7), WEIGHT), max_size=40))
def test_votes_pairs_float_weights(pairs: list[tuple[int, float]]) -> None:
    tw = make_tw()
    keys, ws, mark = vote_rows()
    answers = i64([a for a, _ in pairs])
    weights = f64([w for _, w in pairs])
    got = K.k_votes_pairs(tw, answers, weights, keys, ws, mark)
    want = B._votes_from_pairs(pairs)
    assert_same_tally(got, want)
    assert_same_tally(got, ref("k_votes_pairs")(pairs))
    assert not mark.any(), "vote marks left dirty"


@FAST
@given(st.lists(st.tuples(st.integers(-1, 7), st.one_of(INT64, st.integers(-3, 3))), max_size=40))
def test_votes_pairs_int_weights(pairs: list[tuple[int, int]]) -> None:
    # An int generator (`votes(2 for b in alive)`) hands int64 weights to the kernel.
    tw = make_tw()
    keys, ws, mark = vote_rows()
    got = K.k_votes_pairs(
        tw, i64([a for a, _ in pairs]), i64([w for _, w in pairs]), keys, ws, mark
    )
    assert_same_tally(got, B._votes_from_pairs(pairs))
    assert not mark.any()


@FAST
@given(branch_sets())
def test_votes_set(case: tuple[list[int], list[int]]) -> None:
    latest, s = case
    tw = make_tw(latest)
    keys, ws, mark = vote_rows()
    got = K.k_votes_set(tw, i64(s), keys, ws, mark)
    want = ref("k_votes_set")(SimpleNamespace(latest=latest), s)
    assert_same_tally(got, want)
    assert_same_tally(got, B._votes_from_pairs([(latest[i], 1.0) for i in s]))
    assert not mark.any()


@FAST
@given(ANSWERS)
def test_votes_list(xs: list[int]) -> None:
    tw = make_tw()
    keys, ws, mark = vote_rows()
    got = K.k_votes_list(tw, i64(xs), keys, ws, mark)
    assert_same_tally(got, B._votes_from_list(xs))
    assert_same_tally(got, ref("k_votes_list")(xs))
    assert not mark.any()


@FAST
@given(st.lists(st.tuples(st.integers(-1, 7), WEIGHT), max_size=40), st.integers(-2, 9))
def test_tally_reductions(pairs: list[tuple[int, float]], a: int) -> None:
    v = B._votes_from_pairs(pairs)
    tally_arrays = (i64(v.keys()), f64(v.values()))
    tw = make_tw()

    best, t1, t2 = vote_stats_weighted(v)
    gb, g1, g2 = K.k_vstats(tally_arrays)
    assert_same_int(gb, best)
    assert_same_float(g1, t1)
    assert_same_float(g2, t2)

    assert_same_int(K.k_vwinner(tw, tally_arrays), ref("k_vwinner")(v))
    assert_same_float(K.k_vtop1(tw, tally_arrays), ref("k_vtop1")(v))
    assert_same_float(K.k_vtop2(tw, tally_arrays), ref("k_vtop2")(v))
    assert_same_float(K.k_vtotal(tw, tally_arrays), neumaier_sum(v.values()))
    assert_same_float(K.k_vtotal(tw, tally_arrays), ref("k_vtotal")(v))
    assert_same_float(K.k_weight_of(tw, tally_arrays, a), v.get(a, 0.0))
    assert_same_float(K.k_weight_of(tw, tally_arrays, a), ref("k_weight_of")(v, a))


@FAST
@given(
    st.lists(st.integers(0, 7), unique=True, max_size=8).flatmap(
        lambda ks: st.tuples(st.just(ks), st.lists(WEIGHT, min_size=len(ks), max_size=len(ks)))
    )
)
def test_vstats_on_arbitrary_tallies(case: tuple[list[int], list[float]]) -> None:
    # Tallies with any weights (NaN, -0.0, ties), not only sums built by `votes`.
    ks, ws = case
    v = dict(zip(ks, ws, strict=True))
    best, t1, t2 = vote_stats_weighted(v)
    gb, g1, g2 = K.k_vstats((i64(ks), f64(ws)))
    assert_same_int(gb, best)
    assert_same_float(g1, t1)
    assert_same_float(g2, t2)


# ---------------------------------------------------------------- compensated sums


@FAST
@given(st.one_of(FLOAT_LISTS, st.lists(CANCEL_FLOATS, max_size=30)))
def test_neumaier_floats(xs: list[float]) -> None:
    assert_same_float(K.k_neumaier(f64(xs)), neumaier_sum(xs))


@FAST
@given(st.lists(INT64, max_size=20))
def test_neumaier_int64(xs: list[int]) -> None:
    assert_same_float(K.k_neumaier(i64(xs)), neumaier_sum(xs))


# ---------------------------------------------------------------- aggregates

SMALL_INTS = st.lists(st.integers(-(2**40), 2**40), max_size=30)
BOOLS = st.lists(st.booleans(), max_size=30)


@FAST
@given(SMALL_INTS)
def test_int_aggregates(xs: list[int]) -> None:
    tw = make_tw()
    arr = i64(xs)
    assert_same_int(K.k_sum_i(tw, arr), B._sum(xs))
    assert_same_float(K.k_mean(tw, arr), B._mean(xs))
    assert_same_int(K.k_gmin(tw, arr), B._min(xs))
    assert_same_int(K.k_gmax(tw, arr), B._max(xs))
    assert K.k_any(tw, arr) is any(xs)
    assert K.k_all(tw, arr) is all(xs)


@FAST
@given(st.one_of(FLOAT_LISTS, st.lists(CANCEL_FLOATS, max_size=30)))
def test_float_aggregates(xs: list[float]) -> None:
    tw = make_tw()
    arr = f64(xs)
    # `_sum([])` is the int 0; the float kernel gives 0.0 (equal values).
    assert_same_float(K.k_sum_f(tw, arr), B._sum(xs))
    assert_same_float(K.k_sum_f(tw, arr), ref("k_sum_f")(xs))
    assert_same_float(K.k_mean(tw, arr), B._mean(xs))
    assert_same_float(K.k_mean(tw, arr), ref("k_mean")(xs))
    assert_same_float(K.k_gmin(tw, arr), B._min(xs))
    assert_same_float(K.k_gmin(tw, arr), ref("k_gmin")(xs))
    assert_same_float(K.k_gmax(tw, arr), B._max(xs))
    assert_same_float(K.k_gmax(tw, arr), ref("k_gmax")(xs))
    assert K.k_any(tw, arr) is any(xs) is ref("k_any")(xs)
    assert K.k_all(tw, arr) is all(xs) is ref("k_all")(xs)


@FAST
@given(BOOLS)
def test_bool_generators(xs: list[bool]) -> None:
    # Bool generator values travel as int64 0/1; `sum` of bools is a float sum.
    tw = make_tw()
    arr = i64([int(x) for x in xs])
    assert_same_float(K.k_sum_f(tw, arr), B._sum(xs))
    assert_same_float(K.k_mean(tw, arr), B._mean(xs))
    assert K.k_any(tw, arr) is any(xs)
    assert K.k_all(tw, arr) is all(xs)


def test_empty_aggregates() -> None:
    tw = make_tw()
    for arr in (i64([]), f64([])):
        assert K.k_mean(tw, arr) == 0.0 == B._mean([])
        assert K.k_gmin(tw, arr) == 0 == B._min([])
        assert K.k_gmax(tw, arr) == 0 == B._max([])
        assert K.k_any(tw, arr) is False
        assert K.k_all(tw, arr) is True
    assert_same_int(K.k_sum_i(tw, i64([])), B._sum([]))
    assert_same_float(K.k_sum_f(tw, f64([])), 0.0)


# ---------------------------------------------------------------- ordering

SORT_KEYS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, math.inf, -math.inf])


@st.composite
def sort_cases(draw: st.DrawFn) -> tuple[int, int, list[list[float]], tuple[bool, ...]]:
    n = draw(st.integers(0, 12))
    extra = draw(st.integers(0, 3))
    nk = draw(st.integers(1, 3))
    keys = draw(st.lists(st.lists(SORT_KEYS, min_size=n, max_size=n), min_size=nk, max_size=nk))
    desc = tuple(draw(st.lists(st.booleans(), min_size=nk, max_size=nk)))
    return n, extra, keys, desc


def python_order(items: list[int], keys: list[list[float]], desc: tuple[bool, ...]) -> list[int]:
    idx = list(range(len(items)))
    for k in reversed(range(len(keys))):
        idx.sort(key=lambda p, k=k: keys[k][p], reverse=desc[k])
    return [items[p] for p in idx]


@SLOW
@given(sort_cases(), st.randoms(use_true_random=False))
def test_sort_matches_successive_stable_sorts(
    case: tuple[int, int, list[list[float]], tuple[bool, ...]], rnd: Any
) -> None:
    n, extra, keys, desc = case
    items = list(range(100, 100 + n))
    rnd.shuffle(items)
    want = python_order(items, keys, desc)
    # Rows as the generated code passes them: wider than n, NaN garbage past n.
    key_rows = np.full((len(keys), n + extra), math.nan)
    for k, row in enumerate(keys):
        key_rows[k, :n] = row
    before = key_rows.copy()
    arr = i64([*items, *range(-1, -1 - extra, -1)])
    perm = np.full(n + extra, 5, dtype=np.int64)
    tmp = np.full(n + extra, 5, dtype=np.int64)
    K.k_sort(arr, n, key_rows, desc, perm, tmp)
    assert list(arr[:n]) == want, (items, keys, desc)
    assert list(arr[n:]) == list(range(-1, -1 - extra, -1))  # past n: untouched
    np.testing.assert_array_equal(key_rows, before)


@SLOW
@given(sort_cases().filter(lambda c: c[0] > 0), st.data())
def test_sort_nan_key_reruns(
    case: tuple[int, int, list[list[float]], tuple[bool, ...]], data: Any
) -> None:
    n, _, keys, desc = case
    k = data.draw(st.integers(0, len(keys) - 1))
    p = data.draw(st.integers(0, n - 1))
    key_rows = f64([x for row in keys for x in row]).reshape(len(keys), n)
    key_rows[k, p] = math.nan
    arr = i64(range(n))
    with pytest.raises(K.Rerun):
        K.k_sort(arr, n, key_rows, desc, np.zeros(n, np.int64), np.zeros(n, np.int64))


# ---------------------------------------------------------------- windows

WMAX = 6
WINDOW_OPS = st.lists(
    st.tuples(st.sampled_from(["push", "push", "set_last"]), ANY_FLOAT), max_size=25
)


@SLOW
@given(st.integers(1, WMAX), WINDOW_OPS)
def test_window_kernels_match_window(cap: int, ops: list[tuple[str, float]]) -> None:
    tw = make_tw()
    w = Window(cap)
    buf = np.full(WMAX + 1, 777.0)  # one sentinel slot past the widest window
    n = 0
    queries = [
        ("k_wfirst", ref("k_wfirst")),
        ("k_wlast", ref("k_wlast")),
        ("k_wdelta", ref("k_wdelta")),
        ("k_wmean", ref("k_wmean")),
    ]
    for op, x in ops:
        if op == "push":
            n = K.k_push(buf, n, cap, x)
            ref("k_push")(w, x)
        else:
            n = K.k_set_last(buf, n, cap, x)
            ref("k_set_last")(w, x)
        assert n == len(w.items) <= cap
        assert_same_floats(list(buf[:n]), w.items)
        assert buf[WMAX] == 777.0
        assert_same_int(K.k_wlen(tw, buf, n, cap), ref("k_wlen")(w))
        for name, impl in queries:
            assert_same_float(getattr(K, name)(tw, buf, n, cap), impl(w))
    assert_same_float(K.k_wmean(tw, buf, n, cap), B._mean(w.items))
    assert_same_float(K.k_wdelta(tw, buf, n, cap), B._delta(w))


# ---------------------------------------------------------------- numerics

IN_INT64 = st.one_of(
    st.floats(-(2.0**63), 2.0**63, exclude_max=True),
    st.integers(-200, 200).map(lambda i: i / 2),  # halves: ties to even
    st.integers(-(2**52), 2**52).map(lambda i: i + 0.5),
    st.sampled_from([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -0.0, -(2.0**63), 2.0**63 - 1024]),
    st.sampled_from([math.inf, -math.inf, math.nan]),
)


@FAST
@given(IN_INT64)
def test_round_floor_ceil(x: float) -> None:
    for kernel, impl in [
        (K.k_round, ref("k_round")),
        (K.k_round, round),
        (K.k_floor, math.floor),
        (K.k_ceil, math.ceil),
    ]:
        want = python_outcome(impl, x)
        got = kernel_outcome(kernel, x)
        if want[0] == "raise":
            assert got[0] == "rerun", (kernel, x, got)
        elif abs(x) >= 2.0**62:
            # Near the int64 edge the kernels replay rather than risk a wrapped int.
            assert got[0] == "rerun" or got[1] == want[1], (kernel, x, got)
        else:
            assert got[0] == "ok", (kernel, x)
            assert_same_int(got[1], want[1])


@FAST
@given(st.integers(-(2**53), 2**53))
def test_round_floor_ceil_of_ints(x: int) -> None:
    assert_same_int(K.k_round(x), ref("k_round")(x))
    assert_same_int(K.k_floor(x), math.floor(x))
    assert_same_int(K.k_ceil(x), math.ceil(x))


@FAST
@given(st.floats(-1e6, 1e6), st.integers(-3, 6))
def test_round_to_decimals_always_reruns(x: float, n: int) -> None:
    with pytest.raises(K.Rerun):
        K.k_round_n(x, n)


# Found by this file: a float beyond int64 made round, floor and ceil return a
# wrapped int64 where Python returns the exact integer; they now raise Rerun.
# (Int arguments never reach these kernels: the generator emits round(int) as the
# int itself, which is exact; see test_jit_differential.)
@pytest.mark.parametrize(
    "x",
    [2.0**63, 1e19, -1e19, 1e300, -1e300, 2.0**62, -(2.0**62)],
    ids=repr,
)
def test_round_floor_ceil_beyond_int64_rerun_or_match(x: float) -> None:
    for kernel, impl in [(K.k_round, round), (K.k_floor, math.floor), (K.k_ceil, math.ceil)]:
        kind, got = kernel_outcome(kernel, x)
        if kind == "ok":
            assert got == impl(x), f"{kernel.__name__}({x!r}) = {got}, Python: {impl(x)}"


# Found by this file: the sum of an int generator and abs(INT64_MIN) wrapped where
# Python ints do not; both now raise Rerun.
@pytest.mark.parametrize(
    "xs", [[2**62, 2**62], [INT64_MAX, 1], [INT64_MIN, -1], [INT64_MIN]], ids=repr
)
def test_int_sum_and_abs_beyond_int64_rerun_or_match(xs: list[int]) -> None:
    tw = make_tw()
    kind, got = kernel_outcome(K.k_sum_i, tw, i64(xs))
    if kind == "ok":
        assert got == B._sum(xs), f"k_sum_i({xs}) = {got}, Python: {B._sum(xs)}"
    if len(xs) == 1:
        kind, got = kernel_outcome(K.k_abs, xs[0])
        if kind == "ok":
            assert got == abs(xs[0]), f"k_abs({xs[0]}) = {got}, Python: {abs(xs[0])}"


def assert_same_number(got: Any, want: Any, all_int: bool) -> None:
    if all_int:
        assert_same_int(got, want)
    else:  # numba unifies int/float to float; the value must be the same
        assert_same_float(got, float(want))


@FAST
@given(NUMBER, NUMBER, NUMBER)
def test_min_max_clamp(a: Any, b: Any, c: Any) -> None:
    ints2 = isinstance(a, int) and isinstance(b, int)
    assert_same_number(K.k_min2(a, b), min(a, b), ints2)
    assert_same_number(K.k_min2(a, b), ref("k_min2")(a, b), ints2)
    assert_same_number(K.k_max2(a, b), max(a, b), ints2)
    assert_same_number(K.k_max2(a, b), ref("k_max2")(a, b), ints2)
    ints3 = ints2 and isinstance(c, int)
    assert_same_number(K.k_clamp(a, b, c), B._clamp(a, b, c), ints3)
    assert_same_number(K.k_clamp(a, b, c), ref("k_clamp")(a, b, c), ints3)


@FAST
@given(st.one_of(ANY_FLOAT, st.integers(INT64_MIN + 1, INT64_MAX)))
def test_abs_and_float(x: Any) -> None:
    assert_same_number(K.k_abs(x), abs(x), isinstance(x, int))
    assert_same_float(K.k_float(x), float(x))


def check_unary(
    kernel: Callable[..., Any], impl: Callable[..., Any], x: Any, may_rerun: bool
) -> None:
    want = python_outcome(impl, x)
    got = kernel_outcome(kernel, x)
    if want[0] == "raise":
        assert got[0] == "rerun", (kernel, x, got, want)
    elif got[0] == "rerun":
        assert may_rerun, f"{kernel.__name__}({x!r}) reran; Python gives {want[1]!r}"
    else:
        assert_same_float(got[1], want[1])


UNARY_ARG = st.one_of(
    ANY_FLOAT,
    st.floats(-800, 800),
    st.floats(709, 711),  # around exp's overflow
    st.integers(-1000, 1000),
)


@FAST
@given(UNARY_ARG)
def test_exp_log_sqrt_sigmoid(x: Any) -> None:
    check_unary(K.k_exp, math.exp, x, may_rerun=False)
    check_unary(K.k_exp, ref("k_exp"), x, may_rerun=False)
    # log(nan) is nan in Python; the kernel may conservatively replay it.
    nan = isinstance(x, float) and math.isnan(x)
    check_unary(K.k_log, math.log, x, may_rerun=nan)
    check_unary(K.k_sqrt, math.sqrt, x, may_rerun=False)
    check_unary(K.k_sigmoid, B._sigmoid, x, may_rerun=False)
    check_unary(K.k_sigmoid, ref("k_sigmoid"), x, may_rerun=False)


POW_BASE = st.one_of(
    ANY_FLOAT,
    st.floats(0, 100),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 10.0, 0.5, -2.0, -0.5]),
    st.integers(-3, 100),
)
POW_FLOAT_EXP = st.one_of(ANY_FLOAT, st.floats(-400, 400), st.integers(-5, 5).map(float))


def check_pow(x: Any, y: Any) -> None:
    want = python_outcome(math.pow, x, y)
    got = kernel_outcome(K.k_pow, x, y)
    if want[0] == "raise":
        assert got[0] == "rerun", (x, y, got, want)
        return
    # Not replicated (Python succeeds, the kernel replays): a negative base with an
    # integral exponent, and non-finite arguments.
    conservative = x < 0 or not (math.isfinite(x) and math.isfinite(y))
    if got[0] == "rerun":
        assert conservative, f"pow({x!r}, {y!r}) reran; Python gives {want[1]!r}"
    else:
        assert_same_float(got[1], want[1])
        assert_same_float(got[1], ref("k_pow")(x, y))


@FAST
@given(POW_BASE, POW_FLOAT_EXP)
def test_pow_float_exponent(x: Any, y: float) -> None:
    check_pow(x, y)


# Found by this file: with an int64 exponent (`pow(x, 2)`: an int literal stays an
# int in the generated code) numba computed math.pow by repeated multiplication, which
# differs from the C library's pow that Python calls (k_pow now passes floats), e.g.
# k_pow(1.0167792552611274, -2) == 0.967267611850832 but
# math.pow(1.0167792552611274, -2) == 0.9672676118508321.
@FAST
@given(POW_BASE, st.one_of(st.integers(-400, 400), st.integers(-10, 10)))
def test_pow_int_exponent(x: Any, y: int) -> None:
    check_pow(x, y)
