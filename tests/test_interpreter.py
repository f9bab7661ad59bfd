"""Interpreter semantics on hand-built tiny stores (expected answers and costs
worked out by hand from replay-protocol §2), traces, and property tests."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.compiler import Compiled, compile_program
from autotts_dsl.interpreter import ProgramRunner, run_episode
from autotts_dsl.parser import parse
from autotts_dsl.programs import load_program
from autotts_dsl.replay.episode import Episode
from autotts_dsl.replay.store import ReplayStore, store_from_records
from autotts_dsl.runtime import EpisodeFault, RuntimeFault

HEADER = "controller t\n"


def record(
    branches: list[tuple[list[str], int, str]], gold: str = "a", interval: int = 100
) -> dict[str, Any]:
    return {
        "question": "q",
        "gold_answer": gold,
        "probe_freq": interval,
        "final_answers_trace": [f for _, _, f in branches],
        "each_branch": [[list(p), t, f] for p, t, f in branches],
    }


# Δ = 100. Shuffled orders (random.Random(seed).shuffle of 4 items):
#   seed 0 -> [B2, B0, B1, B3]      seed 1 -> [B3, B0, B2, B1]
TINY_BRANCHES = [
    (["x", "a"], 250, "a"),  # B0: 2 probes; final read charges 250 - 200 = 50
    (["b"], 50, "b"),  # B1: 1 probe worth 100 > 50 tokens: final read charges max(0, -50) = 0
    ([], 300, "a"),  # B2: no probes: the opening read is the final one (300)
    (["a", "a", "a"], 1000, "c"),  # B3: final read charges 1000 - 300 = 700
]
TINY = store_from_records([record(TINY_BRANCHES)], name="tiny")

# 8 identical branches: order never matters
SAME = store_from_records([record([(["p", "p", "p"], 1000, "f")] * 8, gold="f")], name="same")

# Final answers b, a, a, b (tokens 10, 20, 30, 40); seed 0 -> [a, b, a, b], seed 1 -> [b, b, a, a]
VOTES = store_from_records(
    [record([([], 10, "b"), ([], 20, "a"), ([], 30, "a"), ([], 40, "b")])], name="votes"
)


def test_shuffle_orders_used_below() -> None:
    def order(seed: int, n: int) -> list[int]:
        o = list(range(n))
        random.Random(seed).shuffle(o)
        return o

    assert order(0, 4) == [2, 0, 1, 3]
    assert order(1, 4) == [3, 0, 2, 1]
    assert order(5, 4) == [0, 1, 3, 2]


def build(
    src: str, beta: float = 0.5, overrides: dict[str, Any] | None = None, *, tracing: bool = False
) -> Compiled:
    return compile_program(
        parse(src, "t.tts"), beta, overrides or {}, source=src, path="t.tts", tracing=tracing
    )


def run(
    src: str,
    store: ReplayStore = TINY,
    seed: int = 0,
    *,
    question: int = 0,
    events: list[dict[str, Any]] | None = None,
) -> tuple[str | None, Episode]:
    prog = build(src, tracing=events is not None)
    ep = Episode(store.questions[question], seed)
    answer = run_episode(prog, ep, events)
    assert ep.answered and ep.answer == answer
    return store.answer_text(answer), ep


def final_values(
    sections: str, exprs: Sequence[str], store: ReplayStore = TINY, seed: int = 0
) -> dict[str, Any]:
    """Values of `exprs` (each a name, call or field) as seen by `finally`,
    read off the traced guards `if E == E { }`."""
    head = HEADER + sections + "\n"
    first = head.count("\n") + 2
    gates = "".join(f"  if {e} == {e} {{ }}\n" for e in exprs)
    src = head + "finally {\n" + gates + "  answer none\n}\n"
    events: list[dict[str, Any]] = []
    run(src, store, seed, events=events)
    seen: dict[str, Any] = {}
    for ev in events:
        if ev["event"] == "gate" and ev["line"] >= first:
            assert ev["fired"] is True
            seen.update(ev["values"])
    return {e: seen[e] for e in exprs}


# ----------------------------------------------------------------- spawn / read_full


def test_spawn_opens_up_to_n_with_one_read_each() -> None:
    answer, ep = run(HEADER + "init { spawn 2 }\nfinally { answer winner(completed) }")
    # seed 0: B2 (final at once, 300), B0 (probe "x", 100)
    assert (ep.opened, ep.cost, ep.seq_cost) == (2, 400, 300)
    assert ep.reads == [1, 1] and ep.finished == [True, False]
    assert answer == "a"


def test_spawn_stops_at_exhaustion() -> None:
    answer, ep = run(HEADER + "init { spawn 10 }\nfinally { answer winner(completed) }")
    assert ep.opened == 4
    assert ep.cost == 300 + 100 + 100 + 100
    assert ep.spent == [300, 100, 100, 100]
    assert ep.seq_cost == 300  # one batch: the largest single-branch charge
    assert answer == "a"


def test_spawn_stops_at_max_branches_across_batches() -> None:
    src = (
        HEADER
        + "limits { max_branches = 3 }\ninit { spawn 2 }\nround { spawn 5 }\n"
        + "finally { answer none }"
    )
    _, ep = run(src)
    assert ep.opened == 3
    assert ep.cost == 300 + 100 + 100


def test_read_full_charges_branch_tokens_and_fills_completed() -> None:
    src = HEADER + "init { read_full 2 }\nfinally { answer winner(completed) }"
    answer, ep = run(src)
    assert (ep.opened, ep.cost, ep.seq_cost) == (2, 300 + 250, 300)
    assert ep.finished == [True, True]
    assert answer == "a"
    vals = final_values(
        "init { read_full 10 }",
        ["count(completed)", "distinct(completed)", "cost", "spawned", "remaining"],
    )
    assert vals == {
        "count(completed)": 4,
        "distinct(completed)": 3,
        "cost": 1600,
        "spawned": 4,
        "remaining": 0,
    }


def test_read_full_charges_the_whole_trace_even_when_probes_overshoot() -> None:
    # seed 2 order: [B1, B2, B3, B0]; B1 has 1 probe (100 tokens) but only 50 tokens
    _, ep = run(HEADER + "init { read_full 1 }\nfinally { answer none }", seed=2)
    assert ep.cost == 50


# ----------------------------------------------------------------- step


STEP_ALL = (
    HEADER
    + "init {{ spawn 4 }}\n"
    + "round {{ for b in running order by b.index {order} {{ step b times 2 }} }}\n"
    + "finally {{ answer winner(recent(completed, 3)) }}\n"
)


def test_step_stops_early_when_the_branch_finishes() -> None:
    answer, ep = run(STEP_ALL.format(order="asc"))
    # init: B2 300 (done), B0 100, B1 100, B3 100                          -> 600, batch 300
    # round 0: B0 a 100 + final 50 (done); B1 final 0 (done, 2nd read skipped);
    #          B3 a, a 200                                                   -> 350, batch 200
    # round 1: B3 final 1000 - 300 = 700                                     -> 700, batch 700
    assert ep.cost == 1650
    assert ep.seq_cost == 300 + 200 + 700
    assert ep.reads == [1, 3, 2, 4]
    assert ep.spent == [300, 250, 100, 1000]  # B1: probe 100, then a free final read
    assert sum(ep.spent) == ep.cost
    # completed in completion order: a (init), a, b (round 0), c (round 1)
    assert answer == "a"  # winner of [a, b, c] is the earliest: a


def test_step_appends_final_answers_in_completion_order() -> None:
    answer, ep = run(STEP_ALL.format(order="desc"))
    # round 0 in index order 3, 2, 1: B1 (b) finishes before B0 (a)
    # completed = [a, b, a, c]; recent 3 = [b, a, c] -> b
    assert ep.cost == 1650
    assert answer == "b"


def test_step_on_a_finished_branch_is_free() -> None:
    src = (
        HEADER
        + "init { spawn 1 }\nround {\n  for b in opened { step b times 5 }\n}\n"
        + "finally { answer none }"
    )
    _, ep = run(src)  # B2 is finished when opened
    assert (ep.cost, ep.reads) == (300, [1])


def test_step_on_a_pruned_branch_is_a_runtime_fault() -> None:
    src = (
        HEADER
        + "init { spawn 2 }\nround {\n  for b in running { prune b\n"
        + "    step b }\n}\nfinally { answer none }"
    )
    with pytest.raises(RuntimeFault) as info:
        run(src)
    assert info.value.span.line == 5
    assert "pruned" in info.value.message


# ----------------------------------------------------------------- branch sets


def test_sets_partition_after_prune_and_finish() -> None:
    sections = (
        "init { spawn 4 }\n"  # seed 0: index 0 finished, 1..3 running
        "round {\n"
        "  for b in opened where b.index == 0 or b.index == 3 { prune b }\n"
        "  stop\n"
        "}"
    )
    vals = final_values(
        sections,
        [
            "count(running)",
            "count(finished)",
            "count(pruned)",
            "count(alive)",
            "count(opened)",
            "count(completed)",
            "sum(b.index for b in running)",
            "sum(b.index for b in pruned)",
            "count(b in alive where b.finished)",
            "count(b in opened where b.pruned)",
        ],
    )
    assert vals == {
        "count(running)": 2,
        "count(finished)": 0,  # the only finished branch was pruned
        "count(pruned)": 2,
        "count(alive)": 2,
        "count(opened)": 4,
        "count(completed)": 1,  # a pruned branch's final answer stays in the pool
        "sum(b.index for b in running)": 1 + 2,
        "sum(b.index for b in pruned)": 0 + 3,
        "count(b in alive where b.finished)": 0,
        "count(b in opened where b.pruned)": 2,
    }


def test_finished_branches_leave_running_but_stay_alive() -> None:
    vals = final_values(
        "init { spawn 4 }\nround {\n  for b in running { step b times 2 }\n  stop\n}",
        ["count(running)", "count(finished)", "count(alive)", "top1(answers(alive))"],
    )
    # after round 0 only B3 (index 3) is still running
    assert vals["count(running)"] == 1
    assert vals["count(finished)"] == 3
    assert vals["count(alive)"] == 4
    assert vals["top1(answers(alive))"] == 3  # latest answers a, a, b, a


def test_branch_fields_read_engine_state() -> None:
    vals = final_values(
        "init { spawn 4 }\nround {\n  for b in running { step b }\n  stop\n}",
        [
            "sum(b.reads for b in opened)",
            "sum(b.spent for b in opened)",
            "max(b.spent for b in opened)",
            "min(b.reads for b in opened)",
            "mean(b.reads for b in opened)",
            "cost",
        ],
    )
    # round 0, one read each on B0 (a, 100), B1 (final, 0), B3 (a, 100)
    assert vals == {
        "sum(b.reads for b in opened)": 7,
        "sum(b.spent for b in opened)": 800,
        "max(b.spent for b in opened)": 300,
        "min(b.reads for b in opened)": 1,
        "mean(b.reads for b in opened)": 1.75,
        "cost": 800,
    }


# ----------------------------------------------------------------- for loops


def test_for_iterates_a_snapshot() -> None:
    src = (
        HEADER
        + "init { spawn 2 }\nround {\n  for b in running { spawn 1 }\n  stop\n}\n"
        + "finally { answer none }"
    )
    _, ep = run(src, SAME)
    assert ep.opened == 4  # the two branches spawned in the loop are not visited


ORDER_SECTIONS = (
    "branch {{ k: int = 0 }}\n"
    "state {{ seq: int = 0 }}\n"
    "init {{ spawn 6 }}\n"
    "round {{\n"
    "  for b in opened {{ b.k = b.index % 3 == 1 ? 1 : 0 }}\n"  # k = 1 for indices 1 and 4
    "  for b in opened {head} {{ seq = seq * 10 + b.index + 1 }}\n"
    "  stop\n"
    "}}"
)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("", 123456),
        ("order by b.k desc", 251346),  # ties keep index order
        ("order by b.k", 134625),
        ("order by b.k desc, b.index desc", 526431),
        ("order by b.k, b.index desc", 643152),
        ("order by b.index % 2 == 0, b.k desc", 246513),  # false (odd) first
        ("order by b.k desc limit 3", 251),
        ("where b.index != 4 order by b.k desc limit 2", 21),
        ("order by b.k desc limit 0", 0),
        ("order by -b.index", 654321),
    ],
)
def test_order_by_is_a_stable_multi_key_sort(head: str, expected: int) -> None:
    vals = final_values(ORDER_SECTIONS.format(head=head), ["seq"], SAME)
    assert vals["seq"] == expected


def test_limit_is_evaluated_once_before_the_loop() -> None:
    src = (
        HEADER
        + "init { spawn 4 }\n"
        + "round {\n  for b in running limit count(running) - 1 { prune b }\n  stop\n}\n"
        + "finally { answer none }"
    )
    _, ep = run(src, SAME)
    # limit = 4 - 1 = 3, fixed before the body prunes anything
    assert ep.pruned == [True, True, True, False]


def test_repeat_runs_its_body_n_times() -> None:
    vals = final_values(
        "state { n: int = 0 }\nround {\n  repeat 3 { n = n + 2 }\n  stop\n}", ["n"], SAME
    )
    assert vals == {"n": 6}


# ----------------------------------------------------------------- windows


def test_window_push_drops_oldest_and_accessors() -> None:
    sections = (
        "state { h: window(3)  e: window(2)  one: window(1) }\n"
        "round {\n  push(h, round)\n  push(one, 2 * round)\n  if round == 4 { stop }\n}"
    )
    vals = final_values(
        sections,
        [
            "first(h)",
            "last(h)",
            "len(h)",
            "delta(h)",
            "mean(h)",
            "first(e)",
            "last(e)",
            "len(e)",
            "delta(e)",
            "mean(e)",
            "delta(one)",
            "last(one)",
        ],
        SAME,
    )
    assert vals == {
        "first(h)": 2.0,  # pushed 0..4, capacity 3 -> [2, 3, 4]
        "last(h)": 4.0,
        "len(h)": 3,
        "delta(h)": 2.0,
        "mean(h)": 3.0,
        "first(e)": 0.0,  # empty window: all 0
        "last(e)": 0.0,
        "len(e)": 0,
        "delta(e)": 0.0,
        "mean(e)": 0.0,
        "delta(one)": 0.0,  # fewer than 2 entries
        "last(one)": 8.0,
    }
    assert isinstance(vals["first(h)"], float)


def test_window_set_last_overwrites_newest_and_is_a_noop_when_empty() -> None:
    sections = (
        "state { h: window(3)  e: window(3) }\n"
        "round {\n  set_last(e, 5.0)\n  push(h, 1.0)\n  push(h, 2.0)\n  set_last(h, 10)\n  stop\n}"
    )
    vals = final_values(sections, ["first(h)", "last(h)", "len(h)", "delta(h)", "len(e)"], SAME)
    assert vals == {"first(h)": 1.0, "last(h)": 10.0, "len(h)": 2, "delta(h)": 9.0, "len(e)": 0}


# ----------------------------------------------------------------- control flow


def test_stop_ends_the_round_loop_and_finally_runs() -> None:
    src = (
        HEADER
        + "round {\n  read_full 1\n  if round == 1 { stop }\n  read_full 1\n}\n"
        + "finally { read_full 1\n  answer winner(completed) }"
    )
    answer, ep = run(src, SAME)
    # round 0: 2 reads; round 1: 1 read then stop; finally: 1 read
    assert ep.opened == 4
    assert ep.cost == 4000
    assert ep.seq_cost == 3000  # batches: round 0 (two branches), round 1, finally
    assert answer == "f"


def test_batches_are_init_each_round_and_finally() -> None:
    src = (
        HEADER
        + "init { read_full 3 }\n"
        + "round {\n  read_full 2\n  stop\n}\n"
        + "finally { read_full 1\n  answer none }"
    )
    _, ep = run(src, SAME)
    assert ep.cost == 6000
    assert ep.seq_cost == 3000  # three batches, 1000 each


def test_answer_in_init_ends_the_episode_without_rounds() -> None:
    src = (
        HEADER
        + "init {\n  read_full 1\n  answer winner(completed)\n}\n"
        + "round { read_full 1 }\nfinally { read_full 1\n  answer none }"
    )
    answer, ep = run(src, SAME)
    assert (answer, ep.opened, ep.cost) == ("f", 1, 1000)


def test_answer_in_a_round_skips_finally() -> None:
    src = (
        HEADER
        + "round {\n  read_full 1\n  if round == 2 { answer winner(completed) }\n"
        + "}\nfinally { answer none }"
    )
    answer, ep = run(src, SAME)
    assert (answer, ep.opened, ep.cost) == ("f", 3, 3000)


@pytest.mark.parametrize(("rounds", "opened"), [(0, 0), (1, 1), (3, 3), (20, 8)])
def test_max_rounds_bounds_the_loop(rounds: int, opened: int) -> None:
    src = (
        HEADER
        + f"limits {{ max_rounds = {rounds} }}\nround {{ read_full 1 }}\nfinally {{ answer none }}"
    )
    _, ep = run(src, SAME)
    assert ep.opened == opened
    assert ep.cost == 1000 * opened


def test_round_counter_is_minus_one_in_init_and_counts_rounds() -> None:
    vals = final_values(
        "state { seen: int = 0  at_init: int = 0 }\n"
        "init { at_init = round }\n"
        "limits { max_rounds = 5 }\n"
        "round { seen = seen + 1 }",
        ["seen", "at_init", "round"],
        SAME,
    )
    assert vals == {"seen": 5, "at_init": -1, "round": 4}


def test_finally_that_does_not_answer_is_a_runtime_fault() -> None:
    src = HEADER + "init { read_full 1 }\n\nfinally {\n  if false { answer none }\n}\n"
    with pytest.raises(RuntimeFault) as info:
        run(src)
    assert "without answering" in info.value.message
    assert info.value.span.line == 4


@pytest.mark.parametrize(("expr", "col"), [("10 // z", 11), ("10 % z", 11), ("1.5 / z", 11)])
def test_division_by_zero_at_run_time_is_a_fault_with_its_line(expr: str, col: int) -> None:
    src = (
        HEADER
        + "state { z: int = 0 }\n"
        + "init { read_full 1 }\n"
        + f"round {{\n  let ok = 1\n  let q = {expr}\n}}\n"
        + "finally { answer winner(completed) }"
    )
    with pytest.raises(RuntimeFault) as info:
        run(src)
    assert "division by zero" in info.value.message
    assert (info.value.span.line, info.value.span.col) == (6, col)


def test_math_domain_error_at_run_time_is_a_fault() -> None:
    src = (
        HEADER + "state { z: float = -1.0 }\nround {\n  let q = sqrt(z)\n}\nfinally { answer none }"
    )
    with pytest.raises(RuntimeFault) as info:
        run(src)
    assert info.value.span.line == 4


def test_runner_wraps_faults_in_episode_fault() -> None:
    store = store_from_records(
        [record(TINY_BRANCHES), record([(["a"], 100, "a")])], name="two-questions"
    )
    src = (
        HEADER
        + "init { read_full 1 }\nround {\n  let q = 10 // remaining\n  stop\n}\n"
        + "finally { answer none }"
    )
    runner = ProgramRunner(parse(src, "dir/t.tts"), src, "dir/t.tts")
    with pytest.raises(EpisodeFault) as info:
        runner.evaluate(store, 0.5, seeds=(5, 6))
    fault = info.value
    # question 0 has 3 branches left; question 1 has none left: the first fault is (5, 1)
    assert (fault.store, fault.question, fault.seed) == ("two-questions", 1, 5)
    assert fault.path == "dir/t.tts"
    assert (fault.span.line, fault.span.col) == (4, 11)
    assert str(fault) == (
        "dir/t.tts:4:11: division by zero in `//` (store two-questions, question 1, seed 5)"
    )


# ----------------------------------------------------------------- evaluation metrics


def test_evaluate_matches_hand_computed_costs() -> None:
    runner = ProgramRunner(
        parse(STEP_ALL.format(order="asc")), STEP_ALL.format(order="asc"), "t.tts"
    )
    ev = runner.evaluate(TINY, 0.5, seeds=(0, 1))
    # seed 1 ([B3, B0, B2, B1]): init 100+100+300+100, round 0 200 | 150 | 0, round 1 700
    assert ev.cost.tolist() == [1650, 1650]
    assert ev.seq_cost.tolist() == [1200, 1200]
    assert (ev.avg_tokens, ev.avg_seq_tokens) == (1650, 1200)
    assert ev.opened.tolist() == [4, 4]


def test_sequential_tokens_sum_charges_per_branch_within_a_batch() -> None:
    src = (
        HEADER
        + "init { spawn 2 }\n"
        + "round {\n  for b in running { step b }\n  for b in running { step b }\n  stop\n}\n"
        + "finally { answer none }"
    )
    runner = ProgramRunner(parse(src), src, "t.tts")
    ev = runner.evaluate(SAME, 0.5, seeds=(0, 1, 2))
    # init batch: 100 per branch -> 100; round batch: 200 per branch -> 200
    assert ev.avg_tokens == 200 + 400
    assert ev.avg_seq_tokens == 100 + 200
    assert ev.accuracy == 0.0  # answered none


def test_sc_and_asc_sequential_tokens() -> None:
    sc = load_program("sc").evaluate(TINY, 1.0, {"samples": 4}, seeds=(0,))
    assert (sc.avg_tokens, sc.avg_seq_tokens) == (1600, 1000)  # one batch: the longest trace
    asc = load_program("asc").evaluate(TINY, 1.0, {"max_samples": 4, "threshold": 0.99}, seeds=(0,))
    assert asc.avg_tokens == asc.avg_seq_tokens == 1600  # one read per round: sum of reads


# ----------------------------------------------------------------- expressions & voting


def test_coalesce_falls_back_only_on_none() -> None:
    fallback = (
        HEADER
        + "init {{ {act} 1 }}\nfinally {{ answer winner(completed) ?? winner(answers(alive)) }}"
    )
    # seed 1 opens B3 first: probe "a", final "c"
    assert run(fallback.format(act="spawn"), seed=1)[0] == "a"  # nothing completed: latest answer
    assert run(fallback.format(act="read_full"), seed=1)[0] == "c"
    assert run(HEADER + "finally { answer none ?? none }")[0] is None
    assert (
        run(
            HEADER + "init { spawn 1 }\nfinally { answer none ?? winner(answers(opened)) }", seed=1
        )[0]
        == "a"
    )


@pytest.mark.parametrize(("seed", "expected"), [(0, "a"), (1, "b"), (5, "b")])
def test_winner_ties_go_to_the_earliest_first_occurrence(seed: int, expected: str) -> None:
    answer, ep = run(
        HEADER + "init { read_full 4 }\nfinally { answer winner(completed) }", VOTES, seed
    )
    assert answer == expected
    assert (ep.cost, ep.seq_cost) == (100, 40)


def test_voting_primitives_through_the_language() -> None:
    vals = final_values(
        "init { read_full 4 }",
        [
            "top1(completed)",
            "top2(completed)",
            "conf(completed)",
            "beta_conf(2, 2)",
            "beta_conf(3, 1)",
            "beta_conf(0, 0)",
            "distinct(completed)",
            "count_of(completed, winner(completed))",
            "share(completed, winner(completed))",
            "top1(recent(completed, 3))",
            "conf(recent(completed, 0))",
        ],
        VOTES,
        seed=0,
    )
    assert vals == {
        "top1(completed)": 2,
        "top2(completed)": 2,
        "conf(completed)": 0.5,  # P[Bin(5, 1/2) <= 2] = 16/32
        "beta_conf(2, 2)": 0.5,
        "beta_conf(3, 1)": 0.8125,  # 26/32
        "beta_conf(0, 0)": 0.0,
        "distinct(completed)": 2,
        "count_of(completed, winner(completed))": 2,
        "share(completed, winner(completed))": 0.5,
        "top1(recent(completed, 3))": 2,  # [b, a, b]
        "conf(recent(completed, 0))": 0.0,
    }


def test_conditional_and_short_circuit() -> None:
    vals = final_values(
        "state { x: int = 0  y: float = 0.0  z: bool = false }\n"
        "round {\n"
        "  x = count(completed) == 0 ? 7 : 9\n"
        "  y = x / 2\n"
        "  z = x > 100 and 1 // (x - 7) > 0\n"  # would divide by zero if not short-circuited
        "  stop\n}",
        ["x", "y", "z"],
        SAME,
    )
    assert vals == {"x": 7, "y": 3.5, "z": False}


def test_branch_fields_are_initialised_per_spawned_branch() -> None:
    vals = final_values(
        "branch { d: int = 7  f: float = 0.5  tag: answer = none  on: bool = true }\n"
        "init { spawn 2 }\n"
        "round {\n"
        "  for b in running { b.d = b.d + b.index\n    b.on = false }\n"
        "  spawn 1\n  read_full 1\n  stop\n}",
        [
            "sum(b.d for b in opened)",
            "sum(b.f for b in opened)",
            "count(b in opened where b.on)",
            "count(b in opened where b.tag == none)",
        ],
        SAME,
    )
    # indices 0, 1 updated (7 + 0, 7 + 1); indices 2 (spawn) and 3 (read_full) fresh
    assert vals == {
        "sum(b.d for b in opened)": 7 + 8 + 7 + 7,
        "sum(b.f for b in opened)": 2.0,
        "count(b in opened where b.on)": 2,
        "count(b in opened where b.tag == none)": 4,
    }


def test_state_is_fresh_per_episode() -> None:
    src = (
        HEADER
        + "state { n: int = 0 }\nround {\n  n = n + 1\n"
        + "  if n > 2 { answer none }\n  read_full 1\n}\nfinally { answer none }"
    )
    prog = build(src)
    for seed in (0, 1):
        ep = Episode(SAME.questions[0], seed)
        run_episode(prog, ep)
        assert ep.opened == 2  # n restarts at 0


# ----------------------------------------------------------------- traces


TRACED = (
    HEADER
    + "init { spawn 4 }\n"
    + "round {\n"
    + "  rule deepen: for b in running order by b.index desc do step b times 2\n"
    + "  rule done: when count(running) == 0 do answer winner(completed)\n"
    + "  if round > 50 { stop }\n"
    + "}\n"
    + "finally { answer none }\n"
)


def test_traced_run_gives_the_same_result() -> None:
    events: list[dict[str, Any]] = []
    traced = run(TRACED, events=events)
    plain = run(TRACED)
    assert traced[0] == plain[0] == "a"
    assert (
        (traced[1].cost, traced[1].seq_cost) == (plain[1].cost, plain[1].seq_cost) == (1650, 1200)
    )


def test_trace_events_for_actions_rules_and_gates() -> None:
    events: list[dict[str, Any]] = []
    run(TRACED, events=events)
    actions = [e for e in events if e["event"] == "action"]
    spawn = actions[0]
    assert (spawn["action"], spawn["line"], spawn["rule"], spawn["round"]) == ("spawn", 2, None, -1)
    assert spawn["args"] == {"n": 4}
    assert spawn["charged"] == 600
    steps = [a for a in actions if a["action"] == "step"]
    assert all(a["line"] == 4 and a["rule"] == "deepen" for a in steps)
    assert [(a["round"], a["args"]["branch"], a["charged"]) for a in steps] == [
        (0, 3, 200),
        (0, 2, 0),
        (0, 1, 150),
        (1, 3, 700),
    ]
    assert sum(a["charged"] for a in actions) == 1650
    loops = [e for e in events if e["event"] == "rule" and e["rule"] == "deepen"]
    assert [e["branches"] for e in loops] == [[3, 2, 1], [3]]
    guards = [e for e in events if e["event"] == "rule" and e["rule"] == "done"]
    assert [(g["round"], g["fired"], g["values"]) for g in guards] == [
        (0, False, {"count(running)": 1}),
        (1, True, {"count(running)": 0}),
    ]
    assert guards[0]["line"] == 5
    assert guards[0]["condition"] == "count(running) == 0"
    gates = [e for e in events if e["event"] == "gate"]
    assert [(g["line"], g["fired"], g["values"]) for g in gates] == [(6, False, {"round": 0})]
    answer = actions[-1]
    assert (answer["action"], answer["rule"], answer["line"], answer["round"]) == (
        "answer",
        "done",
        5,
        1,
    )


def test_evaluate_collects_one_event_list_per_episode() -> None:
    store = store_from_records([record(TINY_BRANCHES), record([(["a"], 100, "a")])], name="two")
    runner = ProgramRunner(parse(TRACED), TRACED, "t.tts")
    traces: list[list[dict[str, Any]]] = []
    ev = runner.evaluate(store, 0.5, seeds=(0, 1, 2), traces=traces)
    assert len(traces) == 6
    for e, events in enumerate(traces):
        charged = sum(x.get("charged", 0) for x in events if x["event"] == "action")
        assert charged == int(ev.cost[e])
    untraced = runner.evaluate(store, 0.5, seeds=(0, 1, 2))
    assert untraced.cost.tolist() == ev.cost.tolist()
    assert untraced.answer.tolist() == ev.answer.tolist()


def test_tracing_does_not_change_short_circuit_semantics() -> None:
    src = (
        HEADER
        + "state { x: float = 0.0 }\ninit { read_full 1 }\n"
        + "round {\n  rule r: when x > 0 and log(x) > 1.0 do stop\n}\n"
        + "finally { answer winner(completed) }"
    )
    plain = run(src)
    traced = run(src, events=[])
    assert plain[0] == traced[0]


# ----------------------------------------------------------------- properties


ANSWER = st.sampled_from(["a", "b", "c"])
BRANCH = st.tuples(st.lists(ANSWER, max_size=5), st.integers(0, 1500), ANSWER)
RECORD = st.builds(
    lambda branches, gold, interval: record(branches, gold, interval),
    st.lists(BRANCH, min_size=1, max_size=6),
    ANSWER,
    st.sampled_from([1, 100, 500]),
)
STORES = st.lists(RECORD, min_size=1, max_size=2).map(
    lambda recs: store_from_records(recs, name="prop")
)
SEEDS = st.integers(0, 2**31 - 1)

MINE = """controller mine
params { k: int = 2 }
limits { max_rounds = 8  max_branches = 5 }
state { h: window(2) }
branch { age: int = 0 }
init { spawn 3 }
round {
  for b in running { b.age = b.age + 1 }
  rule deepen: for b in running order by b.reads desc, b.index limit 2 do step b times k
  push(h, conf(completed))
  let w = winner(answers(alive))
  rule cut: for b in running where b.answer != w and b.age >= 2 do prune b
  if round % 2 == 1 { read_full 1 }
  rule check: when count(running) + count(finished) + count(pruned) == count(opened)
      and count(alive) == count(running) + count(finished)
      and cost == sum(b.spent for b in opened) do { }
  if count(running) == 0 and remaining == 0 { stop }
  rule widen: when delta(h) <= 0.0 do spawn 1
}
finally {
  rule final_check: when count(running) + count(finished) + count(pruned) == count(opened)
      and cost == sum(b.spent for b in opened) do { }
  answer winner(completed) ?? winner(answers(alive))
}
"""

PROGRAMS: dict[str, ProgramRunner] = {
    "sc": load_program("sc"),
    "asc": load_program("asc"),
    "parallel_probe": load_program("parallel_probe"),
    "mine": ProgramRunner(parse(MINE, "mine.tts"), MINE, "mine.tts"),
}
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cost_bound(store: ReplayStore, q: int) -> int:
    question = store.questions[q]
    return sum(question.tokens) + sum(len(p) for p in question.probes) * question.interval


@PROPS
@given(
    store=STORES,
    seed=SEEDS,
    name=st.sampled_from(sorted(PROGRAMS)),
    beta=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_episode_properties(store: ReplayStore, seed: int, name: str, beta: float) -> None:
    prog = PROGRAMS[name].compile(beta)
    for qi, question in enumerate(store.questions):
        ep = Episode(question, seed)
        answer = run_episode(prog, ep)
        # cost is the sum of per-branch charges, bounded by reading everything
        assert ep.cost == sum(ep.spent)
        assert 0 <= ep.cost <= cost_bound(store, qi)
        assert ep.seq_cost <= ep.cost
        assert ep.opened <= question.n_branches
        # deterministic: the same seed gives the same episode
        again = Episode(question, seed)
        assert run_episode(prog, again) == answer
        assert (again.cost, again.seq_cost, again.spent) == (ep.cost, ep.seq_cost, ep.spent)
        # every opened branch is in exactly one of running / finished / pruned
        running = {i for i in range(ep.opened) if not ep.finished[i] and not ep.pruned[i]}
        finished = {i for i in range(ep.opened) if ep.finished[i] and not ep.pruned[i]}
        pruned = {i for i in range(ep.opened) if ep.pruned[i]}
        assert running | finished | pruned == set(range(ep.opened))
        assert len(running) + len(finished) + len(pruned) == ep.opened


@PROPS
@given(store=STORES, seed=SEEDS, k=st.integers(0, 3))
def test_set_partition_holds_inside_the_language(store: ReplayStore, seed: int, k: int) -> None:
    prog = PROGRAMS["mine"].compile(0.5, {"k": k}, tracing=True)
    for question in store.questions:
        events: list[dict[str, Any]] = []
        ep = Episode(question, seed)
        answer = run_episode(prog, ep, events)
        checks = [e for e in events if e.get("rule") in ("check", "final_check") and "fired" in e]
        assert checks, "the checking rules ran"
        assert all(e["fired"] for e in checks)
        plain = Episode(question, seed)
        assert run_episode(PROGRAMS["mine"].compile(0.5, {"k": k}), plain) == answer
        assert plain.cost == ep.cost
