"""Run AutoTTS Python controllers unchanged on this engine.

`AutoTTSQuestion` offers the question interface that AutoTTS controllers are
written against (`probe_new`, `probe_more`, `get_new_branch_final_answer`,
`get_seq_and_total_tokens`), backed by an `Episode`. Used to differential-test
DSL programs against reference Python and to benchmark against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .episode import Episode
from .protocol import DEFAULT_SEEDS, Evaluation, evaluate
from .store import ReplayStore


class AutoTTSController(Protocol):
    def solve(self, question: Any) -> str | None: ...


class AutoTTSQuestion:
    """AutoTTS's question object, answering with the store's original strings."""

    def __init__(self, episode: Episode, vocab: Sequence[str]) -> None:
        self._ep = episode
        self._vocab = vocab
        self.probe_freq = episode._interval

    def probe_new(self) -> tuple[str, int, bool]:
        """BRANCH; raises ValueError once every branch is open (as AutoTTS does)."""
        out = self._ep.branch()
        if out is None:
            raise ValueError("Index out of range for branches.")
        answer, index, finished = out
        return self._vocab[answer], index, finished

    def probe_more(self, index: int) -> tuple[str, bool]:
        """CONTINUE(index); raises ValueError for an index that is not open."""
        answer, finished = self._ep.cont(index)
        return self._vocab[answer], finished

    def get_new_branch_final_answer(self) -> str:
        """FULL_READ; raises ValueError once every branch is open."""
        answer = self._ep.full_read()
        if answer is None:
            raise ValueError("Index out of range for branches.")
        return self._vocab[answer]

    def get_cost_per_branch_active(self) -> list[int]:
        return list(self._ep.spent)

    def get_seq_and_total_tokens(self) -> tuple[int, int]:
        # AutoTTS does not measure sequential tokens and reports 0.
        return 0, self._ep.cost


def evaluate_autotts(
    store: ReplayStore,
    controller: AutoTTSController,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> Evaluation:
    """Evaluate an AutoTTS-style controller object (`solve(question)`) on `store`."""
    vocab = store.vocab
    answer_id = store.answer_id

    def policy(ep: Episode) -> int:
        return answer_id(controller.solve(AutoTTSQuestion(ep, vocab)))

    return evaluate(store, policy, seeds)
