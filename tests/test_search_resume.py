"""kill -9 in the middle of a search, then `--resume`: nothing recorded is
lost, nothing recorded is computed (or paid for) again, and the result is
the same as an uninterrupted search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from autotts_dsl.cli.main import main
from autotts_dsl.programs import STDLIB_DIR
from tests.test_search_fixtures import rows, write_store

REPO_ROOT = Path(__file__).resolve().parent.parent


def spawn(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    # The interpreter keeps the search running long enough to be killed mid-way
    # (machine code cached by earlier tests could finish it in milliseconds).
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TTS_DSL_BACKEND": "reference"}
    return subprocess.Popen(
        [sys.executable, "-m", "autotts_dsl.cli.main", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group: the kill reaches its children
    )


def kill_when(proc: subprocess.Popen[bytes], ready: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    try:
        while not ready():  # type: ignore[operator]
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"the search ended before the kill: {err}")
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def scores(data: str) -> tuple[object, ...]:
    m = json.loads(data)
    return tuple(
        tuple(v) if isinstance(v, list) else v
        for k, v in sorted(m.items())
        if k not in ("wall_seconds", "backend")
    )


def snapshot(out: Path) -> dict[str, list[tuple[object, ...]]]:
    db = out / "history.sqlite"
    return {
        "programs": rows(
            db, "SELECT id, hash, parents, round, slot, proposer, rationale FROM programs"
        ),
        "candidates": rows(db, "SELECT * FROM candidates ORDER BY round, slot"),
        "results": [
            (pid, beta, store, seeds, scores(m))
            for pid, beta, store, seeds, m in rows(db, "SELECT * FROM cells ORDER BY 1, 2, 3, 4")
        ],
        "decisions": rows(db, "SELECT * FROM decisions ORDER BY 1, 2"),
    }


def test_kill_mid_round_then_resume(tmp_path: Path) -> None:
    store = write_store(tmp_path / "stores" / "ModelR" / "resume.json", 16, 48, seed=5)
    argv = ["search", "--seed", "cmc", "ibc", "--search-store", str(store), "--rounds", "2"]
    argv += ["--candidates", "4", "--betas", "0,0.5,1", "--seeds", "6", "--jobs", "1"]
    out = tmp_path / "killed"
    proc = spawn([*argv, "--out", str(out)])
    db = out / "history.sqlite"

    def mid_round_one() -> bool:
        status = rows(db, "SELECT status FROM rounds WHERE round = 1")
        done = rows(
            db,
            "SELECT count(*) FROM cells r JOIN programs p ON p.id = r.program_id WHERE p.round = 1",
        )
        return bool(status) and status[0][0] == "evaluating" and done[0][0] >= 2

    kill_when(proc, mid_round_one)
    before = snapshot(out)
    n_round1 = sum(1 for r in before["results"] if r[0] > 3)  # 2 seeds and the SC baseline
    assert 2 <= n_round1 < 12, "killed outside round 1's evaluation"
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]

    assert main([*argv, "--out", str(out), "--resume"]) == 0
    after = snapshot(out)
    # nothing lost: every row recorded before the kill is still there, unchanged
    for table in ("programs", "results"):
        assert set(before[table]) <= set(after[table]), table
    # nothing repeated: no program proposed twice, no cell evaluated twice
    assert len(after["programs"]) == len({p[1] for p in after["programs"]})
    keys = [r[:4] for r in after["results"]]
    assert len(keys) == len(set(keys))

    reference = tmp_path / "straight"
    assert main([*argv, "--out", str(reference)]) == 0
    ref = snapshot(reference)
    assert after["programs"] == ref["programs"]
    assert after["candidates"] == ref["candidates"]
    assert after["results"] == ref["results"]
    assert after["decisions"] == ref["decisions"]
    final = "SELECT program_id FROM final"
    assert rows(db, final) == rows(reference / "history.sqlite", final)


SCRIPT = """\
import pathlib, sys, time
state = pathlib.Path(sys.argv[1])
sys.stdin.read()
calls = state / "calls.log"
n = len(calls.read_text().splitlines()) if calls.exists() else 0
with calls.open("a") as fh:
    fh.write(f"{n}\\n")
if n == 1 and not (state / "slept").exists():
    (state / "slept").write_text("")
    time.sleep(60)  # killed here, mid-call
cmc = pathlib.Path(sys.argv[2]).read_text()
old = "max(2, round(2 + 6*beta))"
print("```tts\\n" + cmc.replace(old, f"max(2, round(2 + {7 + n}*beta))", 1) + "```")
"""


def test_kill_during_an_llm_call_then_resume(tmp_path: Path) -> None:
    store = write_store(tmp_path / "stores" / "ModelR" / "llm.json", 4, 16, seed=6)
    state = tmp_path / "state"
    state.mkdir()
    script = tmp_path / "proposer.py"
    script.write_text(SCRIPT, encoding="utf-8")
    command = f"{sys.executable} {script} {state} {STDLIB_DIR / 'cmc.tts'}"
    out = tmp_path / "llm"
    argv = ["search", "--seed", "cmc", "--search-store", str(store), "--rounds", "1"]
    argv += ["--candidates", "2", "--betas", "0,1", "--seeds", "2", "--out", str(out)]
    proc = spawn([*argv, "--proposer", "command", "--command", command])
    kill_when(proc, lambda: (state / "slept").exists())

    db = out / "history.sqlite"
    assert rows(db, "SELECT slot, status FROM calls ORDER BY id") == [(0, "ok"), (1, "pending")]
    assert main(["search", "--out", str(out), "--resume"]) == 0
    assert (state / "calls.log").read_text().split() == ["0", "1", "2"]  # call 0 not re-sent
    assert rows(db, "SELECT slot, attempt, status FROM calls ORDER BY id") == [
        (0, 0, "ok"),
        (1, 0, "lost"),
        (1, 0, "ok"),
    ]
    progs = rows(db, "SELECT round, slot, source FROM programs WHERE round = 1 ORDER BY slot")
    assert [p[:2] for p in progs] == [(1, 0), (1, 1)]
    assert "7*beta" in str(progs[0][2]) and "9*beta" in str(progs[1][2])
    assert rows(db, "SELECT status FROM rounds ORDER BY round") == [("done",), ("done",)]
