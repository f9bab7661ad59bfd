"""Evaluation protocol (§3): episode loop, per-episode records, aggregation."""

from __future__ import annotations

import pickle
import random
from array import array
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl.replay.episode import Episode, shuffle_order
from autotts_dsl.replay.numeric import neumaier_sum, pairwise_sum
from autotts_dsl.replay.protocol import COLUMNS, DEFAULT_SEEDS, Evaluation, evaluate
from autotts_dsl.replay.store import NO_ANSWER, ReplayStore, store_from_records
from autotts_dsl.runs import concat_evaluations


def question(gold: str, branches: list[tuple[list[str], int, str]], interval: int = 500) -> Any:
    return {
        "question": f"q-{gold}",
        "gold_answer": gold,
        "probe_freq": interval,
        "final_answers_trace": [],
        "each_branch": [[p, t, f] for p, t, f in branches],
    }


def labelled_question(tag: str, n: int = 10) -> Any:
    """n branches with distinct final answers "{tag}{i}" and tokens 100*(i+1)."""
    return question(f"{tag}0", [([], 100 * (i + 1), f"{tag}{i}") for i in range(n)])


def first_full_read(ep: Episode) -> int:
    answer = ep.full_read()
    assert answer is not None
    return answer


def test_default_seeds_are_0_to_99() -> None:
    assert tuple(range(100)) == DEFAULT_SEEDS


def test_episode_order_and_shapes() -> None:
    store = store_from_records(
        [labelled_question("a"), labelled_question("b"), labelled_question("c")], name="s"
    )
    ev = evaluate(store, first_full_read, seeds=(4, 9))
    assert ev.store == "s" and ev.n_questions == 3 and ev.seeds == (4, 9)
    assert ev.seed_column.tolist() == [4, 4, 4, 9, 9, 9]
    assert ev.question_column.tolist() == [0, 1, 2, 0, 1, 2]
    for column in (ev.answer, ev.correct, ev.cost, ev.seq_cost, ev.opened, ev.reads):
        assert column.shape == (6,)
    assert ev.wall_seconds >= 0


def test_fresh_generator_per_episode() -> None:
    """Each episode shuffles with its own random.Random(seed); a generator shared
    across the questions of a seed would give later questions other orders."""
    tags = "abcde"
    store = store_from_records([labelled_question(t) for t in tags], name="s")
    seeds = (0, 1, 2, 3, 17)
    ev = evaluate(store, first_full_read, seeds=seeds)
    got = [store.answer_text(int(a)) for a in ev.answer]

    expected = []
    for seed in seeds:
        for tag in tags:
            names = [f"{tag}{i}" for i in range(10)]
            random.Random(seed).shuffle(names)
            expected.append(names[0])
    assert got == expected

    shared = []
    for seed in seeds:
        rng = random.Random(seed)
        for tag in tags:
            names = [f"{tag}{i}" for i in range(10)]
            rng.shuffle(names)
            shared.append(names[0])
    assert got != shared  # the alternative reading is distinguishable here


def test_episode_result_does_not_depend_on_other_questions() -> None:
    qa, qb, qc = labelled_question("a"), labelled_question("b"), labelled_question("c", n=7)
    seeds = tuple(range(12))
    alone_store = store_from_records([qb], name="1")
    alone = evaluate(alone_store, first_full_read, seeds=seeds)
    mixed_store = store_from_records([qa, qc, qb], name="3")
    mixed = evaluate(mixed_store, first_full_read, seeds=seeds)
    mine = mixed.question_column == 2
    assert [mixed_store.answer_text(int(a)) for a in mixed.answer[mine]] == [
        alone_store.answer_text(int(a)) for a in alone.answer
    ]
    assert mixed.cost[mine].tolist() == alone.cost.tolist()


