"""Module-level task functions for executor tests (workers import them)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def sleep_then(x: float) -> float:
    time.sleep(x)
    return x


def spin(_x: int) -> int:
    while True:  # a task that never returns and ignores nothing but SIGKILL
        pass


def fail(x: int) -> int:
    raise ValueError(f"bad input {x}")


def exit_hard(code: int) -> int:
    os._exit(code)


def pid(_x: int) -> int:
    return os.getpid()


def spin_or_square(x: int) -> int:
    if x == 0:
        spin(x)
    return x * x


def store_seen(spec: str) -> tuple[int, int, str] | None:
    """(worker pid, id of the store object, its content hash) of the store the
    executor shared under `spec`; None when it shared none."""
    from autotts_dsl.executor.stores import task_store

    store = task_store(spec)
    return None if store is None else (os.getpid(), id(store), store.content_hash)


def backend_env(_x: int) -> str:
    """The engine choice as a worker sees it."""
    return os.environ.get("TTS_DSL_BACKEND", "")
