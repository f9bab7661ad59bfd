"""`tts-dsl sweep --traces`: one JSONL per cell, equal to `run --trace`,
written whole, and kept (not recomputed) on a re-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.replay.store import store_to_records
from autotts_dsl.replay.synthetic import simulate_store


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stores") / "ModelA" / "setx.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(store_to_records(simulate_store(5, 16, seed=3))), "utf-8")
    return path


def test_sweep_traces_match_run_trace_and_survive_a_rerun(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["sweep", "cmc", "--betas", "0,0.5", "--seeds", "2", "--store", str(store)]
    assert main([*argv, "--out", str(out), "--no-plot", "--traces", "--json"]) == 0
    files = sorted((out / "traces").rglob("*.jsonl"))
    assert [f.name for f in files] == ["beta_0.5.jsonl", "beta_0.jsonl"]
    cmc_dir = files[0].parent
    assert cmc_dir.relative_to(out).parts[:2] == ("traces", "cmc")
    traced = _records(cmc_dir / "beta_0.5.jsonl")
    assert len(traced) == 2 * 5  # seeds × questions, evaluation order

    ref = tmp_path / "run.jsonl"
    run_argv = ["run", "cmc", "--beta", "0.5", "--seeds", "2", "--store", str(store)]
    assert main([*run_argv, "--trace", str(ref), "--no-baseline", "--json"]) == 0
    assert traced == _records(ref)

    # A re-run keeps finished files (it does not rewrite them) and recreates a missing one.
    kept = cmc_dir / "beta_0.5.jsonl"
    kept.write_text("sentinel\n", encoding="utf-8")
    (cmc_dir / "beta_0.jsonl").unlink()
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--no-plot", "--traces", "--json"]) == 0
    assert kept.read_text(encoding="utf-8") == "sentinel\n"
    assert len(_records(cmc_dir / "beta_0.jsonl")) == 10
    assert not list((out / "traces").rglob("*.tmp"))
