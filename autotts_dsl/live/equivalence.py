"""Interning equivalent answers as one (`1/2`, `\\frac12`, `0.5`).

A rule maps every answer string of one question to a representative: the
first string of its class in collection order, with the gold answer first, so
a class holding the gold answer is spelled exactly as the gold answer and
string equality (what the replay protocol scores) becomes math equality.
Strings are never rewritten otherwise: a store whose answers are pairwise
inequivalent comes back unchanged.

* `exact`: strings are equal only when identical.
* `math-verify`: HuggingFace's math-verify decides (`parse` each answer as
  `$answer$`, equal when `verify` holds in both directions), tried only
  between candidates of one kind (numbers whose values are within 1e-5,
  other expressions with the same free symbols), and with a guard: an
  answer with letters outside LaTeX commands that parses to a constant was
  only partly read (`229 - g` → 229) and is compared as text.

`math-verify` uses SIGALRM for its time limits, so interning runs in the main
thread (it happens once, when the store is written).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any, Protocol

from ..records import record
from .answers import NO_ANSWER_TEXT

RULES = ("math-verify", "exact")
DEFAULT_RULE = "math-verify"


class EquivalenceUnavailable(Exception):
    """The requested rule needs a package that is not installed."""


class Rule(Protocol):
    name: str

    def describe(self) -> dict[str, Any]: ...

    def intern(self, gold: str, answers: Iterable[str]) -> dict[str, str]: ...


class ExactRule:
    name = "exact"

    def describe(self) -> dict[str, Any]:
        return {"rule": "exact", "description": "answers are equal only when identical strings"}

    def intern(self, gold: str, answers: Iterable[str]) -> dict[str, str]:
        return {a: a for a in [gold, *answers]}


_COMMAND = re.compile(r"\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-z]")
_WINDOW = 1e-5


@record(frozen=False)
class _Parsed:
    expr: Any  # a sympy object, or None when the answer is compared as text
    parsed: list[Any]  # math-verify's parse result (for verify)
    value: complex | None  # numeric value, for the candidate window
    bucket: Any  # kind of a non-numeric expression


@record(frozen=False)
class _Class:
    rep: str
    info: _Parsed


@record(frozen=False)
class MathVerifyRule:
    name: str = "math-verify"
    _cache: dict[str, _Parsed] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            import math_verify  # noqa: F401
        except ImportError:
            raise EquivalenceUnavailable(
                "--equivalence math-verify needs the math-verify package: "
                "pip install 'tts-dsl[live]' (or use --equivalence exact)"
            ) from None

    def describe(self) -> dict[str, Any]:
        return {
            "rule": "math-verify",
            "version": importlib.metadata.version("math-verify"),
            "description": (
                "math_verify.verify(parse('$a$'), parse('$b$')) in both directions, among "
                "numbers within 1e-5 of each other or expressions with the same free symbols; "
                "answers with letters outside LaTeX commands that parse to constants compare "
                "as text; each class is spelled as its first member (gold first)"
            ),
        }

    def _parse(self, s: str) -> _Parsed:
        got = self._cache.get(s)
        if got is not None:
            return got
        from math_verify import parse

        parsed = parse(f"${s}$")
        expr = parsed[0] if parsed else None
        value: complex | None = None
        bucket: Any = None
        if expr is not None:
            expr, value, bucket = _classify(s, expr)
        got = self._cache[s] = _Parsed(expr, parsed if expr is not None else [], value, bucket)
        return got

    def _same(self, a: _Parsed, b: _Parsed) -> bool:
        from math_verify import verify

        return bool(verify(a.parsed, b.parsed)) and bool(verify(b.parsed, a.parsed))

    def intern(self, gold: str, answers: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        numeric: list[_Class] = []
        symbolic: dict[Any, list[_Class]] = {}
        texts: dict[str, str] = {}
        for s in [gold, *answers]:
            if s in out:
                continue
            if s == NO_ANSWER_TEXT:
                out[s] = s
                continue
            info = self._parse(s)
            if info.expr is None:
                key = " ".join(s.split())
                out[s] = texts.setdefault(key, s)
                continue
            if info.value is not None:
                pool = [c for c in numeric if _near(c.info.value, info.value)]
            else:
                pool = symbolic.get(info.bucket, [])
            rep = next((c.rep for c in pool if self._same(c.info, info)), None)
            if rep is None:
                rep = s
                target = numeric if info.value is not None else symbolic.setdefault(info.bucket, [])
                target.append(_Class(s, info))
            out[s] = rep
        return out


def _near(a: complex | None, b: complex) -> bool:
    if a is None:
        return False
    return abs(a - b) <= _WINDOW * max(1.0, abs(a), abs(b))


def _classify(s: str, expr: Any) -> tuple[Any, complex | None, Any]:
    """(expr or None for text, numeric value, bucket) of a parsed answer."""
    import sympy

    target = expr
    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
        target = expr.rhs  # `x = 5` is read as 5, as math-verify does
    symbols = getattr(target, "free_symbols", None)
    if isinstance(target, sympy.Basic) and not symbols and target.is_number:
        if _LETTER.search(_COMMAND.sub("", s)) and not getattr(expr, "free_symbols", None):
            return None, None, None  # letters that the parse dropped: only partly read
        try:
            value = complex(target.evalf(30))
        except (TypeError, ValueError, OverflowError):
            return expr, None, (type(target).__name__, frozenset())
        return expr, value, None
    names = frozenset(str(x).lower() for x in (symbols or ()))
    return expr, None, (type(target).__name__, names)


def make_rule(name: str) -> Rule:
    """The rule called `name` (one of `RULES`); raises EquivalenceUnavailable."""
    if name == "exact":
        return ExactRule()
    if name == "math-verify":
        return MathVerifyRule()
    raise ValueError(f"unknown equivalence rule {name!r}; expected one of {', '.join(RULES)}")


def intern_question(rule: Rule, gold: str, answers: Sequence[str]) -> tuple[dict[str, str], int]:
    """(representative of each answer, number of strings merged into another)."""
    mapping = rule.intern(gold, answers)
    return mapping, sum(1 for s, r in mapping.items() if s != r)
