"""Differential tests: the VM against the reference interpreter.

`ProgramRunner.evaluate(..., backend="vm")` must give the reference's results
episode for episode — the six per-episode arrays identical — and, when an
episode faults, the identical `EpisodeFault`. Compared here:

1. every stdlib program at four β on the embedded default store and on a
   small ragged store (questions with 5-12 branches, a branch without
   probes, a branch shorter than one interval); no stdlib episode may need
   the reference as a fallback; params and knob overrides;
2. hand-written programs exercising corners of the language (weighted
   votes, answer lists, generators, sorted and nested loops, windows, lazy
   `?:`/`??`, state and branch fields of every type, numeric builtins with
   decisions on the low bits of float sums, control flow, branch values),
   each with params overrides;
3. many variants of the stdlib and corner programs, made by the offline
   proposer's mutation operators (`search/mutate.py`) and by local AST edits
   (set names, operators, literals, aggregates, loop heads, dropped, swapped,
   negated, repeated and inserted statements), kept when the reference
   compiler accepts them (hypothesis);
4. run-time faults (one program, one fault per `mode` param, one compile);
5. the fallback: episodes the VM declines are replayed (`reruns > 0`),
   programs it does not cover run on the reference under `auto` and raise
   `BackendError` under an explicit `vm`, and ints beyond 2**53 or int64
   (which the VM hands to the reference) give the reference's results.

TTS_PROPERTY_SCALE=10 runs ten times the hypothesis examples.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autotts_dsl import ast
from autotts_dsl.diagnostics import DiagnosticError
from autotts_dsl.engines import BackendError
from autotts_dsl.fmt import format_program
from autotts_dsl.interpreter import ProgramRunner
from autotts_dsl.parser import parse
from autotts_dsl.programs import load_program, stdlib_names
from autotts_dsl.replay import registry
from autotts_dsl.replay.protocol import Evaluation
from autotts_dsl.replay.store import ReplayStore, store_from_records
from autotts_dsl.replay.synthetic import simulate_records
from autotts_dsl.runtime import EpisodeFault
from autotts_dsl.search.astops import rebuild, replace_node, walk
from autotts_dsl.search.mutate import mutate

pytestmark = pytest.mark.vm

ARRAYS = ("answer", "correct", "cost", "seq_cost", "opened", "reads")
SEEDS = (0, 1, 2)
BETAS = (0.0, 0.3, 0.5, 1.0)
STDLIB = tuple(stdlib_names())
SCALE = float(os.environ.get("TTS_PROPERTY_SCALE", "1"))


# ---------------------------------------------------------------- stores


@cache
def default_store() -> ReplayStore:
    return registry.resolve_store("default")


@cache
def ragged_store() -> ReplayStore:
    """8 questions with 12, 11, ..., 5 branches (so `remaining` runs out and the
    shuffled orders have several sizes), interval 700; question 3's first
    branch has no probes (its first read is the final one) and question 5's
    third branch is 1 token long (its final read charges nothing)."""
    records = simulate_records(8, 12, 7, 700)
    for i, r in enumerate(records):
        r["each_branch"] = r["each_branch"][: 12 - i]
        r["final_answers_trace"] = r["final_answers_trace"][: 12 - i]
    records[3]["each_branch"][0][0] = []
    records[5]["each_branch"][2][1] = 1
    return store_from_records(records, name="synthetic/ragged", synthetic=True)


STORES: dict[str, Callable[[], ReplayStore]] = {"default": default_store, "ragged": ragged_store}


def test_ragged_store_shape() -> None:
    store = ragged_store()
    assert [q.n_branches for q in store.questions] == list(range(12, 4, -1))
    assert len(store.questions[3].probes[0]) == 0
    assert store.questions[5].tokens[2] == 1 < store.questions[5].interval


# ---------------------------------------------------------------- comparing


def runner_of(source: str, path: str = "t.tts") -> ProgramRunner:
    return ProgramRunner(parse(source, path), source, path)


def outcome(
    runner: ProgramRunner,
    store: ReplayStore,
    beta: float,
    backend: str,
    params: Mapping[str, Any] | None,
    seeds: Sequence[int],
) -> Evaluation | Exception:
    """The evaluation, or what it raised (a `BackendError` is never an outcome)."""
    try:
        return runner.evaluate(store, beta, params, seeds=seeds, backend=backend)
    except BackendError:
        raise
    except Exception as exc:  # a fault: compared by type and message
        return exc


def first_difference(ref: Evaluation, got: Evaluation) -> str:
    for name in ARRAYS:
        a, b = getattr(ref, name), getattr(got, name)
        if a.shape != b.shape:
            return f"`{name}` has shape {b.shape}, the reference {a.shape}"
        bad = np.flatnonzero(a != b)
        if bad.size:
            e = int(bad[0])
            seed, question = ref.seeds[e // ref.n_questions], e % ref.n_questions
            return (
                f"`{name}` differs on {bad.size} episode(s); first: question {question}, "
                f"seed {seed}: reference {a[e]}, got {b[e]}"
            )
    return ""


def assert_same(
    runner: ProgramRunner,
    store: ReplayStore,
    beta: float,
    backend: str,
    params: Mapping[str, Any] | None = None,
    seeds: Sequence[int] = SEEDS,
    *,
    ref: Evaluation | Exception | None = None,
) -> Evaluation | Exception:
    """`backend` gives the reference's outcome; returns it."""
    if ref is None:
        ref = outcome(runner, store, beta, "reference", params, seeds)
    got = outcome(runner, store, beta, backend, params, seeds)
    where = f"{runner.path} on {store.name}, beta={beta}, params={params}, backend={backend}"
    text = "" if runner.path.startswith("stdlib/") else f"\n{runner.source}"
    if isinstance(ref, Exception) or isinstance(got, Exception):
        assert type(got) is type(ref) and str(got) == str(ref), (
            f"{where}: the reference gives {ref!r}, the backend {got!r}{text}"
        )
        return got
    diff = first_difference(ref, got)
    assert not diff, f"{where}: {diff}{text}"
    assert (got.seeds, got.n_questions, got.store) == (ref.seeds, ref.n_questions, ref.store)
    if backend == "vm":
        assert got.backend == backend
    return got


