"""Tasks on a Ray cluster, behind the same seam as the local pool.

Each task becomes one Ray task (one CPU). The driver keeps two tasks in
flight per cluster CPU (one running, one queued). A task's first message
says it has started (Ray streams a task's outputs as it yields them), so its wall-clock
budget counts from its real start, not from a queue or a cold worker's
start-up; a task that overruns is cancelled with its worker process killed
(`ray.cancel(force=True)`) and reported as `timeout`, as the local executor
does.

* Faults: a worker that dies mid-task (killed, out of memory) or a node that
  leaves is Ray's to handle: the task is retried, elsewhere if need be, up
  to `max_retries` times, and only then reported as `died`. Tasks are pure
  functions of their argument, so a retry gives the same value.
* Shared values (`share`): put into Ray's object store once; each task gets
  the references, and a worker fetches a value on first use and keeps it
  (`shared.lookup`), so every node receives each store once and every
  worker process deserialises it once.
* Same code everywhere: before its first task every worker compares its
  `fingerprint` (tts-dsl version and source, VM digest, Python) with the
  driver's; at start one probe per node does the same, so a node with
  another installation stops the run at once with one line.
* Environment: workers do not inherit the driver's; the `TTS_DSL_*`
  variables (the engine choice) travel with each task.

Nothing is compiled per program (programs run on the VM, a C extension
built at install), so there is nothing to build per node either: each
worker lowers a program once and keeps it, as a local worker does.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from typing import Any, TypeVar

from ..records import record
from . import fingerprint, shared
from .base import ExecutorError, TaskResult, TaskStatus
from .local import _describe

A = TypeVar("A")
R = TypeVar("R")

RAY_MISSING = "--executor ray needs Ray, which is not installed here: pip install 'tts-dsl[ray]'"
ENV_PREFIX = "TTS_DSL_"
MAX_RETRIES = 3
"""Ray's retries of a task whose worker or node died (then: `died`)."""
PROBE_SECONDS = 120.0
"""How long the start-up probe of every node may take (workers start cold)."""
REFRESH_SECONDS = 1.0
"""How often the driver re-reads the cluster's CPU count (nodes come and go)."""
NO_CPU_SECONDS = 120.0
"""How long the cluster may have no CPU at all before the run stops."""
IN_FLIGHT = 2
"""Tasks submitted per cluster CPU: one running and one queued behind it, so
a worker never waits for the driver's round trip (budgets count from a
task's own start either way; `skip` is asked at most one task early)."""
CONNECT_SECONDS = 10.0
"""How long the cluster's address may take to accept a connection."""
STARTED = "started"


class RayUnavailable(ExecutorError):
    """Ray is not installed (`pip install 'tts-dsl[ray]'`)."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(RAY_MISSING) from None
    return ray


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "Error:" in line and not line.startswith(" "):
            return line.strip()  # the cause, not Ray's preamble
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------
# The worker side


_initialized: set[str] = set()


def _apply_env(env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def _prepare(
    driver: fingerprint.Fingerprint,
    env: dict[str, str],
    offers: dict[str, Any],
    initializer: Callable[[], None] | None,
) -> str | None:
    """Everything a worker does before a task; a mismatch's text, or None."""
    bad = fingerprint.current().mismatch(driver, fingerprint.where())
    if bad is not None:
        return bad
    _apply_env(env)
    import ray

    for key, ref in offers.items():
        shared.offer(key, ref.hex(), functools.partial(ray.get, ref))
    if initializer is not None:
        name = f"{initializer.__module__}.{initializer.__qualname__}"
        if name not in _initialized:
            _initialized.add(name)
            initializer()
    return None


def _run_in_worker(
    fn: Callable[[Any], Any],
    arg: Any,
    driver: fingerprint.Fingerprint,
    env: dict[str, str],
    offers: dict[str, Any],
    initializer: Callable[[], None] | None,
) -> Iterator[tuple[str, Any, str, float]]:
    """One task in a Ray worker, streamed: ("started", ...) once the worker
    is ready, then (status, value, error, seconds)."""
    bad = _prepare(driver, env, offers, initializer)
    if bad is not None:
        yield ("mismatch", None, bad, 0.0)
        return
    yield (STARTED, None, "", 0.0)
    started = time.perf_counter()
    try:
        value = fn(arg)
    except Exception as exc:
        yield ("error", None, _describe(exc), time.perf_counter() - started)
        return
    yield ("ok", value, "", time.perf_counter() - started)


def _probe(
    driver: fingerprint.Fingerprint, env: dict[str, str], initializer: Callable[[], None] | None
) -> str | None:
    """A node's check at start (and its first worker's warm-up)."""
    return _prepare(driver, env, {}, initializer)


