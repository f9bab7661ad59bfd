"""Choosing an executor by name, as `--executor` and `--ray-address` say."""

from __future__ import annotations

from collections.abc import Callable

from .base import Executor, ExecutorError
from .local import make_executor

EXECUTORS = ("local", "ray")
"""local: worker processes on this machine; ray: tasks on a Ray cluster."""


def open_executor(
    kind: str,
    jobs: int,
    *,
    address: str | None = None,
    initializer: Callable[[], None] | None = None,
) -> Executor:
    """An executor of `kind`. `jobs` sizes the local pool (and a Ray instance
    started here when no cluster address is known); `address` is the Ray
    cluster's (`auto` or HOST:PORT). Raises `ExecutorError` (one line)."""
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address, num_cpus=jobs, initializer=initializer)
    if kind != "local":
        raise ExecutorError(f"unknown executor `{kind}` (choose from {', '.join(EXECUTORS)})")
    if address is not None:
        raise ExecutorError("--ray-address needs --executor ray")
    return make_executor(jobs, initializer=initializer)