def test_correctness_is_string_equality_with_gold_and_none_is_wrong() -> None:
    store = store_from_records(
        [
            question("7", [([], 10, "7")]),
            question("7", [([], 10, "07")]),
            question("x", [([], 10, "x")]),
        ],
        name="s",
    )
    ev = evaluate(store, first_full_read, seeds=(0,))
    assert ev.correct.tolist() == [True, False, True]
    none = evaluate(store, lambda ep: NO_ANSWER, seeds=(0,))
    assert none.correct.tolist() == [False, False, False]
    assert none.answer.tolist() == [NO_ANSWER] * 3
    assert none.accuracy == 0.0 and none.avg_tokens == 0


def test_per_episode_records_two_branches() -> None:
    # branch "long": 3 probes, 2600 tokens; branch "short": 1 probe, 700 tokens
    store = store_from_records(
        [question("L", [(["l", "l", "l"], 2600, "L"), (["s"], 700, "S")])], name="s"
    )

    def policy(ep: Episode) -> int:
        ep.branch()
        ep.branch()
        ep.end_batch()
        for _ in range(3):
            ep.cont(0)  # steps branch 0 to its end, whichever trace it is
        ep.end_batch()
        return ep.cont(0)[0]  # free re-read of the final answer

    seeds = tuple(range(8))
    ev = evaluate(store, policy, seeds=seeds)
    firsts = [shuffle_order(s, 2)[0] for s in seeds]
    assert set(firsts) == {0, 1}  # both orders occur
    for e, first in enumerate(firsts):
        # long first: 4 reads on it (2600 tokens), 1 on short (500);
        # short first: 2 reads on it (700), then free re-reads; 1 on long (500)
        long_first = ("L", True, 3100, 500 + 2100, 5)
        short_first = ("S", False, 1200, 500 + 200, 3)
        rec = long_first if first == 0 else short_first
        got = (
            store.answer_text(int(ev.answer[e])),
            bool(ev.correct[e]),
            int(ev.cost[e]),
            int(ev.seq_cost[e]),
            int(ev.reads[e]),
        )
        assert got == rec, (e, first)
        assert ev.opened[e] == 2


def test_per_episode_records_fixed_order() -> None:
    # a single branch question has the same order under every seed
    store = store_from_records([question("z", [(["a", "b", "c"], 2600, "z")])], name="s")

    def policy(ep: Episode) -> int:
        ep.branch()
        ep.end_batch()
        ep.cont(0)
        ep.cont(0)
        ep.end_batch()
        return ep.cont(0)[0] if ep.seed % 2 == 0 else NO_ANSWER

    ev = evaluate(store, policy, seeds=(0, 1, 2))
    assert ev.cost.tolist() == [2600, 1500, 2600]
    assert ev.seq_cost.tolist() == [2600, 1500, 2600]
    assert ev.reads.tolist() == [4, 3, 4]
    assert ev.opened.tolist() == [1, 1, 1]
    assert ev.correct.tolist() == [True, False, True]
    assert [store.answer_text(int(a)) for a in ev.answer] == ["z", None, "z"]
    assert ev.mean_opened == 1.0
    assert ev.mean_depth == pytest.approx(11 / 3)


def test_policy_may_finish_itself() -> None:
    store = store_from_records([question("g", [([], 5, "g"), ([], 5, "h")])], name="s")

    def policy(ep: Episode) -> int:
        ep.finish(store.answer_id("g"))
        return store.answer_id("h")  # ignored: the episode is already answered

    ev = evaluate(store, policy, seeds=(0, 1))
    assert ev.correct.all() and ev.cost.tolist() == [0, 0]


def _counting_store(n_questions: int, max_reads: int = 2000) -> ReplayStore:
    """One branch per question; Δ = 1 so k reads cost exactly k tokens; every
    probe answer of question i is "q{i}" and its gold/final answer "g{i}"."""
    return store_from_records(
        [
            question(f"g{i}", [([f"q{i}"] * max_reads, 10**6, f"g{i}")], 1)
            for i in range(n_questions)
        ],
        name="count",
    )


