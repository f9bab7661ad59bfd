"""Helpers for the `infer` tests: run a program against an in-process
serve-replay, and compare it with `run` on the store it serves."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autotts_dsl.live.client import ServerClient
from autotts_dsl.live.equivalence import make_rule
from autotts_dsl.live.infer import Inference, InferRun, InferSettings, infer_questions
from autotts_dsl.live.model_api import ModelServer, Sampling
from autotts_dsl.live.questions import QuestionItem
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.programs import load_program
from autotts_dsl.replay.protocol import Evaluation
from autotts_dsl.replay.store import ReplayStore

COMPARED = ("answer", "correct", "tokens", "seq_tokens", "opened", "reads")


def store_questions(store: ReplayStore, picked: Sequence[int]) -> list[QuestionItem]:
    return [
        QuestionItem(store.questions[q].text, store.vocab[store.questions[q].gold]) for q in picked
    ]


def infer_on(
    server: ReplayServer,
    store: ReplayStore,
    program: str,
    beta: float,
    picked: Sequence[int],
    seeds: Sequence[int],
    journal: Path,
    *,
    tokens: str = "auto",
    equivalence: str = "exact",
    params: dict[str, str] | None = None,
    keep_open: bool = False,
    **settings: Any,
) -> tuple[Inference, InferRun]:
    """`tts-dsl infer` in-process against `server` (which serves `store`);
    the journal is closed unless `keep_open`."""
    runner = load_program(program)
    client = ServerClient(server.url, retries=6, backoff=0.01, max_backoff=0.05, timeout=30)
    base: dict[str, Any] = {
        "model": server.model_name,
        "interval": store.questions[0].interval,
        "sampling": Sampling(max_tokens=max(max(q.tokens) for q in store.questions)),
        "branches": store.questions[0].n_branches,
    }
    base.update(settings)
    inference, run = infer_questions(
        ModelServer(client, server.model_name),
        InferSettings(**base),
        store_questions(store, picked),
        runner.compile(beta, params or {}, tracing=True),
        make_rule(equivalence),
        seeds=seeds,
        journal_path=str(journal),
        program_id=program,
        tokens=tokens,
    )
    if not keep_open:
        inference.journal.close()
    return inference, run


def replay_rows(
    store: ReplayStore, ev: Evaluation, picked: Sequence[int], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """`run`'s per-episode results for the picked questions, in infer's order."""
    out = []
    n_q = len(store.questions)
    for s in seeds:
        for j, q in enumerate(picked):
            e = list(ev.seeds).index(s) * n_q + q
            out.append(
                {
                    "question": j,
                    "seed": s,
                    "answer": store.answer_text(int(ev.answer[e])),
                    "correct": bool(ev.correct[e]),
                    "tokens": int(ev.cost[e]),
                    "seq_tokens": int(ev.seq_cost[e]),
                    "opened": int(ev.opened[e]),
                    "reads": int(ev.reads[e]),
                }
            )
    return out


def assert_same_as_replay(
    store: ReplayStore, ev: Evaluation, run: InferRun, picked: Sequence[int], seeds: Sequence[int]
) -> None:
    want = replay_rows(store, ev, picked, seeds)
    got = [{k: r[k] for k in ("question", "seed", *COMPARED)} for r in run.results]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w, f"episode (question {picked[w['question']]}, seed {w['seed']}): {g} != {w}"


def boundary_records(
    rng: random.Random, *, n_q: int, n_b: int, interval: int, pool: Sequence[str]
) -> list[dict[str, Any]]:
    """A small store with the shapes where live reads are easiest to get
    wrong: traces ending exactly on an interval boundary, reasoning that
    is the whole trace, long answers after the reasoning, two-token traces."""
    out = []
    for q in range(n_q):
        branches = []
        for _ in range(n_b):
            kind = rng.randrange(4)
            if kind == 0:
                total = interval * rng.randint(1, 6)  # ends on a boundary
            elif kind == 1:
                total = 2
            else:
                total = rng.randint(2, 6 * interval)
            most = -(-total // interval)
            n_probes = most if kind != 3 else rng.randint(max(1, most - 3), most)
            probes = [rng.choice(pool) for _ in range(n_probes)]
            branches.append([probes, total, rng.choice(pool)])
        out.append(
            {
                "question": f"Boundary question {q}: what is {q} + {rng.randrange(10**6)}?",
                "final_answers_trace": [b[2] for b in branches],
                "each_branch": branches,
                "gold_answer": rng.choice(pool),
                "probe_freq": interval,
            }
        )
    return out


def as_array(rows: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.asarray([r[key] for r in rows])
