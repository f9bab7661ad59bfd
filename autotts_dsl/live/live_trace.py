"""One trace of a live episode: sampled piece by piece, probed at interval
boundaries, with the collection rule of `segments` deciding every read.

A trace is sampled as continuations: the first request sends the question's
prompt with the trace's seed; each later one sends the prompt plus the
tokens so far and asks for more. What a read needs is decided in the
model's own tokens, exactly as `collect` cuts a trace (docs/collect.md):

* read k (k = 0, 1, …) is a *probe read* when the reasoning part R is
  longer than k·Δ: it needs the first min((k+1)·Δ, R) tokens and the probe
  answer there;
* otherwise it is the *final read*: it needs the whole trace (its length T
  and the answer in its text).

So a trace served by `serve-replay` from a store branch with L probes gives
reads that are, one for one, the replay's reads of that branch: probe k is
stored probe k, and the final read sees the stored length and final answer.

Every request's result goes to the `TraceSink` (the journal) before anyone
can use it. The object is shared by the episode's interpreter thread and
the prefetch threads: generation is serialised by one lock (a continuation
needs the tokens before it), probes of one trace run in parallel, and a
probe or continuation is never requested twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Protocol

from ..records import record
from .answers import answer_text, extract_boxed
from .client import ServerError
from .model_api import ModelServer, Prompt, Sampling, TokenMode

Tokens = tuple[int, ...] | tuple[str, ...]


@record
class Chunk:
    """One continuation request's result: tokens [start, start + len(tokens))."""

    start: int
    tokens: Tokens
    text: str
    finish: str
    ended: bool  # the trace has no more tokens after this chunk
    prompt_tokens: int = 0


@record
class ProbeRecord:
    k: int
    prefix: int
    answer: str  # store spelling: "ERR" when the probe gave no answer
    finish: str
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@record
class ReadOutcome:
    answer: str
    final: bool
    total: int = 0  # the trace's length, for a final read


class TraceSink(Protocol):
    """Where a trace's requests go before their results are used."""

    def chunk(self, branch: int, trace_seed: int, chunk: Chunk, seconds: float) -> None: ...

    def probe(self, branch: int, probe: ProbeRecord, seconds: float) -> None: ...

    def closed(self) -> bool:
        """True once the episode has answered: speculation stops asking."""
        ...


class Speculation(Exception):
    """A prefetch found its episode closed (not an error)."""


@record
class TraceSetup:
    """What every trace of one question shares."""

    server: ModelServer
    mode: TokenMode
    prompt: Prompt  # the question's prompt (ids or text)
    suffix: Prompt  # the probe suffix (ids or text)
    suffix_text: str  # the probe suffix as text (answers are read after it)
    marker: Sequence[int] | str  # end-of-reasoning marker (ids or text); empty: none
    interval: int
    sampling: Sampling
    probe_max_tokens: int
    gate: threading.BoundedSemaphore  # bounds the requests in flight, all episodes together

    @property
    def cap(self) -> int:
        return self.sampling.max_tokens


def chunk_seed(trace_seed: int, start: int) -> int:
    """The sampling seed of the continuation starting at `start`: the trace's
    own seed for its first request (it names the trace), a derived one after
    (reusing one seed would replay the same random draws in every piece)."""
    if start == 0:
        return trace_seed
    return (trace_seed * 1_000_003 + start) % 2_147_483_647


def find_marker_ids(ids: Sequence[int], marker: Sequence[int], start: int) -> int | None:
    """End (exclusive) of the first occurrence of `marker` beginning at or
    after `start`, or None."""
    m = len(marker)
    if m == 0:
        return None
    first = marker[0]
    want = list(marker)
    seq = ids if isinstance(ids, list) else list(ids)
    i = start - 1
    while True:
        try:
            i = seq.index(first, i + 1)
        except ValueError:
            return None
        if seq[i : i + m] == want:
            return i + m


