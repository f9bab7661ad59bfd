"""The headline of a sweep: Pareto frontiers and tokens saved vs SC@64.

On every store, the tokens a program needs to match SC@64's accuracy, read
off its Pareto frontier (interpolated linearly in log-tokens between the
frontier points that bracket that accuracy — the segment the plots draw), as
a saving relative to SC@64's tokens; "not reached" when the frontier never
reaches SC@64's accuracy. Plus peak accuracy and the point at β = 0.5, per
store and averaged over stores. `summary_table` gives the rows of
`summary.csv`: every column has one type (a number, a boolean, or empty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..records import record
from .results import Row

# ---------------------------------------------------------------------------
# Curves and frontiers


@record
class Point:
    beta: float
    params: str
    accuracy: float
    tokens: float


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """Points no cheaper-or-equal point matches in accuracy, by rising tokens
    (so accuracy rises strictly along the result)."""
    best = -math.inf
    out: list[Point] = []
    for p in sorted(points, key=lambda p: (p.tokens, -p.accuracy)):
        if p.accuracy > best:
            out.append(p)
            best = p.accuracy
    return out


def tokens_at_accuracy(points: Sequence[Point], target: float) -> float | None:
    """Fewest tokens at which the Pareto frontier reaches `target` accuracy
    (interpolated in log-tokens); None when it never does."""
    front = pareto_front(points)
    for i, p in enumerate(front):
        if p.accuracy >= target:
            if i == 0 or p.accuracy == target:
                return p.tokens
            q = front[i - 1]
            frac = (target - q.accuracy) / (p.accuracy - q.accuracy)
            lo, hi = math.log(max(q.tokens, 1.0)), math.log(max(p.tokens, 1.0))
            return math.exp(lo + frac * (hi - lo))
    return None


def _curve_label(program: str, params: str) -> str:
    return f"{program} ({params})" if params else program


def _curves(
    rows: Sequence[Row], role: str, metric: str, by_params: bool = True
) -> dict[str, dict[str, list[Point]]]:
    """curve label -> store -> points (rows of one role)."""
    out: dict[str, dict[str, list[Point]]] = {}
    for r in rows:
        if r["role"] != role:
            continue
        label = _curve_label(r["program"], r["params"]) if by_params else r["program"]
        out.setdefault(label, {}).setdefault(r["store"], []).append(
            Point(float(r["beta"]), str(r["params"]), float(r["accuracy"]), float(r[metric]))
        )
    return out


def _reference(rows: Sequence[Row], metric: str) -> dict[str, Point]:
    """store -> the SC@64 point."""
    out: dict[str, Point] = {}
    for r in rows:
        if r["role"] == "reference":
            out[r["store"]] = Point(
                float(r["beta"]), str(r["params"]), float(r["accuracy"]), float(r[metric])
            )
    return out


def _stores(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(str(r["store"]) for r in rows))


# ---------------------------------------------------------------------------
# Headline summary


@record
class StoreHeadline:
    program: str
    """The curve: a program label, with its params when it was swept with some."""
    store: str
    synthetic: bool
    peak_accuracy: float
    peak_beta: float
    peak_tokens: int
    tokens_at_half: int | None
    """Tokens at β = 0.5 (None when 0.5 is not on the grid)."""
    accuracy_at_half: float | None
    sc64_accuracy: float | None
    sc64_tokens: int | None
    matched_tokens: float | None
    """Tokens at SC@64's accuracy on the frontier; None: not reached / no SC@64."""

    @property
    def savings(self) -> float | None:
        """1 - matched / SC@64 tokens (negative: more tokens than SC@64)."""
        if self.matched_tokens is None or not self.sc64_tokens:
            return None
        return 1.0 - self.matched_tokens / self.sc64_tokens

    @property
    def reached(self) -> bool:
        return self.matched_tokens is not None


@record
class ProgramHeadline:
    program: str
    n_stores: int
    n_reached: int
    n_with_reference: int
    mean_peak_accuracy: float
    mean_sc64_accuracy: float | None
    mean_savings: float | None
    """Mean of the savings over the stores where SC@64's accuracy is reached."""
    mean_tokens_at_half: float | None
    mean_accuracy_at_half: float | None


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def headline(rows: Sequence[Row]) -> tuple[list[StoreHeadline], list[ProgramHeadline]]:
    """Per (swept program, store) and per program averaged over its stores."""
    ref = _reference(rows, "avg_tokens")
    synthetic = {str(r["store"]): bool(r["synthetic"]) for r in rows}
    per_store: list[StoreHeadline] = []
    curves = _curves(rows, "sweep", "avg_tokens", by_params=_needs_params(rows))
    for label, by_store in curves.items():
        for store, pts in by_store.items():
            peak = max(pts, key=lambda p: (p.accuracy, -p.tokens))
            half = next((p for p in pts if p.beta == 0.5), None)
            sc = ref.get(store)
            per_store.append(
                StoreHeadline(
                    program=label,
                    store=store,
                    synthetic=synthetic.get(store, False),
                    peak_accuracy=peak.accuracy,
                    peak_beta=peak.beta,
                    peak_tokens=int(peak.tokens),
                    tokens_at_half=int(half.tokens) if half else None,
                    accuracy_at_half=half.accuracy if half else None,
                    sc64_accuracy=sc.accuracy if sc else None,
                    sc64_tokens=int(sc.tokens) if sc else None,
                    matched_tokens=tokens_at_accuracy(pts, sc.accuracy) if sc else None,
                )
            )
    per_program: list[ProgramHeadline] = []
    for label in curves:
        hs = [h for h in per_store if h.program == label]
        with_ref = [h for h in hs if h.sc64_accuracy is not None]
        savings = [h.savings for h in hs if h.savings is not None]
        halves = [h for h in hs if h.tokens_at_half is not None]
        per_program.append(
            ProgramHeadline(
                program=label,
                n_stores=len(hs),
                n_reached=sum(h.reached for h in hs),
                n_with_reference=len(with_ref),
                mean_peak_accuracy=sum(h.peak_accuracy for h in hs) / len(hs),
                mean_sc64_accuracy=_mean([h.sc64_accuracy for h in with_ref if h.sc64_accuracy]),
                mean_savings=_mean(savings),
                mean_tokens_at_half=_mean([float(h.tokens_at_half or 0) for h in halves]),
                mean_accuracy_at_half=_mean([h.accuracy_at_half or 0.0 for h in halves]),
            )
        )
    return per_store, per_program


