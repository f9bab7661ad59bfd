"""Trace excerpts chosen to be diagnostic, for the proposer's prompt.

The program runs at one β on (some of) the search stores with tracing on
(`ProgramRunner.evaluate(traces=...)`), and three kinds of episode are
picked: wrong answers although the majority of the final answers of the
traces it opened was right (it stopped or aggregated badly), the costliest
episodes, and wrong early stops (a rule answered before `finally`, cheaper
than the median episode). Each becomes a few lines: the outcome, the rule
that ended it with the values its guard saw, and the actions by rule.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .. import ast
from ..fmt import format_expr
from ..interpreter import ProgramRunner
from ..records import record
from ..replay.episode import shuffle_order
from ..replay.store import ReplayStore
from ..replay.voting import winner
from .astops import walk


@record
class Episode:
    store: str
    question: int
    seed: int
    correct: bool
    cost: int
    opened: int
    majority_right: bool
    ended_by: str
    """`rule NAME (line N) in round R: condition {values}` or `finally`."""
    early: bool
    actions: str
    rounds: int


def _values(v: dict[str, Any]) -> str:
    text = json.dumps(v, separators=(", ", "="), default=str)
    return text if len(text) <= 240 else text[:237] + "..."


def _guards(program: ast.Program) -> dict[int, str]:
    """Line -> guard text of every `if`/rule, for guards spanning several
    lines (the trace keeps only one-line guard texts)."""
    out: dict[int, str] = {}
    for n in walk(program):
        if isinstance(n, ast.If):
            for cond, _body in n.arms:
                out[cond.span.line] = format_expr(cond)
    return out


def _describe_end(
    events: Sequence[dict[str, Any]], final_lines: range, guards: dict[int, str]
) -> tuple[str, bool]:
    """How the episode ended, and whether a rule (not `finally`) answered."""
    answer = next((e for e in reversed(events) if e.get("action") == "answer"), None)
    if answer is None or answer["line"] in final_lines:
        return "finally (the round loop ended without answering)", False
    guard = next(
        (
            e
            for e in reversed(events)
            if e["event"] in ("rule", "gate") and e.get("fired") and e["line"] <= answer["line"]
        ),
        None,
    )
    where = f"rule {answer['rule']}" if answer.get("rule") else "an `answer`"
    text = f"{where} (line {answer['line']}) in round {answer['round']}"
    if guard is not None and "condition" in guard:
        cond = guard["condition"] or guards.get(guard["line"], "?")
        text += f": `{cond}` with {_values(guard.get('values', {}))}"
    return text, True


def _actions(events: Sequence[dict[str, Any]]) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e["event"] == "action" and e["action"] != "answer":
            counts[(e["action"], e.get("rule") or f"line {e['line']}")] += 1
    return ", ".join(f"{a}×{n} ({r})" for (a, r), n in counts.most_common(6)) or "none"


def _episodes(
    runner: ProgramRunner, store: ReplayStore, beta: float, seeds: Sequence[int]
) -> list[Episode]:
    traces: list[list[dict[str, Any]]] = []
    ev = runner.evaluate(store, beta, {}, seeds, traces=traces)
    final = runner.program.final
    final_lines = range(final.span.line, final.span.end_line + 1) if final else range(0)
    guards = _guards(runner.program)
    out = []
    for e, events in enumerate(traces):
        seed, qi = int(ev.seed_column[e]), int(ev.question_column[e])
        q = store.questions[qi]
        order = shuffle_order(seed, q.n_branches)
        opened = int(ev.opened[e])
        pool = [q.finals[order[i]] for i in range(min(opened, q.n_branches))]
        ended, early = _describe_end(events, final_lines, guards)
        rounds = max((int(x.get("round", -1)) for x in events), default=-1) + 1
        out.append(
            Episode(
                store.name,
                qi,
                seed,
                bool(ev.correct[e]),
                int(ev.cost[e]),
                opened,
                bool(pool) and winner(pool) == q.gold,
                ended,
                early,
                _actions(events),
                rounds,
            )
        )
    return out


def _line(ep: Episode) -> str:
    verdict = "right" if ep.correct else "WRONG"
    majority = "right" if ep.majority_right else "wrong"
    return (
        f"- {ep.store} q{ep.question} seed {ep.seed}: {verdict}, {ep.cost:,} tokens, "
        f"{ep.opened} branches opened (majority of their final answers: {majority}), "
        f"{ep.rounds} rounds; ended by {ep.ended_by}\n  actions: {ep.actions}"
    )


def diagnostic_excerpts(
    runner: ProgramRunner,
    stores: Sequence[ReplayStore],
    beta: float,
    seeds: Sequence[int],
    per_kind: int = 2,
) -> str:
    """Text for the prompt (empty when nothing stands out)."""
    episodes: list[Episode] = []
    for store in stores:
        episodes += _episodes(runner, store, beta, seeds)
    if not episodes:
        return ""
    median = statistics.median(ep.cost for ep in episodes)
    misled = [ep for ep in episodes if not ep.correct and ep.majority_right]
    early = [ep for ep in episodes if not ep.correct and ep.early and ep.cost <= median]
    kinds = [
        (f"Wrong although the majority of the traces it opened was right ({len(misled)})", misled),
        ("Costliest episodes", sorted(episodes, key=lambda ep: -ep.cost)),
        (f"Wrong early stops: a rule answered, cheaper than the median ({len(early)})", early),
    ]
    parts = [f"At β = {beta:g}, {len(episodes)} episodes (seeds {', '.join(map(str, seeds))}):"]
    for title, eps in kinds:
        if eps:
            parts.append(f"{title}:")
            parts += [_line(ep) for ep in eps[:per_kind]]
    return "\n".join(parts)
