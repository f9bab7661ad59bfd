"""Property tests: every VM instruction computes bit for bit what the reference
computes — Python's operators on ints and floats, and the `impl` of each
builtins row (`Builtin.vm` names the instruction) — or ends the episode with
RERUN where the reference raises or where exact replication is not attempted.

The instructions run in the real interpreter loop (`_vm.run_snippet`) on
hand-assembled code (`tests/support/vm_snippet.py`).
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autotts_dsl.builtins import BUILTINS, Window, overloads, vote_stats_weighted
from autotts_dsl.replay.numeric import neumaier_sum
from autotts_dsl.replay.voting import beta_conf, tally, vote_stats
from autotts_dsl.types import T
from autotts_dsl.vm.opcodes import OPCODE
from tests.support.vm_snippet import Snippet

pytestmark = pytest.mark.vm

FAST = settings(max_examples=200, deadline=None)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

EDGE_FLOATS = [
    0.0, -0.0, 0.1, -0.1, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.5, 1e16, -1e16, 1e308, -1e308,
    5e-324, -5e-324, 2.0**53, 2.0**62, -(2.0**62), 2.0**63, -(2.0**63), math.inf, -math.inf,
    math.nan,
]  # fmt: skip
ANY_FLOAT = st.one_of(st.floats(), st.sampled_from(EDGE_FLOATS), st.floats(-1e3, 1e3))
EDGE_INTS = [0, 1, -1, 2, -2, 7, 2**53, 2**53 + 1, -(2**53) - 1, INT64_MAX, INT64_MIN, 2**62]
ANY_INT = st.one_of(
    st.integers(INT64_MIN, INT64_MAX), st.sampled_from(EDGE_INTS), st.integers(-100, 100)
)
ANSWERS = st.lists(st.integers(-1, 7), max_size=40)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same_float(got: float, want: Any) -> bool:
    want = float(want)
    return math.isnan(got) if math.isnan(want) else bits(got) == bits(want)


def python(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "done", fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        return "raise", type(exc).__name__


def check_float(status: str, got: float, want: tuple[str, Any]) -> None:
    if want[0] == "raise":
        assert status == "rerun", (got, want)
    elif status == "done":
        assert same_float(got, want[1]), (got, want)
    else:
        raise AssertionError(f"replayed a value the reference computes: {want}")


def check_int(status: str, got: int, want: tuple[str, Any], *, int64: bool = True) -> None:
    """An int result: equal, or RERUN when the reference raises or the exact
    result does not fit the VM's int64."""
    if want[0] == "raise" or (int64 and not INT64_MIN <= want[1] <= INT64_MAX):
        assert status == "rerun", (got, want)
    else:
        assert status == "done", want
        assert got == want[1], (got, want)


# ---------------------------------------------------------------- the table


def test_every_builtin_row_names_an_instruction() -> None:
    specials = {"LEN", "RERUN", "I2F"}
    for row in BUILTINS:
        assert row.vm, row.signature
        assert (
            row.vm in OPCODE
            or row.vm in specials
            or (row.vm + "_I" in OPCODE and row.vm + "_F" in OPCODE)
        ), row


# ---------------------------------------------------------------- arithmetic

INT_OPS: dict[str, Callable[[int, int], Any]] = {
    "ADD_I": operator.add,
    "SUB_I": operator.sub,
    "MUL_I": operator.mul,
    "FLOORDIV_I": operator.floordiv,
    "MOD_I": operator.mod,
    "LT_I": operator.lt,
    "LE_I": operator.le,
    "EQ_I": operator.eq,
    "NE_I": operator.ne,
    "MIN_I": min,
    "MAX_I": max,
}