# ---------------------------------------------------------------- 1. the stdlib


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("name", STDLIB)
def test_stdlib_vm_matches_reference(name: str, beta: float) -> None:
    runner = load_program(name)
    for store in (default_store(), ragged_store()):
        got = assert_same(runner, store, beta, "vm")
        assert isinstance(got, Evaluation)
        assert got.reruns == 0, f"{name}: {got.reruns} episode(s) fell back to the reference"


@pytest.mark.parametrize("name", STDLIB)
def test_stdlib_auto_runs_on_the_vm(name: str) -> None:
    got = assert_same(load_program(name), default_store(), 0.5, "auto")
    assert isinstance(got, Evaluation) and got.backend == "vm"


STDLIB_PARAMS = [
    ("asc", {"threshold": 0.8}),
    ("esc", {"window_size": 3}),
    ("parallel_probe", {"T": 6, "warm_up": 3, "prune_patience": 2, "probe_burst": 2}),
    ("cmc", {"n_init": 5, "conf_thresh": 0.9}),  # knobs pinned like `--param`
    ("sdgv", {"max_cohort": 9, "maturity_boost": 2.0}),
    ("dgcc", {"gap_factor": 4, "sleep_period": 2}),
]


@pytest.mark.parametrize(("name", "params"), STDLIB_PARAMS)
def test_stdlib_params_overrides(name: str, params: dict[str, Any]) -> None:
    runner = load_program(name)
    ref = outcome(runner, default_store(), 0.5, "reference", params, SEEDS)
    plain = outcome(runner, default_store(), 0.5, "reference", None, SEEDS)
    assert isinstance(ref, Evaluation) and isinstance(plain, Evaluation)
    assert first_difference(plain, ref), "the override changes nothing: a useless case"
    got = assert_same(runner, default_store(), 0.5, "vm", params, ref=ref)
    assert isinstance(got, Evaluation) and got.reruns == 0


# ---------------------------------------------------------------- 2. language corners

