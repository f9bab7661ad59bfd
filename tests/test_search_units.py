"""Units of the search: reading replies and applying edits, the objective,
the archive, prompt size bounds, prices, the config and the history."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.search.archive import Scored, frontier, select_parents
from autotts_dsl.search.config import SearchConfig
from autotts_dsl.search.edits import EditBlock, EditError, apply_block, read_reply
from autotts_dsl.search.history import History, ProgramRow
from autotts_dsl.search.objective import (
    CurvePoint,
    ObjectiveError,
    ScoreContext,
    Window,
    mean_curve,
    parse_objective,
    staircase_auc,
)
from autotts_dsl.search.pricing import (
    Budget,
    BudgetExhausted,
    PriceError,
    PriceTable,
    parse_price,
)
from autotts_dsl.search.prompt import Section, assemble
from tests.test_search_fixtures import CMC

# ---------------------------------------------------------------------------
# Replies and edits

PARENT = """controller p
schedule {
  a : int up = max(2, round(2 + 6*beta))
  b : float up = round(0.85 + 0.12*beta, 4)
}
init { spawn a }
finally { answer winner(completed) }
"""


def test_edit_matches_ignoring_whitespace_layout() -> None:
    # runs of whitespace compare equal...
    spaced = EditBlock("b  :  float\tup =\n round(0.85 + 0.12*beta, 4)", "  b : float up = 0.9")
    assert "  b : float up = 0.9\n" in apply_block(PARENT, spaced)
    # ...and failing that, whitespace is ignored altogether
    tight = EditBlock("b:float   up=round(0.85+0.12*beta,4)", "  b : float up = 0.9 + 0.05*beta")
    out = apply_block(PARENT, tight)
    assert "b : float up = 0.9 + 0.05*beta" in out and "0.85" not in out
    multi = EditBlock("init {\n   spawn a\n}", "init { spawn a + 1 }")
    assert "init { spawn a + 1 }" in apply_block(PARENT, multi)


def test_edit_errors_are_precise() -> None:
    with pytest.raises(EditError, match="matches 2 places"):
        apply_block(PARENT, EditBlock("beta", "x"))
    with pytest.raises(EditError, match="closest line of the parent is line 4"):
        apply_block(PARENT, EditBlock("b : float up = round(0.86 + 0.12*beta, 4)", "x"))
    with pytest.raises(EditError, match="empty"):
        apply_block(PARENT, EditBlock("  \n", "x"))


def test_reply_kinds() -> None:
    parents = {"p1": PARENT}
    edit = "Because.\nPARENT: p1\n<<<<<<< SEARCH\nspawn a\n=======\nspawn a + 1\n>>>>>>> REPLACE\n"
    got = read_reply(edit, parents, None)
    assert got.kind == "edit" and got.parent == "p1" and "spawn a + 1" in (got.source or "")
    assert got.rationale == "Because."
    # the default parent is used when no PARENT line names one
    assert read_reply(edit.replace("PARENT: p1\n", ""), parents, "p1").kind == "edit"
    assert read_reply(edit.replace("p1", "p9"), parents, None).kind == "unknown-parent"
    missing = read_reply(edit.replace("spawn a\n=", "spawn q\n="), parents, None)
    assert missing.kind == "edit-failed" and "block 1 of 1" in missing.message
    assert "complete program" in missing.message
    full = read_reply(f"New one:\n```tts\n{CMC}```\n", parents, "p1")
    assert full.kind == "program" and full.source == CMC.strip() + "\n"
    untagged = read_reply(f"```\n{PARENT}```", parents, None)
    assert untagged.kind == "program"
    bare = read_reply("# tighter stop\n" + PARENT, parents, None)
    assert bare.kind == "program" and bare.rationale == "tighter stop"
    assert read_reply("no idea, sorry", parents, None).kind == "no-program"
    assert read_reply("```python\nprint(1)\n```", parents, None).kind == "no-program"


# ---------------------------------------------------------------------------
# Objective and archive


def test_staircase_auc() -> None:
    w = Window(1000.0, 64_000.0)
    assert staircase_auc([], w) == 0.0
    assert staircase_auc([(1000.0, 80.0)], w) == pytest.approx(80.0)
    assert staircase_auc([(10.0, 80.0)], w) == pytest.approx(80.0)  # cheaper than the window
    assert staircase_auc([(64_000.0, 99.0)], w) == 0.0  # at or past its right edge
    # 50 % from 1k (half the log window to 8k), 90 % after
    got = staircase_auc([(1000.0, 50.0), (8000.0, 90.0), (9000.0, 60.0)], w)
    assert got == pytest.approx(70.0)
    assert math.isclose(staircase_auc([(8000.0, 90.0)], w), 45.0)


def test_objectives() -> None:
    pts = {"s": [CurvePoint(0.0, 50.0, 1000.0, 500.0), CurvePoint(1.0, 90.0, 8000.0, 900.0)]}
    wins = ScoreContext({"s": Window(1000.0, 64_000.0)})
    assert parse_objective("auc").score(pts, wins) == pytest.approx(70.0)
    assert parse_objective("max-acc").score(pts, wins) == 90.0
    assert parse_objective("budget:5000").score(pts, wins) == 50.0
    # auc:A-B: the window from A to B full traces (here 1k tokens each): 2k..16k
    mid = parse_objective("auc:2-16")
    assert mid.score(pts, wins) == pytest.approx((50 * 2 + 90 * 1) / 3)
    assert "SC@2" in mid.description
    assert parse_objective("ref:cmc").kind == "ref" and parse_objective("ref").reference == "cmc"
    for bad in ("budget:x", "budget:-1", "area", "auc:4-2", "auc:0-8", "auc:x"):
        with pytest.raises(ObjectiveError):
            parse_objective(bad)
    two = {**pts, "t": [CurvePoint(0.0, 70.0, 3000.0, 1.0), CurvePoint(1.0, 80.0, 4000.0, 1.0)]}
    assert mean_curve(two) == [
        CurvePoint(0.0, 60.0, 2000.0, 250.5),
        CurvePoint(1.0, 85.0, 6000.0, 450.5),
    ]


def scored(pid: int, objective: float, points: list[tuple[float, float]]) -> Scored:
    row = ProgramRow(pid, f"h{pid}", "x", "", (), 0, 0, "seed", "")
    curve = tuple(CurvePoint(i / 2, acc, tok, tok) for i, (tok, acc) in enumerate(points))
    return Scored(row, objective, curve, {"s": curve}, (2.0 * pid, 1.0))


def test_frontier_and_parent_selection() -> None:
    best = scored(1, 70.0, [(5000.0, 60.0), (20_000.0, 80.0)])
    cheap = scored(2, 40.0, [(1000.0, 50.0)])  # on the frontier although its score is low
    dominated = scored(3, 30.0, [(9000.0, 55.0)])
    front = frontier([best, cheap, dominated])
    assert [(s.id, p.tokens) for s, p in front] == [(2, 1000.0), (1, 5000.0), (1, 20_000.0)]
    import random

    picks = select_parents([best, cheap], 50, random.Random(0))
    assert {p.id for p in picks} == {1, 2} and sum(p.id == 1 for p in picks) > 25


# ---------------------------------------------------------------------------
# Prompt size


def test_prompt_assembly_respects_the_budget() -> None:
    parts = [
        Section("task", "T" * 3000, 100, required=True),
        Section("parent", "P" * 2000, 98, required=True),
        Section("card", "C" * 3000, 96),
        Section("traces", "X" * 2000, 55, keep=500),
        Section("history", "H" * 2000, 20),
    ]
    everything = assemble(parts, 100_000)
    assert len(everything) == 12_000 + 8 + 1
    for limit in (11_000, 8_000, 6_000, 4_000):
        text = assemble(parts, limit)
        assert len(text) <= limit + 40
        assert "T" * 100 in text  # the task survives every cut
    six = assemble(parts, 6_000)
    assert "T" * 3000 in six and "P" * 2000 in six and "C" * 3000 not in six
    assert "C" not in assemble(parts, 5_100)  # optional sections go before required ones
    cut = assemble(parts, 11_000)
    assert "H" * 2000 not in cut and "H" * 500 in cut and "cut to fit" in cut
    assert "C" * 3000 in cut and "X" * 2000 in cut  # only the least important was cut


# ---------------------------------------------------------------------------
# Prices, budget, config, history


def test_prices() -> None:
    table = PriceTable.with_overrides(["local=0,0", "gpt-4o=1,2"])
    assert table.cost("gpt-4o", 1_000_000, 500_000) == pytest.approx(2.0)
    assert table.cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)  # longest prefix
    assert table.cost("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(1.0)
    assert table.lookup("mystery") is None and table.cost("mystery", 10**9, 10**9) == 0.0
    assert parse_price("m=0.5,1.5") == ("m", (0.5, 1.5))
    for bad in ("m", "m=1", "=1,2", "m=a,b", "m=-1,2"):
        with pytest.raises(PriceError):
            parse_price(bad)
    budget = Budget(1.0)
    budget.check(1.0)
    budget.add(0.6)
    with pytest.raises(BudgetExhausted):
        budget.check(0.41)
    Budget(None).check(1e9)


def test_config_round_trips() -> None:
    config = SearchConfig(
        seed_programs=("cmc",), betas=(0.0, 1.0), budget_usd=2.5, prices={"m": (1.0, 2.0)}
    )
    assert SearchConfig.from_json(config.to_json()) == config


def test_history_transactions_are_all_or_nothing(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite", create=True) as h:
        with pytest.raises(RuntimeError), h.tx():
            h.add_program("abc", "x", "src", (), 1, 0, "offline", "")
            h.set_candidate(1, 0, "new", 1)
            raise RuntimeError("killed")
        assert h.programs() == [] and h.candidates() == []
        pid, new = h.add_program("abc", "x", "src", (), 1, 0, "offline", "")
        assert (pid, new) == (1, True)
        assert h.add_program("abc", "y", "other", (), 2, 0, "offline", "") == (1, False)
    with pytest.raises(Exception, match="no search history"):
        History(tmp_path / "missing.sqlite")


# ---------------------------------------------------------------------------
# The progress figure of a long search


def _fake_state(n_rounds: int, seed: int = 0) -> Any:
    from types import SimpleNamespace

    from autotts_dsl.search.objective import CurvePoint

    rnd = random.Random(seed)
    scored = []
    for pid in range(n_rounds * 3):
        curve = tuple(
            CurvePoint(b, rnd.uniform(20, 60), rnd.uniform(1e4, 1e6), 0.0) for b in (0, 0.5, 1)
        )
        program = SimpleNamespace(id=pid, round=pid // 3, label=f"p{pid}")
        scored.append(SimpleNamespace(program=program, curve=curve, id=pid))
    return SimpleNamespace(scored=tuple(scored))


def test_frontier_by_round_is_the_frontier_of_all_known_so_far() -> None:
    from autotts_dsl.search.report import frontier_by_round

    state = _fake_state(40, seed=3)
    got = frontier_by_round(state)
    last = None
    for r in range(40):
        known = [s for s in state.scored if s.program.round <= r]
        want = [p for _, p in frontier(known)]
        if want != last:
            assert got[r] == want
            last = want
        else:
            assert r not in got  # only rounds that moved the frontier are drawn


def test_the_progress_figure_of_a_thousand_rounds_keeps_its_axes(tmp_path: Path) -> None:
    """A legend entry per round collapsed the axes of a long search (a
    matplotlib warning, an unreadable figure); rounds are on a colour bar."""
    import warnings

    from autotts_dsl.search.report import plot_progress

    state = _fake_state(1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_progress(state, pick=5, path=tmp_path / "progress.png")
    assert path is not None and path.stat().st_size > 1000
