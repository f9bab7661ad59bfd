"""The search's statistics: curves read as a user can run them, the
objective against a reference curve, degenerate curves, cells that merge
into the protocol's numbers, paired bootstrap gains, the CMA-ES tuner's
determinism — and (slow, ../shared) the default objective ranking the stdlib
as held-out does."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl.fmt import format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, load_program
from autotts_dsl.replay.synthetic import simulate_store
from autotts_dsl.search.archive import Scored, degenerate_reason
from autotts_dsl.search.cells import CellData, CellTask, evaluate_cell_task
from autotts_dsl.search.curves import Floor, accuracy_at, envelope, tokens_for
from autotts_dsl.search.history import ProgramRow
from autotts_dsl.search.objective import CurvePoint, ScoreContext, Window, parse_objective
from autotts_dsl.search.offline import OfflineProposer
from autotts_dsl.search.stats import curves_of, paired_gain
from autotts_dsl.search.tuner import TunerContext, apply, sites
from autotts_dsl.search.verify import verify
from tests.support.shared import MODELS

points = st.lists(
    st.tuples(st.floats(100, 1e6), st.floats(0, 100)), min_size=1, max_size=6
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(points, st.floats(50, 2e6), st.floats(50, 2e6))
def test_the_achievable_curve_rises_and_inverts(pts: list, t1: float, t2: float) -> None:
    env = envelope(pts)
    floor = Floor(500.0, 10.0)
    lo, hi = sorted((t1, t2))
    assert accuracy_at(env, lo, floor) <= accuracy_at(env, hi, floor) + 1e-9
    acc = accuracy_at(env, hi, floor)
    need = tokens_for(env, acc, floor)
    if acc > 0:
        assert need is not None and need <= hi * (1 + 1e-9)
        assert accuracy_at(env, need * (1 + 1e-9), floor) >= acc - 1e-6


def curve(*pts: tuple[float, float, float]) -> list[CurvePoint]:
    return [CurvePoint(b, a, t, t) for b, t, a in pts]


def test_the_reference_objective() -> None:
    ref = {"s": curve((0, 10_000, 40.0), (0.5, 40_000, 50.0), (1, 160_000, 55.0))}
    ctx = ScoreContext({"s": Window(1000, 64_000)}, {"s": Floor(1000, 20.0)}, ref)
    acc, tok = parse_objective("ref:cmc"), parse_objective("ref-tokens:cmc")
    assert acc.score(ref, ctx) == 0.0 and tok.score(ref, ctx) == 0.0
    up = {"s": curve((0, 10_000, 41.0), (0.5, 40_000, 51.0), (1, 160_000, 56.0))}
    assert acc.score(up, ctx) == pytest.approx(1.0)
    half = {"s": curve((0, 5_000, 40.0), (0.5, 20_000, 50.0), (1, 80_000, 55.0))}
    assert tok.score(half, ctx) == pytest.approx(1.0)  # half the tokens: one doubling
    assert acc.score(half, ctx) > 0
    # a cheap specialist scores against CMC's whole range, not just below it
    cheap = {"s": curve((0, 2_000, 38.0), (0.5, 4_000, 42.0), (1, 8_000, 44.0))}
    assert acc.score(cheap, ctx) < 0
    assert "CMC" in parse_objective("ref:CMC").description


def test_degenerate_curves() -> None:
    floors = {"s": Floor(1000.0, 30.0)}
    assert "no tokens" in degenerate_reason({"s": curve((0, 0, 0.0), (1, 0, 0.0))}, floors)
    assert "one sampled trace" in degenerate_reason({"s": curve((0, 900, 25.0))}, floors)
    assert degenerate_reason({"s": curve((0, 5000, 45.0))}, floors) == ""


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> str:
    import json

    from autotts_dsl.replay.store import store_to_records

    path = tmp_path_factory.mktemp("obj") / "M" / "s.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(store_to_records(simulate_store(12, 32, seed=4))))
    return str(path)


def cell(source: str, beta: float, store: str, seeds: tuple[int, ...]) -> CellData:
    from autotts_dsl.search.cells import cached_store

    h = cached_store(store).content_hash
    return evaluate_cell_task(CellTask(source, "<t>", beta, store, h, seeds, "reference"))


def test_chunks_merge_into_the_protocols_numbers(synth: str) -> None:
    cmc = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")
    whole = cell(cmc, 0.5, synth, tuple(range(7)))
    merged = cell(cmc, 0.5, synth, (0, 1, 2)).merge(cell(cmc, 0.5, synth, (3, 4, 5, 6)))
    from autotts_dsl.search.cells import cached_store

    ev = load_program("cmc").evaluate(cached_store(synth), 0.5, {}, tuple(range(7)))
    for c in (whole, merged):
        assert (c.accuracy, c.avg_tokens, c.avg_seq_tokens) == (
            ev.accuracy,
            ev.avg_tokens,
            ev.avg_seq_tokens,
        )
        assert c.correct_by_q == whole.correct_by_q and c.cost_by_q == whole.cost_by_q


def test_paired_gains_and_their_uncertainty(synth: str) -> None:
    seeds = tuple(range(6))
    src = {n: (STDLIB_DIR / f"{n}.tts").read_text(encoding="utf-8") for n in ("cmc", "sc")}
    cells = {
        n: {"s": {b: cell(s, b, synth, seeds) for b in (0.0, 0.5, 1.0)}} for n, s in src.items()
    }
    from autotts_dsl.search.cells import cached_store

    store = cached_store(synth)
    lo = sum(sum(q.tokens) / len(q.tokens) for q in store.questions) / len(store.questions)
    ctx = ScoreContext({"s": Window(lo, 64 * lo)}, {"s": Floor(lo, 0.0)}, curves_of(cells["cmc"]))
    obj = parse_objective("ref:cmc")
    same = paired_gain(cells["cmc"], cells["cmc"], obj, ctx, n_boot=200, reference_is_b=True)
    assert (same.gain, same.lo, same.hi) == (0.0, 0.0, 0.0) and not same.significant
    g = paired_gain(cells["sc"], cells["cmc"], obj, ctx, n_boot=200, seed=1, reference_is_b=True)
    again = paired_gain(
        cells["sc"], cells["cmc"], obj, ctx, n_boot=200, seed=1, reference_is_b=True
    )
    assert g == again  # replicates depend on the seed only
    assert g.lo <= g.gain <= g.hi and g.hi - g.lo > 0
    bad = {"s": {b: c for b, c in cells["sc"]["s"].items()}}
    bad["s"][0.0] = cell(src["sc"], 0.0, synth, (0, 1))
    with pytest.raises(ValueError, match="same seeds"):
        paired_gain(bad, cells["cmc"], obj, ctx, n_boot=10)


def test_the_tuner_is_deterministic_and_keeps_the_proofs() -> None:
    source = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")
    row = ProgramRow(1, verify(source).hash, "cmc", source, (), 0, 0, "seed", "")
    target = Scored(row, 0.0, (), {})
    ctx = TunerContext(target, 3, [], {}, {})
    runs = []
    for _ in range(2):
        acc, _rej = OfflineProposer(5).propose(1, [target], 4, set(), tuner=ctx)
        runs.append([(p.source, p.tuned) for p in acc])
    assert runs[0] == runs[1] and runs[0]
    tuned = [p for p in runs[0] if p[1] is not None]
    assert tuned and all(verify(s).ok for s, _ in tuned)
    prog = parse(source, "cmc")
    assert len(sites(prog)) > 5
    moved = apply(prog, [0.0] * len(sites(prog)))
    assert verify(format_program(moved)).ok


# ---------------------------------------------------------------------------
# The acceptance ranking (slow: 100 seeds × 5 β × 4 stores × 5 programs)


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("datasets", [("aime24",), ("aime25", "hmmt25")])
def test_the_default_objective_ranks_cmc_first_as_held_out_does(
    shared_store, datasets: tuple[str, ...]
) -> None:
    from autotts_dsl.search.evaluate import store_row

    names = ("cmc", "asc", "esc", "sc", "parallel_probe")
    betas = (0.0, 0.25, 0.5, 0.75, 1.0)
    stores = [shared_store(m, d) for d in datasets for m in MODELS]
    rows_ = [store_row("search", s.name, s) for s in stores]
    floors = {r.content_hash: r.floor for r in rows_}
    windows = {r.content_hash: Window(r.lo, r.hi) for r in rows_}
    curves = {}
    for name in names:
        runner = load_program(name)
        per = {}
        for s in stores:
            pts = []
            for b in betas:
                ev = runner.evaluate(s, b, {}, tuple(range(100)))
                pts.append(CurvePoint(b, ev.accuracy, float(ev.avg_tokens), 0.0))
            per[s.content_hash] = pts
        curves[name] = per
    ctx = ScoreContext(windows, floors, curves["cmc"])
    obj = parse_objective("ref:cmc")
    score = {n: obj.score(c, ctx) for n, c in curves.items()}
    assert score["cmc"] == 0.0
    assert all(score[n] < 0 for n in names[1:]), score
    assert math.isfinite(sum(score.values()))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 100)), min_size=5, max_size=5),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.floats(1, 2e6), min_size=1, max_size=4),
)
def test_the_vectorised_curve_is_the_curve(rows: list, budgets: list) -> None:
    import numpy as np

    from autotts_dsl.search.stats import achievable

    acc = np.asarray([[a for _, a in r] for r in rows])
    tok = np.asarray([[t for t, _ in r] for r in rows])
    t = np.tile(np.asarray(budgets), (len(rows), 1))
    floor = Floor(900.0, 12.5)
    got = achievable(acc, tok, t, floor)
    for i, r in enumerate(rows):
        env = envelope(r)
        for j, x in enumerate(budgets):
            assert got[i, j] == pytest.approx(accuracy_at(env, x, floor), abs=1e-9)


def test_the_fast_bootstrap_agrees_with_the_generic_one(synth: str) -> None:
    from autotts_dsl.search import stats

    seeds = tuple(range(4))
    src = {n: (STDLIB_DIR / f"{n}.tts").read_text(encoding="utf-8") for n in ("cmc", "ibc")}
    cells = {
        n: {"s": {b: cell(s, b, synth, seeds) for b in (0.0, 0.5, 1.0)}} for n, s in src.items()
    }
    ctx = ScoreContext({"s": Window(1, 64)}, {"s": Floor(1500.0, 5.0)}, curves_of(cells["cmc"]))
    obj = parse_objective("ref:cmc")
    fast = stats.paired_gain(cells["ibc"], cells["cmc"], obj, ctx, n_boot=64, seed=3,
                             reference_is_b=True)  # fmt: skip
    # the generic path, by hand: the same draws, the scalar objective
    import numpy as np

    rng = np.random.default_rng(3)
    draw = rng.integers(0, 12, size=(64, 12))
    w = np.zeros((64, 12))
    np.add.at(w, (np.repeat(np.arange(64), 12), draw.ravel()), 1.0)
    ra = stats._resampled(cells["ibc"], {"s": w})
    rb = stats._resampled(cells["cmc"], {"s": w})
    gains = []
    for r in range(64):
        rctx = ScoreContext(ctx.windows, ctx.floors, {"s": rb["s"][r]})
        gains.append(obj.score({"s": ra["s"][r]}, rctx) - obj.score({"s": rb["s"][r]}, rctx))
    lo, hi = np.quantile(gains, [0.025, 0.975])
    assert (fast.lo, fast.hi) == (pytest.approx(lo), pytest.approx(hi))


def test_no_cliff_below_the_cheapest_point() -> None:
    """A budget just below a program's cheapest point buys almost its
    accuracy (the curve runs from the floor, SC@1, in log tokens), not the
    floor: the cliff made shaving tokens at β = 0 a gain of 15 points."""
    floor = Floor(15_000.0, 10.0)
    env = envelope([(59_237.0, 27.7), (180_000.0, 31.0)])
    just_below = accuracy_at(env, 59_000.0, floor)
    assert 27.5 < just_below < 27.7
    assert accuracy_at(env, 59_237.0, floor) == 27.7
    assert accuracy_at(env, 15_000.0, floor) == pytest.approx(10.0)
    assert accuracy_at(env, 14_999.0, floor) == 0.0  # less than one trace buys nothing
    # the inverse agrees: 20 % needs a budget between one trace and the first point
    need = tokens_for(env, 20.0, floor)
    assert need is not None and 15_000.0 < need < 59_237.0
    assert accuracy_at(env, need, floor) == pytest.approx(20.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(1.0, 1e6), st.floats(0.0, 100.0), st.floats(0.0, 100.0), st.floats(1.0001, 10.0))
def test_the_curve_is_continuous_in_the_cheapest_point(
    x0: float, a0: float, floor_acc: float, ratio: float
) -> None:
    """Moving a program's cheapest point by a hair moves its accuracy at a
    fixed budget by a hair (what a bootstrap over questions needs)."""
    floor = Floor(x0 / ratio, floor_acc)
    t = x0
    here = accuracy_at(envelope([(x0, a0)]), t, floor)
    above = accuracy_at(envelope([(x0 * (1 + 1e-9), a0)]), t, floor)
    # the slope from the floor is (a0 - floor) per log(ratio) of budget
    assert abs(here - above) <= abs(a0 - floor_acc) * 2e-9 / math.log(ratio) + 1e-9