# Each program reaches the statements it exercises on the default store (an
# `answer` replaced by `answer none` changes some episodes), so a backend
# mistake in one of them shows in the results.
CORNERS: dict[str, str] = {
    "votes": """
controller votes_corner
params { heavy : float = 2.5 }
state { acc: float = 0.0  best: answer = none }
init { spawn 3 }
round {
  for b in running { step b }
  let v = votes((b.finished ? heavy : 1.0) for b in alive)
  let vs = votes(alive)
  let vl = votes(completed)
  let vr = votes(b.reads for b in alive where b.reads > 1)
  let w = winner(v)
  acc = acc + total(v) / 10 - weight_of(v, w) / 10 + top1(vs) - top2(vl)
      + weight_of(vl, winner(vs) ?? w) + top2(vr) / 100 - weight_of(vr, none)
  best = winner(vl) ?? best
  if round == 4 and weight_of(vs, winner(vl) ?? w) >= 2.0 { answer winner(vs) }
  if total(v) > 0 and top1(v) / total(v) >= 0.7 and top2(v) < top1(v) and top1(v) >= 5.0 {
    answer w
  }
  if count(running) == 0 or round >= 30 { stop }
  if round % 3 == 2 and remaining > 0 { spawn 1 }
}
finally { answer acc > 40.0 ? best : winner(votes(b in alive where b.reads >= 2)) ?? best }
""",
    "lists": """
controller lists_corner
params { burst : int = 2 }
state { seen: int = 0 }
init { read_full 1 }
round {
  let before = completed  # a snapshot: it does not grow with the reads below
  repeat burst { read_full 1 }
  let tail = recent(completed, 3)
  let w = winner(completed)
  seen = seen + count_of(completed, w) - count_of(before, w)
  if distinct(tail) == 1 and len(tail) >= 3 and share(completed, w) > 0.6 { answer w }
  if count_of(before, w) >= 4 and top1(completed) - top2(completed) >= 3 { answer winner(before) }
  if conf(recent(completed, 4)) > 0.8 and distinct(before) <= 3 {
    answer winner(recent(before, 2))
  }
  if remaining == 0 or round >= 3 { stop }
}
finally { answer seen > 2 ? winner(recent(completed, 2)) : winner(completed) }
""",
    "generators": """
controller gens_corner
state { t: float = 0.0  k: int = 0  flag: bool = false  lo: float = 0.0 }
init { spawn 4 }
round {
  for b in running where b.reads <= round + 2 { step b }
  k = sum(b.reads for b in alive) + max(b.reads for b in running)
      - min(b.spent for b in alive where b.finished) // 1000
  t = mean(b.spent / 1000 for b in alive) + sum(b.reads * 0.1 for b in opened)
      + min(b.reads * 0.5 for b in running) + max(0.0 + b.spent for b in finished) / 1000
  lo = mean(b.reads for b in alive) - min(1.5 * b.index for b in alive where b.index > 0)
  flag = any(b.finished for b in alive) and all(b.reads >= 2 for b in alive)
      or any(b.answer == winner(completed) for b in running) and all(b.pruned for b in pruned)
  if count(running) == 0 or round >= 7 and distinct(answers(alive)) <= 5 { stop }
  if flag and k > 30 and t > 10.0 { answer winner(completed) }
  if lo > 2.0 and sum(b.spent for b in alive) > 25000 { answer winner(answers(alive)) }
  if round % 2 == 1 { spawn 1 }
}
finally { answer winner(completed) ?? winner(answers(alive)) }
""",
    "loops": """
controller order_corner
params { keep : int = 3 }
branch { score: float = 0.0  hits: int = 0 }
init { spawn 6 }
round {
  for b in running order by b.reads asc, b.index desc limit keep { step b }
  for b in alive order by b.finished desc, b.spent asc {
    b.score = b.score * 0.5 + (b.finished ? 1.0 : 0.25)
    for c in alive where c.index < b.index {
      if c.answer == b.answer and c.answer != none { b.hits = b.hits + 1 }
      if b.hits >= 6 and c.finished { answer c.answer }  # answer in a nested loop
    }
  }
  for b in running where b.hits == 0 order by b.score asc, b.reads desc
      limit count(running) - keep { prune b }
  for b in alive { if count(running) == 0 and round > 3 { stop } }  # stop in a loop
}
finally { answer winner(votes(b.score for b in alive)) ?? winner(completed) }
""",
    "windows": """
controller windows_corner
params { cap : int = 3 }
schedule { alpha : float down = round(0.7 - 0.4*beta, 4) }
state {
  ema: float = 0.0  h: window(cap)  g: window(2)  prev: answer = none  streak: int = 0
  rising: bool = false
}
init { spawn 3 }
round {
  for b in running { step b }
  ema = (1 - alpha) * ema + alpha * conf(answers(alive))
  push(h, ema)
  if round % 2 == 0 { push(g, count(completed)) } else { set_last(g, last(g) + 0.5) }
  rising = delta(h) >= 0
  let w = winner(answers(alive))
  streak = w == prev ? streak + 1 : 0
  prev = w
  if len(h) == cap and mean(h) > 0.6 and first(h) <= last(h) and rising { answer w }
  if streak >= 4 and delta(g) >= 0.5 and len(g) == 2 { answer prev }
  if count(running) == 0 { stop }
}
finally { answer prev ?? winner(completed) }
""",
    "lazy": """
controller lazy_corner
state { x: float = 0.0 }
init { spawn 3 }
round {
  for b in running { step b }
  let n = count(completed)
  x = n > 0 ? 10 / n : 0.0
  let y = n == 0 or log(n) < 0.5
  let z = n > 1 and 1 / (n - 1) > 0.4
  let zero = spawned - spawned
  # the right arms divide by zero: evaluating them eagerly would fault
  let a = winner(answers(alive)) ?? winner(recent(completed, 1 // zero))
  let pick = count(alive) > 0 ? a : winner(recent(completed, 1 // zero))
  let ans = n >= 2 ? pick : none
  if z and not y and x < 6.0 { answer ans ?? a }
  if count(running) == 0 or round >= 12 { stop }
}
finally { answer (count(completed) > 0 ? winner(completed) : none) ?? winner(answers(alive)) }
""",
    "state": """
controller state_corner
params { lead : int = 2  bonus : float = 0.5  strict : bool = false }
schedule { width : int up = max(2, round(2 + 4*beta)) }
state { best: answer = none  margin: float = 0.0  done: bool = false  n: int = 0 }
branch { mark: bool = false  wt: float = 1.0 + bonus  orig: answer = none }
init {
  spawn width
  for b in alive { b.orig = b.answer }
}
round {
  let live = running  # a snapshot of the set
  let fin = finished
  for b in live {
    step b
    b.wt = b.wt + (b.answer == b.orig ? bonus : 0)
  }
  for b in fin { b.mark = true }
  let v = votes(b.wt for b in alive)
  let marked = answers(b in alive where b.mark)
  let w = winner(v)
  margin = top1(v) - top2(v)
  n = n + count(live) - count(running)
  done = strict ? margin >= lead and count(marked) >= lead : margin >= lead
  best = done ? w : best
  if done and count_of(marked, w) >= 1 { answer best }
  if count(running) == 0 { stop }
}
finally { answer best ?? winner(votes(b.wt for b in alive)) }
""",
    "numeric": """
controller numeric_corner
params { scale : float = 1.0 }
state { acc: float = 0.0  iacc: int = 0 }
init { spawn 3 }
round {
  for b in running { step b }
  let n = count(completed)
  let r = count(running)
  let s = (sum(b.spent for b in alive) / 1000 + 1.37 * distinct(answers(alive))) * scale
  let q = s - 7.3 * top1(answers(alive))
  acc = acc + exp(q / 40) + log(1 + s) + sqrt(s) + sigmoid(q) + sigmoid(-q) + pow(s, 0.37)
      + pow(2.5, r) + abs(q) + clamp(q, -2.5, 3.75) + min(q, s, 2.0 * r) + max(-q, 1.5, n)
      + float(r) / 3 + beta_conf(n + 1, r) + q // 1.7 + q % 1.3 + (-q) // 0.9 + (-q) % 2.2
  iacc = iacc + round(q) + floor(q / 3) + ceil(q / 3) + abs(r - n) + min(r, n, 2) + max(r - 5, n)
      + (r - n) // 2 + (n - r) % 3 + clamp(n - r, -1, 1) - -r + round(2.5 + n) + round(-0.5 - n)
  # compensated sums: 1e16 + 1.0 - 1e16 is 1.0 (0.0 added left to right)
  iacc = iacc + round(sum((b.index % 2 == 0 ? 1e16 : 1.0) * (b.index < 2 ? 1 : -1) for b in alive))
      + round(3 * mean((b.index % 2 == 0 ? 1e16 : 1.0) * (b.index < 2 ? 1 : -1) for b in alive))
  # decisions on the low bits of the sums: a 1-ulp difference anywhere changes them
  if round == 3 and floor(acc * 1e9) % 2 == 0 { answer winner(answers(alive)) }
  if round == 6 and iacc % 3 == 0 and floor(acc * 1e12) % 3 == 1 { answer winner(answers(running)) }
  if round >= 8 or count(running) == 0 { stop }
}
finally { answer floor(acc * 1e10) % 2 == 0 ? winner(completed) : winner(answers(alive)) }
""",
    "control": """
controller control_corner
limits { max_branches = 9 }  # below the store's 128: `remaining` still counts the rest
params { k : int = 2 }
state { tries: int = 0 }
init {
  read_full k
  if distinct(completed) == 1 and k >= 2 { answer winner(completed) }
}
round {
  repeat 3 {
    tries = tries + 1
    for b in alive order by b.index desc {
      if tries % 4 == 0 and b.finished {
        repeat 2 { if conf(completed) > 0.85 and b.answer == winner(completed) { answer b.answer } }
      }
    }
    if remaining > 0 and tries % 3 != 0 {
      read_full 1
    } elif tries > 6 and distinct(completed) > 3 {
      stop
    }
  }
  rule done: when tries >= 12 do stop
}
finally {
  if tries < 12 and distinct(completed) > 4 and remaining > 100 {
    answer winner(recent(completed, 2))
  }
  elif tries < 12 { answer winner(recent(completed, 3)) }
  else { answer winner(completed) }
}
""",
    "branch_values": """
controller pick_corner
branch { seen: int = 0 }
init { spawn 4 }
round {
  for b in running {
    for c in running where c.index > b.index {
      let lead = b.spent > c.spent ? b : c
      lead.seen = lead.seen + 1
      if lead.reads < 4 + 2 * round { step lead }
    }
  }
  let v = votes((b.reads % 3 - 1) for b in alive)
  let neg = votes((b.finished ? -1.0 : 0.5) for b in alive)
  if round == 3 and winner(v) == winner(answers(alive)) { answer winner(v) }
  if round == 4 and top2(neg) >= 0.5 and distinct(answers(alive)) >= 2 {
    answer winner(neg) ?? winner(v)
  }
  for b in alive where b.seen >= 6 and not b.finished order by b.seen desc limit 1 { prune b }
  for b in finished where b.reads <= 8 limit 1 { prune b }  # `finished` leaves it
  if count(running) == 0 or round >= 15 { stop }
}
finally {
  answer count(finished) + count(pruned) > 1 ? winner(answers(pruned)) : winner(answers(alive))
}
""",
}

