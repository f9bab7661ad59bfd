"""Live models (OpenAI-compatible servers): collecting a replay store from
one, building a store from traces you have, inspecting and merging stores,
running a program against a live model, and serving a store as a model.

Every long-running call journals what arrived (SQLite): kill it at any
point and call it again with the same arguments to resume without paying
twice. See docs/collect.md and docs/infer.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..diagnostics import DiagnosticError
from ..live.build import BuildError
from ..live.client import ServerClient, ServerError, public_url
from ..live.collector import Collected, CollectError, CollectSettings
from ..live.collector import Progress as CollectProgress
from ..live.collector import journal_path_for as collect_journal_path
from ..live.equivalence import EquivalenceUnavailable, Rule
from ..live.faults import FaultSpecError
from ..live.infer import Inference, InferError, InferRun, InferSettings
from ..live.infer import Progress as InferProgress
from ..live.infer import journal_path_for as infer_journal_path
from ..live.infer_record import Recorded
from ..live.journal import JournalError
from ..live.merge import MergeError
from ..live.model_api import ModelServer, Sampling
from ..live.prompts import DEFAULT_PROBE_SUFFIX, DEFAULT_PROMPT_TEMPLATE, PromptError
from ..live.questions import QuestionItem, QuestionsError, load_questions
from ..live.replay_model import ReplayModelError
from ..live.replay_server import ReplayServer
from ..live.stats import StoreReport
from ..records import record
from .evaluation import StoreLike
from .programs import ProgramError, ProgramLike, load

__all__ = [
    "DEFAULT_PROBE_SUFFIX",
    "DEFAULT_PROMPT_TEMPLATE",
    "BuildError",
    "CollectError",
    "CollectProgress",
    "CollectSettings",
    "Collected",
    "EquivalenceUnavailable",
    "FaultSpecError",
    "InferError",
    "InferProgress",
    "InferRun",
    "InferSettings",
    "Inference",
    "JournalError",
    "MergeError",
    "MergeResult",
    "ModelServer",
    "PromptError",
    "QuestionItem",
    "QuestionsError",
    "Recorded",
    "ReplayModelError",
    "ReplayServer",
    "Rule",
    "Sampling",
    "ServerError",
    "StoreReport",
    "build_store",
    "chat_template",
    "collect",
    "collect_journal_path",
    "collection_plan",
    "connect",
    "equivalence",
    "infer",
    "infer_journal_path",
    "infer_result_lines",
    "inspect_store",
    "load_questions",
    "merge_stores",
    "public_url",
    "record_inference",
    "serve_replay",
]


def connect(
    url: str,
    model: str,
    *,
    api_key: str | None = None,
    timeout: float = 600.0,
    retries: int = 8,
    backoff: float = 0.5,
) -> ModelServer:
    """The model `model` on the OpenAI-compatible server at `url` (no request
    is sent yet). Requests that fail with 429/5xx, time out or come back
    broken are retried `retries` times, the delay doubling from `backoff`
    seconds up to 30. Raises `ServerError` (a malformed URL)."""
    client = ServerClient(url, api_key=api_key, timeout=timeout, retries=retries, backoff=backoff)
    return ModelServer(client, model)


def equivalence(name: str = "exact") -> Rule:
    """The answer-equivalence rule called `name`: `"exact"` (after the
    answer's normalisation) or `"math-verify"` (symbolic; `pip install
    'tts-dsl[live]'`). Raises `EquivalenceUnavailable`, `ValueError`."""
    from ..live.equivalence import make_rule

    return make_rule(name)


def chat_template(name: str) -> str:
    """The chat template called `name`, or read from the file `name` (it
    holds `{prompt}`). Raises `PromptError`."""
    from ..live.prompts import resolve_chat_template

    return resolve_chat_template(name)


def _rule(rule: Rule | str) -> Rule:
    return equivalence(rule) if isinstance(rule, str) else rule


def collection_plan(
    settings: CollectSettings,
    questions: Sequence[QuestionItem],
    out: str,
    *,
    journal: str | None = None,
    expect_tokens: int | None = None,
) -> dict[str, Any]:
    """What `collect` would send, sending nothing: trace requests, at most
    how many probes, requests and tokens (and with `expect_tokens`, the
    expected figures for traces of that mean length), not counting traces
    already in the journal. Raises `JournalError` (a journal that is not
    one)."""
    from ..live.collector import plan

    done: set[tuple[int, int]] = set()
    journal_path = Path(journal or collect_journal_path(out))
    if journal_path.exists():
        try:
            db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True)
            done = {(q, i) for q, i in db.execute("SELECT q, i FROM traces")}
            db.close()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{journal_path}: not a usable journal ({exc})") from None
    p = plan(settings, questions, done=done, expect_tokens=expect_tokens)
    doc: dict[str, Any] = {
        "questions": len(questions),
        "traces_per_question": settings.n,
        "interval": settings.interval,
        "max_tokens": settings.sampling.max_tokens,
        "probe_batch": settings.probe_batch,
        "already_in_journal": p.traces_done,
        "trace_requests": p.traces,
        "at_most": {
            "probes": p.max_probes,
            "probe_requests": p.max_probe_requests,
            "requests": p.traces + p.max_probe_requests,
            "completion_tokens": p.max_completion_tokens,
            "probe_prompt_tokens": p.max_probe_prompt_tokens,
        },
        "prompt_tokens_estimated": p.prompt_tokens_estimated,
    }
    if p.expected is not None:
        doc["expected"] = {
            "mean_trace_tokens": expect_tokens,
            **p.expected,
            "requests": p.traces + p.expected["probe_requests"],
        }
    return doc


def collect(
    server: ModelServer,
    settings: CollectSettings,
    questions: Sequence[QuestionItem],
    out: str,
    *,
    rule: Rule | str = "exact",
    tokens: str = "auto",
    journal: str | None = None,
    progress: Callable[[CollectProgress], None] | None = None,
) -> Collected:
    """Sample `settings.n` traces per question from `server`, probe each at
    every `settings.interval` tokens of its own, and write an AutoTTS-format
    store at `out` (plus `out.meta`). Every trace and probe is journaled in
    `journal` (default `out.journal`) as it arrives: call again to resume.
    `tokens`: how tokens are counted (`auto`, `ids`, `text`). Raises
    `ServerError`, `CollectError`, `JournalError`."""
    from ..live.collector import collect_store

    return collect_store(
        server,
        settings,
        questions,
        out,
        _rule(rule),
        tokens=tokens,
        journal_path=journal,
        progress=progress,
    )


def build_store(
    traces: str | Path,
    out: str,
    settings: CollectSettings,
    *,
    rule: Rule | str = "exact",
    server: ModelServer | None = None,
    tokens: str = "auto",
    journal: str | None = None,
) -> Collected:
    """A store from a JSONL of traces you have (question, gold, the trace's
    text and, if you have them, its probe answers); probes it lacks are
    asked of `server`. Raises `BuildError`, `QuestionsError`, `ServerError`."""
    from ..live.build import build_store as _build

    return _build(
        traces, out, settings, _rule(rule), server=server, tokens=tokens, journal_path=journal
    )


def _open(store: StoreLike) -> Any:
    from .replay_stores import ReplayStore, open_store

    if isinstance(store, ReplayStore):
        return store
    if isinstance(store, tuple):
        return store[1]
    return open_store(store)


def inspect_store(store: StoreLike) -> StoreReport:
    """Per-question majority and pass@k, the trace-length distribution, and
    how probe answers converge to the final one by depth."""
    from ..live.stats import inspect_store as _inspect

    return _inspect(_open(store))


@record
class MergeResult:
    """What `merge_stores` wrote (`written`: path, questions, branches) and
    the equivalence rule it merged answers by."""

    written: dict[str, Any]
    rule: str


def merge_stores(
    stores: Sequence[StoreLike], out: str | Path, *, rule: str | None = None
) -> MergeResult:
    """Append the traces of each store question by question (matched by
    question text) into one store at `out`. `rule`: the answer equivalence
    (default: math-verify when any store was collected with it, else exact).
    Raises `MergeError`, `StoreError`."""
    from ..live.merge import merge_stores as _merge
    from ..live.storefile import read_meta

    opened = [_open(s) for s in stores]
    metas = [read_meta(s.source) for s in opened]
    name = rule or (
        "math-verify"
        if any(m and m.get("equivalence", {}).get("rule") == "math-verify" for m in metas)
        else "exact"
    )
    return MergeResult(_merge(opened, metas, equivalence(name), out), name)


def serve_replay(
    store: StoreLike | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    model_name: str | None = None,
    faults: str | None = None,
    fault_seed: int = 0,
    hang_seconds: float = 30.0,
    token_latency: float = 0.0,
    tokenize_endpoint: bool = True,
) -> ReplayServer:
    """A store served as an OpenAI-compatible model (listening on `host`
    and `port`, 0: any free port; `.url`, `.model_name`; call
    `.serve_forever()`, stop with `.httpd.shutdown()`). `faults`
    (`"error=0.1,hang=0.01,..."`) injects failures for testing clients;
    `token_latency` is seconds per token. Raises `FaultSpecError`,
    `StoreUnavailable`/`StoreError`, `ReplayModelError`, `OSError`."""
    from ..live.faults import parse_faults

    plan = parse_faults(faults, seed=fault_seed, hang_seconds=hang_seconds)
    return ReplayServer(
        _open(store) if store is not None else _open("default"),
        host=host,
        port=port,
        model_name=model_name,
        faults=plan,
        token_latency=token_latency,
        tokenize_endpoint=tokenize_endpoint,
    )


def infer(
    program: ProgramLike,
    server: ModelServer,
    settings: InferSettings,
    questions: Sequence[QuestionItem],
    *,
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
    seeds: Sequence[int] = (0,),
    rule: Rule | str = "exact",
    journal: str,
    tokens: str = "auto",
    progress: Callable[[InferProgress], None] | None = None,
) -> tuple[Inference, InferRun]:
    """Run the program at β against a live model: each (seed, question)
    episode spawns, extends and probes branches on `server` as the program
    says. Every chunk and probe is journaled in `journal` (resume by calling
    again). Returns the inference (its journal stays open for
    `record_inference`; close it with `.journal.close()`) and the run
    (`.summary()`, per-episode results). Raises `ProgramError`,
    `InferError`, `EpisodeFault`, `ServerError`, `JournalError`."""
    from ..live.infer import infer_questions

    p = load(program)
    try:
        compiled = p.runner.compile(beta, dict(params or {}), tracing=True)
    except DiagnosticError as exc:
        raise ProgramError(exc.diagnostics, p.source, p.path) from None
    return infer_questions(
        server,
        settings,
        questions,
        compiled,
        _rule(rule),
        seeds=seeds,
        journal_path=journal,
        program_id=p.program_hash,
        tokens=tokens,
        progress=progress,
    )


def infer_result_lines(run: InferRun) -> list[str]:
    """One JSON line per episode of an inference run (what `tts-dsl infer
    --out` writes)."""
    from ..live.infer import result_lines

    return result_lines(run)


def record_inference(inference: Inference, out: str, *, server_url: str) -> Recorded:
    """A replay store (and its `.meta`) written from an inference's journal:
    the traces the run read, completed, so the same run can be replayed
    offline. `server_url` is recorded without credentials."""
    from ..live.infer_record import record_store

    return record_store(inference, out, server_url=public_url(server_url))
