"""The executor seam: results as they arrive, errors as values, and a
wall-clock budget enforced from outside (the overrunning worker is killed and
replaced; the other tasks are unaffected)."""

from __future__ import annotations

import time

import pytest

from autotts_dsl.executor import InlineExecutor, ProcessExecutor
from tests.support import tasks


@pytest.fixture(scope="module")
def pool() -> ProcessExecutor:
    ex = ProcessExecutor(2)
    yield ex  # type: ignore[misc]
    ex.close()


def test_results_arrive_for_every_task(pool: ProcessExecutor) -> None:
    got = {r.index: r for r in pool.map_unordered(tasks.square, list(range(7)))}
    assert sorted(got) == list(range(7))
    assert all(r.status == "ok" and r.value == r.arg * r.arg for r in got.values())


def test_errors_are_results_not_exceptions(pool: ProcessExecutor) -> None:
    got = list(pool.map_unordered(tasks.fail, [3]))
    assert got[0].status == "error" and "ValueError: bad input 3" in got[0].error


def test_an_overrun_is_killed_and_the_rest_finish(pool: ProcessExecutor) -> None:
    started = time.perf_counter()
    before = pool.replaced
    results = list(pool.map_unordered(tasks.spin_or_square, [0, 1, 2, 3], timeout=1.0))
    wall = time.perf_counter() - started
    by = {r.arg: r for r in results}
    assert by[0].status == "timeout" and "wall-clock budget (1 s)" in by[0].error
    assert all(by[k].status == "ok" and by[k].value == k * k for k in (1, 2, 3))
    assert pool.replaced == before + 1
    assert wall < 20  # the spinning task cost its budget, not forever
    # the pool still works afterwards, at full strength
    assert [r.status for r in pool.map_unordered(tasks.square, [5, 6])] == ["ok", "ok"]


def test_a_dying_worker_is_reported_and_replaced(pool: ProcessExecutor) -> None:
    got = list(pool.map_unordered(tasks.exit_hard, [7]))
    assert got[0].status == "died" and "exit code 7" in got[0].error
    assert [r.value for r in pool.map_unordered(tasks.square, [4])] == [16]


def test_abandoning_the_iterator_stops_running_tasks(pool: ProcessExecutor) -> None:
    it = pool.map_unordered(tasks.sleep_then, [0.0, 60.0, 60.0])
    first = next(it)
    assert first.status == "ok"
    started = time.perf_counter()
    it.close()  # what Ctrl-C in the caller amounts to
    assert time.perf_counter() - started < 10
    assert [r.status for r in pool.map_unordered(tasks.square, [1])] == ["ok"]


def test_inline_executor_runs_in_process() -> None:
    ex = InlineExecutor()
    got = list(ex.map_unordered(tasks.square, [2, 3]))
    assert [r.value for r in got] == [4, 9]
    assert next(iter(ex.map_unordered(tasks.fail, [1]))).status == "error"


def test_skip_is_asked_before_each_start(pool: ProcessExecutor) -> None:
    got = list(pool.map_unordered(tasks.square, [1, 2, 3, 4], skip=lambda x: x % 2 == 0))
    by = {r.arg: r.status for r in got}
    assert by == {1: "ok", 2: "skipped", 3: "ok", 4: "skipped"}


def test_started_workers_run_tasks_and_unused_ones_are_simply_killed() -> None:
    early = ProcessExecutor(2)
    early.start()
    procs = [w.proc for w in early._pool]
    assert len(procs) == 2 and all(p.is_alive() for p in procs)  # before any task
    got = sorted(r.value for r in early.map_unordered(tasks.square, [1, 2, 3]))
    assert got == [1, 4, 9] and [w.proc for w in early._pool] == procs  # the same workers
    early.close()
    assert not any(p.is_alive() for p in procs)

    idle = ProcessExecutor(2)
    idle.start()
    procs = [w.proc for w in idle._pool]
    idle.close()  # never given a task: killed, not waited for
    assert not any(p.is_alive() for p in procs)