# Overrides as `--param NAME=VALUE` gives them (knobs included: `alpha`, `width`).
CORNER_PARAMS: dict[str, list[dict[str, Any]]] = {
    "votes": [{"heavy": 1.0}, {"heavy": 0.25}],
    "lists": [{"burst": 1}, {"burst": 4}],
    "generators": [],
    "loops": [{"keep": 1}, {"keep": 5}],
    "windows": [{"cap": 1}, {"cap": 5, "alpha": 0.25}],
    "lazy": [],
    "state": [{"strict": True, "lead": 3}, {"bonus": 0.0, "width": 5}],
    "numeric": [{"scale": 0.5}],
    "control": [{"k": 1}, {"k": 4}],
    "branch_values": [],
}


@cache
def corner(name: str) -> ProgramRunner:
    return runner_of(CORNERS[name], f"{name}.tts")


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corner_vm_matches_reference(name: str) -> None:
    runner = corner(name)
    for beta in (0.0, 0.5, 1.0):
        for store in (default_store(), ragged_store()):
            for params in [None, *CORNER_PARAMS[name]]:
                got = assert_same(runner, store, beta, "vm", params)
                assert isinstance(got, Evaluation) and got.reruns == 0


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_corner_programs_reach_their_answers(name: str) -> None:
    """Every `answer` of a corner program decides some episode (so it is
    reached), and every params override changes some episode."""
    runner = corner(name)
    base = runner.evaluate_reference(default_store(), 0.5, None, SEEDS)
    answers = [n for n in walk(runner.program) if isinstance(n, ast.Answer)]
    assert len(answers) >= 2
    for a in answers:
        muted = replace_node(runner.program, a, ast.Answer(ast.NoneLit()))
        other = runner_of(format_program(muted)).evaluate_reference(
            default_store(), 0.5, None, SEEDS
        )
        assert first_difference(base, other), f"{name}.tts:{a.span.line}: decides nothing"
    for params in CORNER_PARAMS[name]:
        got = runner.evaluate_reference(default_store(), 0.5, params, SEEDS)
        assert first_difference(base, got), f"{name}: {params} changes nothing"


# ---------------------------------------------------------------- 3. program variants

SET_NAMES = ("running", "alive", "finished", "opened", "pruned")
CMP_CLASSES = (("<", "<=", ">", ">="), ("==", "!="))
ARITH = ("+", "-", "*")
CALL_CLASSES = (
    ("sum", "mean", "min", "max"),
    ("any", "all"),
    ("top1", "top2", "distinct", "len", "count", "total"),
    ("first", "last", "delta", "mean", "len"),
    ("winner", "conf"),
    ("count_of", "share"),
)
INT_VALUES = (0, 1, 2, 3, 5, 8)
FLOAT_VALUES = (0.0, 0.1, 0.5, 0.9, 1.0, 2.5)
KEY_FIELDS = ("reads", "spent", "index", "finished")

Edit = tuple[ast.Program, str] | None


def _body(program: ast.Program) -> list[Any]:
    """Every node of the init, round and finally blocks."""
    return [n for blk in (program.init, program.round, program.final) if blk for n in walk(blk)]


def _pick(program: ast.Program, rng: random.Random, ok: Callable[[Any], bool]) -> Any:
    nodes = [n for n in _body(program) if ok(n)]
    return rng.choice(nodes) if nodes else None


def _other(rng: random.Random, options: Sequence[Any], current: Any) -> Any:
    return rng.choice([o for o in options if o != current])


def edit_set(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.Name) and n.id in SET_NAMES)
    if n is None:
        return None
    new = _other(rng, SET_NAMES, n.id)
    return replace_node(p, n, ast.Name(new)), f"set {n.id} -> {new}"


