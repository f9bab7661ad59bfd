"""A server that misbehaves: every injected fault is retried or ends with a
clear error, and nothing received is lost or asked for twice."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.live.collector import CollectError
from autotts_dsl.live.faults import FaultPlan
from autotts_dsl.live.journal import Journal
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.replay.store import store_from_records
from tests.support.live import (
    collect_from,
    items,
    serve_replay_process,
    settings_for,
    tiny_records,
    write_questions,
)

RECORDS = tiny_records(7, n_q=3, n_b=4, interval=8)
CLEAN = json.dumps(RECORDS, indent=2)


def _server(faults: FaultPlan | None = None) -> ReplayServer:
    return ReplayServer(store_from_records(RECORDS, name="tiny"), faults=faults).start()


@pytest.mark.parametrize("kind", ["500", "429", "drop", "hang", "truncate", "malformed", "shape"])
def test_each_fault_is_retried_without_loss_or_duplicates(tmp_path: Path, kind: str) -> None:
    plan = FaultPlan({kind: 0.3}, seed=11, hang_seconds=1.0)
    server = _server(plan)
    try:
        out = tmp_path / "s.json"
        collect_from(server, RECORDS, out, retries=30, timeout=0.4)
        answered = server.service.stats()["answered"]
    finally:
        server.stop()
    assert plan.injected.get(kind, 0) > 0, "the fault never fired: the test would prove nothing"
    assert out.read_text() == CLEAN
    assert max(answered.values()) == 1, "a request was answered twice"
    n_traces = sum(len(r["each_branch"]) for r in RECORDS)
    assert sum(1 for k in answered if k.startswith("trace:")) == n_traces


def test_a_server_that_keeps_failing_ends_with_one_clear_error(tmp_path: Path) -> None:
    server = _server(FaultPlan({"500": 1.0}))
    try:
        with pytest.raises(Exception) as info:
            collect_from(server, RECORDS, tmp_path / "s.json", retries=2)
    finally:
        server.stop()
    msg = str(info.value)
    assert "HTTP 500" in msg and "after 3 attempts" in msg and "\n" not in msg
    assert not (tmp_path / "s.json").exists()


def test_failure_mid_run_keeps_what_arrived_and_resumes(tmp_path: Path) -> None:
    """The server starts failing half way: the run stops with a CollectError, the
    journal holds what arrived, and a re-run against a healthy server completes
    without asking for any of it again."""
    plan = FaultPlan()
    server = _server(plan)
    out = tmp_path / "s.json"
    calls = {"n": 0}
    original = server.service.completions

    def flaky(body):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 10:
            plan.rates = {"500": 1.0}  # from now on, every request fails
        return original(body)

    server.service.completions = flaky  # type: ignore[method-assign]
    try:
        with pytest.raises(CollectError, match="re-run to resume"):
            collect_from(server, RECORDS, out, retries=1)
        first = dict(server.service.stats()["answered"])
        plan.rates = {}
        server.service.completions = original  # type: ignore[method-assign]
        collect_from(server, RECORDS, out)
        total = server.service.stats()["answered"]
    finally:
        server.stop()
    assert first, "nothing arrived before the failure"
    assert out.read_text() == CLEAN
    assert max(total.values()) == 1


def _traces_in(journal: Path) -> int:
    import sqlite3

    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        n = db.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
        db.close()
    except sqlite3.Error:
        return 0
    return int(n)


def _serve_subprocess(store: Path, port_file: Path) -> subprocess.Popen[bytes]:
    return serve_replay_process(store, port_file, "--token-latency", "2", "--model", "replay/tiny")


def test_server_killed_mid_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "tiny.json"
    store.write_text(CLEAN)
    questions = write_questions(RECORDS, tmp_path / "q.jsonl")
    port_file = tmp_path / "port"
    proc = _serve_subprocess(store, port_file)
    url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    out = tmp_path / "out.json"
    s = settings_for(RECORDS, "replay/tiny")
    argv = [
        "collect",
        "--server",
        url,
        "--model",
        "replay/tiny",
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
        "2",
        "--retries",
        "2",
        "--backoff",
        "0.01",
    ]
    journal = Path(str(out) + ".journal")

    def killer() -> None:
        # Kill the server once some traces are journaled (or give up after a minute).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _traces_in(journal) < 3:
            time.sleep(0.01)
        proc.kill()

    import threading

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    code = main(argv)
    t.join()
    proc.wait()
    err = capsys.readouterr().err.strip()
    assert code == 2 and "connection failed" in err and "re-run to resume" in err, err
    assert "Traceback" not in err
    assert not out.exists()
    port_file.unlink()
    proc = _serve_subprocess(store, port_file)
    try:
        url2 = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        argv[argv.index(url)] = url2
        assert main(argv) == 0
    finally:
        proc.kill()
        proc.wait()
    assert out.read_text() == CLEAN


def test_journal_refuses_other_settings(tmp_path: Path) -> None:
    s = settings_for(RECORDS, "m")
    Journal(tmp_path / "j", s.journal_settings(items(RECORDS), "ids")).close()
    other = settings_for(RECORDS, "m", interval=4)
    with pytest.raises(Exception, match="interval: 8 then, 4 now"):
        Journal(tmp_path / "j", other.journal_settings(items(RECORDS), "ids"))
