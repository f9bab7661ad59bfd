"""The evaluation protocol (replay protocol §3): 100 shuffles × all questions.

A *policy* is any callable taking a fresh `Episode` and returning the
interned answer (or calling `episode.finish` itself). Correctness is judged
here, outside the episode, so a policy never sees the gold answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from ..records import record
from .episode import Episode
from .numeric import neumaier_sum
from .store import ReplayStore

Policy = Callable[[Episode], int]

DEFAULT_SEEDS: tuple[int, ...] = tuple(range(100))


@record
class Evaluation:
    """Per-episode records of one (policy, store) evaluation, plus the summary.

    Arrays are indexed by episode, in evaluation order: for each seed, every
    question in file order.
    """

    store: str
    n_questions: int
    seeds: tuple[int, ...]
    answer: npt.NDArray[np.int32]
    correct: npt.NDArray[np.bool_]
    cost: npt.NDArray[np.int64]
    seq_cost: npt.NDArray[np.int64]
    opened: npt.NDArray[np.int32]
    reads: npt.NDArray[np.int64]
    wall_seconds: float
    # Episodes a compiled backend handed back to the reference interpreter.
    reruns: int = 0
    backend: str = "reference"

    @property
    def seed_column(self) -> npt.NDArray[np.int64]:
        return np.repeat(np.asarray(self.seeds, dtype=np.int64), self.n_questions)

    @property
    def question_column(self) -> npt.NDArray[np.int64]:
        return np.tile(np.arange(self.n_questions, dtype=np.int64), len(self.seeds))

    def _per_seed(self, column: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
        per = column.reshape(len(self.seeds), self.n_questions).astype(np.int64)
        # Totals are exact ints; divide once per seed like the reference.
        out: npt.NDArray[np.float64] = per.sum(axis=1) / self.n_questions
        return out

    @property
    def accuracy(self) -> float:
        """Percent, `round(100 * mean over seeds of per-seed accuracy, 2)`."""
        return round(100 * float(np.mean(self._per_seed(self.correct))), 2)

    @property
    def avg_tokens(self) -> int:
        """Mean over seeds of per-seed mean cost, truncated (not rounded)."""
        return _truncated_mean(self._per_seed(self.cost))

    @property
    def avg_seq_tokens(self) -> int:
        return _truncated_mean(self._per_seed(self.seq_cost))

    @property
    def mean_opened(self) -> float:
        return float(self.opened.mean())

    @property
    def mean_depth(self) -> float:
        """Mean reads per opened branch, over all episodes."""
        return float(self.reads.sum() / max(1, int(self.opened.sum())))


def _truncated_mean(per_seed: npt.NDArray[np.float64]) -> int:
    # Python >= 3.12 `sum` semantics, as the published numbers were made.
    return int(neumaier_sum(per_seed.tolist()) / len(per_seed))


def evaluate(
    store: ReplayStore,
    policy: Policy,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> Evaluation:
    """Run `policy` on every (seed, question) episode of `store`."""
    seeds = tuple(seeds)
    n_q = len(store.questions)
    n = n_q * len(seeds)
    answer = np.empty(n, dtype=np.int32)
    correct = np.empty(n, dtype=np.bool_)
    cost = np.empty(n, dtype=np.int64)
    seq_cost = np.empty(n, dtype=np.int64)
    opened = np.empty(n, dtype=np.int32)
    reads = np.empty(n, dtype=np.int64)
    started = time.perf_counter()
    e = 0
    for seed in seeds:
        for q in store.questions:
            ep = Episode(q, seed)  # a fresh generator per episode (protocol §2)
            result = policy(ep)
            if not ep.answered:
                ep.finish(result)
            answer[e] = ep.answer
            correct[e] = ep.answer == q.gold
            cost[e] = ep.cost
            seq_cost[e] = ep.seq_cost
            opened[e] = ep.opened
            reads[e] = ep.total_reads
            e += 1
    return Evaluation(
        store=store.name,
        n_questions=n_q,
        seeds=seeds,
        answer=answer,
        correct=correct,
        cost=cost,
        seq_cost=seq_cost,
        opened=opened,
        reads=reads,
        wall_seconds=time.perf_counter() - started,
    )