# ---------------------------------------------------------------------------
# The driver side


class RayExecutor:
    """Tasks on the Ray cluster at `address` (`auto`, `HOST:PORT`; None:
    `$RAY_ADDRESS`, else a new Ray instance on this machine with `num_cpus`
    CPUs). Connects at once; raises `ExecutorError` (one line) when Ray is
    missing, the cluster cannot be reached or a node runs other code."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        initializer: Callable[[], None] | None = None,
        max_retries: int = MAX_RETRIES,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        ray = import_ray()
        self._ray = ray
        self._init = initializer
        self._fingerprint = fingerprint.current()
        self._shared: dict[str, Any] = {}
        self._connected_here = not ray.is_initialized()
        if self._connected_here:
            self._connect(address, num_cpus)
        self._task = ray.remote(_run_in_worker).options(
            num_cpus=1,
            max_retries=max_retries,
            retry_exceptions=False,
            num_returns="streaming",
        )
        self._max_retries = max_retries
        _raylet_messages_to_stderr(ray)
        self._cpus = 0
        self._refreshed = 0.0
        self.cancelled = 0
        """Tasks cancelled for overrunning their budget (for reports and tests)."""
        try:
            self._probe_nodes(probe_seconds)
        except BaseException:
            self.close()
            raise

    def _connect(self, address: str | None, num_cpus: int | None) -> None:
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
            "configure_logging": True,
        }
        if address is not None:
            kwargs["address"] = address
        elif not os.environ.get("RAY_ADDRESS"):
            # A new instance, even where `ray start` left a cluster whose
            # address Ray would otherwise pick up (`auto` asks for that one).
            kwargs["address"] = "local"
            kwargs["num_cpus"] = num_cpus
        where = address or os.environ.get("RAY_ADDRESS") or "a new local instance"
        _check_reachable(address or os.environ.get("RAY_ADDRESS"))
        try:
            self._ray.init(**kwargs)
        except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError...
            raise ExecutorError(
                f"cannot start or reach Ray at {where}: {_first_line(exc)}"
            ) from None

    def _probe_nodes(self, seconds: float) -> None:
        from ray import exceptions as rx
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self._ray
        probe = ray.remote(_probe)
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
        if not nodes:
            raise ExecutorError("the Ray cluster has no node with a CPU")
        refs = {
            probe.options(
                num_cpus=1,
                max_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote(self._fingerprint, _env_snapshot(), self._init): n
            for n in nodes
        }
        ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=seconds)
        for ref in late:
            ray.cancel(ref, force=True)
        if late:
            ips = ", ".join(sorted({refs[r]["NodeManagerAddress"] for r in late}))
            raise ExecutorError(
                f"no worker started within {seconds:g} s on Ray node(s) {ips}; "
                "is the cluster overloaded?"
            )
        answered = 0
        for ref in ready:
            node = refs[ref]["NodeManagerAddress"]
            try:
                bad = ray.get(ref)
            except rx.RayTaskError as exc:  # a worker started there, and failed
                raise ExecutorError(
                    f"a Ray worker on {node} cannot run tts-dsl: {_first_line(exc)}; install "
                    "the same tts-dsl, with its VM built, in the same Python on every node"
                ) from None
            except rx.RayError:
                continue  # the node left meanwhile (Ray lists it alive for a while)
            if bad is not None:
                raise ExecutorError(f"Ray node {node}: {bad}")
            answered += 1
        if not answered:
            raise ExecutorError("no node of the Ray cluster could run a task")

    @property
    def workers(self) -> int:
        """CPUs of the cluster: the tasks it runs at once."""
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_SECONDS or self._cpus == 0:
            self._cpus = int(self._ray.cluster_resources().get("CPU", 0))
            self._refreshed = now
        return self._cpus

    def share(self, key: str, load: Callable[[], object]) -> None:
        if key not in self._shared:
            self._shared[key] = self._ray.put(load())

    def map_unordered(
        self,
        fn: Callable[[A], R],
        args: Sequence[A],
        *,
        timeout: float | None = None,
        skip: Callable[[A], bool] | None = None,
    ) -> Iterator[TaskResult[A, R]]:
        ray = self._ray
        queue: deque[tuple[int, A]] = deque(enumerate(args))
        running: dict[Any, _Running] = {}
        env = _env_snapshot()
        offers = dict(self._shared)
        no_cpu_since: float | None = None
        clean = False
        try:
            while queue or running:
                cpus = self.workers
                no_cpu_since = None if cpus else (no_cpu_since or time.monotonic())
                if no_cpu_since is not None and time.monotonic() - no_cpu_since > NO_CPU_SECONDS:
                    raise ExecutorError(
                        f"the Ray cluster has had no CPU for {NO_CPU_SECONDS:g} s "
                        "(all nodes left); finished tasks are kept"
                    )
                while queue and len(running) < IN_FLIGHT * max(1, cpus):
                    index, arg = queue.popleft()
                    if skip is not None and skip(arg):
                        yield TaskResult(index, arg, "skipped")
                        continue
                    gen = self._task.remote(fn, arg, self._fingerprint, env, offers, self._init)
                    running[gen] = _Running(index, arg)
                if not running:
                    continue
                ready, _ = ray.wait(
                    list(running), num_returns=1, timeout=self._wait_for(running, timeout)
                )
                if ready:  # and whatever else has news meanwhile
                    rest = [g for g in running if g not in ready]
                    ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0] if rest else []
                for gen in ready:
                    done = self._news(gen, running[gen])
                    if done is not None:
                        del running[gen]
                        yield done
                if timeout is not None:
                    yield from self._cancel_overruns(running, timeout)
            clean = True
        finally:
            if not clean:  # abandoned (Ctrl-C, the caller stopped early, a mismatch)
                for gen in running:
                    ray.cancel(gen, force=True)

    @staticmethod
    def _wait_for(running: dict[Any, _Running], timeout: float | None) -> float:
        """Until the next budget runs out, and at least once a second."""
        starts = [r.started for r in running.values() if r.started is not None]
        if timeout is None or not starts:
            return REFRESH_SECONDS
        return min(REFRESH_SECONDS, max(0.0, min(starts) + timeout - time.perf_counter()))

    def _news(self, gen: Any, task: _Running) -> TaskResult[Any, Any] | None:
        """The next message of a task: its result, or None (it has started)."""
        from ray import exceptions as rx

        seconds = time.perf_counter() - (task.started or task.dispatched)
        try:
            got, value, error, spent = self._ray.get(next(gen))
        except StopIteration:  # pragma: no cover - a task always ends with a result
            return TaskResult(task.index, task.arg, "died", None, "the task ended silently")
        except rx.RayTaskError as exc:  # raised outside `fn` (e.g. the value does not pickle)
            return TaskResult(task.index, task.arg, "error", None, _first_line(exc), seconds)
        except (rx.RayError, OSError) as exc:
            why = f"its Ray worker or node died ({self._max_retries} retries): {_first_line(exc)}"
            return TaskResult(task.index, task.arg, "died", None, why, seconds)
        if got == STARTED:
            task.started = time.perf_counter()
            return None
        if got == "mismatch":
            raise ExecutorError(error)
        status: TaskStatus = "ok" if got == "ok" else "error"
        return TaskResult(task.index, task.arg, status, value, error, spent)

    def _cancel_overruns(
        self, running: dict[Any, _Running], timeout: float
    ) -> Iterator[TaskResult[Any, Any]]:
        now = time.perf_counter()
        for gen, task in list(running.items()):
            if task.started is not None and now - task.started >= timeout:
                del running[gen]
                self._ray.cancel(gen, force=True)
                self.cancelled += 1
                why = f"ran out of its wall-clock budget ({timeout:g} s); the worker was killed"
                yield TaskResult(task.index, task.arg, "timeout", None, why, now - task.started)

    def close(self) -> None:
        self._shared.clear()
        if self._connected_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._connected_here = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@record(frozen=False)
class _Running:
    index: int
    arg: Any
    dispatched: float = field(default_factory=time.perf_counter)
    started: float | None = None
    """When its worker said it started (the budget counts from there)."""


def _raylet_messages_to_stderr(ray: Any) -> None:
    """Ray prints its raylet's notices ("a worker died ... will be retried")
    on the driver's stdout, where they would corrupt `--json` output; send
    them to stderr. (Ray has no setting for it; this wraps the function its
    listener calls, and does nothing if that ever changes.)"""
    module = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(module, "print_to_stdstream", None)
    if module is None or original is None or getattr(original, "_to_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr._to_stderr = True  # type: ignore[attr-defined]
    module.print_to_stdstream = to_stderr


def _check_reachable(address: str | None, seconds: float = CONNECT_SECONDS) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself retries for
    minutes, printing as it goes)."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"--ray-address {address!r}: expected auto or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise ExecutorError(
            f"cannot start or reach Ray at {address}: {why.lower()} (is a cluster running there?)"
        ) from None


def _env_snapshot() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