@FAST
@given(st.sampled_from(sorted(INT_OPS)), ANY_INT, ANY_INT)
@example("FLOORDIV_I", INT64_MIN, -1)
@example("MOD_I", INT64_MIN, -1)
@example("MOD_I", -7, 2)
@example("FLOORDIV_I", 7, -2)
def test_int_binary(op: str, a: int, b: int) -> None:
    s = Snippet()
    out = s.itemp()
    s.op(op, out, s.iconst(a), s.iconst(b))
    status, regs, _ = s.run()
    want = python(INT_OPS[op], a, b)
    if want[0] == "done":
        want = ("done", int(want[1]))
    check_int(status, int(regs[out]), want)


@FAST
@given(ANY_INT, ANY_INT)
def test_true_division_of_ints(a: int, b: int) -> None:
    s = Snippet()
    out = s.ftemp()
    s.op("TDIV_I", out, s.iconst(a), s.iconst(b))
    status, _, f = s.run()
    want = python(operator.truediv, a, b)
    exact = abs(a) <= 2**53 and abs(b) <= 2**53
    if want[0] == "done" and not exact:
        assert status in ("rerun", "done")
        if status == "done":
            assert same_float(float(f[out]), want[1])
        return
    check_float(status, float(f[out]), want)


@FAST
@given(ANY_INT)
def test_int_unary(a: int) -> None:
    for op, fn in (("NEG_I", operator.neg), ("ABS_I", abs)):
        s = Snippet()
        out = s.itemp()
        s.op(op, out, s.iconst(a))
        status, regs, _ = s.run()
        check_int(status, int(regs[out]), python(fn, a))
    s = Snippet()
    flt = s.ftemp()
    s.op("I2F", flt, s.iconst(a))
    status, _, f = s.run()
    check_float(status, float(f[flt]), python(float, a))
    s = Snippet()
    fx = s.ftemp()
    s.op("I2FX", fx, s.iconst(a))
    status, _, f = s.run()
    if abs(a) <= 2**53:
        check_float(status, float(f[fx]), ("done", float(a)))
    else:
        assert status == "rerun"


FLOAT_OPS: dict[str, Callable[[float, float], Any]] = {
    "ADD_F": operator.add,
    "SUB_F": operator.sub,
    "MUL_F": operator.mul,
    "DIV_F": operator.truediv,
    "FLOORDIV_F": operator.floordiv,
    "MOD_F": operator.mod,
    "MIN_F": min,
    "MAX_F": max,
}
FLOAT_CMPS: dict[str, Callable[[float, float], bool]] = {
    "LT_F": operator.lt,
    "LE_F": operator.le,
    "EQ_F": operator.eq,
    "NE_F": operator.ne,
}


@FAST
@given(st.sampled_from(sorted(FLOAT_OPS)), ANY_FLOAT, ANY_FLOAT)
@example("MIN_F", 0.0, -0.0)  # Python keeps the first of equal values: the sign tells
@example("MAX_F", -0.0, 0.0)
@example("MOD_F", -0.0, 5.0)
@example("FLOORDIV_F", -1e-300, 1e300)
def test_float_binary(op: str, a: float, b: float) -> None:
    s = Snippet()
    out = s.ftemp()
    s.op(op, out, s.fconst(a), s.fconst(b))
    status, _, f = s.run()
    check_float(status, float(f[out]), python(FLOAT_OPS[op], a, b))


@FAST
@given(st.sampled_from(sorted(FLOAT_CMPS)), ANY_FLOAT, ANY_FLOAT)
def test_float_comparisons(op: str, a: float, b: float) -> None:
    s = Snippet()
    out = s.itemp()
    s.op(op, out, s.fconst(a), s.fconst(b))
    status, regs, _ = s.run()
    assert status == "done"
    assert bool(regs[out]) == FLOAT_CMPS[op](a, b)


# ---------------------------------------------------------------- numeric builtins


def impl(name: str, params: tuple[T, ...]) -> Callable[..., Any]:
    return next(r.impl for r in overloads(name) if r.params == params)


F1 = {
    "EXP": "exp",
    "LOG": "log",
    "SQRT": "sqrt",
    "SIGMOID": "sigmoid",
    "ABS_F": "abs",
}


