"""The synthetic store simulator and the embedded default store."""

from __future__ import annotations

import gzip
import json
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.replay import make_default_store
from autotts_dsl.replay.registry import default_store, summarize_store
from autotts_dsl.replay.store import load_store, store_from_records, store_to_records
from autotts_dsl.replay.synthetic import (
    DEFAULT_STORE_PATH,
    SYNTHETIC_MARKER,
    default_store_bytes,
    encode_records,
    simulate_records,
    simulate_store,
)
from autotts_dsl.replay.voting import winner


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return simulate_records()


def _branches(recs: list[dict[str, Any]]) -> list[tuple[list[str], int, str, int]]:
    return [(p, t, f, r["probe_freq"]) for r in recs for p, t, f in r["each_branch"]]


# -- determinism and schema ---------------------------------------------------------


def test_same_seed_same_records() -> None:
    assert simulate_records(4, 16, seed=7) == simulate_records(4, 16, seed=7)
    assert encode_records(simulate_records(4, 16, seed=7)) == encode_records(
        simulate_records(4, 16, seed=7)
    )


def test_different_seeds_differ() -> None:
    assert simulate_records(4, 16, seed=1) != simulate_records(4, 16, seed=2)


def test_independent_of_global_random_state() -> None:
    random.seed(123)
    a = simulate_records(3, 8, seed=5)
    random.seed(456)
    assert simulate_records(3, 8, seed=5) == a


@pytest.mark.parametrize("interval", [500, 250, 1000])
def test_schema_valid(interval: int) -> None:
    recs = simulate_records(6, 20, seed=3, interval=interval)
    store = store_from_records(recs, name="t", synthetic=True)
    assert len(store) == 6
    assert all(q.n_branches == 20 and q.interval == interval for q in store.questions)
    assert store_to_records(store) == recs  # a lossless round trip
    for rec in recs:
        assert set(rec) == {
            "question",
            "gold_answer",
            "probe_freq",
            "final_answers_trace",
            "each_branch",
        }
        assert rec["question"].startswith(SYNTHETIC_MARKER)
        assert rec["final_answers_trace"] == [b[2] for b in rec["each_branch"]]
    for probes, tokens, final, iv in _branches(recs):
        assert probes, "every trace has at least one probe"
        assert probes[-1] == final  # as in every real store
        # Probes may run past the trace end, but never by a whole interval.
        assert len(probes) * iv - tokens < iv
        assert tokens >= 1000


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        simulate_records(0)
    with pytest.raises(ValueError):
        simulate_records(interval=0)


def test_simulate_store_is_flagged_synthetic() -> None:
    store = simulate_store(3, 8, seed=0)
    assert store.synthetic
    assert store.name == "synthetic/seed0"
    assert simulate_store().name == "synthetic/default"


# -- the shipped default store --------------------------------------------------------


def test_default_store_small() -> None:
    assert DEFAULT_STORE_PATH.is_file()
    assert DEFAULT_STORE_PATH.stat().st_size < 2 * 1024 * 1024


def test_default_store_equals_regeneration() -> None:
    shipped = gzip.decompress(DEFAULT_STORE_PATH.read_bytes())
    # Compare the JSON, not the deflate stream: another zlib build may
    # compress the same bytes differently.
    assert shipped == gzip.decompress(default_store_bytes())
    assert make_default_store.main(["--check"]) == 0


