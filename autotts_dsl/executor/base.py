"""The executor interface and what one task's result looks like."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Literal, Protocol, TypeVar

from ..records import record

A = TypeVar("A")
R = TypeVar("R")

TaskStatus = Literal["ok", "error", "timeout", "died", "skipped"]
"""ok: returned a value; error: raised (message in `error`); timeout: ran out
of its wall-clock budget and was killed; died: its worker exited or crashed;
skipped: the caller's `skip` said not to start it."""


class ExecutorError(RuntimeError):
    """The executor itself cannot work (workers die while starting, the
    cluster cannot be reached, or runs another version of tts-dsl). The
    message is one line."""


@record
class TaskResult(Generic[A, R]):
    index: int
    """Position of the task in the submitted sequence."""
    arg: A
    status: TaskStatus
    value: R | None = None
    error: str = ""
    seconds: float = 0.0
    """Wall time the task held a worker (up to its budget when killed)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Executor(Protocol):
    """Runs `fn(arg)` for every arg; yields each result as it arrives.

    `fn` must be a module-level function (workers receive it by reference).
    `timeout` is the wall-clock budget of each task in seconds (None: no
    budget). `skip(arg)` is asked just before a task would start; True
    yields it as `skipped` without running it (e.g. the rest of a program's
    cells once one has timed out). Closing the iterator early, or an
    exception in the caller (Ctrl-C), stops the tasks still running."""

    def map_unordered(
        self,
        fn: Callable[[A], R],
        args: Sequence[A],
        *,
        timeout: float | None = None,
        skip: Callable[[A], bool] | None = None,
    ) -> Iterator[TaskResult[A, R]]: ...

    def share(self, key: str, load: Callable[[], object]) -> None:
        """Offer `load()` to the tasks under `key` (`shared.lookup`). A
        cluster executor calls `load` once and keeps the value in its object
        store; a local one need not call it at all (its workers load what
        they need themselves). Sharing a key again keeps the first value."""
        ...

    def close(self) -> None: ...

    @property
    def workers(self) -> int: ...
