"""kill -9 during a collection, then a re-run: the same store as an
uninterrupted run, and nothing that was already received asked for again."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.replay.store import store_from_records
from tests.support.live import settings_for, tiny_records, write_questions

RECORDS = tiny_records(3, n_q=4, n_b=6, interval=8)
CONCURRENCY = 3


def _argv(url: str, model: str, questions: Path, out: Path) -> list[str]:
    s = settings_for(RECORDS, model)
    return [
        sys.executable,
        "-m",
        "autotts_dsl.cli.main",
        "collect",
        "--server",
        url,
        "--model",
        model,
        "--questions",
        str(questions),
        "--out",
        str(out),
        "--n",
        str(s.n),
        "--interval",
        str(s.interval),
        "--max-tokens",
        str(s.sampling.max_tokens),
        "--equivalence",
        "exact",
        "--concurrency",
        str(CONCURRENCY),
        "--probe-batch",
        "2",
    ]


def _journal_rows(path: Path) -> tuple[set[tuple[int, int]], set[tuple[int, int, int]]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        traces = {(q, i) for q, i in db.execute("SELECT q, i FROM traces")}
        probes = {(q, i, p) for q, i, p in db.execute("SELECT q, i, prefix FROM probes")}
    except sqlite3.OperationalError:
        traces, probes = set(), set()
    db.close()
    return traces, probes


def test_kill_9_then_resume(tmp_path: Path) -> None:
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    # 3 ms a token: the run takes seconds, so the kill lands mid-way.
    server = ReplayServer(store, token_latency=0.003).start()
    out = tmp_path / "killed.json"
    journal = Path(str(out) + ".journal")
    try:
        proc = subprocess.Popen(
            _argv(server.url, server.model_name, questions, out), stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "collect finished before it could be killed"
            assert time.monotonic() < deadline
            if journal.exists():
                traces, probes = _journal_rows(journal)
                if len(traces) >= 6 and probes:
                    break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        traces, probes = _journal_rows(journal)  # what the killed run had received for good
        assert not out.exists()
        resumed = subprocess.run(
            _argv(server.url, server.model_name, questions, out), capture_output=True
        )
        assert resumed.returncode == 0, resumed.stderr.decode()
        answered = server.service.stats()["answered"]
    finally:
        server.stop()

    clean_server = ReplayServer(store).start()
    try:
        clean = tmp_path / "clean.json"
        done = subprocess.run(
            _argv(clean_server.url, clean_server.model_name, questions, clean), capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()
    finally:
        clean_server.stop()
    assert out.read_text() == clean.read_text() == json.dumps(RECORDS, indent=2)

    repeated = [k for k, n in answered.items() if n > 1]
    for key in repeated:
        kind, q, seed, prefix = key.split(":")[:4]
        if kind == "trace":
            assert (int(q), int(seed)) not in traces, f"{key}: asked again after it was journaled"
        else:
            assert (int(q), int(seed), int(prefix)) not in probes, (
                f"{key}: asked again after it was journaled"
            )
    # Only requests in flight at the kill can repeat (a probe request holds up to 2 probes).
    assert len(repeated) <= 2 * CONCURRENCY


def test_ctrl_c_stops_at_once_and_resumes(tmp_path: Path) -> None:
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    server = ReplayServer(store, token_latency=0.004).start()  # a trace takes up to ~0.4 s
    out = tmp_path / "s.json"
    journal = Path(str(out) + ".journal")
    try:
        proc = subprocess.Popen(
            _argv(server.url, server.model_name, questions, out),
            stderr=subprocess.PIPE,
            # as from a terminal: a backgrounded test run may ignore SIGINT
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while not (journal.exists() and _journal_rows(journal)[0]):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert time.monotonic() - sent < 5, "Ctrl-C waited for requests in flight"
        assert b"re-run to resume" in err and b"Traceback" not in err
        done = subprocess.run(
            _argv(server.url, server.model_name, questions, out), capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()
    finally:
        server.stop()
    assert out.read_text() == json.dumps(RECORDS, indent=2)
