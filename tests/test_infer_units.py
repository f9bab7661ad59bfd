"""The parts of `tts-dsl infer`: cutting a trace that arrives in pieces,
interning answers as they arrive, recording, batches in flight together,
servers that fail or lie, and the command line."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl.cli.main import main as cli_main
from autotts_dsl.live import segments
from autotts_dsl.live.equivalence import make_rule
from autotts_dsl.live.faults import parse_faults
from autotts_dsl.live.infer import InferError
from autotts_dsl.live.interning import MainThread, OnlineInterner, same_answer
from autotts_dsl.live.live_trace import Chunk, LiveTrace, TraceSetup, chunk_seed
from autotts_dsl.live.model_api import Sampling
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.programs import load_program
from autotts_dsl.replay.store import load_store, store_from_records
from tests.support.infer import assert_same_as_replay, infer_on
from tests.support.live import POOL, tiny_records, write_questions

# -- a trace that arrives in pieces is cut like a whole one -----------------------


class _NoSink:
    def chunk(self, *a: Any) -> None: ...
    def probe(self, *a: Any) -> None: ...
    def closed(self) -> bool:
        return False


def _trace(marker: list[int] | str, mode: str) -> LiveTrace:
    setup = TraceSetup(
        server=None,  # type: ignore[arg-type]  # never asked: pieces are appended directly
        mode=mode,  # type: ignore[arg-type]
        prompt=[] if mode == "ids" else "",
        suffix=[] if mode == "ids" else "",
        suffix_text="",
        marker=marker,
        interval=4,
        sampling=Sampling(max_tokens=10**6),
        probe_max_tokens=4,
        gate=threading.BoundedSemaphore(1),
    )
    return LiveTrace(setup, 0, 0, _NoSink())


def _pieces(seq: list[Any], cuts: list[int]) -> list[list[Any]]:
    bounds = sorted({c % (len(seq) + 1) for c in cuts} | {0, len(seq)})
    return [seq[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=80, deadline=None)
@given(
    ids=st.lists(st.integers(0, 3), max_size=40),
    marker=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    cuts=st.lists(st.integers(0, 40), max_size=6),
)
def test_marker_in_pieces_ids(ids: list[int], marker: list[int], cuts: list[int]) -> None:
    t = _trace(marker, "ids")
    start = 0
    for piece in _pieces(ids, cuts):
        t._append(Chunk(start, tuple(piece), "", "length", False))
        start += len(piece)
    got = t.reasoning if t.reasoning is not None else len(ids)
    assert got == segments.reasoning_length_ids(ids, marker)


@settings(max_examples=80, deadline=None)
@given(
    texts=st.lists(
        st.sampled_from(["<", "/", "think", ">", "</th", "ink>", "a", "</think>"]), max_size=20
    ),
    cuts=st.lists(st.integers(0, 20), max_size=5),
)
def test_marker_in_pieces_texts(texts: list[str], cuts: list[int]) -> None:
    t = _trace("</think>", "text")
    start = 0
    for piece in _pieces(texts, cuts):
        t._append(Chunk(start, tuple(piece), "", "length", False))
        start += len(piece)
    got = t.reasoning if t.reasoning is not None else len(texts)
    assert got == segments.reasoning_length_texts(texts, "</think>")


def test_chunk_seeds() -> None:
    assert chunk_seed(17, 0) == 17  # the first request names the trace
    later = {chunk_seed(17, s) for s in range(1, 2000)}
    assert len(later) == 1999 and 17 not in later


# -- answers as they arrive ------------------------------------------------------------


MATH = ["1/2", "\\frac{1}{2}", "0.5", "2", "ERR", "x+1", "1+x", "2.0", "\\frac12", "3"]


@settings(max_examples=6, deadline=None)
@given(order=st.permutations(MATH))
def test_online_interning_is_batch_interning(order: list[str]) -> None:
    rule = make_rule("math-verify")
    online = OnlineInterner(rule)
    ids = [online(a) for a in order]
    batch = rule.intern(order[0], order[1:])
    for a, i in zip(order, ids, strict=True):
        for b, j in zip(order, ids, strict=True):
            assert (i == j) == (batch[a] == batch[b]), (a, b)
    assert online("1/2") == online("0.5") != online("3")


def test_math_verify_runs_on_the_main_thread() -> None:
    main = MainThread()
    online = OnlineInterner(make_rule("math-verify"), main.call)
    got: list[int] = []
    worker = threading.Thread(target=lambda: got.extend([online("1/2"), online("0.5")]))
    worker.start()
    while worker.is_alive():
        main.serve(0.01)
    worker.join()
    assert got[0] == got[1]
    assert same_answer(make_rule("math-verify"), "\\frac{1}{2}", "0.5")
    assert not same_answer(make_rule("exact"), "\\frac{1}{2}", "0.5")
    assert not same_answer(make_rule("exact"), "3", None)


# -- recording ------------------------------------------------------------------------------


@pytest.mark.parametrize(("program", "beta", "seeds"), [("sc", 0.5, [3]), ("cmc", 0.6, [0, 3])])
def test_record_holds_the_served_branches(
    tmp_path: Path, program: str, beta: float, seeds: list[int]
) -> None:
    from autotts_dsl.live.infer_record import record_store

    records = tiny_records(4, n_q=3, n_b=8, interval=8)
    store = store_from_records(records, name="tiny")
    with ReplayServer(store) as server:
        inference, _ = infer_on(
            server, store, program, beta, [0, 1, 2], seeds, tmp_path / "j", keep_open=True
        )
        try:
            rec = record_store(inference, str(tmp_path / "rec.json"), server_url=server.url)
        finally:
            inference.journal.close()
    recorded = json.loads((tmp_path / "rec.json").read_text())
    meta = json.loads((tmp_path / "rec.json.meta").read_text())
    assert meta["source"] == "tts-dsl infer --record" and rec.traces > 0
    for q_rec, q in zip(recorded, meta["question_index"], strict=True):
        served = records[q]["each_branch"]
        seeds = meta["trace_seeds"][str(q)]
        assert q_rec["each_branch"] == [served[ts] for ts in seeds]
    load_store(tmp_path / "rec.json")  # a valid store
    if program == "sc":  # whole traces read without probes: recording asked for their probes
        assert rec.probe_requests > 0


# -- batches in flight together -----------------------------------------------------------


def _max_in_flight(journal: Path, kind: str) -> int:
    db = sqlite3.connect(journal)
    rows = db.execute(
        "SELECT q, seed, elapsed - seconds, elapsed FROM requests WHERE kind = ?", (kind,)
    ).fetchall()
    db.close()
    best = 0
    for q, s, a, _ in rows:
        best = max(best, sum(1 for qq, ss, b, e in rows if (qq, ss) == (q, s) and b <= a < e))
    return best


@pytest.mark.parametrize(
    "speculate",
    [True, pytest.param(False, marks=pytest.mark.slow)],  # False: 16 requests in turn
)
def test_a_batch_is_in_flight_at_once(tmp_path: Path, speculate: bool) -> None:
    """SC@16 as one `read_full 16`: the sixteen traces are sampled at once
    (a request takes at least 0.1 s here); without the look-ahead, one at a time."""
    rng = random.Random(3)
    branches = []
    for _ in range(16):
        total = rng.randint(50, 80)
        branches.append([["7"] * -(-total // 8), total, rng.choice(POOL)])
    records = [
        {
            "question": "Wide question: what is 3 + 4?",
            "final_answers_trace": [b[2] for b in branches],
            "each_branch": branches,
            "gold_answer": "7",
            "probe_freq": 8,
        }
    ]
    store = store_from_records(records, name="wide")
    pinned = {"samples": "16"}
    ev = load_program("sc").evaluate(store, 1.0, pinned, [0])
    with ReplayServer(store, token_latency=0.002) as server:
        _, run = infer_on(
            server, store, "sc", 1.0, [0], [0], tmp_path / "j", params=pinned, speculate=speculate
        )
    assert run.results[0]["opened"] == int(ev.opened[0]) == 16
    assert run.results[0]["tokens"] == int(ev.cost[0])
    assert _max_in_flight(tmp_path / "j", "chunk") == (16 if speculate else 1)


# -- servers that fail or lie ---------------------------------------------------------------


def test_faults_are_retried_and_change_nothing(tmp_path: Path) -> None:
    records = tiny_records(9, n_q=2, n_b=6, interval=8)
    store = store_from_records(records, name="tiny")
    faults = parse_faults(
        "500=0.08,429=0.04,drop=0.04,truncate=0.04,malformed=0.04,shape=0.04", seed=5
    )
    ev = load_program("ibc").evaluate(store, 0.5, {}, [0, 1])
    with ReplayServer(store, faults=faults) as server:
        _, run = infer_on(server, store, "ibc", 0.5, [0, 1], [0, 1], tmp_path / "j")
    assert sum(faults.injected.values()) > 5
    assert_same_as_replay(store, ev, run, [0, 1], [0, 1])


def test_a_server_that_returns_too_many_tokens_is_refused(tmp_path: Path) -> None:
    records = tiny_records(2, n_q=1, n_b=4, interval=8)
    store = store_from_records(records, name="tiny")
    with ReplayServer(store) as server:
        honest = server.service.completions

        def lying(body: dict[str, Any]) -> Any:
            doc, keys, delay = honest(body)
            for c in doc["choices"]:
                if c.get("logprobs"):
                    c["logprobs"]["tokens"] = c["logprobs"]["tokens"] * 2
                    doc["usage"]["completion_tokens"] = len(c["logprobs"]["tokens"])
            return doc, keys, delay

        server.service.completions = lying  # type: ignore[method-assign]
        with pytest.raises(InferError, match=r"asked for 8 tokens returned 16.*re-run to resume"):
            infer_on(server, store, "cmc", 0.5, [0], [0], tmp_path / "j")


# -- the command line ------------------------------------------------------------------------


def test_cli_end_to_end_without_gold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tiny_records(6, n_q=2, n_b=6, interval=8)
    store = store_from_records(records, name="tiny")
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": r["question"]}) + "\n" for r in records))
    longest = max(b[1] for r in records for b in r["each_branch"])
    ev = load_program("dgcc").evaluate(store, 0.3, {}, [0, 1])
    with ReplayServer(store) as server:
        code = cli_main(
            [
                "infer", "dgcc", "-b", "0.3", "--server", server.url, "--model", server.model_name,
                "--questions", str(questions), "--out", str(tmp_path / "r.jsonl"), "--seeds", "2",
                "--interval", "8", "--branches", "6", "--max-tokens", str(longest),
                "--equivalence", "exact", "--trace", str(tmp_path / "t.jsonl"), "--json",
            ]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["episodes"] == 4 and doc["summary"]["accuracy"] is None
    rows = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in rows] == [None] * 4
    assert [r["tokens"] for r in rows] == [int(ev.cost[e]) for e in (0, 1, 2, 3)]
    traces = (tmp_path / "t.jsonl").read_text().splitlines()
    assert len(traces) == 4 and json.loads(traces[0])["trace"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--server", "http://127.0.0.1:9/v1", "--model", "m"], 2, "connection failed"),
        (["--model", "m"], 2, "needs --server URL and --model NAME"),
        (
            ["--server", "http://127.0.0.1:9/v1", "--model", "m", "--seeds", "0"],
            2,
            "selects no seed",
        ),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    records = tiny_records(1, n_q=1, n_b=2)
    q = write_questions(records, tmp_path / "q.jsonl")
    got = cli_main(
        [
            "infer",
            "cmc",
            "--questions",
            str(q),
            "--out",
            str(tmp_path / "r.jsonl"),
            "--retries",
            "0",
            *argv,
        ]
    )
    err = capsys.readouterr().err
    assert got == code and message in err and "Traceback" not in err, err


def test_cli_unknown_model_and_bad_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tiny_records(1, n_q=1, n_b=2)
    store = store_from_records(records, name="tiny")
    q = write_questions(records, tmp_path / "q.jsonl")
    bad = tmp_path / "bad.tts"
    bad.write_text("controller bad\ninit { spawn 2 }\nfinally { answer gold }\n")
    with ReplayServer(store) as server:
        base = ["--questions", str(q), "--out", str(tmp_path / "r.jsonl"), "--server", server.url]
        assert cli_main(["infer", "cmc", *base, "--model", "nope"]) == 2
        err = capsys.readouterr().err
        assert f"model 'nope' is not served; it serves: {server.model_name}" in err
        assert cli_main(["infer", str(bad), *base, "--model", server.model_name]) == 1
        assert "error[E101]: unknown name `gold`" in capsys.readouterr().err
