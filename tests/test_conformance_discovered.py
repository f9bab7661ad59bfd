"""The discovery run in the stdlib: SDGV, IBC, SCR and DGCC reproduce their
published AutoTTS curves exactly.

`reference/discovery_aime24.csv` holds 220 rows: the five controllers of the
discovery trajectory (rounds r0000–r0004: SDGV, IBC, SCR, DGCC, CMC) × 4
models × 11 β, AIME24. A fast subset (two cells per new controller; CMC's fast
cells are in test_conformance_dsl.py) runs by default; under `-m slow` (run
by CI) the whole table on the VM and its β = 0 rows on the reference
interpreter.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.support.conformance import StoreLoader, check_rows, select
from tests.support.shared import MODELS

CONTROLLERS = ("sdgv", "ibc", "scr", "dgcc", "cmc")
BETAS = tuple(k / 10 for k in range(11))


def discovered(row: Any) -> tuple[float, dict[str, Any], str]:
    return float(row.beta), {}, f"β={float(row.beta)}"


# Two cheap cells per controller, each exercising a quirk of its spec.
FAST_ROWS = [
    ("sdgv", "Qwen3-0.6B", 0.0),  # lock = freeze; the exhaustion exit dominates
    ("sdgv", "Qwen3-8B", 0.4),  # differs by a token under plain (uncompensated) `total`
    ("ibc", "Qwen3-0.6B", 0.0),  # keep-two partial abandonment is frequent here
    ("ibc", "Qwen3-8B", 0.1),
    ("scr", "Qwen3-1.7B", 0.0),
    ("scr", "Qwen3-8B", 0.2),  # aligned bursts of 2, plateau bursts of 2
    ("dgcc", "Qwen3-8B", 0.0),
    ("dgcc", "Qwen3-4B", 0.3),  # gap_factor 2: vote-gap widening opens 1 or 2
]


# The VM on every fast row; the reference interpreter (about 50x slower) on the
# two cheapest here, and on all 220 rows under `-m slow`.
FAST_CASES = [
    *[pytest.param(*row, "vm", marks=pytest.mark.vm) for row in FAST_ROWS],
    ("sdgv", "Qwen3-0.6B", 0.0, "reference"),
    ("ibc", "Qwen3-0.6B", 0.0, "reference"),
]


@pytest.mark.shared
@pytest.mark.parametrize(("controller", "model", "beta", "backend"), FAST_CASES)
def test_discovered_row_fast(
    controller: str,
    model: str,
    beta: float,
    discovery_aime24: pd.DataFrame,
    shared_store: StoreLoader,
    backend: str,
) -> None:
    rows = select(discovery_aime24, controller, model)
    rows = rows[rows.beta == beta]
    assert len(rows) == 1
    check_rows(rows, shared_store, backend, discovered)


@pytest.mark.shared
def test_discovery_table_has_220_rows(discovery_aime24: pd.DataFrame) -> None:
    # Guards the slow suite against silently checking fewer rows.
    assert len(discovery_aime24) == 220
    assert set(discovery_aime24.controller) == set(CONTROLLERS)
    assert set(discovery_aime24.model) == set(MODELS)
    assert set(discovery_aime24.dataset) == {"aime24"}
    for (controller, model), rows in discovery_aime24.groupby(["controller", "model"]):
        assert sorted(rows.beta) == list(BETAS), (controller, model)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.vm
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_discovered_rows_all(
    controller: str, model: str, discovery_aime24: pd.DataFrame, shared_store: StoreLoader
) -> None:
    rows = select(discovery_aime24, controller, model)
    assert len(rows) == len(BETAS)
    check_rows(rows, shared_store, "vm", discovered)


# The reference interpreter on the β = 0 row of every controller × model (it
# agrees with the VM episode for episode on every stdlib program at every β in
# tests/test_vm_differential.py; a β = 1 row takes it 25-85 s under load, all
# 220 rows over an hour of CPU).
@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("controller", CONTROLLERS)
def test_discovered_rows_reference_sample(
    controller: str, model: str, discovery_aime24: pd.DataFrame, shared_store: StoreLoader
) -> None:
    rows = select(discovery_aime24, controller, model)
    check_rows(rows[rows.beta == 0.0], shared_store, "reference", discovered)