@FAST
@given(st.sampled_from(sorted(F1)), ANY_FLOAT)
def test_float_functions(op: str, x: float) -> None:
    s = Snippet()
    out = s.ftemp()
    s.op(op, out, s.fconst(x))
    status, _, f = s.run()
    want = python(impl(F1[op], (T.FLOAT,)), x)
    if op == "LOG" and math.isnan(x):
        assert status == "rerun"  # log(nan) is replayed (the reference gives nan)
        return
    check_float(status, float(f[out]), want)


@FAST
@given(st.sampled_from(["ROUND", "FLOOR", "CEIL"]), ANY_FLOAT)
def test_float_to_int(op: str, x: float) -> None:
    s = Snippet()
    out = s.itemp()
    s.op(op, out, s.fconst(x))
    status, regs, _ = s.run()
    want = python(impl(op.lower(), (T.FLOAT,)), x)
    if want[0] == "done" and abs(want[1]) >= 2**62:
        assert status == "rerun"  # beyond the VM's exact range: replayed
        return
    check_int(status, int(regs[out]), want)


@FAST
@given(ANY_FLOAT, ANY_FLOAT)
def test_pow(x: float, y: float) -> None:
    s = Snippet()
    out = s.ftemp()
    s.op("POW", out, s.fconst(x), s.fconst(y))
    status, _, f = s.run()
    want = python(math.pow, x, y)
    declined = x < 0 or not (math.isfinite(x) and math.isfinite(y)) or (x == 0 and y < 0)
    if declined and want[0] == "done":
        assert status == "rerun"
        return
    check_float(status, float(f[out]), want)


@FAST
@given(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, ANY_INT, ANY_INT, ANY_INT)
def test_clamp(x: float, lo: float, hi: float, i: int, ilo: int, ihi: int) -> None:
    clamp = impl("clamp", (T.FLOAT, T.FLOAT, T.FLOAT))
    s = Snippet()
    out, iout = s.ftemp(), s.itemp()
    s.op("CLAMP_F", out, s.fconst(x), s.fconst(lo), s.fconst(hi))
    s.op("CLAMP_I", iout, s.iconst(i), s.iconst(ilo), s.iconst(ihi))
    status, regs, f = s.run()
    check_float(status, float(f[out]), python(clamp, x, lo, hi))
    assert int(regs[iout]) == clamp(i, ilo, ihi)


# ---------------------------------------------------------------- answer lists


def list_snippet(xs: Sequence[int], op: str, *extra: int) -> tuple[str, Any]:
    s = Snippet()
    row, n = s.irow(xs)
    out = s.ftemp() if op in ("CONF", "SHARE") else s.itemp()
    s.op(op, out, row, n, *[s.iconst(e) for e in extra])
    status, regs, f = s.run()
    return status, float(f[out]) if op in ("CONF", "SHARE") else int(regs[out])


@FAST
@given(ANSWERS)
def test_list_statistics(xs: list[int]) -> None:
    w, t1, t2 = vote_stats(xs)
    assert list_snippet(xs, "WINNER") == ("done", -1 if w is None else w)
    assert list_snippet(xs, "TOP1") == ("done", t1)
    assert list_snippet(xs, "TOP2") == ("done", t2)
    assert list_snippet(xs, "DISTINCT") == ("done", len(tally(xs)))
    status, conf = list_snippet(xs, "CONF")
    assert status == "done" and same_float(conf, beta_conf(t1, t2))


@FAST
@given(ANSWERS, st.integers(-2, 8))
def test_count_of_and_share(xs: list[int], a: int) -> None:
    assert list_snippet(xs, "COUNT_OF", a) == ("done", xs.count(a))
    status, share = list_snippet(xs, "SHARE", a)
    want = impl("share", (T.ANSWERS, T.ANSWER))(xs, a)
    assert status == "done" and same_float(share, want)


