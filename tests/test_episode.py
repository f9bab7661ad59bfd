"""Replay protocol §2 on hand-built tiny questions: one test per clause."""

from __future__ import annotations

import random
from typing import Any

import pytest

from autotts_dsl.replay.episode import Episode, InadmissibleAction, shuffle_order
from autotts_dsl.replay.store import NO_ANSWER, Question, ReplayStore, store_from_records

DELTA = 500

Branch = tuple[list[str], int, str]


def make_store(branches: list[Branch], *, interval: int = DELTA, gold: str = "g") -> ReplayStore:
    record: dict[str, Any] = {
        "question": "tiny",
        "gold_answer": gold,
        "probe_freq": interval,
        "final_answers_trace": [b[2] for b in branches],
        "each_branch": [[list(p), t, f] for p, t, f in branches],
    }
    return store_from_records([record], name="tiny")


def one_question(branches: list[Branch], *, interval: int = DELTA) -> tuple[Question, ReplayStore]:
    store = make_store(branches, interval=interval)
    return store.questions[0], store


def labelled(n: int, *, probes: int = 2, tokens: int = 1800) -> list[Branch]:
    """n branches whose answers name the branch: probes "b{i}p{k}", final "b{i}"."""
    return [([f"b{i}p{k}" for k in range(probes)], tokens, f"b{i}") for i in range(n)]


def txt(store: ReplayStore, answer: int) -> str | None:
    return store.answer_text(answer)


def opened_full(ep: Episode) -> int:
    """FULL_READ that must succeed."""
    answer = ep.full_read()
    assert answer is not None
    return answer


# -- shuffling and opening order -------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 31, 64, 128])
def test_shuffle_order_is_random_random_shuffle(n: int) -> None:
    for seed in range(150):
        expected = [object() for _ in range(n)]
        objs = list(expected)
        random.Random(seed).shuffle(objs)
        order = shuffle_order(seed, n)
        assert [expected[b] for b in order] == objs, (seed, n)


def test_shuffle_order_is_a_permutation_that_depends_on_seed() -> None:
    orders = {shuffle_order(seed, 16) for seed in range(20)}
    assert all(sorted(o) == list(range(16)) for o in orders)
    assert len(orders) == 20


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 42, 99, 12345])
def test_branches_open_in_shuffled_index_order(seed: int) -> None:
    n = 12
    q, store = one_question(labelled(n))
    shuffled = [f"b{i}" for i in range(n)]
    random.Random(seed).shuffle(shuffled)

    ep = Episode(q, seed)
    seen = []
    for expected_index in range(n):
        out = ep.branch()
        assert out is not None
        answer, index, finished = out
        assert index == expected_index
        assert finished is False
        seen.append(txt(store, answer))
    assert seen == [f"{name}p0" for name in shuffled]

    ep2 = Episode(q, seed)
    finals = [txt(store, a) for a in iter(ep2.full_read, None)]
    assert finals == shuffled


def test_branch_and_full_read_share_one_opening_sequence() -> None:
    n = 6
    q, store = one_question(labelled(n))
    shuffled = [f"b{i}" for i in range(n)]
    random.Random(5).shuffle(shuffled)
    ep = Episode(q, 5)
    out = ep.branch()
    assert out is not None and txt(store, out[0]) == f"{shuffled[0]}p0" and out[1] == 0
    assert txt(store, opened_full(ep)) == shuffled[1]
    out = ep.branch()
    assert out is not None and txt(store, out[0]) == f"{shuffled[2]}p0" and out[1] == 2
    assert ep.opened == 3 and ep.unopened() == n - 3


# -- the read primitive -------------------------------------------------------------


def test_read_within_probes_charges_interval() -> None:
    q, store = one_question([(["a", "b", "c"], 9000, "z")], interval=437)
    ep = Episode(q, 0)
    out = ep.branch()
    assert out is not None
    assert (txt(store, out[0]), out[1], out[2]) == ("a", 0, False)
    assert ep.cost == 437 and ep.spent == [437] and ep.reads == [1]
    assert [(txt(store, a), f) for a, f in (ep.cont(0), ep.cont(0))] == [
        ("b", False),
        ("c", False),
    ]
    assert ep.cost == 3 * 437 and ep.spent == [3 * 437] and ep.reads == [3]
    assert ep.finished == [False]


def test_finishes_on_read_after_last_probe_charging_remainder() -> None:
    # probes far shorter than the trace: the final read charges the remainder
    q, store = one_question([(["a", "b"], 7300, "z")])
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    assert ep.finished == [False] and ep.cost == 1000
    answer, finished = ep.cont(0)  # (L+1)-th read
    assert (txt(store, answer), finished) == ("z", True)
    assert ep.cost == 7300 and ep.spent == [7300] and ep.reads == [3]


