"""Online = offline: `infer` against `serve-replay STORE`, with the same seeds,
gives episode for episode the answers and charged tokens (total and
sequential), branches opened and reads that `run` gives on STORE — with
the look-ahead and without it, in token ids and in token texts, on the
shared AutoTTS stores (a fast subset here, more in the slow suite) and on
generated stores full of boundary cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.programs import load_program, stdlib_names
from autotts_dsl.replay.store import ReplayStore, store_from_records, store_to_records
from autotts_dsl.trace import evaluation_records
from tests.conftest import StoreLoader
from tests.support.infer import assert_same_as_replay, boundary_records, infer_on
from tests.support.live import POOL

STDLIB = tuple(stdlib_names())


def _check(
    store: ReplayStore,
    program: str,
    beta: float,
    picked: list[int],
    seeds: list[int],
    tmp: Path,
    **kw: object,
) -> None:
    ev = load_program(program).evaluate(store, beta, {}, seeds)
    with ReplayServer(store, tokenize_endpoint=kw.pop("tokenize_endpoint", True)) as server:  # type: ignore[arg-type]
        _, run = infer_on(server, store, program, beta, picked, seeds, tmp / "j", **kw)  # type: ignore[arg-type]
    assert_same_as_replay(store, ev, run, picked, seeds)


# -- generated stores: every shape the collection rule allows -------------------


GENERATED = given(
    seed=st.integers(0, 10**6),
    program=st.sampled_from(STDLIB),
    beta=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
    speculate=st.booleans(),
)


def _generated(tmp: Path, seed: int, program: str, beta: float, speculate: bool) -> None:
    rng = random.Random(seed)
    interval = rng.choice([2, 3, 8])
    records = boundary_records(rng, n_q=2, n_b=6, interval=interval, pool=POOL)
    store = store_from_records(records, name="boundary")
    _check(
        store,
        program,
        beta,
        [0, 1],
        rng.sample(range(100), 2),
        tmp,
        speculate=speculate,
        parallel=2,
    )


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@GENERATED
def test_generated_stores(
    tmp_path_factory: pytest.TempPathFactory, seed: int, program: str, beta: float, speculate: bool
) -> None:
    _generated(tmp_path_factory.mktemp("eq"), seed, program, beta, speculate)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@GENERATED
def test_generated_stores_more(
    tmp_path_factory: pytest.TempPathFactory, seed: int, program: str, beta: float, speculate: bool
) -> None:
    _generated(tmp_path_factory.mktemp("eq"), seed, program, beta, speculate)


def test_without_speculation_nothing_is_generated_unread(tmp_path: Path) -> None:
    """Asked only when read: every sampled token is read and every probe
    consumed (so with the look-ahead, unread tokens are speculation alone)."""
    rng = random.Random(7)
    store = store_from_records(
        boundary_records(rng, n_q=3, n_b=8, interval=4, pool=POOL), name="boundary"
    )
    with ReplayServer(store) as server:
        _, run = infer_on(
            server, store, "dgcc", 0.6, [0, 1, 2], [1], tmp_path / "j", speculate=False
        )
    for r in run.results:
        assert r["unread_tokens"] == 0 and r["unread_probes"] == 0, r
        assert r["generated_tokens"] == r["trace_tokens"] + r["probe_tokens"]


# -- the shared AutoTTS stores ----------------------------------------------------

# Questions of Qwen3-8B/aime24 with the shortest traces (mean 3.8k and 4.9k tokens):
# every read is a request, and the default suite has to stay fast.
FAST_QUESTIONS = [0, 24]
# The default suite keeps the two of README.md's latency table and ESC; the
# others, and more seeds, run under -m slow (test_shared_slow covers all nine).
FAST_CASES = [
    ("cmc", 0.5, [0]),
    ("sc", 1.0, [0]),  # SC@64: 64 whole traces per episode
    ("esc", 1.0, [0, 1]),
    pytest.param("cmc", 0.5, [1], marks=pytest.mark.slow),
    pytest.param("ibc", 0.2, [2], marks=pytest.mark.slow),
    pytest.param("parallel_probe", 0.5, [1], marks=pytest.mark.slow),
]


@pytest.mark.shared
@pytest.mark.parametrize(("program", "beta", "seeds"), FAST_CASES)
def test_shared_fast(
    shared_store: StoreLoader, tmp_path: Path, program: str, beta: float, seeds: list[int]
) -> None:
    store = shared_store("Qwen3-8B", "aime24")
    _check(store, program, beta, FAST_QUESTIONS, seeds, tmp_path)


def _one_question(store: ReplayStore, q: int) -> ReplayStore:
    """The store cut to question q (all its branches): served and replayed alike."""
    return store_from_records(store_to_records(store)[q : q + 1], name=f"{store.name}[{q}]")


@pytest.mark.shared
def test_shared_traces_are_runs_traces(shared_store: StoreLoader, tmp_path: Path) -> None:
    """The execution trace of each episode is `run --trace`'s, event for event."""
    store = _one_question(shared_store("Qwen3-8B", "aime24"), 24)
    runner = load_program("dgcc")
    traces: list[list[dict[str, object]]] = []
    ev = runner.evaluate(store, 0.4, {}, [3], traces=traces)
    (want,) = map(json.loads, evaluation_records(store, ev, traces, "full"))
    with ReplayServer(store) as server:
        inference, run = infer_on(server, store, "dgcc", 0.4, [0], [3], tmp_path / "j")
    (line,) = inference.trace_lines(run, "full")
    online = json.loads(line)
    assert online["store"] == inference.label
    for key in ("shuffle_seed", "answer", "is_correct", "cost", "seq_cost", "trace"):
        assert online[key] == want[key], key
    assert len(online["trace"]) > 20


@pytest.mark.shared
def test_shared_text_mode(shared_store: StoreLoader, tmp_path: Path) -> None:
    """A server without /tokenize: traces are continued and probed as text."""
    full = shared_store("Qwen3-4B", "hmmt25")
    shortest = min(range(len(full.questions)), key=lambda q: sum(full.questions[q].tokens))
    store = _one_question(full, shortest)
    _check(store, "cmc", 0.2, [0], [5], tmp_path, tokenize_endpoint=False)


@pytest.mark.shared
@pytest.mark.slow  # ~5 min on 2 loaded cores: every read is a request
@pytest.mark.parametrize("program", STDLIB)
@pytest.mark.parametrize(("model", "dataset"), [("Qwen3-8B", "aime24"), ("Qwen3-0.6B", "hmmt25")])
def test_shared_slow(
    shared_store: StoreLoader, tmp_path: Path, program: str, model: str, dataset: str
) -> None:
    """The shortest and the median question; each β with its own seed."""
    full = shared_store(model, dataset)
    by_length = sorted(range(len(full.questions)), key=lambda q: sum(full.questions[q].tokens))
    picked = sorted({by_length[0], by_length[len(by_length) // 2]})
    records = store_to_records(full)
    store = store_from_records([records[q] for q in picked], name=f"{full.name}{picked}")
    for beta, seed in ((0.0, 0), (0.5, 17), (1.0, 42)):
        _check(store, program, beta, [0, 1], [seed], tmp_path / f"b{beta}", parallel=2)