def _read_n(ep: Episode, store: ReplayStore, n: int) -> int:
    """Open branch 0 and read it n times in all (n >= 1); returns the index of
    the question (learnt from the first read)."""
    out = ep.branch()
    assert out is not None
    for _ in range(n - 1):
        ep.cont(0)
    return int((store.answer_text(out[0]) or "")[1:])


def _gold_of(store: ReplayStore, qi: int) -> int:
    return store.answer_id(f"g{qi}")


def test_avg_tokens_is_truncated_not_rounded() -> None:
    store = _counting_store(1)
    per_seed = {0: 1234, 1: 1235, 2: 1235}  # mean 1234.67

    def policy(ep: Episode) -> int:
        _read_n(ep, store, per_seed[ep.seed])
        return NO_ANSWER

    ev = evaluate(store, policy, seeds=(0, 1, 2))
    assert ev.cost.tolist() == [1234, 1235, 1235]
    assert ev.avg_tokens == 1234
    assert ev.avg_seq_tokens == 1234  # one branch: sequential == total


def test_avg_tokens_is_mean_of_per_seed_means() -> None:
    store = _counting_store(3)

    def policy(ep: Episode) -> int:
        qi = _read_n(ep, store, 1)
        for _ in range(100 * (qi + 1) + 2 * ep.seed - 1):
            ep.cont(0)
        return NO_ANSWER

    ev = evaluate(store, policy, seeds=(0, 1, 2))
    assert ev.cost.tolist() == [100, 200, 300, 102, 202, 302, 104, 204, 304]
    # per seed 200, 202, 204 -> 202; a per-question mean would be the same, so
    # also check a case with a fractional per-seed mean: 601/3, 602/3, 603/3
    assert ev.avg_tokens == 202

    def policy2(ep: Episode) -> int:
        qi = _read_n(ep, store, 1)
        for _ in range(100 * (qi + 1) + (ep.seed + 1) * (qi == 0) - 1):
            ep.cont(0)
        return NO_ANSWER

    ev2 = evaluate(store, policy2, seeds=(0, 1, 2))
    # per-seed means 200.33, 200.67, 201 -> 200.67 -> truncated 200
    assert ev2.avg_tokens == 200


def test_accuracy_is_rounded_mean_of_per_seed_accuracy() -> None:
    store = _counting_store(3)
    correct_per_seed = {0: 1, 1: 2, 2: 2}  # 1/3, 2/3, 2/3 -> 55.555..% -> 55.56

    def policy(ep: Episode) -> int:
        qi = _read_n(ep, store, 1)
        return _gold_of(store, qi) if qi < correct_per_seed[ep.seed] else NO_ANSWER

    ev = evaluate(store, policy, seeds=(0, 1, 2))
    assert ev.correct.reshape(3, 3).sum(axis=1).tolist() == [1, 2, 2]
    assert ev.accuracy == 55.56  # rounded (truncation would give 55.55)
    assert isinstance(ev.accuracy, float)


def test_accuracy_two_decimals() -> None:
    store = _counting_store(7)

    def policy(ep: Episode) -> int:
        qi = _read_n(ep, store, 1)
        return _gold_of(store, qi) if qi < 1 + ep.seed % 3 else NO_ANSWER

    ev = evaluate(store, policy, seeds=tuple(range(5)))
    # per seed correct: 1,2,3,1,2 of 7 -> mean 9/35 = 25.714..% -> 25.71
    assert ev.correct.reshape(5, 7).sum(axis=1).tolist() == [1, 2, 3, 1, 2]
    assert ev.accuracy == 25.71


def test_seeds_are_configurable_and_change_results() -> None:
    store = store_from_records([labelled_question("a", n=40)], name="s")
    one = evaluate(store, first_full_read, seeds=(0,))
    other = evaluate(store, first_full_read, seeds=(1,))
    again = evaluate(store, first_full_read, seeds=[0])
    assert one.cost.tolist() == again.cost.tolist()
    assert one.cost.tolist() != other.cost.tolist()
    assert evaluate(store, first_full_read).seeds == DEFAULT_SEEDS
    assert len(evaluate(store, first_full_read, seeds=range(5, 8)).cost) == 3