def test_final_read_charge_is_clamped_at_zero() -> None:
    # len(probes) * Δ = 1500 > branch_tokens = 1200: the final read is free
    q, store = one_question([(["a", "b", "c"], 1200, "z")])
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    ep.cont(0)
    assert ep.cost == 1500
    answer, finished = ep.cont(0)
    assert (txt(store, answer), finished) == ("z", True)
    assert ep.cost == 1500 and ep.spent == [1500]


def test_final_read_charge_zero_when_tokens_equal_probe_total() -> None:
    q, _ = one_question([(["a", "b"], 1000, "z")])
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    _, finished = ep.cont(0)
    assert finished and ep.cost == 1000


def test_branch_without_probes_finishes_on_first_read() -> None:
    q, store = one_question([([], 640, "z")])
    ep = Episode(q, 0)
    out = ep.branch()
    assert out is not None
    assert (txt(store, out[0]), out[1], out[2]) == ("z", 0, True)
    assert ep.cost == 640 and ep.reads == [1]


def test_rereading_finished_branch_returns_final_for_free() -> None:
    q, store = one_question([(["a"], 2000, "z")])
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    assert ep.cost == 2000
    for _ in range(3):
        answer, finished = ep.cont(0)
        assert (txt(store, answer), finished) == ("z", True)
    assert ep.cost == 2000 and ep.spent == [2000]
    assert ep.reads == [2]  # L + 1, never more


# -- FULL_READ ----------------------------------------------------------------------


def step_to_end(q: Question) -> Episode:
    ep = Episode(q, 0)
    out = ep.branch()
    assert out is not None
    finished = out[2]
    while not finished:
        _, finished = ep.cont(0)
    return ep


def test_full_read_charges_branch_tokens_and_finishes() -> None:
    q, store = one_question([(["a", "b"], 4321, "z")])
    ep = Episode(q, 0)
    assert txt(store, opened_full(ep)) == "z"
    assert ep.cost == 4321 and ep.spent == [4321]
    assert ep.finished == [True] and ep.reads == [1] and ep.opened == 1
    answer, finished = ep.cont(0)  # a full-read branch is finished: free re-read
    assert (txt(store, answer), finished) == ("z", True) and ep.cost == 4321


def test_full_read_vs_stepping_when_probes_overshoot_tokens() -> None:
    q, _ = one_question([(["a", "b", "c"], 1200, "z")])
    stepped = step_to_end(q)
    full = Episode(q, 0)
    full.full_read()
    assert stepped.cost == 1500  # 3 * Δ, final read clamped to 0
    assert full.cost == 1200  # branch_tokens
    assert stepped.reads == [4] and full.reads == [1]


def test_full_read_vs_stepping_when_probes_fall_short() -> None:
    # Same cost (the remainder tops stepping up to branch_tokens) but stepping
    # takes L+1 reads and observes every intermediate answer.
    q, store = one_question([(["a", "b"], 6100, "z")])
    stepped = Episode(q, 0)
    out = stepped.branch()
    assert out is not None
    observed = [txt(store, out[0])]
    finished = out[2]
    while not finished:
        answer, finished = stepped.cont(0)
        observed.append(txt(store, answer))
    full = Episode(q, 0)
    assert txt(store, opened_full(full)) == "z"
    assert stepped.cost == full.cost == 6100
    assert observed == ["a", "b", "z"]
    assert stepped.reads == [3] and full.reads == [1]


# -- exhaustion and inadmissible actions ------------------------------------------


def test_branch_returns_none_when_exhausted() -> None:
    q, _ = one_question(labelled(3))
    ep = Episode(q, 3)
    for _ in range(3):
        assert ep.branch() is not None
    cost = ep.cost
    assert ep.branch() is None
    assert ep.branch() is None
    assert ep.opened == 3 and ep.cost == cost and ep.unopened() == 0


def test_full_read_returns_none_when_exhausted() -> None:
    q, _ = one_question(labelled(2))
    ep = Episode(q, 3)
    assert ep.full_read() is not None
    assert ep.branch() is not None
    cost = ep.cost
    assert ep.full_read() is None
    assert ep.opened == 2 and ep.cost == cost


@pytest.mark.parametrize("index", [-1, 2, 3, 100])
def test_continue_unopened_is_inadmissible(index: int) -> None:
    q, _ = one_question(labelled(5))
    ep = Episode(q, 0)
    ep.branch()
    ep.branch()
    cost, reads = ep.cost, list(ep.reads)
    with pytest.raises(InadmissibleAction):
        ep.cont(index)
    assert ep.cost == cost and ep.reads == reads