@FAST
@given(ANSWERS, st.integers(-3, 45))
def test_recent(xs: list[int], n: int) -> None:
    s = Snippet()
    row, ln = s.irow(xs)
    out, out_n = s.n_irows, s.itemp()
    s.n_irows += 1
    s.op("RECENT", out, out_n, row, ln, s.iconst(n))
    got = s.itemp()
    status, regs, _ = s.run()
    want = impl("recent", (T.ANSWERS, T.INT))(xs, n)
    assert status == "done" and int(regs[out_n]) == len(want)
    # read the row back through LDR
    s2 = Snippet()
    row, ln = s2.irow(xs)
    out, out_n = s2.n_irows, s2.itemp()
    s2.n_irows += 1
    s2.op("RECENT", out, out_n, row, ln, s2.iconst(n))
    regs_out = []
    for k in range(len(want)):
        r = s2.itemp()
        s2.op("LDR", r, out, s2.iconst(k))
        regs_out.append(r)
    status, regs, _ = s2.run()
    assert [int(regs[r]) for r in regs_out] == want
    del got


@FAST
@given(st.integers(-5, 60), st.integers(-5, 60), st.integers(1, 48))
def test_beta_conf_table(t1: int, t2: int, n: int) -> None:
    s = Snippet(table_n=n)
    out = s.ftemp()
    s.op("BETA_CONF", out, s.iconst(t1), s.iconst(t2))
    status, _, f = s.run()
    if t1 <= 0:
        assert status == "done" and same_float(float(f[out]), 0.0)
    elif t2 < 0 or t1 + t2 > n:
        assert status == "rerun"  # outside the exact table: replayed
    else:
        assert status == "done" and same_float(float(f[out]), beta_conf(t1, t2))


# ---------------------------------------------------------------- weighted votes

WEIGHT = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 1e308, -1e308, 0.5]))


def votes_from_pairs(pairs: Sequence[tuple[int, float]]) -> dict[int, float]:
    row = next(r for r in BUILTINS if r.vm == "VOTES_PAIRS")
    got: dict[int, float] = row.impl(pairs)
    return got


@FAST
@given(st.lists(st.tuples(st.integers(-1, 7), WEIGHT), max_size=40), st.integers(-2, 9))
def test_weighted_votes_and_reductions(pairs: list[tuple[int, float]], a: int) -> None:
    want = votes_from_pairs(pairs)
    s = Snippet()
    ans, n = s.irow([p[0] for p in pairs])
    wts, _ = s.frow([p[1] for p in pairs])
    keys, weights, nd = s.n_irows, s.n_frows, s.itemp()
    s.n_irows += 1
    s.n_frows += 1
    s.op("VOTES_PAIRS", keys, weights, nd, ans, wts, n)
    win, t1, t2, tot, wof = s.itemp(), s.ftemp(), s.ftemp(), s.ftemp(), s.ftemp()
    s.op("VWINNER", win, keys, weights, nd)
    s.op("VTOP1", t1, keys, weights, nd)
    s.op("VTOP2", t2, keys, weights, nd)
    s.op("VTOTAL", tot, keys, weights, nd)
    s.op("WEIGHT_OF", wof, keys, weights, nd, s.iconst(a))
    status, regs, f = s.run()
    assert status == "done"
    assert int(regs[nd]) == len(want)
    best, w1, w2 = vote_stats_weighted(want)
    assert int(regs[win]) == best
    assert same_float(float(f[t1]), w1) and same_float(float(f[t2]), w2)
    assert same_float(float(f[tot]), neumaier_sum(want.values()))
    assert same_float(float(f[wof]), want.get(a, 0.0))


