"""Running programs: a parsed program, compiled per (β, params) on demand and
evaluated under the protocol by the chosen engine (`engines.py`).

`ProgramRunner.evaluate` gives the reference interpreter's results episode
for episode whichever engine runs it; `evaluate_reference` always uses the
reference (`reference.py`), which also writes traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any

from . import ast, vm
from .compiler import Compiled, compile_program
from .engines import BackendError, check_backend, default_backend
from .records import record
from .reference import evaluate_compiled, run_episode
from .replay.protocol import DEFAULT_SEEDS, Evaluation
from .replay.store import ReplayStore

__all__ = ["ProgramRunner", "run_episode"]


@record(frozen=False)
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
        one event list per episode (in evaluation order, reference engine).

        `backend` picks the engine (`engines.BACKENDS`; default:
        `$TTS_DSL_BACKEND`, else `auto`). Every engine gives the reference
        interpreter's results, episode for episode."""
        chosen = check_backend(backend or default_backend())
        if traces is not None or chosen == "reference":
            return self.evaluate_reference(store, beta, params, seeds, traces=traces)
        compiled = self.compile(beta, params)  # name and type errors, as the reference
        try:
            return vm.evaluate(
                self.program, compiled, self.source, self.path, store, params or {}, seeds
            )
        except vm.Unsupported as why:
            if chosen == "vm":
                raise BackendError(f"{self.path}: not covered by the VM: {why}") from None
        return evaluate_compiled(compiled, self.path, store, seeds)

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
        return evaluate_compiled(prog, self.path, store, seeds, traces=traces)
