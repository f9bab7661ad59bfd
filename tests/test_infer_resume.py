"""kill -9 during `tts-dsl infer`, then the same command again: the results of
an uninterrupted run, and nothing the journal held asked for again (the
server's /stats counts every answered request)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main as cli_main
from autotts_dsl.live.faults import FaultPlan
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.replay.store import store_from_records
from tests.support.infer import COMPARED
from tests.support.live import tiny_records, write_questions

RECORDS = tiny_records(11, n_q=3, n_b=8, interval=8)
CONCURRENCY = 6


def _argv(url: str, model: str, questions: Path, out: Path, *extra: str) -> list[str]:
    longest = max(b[1] for r in RECORDS for b in r["each_branch"])
    return [
        sys.executable,
        "-m",
        "autotts_dsl.cli.main",
        "infer",
        "cmc",
        "--beta",
        "0.7",
        "--server",
        url,
        "--model",
        model,
        "--questions",
        str(questions),
        "--out",
        str(out),
        "--interval",
        "8",
        "--branches",
        "8",
        "--max-tokens",
        str(longest),
        "--equivalence",
        "exact",
        "--concurrency",
        str(CONCURRENCY),
        "--parallel",
        "2",
        "--retries",
        "2",
        *extra,
    ]


def _journaled(path: Path) -> tuple[set[tuple[int, int, int]], set[tuple[int, int, int]], int]:
    """(continuations as (q, trace seed, start), probes as (q, trace seed, prefix), episodes)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")  # one snapshot of a journal that is still being written
        chunks = set(db.execute("SELECT q, trace_seed, start FROM chunks"))
        probes = set(
            db.execute(
                "SELECT p.q, c.trace_seed, p.prefix FROM probes p JOIN (SELECT DISTINCT "
                "q, seed, branch, trace_seed FROM chunks) c USING (q, seed, branch)"
            )
        )
        (episodes,) = db.execute("SELECT COUNT(*) FROM episodes").fetchone()
    except sqlite3.OperationalError:
        return set(), set(), 0
    finally:
        db.close()
    return chunks, probes, episodes


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow  # ~8 s; the default suite kills and resumes in the next two tests
def test_kill_9_then_resume(tmp_path: Path) -> None:
    """Two seeds: episodes finished before the kill are not run again, the
    others resume; the results are an uninterrupted run's."""
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    # 2 ms a token: an episode takes about a second, so the kill lands mid-way.
    server = ReplayServer(store, token_latency=0.002).start()
    out = tmp_path / "killed.jsonl"
    journal = Path(str(out) + ".journal")
    try:
        argv = _argv(server.url, server.model_name, questions, out, "--seeds", "2")
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "infer finished before it could be killed"
            assert time.monotonic() < deadline
            if journal.exists():
                chunks, probes, episodes = _journaled(journal)
                if len(chunks) >= 12 and probes and episodes >= 1:
                    break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        episodes = _journaled(journal)[2]  # finished before the kill
        assert not out.exists() and 1 <= episodes < 6
        resumed = subprocess.run(argv, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        answered = dict(server.service.stats()["answered"])
        # A finished run asks for nothing again and writes the same results.
        first = out.read_text()
        again = subprocess.run(argv, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert server.service.stats()["answered"] == answered
        assert out.read_text() == first
    finally:
        server.stop()

    clean_server = ReplayServer(store).start()
    try:
        clean = tmp_path / "clean.jsonl"
        done = subprocess.run(
            _argv(clean_server.url, clean_server.model_name, questions, clean, "--seeds", "2"),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    finally:
        clean_server.stop()

    got, want = _rows(out), _rows(clean)
    assert [{k: r[k] for k in COMPARED} for r in got] == [{k: r[k] for k in COMPARED} for r in want]
    assert any(r["resumed"] for r in got) and not any(r["resumed"] for r in want)


def test_one_seed_no_request_twice(tmp_path: Path) -> None:
    """With one episode per question every request names itself: after a
    kill and a resume, a request answered twice was in flight at the kill
    and was not journaled."""
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    server = ReplayServer(store, token_latency=0.002).start()
    out = tmp_path / "r.jsonl"
    journal = Path(str(out) + ".journal")
    try:
        argv = _argv(server.url, server.model_name, questions, out)
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (journal.exists() and len(_journaled(journal)[0]) >= 15):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        chunks, probes, _ = _journaled(journal)
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        answered = server.service.stats()["answered"]
    finally:
        server.stop()
    repeated = [k for k, n in answered.items() if n > 1]
    for key in repeated:
        kind, q, seed, prefix = key.split(":")[:4]
        where = (int(q), int(seed), int(prefix))
        assert where not in (chunks if kind == "trace" else probes), f"{key}: asked again"
    assert len(repeated) <= CONCURRENCY


@pytest.mark.slow  # ~3 s; the default suite's one-line failure is the dead server's above
def test_ctrl_c_stops_at_once_and_other_settings_are_refused(tmp_path: Path) -> None:
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    server = ReplayServer(store, token_latency=0.004).start()
    out = tmp_path / "r.jsonl"
    journal = Path(str(out) + ".journal")
    try:
        argv = _argv(server.url, server.model_name, questions, out)
        proc = subprocess.Popen(
            argv,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while not (journal.exists() and _journaled(journal)[0]):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert time.monotonic() - sent < 5, "Ctrl-C waited for requests in flight"
        assert b"re-run to resume" in err and b"Traceback" not in err
        other = argv[:]
        other[other.index("--beta") + 1] = "0.2"
        refused = subprocess.run(other, capture_output=True, text=True)
        assert refused.returncode == 2
        assert "other settings (beta differ)" in refused.stderr
        assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    finally:
        server.stop()


class _DiesAfter:
    """A fault plan: the first `k` requests are answered, then every
    connection is dropped (the server is gone, as far as a client can tell)."""

    hang_seconds = 0.0

    def __init__(self, k: int) -> None:
        self.k = k
        self.seen = 0
        self.lock = threading.Lock()

    def draw(self) -> str | None:
        with self.lock:
            self.seen += 1
            return None if self.seen <= self.k else "drop"


def test_a_server_that_dies_mid_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One line and exit 2, what arrived kept; the same command against the
    server back up finishes with an uninterrupted run's results and asks for
    nothing the journal held."""
    store = store_from_records(RECORDS, name="tiny")
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    out = tmp_path / "r.jsonl"
    with ReplayServer(store) as server:
        server.httpd.faults = _DiesAfter(40)  # type: ignore[assignment]
        argv = _argv(server.url, server.model_name, questions, out, "--backoff", "0.01")[3:]
        assert cli_main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "re-run to resume" in err and len(err.splitlines()) == 1, err
        assert "Traceback" not in err and not out.exists()
        chunks, probes, _ = _journaled(Path(str(out) + ".journal"))
        assert chunks, "nothing was journaled before the server died"
        answered_before = dict(server.service.stats()["answered"])
        server.httpd.faults = FaultPlan()  # back up
        assert cli_main(argv) == 0, capsys.readouterr().err
        answered = server.service.stats()["answered"]
    again = {k: n - answered_before.get(k, 0) for k, n in answered.items()}
    for key, n in again.items():  # one seed: every request names itself
        kind, q, seed, prefix = key.split(":")[:4]
        where = (int(q), int(seed), int(prefix))
        if n:
            assert where not in (chunks if kind == "trace" else probes), f"{key}: asked again"
    with ReplayServer(store) as clean_server:
        clean = tmp_path / "clean.jsonl"
        argv = _argv(clean_server.url, clean_server.model_name, questions, clean)[3:]
        assert cli_main(argv) == 0
    got, want = _rows(out), _rows(clean)
    assert [{k: r[k] for k in COMPARED} for r in got] == [{k: r[k] for k in COMPARED} for r in want]