def edit_compare(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.Compare))
    if n is None:
        return None
    ops = next(c for c in CMP_CLASSES if n.op in c)
    new = _other(rng, ops, n.op)
    return replace_node(p, n, dataclasses.replace(n, op=new)), f"`{n.op}` -> `{new}`"


def edit_boolop(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.BoolOp))
    if n is None:
        return None
    new = "or" if n.op == "and" else "and"
    return replace_node(p, n, dataclasses.replace(n, op=new)), f"`{n.op}` -> `{new}`"


def edit_arith(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.Binary))
    if n is None:
        return None
    new = _other(rng, (*ARITH, "//", "%") if rng.random() < 0.2 else ARITH, n.op)
    return replace_node(p, n, dataclasses.replace(n, op=new)), f"`{n.op}` -> `{new}`"


def edit_literal(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.IntLit | ast.FloatLit))
    if n is None:
        return None
    if isinstance(n, ast.IntLit):
        value = _other(rng, (*INT_VALUES, n.value + 1, max(0, n.value - 1)), n.value)
        return replace_node(p, n, ast.IntLit(value)), f"literal {n.value} -> {value}"
    value = _other(rng, FLOAT_VALUES, n.value)
    return replace_node(p, n, ast.FloatLit(value)), f"literal {n.value} -> {value}"


def edit_call(p: ast.Program, rng: random.Random) -> Edit:
    n = _pick(p, rng, lambda n: isinstance(n, ast.Call) and any(n.func in c for c in CALL_CLASSES))
    if n is None:
        return None
    group = rng.choice([c for c in CALL_CLASSES if n.func in c])
    new = _other(rng, group, n.func)
    return replace_node(p, n, dataclasses.replace(n, func=new)), f"{n.func}(...) -> {new}(...)"


def edit_order(p: ast.Program, rng: random.Random) -> Edit:
    """Flip a sort key, or give a loop a (second) sort key, a `where` or a `limit`."""
    n = _pick(p, rng, lambda n: isinstance(n, ast.LoopHead))
    if n is None:
        return None
    var = ast.Name(n.var)
    what = rng.choice(("flip", "key", "where", "limit"))
    if what == "flip" and n.order:
        k = rng.randrange(len(n.order))
        keys = list(n.order)
        keys[k] = dataclasses.replace(keys[k], descending=not keys[k].descending)
        return replace_node(p, n, dataclasses.replace(n, order=tuple(keys))), "flip a sort key"
    if what == "key" or what == "flip":
        field = rng.choice(KEY_FIELDS)
        key = ast.SortKey(ast.Field(var, field), rng.random() < 0.5)
        new = dataclasses.replace(n, order=(*n.order, key)[-2:])
        return replace_node(p, n, new), f"order by .{field}"
    if what == "where":
        cond = ast.Compare(">=", ast.Field(var, "reads"), ast.IntLit(rng.randint(1, 4)))
        new_where = cond if n.where is None else ast.BoolOp("and", n.where, cond)
        return replace_node(p, n, dataclasses.replace(n, where=new_where)), "add a `where`"
    lim = ast.IntLit(rng.randint(0, 3))
    return replace_node(p, n, dataclasses.replace(n, limit=lim)), f"limit {lim.value}"


def _stmt_tuples(p: ast.Program) -> list[tuple[ast.Stmt, ...]]:
    out: list[tuple[ast.Stmt, ...]] = []
    for blk in (p.init, p.round, p.final):
        if blk is None:
            continue
        out.append(blk.body)
        for n in walk(blk):
            if isinstance(n, ast.If):
                out += [body for _, body in n.arms]
                if n.orelse:
                    out.append(n.orelse)
            elif isinstance(n, ast.For | ast.Repeat):
                out.append(n.body)
    return [t for t in out if t]


def _replace_tuple(p: ast.Program, old: tuple[Any, ...], new: tuple[Any, ...]) -> ast.Program:
    return rebuild(p, lambda cur: new if cur is old else None)


def edit_statements(p: ast.Program, rng: random.Random) -> Edit:
    """Drop, swap, repeat twice or negate the guard of a statement."""
    tuples = _stmt_tuples(p)
    if not tuples:
        return None
    body = rng.choice(tuples)
    i = rng.randrange(len(body))
    what = rng.choice(("drop", "swap", "repeat", "negate"))
    if what == "drop":
        return _replace_tuple(p, body, body[:i] + body[i + 1 :]), "drop a statement"
    if what == "swap" and len(body) >= 2:
        j = min(i, len(body) - 2)
        swapped = (*body[:j], body[j + 1], body[j], *body[j + 2 :])
        return _replace_tuple(p, body, swapped), "swap two statements"
    if what == "negate" and isinstance(body[i], ast.If):
        s = body[i]
        (cond, arm), *rest = s.arms
        new_if = dataclasses.replace(s, arms=((ast.Unary("not", cond), arm), *rest))
        return replace_node(p, s, new_if), "negate a guard"
    wrapped = ast.Repeat(ast.IntLit(2), (body[i],))
    return _replace_tuple(p, body, (*body[:i], wrapped, *body[i + 1 :])), "repeat 2 { ... }"


# Statements with no free names, inserted anywhere (`stop` is rejected outside `round`).
SNIPPETS = (
    "spawn 1",
    "read_full 2",
    "stop",
    "for b in running where b.reads > 2 order by b.spent desc limit 1 { prune b }",
    "for b in alive order by b.finished, b.index desc limit 2 { if not b.finished { step b } }",
    "if count(completed) >= 3 and conf(completed) > 0.9 { answer winner(completed) }",
    "repeat 2 { for b in running where b.answer != winner(answers(alive)) limit 1 { step b } }",
    "if share(answers(alive), winner(votes(alive))) > 0.75 { answer winner(answers(alive)) }",
)


@cache
def snippet(text: str) -> ast.Stmt:
    program = parse(f"controller s\nround {{ {text} }}\nfinally {{ answer none }}\n")
    assert program.round is not None
    (stmt,) = program.round.body
    return stmt


