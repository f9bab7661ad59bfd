"""Where the time went: a diagnosis for a cell that overran its budget.

The executor kills a worker whose cell overruns; this module then runs the
same program in a fresh worker on the reference interpreter with tracing on,
on the same store, β and first seed, for a short budget. Every `for` loop is
marked as a traced rule for this run only (the semantics do not change:
tracing records, it never decides), so the trace names each loop as it
starts, next to the guards and actions the tracer always records. A timer
samples, every few milliseconds, the statement most recently started and the
episode's round; at the end of the budget the run is interrupted and the
samples are summarised as the line (and rule) where the time went, the
round reached against `max_rounds`, and the episode — rendered like a
checker diagnostic so an LLM proposer can act on it.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from dataclasses import replace
from types import FrameType
from typing import Any

from .. import ast
from ..compiler import compile_program
from ..interpreter import run_episode
from ..parser import parse
from ..records import record
from ..replay.episode import Episode
from ..runtime import Ctx, RuntimeFault
from .astops import rebuild, walk
from .cells import cached_store

TIMEOUT_CODE = "S001"
SAMPLE_INTERVAL = 0.005


@record
class DiagTask:
    source: str
    path: str
    beta: float
    store_spec: str
    seeds: tuple[int, ...]
    budget: float
    """Seconds the traced re-run may take."""
    cell_budget: float
    """The budget the cell overran (for the message)."""
    cell_seeds: int


class _Overrun(Exception):
    pass


class _Tail(list):  # type: ignore[type-arg]
    """An event list that keeps only the latest event (a hung episode would
    otherwise fill memory with its trace)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, Any] | None = None
        self.seen = 0

    def append(self, ev: Any) -> None:
        self.last = ev
        self.seen += 1


def mark_loops(program: ast.Program) -> ast.Program:
    """Every plain `for` as a named rule, so tracing reports its line."""

    def fn(node: Any) -> Any:
        if isinstance(node, ast.For) and node.rule is None:
            return replace(
                node,
                head=mark_loops_in(node.head),
                body=mark_loops_in(node.body),
                rule=f"for@{node.span.line}",
            )
        return None

    def mark_loops_in(x: Any) -> Any:
        return rebuild(x, fn)

    return rebuild(program, fn)


def _rules_by_line(program: ast.Program) -> dict[int, str]:
    """Source line -> the innermost named rule around it."""
    out: dict[int, str] = {}
    spans = []
    for n in walk(program):
        if isinstance(n, ast.If | ast.For) and n.rule:
            spans.append((n.span.line, n.span.end_line, n.rule))
    for start, end, rule in sorted(spans, key=lambda s: s[1] - s[0], reverse=True):
        for line in range(start, end + 1):
            out[line] = rule  # inner rules (shorter spans) overwrite outer ones
    return out


def _find_ctx(frame: FrameType | None) -> Ctx | None:
    depth = 0
    while frame is not None and depth < 200:
        c = frame.f_locals.get("c")
        if isinstance(c, Ctx):
            return c
        frame = frame.f_back
        depth += 1
    return None


@record(frozen=False)
class _Profile:
    samples: Counter[int]
    silent: int = 0
    """Samples with no traced statement started yet in the episode."""
    round: int = -1
    question: int = 0
    seed: int = 0
    episodes: int = 0
    finished: bool = False
    elapsed: float = 0.0
    events: int = 0


@record
class Diagnosis:
    text: str
    """Rendered like a checker error."""
    projected_seconds: float | None
    """When the traced re-run finished a whole seed: its time scaled to the
    cell's seeds (an upper bound: tracing on the reference interpreter is the
    slowest way to run a program). None when it did not finish."""


def diagnose_task(task: DiagTask) -> Diagnosis:
    """Where the time went, and whether the program is slow at all."""
    program = parse(task.source, task.path)
    compiled = compile_program(
        mark_loops(program), task.beta, {}, source=task.source, path=task.path, tracing=True
    )
    store = cached_store(task.store_spec)
    prof = _Profile(Counter())
    tail = _Tail()
    started = time.perf_counter()

    def sample(_signum: int, frame: FrameType | None) -> None:
        ctx = _find_ctx(frame)
        if ctx is not None:
            prof.round = ctx.round
        last = tail.last
        if last is None or (ctx is not None and int(last.get("round", -1)) < ctx.round):
            prof.silent += 1  # nothing traced has started in this round yet
        else:
            prof.samples[int(last.get("line", 0))] += 1
        if time.perf_counter() - started > task.budget:
            raise _Overrun

    old = signal.signal(signal.SIGALRM, sample)
    signal.setitimer(signal.ITIMER_REAL, SAMPLE_INTERVAL, SAMPLE_INTERVAL)
    try:
        for seed in task.seeds[:1]:
            for qi, q in enumerate(store.questions):
                prof.question, prof.seed = qi, seed
                tail.last = None
                ep = Episode(q, seed)
                # a fault ends the episode; the cell's own error says which
                with contextlib.suppress(RuntimeFault):
                    run_episode(compiled, ep, tail)
                prof.episodes += 1
        prof.finished = True
    except _Overrun:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)
    prof.elapsed = time.perf_counter() - started
    prof.events = tail.seen
    projected = prof.elapsed * task.cell_seeds if prof.finished else None
    return Diagnosis(render(task, program, compiled.max_rounds, prof, store.name), projected)


def render(
    task: DiagTask, program: ast.Program, max_rounds: int, prof: _Profile, store: str
) -> str:
    lines = task.source.splitlines()
    rules = _rules_by_line(program)
    total = sum(prof.samples.values()) + prof.silent
    head = (
        f"evaluation overran the search's wall-clock budget ({task.cell_budget:g} s for a cell "
        f"of {task.cell_seeds} seed(s) at β = {task.beta:g} on store {store}); the candidate "
        "is rejected and will not be evaluated again"
    )
    episode = f"question {prof.question}, seed {prof.seed}"
    hot, hot_n = (prof.samples.most_common(1) or [(0, 0)])[0]
    if hot and total and hot_n >= prof.silent:
        text = lines[hot - 1].strip() if 0 < hot <= len(lines) else ""
        col = len(lines[hot - 1]) - len(lines[hot - 1].lstrip()) + 1 if text else 1
        rule = rules.get(hot)
        where = f"line {hot}" + (f" (rule {rule})" if rule else "")
        share = 100 * hot_n / total
        if prof.finished:
            note = (
                f"a traced re-run of one seed finished in {prof.elapsed:.1f} s "
                f"({prof.elapsed / max(1, prof.episodes) * 1000:.1f} ms per episode): the cell "
                f"is slow throughout rather than stuck; {share:.0f}% of the time went after "
                f"{where}"
            )
        else:
            when = (
                "in `init`"
                if prof.round < 0
                else f"in round {prof.round:,} of max_rounds = {max_rounds:,}"
            )
            note = (
                f"a traced re-run spent {share:.0f}% of {prof.elapsed:.1f} s after {where}, "
                f"{when} ({episode}); make the work per round smaller, the loops shorter, "
                "or stop earlier"
            )
        return (
            f"{task.path}:{hot}:{col}: error[{TIMEOUT_CODE}]: {head}\n  | {text}\n  = note: {note}"
        )
    rnd = program.round
    line = rnd.span.line if rnd is not None else program.span.line
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    if prof.finished:
        note = (
            f"a traced re-run of one seed finished in {prof.elapsed:.1f} s without a traced "
            "statement standing out: the cell is slow throughout"
        )
    else:
        note = (
            f"the time went to the round loop itself: round {max(prof.round, 0):,} of "
            f"max_rounds = {max_rounds:,} reached after {prof.elapsed:.1f} s with no statement "
            f"of the round doing anything ({episode}); rounds that do nothing still repeat "
            "until max_rounds: `stop` or `answer` when there is nothing left to do, or lower "
            "max_rounds"
        )
    return f"{task.path}:{line}:1: error[{TIMEOUT_CODE}]: {head}\n  | {text}\n  = note: {note}"
