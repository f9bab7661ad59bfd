"""The stdlib DSL programs reproduce the published AutoTTS numbers exactly.

Fast subset in the default run; under `-m slow` (run by CI) the whole of
`aime24_published.csv` (104 rows) on the VM, a row of every controller ×
model on the reference interpreter, and the episode-by-episode differential
test against the seed's Python CMC on all 12 shared stores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from autotts_dsl.replay.compat import evaluate_autotts
from autotts_dsl.replay.protocol import Evaluation
from autotts_dsl.replay.store import ReplayStore
from tests.support.conformance import StoreLoader, check_rows, runner, select
from tests.support.shared import DATASETS, MODELS

CONTROLLERS = ("cmc", "asc", "esc", "parallel_probe")


def row_config(params: str) -> tuple[float, dict[str, Any]]:
    """`beta=0.5` or `max_samples=16;threshold=0.95` → (β, --param overrides).

    Baselines are run at β = 1 with their published configuration pinned."""
    kv = dict(item.split("=", 1) for item in params.split(";"))
    beta = float(kv.pop("beta", 1.0))
    return beta, dict(kv)


def published(row: Any) -> tuple[float, dict[str, Any], str]:
    beta, params = row_config(str(row.params))
    return beta, params, str(row.params)


FAST_ROWS = [
    ("Qwen3-8B", "cmc", "beta=0.0"),
    ("Qwen3-8B", "cmc", "beta=0.5"),
    ("Qwen3-0.6B", "cmc", "beta=1.0"),
    ("Qwen3-4B", "asc", "max_samples=8;threshold=0.95"),
    ("Qwen3-1.7B", "esc", "max_samples=16;window_size=8"),
    (
        "Qwen3-8B",
        "parallel_probe",
        "num_chains=8;T=40;prune_patience=7;warm_up=15;probe_burst=1;max_steps=100",
    ),
]


# The VM on every fast row; the reference interpreter (about 50x slower) on the
# cheap ones here, and on all 104 rows under `-m slow`.
FAST_CASES = [
    *[pytest.param(*row, "vm", marks=pytest.mark.vm) for row in FAST_ROWS],
    *[(*row, "reference") for row in FAST_ROWS if row[1] in ("asc", "esc")],
    (*FAST_ROWS[0], "reference"),
]


@pytest.mark.shared
@pytest.mark.parametrize(("model", "controller", "params", "backend"), FAST_CASES)
def test_published_row_fast(
    model: str,
    controller: str,
    params: str,
    published_aime24: pd.DataFrame,
    shared_store: StoreLoader,
    backend: str,
) -> None:
    rows = published_aime24[
        (published_aime24.model == model)
        & (published_aime24.controller == controller)
        & (published_aime24.params == params)
    ]
    assert len(rows) == 1
    check_rows(rows, shared_store, backend, published)


@pytest.mark.shared
def test_published_table_has_104_rows(published_aime24: pd.DataFrame) -> None:
    # Guards the slow suite against silently checking fewer rows.
    assert len(published_aime24) == 104
    assert set(published_aime24.controller) == set(CONTROLLERS)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.vm
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_published_rows_all(
    controller: str, model: str, published_aime24: pd.DataFrame, shared_store: StoreLoader
) -> None:
    check_rows(select(published_aime24, controller, model), shared_store, "vm", published)


# The reference interpreter (about 50x slower than the VM) on the first row of
# every controller × model: it agrees with the VM episode for episode on every
# stdlib program in tests/test_vm_differential.py and on CMC over all twelve
# stores below, so all 104 rows on it would repeat that at an hour of CPU.
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_published_rows_reference_sample(
    controller: str, model: str, published_aime24: pd.DataFrame, shared_store: StoreLoader
) -> None:
    rows = select(published_aime24, controller, model)
    check_rows(rows.head(1), shared_store, "reference", published)


def assert_same_episodes(
    store: ReplayStore,
    beta: float,
    seed_cmc_class: type,
    seeds: range,
    backends: tuple[str, ...] = ("vm", "reference"),
) -> None:
    ref = evaluate_autotts(store, seed_cmc_class({"beta": beta}), seeds)
    engines = []
    for backend in backends:
        dsl = runner("cmc").evaluate(store, beta, seeds=seeds, backend=backend)
        assert dsl.backend == backend and dsl.reruns == 0
        assert_same(store, beta, dsl, ref)
        engines.append(dsl)
    fast, *others = engines
    for slow in others:
        for column in ("answer", "cost", "seq_cost", "opened", "reads"):
            assert np.array_equal(getattr(fast, column), getattr(slow, column)), column


def assert_same(store: ReplayStore, beta: float, dsl: Evaluation, ref: Evaluation) -> None:
    diff = np.flatnonzero((dsl.answer != ref.answer) | (dsl.cost != ref.cost))
    assert diff.size == 0, (
        f"{store.name} β={beta}: {diff.size} episodes differ, first at episode {diff[0]} "
        f"(seed {dsl.seed_column[diff[0]]}, question {dsl.question_column[diff[0]]}): "
        f"dsl answer/cost {dsl.answer[diff[0]]}/{dsl.cost[diff[0]]}, "
        f"seed {ref.answer[diff[0]]}/{ref.cost[diff[0]]}"
    )
    assert dsl.reads.sum() == ref.reads.sum()


@pytest.mark.shared
def test_differential_cmc_fast(seed_cmc_class: type, shared_store: StoreLoader) -> None:
    assert_same_episodes(shared_store("Qwen3-0.6B", "hmmt25"), 0.7, seed_cmc_class, range(10))


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_differential_cmc_all_stores(
    model: str, dataset: str, beta: float, seed_cmc_class: type, shared_store: StoreLoader
) -> None:
    """Episode for episode (25 seeds × every question: 750–900 episodes a
    cell) the seed's Python CMC and the VM; the reference interpreter too at
    β = 0.5 (the published rows check 100 seeds)."""
    backends = ("vm", "reference") if beta == 0.5 else ("vm",)
    assert_same_episodes(shared_store(model, dataset), beta, seed_cmc_class, range(25), backends)
