"""Lexical scopes: a chain of name tables, innermost first.

Shared by the compiler (names → symbols) and the checker's lints
(names → definition sites)."""

from __future__ import annotations

from dataclasses import field
from typing import Generic, TypeVar

from .records import record

V = TypeVar("V")


@record(frozen=False)
class Scope(Generic[V]):
    names: dict[str, V] = field(default_factory=dict)
    parent: Scope[V] | None = None

    def lookup(self, name: str) -> V | None:
        s: Scope[V] | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def all_names(self) -> list[str]:
        out: list[str] = []
        s: Scope[V] | None = self
        while s is not None:
            out.extend(s.names)
            s = s.parent
        return out
