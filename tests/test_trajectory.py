"""The discovery-trajectory figure: points from sweep rows, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotts_dsl.sweeps.trajectory import TrajectoryError, plot_trajectory, trajectory_points


def row(program: str, model: str, dataset: str, acc: float, tok: float, beta: float = 1.0) -> dict:
    return {
        "program": program,
        "beta": beta,
        "store": f"{model}/{dataset}",
        "model": model,
        "dataset": dataset,
        "accuracy": acc,
        "avg_tokens": tok,
    }


ROWS = [
    row("a", "M1", "aime24", 10, 100),
    row("a", "M2", "aime24", 20, 300),
    row("a", "M1", "aime25", 5, 50),
    row("a", "M1", "hmmt25", 15, 150),
    row("b", "M1", "aime24", 30, 1000),
    row("b", "M2", "aime24", 40, 3000),
    row("b", "M1", "aime25", 25, 500),
    row("b", "M1", "hmmt25", 35, 1500),
    row("b", "M1", "aime24", 99, 9, beta=0.5),  # another β: ignored
]


def test_points_are_means_per_split_in_program_order() -> None:
    pts = trajectory_points(ROWS, ["a", "b"], 1.0)
    got = [(p.label, p.program, p.split, p.accuracy, p.avg_tokens, p.n_stores) for p in pts]
    assert got == [
        ("t1", "a", "search", 15.0, 200.0, 2),
        ("t2", "b", "search", 35.0, 2000.0, 2),
        ("t1", "a", "held-out", 10.0, 100.0, 2),
        ("t2", "b", "held-out", 30.0, 1000.0, 2),
    ]


def test_missing_program_is_an_error() -> None:
    with pytest.raises(TrajectoryError, match="no search results for `c`"):
        trajectory_points(ROWS, ["a", "c"], 1.0)


def test_unequal_store_sets_are_an_error() -> None:
    rows = [r for r in ROWS if not (r["program"] == "b" and r["store"] == "M2/aime24")]
    with pytest.raises(TrajectoryError, match="`b` has search results"):
        trajectory_points(rows, ["a", "b"], 1.0)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = plot_trajectory(trajectory_points(ROWS, ["a", "b"], 1.0), tmp_path / "t.png", beta=1.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