def edit_insert(p: ast.Program, rng: random.Random) -> Edit:
    tuples = _stmt_tuples(p)
    if not tuples:
        return None
    body = rng.choice(tuples)
    i = rng.randint(0, len(body))
    text = rng.choice(SNIPPETS)
    return _replace_tuple(p, body, (*body[:i], snippet(text), *body[i:])), f"insert `{text}`"


@cache
def stdlib_program(name: str) -> ast.Program:
    return load_program(name).program


def base_program(name: str) -> ast.Program:
    """A stdlib program, or one of the corner programs above."""
    return corner(name).program if name in CORNERS else stdlib_program(name)


BASES = STDLIB + tuple(sorted(CORNERS))


def edit_search(p: ast.Program, rng: random.Random) -> Edit:
    """The offline proposer's operators (knobs, params, gates, aggregators, crossover)."""
    donor = stdlib_program(rng.choice(STDLIB)) if rng.random() < 0.5 else None
    got = mutate(p, rng, donor)
    return None if got is None else (got.program, f"{got.op}: {got.change}")


EDITS: tuple[tuple[Callable[[ast.Program, random.Random], Edit], int], ...] = (
    (edit_search, 4),
    (edit_set, 2),
    (edit_compare, 2),
    (edit_boolop, 1),
    (edit_arith, 2),
    (edit_literal, 2),
    (edit_call, 2),
    (edit_order, 2),
    (edit_statements, 3),
    (edit_insert, 2),
)


def checked(program: ast.Program, beta: float, label: str) -> ProgramRunner | None:
    """The program as text, parsed back, if the reference compiler accepts it at β."""
    source = format_program(program)
    try:
        runner = runner_of(source, label)
        runner.compile(beta)
    except DiagnosticError:
        return None
    return runner


def variant(name: str, seed: int, steps: int, beta: float) -> tuple[ProgramRunner, list[str]]:
    """`steps` random edits of a base program, each kept only if the result compiles."""
    rng = random.Random(seed)
    program = base_program(name)
    runner = checked(program, beta, f"{name}-variant.tts")
    assert runner is not None
    changes: list[str] = []
    for _ in range(steps):
        for _attempt in range(12):
            edit = rng.choices([e for e, _ in EDITS], weights=[w for _, w in EDITS])[0]
            got = edit(program, rng)
            if got is None:
                continue
            candidate = checked(got[0], beta, f"{name}-variant.tts")
            if candidate is not None:
                program, runner = got[0], candidate
                changes.append(f"{edit.__name__}: {got[1]}")
                break
    return runner, changes