@FAST
@given(ANSWERS)
def test_votes_of_a_list(xs: list[int]) -> None:
    want = votes_from_pairs([(x, 1.0) for x in xs])
    s = Snippet()
    row, n = s.irow(xs)
    keys, weights, nd = s.n_irows, s.n_frows, s.itemp()
    s.n_irows += 1
    s.n_frows += 1
    s.op("VOTES_LIST", keys, weights, nd, row, n)
    win = s.itemp()
    s.op("VWINNER", win, keys, weights, nd)
    status, regs, _ = s.run()
    assert status == "done" and int(regs[nd]) == len(want)
    assert int(regs[win]) == vote_stats_weighted(want)[0]


# ---------------------------------------------------------------- aggregates

CANCEL = st.sampled_from([1e16, -1e16, 1.0, -1.0, 0.1, 3.0, 1e-16, 1e308, -1e308, 0.0, -0.0])
FLOATS = st.one_of(st.lists(ANY_FLOAT, max_size=30), st.lists(CANCEL, max_size=30))


@FAST
@given(FLOATS)
def test_float_aggregates(xs: list[float]) -> None:
    s = Snippet()
    row, n = s.frow(xs)
    outs = {op: s.ftemp() for op in ("SUM_F", "MEAN_F", "GMIN_F", "GMAX_F")}
    for op, out in outs.items():
        s.op(op, out, row, n)
    status, _, f = s.run()
    assert status == "done"
    gen = {"SUM_F": "sum", "MEAN_F": "mean", "GMIN_F": "min", "GMAX_F": "max"}
    for op, out in outs.items():
        want = impl(gen[op], (T.GEN,))(xs)
        assert same_float(float(f[out]), want), (op, xs)


@FAST
@given(st.lists(ANY_INT, max_size=20))
def test_int_aggregates(xs: list[int]) -> None:
    s = Snippet()
    row, n = s.irow(xs)
    outs = {op: s.itemp() for op in ("SUM_I", "GMIN_I", "GMAX_I")}
    mean = s.ftemp()
    for op, out in outs.items():
        s.op(op, out, row, n)
    s.op("MEAN_I", mean, row, n)
    status, regs, f = s.run()
    prefixes = [sum(xs[: k + 1]) for k in range(len(xs))]
    if not all(INT64_MIN <= p <= INT64_MAX for p in prefixes):
        assert status == "rerun"  # a partial sum leaves int64: replayed (exact there)
        return
    total = sum(xs)
    assert status == "done"
    assert int(regs[outs["SUM_I"]]) == total
    assert int(regs[outs["GMIN_I"]]) == impl("min", (T.GEN,))(xs)
    assert int(regs[outs["GMAX_I"]]) == impl("max", (T.GEN,))(xs)
    assert same_float(float(f[mean]), impl("mean", (T.GEN,))(xs))


@FAST
@given(st.lists(st.booleans(), max_size=20))
def test_any_all(xs: list[bool]) -> None:
    s = Snippet()
    row, n = s.irow([int(x) for x in xs])
    a, b = s.itemp(), s.itemp()
    s.op("ANY", a, row, n)
    s.op("ALL", b, row, n)
    status, regs, _ = s.run()
    assert status == "done" and bool(regs[a]) == any(xs) and bool(regs[b]) == all(xs)


# ---------------------------------------------------------------- ordering

KEY = st.one_of(st.integers(-3, 3).map(float), st.sampled_from([0.0, -0.0, 1.5, -1e300]))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_sort_matches_successive_stable_sorts(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 40))
    nk = data.draw(st.integers(1, 3))
    keys = [data.draw(st.lists(KEY, min_size=n, max_size=n)) for _ in range(nk)]
    desc = [data.draw(st.booleans()) for _ in range(nk)]
    items = list(range(100, 100 + n))
    want = list(range(n))
    for k in reversed(range(nk)):  # successive stable sorts, last key first
        want.sort(key=lambda p, k=k: keys[k][p], reverse=desc[k])
    s = Snippet()
    row, ln = s.irow(items)
    first = s.n_frows
    for k in range(nk):
        s.frow(keys[k])
    mask = sum(1 << k for k in range(nk) if desc[k])
    s.op("SORT", row, ln, first, nk, mask)
    outs = []
    for p in range(n):
        r = s.itemp()
        s.op("LDR", r, row, s.iconst(p))
        outs.append(r)
    status, regs, _ = s.run()
    assert status == "done"
    assert [int(regs[r]) - 100 for r in outs] == want


