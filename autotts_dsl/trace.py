"""Execution traces: levels, per-episode records, AutoTTS-compatible JSONL.

Events come from the interpreter (compiled in only when tracing), never from
the program: one per action and per guard of an `if`/rule, each with the
source line, the values that decided it and a small state snapshot. The
export keeps AutoTTS's per-problem layout (`shuffle_seed`, `question_index`,
`is_correct`, `cost`, `trace`) and its step fields (`event, goal, input,
output, state, decision`), adding `line` and `rule`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from .replay.protocol import Evaluation
from .replay.store import NO_ANSWER, ReplayStore
from .runtime import AnswerRef

TraceLevel = Literal["off", "actions", "full"]
TRACE_LEVELS: tuple[TraceLevel, ...] = ("off", "actions", "full")


def keep(event: dict[str, Any], level: TraceLevel) -> bool:
    """`actions` keeps actions and guards that fired; `full` keeps everything."""
    if level == "full":
        return True
    if level == "off":
        return False
    return event["event"] == "action" or bool(event.get("fired"))


def with_answer_texts(value: Any, vocab: Sequence[str]) -> Any:
    """Replace interned answers (`AnswerRef`) in an event by their strings."""
    if isinstance(value, AnswerRef):
        return None if value == NO_ANSWER else vocab[value]
    if isinstance(value, dict):
        return {k: with_answer_texts(v, vocab) for k, v in value.items()}
    if isinstance(value, list):
        return [with_answer_texts(v, vocab) for v in value]
    return value


def to_autotts_step(ev: dict[str, Any]) -> dict[str, Any]:
    where = f"line {ev['line']}"
    rule = ev.get("rule")
    if ev["event"] == "action":
        return {
            "event": f"action:{ev['action']}",
            "goal": f"rule {rule}" if rule else where,
            "input": ev.get("args", {}),
            "output": {"charged": ev.get("charged", 0)},
            "state": ev["state"],
            "decision": f"{ev['action']} at {where}",
            "line": ev["line"],
            "rule": rule,
        }
    if "condition" in ev:
        fired = ev.get("fired")
        return {
            "event": ev["event"],
            "goal": ev["condition"],
            "input": ev.get("values", {}),
            "output": {"fired": fired},
            "state": ev["state"],
            "decision": ("fired" if fired else "not fired") + (f": rule {rule}" if rule else ""),
            "line": ev["line"],
            "rule": rule,
        }
    return {
        "event": ev["event"],
        "goal": f"rule {rule}" if rule else where,
        "input": {"branches": ev.get("branches", [])},
        "output": {},
        "state": ev["state"],
        "decision": f"iterate {len(ev.get('branches', []))} branches",
        "line": ev["line"],
        "rule": rule,
    }


def episode_record(
    *,
    store: str,
    seed: int,
    question: int,
    answer: str | None,
    correct: bool,
    cost: int,
    seq_cost: int,
    events: Iterable[dict[str, Any]],
    level: TraceLevel,
    vocab: Sequence[str],
) -> dict[str, Any]:
    return {
        "store": store,
        "shuffle_seed": seed,
        "question_index": question,
        "answer": answer,
        "is_correct": correct,
        "cost": cost,
        "seq_cost": seq_cost,
        "trace": [
            to_autotts_step(with_answer_texts(ev, vocab)) for ev in events if keep(ev, level)
        ],
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def evaluation_records(
    store: ReplayStore, ev: Evaluation, traces: Sequence[list[dict[str, Any]]], level: TraceLevel
) -> list[str]:
    """One JSONL line per episode of a traced evaluation (evaluation order)."""
    seed_col = ev.seed_column
    q_col = ev.question_column
    return [
        dumps(
            episode_record(
                store=store.name,
                seed=int(seed_col[e]),
                question=int(q_col[e]),
                answer=store.answer_text(int(ev.answer[e])),
                correct=bool(ev.correct[e]),
                cost=int(ev.cost[e]),
                seq_cost=int(ev.seq_cost[e]),
                events=events,
                level=level,
                vocab=store.vocab,
            )
        )
        for e, events in enumerate(traces)
    ]