def _needs_params(rows: Sequence[Row]) -> bool:
    """Label curves with their params only when one program was swept with
    several param sets."""
    seen: dict[str, set[str]] = {}
    for r in rows:
        if r["role"] == "sweep":
            seen.setdefault(r["program"], set()).add(r["params"])
    return any(len(v) > 1 for v in seen.values())


SUMMARY_COLUMNS: tuple[str, ...] = (
    "program",
    "store",
    "synthetic",
    "n_stores",
    "peak_accuracy",
    "peak_beta",
    "peak_tokens",
    "accuracy_at_beta_0.5",
    "tokens_at_beta_0.5",
    "sc64_accuracy",
    "sc64_tokens",
    "sc64_accuracy_reached",
    "n_reached",
    "tokens_at_sc64_accuracy",
    "tokens_saved_vs_sc64",
    "program_hash",
    "store_hash",
    "seeds",
    "backend",
    "tool_version",
)
"""Columns of `summary.csv`. Per-store rows have `n_stores` 1; the per-program
mean rows have store `mean`, `n_stores` and `n_reached` over the stores with
an SC@64 reference. `sc64_accuracy_reached` is true / false (empty without a
reference); `tokens_saved_vs_sc64` is a fraction, empty when not reached.
The last five say where the figures come from (as in `results.csv`)."""

MEAN_STORE = "mean"


def _origins(rows: Sequence[Row]) -> dict[tuple[str, str], list[Row]]:
    """(curve label, store) -> its swept rows; (curve label, MEAN_STORE) -> all of them."""
    by_params = _needs_params(rows)
    out: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r["role"] != "sweep":
            continue
        label = _curve_label(r["program"], r["params"]) if by_params else r["program"]
        out.setdefault((label, str(r["store"])), []).append(r)
        out.setdefault((label, MEAN_STORE), []).append(r)
    return out


def _joined(rows: Sequence[Row], column: str) -> str | None:
    values = sorted({str(r.get(column) or "") for r in rows} - {""})
    return ";".join(values) if values else None


def summary_table(
    per_store: Sequence[StoreHeadline],
    per_program: Sequence[ProgramHeadline],
    rows: Sequence[Row] = (),
) -> list[list[Any]]:
    """Rows for `summary.csv` (`SUMMARY_COLUMNS`), each column of one type;
    `rows` (the tidy results) fill the provenance columns."""
    origins = _origins(rows)

    def origin(label: str, store: str) -> list[Any]:
        rs = origins.get((label, store), [])
        return [_joined(rs, c) for c in ("program_hash", "store_hash", "seeds", "backend")] + [
            _joined(rs, "tool_version")
        ]

    out: list[list[Any]] = []
    for h in per_store:
        has_ref = h.sc64_accuracy is not None
        out.append(
            [
                h.program,
                h.store,
                h.synthetic,
                1,
                h.peak_accuracy,
                h.peak_beta,
                h.peak_tokens,
                h.accuracy_at_half,
                h.tokens_at_half,
                h.sc64_accuracy,
                h.sc64_tokens,
                h.reached if has_ref else None,
                int(h.reached) if has_ref else None,
                round(h.matched_tokens) if h.matched_tokens is not None else None,
                round(h.savings, 4) if h.savings is not None else None,
                *origin(h.program, h.store),
            ]
        )
    for p in per_program:
        out.append(
            [
                p.program,
                MEAN_STORE,
                None,
                p.n_stores,
                round(p.mean_peak_accuracy, 2),
                None,
                None,
                _round(p.mean_accuracy_at_half, 2),
                _round(p.mean_tokens_at_half, 0),
                _round(p.mean_sc64_accuracy, 2),
                None,
                None,
                p.n_reached if p.n_with_reference else None,
                None,
                _round(p.mean_savings, 4),
                *origin(p.program, MEAN_STORE),
            ]
        )
    return out


def _round(x: float | None, n: int) -> float | None:
    return None if x is None else round(x, n)