def test_regeneration_byte_identical(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    assert make_default_store.main(["--out", str(a)]) == 0
    assert make_default_store.main(["--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    # A fixed gzip header (no mtime, name or OS), the same as the shipped file's.
    assert a.read_bytes()[:10] == DEFAULT_STORE_PATH.read_bytes()[:10]
    assert a.read_bytes()[4:8] == b"\0\0\0\0"
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(DEFAULT_STORE_PATH.read_bytes())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_check_detects_drift(tmp_path: Path) -> None:
    out = tmp_path / "d.json.gz"
    out.write_bytes(encode_records(simulate_records(2, 2)))
    assert make_default_store.main(["--check", "--out", str(out)]) == 1
    assert make_default_store.main(["--check", "--out", str(tmp_path / "none.gz")]) == 1


def test_default_store_loads(records: list[dict[str, Any]]) -> None:
    store = default_store()
    assert store.synthetic
    assert store.name == "synthetic/default"
    assert len(store) == 30
    assert all(q.n_branches == 128 for q in store.questions)
    assert store_to_records(store) == records
    assert load_store(DEFAULT_STORE_PATH).content_hash == store.content_hash


# -- statistics in the intended ranges --------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_length_quirks_and_lengths(seed: int) -> None:
    s = summarize_store(simulate_store(seed=seed))
    # Real stores: 8–21 % of branches have probes past the end, 25–54 % fall
    # at least one interval short.
    assert 0.10 <= s.share_probes_over <= 0.25
    assert 0.25 <= s.share_probes_short <= 0.55
    assert 11_000 <= s.mean_branch_tokens <= 19_000


def test_length_distribution(records: list[dict[str, Any]]) -> None:
    tokens = sorted(t for _, t, _, _ in _branches(records))
    n = len(tokens)
    assert 2_500 <= tokens[n // 20] <= 6_000  # 5th percentile
    assert 28_000 <= tokens[19 * n // 20] <= 41_500  # 95th percentile
    assert max(tokens) <= 41_600  # generation cap plus the recorded overhead


def test_final_read_can_charge_thousands(records: list[dict[str, Any]]) -> None:
    gaps = [t - len(p) * iv for p, t, _, iv in _branches(records)]
    assert sum(g >= 2_000 for g in gaps) >= 50
    assert max(gaps) < 6_000


def test_difficulty_spread(records: list[dict[str, Any]]) -> None:
    acc = sorted(
        sum(f == r["gold_answer"] for _, _, f in r["each_branch"]) / len(r["each_branch"])
        for r in records
    )
    assert acc[0] < 0.05 and acc[-1] > 0.95
    assert sum(0.2 <= a <= 0.8 for a in acc) >= 5


def _sc_accuracy(rec: dict[str, Any], n: int, shuffles: int) -> float:
    finals = [b[2] for b in rec["each_branch"]]
    hits = 0
    for seed in range(shuffles):
        order = list(range(len(finals)))
        random.Random(seed).shuffle(order)
        hits += winner([finals[i] for i in order[:n]]) == rec["gold_answer"]
    return hits / shuffles


def test_majority_vote_varies_across_questions(records: list[dict[str, Any]]) -> None:
    sc64 = [_sc_accuracy(r, 64, 20) for r in records]
    assert sum(a >= 0.9 for a in sc64) >= 5
    assert sum(a <= 0.1 for a in sc64) >= 5
    assert any(0.1 < a < 0.9 for a in sc64)
    overall = statistics.mean(sc64)
    single = statistics.mean(_sc_accuracy(r, 1, 20) for r in records)
    assert 0.4 <= overall <= 0.85
    assert overall > single  # voting helps on average...
    # ...but an attractor beats gold on some question where gold is common.
    beaten = [
        r
        for r in records
        if winner([b[2] for b in r["each_branch"]]) != r["gold_answer"]
        and sum(b[2] == r["gold_answer"] for b in r["each_branch"]) >= 13
    ]
    assert beaten


def test_probes_converge_with_depth(records: list[dict[str, Any]]) -> None:
    bins = [[0, 0] for _ in range(5)]
    for probes, _, final, _ in _branches(records):
        for k, a in enumerate(probes):
            b = bins[5 * k // len(probes)]
            b[0] += a == final
            b[1] += 1
    share = [hit / total for hit, total in bins]
    assert share == sorted(share)
    assert share[0] < 0.2
    assert share[-1] > 0.7


def test_early_probes_are_noisy(records: list[dict[str, Any]]) -> None:
    first = [p[0] for p, _, _, _ in _branches(records) if len(p) > 4]
    placeholders = {"0", "1", "ERR", "100"}
    assert 0.15 <= sum(a in placeholders for a in first) / len(first) <= 0.6


def test_default_store_json_is_compact() -> None:
    payload = gzip.decompress(DEFAULT_STORE_PATH.read_bytes())
    assert b"\n" not in payload
    assert json.loads(payload)[0]["probe_freq"] == 500
