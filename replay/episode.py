"""One episode: one question under one shuffle seed (replay protocol §2).

The engine is the single place where tokens are charged. Everything a
controller may do goes through the five actions below; what it may *see* is
the answers they return plus per-branch bookkeeping. The gold answer never
enters an `Episode`.
"""

from __future__ import annotations

import random
from functools import lru_cache

from .store import NO_ANSWER, Question


class InadmissibleAction(ValueError):
    """An action that the replay MDP does not allow in the current state.

    Subclasses ValueError because AutoTTS's own replay raises ValueError for
    out-of-range branch indices, and ported controllers catch that.
    """


@lru_cache(maxsize=4096)
def shuffle_order(seed: int, n: int) -> tuple[int, ...]:
    """Original branch index at each shuffled position.

    Identical to `random.Random(seed).shuffle(branches)`: shuffling depends
    only on positions, so shuffling `range(n)` yields the same permutation.
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return tuple(order)


class Episode:
    """Replay state of one question under one shuffle seed.

    Branch *index* = position in the shuffled order; branches are opened
    strictly in index order. Per opened branch the engine tracks `reads`
    (reads done), `spent` (tokens charged), `finished` and `pruned`.

    Costs: a read within the probe list charges the interval; the read after
    the last probe returns the final answer and charges the remainder
    `max(0, branch_tokens - spent)`; reading a finished branch again returns
    the final answer at cost 0. FULL_READ charges `branch_tokens` in one go.

    Sequential tokens: actions between two `end_batch()` calls form one
    parallel batch, costing the largest charge to any single branch in it.
    """

    __slots__ = (
        "_batch",
        "_finals",
        "_interval",
        "_order",
        "_probes",
        "_tokens",
        "answer",
        "answered",
        "cost",
        "finished",
        "n_branches",
        "opened",
        "pruned",
        "reads",
        "seed",
        "seq_cost",
        "spent",
    )

    def __init__(self, question: Question, seed: int) -> None:
        self.seed = seed
        self.n_branches = question.n_branches
        self._order = shuffle_order(seed, question.n_branches)
        self._probes = question.probes
        self._tokens = question.tokens
        self._finals = question.finals
        self._interval = question.interval
        self.opened = 0
        self.reads: list[int] = []
        self.spent: list[int] = []
        self.finished: list[bool] = []
        self.pruned: list[bool] = []
        self.cost = 0
        self.seq_cost = 0
        self._batch: dict[int, int] = {}
        self.answered = False
        self.answer = NO_ANSWER

    # -- the read primitive ---------------------------------------------------

    def _read(self, i: int) -> tuple[int, bool]:
        b = self._order[i]
        if self.finished[i]:
            return self._finals[b], True
        k = self.reads[i]
        probes = self._probes[b]
        self.reads[i] = k + 1
        if k < len(probes):
            charge = self._interval
            answer, done = probes[k], False
        else:
            charge = self._tokens[b] - self.spent[i]
            if charge < 0:
                charge = 0
            answer, done = self._finals[b], True
            self.finished[i] = True
        self.spent[i] += charge
        self.cost += charge
        batch = self._batch
        batch[i] = batch.get(i, 0) + charge
        return answer, done

    def _open(self) -> int:
        if self.answered:
            raise InadmissibleAction("episode already answered")
        i = self.opened
        self.opened = i + 1
        self.reads.append(0)
        self.spent.append(0)
        self.finished.append(False)
        self.pruned.append(False)
        return i

    # -- actions ----------------------------------------------------------------

    def branch(self) -> tuple[int, int, bool] | None:
        """BRANCH: open the next branch and read it once.

        Returns (answer, index, finished), or None when every branch of the
        question is already open (not admissible; the caller cannot widen).
        """
        if self.answered:
            raise InadmissibleAction("episode already answered")
        if self.opened >= self.n_branches:
            return None
        i = self._open()
        answer, done = self._read(i)
        return answer, i, done

    def cont(self, i: int) -> tuple[int, bool]:
        """CONTINUE(i): one more read on opened, unpruned branch i."""
        if not 0 <= i < self.opened:
            raise InadmissibleAction(f"branch {i} is not open ({self.opened} opened)")
        if self.pruned[i]:
            raise InadmissibleAction(f"branch {i} was pruned")
        if self.answered:
            raise InadmissibleAction("episode already answered")
        return self._read(i)

    def cont_unchecked(self, i: int) -> tuple[int, bool]:
        """CONTINUE(i) without the admissibility checks of `cont`, for callers
        (the compiled interpreter) that have already checked that branch i is
        open, unpruned and the episode unanswered."""
        return self._read(i)

    def full_read(self) -> int | None:
        """FULL_READ: open the next branch and charge its whole length.

        Only the final answer is observed; the branch counts as finished.
        Returns None when no unopened branch is left.
        """
        if self.answered:
            raise InadmissibleAction("episode already answered")
        if self.opened >= self.n_branches:
            return None
        i = self._open()
        b = self._order[i]
        charge = self._tokens[b]
        self.reads[i] = 1
        self.spent[i] = charge
        self.finished[i] = True
        self.cost += charge
        self._batch[i] = charge
        return self._finals[b]

    def prune(self, i: int) -> None:
        """PRUNE(i): branch i leaves the active set; its cost stays charged."""
        if self.answered:
            raise InadmissibleAction("episode already answered")
        if not 0 <= i < self.opened:
            raise InadmissibleAction(f"branch {i} is not open ({self.opened} opened)")
        self.pruned[i] = True

    def finish(self, answer: int) -> None:
        """ANSWER: end the episode with `answer` (NO_ANSWER for none)."""
        if self.answered:
            raise InadmissibleAction("episode already answered")
        self.end_batch()
        self.answered = True
        self.answer = answer

    # -- accounting -------------------------------------------------------------

    def end_batch(self) -> None:
        """Close the current parallel batch of actions (sequential-token metric)."""
        if self._batch:
            self.seq_cost += max(self._batch.values())
            self._batch = {}

    @property
    def total_reads(self) -> int:
        return sum(self.reads)

    def unopened(self) -> int:
        """How many branches can still be opened."""
        return self.n_branches - self.opened