VARIANTS = settings(
    max_examples=int(50 * SCALE),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@VARIANTS
@given(
    name=st.sampled_from(BASES),
    seed=st.integers(0, 2**32 - 1),
    steps=st.integers(1, 4),
    beta=st.sampled_from(BETAS),
    store=st.sampled_from(sorted(STORES)),
)
def test_variants_vm_matches_reference(
    name: str, seed: int, steps: int, beta: float, store: str
) -> None:
    runner, changes = variant(name, seed, steps, beta)
    assume(changes)
    assert_same(runner, STORES[store](), beta, "vm", seeds=(0, 1))


def test_edits_make_varied_valid_programs() -> None:
    """The variant generator is not vacuous: most draws change the program,
    and every kind of edit gets through the compiler some of the time."""
    kinds: set[str] = set()
    changed = 0
    for seed in range(40):
        _, changes = variant(BASES[seed % len(BASES)], seed, 3, 0.5)
        changed += bool(changes)
        kinds |= {c.split(":")[0] for c in changes}
    assert changed >= 36
    assert kinds == {e.__name__ for e, _ in EDITS}


# ---------------------------------------------------------------- 4. faults

# One program, one fault per `mode` (a param: one compile serves them all).
FAULTS = """
controller faults
params { mode : int = 0  fuel_cap : int = 1000000 }
limits { fuel = fuel_cap }
state { r2: float = 0.0 }
init { spawn 3 }
round {
  for b in running { step b }
  let n = count(completed)
  if mode == 1 and round == 9 and n == 1 { r2 = 1 / (n - 1) }
  if mode == 2 and round >= 5 { r2 = log(n) }
  if mode == 3 and round >= 3 {
    let s = alive
    for b in s where b.reads >= 4 and b.answer != winner(answers(alive)) { prune b }
    for b in s where not b.finished { step b }
  }
  if mode == 4 { for b in running { step b times 2 } }
  # declined (a round beyond 2**62, inside int64): replayed episodes
  if mode == 5 and n >= 2 { r2 = round(exp(42.5 + 0.25 * min(n, 2))) % 7 }
  if mode == 5 and round == 20 and n == 2 { r2 = 1 // (n - 2) }  # ... before the fault
  if mode == 6 { repeat 5 * round { r2 = r2 + 1 } }
  if mode == 7 and round == 12 { r2 = 5.5 % (n - 1) }
  if mode == 8 and round == 6 { r2 = sqrt(n - 2.5) }
  if mode == 9 and round == 4 { r2 = exp(700.0 + 4 * count(running)) }
  if mode == 10 and round == 7 { r2 = pow(n - 1, -1) }
  if mode == 12 and round == 2 { r2 = round(1e308 * (10.0 + n)) }  # round(inf)
  # the fuel left here in round 0 is fuel_cap - 3 (spawn) - 1 (the round) - 3
  # (`for` iterations) - 3 (reads) when no branch finished on its opening read:
  # mode 13 uses it up exactly, mode 14 asks one more
  if (mode == 13 or mode == 14) and round == 0 {
    repeat fuel_cap - 23 + mode { r2 = r2 + 1 }
    stop
  }
  # mode 15 leaves no fuel for round 1 to start; mode 16 leaves 2 for a `for`
  # over the 3 alive branches
  if mode == 15 and round == 0 { repeat fuel_cap - 10 { r2 = r2 + 1 } }
  if mode == 16 and round == 0 {
    repeat fuel_cap - 12 { r2 = r2 + 1 }
    for b in alive { r2 = r2 + 1 }
  }
  if count(running) == 0 { stop }
}
finally {
  if mode != 11 or count(completed) > 3 { answer winner(completed) ?? winner(answers(alive)) }
}
"""

FAULT_MODES = {
    1: "division by zero in `/`",
    2: "`log` failed",
    3: "`step` on branch",
    4: "`step ... times 2` exceeds the remaining fuel",
    5: "division by zero in `//`",
    6: "`repeat 20` exceeds the remaining fuel",
    7: "division by zero in `%`",
    8: "`sqrt` failed",
    9: "`exp` failed",
    10: "`pow` failed",
    11: "`finally` finished without answering",
    14: "`repeat 91` exceeds the remaining fuel",
    15: "out of fuel",
    16: "`for` over 3 branches exceeds the remaining fuel",
}


def fault_params(mode: int) -> dict[str, int]:
    fuel = {4: 80, 6: 80, 13: 100, 14: 100, 15: 100, 16: 100}
    return {"mode": mode, "fuel_cap": fuel[mode]} if mode in fuel else {"mode": mode}


@cache
def faults() -> ProgramRunner:
    return runner_of(FAULTS, "faults.tts")


@pytest.mark.parametrize("mode", sorted(FAULT_MODES))
def test_faults_are_the_reference_faults(mode: int) -> None:
    runner = faults()
    params = fault_params(mode)
    ref = outcome(runner, default_store(), 0.5, "reference", params, SEEDS)
    assert isinstance(ref, EpisodeFault), f"mode {mode} does not fault: {ref!r}"
    assert FAULT_MODES[mode] in str(ref)
    assert str(ref).startswith("faults.tts:")
    assert_same(runner, default_store(), 0.5, "vm", params, ref=ref)


@pytest.mark.parametrize("mode", [0, 13])
def test_faults_program_without_a_fault(mode: int) -> None:
    got = assert_same(faults(), default_store(), 0.5, "vm", fault_params(mode))
    assert isinstance(got, Evaluation) and got.reruns == 0


def test_some_faults_come_late() -> None:
    """Faults past the first episode: the VM must replay the right one."""
    late = []
    for mode in FAULT_MODES:
        ref = outcome(faults(), default_store(), 0.5, "reference", fault_params(mode), SEEDS)
        assert isinstance(ref, EpisodeFault)
        if (ref.question, ref.seed) != (0, 0):
            late.append(mode)
    assert len(late) >= 3, late


def test_overflowing_round_raises_what_the_reference_raises() -> None:
    """`round` of an infinite value (mode 12): a located fault (this test found
    it was a bare OverflowError), the same from every backend."""
    ref = outcome(faults(), default_store(), 0.5, "reference", {"mode": 12}, SEEDS)
    assert isinstance(ref, EpisodeFault), ref
    assert "`round` failed" in str(ref) and "question" in str(ref)
    assert_same(faults(), default_store(), 0.5, "vm", {"mode": 12}, ref=ref)


# ---------------------------------------------------------------- 5. the fallback

# Values the VM declines to compute (`round(x, n)`, `round` of a float
# beyond int64): those episodes are replayed by the reference.
DECLINED = """
controller declined
params { what : int = 1 }
state { r: float = 0.0 }
init { spawn 3 }
round {
  for b in running { step b }
  let c = conf(completed)
  if what == 1 and count(completed) >= 2 and c > 0.6 { r = round(c, 2) }
  if what == 2 and count(completed) >= 2 and c > 0.6 { r = round(exp(41 + 2.5 * c)) % 999 / 999 }
  if r >= 0.9 or r > 0.0 and r < 0.3 { answer winner(completed) }
  if count(running) == 0 { stop }
}
finally { answer winner(completed) ?? winner(answers(alive)) }
"""


@pytest.mark.parametrize("what", [1, 2], ids=["round_n", "huge_round"])
def test_declined_episodes_are_replayed(what: int) -> None:
    runner = runner_of(DECLINED, "declined.tts")
    got = assert_same(runner, default_store(), 0.5, "vm", {"what": what})
    assert isinstance(got, Evaluation)
    n = len(got.answer)
    assert 0 < got.reruns < n, f"{got.reruns} of {n} episodes replayed"


# Sort keys from an int field beyond 2^53 (the gathering KEYR instruction):
# 2^53 + 1 and 2^53 are one double, so the VM cannot order them and must
# hand those episodes back.
HUGE_KEYS = """
controller huge_keys
branch { big: int = 0 }
init { spawn 4 }
round {
  for b in running { b.big = 9007199254740993 - (b.index + round) % 2 }
  rule first: for b in running order by b.big limit 2 do step b
  rule rest: for b in running order by b.reads desc, b.index do step b
  if count(completed) >= 3 { answer winner(completed) }
  if count(running) == 0 { stop }
}
finally { answer winner(completed) ?? winner(answers(alive)) }
"""


def test_sort_keys_beyond_exact_doubles_are_replayed() -> None:
    runner = runner_of(HUGE_KEYS, "huge_keys.tts")
    got = assert_same(runner, default_store(), 0.5, "vm")
    assert isinstance(got, Evaluation)
    assert got.reruns == len(got.answer), f"{got.reruns} of {len(got.answer)} replayed"


# Sort keys from a float field (the gathering KEYQ instruction), over a set
# that skips branches (finished ones leave `running`), so a gather that
# ignored the set would be caught.
FLOAT_KEYS = """
controller float_keys
branch { score: float = 0.0 }
init { spawn 6 }
round {
  for b in running { b.score = ((b.reads * 7 + b.index * 3) % 5) / 5.0 }
  rule best: for b in running order by b.score desc limit 2 do step b
  if round % 3 == 0 {
    rule trim: for b in running order by b.score, b.index desc limit 1 do prune b
  }
  if count(completed) >= 3 { answer winner(completed) }
  if count(running) == 0 { stop }
}
finally { answer winner(completed) ?? winner(answers(alive)) }
"""


def test_float_field_sort_keys_match_the_reference() -> None:
    runner = runner_of(FLOAT_KEYS, "float_keys.tts")
    got = assert_same(runner, default_store(), 0.5, "vm")
    assert isinstance(got, Evaluation) and got.reruns == 0


UNCOVERED = {
    "set_choice": "let s = round % 2 == 0 ? running : alive\n  for b in s { step b }",
}
COVERED = {
    # 5e18 fits int64 (the numba backend once declined literals beyond 2**62)
    "big_literal": "let x = 5000000000000000000 + count(alive)\n  if x < 0 { answer none }",
}


def uncovered_source(body: str) -> str:
    return f"""
controller uncovered
init {{ spawn 3 }}
round {{
  {body}
  if round >= 5 or count(running) == 0 {{ stop }}
}}
finally {{ answer winner(completed) ?? winner(answers(alive)) }}
"""


@pytest.mark.parametrize("what", sorted(UNCOVERED))
def test_uncovered_programs_run_on_the_reference(what: str) -> None:
    runner = runner_of(uncovered_source(UNCOVERED[what]), f"{what}.tts")
    runner.compile(0.5)  # the reference accepts it
    got = assert_same(runner, default_store(), 0.5, "auto")
    assert isinstance(got, Evaluation) and got.backend == "reference"
    with pytest.raises(BackendError, match="not covered by the VM"):
        runner.evaluate(default_store(), 0.5, seeds=SEEDS, backend="vm")


@pytest.mark.parametrize("what", sorted(COVERED))
def test_covered_corners_run_on_the_vm(what: str) -> None:
    runner = runner_of(uncovered_source(COVERED[what]), f"{what}.tts")
    got = assert_same(runner, default_store(), 0.5, "vm")
    assert isinstance(got, Evaluation) and got.reruns == 0


# ---------------------------------------------------------------- big ints

# Ints of the language are Python ints; the VM holds them in int64 and
# compares / sorts them as float64 only when that is exact. Each program
# answers `none` exactly where a careless int64/float64 engine would differ:
# the VM hands those episodes to the reference.
BIG_INTS = """
controller big_ints
params { case : int = 0 }
state { x: int = 1  pick: int = -1  r: float = 0.0 }
init { spawn 3 }
round {
  if case == 1 {
    x = x * 1000 + 1  # 1.001e21 in round 6
    if x // 1000000000000000000 > 100 { answer none }
  }
  if case == 2 {
    for b in alive order by 1000000000000000000 + b.index desc limit 1 { pick = b.index }
    if pick != count(alive) - 1 { answer none }
  }
  if case == 3 {
    let y = 4503599627370496 * 2 + count(alive) - 2  # 2**53 + 1
    if y > 9007199254740992.0 { answer none }
  }
  if case == 4 {
    r = round(1.0 + count(alive), -4611686018427387903 - count(alive))
    if r > 0.5 { answer none }
  }
  if round >= 8 { stop }
}
finally { answer winner(answers(alive)) }
"""

# case: what an int64/float64 engine would get wrong
BIG_INT_CASES = {
    2: "`order by` keys as float64: distinct ints beyond 2**53 tie",
    3: "an int compared with a float converted to float64 (Python compares exactly)",
}


def test_int_overflow_is_the_reference_fault() -> None:
    """Case 1 (`x * 1000 + 1` beyond int64): ints are 64-bit and the result
    outside the range is a located fault; the VM's checked arithmetic hands
    the episode to the reference, which raises it."""
    runner = runner_of(BIG_INTS, "big_ints.tts")
    ref = outcome(runner, default_store(), 0.5, "reference", {"case": 1}, SEEDS)
    assert isinstance(ref, EpisodeFault) and "integer overflow in `*`" in str(ref)
    assert_same(runner, default_store(), 0.5, "vm", {"case": 1}, ref=ref)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("let x = 50000000000000000000 + count(alive)", "E118"),  # a literal past int64
        ("let x = 3037000500 * 3037000500 * 2 + count(alive)", "E112"),  # constant overflow
    ],
    ids=["huge_literal", "big_constant"],
)
def test_ints_beyond_64_bits_do_not_compile(body: str, code: str) -> None:
    """Once uncovered programs the VM left to the reference; ints are 64-bit
    now, so both are located errors before anything runs."""
    runner = runner_of(uncovered_source(f"{body}\n  if x < 0 {{ answer none }}"), "big.tts")
    with pytest.raises(DiagnosticError) as err:
        runner.compile(0.5)
    assert [d.code for d in err.value.diagnostics] == [code]


def test_round_to_hugely_negative_digits_is_replayed() -> None:
    runner = runner_of(BIG_INTS, "big_ints.tts")
    got = assert_same(runner, default_store(), 0.5, "vm", {"case": 4})
    assert isinstance(got, Evaluation) and got.reruns > 0


def test_big_ints_program_without_a_case() -> None:
    runner = runner_of(BIG_INTS, "big_ints.tts")
    got = assert_same(runner, default_store(), 0.5, "vm", {"case": 0})
    assert isinstance(got, Evaluation) and got.reruns == 0


@pytest.mark.parametrize("case", sorted(BIG_INT_CASES))
def test_big_int_arithmetic_is_replayed_exactly(case: int) -> None:
    """An int64/float64 engine would answer `none` in each case; the VM agrees
    with the reference episode for episode by handing those episodes back."""
    runner = runner_of(BIG_INTS, "big_ints.tts")
    got = assert_same(runner, default_store(), 0.5, "vm", {"case": case})
    assert isinstance(got, Evaluation) and got.reruns > 0
