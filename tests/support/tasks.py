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
