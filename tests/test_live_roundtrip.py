"""Round trip: collecting from serve-replay with a store's own N and interval
gives the store back, byte for byte (every probe answer, length and final
answer), on the shared AutoTTS stores and on generated ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.live.equivalence import make_rule
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.live.storefile import intern_record, read_meta
from autotts_dsl.replay.store import store_from_records
from tests.support.live import collect_from, sub_records, tiny_records
from tests.support.shared import DATASETS, MODELS


def _serve(records: list[dict[str, Any]], **kw: Any) -> ReplayServer:
    return ReplayServer(store_from_records(records, name="sub"), **kw).start()


def _branch_mix(rec: dict[str, Any], k: int) -> list[int]:
    """Up to k branches covering the three shapes of the real stores: probes past
    the trace end, ending within one interval of it, and far short of it."""
    d = rec["probe_freq"]
    kinds: dict[str, int] = {}
    for b, (probes, tokens, _) in enumerate(rec["each_branch"]):
        gap = tokens - len(probes) * d
        kinds.setdefault("over" if gap < 0 else "floor" if gap < d else "short", b)
    picked = sorted(kinds.values())[:k]
    return picked


def _roundtrip(tmp_path: Path, records: list[dict[str, Any]], **kw: Any) -> str:
    server = _serve(records, tokenize_endpoint=kw.pop("tokenize_endpoint", True))
    try:
        out = tmp_path / "collected.json"
        collect_from(server, records, out, **kw)
    finally:
        server.stop()
    return out.read_text()


@pytest.mark.shared
def test_shared_subset_ids_mode(shared_dir: Path, tmp_path: Path) -> None:
    path = shared_dir / "replay/autotts/Qwen3-8B/aime24.json"
    raw = json.loads(path.read_text())
    records = [sub_records(path, [q], _branch_mix(raw[q], 3))[0] for q in (1, 4)]
    shapes = {len(r["each_branch"]) for r in records}
    assert shapes == {3}, "the subset must hold all three branch shapes"
    got = _roundtrip(tmp_path, records, tokens="ids")
    assert got == json.dumps(records, indent=2)
    meta = read_meta(tmp_path / "collected.json")
    assert meta is not None and meta["tokens"] == "ids" and meta["interval"] == 500


@pytest.mark.shared
def test_shared_subset_text_mode(shared_dir: Path, tmp_path: Path) -> None:
    """A server without /tokenize: the trace is cut in its token texts."""
    path = shared_dir / "replay/autotts/Qwen3-4B/hmmt25.json"
    raw = json.loads(path.read_text())
    short = sorted(range(128), key=lambda b: raw[3]["each_branch"][b][1])[:3]
    records = sub_records(path, [3], short)
    got = _roundtrip(tmp_path, records, tokens="auto", tokenize_endpoint=False)
    assert got == json.dumps(records, indent=2)
    meta = read_meta(tmp_path / "collected.json")
    assert meta is not None and meta["tokens"] == "text"


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    interval=st.sampled_from([1, 2, 5, 16]),
    batch=st.sampled_from([1, 3, 8]),
)
def test_generated_stores_round_trip(tmp_path: Path, seed: int, interval: int, batch: int) -> None:
    records = tiny_records(seed, n_q=2, n_b=3, interval=max(2, interval))
    out = tmp_path / f"rt-{seed}-{interval}-{batch}"
    out.mkdir()
    got = _roundtrip(out, records, probe_batch=batch)
    assert got == json.dumps(records, indent=2)


@pytest.mark.shared
def test_math_equivalence_interns_what_exact_keeps(shared_dir: Path, tmp_path: Path) -> None:
    """Differential: a math-verify collection equals the exact one interned afterwards,
    and it merges strings the exact one keeps apart (`2^{10}` and `1024`-like pairs)."""
    path = shared_dir / "replay/autotts/Qwen3-8B/aime24.json"
    records = sub_records(path, [29], list(range(6)))
    got = json.loads(_roundtrip(tmp_path, records, equivalence="math-verify"))
    rule = make_rule("math-verify")
    expected = [intern_record(rule, r)[0] for r in records]
    assert got == expected
    meta = read_meta(tmp_path / "collected.json")
    assert meta is not None and meta["equivalence"]["rule"] == "math-verify"
    assert meta["equivalence"]["merged_strings"] == sum(intern_record(rule, r)[1] for r in records)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_all_twelve_stores_round_trip(
    shared_dir: Path, tmp_path: Path, model: str, dataset: str
) -> None:
    """Every question of every shared store, three branches each (one of each
    shape where the question has it): the probe payloads grow with the square
    of a trace's length, so all 128 branches would send ~1.3 G prompt tokens per store."""
    path = shared_dir / "replay/autotts" / model / f"{dataset}.json"
    raw = json.loads(path.read_text())
    records = []
    for q in range(len(raw)):
        picked = _branch_mix(raw[q], 3)
        while len(picked) < 3:
            picked.append(next(b for b in range(128) if b not in picked))
        records.append(sub_records(path, [q], sorted(picked))[0])
    got = _roundtrip(tmp_path, records, concurrency=8, probe_batch=16)
    assert got == json.dumps(records, indent=2)


@pytest.mark.shared
@pytest.mark.slow
def test_every_branch_of_every_store_through_the_model(shared_store: Any) -> None:
    """All 46,080 branches, without HTTP: serve-replay's token stream, cut by the
    collection rule and probed at each boundary, gives back every stored probe
    answer, length and final answer (the HTTP round trip above covers 3 per question)."""
    from autotts_dsl.live import segments
    from autotts_dsl.live.answers import answer_text, extract_boxed
    from autotts_dsl.live.replay_model import THINK_ID, ReplayModel

    for model_name in MODELS:
        for dataset in DATASETS:
            store = shared_store(model_name, dataset)
            model = ReplayModel(store)
            v = store.vocab
            for qi, q in enumerate(store.questions):
                for b in range(q.n_branches):
                    ids = model.stream(qi, b)
                    assert len(ids) == q.tokens[b]
                    r = segments.reasoning_length_ids(ids, [THINK_ID])
                    got = [
                        model.answer_at(qi, b, p) for p in segments.probe_prefixes(r, q.interval)
                    ]
                    assert got == [v[a] for a in q.probes[b]], (store.name, qi, b)
                    tail = model.detokenize(ids[-1:])
                    assert answer_text(extract_boxed(tail, stopped=True)) == v[q.finals[b]]
