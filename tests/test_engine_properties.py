"""Property tests: random tiny stores x random action sequences against a
straightforward model of protocol §2 written here from the text."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.replay.episode import Episode, InadmissibleAction
from autotts_dsl.replay.store import Question, ReplayStore, store_from_records

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ANSWERS = st.sampled_from(["a", "b", "c", "d"])
BRANCHES = st.lists(
    st.tuples(st.lists(ANSWERS, max_size=6), st.integers(0, 4000), ANSWERS),
    min_size=1,
    max_size=6,
)
INTERVALS = st.sampled_from([1, 7, 250, 500])
SEEDS = st.integers(0, 2**31 - 1)
ACTION = st.one_of(
    st.just(("branch", 0)),
    st.just(("full", 0)),
    st.just(("batch", 0)),
    st.tuples(st.just("cont"), st.integers(-1, 6)),
    st.tuples(st.just("prune"), st.integers(-1, 6)),
)
ACTIONS = st.lists(ACTION, max_size=40)


def build(
    branches: list[tuple[list[str], int, str]], interval: int
) -> tuple[Question, ReplayStore]:
    rec: dict[str, Any] = {
        "question": "p",
        "gold_answer": "a",
        "probe_freq": interval,
        "final_answers_trace": [],
        "each_branch": [[p, t, f] for p, t, f in branches],
    }
    store = store_from_records([rec], name="prop")
    return store.questions[0], store


@dataclass
class Model:
    """Protocol §2, read literally, on the raw (string) branches."""

    branches: list[tuple[list[str], int, str]]
    interval: int
    seed: int
    order: list[int] = field(init=False)
    opened: list[dict[str, Any]] = field(default_factory=list)
    cost: int = 0
    seq_cost: int = 0
    batch: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.order = list(range(len(self.branches)))
        random.Random(self.seed).shuffle(self.order)

    def _charge(self, i: int, amount: int) -> None:
        self.opened[i]["spent"] += amount
        self.cost += amount
        self.batch[i] = self.batch.get(i, 0) + amount

    def _read(self, i: int) -> tuple[str, bool]:
        br = self.opened[i]
        probes, tokens, final = self.branches[br["b"]]
        if br["finished"]:
            return final, True
        if br["k"] < len(probes):
            answer = probes[br["k"]]
            br["k"] += 1
            self._charge(i, self.interval)
            return answer, False
        br["k"] += 1
        br["finished"] = True
        self._charge(i, max(0, tokens - br["spent"]))
        return final, True

    def _open(self) -> int | None:
        if len(self.opened) == len(self.branches):
            return None
        b = self.order[len(self.opened)]
        self.opened.append({"b": b, "k": 0, "spent": 0, "finished": False, "pruned": False})
        return len(self.opened) - 1

    def apply(self, name: str, i: int) -> Any:
        """The expected outcome of an action: its result, or the exception type."""
        if name == "branch":
            j = self._open()
            if j is None:
                return None
            answer, done = self._read(j)
            return answer, j, done
        if name == "full":
            j = self._open()
            if j is None:
                return None
            br = self.opened[j]
            _, tokens, final = self.branches[br["b"]]
            br["k"], br["finished"] = 1, True
            self._charge(j, tokens)
            return final
        if name == "batch":
            if self.batch:
                self.seq_cost += max(self.batch.values())
                self.batch = {}
            return None
        if not 0 <= i < len(self.opened):
            return InadmissibleAction
        if name == "prune":
            self.opened[i]["pruned"] = True
            return None
        if self.opened[i]["pruned"]:
            return InadmissibleAction
        return self._read(i)


def run_engine(ep: Episode, store: ReplayStore, name: str, i: int) -> Any:
    """Perform one action on the engine; answers as strings."""
    try:
        if name == "branch":
            out = ep.branch()
            return None if out is None else (store.answer_text(out[0]), out[1], out[2])
        if name == "full":
            got = ep.full_read()
            return None if got is None else store.answer_text(got)
        if name == "batch":
            ep.end_batch()
            return None
        if name == "prune":
            ep.prune(i)
            return None
        answer, done = ep.cont(i)
        return store.answer_text(answer), done
    except InadmissibleAction:
        return InadmissibleAction


@SETTINGS
@given(branches=BRANCHES, interval=INTERVALS, seed=SEEDS, actions=ACTIONS)
def test_engine_agrees_with_literal_model(
    branches: list[tuple[list[str], int, str]],
    interval: int,
    seed: int,
    actions: list[tuple[str, int]],
) -> None:
    q, store = build(branches, interval)
    ep = Episode(q, seed)
    model = Model(branches, interval, seed)
    previous_cost = 0
    for name, i in actions:
        expected = model.apply(name, i)
        assert run_engine(ep, store, name, i) == expected, (name, i)
        # charges: the episode cost is the sum of every charge, and of per-branch spent
        assert ep.cost == model.cost == sum(ep.spent)
        assert ep.spent == [br["spent"] for br in model.opened]
        assert ep.cost >= previous_cost
        previous_cost = ep.cost
        assert ep.opened == len(model.opened)
        assert ep.pruned == [br["pruned"] for br in model.opened]
        assert ep.finished == [br["finished"] for br in model.opened]
        for j, reads in enumerate(ep.reads):
            assert reads <= len(branches[model.order[j]][0]) + 1
        assert ep.seq_cost == model.seq_cost <= ep.cost
    ep.finish(-1)
    model.apply("batch", 0)
    assert ep.seq_cost == model.seq_cost


@SETTINGS
@given(branches=BRANCHES, interval=INTERVALS, seed=SEEDS, actions=ACTIONS)
def test_same_seed_same_actions_same_results(
    branches: list[tuple[list[str], int, str]],
    interval: int,
    seed: int,
    actions: list[tuple[str, int]],
) -> None:
    q, store = build(branches, interval)

    def trace() -> list[Any]:
        ep = Episode(q, seed)
        out = [(run_engine(ep, store, name, i), ep.cost, ep.seq_cost) for name, i in actions]
        return [*out, tuple(ep.spent), tuple(ep.reads)]

    assert trace() == trace()


@SETTINGS
@given(branches=BRANCHES, interval=INTERVALS, seed=SEEDS)
def test_stepping_to_the_end_costs_max_of_probes_and_tokens(
    branches: list[tuple[list[str], int, str]], interval: int, seed: int
) -> None:
    q, store = build(branches, interval)
    ep = Episode(q, seed)
    full = Episode(q, seed)
    order = list(range(len(branches)))
    random.Random(seed).shuffle(order)
    while (out := ep.branch()) is not None:
        _, i, finished = out
        reads = 1
        while not finished:
            _, finished = ep.cont(i)
            reads += 1
        probes, tokens, final = branches[order[i]]
        assert reads == len(probes) + 1
        assert ep.spent[i] == max(len(probes) * interval, tokens)
        got = full.full_read()
        assert got is not None and store.answer_text(got) == final
        assert full.spent[i] == tokens
        # further reads are free
        before = ep.cost
        assert ep.cont(i) == (store.answer_id(final), True)
        assert ep.cost == before
    assert ep.cost == sum(max(len(p) * interval, t) for p, t, _ in branches)
    assert full.cost == sum(t for _, t, _ in branches)
