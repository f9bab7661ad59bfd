"""Helpers for the CLI tests: running `main` in process, tiny stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.replay.store import store_to_records
from autotts_dsl.replay.synthetic import simulate_store

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`tts-dsl ARGV` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_process(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`tts-dsl ARGV` as its own process (stdout and stderr are pipes)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "autotts_dsl.cli.main", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def write_store(path: Path, n_questions: int = 4, n_branches: int = 8, seed: int = 1) -> Path:
    """A tiny simulated store at `path` (AutoTTS's JSON layout)."""
    store = simulate_store(n_questions, n_branches, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(store_to_records(store)), encoding="utf-8")
    return path
