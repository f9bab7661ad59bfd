"""Conformance: the seed CMC controller, run unchanged through the AutoTTS
adapter, reproduces the published AIME24 CMC numbers exactly (protocol §6).

The controller's source is cut out of ../shared/seeds/autotts-readme.txt at
run time (tests/support/seed_cmc.py); nothing of it lives in this repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from autotts_dsl.replay.compat import AutoTTSQuestion, evaluate_autotts
from autotts_dsl.replay.episode import Episode, shuffle_order
from autotts_dsl.replay.store import NO_ANSWER, ReplayStore, store_from_records
from tests.support.shared import MODELS

ALL_BETAS = tuple(round(0.1 * i, 1) for i in range(11))

# The default suite runs the seed's Python CMC (seconds per cell) on two cells,
# the published headline and the cheapest end of the grid; `-m slow` runs all 44.
DEFAULT_CELLS = [("Qwen3-8B", 0.5), ("Qwen3-0.6B", 0.0)]
SLOW_CELLS = [(m, b) for m in MODELS for b in ALL_BETAS if (m, b) not in DEFAULT_CELLS]


def _cell_id(cell: tuple[str, float]) -> str:
    return f"{cell[0]}-beta{cell[1]:.1f}"


def published_cmc(table: pd.DataFrame, model: str, beta: float) -> tuple[float, int]:
    rows = table[
        (table.controller == "cmc")
        & (table.model == model)
        & (table.dataset == "aime24")
        & (table.params == f"beta={beta:.1f}")
    ]
    assert len(rows) == 1, (model, beta, rows)
    row = rows.iloc[0]
    return float(row.accuracy), int(row.avg_tokens)


def check_cell(
    shared_store: Callable[[str, str], ReplayStore],
    published_aime24: pd.DataFrame,
    seed_cmc_class: type,
    model: str,
    beta: float,
) -> None:
    acc, tokens = published_cmc(published_aime24, model, beta)
    ev = evaluate_autotts(shared_store(model, "aime24"), seed_cmc_class({"beta": beta}))
    assert len(ev.seeds) == 100 and ev.n_questions == 30
    assert (ev.accuracy, ev.avg_tokens) == (acc, tokens)


@pytest.mark.shared
@pytest.mark.parametrize(("model", "beta"), DEFAULT_CELLS, ids=map(_cell_id, DEFAULT_CELLS))
def test_seed_cmc_reproduces_published(
    shared_store: Callable[[str, str], ReplayStore],
    published_aime24: pd.DataFrame,
    seed_cmc_class: type,
    model: str,
    beta: float,
) -> None:
    check_cell(shared_store, published_aime24, seed_cmc_class, model, beta)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize(("model", "beta"), SLOW_CELLS, ids=map(_cell_id, SLOW_CELLS))
def test_seed_cmc_reproduces_published_full_grid(
    shared_store: Callable[[str, str], ReplayStore],
    published_aime24: pd.DataFrame,
    seed_cmc_class: type,
    model: str,
    beta: float,
) -> None:
    check_cell(shared_store, published_aime24, seed_cmc_class, model, beta)


@pytest.mark.shared
def test_grid_covers_every_published_cmc_row(
    published_aime24: pd.DataFrame, discovery_aime24: pd.DataFrame
) -> None:
    """The default cells plus the slow cells are exactly the 44 published CMC rows."""
    cmc = published_aime24[published_aime24.controller == "cmc"]
    published = {(r.model, float(r.params.removeprefix("beta="))) for r in cmc.itertuples()}
    assert len(cmc) == 44
    assert published == set(DEFAULT_CELLS) | set(SLOW_CELLS)
    assert not set(DEFAULT_CELLS) & set(SLOW_CELLS)
    # the discovery run's CMC round (r0004) reports the same numbers
    disc = discovery_aime24[discovery_aime24.controller == "cmc"]
    assert set(disc["round"]) == {"r0004"}
    a = {(r.model, round(float(r.beta), 1), r.accuracy, r.avg_tokens) for r in disc.itertuples()}
    b = {
        (r.model, float(r.params.removeprefix("beta=")), r.accuracy, r.avg_tokens)
        for r in cmc.itertuples()
    }
    assert a == b


@pytest.mark.shared
def test_shared_stores_have_the_documented_shape(
    shared_store: Callable[[str, str], ReplayStore],
) -> None:
    for model in MODELS:
        for dataset in ("aime24", "aime25", "hmmt25"):
            store = shared_store(model, dataset)
            assert len(store) == 30, store.name
            assert {q.n_branches for q in store.questions} == {128}, store.name
            assert {q.interval for q in store.questions} == {500}, store.name
    assert shared_store("Qwen3-8B", "aime24") is shared_store("Qwen3-8B", "aime24")


# -- the adapter's question interface -------------------------------------------------


def _tiny_store() -> ReplayStore:
    rec: dict[str, Any] = {
        "question": "adapter",
        "gold_answer": "42",
        "probe_freq": 500,
        "final_answers_trace": [],
        "each_branch": [
            [["1", "2"], 1600, "42"],
            [["5"], 300, "5"],
            [[], 900, "9"],
        ],
    }
    return store_from_records([rec], name="adapter")


def _question(seed: int = 0) -> tuple[AutoTTSQuestion, Episode, list[int]]:
    store = _tiny_store()
    ep = Episode(store.questions[0], seed)
    return AutoTTSQuestion(ep, store.vocab), ep, list(shuffle_order(seed, 3))


def test_adapter_probe_new_and_probe_more() -> None:
    q, ep, order = _question(seed=11)
    assert q.probe_freq == 500
    branches = [(["1", "2"], 1600, "42"), (["5"], 300, "5"), ([], 900, "9")]
    for index in range(3):
        probes, tokens, final = branches[order[index]]
        answer, got_index, finished = q.probe_new()
        assert got_index == index
        assert isinstance(answer, str)
        assert (answer, finished) == ((probes[0], False) if probes else (final, True))
        steps = [(answer, finished)]
        while not finished:
            answer, finished = q.probe_more(index)
            steps.append((answer, finished))
        assert steps[-1] == (final, True)
        assert [a for a, _ in steps[:-1]] == probes
        assert ep.spent[index] == max(len(probes) * 500, tokens)
        assert q.probe_more(index) == (final, True)  # finished: free re-read
    assert q.get_seq_and_total_tokens() == (0, ep.cost) == (0, 1600 + 500 + 900)
    assert q.get_cost_per_branch_active() == [ep.spent[i] for i in range(3)]


def test_adapter_probe_new_raises_value_error_when_exhausted() -> None:
    q, ep, _ = _question()
    for _ in range(3):
        q.probe_new()
    cost = ep.cost
    with pytest.raises(ValueError):
        q.probe_new()
    with pytest.raises(ValueError):
        q.get_new_branch_final_answer()
    assert ep.cost == cost and ep.opened == 3


def test_adapter_probe_more_unopened_raises_value_error() -> None:
    q, ep, _ = _question()
    with pytest.raises(ValueError):
        q.probe_more(0)
    q.probe_new()
    with pytest.raises(ValueError):
        q.probe_more(1)
    assert ep.opened == 1


def test_adapter_full_read() -> None:
    q, ep, order = _question(seed=3)
    finals = ["42", "5", "9"]
    tokens = [1600, 300, 900]
    got = [q.get_new_branch_final_answer() for _ in range(3)]
    assert got == [finals[b] for b in order]
    assert q.get_seq_and_total_tokens() == (0, sum(tokens))
    assert ep.finished == [True, True, True]


def test_adapter_cost_is_reported_as_it_grows() -> None:
    q, ep, _ = _question(seed=0)
    assert q.get_seq_and_total_tokens() == (0, 0)
    q.probe_new()
    assert q.get_seq_and_total_tokens() == (0, ep.cost) and ep.cost > 0


class _Scripted:
    """A minimal AutoTTS-style controller: one full read, answer it (or a string
    the store has never seen)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def solve(self, question: Any) -> str | None:
        answer = question.get_new_branch_final_answer()
        if self.mode == "none":
            return None
        if self.mode == "unknown":
            return "not in the store"
        assert isinstance(answer, str)
        return answer


def test_evaluate_autotts_maps_answers_through_the_vocabulary() -> None:
    store = _tiny_store()
    seeds = tuple(range(30))
    ev = evaluate_autotts(store, _Scripted("echo"), seeds=seeds)
    firsts = [shuffle_order(s, 3)[0] for s in seeds]
    assert ev.correct.tolist() == [b == 0 for b in firsts]
    assert [store.answer_text(int(a)) for a in ev.answer] == [["42", "5", "9"][b] for b in firsts]
    assert ev.cost.tolist() == [[1600, 300, 900][b] for b in firsts]
    for mode in ("none", "unknown"):
        ev = evaluate_autotts(store, _Scripted(mode), seeds=seeds)
        assert (ev.answer == NO_ANSWER).all() and not ev.correct.any()