def test_continue_before_any_branch_is_inadmissible() -> None:
    q, _ = one_question(labelled(2))
    with pytest.raises(InadmissibleAction):
        Episode(q, 0).cont(0)


def test_inadmissible_action_is_a_value_error() -> None:
    assert issubclass(InadmissibleAction, ValueError)
    q, _ = one_question(labelled(2))
    with pytest.raises(ValueError):
        Episode(q, 0).cont(0)


def test_prune_keeps_cost_and_blocks_continue() -> None:
    q, _ = one_question(labelled(3, probes=4))
    ep = Episode(q, 1)
    ep.branch()
    ep.cont(0)
    ep.branch()
    assert ep.cost == 1500
    ep.prune(0)
    assert ep.pruned == [True, False]
    assert ep.cost == 1500 and ep.spent == [1000, 500]
    with pytest.raises(InadmissibleAction):
        ep.cont(0)
    assert ep.cost == 1500
    ep.cont(1)  # other branches are unaffected
    assert ep.cost == 2000


@pytest.mark.parametrize("index", [-1, 1, 5])
def test_prune_unopened_is_inadmissible(index: int) -> None:
    q, _ = one_question(labelled(3))
    ep = Episode(q, 0)
    ep.branch()
    with pytest.raises(InadmissibleAction):
        ep.prune(index)
    assert ep.pruned == [False]


def test_answer_ends_episode() -> None:
    q, store = one_question(labelled(4))
    ep = Episode(q, 0)
    ep.branch()
    ep.finish(store.answer_id("b1"))
    assert ep.answered and txt(store, ep.answer) == "b1"
    cost = ep.cost
    for action in (ep.branch, ep.full_read, lambda: ep.cont(0), lambda: ep.prune(0)):
        with pytest.raises(InadmissibleAction):
            action()
    with pytest.raises(InadmissibleAction):
        ep.finish(NO_ANSWER)
    assert ep.cost == cost and ep.opened == 1 and ep.pruned == [False]
    assert txt(store, ep.answer) == "b1"


def test_answer_ends_episode_even_when_all_branches_are_open() -> None:
    q, _ = one_question(labelled(2))
    ep = Episode(q, 0)
    ep.branch()
    ep.branch()
    ep.finish(NO_ANSWER)
    # exhaustion would normally give None; after ANSWER nothing is admissible
    with pytest.raises(InadmissibleAction):
        ep.branch()
    with pytest.raises(InadmissibleAction):
        ep.full_read()


def test_no_answer_is_the_default() -> None:
    q, _ = one_question(labelled(1))
    ep = Episode(q, 0)
    assert (ep.answered, ep.answer) == (False, NO_ANSWER)
    ep.finish(NO_ANSWER)
    assert (ep.answered, ep.answer) == (True, NO_ANSWER)


# -- sequential tokens ----------------------------------------------------------------


def test_end_batch_charges_the_largest_per_branch_charge() -> None:
    q, _ = one_question([(["a"] * 5, 9000, "z"), (["b"] * 5, 9000, "y"), ([], 3000, "x")])
    # find a seed that puts the 3000-token, probe-less branch third
    seed = next(s for s in range(1000) if shuffle_order(s, 3)[2] == 2)
    ep = Episode(q, seed)
    ep.branch()
    ep.branch()
    ep.end_batch()  # two branches read once in parallel
    assert ep.seq_cost == 500 and ep.cost == 1000
    ep.cont(0)
    ep.cont(0)
    ep.cont(1)
    ep.end_batch()  # branch 0 read twice: its charges add up within a batch
    assert ep.seq_cost == 1500 and ep.cost == 2500
    ep.end_batch()  # an empty batch costs nothing
    assert ep.seq_cost == 1500
    assert ep.full_read() is not None  # 3000 tokens in one go
    ep.cont(1)
    ep.end_batch()
    assert ep.seq_cost == 4500 and ep.cost == 6000


def test_finish_closes_the_open_batch() -> None:
    q, _ = one_question(labelled(2, probes=3))
    ep = Episode(q, 0)
    ep.branch()
    ep.branch()
    ep.cont(1)
    ep.finish(NO_ANSWER)
    assert ep.seq_cost == 1000 and ep.cost == 1500


def test_free_rereads_do_not_add_sequential_cost() -> None:
    q, _ = one_question([(["a"], 800, "z")])
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    ep.end_batch()
    assert ep.seq_cost == 800
    ep.cont(0)
    ep.cont(0)
    ep.end_batch()
    assert ep.seq_cost == 800 and ep.cost == 800


def test_total_reads_counts_reads_of_all_branches() -> None:
    q, _ = one_question(labelled(3, probes=3))
    ep = Episode(q, 0)
    ep.branch()
    ep.cont(0)
    ep.full_read()
    assert ep.total_reads == 3
