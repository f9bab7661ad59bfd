"""What the conformance tests share: one parsed runner per stdlib program,
and the check that a table's rows reproduce exactly (accuracy and tokens),
with every mismatch listed rather than the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from autotts_dsl.interpreter import ProgramRunner
from autotts_dsl.programs import load_program
from autotts_dsl.replay.store import ReplayStore

StoreLoader = Callable[[str, str], ReplayStore]

RowConfig = Callable[[Any], tuple[float, dict[str, Any], str]]
"""A table row -> (β, param overrides, how a mismatch names the row)."""

_RUNNERS: dict[str, ProgramRunner] = {}


def runner(name: str) -> ProgramRunner:
    if name not in _RUNNERS:
        _RUNNERS[name] = load_program(name)
    return _RUNNERS[name]


def select(table: pd.DataFrame, controller: str, model: str) -> pd.DataFrame:
    """The AIME24 rows of one controller on one model."""
    return table[
        (table.controller == controller) & (table.model == model) & (table.dataset == "aime24")
    ]


def check_rows(
    rows: pd.DataFrame, shared_store: StoreLoader, backend: str, config: RowConfig
) -> None:
    assert len(rows) > 0
    mismatches = []
    for row in rows.itertuples():
        beta, params, label = config(row)
        ev = runner(str(row.controller)).evaluate(
            shared_store(str(row.model), "aime24"), beta, params, backend=backend
        )
        assert ev.backend == backend and ev.reruns == 0
        got = (ev.accuracy, ev.avg_tokens)
        want = (float(row.accuracy), int(row.avg_tokens))
        if got != want:
            mismatches.append(f"{row.model} {row.controller} {label}: {got} != {want}")
    assert not mismatches, "\n".join(mismatches)