def test_sort_with_a_nan_key_is_replayed() -> None:
    s = Snippet()
    row, ln = s.irow([1, 2, 3])
    first = s.n_frows
    s.frow([1.0, math.nan, 0.0])
    s.op("SORT", row, ln, first, 1, 0)
    assert s.run()[0] == "rerun"


# ---------------------------------------------------------------- windows

WINDOW_OPS = st.lists(st.tuples(st.sampled_from(["push", "set_last"]), ANY_FLOAT), max_size=25)


@FAST
@given(st.integers(0, 6), WINDOW_OPS)
def test_window_matches_the_reference_window(cap: int, ops: list[tuple[str, float]]) -> None:
    ref = Window(cap)
    s = Snippet()
    w = s.window(cap)
    for name, x in ops:
        getattr(ref, name)(x)
        s.op("PUSH" if name == "push" else "SET_LAST", w, s.fconst(x))
    reads = {op: s.ftemp() for op in ("WFIRST", "WLAST", "WDELTA", "WMEAN")}
    for op, out in reads.items():
        s.op(op, out, w)
    ln = s.itemp()
    s.op("WLEN", ln, w)
    status, regs, f = s.run()
    assert status == "done"
    assert int(regs[ln]) == len(ref.items)
    by_name = {r.vm: r.impl for r in BUILTINS if T.WINDOW in r.params and not r.effect}
    for op, out in reads.items():
        assert same_float(float(f[out]), by_name[op](ref)), (op, ref.items)


@pytest.mark.parametrize("x", [0.0, 1.0])
def test_snippets_end_with_the_answer(x: float) -> None:
    s = Snippet()
    s.fconst(x)
    status, regs, _ = s.run()
    assert status == "done" and int(regs[0]) == 0


# ---------------------------------------------------------------- branch sets

SET_KINDS_PY = {
    "opened": lambda fin, pru: True,
    "running": lambda fin, pru: not fin and not pru,
    "alive": lambda fin, pru: not pru,
    "finished": lambda fin, pru: fin and not pru,
    "pruned": lambda fin, pru: pru,
}


@FAST
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=20))
def test_collect_each_set_kind(branches: list[tuple[bool, bool]]) -> None:
    """COLLECT against the definitions of the branch sets (builtins: `finished`
    excludes pruned branches, `alive` includes finished ones), on every mix of
    finished and pruned branches — SDGV prunes finished branches."""
    from autotts_dsl.vm.opcodes import SET_KINDS, SPECIAL_REGS, SPECIAL_ROWS

    s = Snippet()
    fin_row, pru_row = SPECIAL_ROWS.index("FIN"), SPECIAL_ROWS.index("PRU")
    for j, (fin, pru) in enumerate(branches):
        s.op("STR", fin_row, s.iconst(j), s.iconst(int(fin)))
        s.op("STR", pru_row, s.iconst(j), s.iconst(int(pru)))
    s.op("SETI", SPECIAL_REGS.index("OPENED"), len(branches))
    outs = {}
    for kind in SET_KINDS:
        row, n = s.n_irows, s.itemp()
        s.n_irows += 1
        s.op("COLLECT", SET_KINDS.index(kind), row, n)
        members = []
        for p in range(len(branches)):
            r = s.itemp()
            s.op("LDR", r, row, s.iconst(p))
            members.append(r)
        outs[kind] = (n, members)
    status, regs, _ = s.run()
    assert status == "done"
    for kind, (n, members) in outs.items():
        want = [j for j, (fin, pru) in enumerate(branches) if SET_KINDS_PY[kind](fin, pru)]
        got = [int(regs[r]) for r in members[: int(regs[n])]]
        assert got == want, kind
