"""Run-time readers the compiled closures call: builtin state values,
branch fields, branch sets, operators, overload resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..builtins import (
    BUILTINS,
    VALUES_BY_NAME,
)
from ..replay.episode import Episode
from ..runtime import Ctx
from .base import Fn


def _open_by_branch(ep: Episode) -> tuple[int, bool] | None:
    out = ep.branch()
    return None if out is None else (out[0], out[2])


def _open_by_full_read(ep: Episode) -> tuple[int, bool] | None:
    a = ep.full_read()
    return None if a is None else (a, True)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

# Builtins that can raise on their arguments (a domain error, an overflow, an
# infinity or NaN turned into an int, an int result beyond 64 bits): their
# calls become located faults.
_MATH_CAN_FAIL = frozenset({"log", "sqrt", "pow", "exp", "round", "floor", "ceil", "abs", "sum"})


def _all_builtin_names() -> list[str]:
    return [b.name for b in BUILTINS] + list(VALUES_BY_NAME)


def _running(c: Ctx) -> list[int]:
    ep = c.ep
    fin = ep.finished
    pr = ep.pruned
    return [i for i in range(ep.opened) if not fin[i] and not pr[i]]


def _alive(c: Ctx) -> list[int]:
    pr = c.ep.pruned
    return [i for i in range(c.ep.opened) if not pr[i]]


def _finished(c: Ctx) -> list[int]:
    ep = c.ep
    fin = ep.finished
    pr = ep.pruned
    return [i for i in range(ep.opened) if fin[i] and not pr[i]]


def _pruned(c: Ctx) -> list[int]:
    pr = c.ep.pruned
    return [i for i in range(c.ep.opened) if pr[i]]


_VALUE_READERS: dict[str, Fn] = {
    "round": lambda c: c.round,
    "spawned": lambda c: c.ep.opened,
    "cost": lambda c: c.ep.cost,
    "remaining": lambda c: c.ep.n_branches - c.ep.opened,
    "completed": lambda c: c.completed,
    "opened": lambda c: list(range(c.ep.opened)),
    "running": _running,
    "alive": _alive,
    "finished": _finished,
    "pruned": _pruned,
}


def _value_reader(name: str) -> Fn:
    return _VALUE_READERS[name]


def _slot_field_reader(name: str, slot: int) -> Fn:
    if name == "answer":
        return lambda c: c.latest[c.locals[slot]]
    if name == "reads":
        return lambda c: c.ep.reads[c.locals[slot]]
    if name == "spent":
        return lambda c: c.ep.spent[c.locals[slot]]
    if name == "index":
        return lambda c: c.locals[slot]
    if name == "finished":
        return lambda c: c.ep.finished[c.locals[slot]]
    if name == "pruned":
        return lambda c: c.ep.pruned[c.locals[slot]]
    raise KeyError(name)


def _field_reader(name: str, obj: Fn) -> Fn:
    if name == "answer":
        return lambda c: c.latest[obj(c)]
    if name == "reads":
        return lambda c: c.ep.reads[obj(c)]
    if name == "spent":
        return lambda c: c.ep.spent[obj(c)]
    if name == "index":
        return obj
    if name == "finished":
        return lambda c: c.ep.finished[obj(c)]
    if name == "pruned":
        return lambda c: c.ep.pruned[obj(c)]
    raise KeyError(name)