class LiveTrace:
    """See the module docstring."""

    def __init__(
        self,
        setup: TraceSetup,
        branch: int,
        trace_seed: int,
        sink: TraceSink,
        spawn: Callable[[Callable[[], object]], None] | None = None,
    ) -> None:
        self.setup = setup
        self.branch = branch
        self.trace_seed = trace_seed
        self.sink = sink
        self._spawn = spawn
        self.tokens: list[int] | list[str] = []
        self.texts: list[str] = []  # chunk texts, in order
        self.chunks: list[Chunk] = []
        self.ended = False
        self.reasoning: int | None = None  # R, once the marker is seen
        self._tail = ""  # text mode: the last characters before the next piece
        self.probes: dict[int, ProbeRecord] = {}
        self._probing: dict[int, threading.Event] = {}
        self._gen = threading.Lock()  # one continuation at a time
        self._mu = threading.Lock()  # the fields above

    # -- state ----------------------------------------------------------------

    def restore(self, chunks: Sequence[Chunk], probes: Sequence[ProbeRecord]) -> None:
        """Rebuild from journaled results (a resumed run)."""
        for c in sorted(chunks, key=lambda c: c.start):
            if c.start != len(self.tokens):
                raise ValueError(
                    f"branch {self.branch}: journaled pieces do not join "
                    f"(one starts at {c.start}, {len(self.tokens)} tokens before it)"
                )
            self._append(c)
        for p in probes:
            self.probes[p.k] = p

    def _append(self, c: Chunk) -> None:
        with self._mu:
            old = len(self.tokens)
            self.tokens.extend(c.tokens)  # type: ignore[arg-type]
            self.texts.append(c.text)
            self.chunks.append(c)
            self.ended = self.ended or c.ended or len(self.tokens) >= self.setup.cap
            if self.reasoning is None:
                self.reasoning = self._scan(old)

    def _scan(self, old: int) -> int | None:
        marker = self.setup.marker
        if not marker:
            return None
        if isinstance(marker, str):
            keep = len(marker) - 1
            tail = self._tail
            for j in range(old, len(self.tokens)):
                piece = self.tokens[j]
                assert isinstance(piece, str)
                if marker in tail + piece:
                    return j + 1
                tail = (tail + piece)[-keep:] if keep else ""
            self._tail = tail
            return None
        ids = self.tokens
        return find_marker_ids(ids, marker, max(0, old - len(marker) + 1))  # type: ignore[arg-type]

    @property
    def length(self) -> int:
        return len(self.tokens)

    def _r_at_most(self, p: int) -> bool:
        """Whether R <= p, from the tokens present (which reach p or the end)."""
        if self.reasoning is not None and self.reasoning <= p:
            return True
        return self.ended and len(self.tokens) <= p

    def _prefix(self, k: int) -> int:
        """min((k+1)·Δ, R) given tokens through (k+1)·Δ or the end."""
        hi = (k + 1) * self.setup.interval
        if self.reasoning is not None:
            return min(hi, self.reasoning)
        return min(hi, len(self.tokens)) if self.ended else hi

    def final_answer(self) -> str:
        last = self.chunks[-1].finish if self.chunks else ""
        return answer_text(extract_boxed("".join(self.texts), stopped=last == "stop"))

    # -- requests ---------------------------------------------------------------

    def _prompt(self, n: int, suffix: Prompt | None) -> Prompt:
        """The question's prompt, the first n tokens of the trace, then `suffix`."""
        s = self.setup
        head = self.tokens[:n]
        if s.mode == "ids":
            ids: list[int] = [*s.prompt, *head]
            if suffix is not None:
                ids.extend(suffix)  # type: ignore[arg-type]
            return ids
        return f"{s.prompt}{''.join(head)}{suffix or ''}"  # type: ignore[arg-type]

    def _generate(self, want: int, *, speculative: bool) -> None:
        """One continuation of up to `want` tokens (caller holds `_gen`)."""
        s = self.setup
        start = len(self.tokens)
        ask = min(want, s.cap - start)
        if speculative and self.sink.closed():
            raise Speculation
        prompt = self._prompt(start, None)
        sampling = replace(s.sampling, max_tokens=ask)
        began = time.monotonic()
        with s.gate:
            res = s.server.trace(
                prompt, seed=chunk_seed(self.trace_seed, start), sampling=sampling, mode=s.mode
            )
        seconds = time.monotonic() - began
        got: Tokens = res.ids if res.ids is not None else (res.texts or ())
        if len(got) > ask:
            raise ServerError(
                f"{s.server.client.api}: a continuation asked for {ask} tokens returned {len(got)}"
            )
        ended = res.finish_reason != "length" or len(got) < ask
        chunk = Chunk(start, got, res.text, res.finish_reason, ended, res.prompt_tokens)
        self.sink.chunk(self.branch, self.trace_seed, chunk, seconds)
        self._append(chunk)

    def ensure(self, n: int, *, speculative: bool = False) -> None:
        """Tokens through min(n, cap), or the whole trace if it is shorter."""
        n = min(n, self.setup.cap)
        if self.ended or len(self.tokens) >= n:
            return
        with self._gen:
            while not self.ended and len(self.tokens) < n:
                self._generate(n - len(self.tokens), speculative=speculative)

    def ensure_end(self, *, speculative: bool = False) -> None:
        self.ensure(self.setup.cap, speculative=speculative)

    def probe(self, k: int, prefix: int, *, speculative: bool = False) -> ProbeRecord:
        """The probe answer after `prefix` tokens (read k), asked at most once."""
        while True:
            with self._mu:
                got = self.probes.get(k)
                if got is not None:
                    return got
                waiting = self._probing.get(k)
                if waiting is None:
                    event = self._probing[k] = threading.Event()
            if waiting is not None:
                waiting.wait()
                continue  # answered, or its asker failed and this thread asks
            try:
                return self._ask_probe(k, prefix, speculative=speculative)
            finally:
                with self._mu:
                    del self._probing[k]
                event.set()

    def _ask_probe(self, k: int, prefix: int, *, speculative: bool) -> ProbeRecord:
        s = self.setup
        if speculative and self.sink.closed():
            raise Speculation
        prompt = self._prompt(prefix, s.suffix)
        began = time.monotonic()
        with s.gate:
            results, usage = s.server.probes([prompt], max_tokens=s.probe_max_tokens)
        seconds = time.monotonic() - began
        res = results[0]
        answer = answer_text(
            extract_boxed(s.suffix_text + res.text, stopped=res.finish_reason == "stop")
        )
        rec = ProbeRecord(
            k,
            prefix,
            answer,
            res.finish_reason,
            res.text,
            usage.prompt_tokens or (len(prompt) if isinstance(prompt, list) else 0),
            usage.completion_tokens,
        )
        self.sink.probe(self.branch, rec, seconds)
        with self._mu:
            self.probes[k] = rec
        return rec

    # -- reads --------------------------------------------------------------------

    def read(self, k: int) -> ReadOutcome:
        """Read k of this trace (see the module docstring); may request."""
        lo = k * self.setup.interval
        self.ensure(lo)
        if not self._r_at_most(lo):
            self.ensure(lo + self.setup.interval)
        if self._r_at_most(lo):  # also when the trace ended exactly at lo
            self.ensure_end()
            return ReadOutcome(self.final_answer(), True, len(self.tokens))
        return ReadOutcome(self.probe(k, self._prefix(k)).answer, False)

    def full(self) -> tuple[int, str]:
        """The whole trace: (length, final answer)."""
        self.ensure_end()
        return len(self.tokens), self.final_answer()

    def peek(self, k: int) -> ReadOutcome | None:
        """Read k if everything it needs has arrived; never requests or waits.

        R <= k·Δ, once seen, stays so (R is the first marker); with more than
        k·Δ tokens present and R not within them, read k is a probe read for
        good, and its probe is asked only once the data decided its prefix."""
        lo = k * self.setup.interval
        with self._mu:
            if self._r_at_most(lo):
                return (
                    ReadOutcome(self.final_answer(), True, len(self.tokens)) if self.ended else None
                )
            if len(self.tokens) <= lo:
                return None
            got = self.probes.get(k)
        return None if got is None else ReadOutcome(got.answer, False)

    def peek_full(self) -> tuple[int, str] | None:
        with self._mu:
            return (len(self.tokens), self.final_answer()) if self.ended else None

    def known_final(self, k: int) -> bool:
        """Whether read k is already known to be the final read."""
        with self._mu:
            lo = k * self.setup.interval
            return (len(self.tokens) >= lo or self.ended) and self._r_at_most(lo)

    # -- prefetching (run on the episode's prefetch threads) ---------------------

    def prefetch_reads(self, k_lo: int, k_hi: int) -> None:
        """Everything reads k_lo..k_hi need: the tokens through the last one in
        one continuation, then their probes, each on its own thread."""
        d = self.setup.interval
        try:
            self.ensure((k_hi + 1) * d, speculative=True)
            for k in range(k_lo, k_hi + 1):
                if self._r_at_most(k * d):
                    self.ensure_end(speculative=True)
                    return
                if k in self.probes:
                    continue
                prefix = self._prefix(k)
                if self._spawn is None:
                    self.probe(k, prefix, speculative=True)
                else:
                    self._spawn(partial(self.probe, k, prefix, speculative=True))
        except Speculation:
            return

    def prefetch_full(self) -> None:
        try:
            self.ensure_end(speculative=True)
        except Speculation:
            return

    # -- accounting ------------------------------------------------------------------

    def covered(self, reads: int, finished: bool) -> int:
        """Tokens of this trace that `reads` reads consumed."""
        if finished:
            return len(self.tokens)
        return min(reads * self.setup.interval, len(self.tokens))
