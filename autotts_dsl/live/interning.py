"""Answers as they arrive: strings to ints, equivalent strings to one int.

A replay store interns its answers once, when it is written; a live episode
meets them one at a time. `OnlineInterner` gives each new string of a
question the id of the first earlier string its rule calls equal, else a
new id — what `equivalence.Rule.intern` computes over the strings in
arrival order (the rules build classes greedily in order, so an earlier
string's class never changes when a later one arrives). The gold answer
takes no part: a controller must not learn it from the spelling of classes.

math-verify times itself out with SIGALRM, which works only in the main
thread; `MainThread.call` runs such work there, from any thread, while the
main thread waits in `MainThread.serve`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .equivalence import Rule

R = TypeVar("R")


class MainThread:
    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def call(self, fn: Callable[[], R]) -> R:
        if threading.get_ident() == self.ident:
            return fn()
        box: Future[R] = Future()
        self._calls.put((fn, box))
        return box.result()

    def serve(self, timeout: float) -> None:
        """Run calls from other threads for up to `timeout` seconds."""
        try:
            fn, box = self._calls.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            try:
                box.set_result(fn())
            except BaseException as exc:  # handed to the caller
                box.set_exception(exc)
            try:
                fn, box = self._calls.get_nowait()
            except queue.Empty:
                return


def _direct(fn: Callable[[], R]) -> R:
    return fn()


class OnlineInterner:
    """One question's answers (see the module docstring); thread-safe."""

    def __init__(self, rule: Rule, call: Callable[[Callable[[], Any]], Any] = _direct) -> None:
        self.rule = rule
        self._call = call if rule.name != "exact" else _direct
        self._ids: dict[str, int] = {}
        self._order: list[str] = []  # distinct strings, in arrival order
        self.texts: list[str] = []  # id -> the first string of its class
        self._lock = threading.Lock()

    def __call__(self, text: str) -> int:
        with self._lock:
            got = self._ids.get(text)
            if got is not None:
                return got
            if self.rule.name == "exact" or not self._order:
                rep = text
            else:
                first, rest = self._order[0], [*self._order[1:], text]
                mapping: dict[str, str] = self._call(lambda: self.rule.intern(first, rest))
                rep = mapping.get(text, text)
            self._order.append(text)
            if rep == text or rep not in self._ids:
                ident = self._ids[text] = len(self.texts)
                self.texts.append(text)
            else:
                ident = self._ids[text] = self._ids[rep]
            return ident

    def text(self, ident: int) -> str:
        return self.texts[ident]


def same_answer(
    rule: Rule, gold: str, answer: str | None, call: Callable[[Callable[[], Any]], Any] = _direct
) -> bool:
    """Whether `answer` is the gold answer under `rule` (scored outside the episode)."""
    if answer is None:
        return False
    if answer == gold or rule.name == "exact":
        return answer == gold
    mapping: dict[str, str] = call(lambda: rule.intern(gold, [answer]))
    return mapping.get(answer) == gold
