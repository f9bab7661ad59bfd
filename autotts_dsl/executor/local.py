"""Local executors: worker processes with a wall-clock budget per task, and
an inline one.

`ProcessExecutor` owns its worker processes (spawned, so no state leaks in
from the parent). Each worker announces itself ready, then runs one task at
a time. The parent waits on the workers' pipes and process sentinels with a
deadline: a task that overruns its budget has its worker killed (SIGKILL —
a worker stuck in native code or ignoring signals goes just the same) and
reported as `timeout`; a worker that exits or crashes is reported as
`died`. Either way a fresh worker takes its place, so one bad task costs its
budget and nothing else. Workers persist across `map_unordered` calls and
keep whatever module-level caches the tasks fill (stores, compiled
programs).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from .base import ExecutorError, TaskResult

A = TypeVar("A")
R = TypeVar("R")

_READY = "ready"
MAX_STARTUP_FAILURES = 3


def _describe(exc: BaseException) -> str:
    tail = traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]
    return f"{type(exc).__name__}: {exc}\n{''.join(tail)}".rstrip()


def _worker_main(conn: Connection, initializer: Callable[[], None] | None) -> None:
    # The parent owns Ctrl-C: it stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()
    conn.send(_READY)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, arg = msg
        try:
            out: tuple[str, Any, str] = ("ok", fn(arg), "")
        except Exception as exc:
            out = ("error", None, _describe(exc))
        try:
            conn.send(out)
        except Exception as exc:  # an unpicklable value
            conn.send(("error", None, f"the result cannot be sent back: {_describe(exc)}"))


class _Worker:
    def __init__(self, ctx: Any, initializer: Callable[[], None] | None) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.proc: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, initializer), daemon=True
        )
        self.proc.start()
        child.close()
        self.ready = False
        self.used = False
        """Was it ever given a task (else it holds nothing and can just be killed)."""
        self.task: tuple[int, Any, float] | None = None
        """(index, arg, started) of the task it runs."""

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(2)
        self.kill()


class ProcessExecutor:
    """`workers` processes; each task gets at most `timeout` seconds."""

    def __init__(
        self,
        workers: int = 1,
        *,
        initializer: Callable[[], None] | None = None,
        start_method: str = "spawn",
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._n = workers
        self._ctx = multiprocessing.get_context(start_method)
        self._init = initializer
        self._pool: list[_Worker] = []
        self.replaced = 0
        """Workers killed or lost and replaced so far (for reports and tests)."""
        self._startup_failures = 0

    @property
    def workers(self) -> int:
        return self._n

    def start(self) -> None:
        """Start the workers now rather than at the first task, so that their
        start-up (a Python and the library, ~0.7 s each) overlaps the caller's."""
        self._fill()

    def _fill(self) -> None:
        self._pool = [w for w in self._pool if w.proc.is_alive() or w.task is not None]
        while len(self._pool) < self._n:
            self._pool.append(_Worker(self._ctx, self._init))

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._pool.remove(w)
        self.replaced += 1

    def map_unordered(
        self,
        fn: Callable[[A], R],
        args: Sequence[A],
        *,
        timeout: float | None = None,
        skip: Callable[[A], bool] | None = None,
    ) -> Iterator[TaskResult[A, R]]:
        queue: deque[tuple[int, A]] = deque(enumerate(args))
        if not queue:
            return
        clean = False
        try:
            while queue or any(w.task is not None for w in self._pool):
                self._fill()
                skipped: list[TaskResult[A, R]] = []
                for w in self._pool:
                    while w.ready and w.task is None and queue:
                        index, arg = queue.popleft()
                        if skip is not None and skip(arg):
                            skipped.append(TaskResult(index, arg, "skipped"))
                            continue
                        w.conn.send((fn, arg))
                        w.used = True
                        w.task = (index, arg, time.perf_counter())
                yield from skipped
                if not any(w.task is not None or not w.ready for w in self._pool):
                    continue  # everyone idle: dispatch again (or finish)
                yield from self._collect(timeout)
            clean = True
        finally:
            if not clean:  # abandoned (Ctrl-C, or the caller stopped early)
                for w in list(self._pool):
                    if w.task is not None:
                        self._replace(w)

    def _collect(self, timeout: float | None) -> Iterator[TaskResult[Any, Any]]:
        now = time.perf_counter()
        deadlines = [w.task[2] + timeout for w in self._pool if w.task and timeout is not None]
        wait_for = max(0.0, min(deadlines) - now) if deadlines else None
        handles: list[Any] = [w.conn for w in self._pool] + [w.proc.sentinel for w in self._pool]
        ready = set(wait(handles, timeout=wait_for))
        now = time.perf_counter()
        for w in list(self._pool):
            msg: Any = None
            got = False
            if w.conn in ready:
                try:
                    msg, got = w.conn.recv(), True
                except (EOFError, OSError):
                    got = False
            if got and msg == _READY:
                w.ready = True
                continue
            if got and w.task is not None:
                index, arg, started = w.task
                w.task = None
                status, value, error = msg
                yield TaskResult(index, arg, status, value, error, now - started)
                continue
            if not w.proc.is_alive() or (w.conn in ready and not got):
                code = w.proc.exitcode
                task = w.task
                if not w.ready:
                    self._startup_failures += 1
                    if self._startup_failures >= MAX_STARTUP_FAILURES:
                        raise ExecutorError(
                            f"worker processes die while starting (exit code {code})"
                        )
                self._replace(w)
                if task is not None:
                    index, arg, started = task
                    why = f"the worker process died (exit code {code})"
                    yield TaskResult(index, arg, "died", None, why, now - started)
                continue
            if w.task is not None and timeout is not None and now - w.task[2] >= timeout:
                index, arg, started = w.task
                self._replace(w)
                why = f"ran out of its wall-clock budget ({timeout:g} s); the worker was killed"
                yield TaskResult(index, arg, "timeout", None, why, now - started)

    def share(self, key: str, load: Callable[[], object]) -> None:
        """Nothing to do: each worker loads what its tasks read, once."""

    def close(self) -> None:
        for w in self._pool:
            if w.used:
                w.stop()
            else:  # started early and never needed: nothing to finish
                w.kill()
        self._pool = []

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor:
    """Runs tasks in the calling process, in order. It cannot enforce a
    budget: `timeout` is ignored (use `ProcessExecutor` for untrusted work)."""

    @property
    def workers(self) -> int:
        return 1

    def map_unordered(
        self,
        fn: Callable[[A], R],
        args: Sequence[A],
        *,
        timeout: float | None = None,
        skip: Callable[[A], bool] | None = None,
    ) -> Iterator[TaskResult[A, R]]:
        for index, arg in enumerate(args):
            if skip is not None and skip(arg):
                yield TaskResult(index, arg, "skipped")
                continue
            started = time.perf_counter()
            try:
                value = fn(arg)
            except Exception as exc:
                yield TaskResult(
                    index, arg, "error", None, _describe(exc), time.perf_counter() - started
                )
                continue
            yield TaskResult(index, arg, "ok", value, "", time.perf_counter() - started)

    def share(self, key: str, load: Callable[[], object]) -> None:
        """Nothing to do: the tasks run here and load what they read."""

    def close(self) -> None:
        pass

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    jobs: int, *, isolate: bool = True, initializer: Callable[[], None] | None = None
) -> ProcessExecutor | InlineExecutor:
    """Worker processes (`isolate`, needed for a budget), else inline."""
    if isolate:
        return ProcessExecutor(max(1, jobs), initializer=initializer)
    return InlineExecutor()
