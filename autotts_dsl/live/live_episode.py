"""An `Episode` whose branches are live traces (what `tts-dsl infer` runs).

`LiveEpisode` has the replay episode's interface and bookkeeping — it
inherits the actions' admissibility checks and the batch accounting from
`replay.episode.Episode` — and replaces only where answers and lengths come
from: opened branch i is a `LiveTrace` sampled with the seed
`trace_seed(i)`, read by the collection rule. Charges follow the replay
exactly: a probe read costs Δ, the final read `max(0, T - spent)`, a full
read T; each `init`/round is one batch costing its largest per-branch charge.

Which trace opened branch i is (the seed mapping). The replay opens a
question's stored branches in the order `shuffle_order(seed, N)`; so the
live episode with seed s samples its branch i with the seed
`seed_base + shuffle_order(s, N)[i]`. Against `serve-replay`, whose trace
seed b is stored branch b, that is exactly the branch the replay opens
(seed_base 0, N the store's branch count). On a real model it is just a
fresh sampling seed per trace, distinct within a question.

`DryEpisode` is a copy that never waits: `speculate.py` runs a block on it
to learn which reads the block will make before the block really runs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..replay.episode import Episode, InadmissibleAction, shuffle_order
from ..replay.store import NO_ANSWER
from .live_trace import LiveTrace, TraceSetup, TraceSink

Intern = Callable[[str], int]


def trace_seed(seed_base: int, episode_seed: int, n_branches: int, i: int) -> int:
    """The sampling seed of opened branch i in the episode with `episode_seed`."""
    return seed_base + shuffle_order(episode_seed, n_branches)[i]


class EpisodeTraces:
    """The traces of one episode by opened index (made on first use, so a
    look-ahead can prefetch a branch before it is opened), and the
    episode's prefetch tasks."""

    def __init__(
        self,
        setup: TraceSetup,
        episode_seed: int,
        n_branches: int,
        seed_base: int,
        sink: TraceSink,
        pool: ThreadPoolExecutor | None,
    ) -> None:
        self.setup = setup
        self.episode_seed = episode_seed
        self.n_branches = n_branches
        self.seed_base = seed_base
        self.sink = sink
        self.pool = pool
        self.traces: dict[int, LiveTrace] = {}
        self._futures: set[Future[object]] = set()
        self._lock = threading.Lock()
        self.closed = False

    def trace(self, i: int) -> LiveTrace:
        with self._lock:
            got = self.traces.get(i)
            if got is None:
                seed = trace_seed(self.seed_base, self.episode_seed, self.n_branches, i)
                got = self.traces[i] = LiveTrace(
                    self.setup, i, seed, self.sink, self.submit if self.pool else None
                )
            return got

    def submit(self, fn: Callable[[], object]) -> None:
        """Run `fn` on the prefetch pool (dropped once the episode closed)."""
        if self.pool is None:
            return
        with self._lock:
            if self.closed:
                return
            fut = self.pool.submit(fn)
            self._futures.add(fut)
        fut.add_done_callback(self._done)

    def _done(self, fut: Future[object]) -> None:
        with self._lock:
            self._futures.discard(fut)

    def close(self) -> None:
        """No more prefetching: queued tasks are dropped, running ones finish
        the request they are in (its result is journaled and counted)."""
        with self._lock:
            self.closed = True
            pending = list(self._futures)
        for fut in pending:
            fut.cancel()
        for fut in pending:
            if not fut.cancelled():
                with contextlib.suppress(Exception):  # a failed guess costs nothing
                    fut.result()


def _charge(ep: Episode, i: int, k: int, answer: int, final: bool, total: int) -> bool:
    """The replay's accounting of read k of branch i (Episode._read)."""
    ep.reads[i] = k + 1
    if not final:
        charge = ep._interval
    else:
        charge = total - ep.spent[i]
        if charge < 0:
            charge = 0
        ep.finished[i] = True
    ep.spent[i] += charge
    ep.cost += charge
    batch = ep._batch
    batch[i] = batch.get(i, 0) + charge
    return final


def _charge_full(ep: Episode, i: int, total: int) -> None:
    """The replay's accounting of a full read (Episode.full_read)."""
    ep.reads[i] = 1
    ep.spent[i] = total
    ep.finished[i] = True
    ep.cost += total
    ep._batch[i] = total


