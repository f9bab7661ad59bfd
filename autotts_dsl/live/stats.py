"""`tts-dsl store inspect`: the figures to check before trusting a store.

Per question: majority-vote correctness over all traces, pass@k (the
unbiased estimator of Chen et al. 2021: 1 - C(n-c, k)/C(n, k)), mean length.
Overall: the same averaged, the length distribution, how far probes fall
from the trace length, and how probe answers converge with depth (share of
probes at depth d that already give the trace's final answer, the gold
answer, or no answer). Reads gold answers: a report, not a controller.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..records import record
from ..replay.store import ReplayStore
from ..replay.voting import winner
from .answers import NO_ANSWER_TEXT

PASS_KS = (1, 4, 16, 64)
DEPTHS = (1, 2, 3, 5, 10, 20, 40, 80)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that k of n traces (c correct), drawn without replacement, hold a correct one."""
    if k > n:
        raise ValueError(f"k={k} > n={n}")
    if n - c < k:
        return 1.0
    p = 1.0
    for i in range(n - c + 1, n + 1):
        p *= 1.0 - k / i
    return 1.0 - p


@record
class QuestionStats:
    index: int
    branches: int
    correct: int
    majority: str | None
    majority_correct: bool
    pass_at: dict[int, float]
    mean_tokens: float


@record
class DepthStats:
    depth: int
    branches: int  # with at least this many probes
    final_share: float
    gold_share: float
    none_share: float


@record
class StoreReport:
    name: str
    questions: list[QuestionStats]
    majority_accuracy: float
    pass_at: dict[int, float]
    length_quantiles: dict[str, int]
    mean_tokens: float
    mean_probes: float
    share_probes_over: float
    share_probes_short: float
    none_final_share: float
    convergence: list[DepthStats]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quantile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


def inspect_store(store: ReplayStore) -> StoreReport:
    none_id = store.answer_id(NO_ANSWER_TEXT)
    qstats = []
    lengths: list[int] = []
    n_probes = over = short = none_finals = 0
    depth_counts = {d: [0, 0, 0, 0] for d in DEPTHS}
    for q in store.questions:
        c = sum(1 for f in q.finals if f == q.gold)
        maj = winner(list(q.finals))
        ks = {k: pass_at_k(q.n_branches, c, k) for k in PASS_KS if k <= q.n_branches}
        qstats.append(
            QuestionStats(
                index=q.index,
                branches=q.n_branches,
                correct=c,
                majority=store.answer_text(maj) if maj is not None else None,
                majority_correct=maj == q.gold,
                pass_at=ks,
                mean_tokens=sum(q.tokens) / q.n_branches,
            )
        )
        lengths.extend(q.tokens)
        for probes, t, final in zip(q.probes, q.tokens, q.finals, strict=True):
            n_probes += len(probes)
            over += len(probes) * q.interval > t
            short += t - len(probes) * q.interval >= q.interval
            none_finals += final == none_id
            for d, row in depth_counts.items():
                if len(probes) >= d:
                    a = probes[d - 1]
                    row[0] += 1
                    row[1] += a == final
                    row[2] += a == q.gold
                    row[3] += a == none_id
    n_b = max(1, len(lengths))
    lengths.sort()
    pass_all: dict[int, float] = {}
    for k in PASS_KS:
        vals = [s.pass_at[k] for s in qstats if k in s.pass_at]
        if len(vals) == len(qstats):
            pass_all[k] = sum(vals) / len(vals)
    conv = [
        DepthStats(d, row[0], row[1] / row[0], row[2] / row[0], row[3] / row[0])
        for d, row in depth_counts.items()
        if row[0]
    ]
    return StoreReport(
        name=store.name,
        questions=qstats,
        majority_accuracy=sum(s.majority_correct for s in qstats) / max(1, len(qstats)),
        pass_at=pass_all,
        length_quantiles={
            "min": lengths[0] if lengths else 0,
            "p10": _quantile(lengths, 0.1),
            "p50": _quantile(lengths, 0.5),
            "p90": _quantile(lengths, 0.9),
            "max": lengths[-1] if lengths else 0,
        },
        mean_tokens=sum(lengths) / n_b,
        mean_probes=n_probes / n_b,
        share_probes_over=over / n_b,
        share_probes_short=short / n_b,
        none_final_share=none_finals / n_b,
        convergence=conv,
    )
