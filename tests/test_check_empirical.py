"""`tts-dsl check --empirical`: token drops as β grows (W401) and dead β
ranges (W402), found by running the program over a β grid on stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from autotts_dsl.checker.empirical import default_betas, empirical_check
from autotts_dsl.cli.main import main
from autotts_dsl.interpreter import ProgramRunner
from autotts_dsl.parser import parse
from autotts_dsl.programs import load_program
from autotts_dsl.replay.store import ReplayStore
from autotts_dsl.replay.synthetic import simulate_store

STORE = simulate_store(4, 16, 3, 700)

# Fewer branches opened as β grows (a budget that shrinks), and nothing at
# all below β = 0.25, where max_rounds rounds to 0.
SHRINKING = """
controller shrinking
schedule { n : int up = round(8*beta) }
limits { max_rounds = round(2*beta) }
round { read_full max(1, 8 - n) }
finally { answer winner(completed) }
"""


def test_default_grid_steps_by_two_hundredths() -> None:
    grid = default_betas()
    assert grid[0] == 0.0 and grid[-1] == 1.0 and len(grid) == 51 and grid[26] == 0.52


def test_drops_and_dead_ranges_on_a_synthetic_store() -> None:
    runner = ProgramRunner(parse(SHRINKING), SHRINKING, "s.tts")
    report = empirical_check(runner, [STORE], [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0], seeds=(0, 1))
    # β 0.3, 0.5, 0.7: one round of read_full 6, 4, 2 (n = 2, 4, 6); at β = 1
    # two rounds of read_full 1 read as many traces as at 0.7
    assert [(d.beta_lo, d.beta_hi) for d in report.drops] == [(0.3, 0.5), (0.5, 0.7)]
    assert all(d.tokens_hi < d.tokens_lo for d in report.drops)
    assert report.drops[0].changed == (("n", 2, 4),)
    (dead,) = report.dead
    assert (dead.lo, dead.hi) == (0.0, 0.2) and "max_rounds is 0" in dead.why
    codes = [(d.code, d.span.line) for d in report.diagnostics]
    assert codes == [("W401", 3)] * 2 + [("W402", 4)]
    assert not report.ok and report.to_json()["dead_ranges"][0]["to"] == 0.2


def test_a_budget_that_grows_is_clean() -> None:
    runner = load_program("sc")
    report = empirical_check(runner, [STORE], [0.2, 0.4, 0.6], seeds=(0,))
    assert report.ok and not report.diagnostics


@pytest.mark.shared
def test_scr_drop_on_qwen3_8b_aime24(shared_store: Callable[[str, str], ReplayStore]) -> None:
    """The issue's example: SCR spends 175,904 tokens at β = 0.5 and 165,949 at 0.52."""
    store = shared_store("Qwen3-8B", "aime24")
    report = empirical_check(load_program("scr"), [store], [0.5, 0.52], backend="vm")
    (drop,) = report.drops
    assert (drop.tokens_lo, drop.tokens_hi) == (175_904, 165_949)
    assert {k for k, _, _ in drop.changed} >= {"conf_thresh", "burst_aligned"}


@pytest.mark.shared
def test_esc_dead_range_on_the_shared_stores(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = shared_dir / "replay" / "autotts" / "Qwen3-8B" / "aime24.json"
    code = main(
        [
            "check",
            "esc",
            "--empirical",
            "--store",
            str(store),
            "--betas",
            "0.44:0.52:0.02",
            "--json",
        ]
    )
    assert code == 0  # warnings only
    doc = json.loads(capsys.readouterr().out)
    (entry,) = doc["files"]
    emp = entry["empirical"]
    assert emp["dead_ranges"] == [
        {"from": 0.44, "to": 0.48, "why": "max_rounds is 0 there: the round block never runs"}
    ]
    assert [d["code"] for d in emp["diagnostics"]] == ["W402"]
    assert (
        code == 0
        and main(
            [
                "check",
                "esc",
                "--empirical",
                "--strict",
                "-q",
                "--store",
                str(store),
                "--betas",
                "0.48",
            ]
        )
        == 1
    )
