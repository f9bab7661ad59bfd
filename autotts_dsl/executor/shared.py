"""Values an executor shares with its tasks, as a task sees them.

A cluster executor puts a value (a replay store) into its object store once
and offers each task a way to fetch it; a task that asks for it gets it
fetched on first use and then served from this process's memory. Local
executors offer nothing: their workers load what they need themselves.

The executor side (Ray's object references) never shows here: an offer is a
token naming one version of the value and a function that fetches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_offers: dict[str, tuple[str, Callable[[], Any]]] = {}
_values: dict[str, tuple[str, Any]] = {}


def offer(key: str, token: str, fetch: Callable[[], Any]) -> None:
    """Make `fetch()` the way to get `key` in this process (worker side)."""
    _offers[key] = (token, fetch)


def lookup(key: str) -> Any | None:
    """The shared value of `key`, fetched once per process and version;
    None when no executor offered it (then the task loads it itself)."""
    got = _offers.get(key)
    if got is None:
        return None
    token, fetch = got
    have = _values.get(key)
    if have is not None and have[0] == token:
        return have[1]
    value = fetch()
    _values[key] = (token, value)
    return value


def forget() -> None:
    """Drop every offer and value (tests; a worker reused by another driver)."""
    _offers.clear()
    _values.clear()
