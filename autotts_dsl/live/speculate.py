"""Putting a whole batch in flight at once: look ahead, prefetch, then run.

The interpreter is sequential — a statement after a `step` may read its
result — yet a batch (`init`, one round) is meant to be one parallel step:
all of its requests in flight together. Before each block runs for real,
`lookahead` runs it on a `DryEpisode` and a copy of the program state. The
dry run never waits: a read whose result has arrived uses it, any other is
answered with a guess (the branch's latest answer) and noted. Every noted
read is then requested at once, each branch on its own thread — the
continuation through the last read the block will make, then its probes —
and the block runs for real, taking each result as it arrives.

A guess can be wrong, and the real run can then take another path: a read
the dry run did not foresee is requested when it is reached, and a
prefetched read the real run does not make stays unread. Nothing fetched is
ever wrong — branch i of an episode is always the same trace and read k of
it the same prefix — so unread results are kept: a later round that makes
that read finds it waiting. `tts-dsl infer` reports the tokens generated
but never read separately from the tokens the replay's accounting charges.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from functools import partial

from ..reference import BlockHook
from ..runtime import Ctx
from .live_episode import DryEpisode, LiveEpisode


def shadow(c: Ctx, ep: DryEpisode) -> Ctx:
    """A copy of `c` on `ep`, sharing nothing mutable with it, untraced."""
    d = Ctx(ep, copy.deepcopy(c.state), 0, 0, c.fuel)
    d.latest = list(c.latest)
    d.completed = list(c.completed)
    d.fields = [list(f) for f in c.fields]
    d.locals = list(c.locals)
    d.round = c.round
    d.events = None
    return d


def plan_block(block: Callable[[Ctx], None], c: Ctx, live: LiveEpisode) -> DryEpisode:
    """The reads `block` would make from state `c`, under guesses."""
    dry = DryEpisode(live)
    # `answer`, `stop`, or a fault under a guess end the dry run: the plan so far stands.
    with contextlib.suppress(Exception):
        block(shadow(c, dry))
    return dry


def prefetch(dry: DryEpisode, live: LiveEpisode) -> int:
    """Start every read the dry run noted; returns how many branches."""
    traces = live.traces
    for i, (lo, hi) in sorted(dry.needs.items()):
        traces.submit(partial(traces.trace(i).prefetch_reads, lo, hi))
    for i in sorted(dry.full_needs):
        t = traces.trace(i)
        traces.submit(t.prefetch_full)
    return len(dry.needs) + len(dry.full_needs)


def lookahead(live: LiveEpisode) -> BlockHook:
    """The `before` hook of `reference.run_episode` for a live episode."""

    def before(block: Callable[[Ctx], None], c: Ctx) -> None:
        prefetch(plan_block(block, c, live), live)

    return before
