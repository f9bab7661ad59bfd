"""Running compiled programs on the replay engine.

`run_episode` is the semantic reference: init (one batch), up to
`max_rounds` rounds (one batch each), then the `finally` aggregator.
`ProgramRunner` ties a parsed program to the evaluation protocol and turns
run-time faults into errors that name the source line and the episode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .compiler import Compiled, compile_program
from .diagnostics import Span
from .replay.episode import Episode
from .replay.protocol import DEFAULT_SEEDS, Evaluation, evaluate
from .replay.store import ReplayStore
from .runtime import AnswerGiven, Ctx, EpisodeFault, RuntimeFault, StopRounds


def run_episode(prog: Compiled, ep: Episode, events: list[dict[str, Any]] | None = None) -> int:
    """Run one episode; returns the interned answer (the episode is finished)."""
    c = Ctx(ep, prog.make_state(), len(prog.field_inits), prog.n_locals, prog.fuel)
    c.events = events
    try:
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
            try:
                rnd(c)
            except StopRounds:
                ep.end_batch()
                break
            ep.end_batch()
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


@dataclass
class ProgramRunner:
    """A program plus where it came from; compiles per (β, params) on demand."""

    program: ast.Program
    source: str
    path: str
    _cache: dict[tuple[float, tuple[tuple[str, Any], ...], bool], Compiled] = field(
        default_factory=dict, repr=False
    )

    def compile(
        self, beta: float, params: Mapping[str, Any] | None = None, tracing: bool = False
    ) -> Compiled:
        key = (beta, tuple(sorted((params or {}).items())), tracing)
        got = self._cache.get(key)
        if got is None:
            got = compile_program(
                self.program, beta, params, source=self.source, path=self.path, tracing=tracing
            )
            self._cache[key] = got
        return got

    def evaluate(
        self,
        store: ReplayStore,
        beta: float,
        params: Mapping[str, Any] | None = None,
        seeds: Sequence[int] = DEFAULT_SEEDS,
        *,
        traces: list[list[dict[str, Any]]] | None = None,
        backend: str | None = None,
    ) -> Evaluation:
        """Evaluate on `store` under the protocol; with `traces`, also append
        one event list per episode (in evaluation order, reference backend).

        `backend` picks the engine (`autotts_dsl.jit.backend.BACKENDS`;
        default: `$TTS_DSL_BACKEND`, else `auto`). Every backend gives the
        reference interpreter's results, episode for episode."""
        if traces is None:
            from .jit import backend as jit_backend

            chosen = backend or jit_backend.default_backend()
            if chosen != "reference":
                return jit_backend.evaluate(self, store, beta, params, seeds, backend=chosen)
        return self.evaluate_reference(store, beta, params, seeds, traces=traces)

    def evaluate_reference(
        self,
        store: ReplayStore,
        beta: float,
        params: Mapping[str, Any] | None = None,
        seeds: Sequence[int] = DEFAULT_SEEDS,
        *,
        traces: list[list[dict[str, Any]]] | None = None,
    ) -> Evaluation:
        """The reference interpreter: `run_episode` on every episode."""
        prog = self.compile(beta, params, tracing=traces is not None)
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
                    fault.message, fault.span, self.path, store.name, question, ep.seed
                ) from None
            finally:
                if traces is not None and events is not None:
                    traces.append(events)

        return evaluate(store, policy, seeds)
