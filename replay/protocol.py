"""The evaluation protocol (replay protocol §3): 100 shuffles × all questions.

A *policy* is any callable taking a fresh `Episode` and returning the
interned answer (or calling `episode.finish` itself). Correctness is judged
here, outside the episode, so a policy never sees the gold answer.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .episode import Episode
from .numeric import neumaier_sum, pairwise_sum
from .store import ReplayStore

if TYPE_CHECKING:  # numpy loads with the first column read as an array: `run` never needs it
    import numpy as np
    import numpy.typing as npt

Policy = Callable[[Episode], int]

DEFAULT_SEEDS: tuple[int, ...] = tuple(range(100))

Column = Any
"""A column as an engine makes it: a numpy array or an `array.array`, one
item per episode."""

COLUMNS: dict[str, tuple[str, str]] = {
    # name: (numpy dtype, array typecode)
    "answer": ("int32", "i"),
    "correct": ("bool", "b"),
    "cost": ("int64", "q"),
    "seq_cost": ("int64", "q"),
    "opened": ("int32", "i"),
    "reads": ("int64", "q"),
}


class Evaluation:
    """Per-episode records of one (policy, store) evaluation, plus the summary.

    Columns are indexed by episode, in evaluation order: for each seed, every
    question in file order. An engine may hand them over as numpy arrays or
    as `array.array`s; read as attributes (`ev.correct`) they are numpy
    arrays of the dtypes in `COLUMNS`, made on first read. The summary
    (`accuracy`, `avg_tokens`, ...) is computed without numpy, with numpy's
    arithmetic (its pairwise sum, its division), so a one-store `run` never
    imports it and gets the same digits.
    """

    def __init__(
        self,
        store: str,
        n_questions: int,
        seeds: tuple[int, ...],
        answer: Column,
        correct: Column,
        cost: Column,
        seq_cost: Column,
        opened: Column,
        reads: Column,
        wall_seconds: float,
        reruns: int = 0,
        backend: str = "reference",
    ) -> None:
        self.store = store
        self.n_questions = n_questions
        self.seeds = tuple(seeds)
        self.wall_seconds = wall_seconds
        # Episodes a compiled backend handed back to the reference interpreter.
        self.reruns = reruns
        self.backend = backend
        self._raw: dict[str, Column] = {
            "answer": answer,
            "correct": correct,
            "cost": cost,
            "seq_cost": seq_cost,
            "opened": opened,
            "reads": reads,
        }
        self._arrays: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"Evaluation(store={self.store!r}, n_questions={self.n_questions}, "
            f"seeds={len(self.seeds)} seeds, accuracy={self.accuracy}, "
            f"avg_tokens={self.avg_tokens}, backend={self.backend!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": {}}  # the numpy views are remade on demand

    def raw(self, name: str) -> Column:
        """A column as the engine made it (no numpy import)."""
        return self._raw[name]

    def _array(self, name: str) -> Any:
        got = self._arrays.get(name)
        if got is None:
            import numpy as np

            got = np.asarray(self._raw[name], dtype=COLUMNS[name][0])
            self._arrays[name] = got
        return got

    @property
    def answer(self) -> npt.NDArray[np.int32]:
        return self._array("answer")  # type: ignore[no-any-return]

    @property
    def correct(self) -> npt.NDArray[np.bool_]:
        return self._array("correct")  # type: ignore[no-any-return]

    @property
    def cost(self) -> npt.NDArray[np.int64]:
        return self._array("cost")  # type: ignore[no-any-return]

    @property
    def seq_cost(self) -> npt.NDArray[np.int64]:
        return self._array("seq_cost")  # type: ignore[no-any-return]

    @property
    def opened(self) -> npt.NDArray[np.int32]:
        return self._array("opened")  # type: ignore[no-any-return]

    @property
    def reads(self) -> npt.NDArray[np.int64]:
        return self._array("reads")  # type: ignore[no-any-return]

    @property
    def seed_column(self) -> npt.NDArray[np.int64]:
        import numpy as np

        return np.repeat(np.asarray(self.seeds, dtype=np.int64), self.n_questions)

    @property
    def question_column(self) -> npt.NDArray[np.int64]:
        import numpy as np

        return np.tile(np.arange(self.n_questions, dtype=np.int64), len(self.seeds))

    def _ints(self, name: str) -> list[int]:
        # numpy's and array's tolist() both give Python ints (bools for a bool column)
        values: list[int] = self._raw[name].tolist()
        return values

    def _per_seed(self, name: str) -> list[float]:
        # Totals are exact ints; divide once per seed like the reference.
        values, n_q = self._ints(name), self.n_questions
        if n_q == 0:
            return [float("nan")] * len(self.seeds)
        return [sum(values[s * n_q : (s + 1) * n_q]) / n_q for s in range(len(self.seeds))]

    @property
    def accuracy(self) -> float:
        """Percent, `round(100 * mean over seeds of per-seed accuracy, 2)`
        (the mean as numpy's `mean` makes it)."""
        per = self._per_seed("correct")
        mean = pairwise_sum(per) / len(per) if per else float("nan")
        return round(100 * mean, 2)

    @property
    def avg_tokens(self) -> int:
        """Mean over seeds of per-seed mean cost, truncated (not rounded)."""
        return _truncated_mean(self._per_seed("cost"))

    @property
    def avg_seq_tokens(self) -> int:
        return _truncated_mean(self._per_seed("seq_cost"))

    @property
    def mean_opened(self) -> float:
        opened = self._ints("opened")
        return sum(opened) / len(opened) if opened else float("nan")

    @property
    def mean_depth(self) -> float:
        """Mean reads per opened branch, over all episodes."""
        return sum(self._ints("reads")) / max(1, sum(self._ints("opened")))


def concat_columns(columns: Sequence[Column], name: str) -> Column:
    """Columns of consecutive seed ranges as one column."""
    if all(isinstance(c, array) for c in columns):
        typecode = COLUMNS[name][1]
        out = array(typecode)
        for c in columns:
            out.extend(c if c.typecode == typecode else array(typecode, c))
        return out
    import numpy as np

    return np.concatenate([np.asarray(c, dtype=COLUMNS[name][0]) for c in columns])


def _truncated_mean(per_seed: list[float]) -> int:
    # Python >= 3.12 `sum` semantics, as the published numbers were made.
    return int(neumaier_sum(per_seed) / len(per_seed))


def evaluate(
    store: ReplayStore,
    policy: Policy,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> Evaluation:
    """Run `policy` on every (seed, question) episode of `store`."""
    seeds = tuple(seeds)
    answer, correct, opened = array("i"), array("b"), array("i")
    cost, seq_cost, reads = array("q"), array("q"), array("q")
    started = time.perf_counter()
    for seed in seeds:
        for q in store.questions:
            ep = Episode(q, seed)  # a fresh generator per episode (protocol §2)
            result = policy(ep)
            if not ep.answered:
                ep.finish(result)
            answer.append(ep.answer)
            correct.append(ep.answer == q.gold)
            cost.append(ep.cost)
            seq_cost.append(ep.seq_cost)
            opened.append(ep.opened)
            reads.append(ep.total_reads)
    return Evaluation(
        store=store.name,
        n_questions=len(store.questions),
        seeds=seeds,
        answer=answer,
        correct=correct,
        cost=cost,
        seq_cost=seq_cost,
        opened=opened,
        reads=reads,
        wall_seconds=time.perf_counter() - started,
    )
