"""Helpers for the live tests: small stores, questions files, collections
against an in-process serve-replay."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autotts_dsl.live import prompts
from autotts_dsl.live.client import ServerClient
from autotts_dsl.live.collector import Collected, CollectSettings, collect_store
from autotts_dsl.live.equivalence import make_rule
from autotts_dsl.live.model_api import ModelServer, Sampling
from autotts_dsl.live.questions import QuestionItem
from autotts_dsl.live.replay_server import ReplayServer

KEYS = ("question", "final_answers_trace", "each_branch", "gold_answer", "probe_freq")
POOL = ("12", "7", "\\frac{1}{2}", "m + n", "1}^{20} k", "\\{1,2\\}", "ERR", "x^{2", "0.5")


def tiny_records(seed: int, n_q: int = 3, n_b: int = 4, interval: int = 16) -> list[dict[str, Any]]:
    """A small store the collection rule can produce: short traces, answers
    with odd braces, no-answer markers, traces with and without a marker."""
    rng = random.Random(seed)
    out = []
    for q in range(n_q):
        branches = []
        for _ in range(n_b):
            total = rng.randint(2, 12 * interval)
            reasoning = total if rng.random() < 0.4 else rng.randint(2, total)
            n_probes = -(-reasoning // interval)
            probes = [rng.choice(POOL) for _ in range(n_probes)]
            branches.append([probes, total, rng.choice(POOL)])
        out.append(
            {
                "question": f"Tiny question {q} of set {seed}: what is {q} + {seed}?",
                "final_answers_trace": [b[2] for b in branches],
                "each_branch": branches,
                "gold_answer": rng.choice(POOL[:5]),
                "probe_freq": interval,
            }
        )
    return out


def sub_records(
    path: Path, questions: Sequence[int], branches: Sequence[int]
) -> list[dict[str, Any]]:
    """Questions × branches of a real store, in AutoTTS's layout."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for qi in questions:
        rec = raw[qi]
        each = [rec["each_branch"][b] for b in branches]
        out.append(
            {
                **{k: rec[k] for k in KEYS},
                "each_branch": each,
                "final_answers_trace": [b[2] for b in each],
            }
        )
    return out


def items(records: Sequence[dict[str, Any]]) -> list[QuestionItem]:
    return [QuestionItem(r["question"], r["gold_answer"]) for r in records]


def write_questions(records: Sequence[dict[str, Any]], path: Path) -> Path:
    path.write_text(
        "".join(
            json.dumps({"question": r["question"], "gold_answer": r["gold_answer"]}) + "\n"
            for r in records
        )
    )
    return path


def settings_for(records: Sequence[dict[str, Any]], model: str, **kw: Any) -> CollectSettings:
    """Settings that reproduce `records`: its N, interval and longest trace."""
    longest = max(b[1] for r in records for b in r["each_branch"])
    base = {
        "model": model,
        "n": len(records[0]["each_branch"]),
        "interval": records[0]["probe_freq"],
        "sampling": Sampling(max_tokens=longest),
        "prompt_template": prompts.DEFAULT_PROMPT_TEMPLATE,
        "chat_template": prompts.CHAT_TEMPLATES["chatml"],
        "probe_suffix": prompts.DEFAULT_PROBE_SUFFIX,
        "concurrency": 4,
        "probe_batch": 8,
    }
    base.update(kw)
    return CollectSettings(**base)


def collect_from(
    server: ReplayServer,
    records: Sequence[dict[str, Any]],
    out: Path,
    *,
    tokens: str = "auto",
    equivalence: str = "exact",
    retries: int = 8,
    timeout: float = 30.0,
    **kw: Any,
) -> Collected:
    client = ServerClient(
        server.url, retries=retries, backoff=0.01, max_backoff=0.05, timeout=timeout
    )
    model = ModelServer(client, server.model_name)
    return collect_store(
        model,
        settings_for(records, server.model_name, **kw),
        items(records),
        str(out),
        make_rule(equivalence),
        tokens=tokens,
    )


def serve_replay_process(
    store: Path,
    port_file: Path,
    *extra: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """`tts-dsl serve-replay STORE` as its own process on an OS-chosen port,
    returned once it has written its port to `port_file`."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "autotts_dsl.cli.main", "serve-replay", str(store)),
            *("--port", "0", "--port-file", str(port_file)),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=None if env is None else dict(env),
    )
    deadline = time.monotonic() + timeout
    try:
        while not port_file.exists():
            assert proc.poll() is None, "serve-replay exited"
            assert time.monotonic() < deadline, "serve-replay did not start"
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc
