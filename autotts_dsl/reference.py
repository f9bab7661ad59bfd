"""The reference interpreter: the semantics of tts-dsl.

`run_episode` runs one episode of a program compiled to closures for one β
(`compiler/`): init (one batch), up to `max_rounds` rounds (one batch
each), then the `finally` aggregator. `evaluate_compiled` runs it on every
episode of a store under the protocol, turning run-time faults into errors
that name the source line and the episode. The VM (`vm/`) hands this module
the episodes it does not reproduce itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import ast
from .compiler import Compiled
from .diagnostics import Span
from .replay.episode import Episode
from .replay.protocol import Evaluation, evaluate
from .replay.store import ReplayStore
from .runtime import AnswerGiven, Ctx, EpisodeFault, RuntimeFault, StopRounds

BlockHook = Callable[[Callable[[Ctx], None], Ctx], None]
"""`before(block, c)`: called before `init`, each round and `finally` run on
`c` (with `c.round` set). It must not change `c`; `tts-dsl infer` uses it to
look ahead at the requests a block will make (autotts_dsl/live/speculate.py)."""


def run_episode(
    prog: Compiled,
    ep: Episode,
    events: list[dict[str, Any]] | None = None,
    before: BlockHook | None = None,
) -> int:
    """Run one episode; returns the interned answer (the episode is finished)."""
    c = Ctx(ep, prog.make_state(), len(prog.field_inits), prog.n_locals, prog.fuel)
    c.events = events
    try:
        if before is not None:
            before(prog.init, c)
        prog.init(c)
        ep.end_batch()
        rnd = prog.round
        # Without a `round` block there is nothing to repeat: straight to `finally`.
        round_block = prog.program.round
        n_rounds = prog.max_rounds if round_block is not None else 0
        for r in range(n_rounds):
            c.round = r
            # One unit of fuel per round, charged as it starts.
            if c.fuel <= 0:
                assert round_block is not None
                raise RuntimeFault("out of fuel", round_span(round_block))
            c.fuel -= 1
            if before is not None:
                before(rnd, c)
            try:
                rnd(c)
            except StopRounds:
                ep.end_batch()
                break
            ep.end_batch()
        if before is not None:
            before(prog.final, c)
        prog.final(c)
    except AnswerGiven:
        return ep.answer
    final = prog.program.final
    raise RuntimeFault(
        "`finally` finished without answering",
        final.span if final is not None else prog.program.span,
    )


def round_span(block: ast.Block) -> Span:
    """Where a fault of the round loop itself is located: the `round` keyword."""
    sp = block.span
    return Span.point(sp.line, sp.col, len("round"))


def replay_episode(
    prog: Compiled, path: str, store: ReplayStore, question: int, seed: int
) -> Episode:
    """One episode on the reference, finished; a fault names the episode."""
    ep = Episode(store.questions[question], seed)
    try:
        run_episode(prog, ep)
    except RuntimeFault as fault:
        raise EpisodeFault(fault.message, fault.span, path, store.name, question, seed) from None
    return ep


def evaluate_compiled(
    prog: Compiled,
    path: str,
    store: ReplayStore,
    seeds: Sequence[int],
    *,
    traces: list[list[dict[str, Any]]] | None = None,
) -> Evaluation:
    """`run_episode` on every episode of `store`; with `traces`, one event list
    per episode is appended (in evaluation order)."""
    n_q = len(store.questions)
    done = 0  # episodes run so far: evaluation order is seed-major

    def policy(ep: Episode) -> int:
        nonlocal done
        question = done % n_q
        done += 1
        events: list[dict[str, Any]] | None = [] if traces is not None else None
        try:
            return run_episode(prog, ep, events)
        except RuntimeFault as fault:
            raise EpisodeFault(
                fault.message, fault.span, path, store.name, question, ep.seed
            ) from None
        finally:
            if traces is not None and events is not None:
                traces.append(events)

    return evaluate(store, policy, seeds)
