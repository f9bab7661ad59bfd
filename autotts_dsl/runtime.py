"""Run-time state of one episode under a compiled program.

`Ctx` is what compiled closures read and write. Control leaves a block by
exception: `AnswerGiven` ends the episode, `StopRounds` ends the round loop.
"""

from __future__ import annotations

from typing import Any

from .diagnostics import Span
from .records import record
from .replay.episode import Episode


class AnswerRef(int):
    """An interned answer inside a trace event. Traces are recorded without
    the store's vocabulary; export turns these back into answer strings."""

    __slots__ = ()


class AnswerGiven(Exception):
    """The program executed `answer`."""


class StopRounds(Exception):
    """The program executed `stop`."""


class RuntimeFault(Exception):
    """A run-time error in a program, tied to its source span."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


@record
class EpisodeFault(Exception):
    """A `RuntimeFault` with the episode it happened in."""

    message: str
    span: Span
    path: str
    store: str
    question: int
    seed: int

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.span.line}:{self.span.col}: {self.message} "
            f"(store {self.store}, question {self.question}, seed {self.seed})"
        )


class Ctx:
    """Mutable state of one episode: engine, observations, program variables."""

    __slots__ = (
        "completed",
        "ep",
        "events",
        "fields",
        "fuel",
        "latest",
        "locals",
        "round",
        "state",
    )

    def __init__(
        self, ep: Episode, state: list[Any], n_fields: int, n_locals: int, fuel: int
    ) -> None:
        self.ep = ep
        self.latest: list[int] = []  # per opened branch: answer of its latest read
        self.completed: list[int] = []  # final answers in completion order
        self.fields: list[list[Any]] = [[] for _ in range(n_fields)]
        self.state = state
        self.locals: list[Any] = [None] * n_locals
        self.round = -1
        self.fuel = fuel
        self.events: list[dict[str, Any]] | None = None