class LiveEpisode(Episode):
    """See the module docstring."""

    __slots__ = (
        "_clock",
        "_final_ids",
        "answered_at",
        "intern",
        "latest",
        "probe_reads",
        "recent",
        "traces",
    )

    def __init__(
        self,
        traces: EpisodeTraces,
        *,
        interval: int,
        intern: Intern,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Episode.__init__ reads a stored Question; the live one has none.
        self.seed = traces.episode_seed
        self.n_branches = traces.n_branches
        self._interval = interval
        self.opened = 0
        self.reads = []
        self.spent = []
        self.finished = []
        self.pruned = []
        self.cost = 0
        self.seq_cost = 0
        self._batch = {}
        self.answered = False
        self.answer = NO_ANSWER
        self.traces = traces
        self.intern = intern
        self._clock = clock
        self._final_ids: list[int] = []
        self.latest: list[int] = []  # per opened branch: the answer of its latest read
        self.recent = NO_ANSWER  # the latest answer read on any branch
        self.probe_reads = 0
        self.answered_at: float | None = None

    def _open(self) -> int:
        i = super()._open()
        self._final_ids.append(NO_ANSWER)
        self.latest.append(NO_ANSWER)
        return i

    def _read(self, i: int) -> tuple[int, bool]:
        if self.finished[i]:
            return self._final_ids[i], True
        k = self.reads[i]
        out = self.traces.trace(i).read(k)
        answer = self.intern(out.answer)
        done = _charge(self, i, k, answer, out.final, out.total)
        if done:
            self._final_ids[i] = answer
        else:
            self.probe_reads += 1
        self.latest[i] = self.recent = answer
        return answer, done

    def full_read(self) -> int | None:
        if self.answered:
            raise InadmissibleAction("episode already answered")
        if self.opened >= self.n_branches:
            return None
        i = self._open()
        total, text = self.traces.trace(i).full()
        answer = self.intern(text)
        _charge_full(self, i, total)
        self._final_ids[i] = self.latest[i] = self.recent = answer
        return answer

    def finish(self, answer: int) -> None:
        super().finish(answer)
        self.answered_at = self._clock()


class DryEpisode(Episode):
    """A copy of a live episode that answers every read at once: with what
    has arrived when it has, else with a guess (the branch's latest answer,
    for a new branch the latest answer of any branch), noting the read in
    `needs` (branch -> (first, last) read index) or `full_needs`."""

    __slots__ = ("_final_ids", "_last", "_live", "full_needs", "needs", "recent")

    def __init__(self, live: LiveEpisode) -> None:
        self.seed = live.seed
        self.n_branches = live.n_branches
        self._interval = live._interval
        self.opened = live.opened
        self.reads = list(live.reads)
        self.spent = list(live.spent)
        self.finished = list(live.finished)
        self.pruned = list(live.pruned)
        self.cost = live.cost
        self.seq_cost = live.seq_cost
        self._batch = dict(live._batch)
        self.answered = live.answered
        self.answer = live.answer
        self._live = live
        self._final_ids = list(live._final_ids)
        self._last = list(live.latest)
        self.recent = live.recent
        self.needs: dict[int, tuple[int, int]] = {}
        self.full_needs: set[int] = set()

    def _open(self) -> int:
        i = super()._open()
        self._final_ids.append(NO_ANSWER)
        self._last.append(self.recent)
        return i

    def _read(self, i: int) -> tuple[int, bool]:
        if self.finished[i]:
            return self._final_ids[i], True
        k = self.reads[i]
        trace = self._live.traces.trace(i)
        got = trace.peek(k)
        if got is not None:
            answer, final, total = self._live.intern(got.answer), got.final, got.total
        else:
            lo, _ = self.needs.get(i, (k, k))
            self.needs[i] = (min(lo, k), k)
            answer, final, total = self._last[i], trace.known_final(k), self.spent[i]
        done = _charge(self, i, k, answer, final, total)
        if done:
            self._final_ids[i] = answer
        self._last[i] = self.recent = answer
        return answer, done

    def full_read(self) -> int | None:
        if self.answered:
            raise InadmissibleAction("episode already answered")
        if self.opened >= self.n_branches:
            return None
        i = self._open()
        got = self._live.traces.trace(i).peek_full()
        if got is not None:
            total, answer = got[0], self._live.intern(got[1])
        else:
            self.full_needs.add(i)
            total, answer = 0, self._last[i]
        _charge_full(self, i, total)
        self._final_ids[i] = self._last[i] = self.recent = answer
        return answer