def test_costs_are_exact_integers() -> None:
    store = store_from_records([labelled_question("a")], name="s")
    ev = evaluate(store, first_full_read, seeds=range(10))
    assert ev.cost.dtype == np.int64
    expected = [100 * (shuffle_order(s, 10)[0] + 1) for s in range(10)]
    assert ev.cost.tolist() == expected
    assert ev.avg_tokens == int(sum(expected) / 10)


# ---------------------------------------------------------------------------
# The summary without numpy: numpy's digits all the same


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
            st.integers(0, 40).map(lambda k: k / 30),
        ),
        max_size=700,
    )
)
def test_pairwise_sum_is_numpys_sum_bit_for_bit(values: list[float]) -> None:
    assert pairwise_sum(values) == float(np.add.reduce(np.array(values, dtype=np.float64)))
    if values:
        assert pairwise_sum(values) / len(values) == float(np.mean(np.array(values)))


def _numpy_summary(ev: Evaluation) -> tuple[float, int, int, float, float]:
    """The summary as numpy computes it (the formulas the protocol had)."""
    s, n = len(ev.seeds), ev.n_questions

    def per_seed(col: Any) -> Any:
        return np.asarray(col).reshape(s, n).astype(np.int64).sum(axis=1) / n

    def trunc(per: Any) -> int:
        return int(neumaier_sum(per.tolist()) / len(per))

    return (
        round(100 * float(np.mean(per_seed(ev.correct))), 2),
        trunc(per_seed(ev.cost)),
        trunc(per_seed(ev.seq_cost)),
        float(ev.opened.mean()),
        float(ev.reads.sum() / max(1, int(ev.opened.sum()))),
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 7), st.integers(1, 41), st.randoms(use_true_random=False))
def test_summary_equals_numpys_for_array_and_numpy_columns(
    n_seeds: int, n_q: int, rnd: random.Random
) -> None:
    n = n_seeds * n_q
    cols = {
        "answer": [rnd.randint(-1, 5) for _ in range(n)],
        "correct": [rnd.random() < 0.4 for _ in range(n)],
        "cost": [rnd.randint(0, 10**7) for _ in range(n)],
        "seq_cost": [rnd.randint(0, 10**6) for _ in range(n)],
        "opened": [rnd.randint(0, 64) for _ in range(n)],
        "reads": [rnd.randint(0, 5000) for _ in range(n)],
    }
    common = {"store": "s", "n_questions": n_q, "seeds": tuple(range(n_seeds))}
    as_arrays = Evaluation(
        **common,
        **{k: array(COLUMNS[k][1], v) for k, v in cols.items()},  # type: ignore[arg-type]
        wall_seconds=0.0,
    )
    as_numpy = Evaluation(
        **common,
        **{k: np.array(v, dtype=COLUMNS[k][0]) for k, v in cols.items()},  # type: ignore[arg-type]
        wall_seconds=0.0,
    )
    want = _numpy_summary(as_numpy)
    for ev in (as_arrays, as_numpy, pickle.loads(pickle.dumps(as_arrays))):
        got = (ev.accuracy, ev.avg_tokens, ev.avg_seq_tokens, ev.mean_opened, ev.mean_depth)
        assert got == want
        for k, v in cols.items():
            assert ev.answer.dtype == np.int32 and ev.correct.dtype == np.bool_
            assert getattr(ev, k).tolist() == v


def test_seed_ranges_concatenate_to_one_evaluation() -> None:
    store = store_from_records([labelled_question("a"), labelled_question("b")], name="t")
    whole = evaluate(store, first_full_read, seeds=range(6))
    parts = [evaluate(store, first_full_read, seeds=s) for s in (range(2), range(2, 6))]
    joined = concat_evaluations(parts)
    assert joined.seeds == whole.seeds
    for k in COLUMNS:
        assert getattr(joined, k).tolist() == getattr(whole, k).tolist()
    assert (joined.accuracy, joined.avg_tokens) == (whole.accuracy, whole.avg_tokens)
