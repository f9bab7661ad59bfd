"""Paired gains with their uncertainty: bootstrap over questions.

Two programs evaluated on the same stores, β grid, seeds and questions are
compared by the objective's difference, `score(a) - score(b)`. Its
uncertainty comes from the questions: each bootstrap replicate draws, per
store, the questions with replacement (the same draw for both programs and
every β — the comparison stays paired), recomputes both curves from the
per-question sums (`cells.CellData`) and both scores. The interval is the
2.5–97.5 percentile range of the replicates; a gain counts only when the
whole interval is above zero (`Gain.significant`). Replicates depend only on
`seed`, so a resumed search decides the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..records import record
from .cells import CellData
from .curves import Floor
from .objective import CurvePoint, Objective, ScoreContext

ProgramCells = Mapping[str, Mapping[float, CellData]]
"""store content hash -> β -> the cell (same seeds for every cell)."""

DEFAULT_BOOTSTRAP = 500
LEVEL = 0.95


@record
class Gain:
    gain: float
    lo: float
    hi: float
    n_boot: int

    @property
    def significant(self) -> bool:
        """The whole interval lies above zero."""
        return self.lo > 0

    @property
    def clearly_worse(self) -> bool:
        return self.hi < 0

    def text(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        return f"{self.gain:+.2f}{u} [95% CI {self.lo:+.2f}, {self.hi:+.2f}]"


def curves_of(cells: ProgramCells) -> dict[str, list[CurvePoint]]:
    """Point estimates (unrounded) per store, by rising β."""
    out: dict[str, list[CurvePoint]] = {}
    for store, by_beta in cells.items():
        pts = []
        for beta in sorted(by_beta):
            c = by_beta[beta]
            n = max(1, c.n_episodes)
            pts.append(
                CurvePoint(
                    beta,
                    100 * sum(c.correct_by_seed) / n,
                    sum(c.cost_by_seed) / n,
                    sum(c.seq_by_seed) / n,
                )
            )
        out[store] = pts
    return out


def _resampled(
    cells: ProgramCells, weights: Mapping[str, np.ndarray]
) -> dict[str, list[list[CurvePoint]]]:
    """store -> replicate -> points, from per-question sums and weights (B × q)."""
    out: dict[str, list[list[CurvePoint]]] = {}
    for store, by_beta in cells.items():
        w = weights[store]
        betas = sorted(by_beta)
        accs, toks = [], []
        for beta in betas:
            c = by_beta[beta]
            n = c.n_questions * len(c.seeds)
            accs.append(100 * (w @ np.asarray(c.correct_by_q, dtype=np.float64)) / n)
            toks.append((w @ np.asarray(c.cost_by_q, dtype=np.float64)) / n)
        out[store] = [
            [CurvePoint(b, float(accs[k][r]), float(toks[k][r]), 0.0) for k, b in enumerate(betas)]
            for r in range(w.shape[0])
        ]
    return out


def _arrays(cells: Mapping[float, CellData], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replicate curves of one store as arrays (B × β): accuracy %, tokens."""
    accs, toks = [], []
    for beta in sorted(cells):
        c = cells[beta]
        n = c.n_questions * len(c.seeds)
        accs.append(100 * (w @ np.asarray(c.correct_by_q, dtype=np.float64)) / n)
        toks.append((w @ np.asarray(c.cost_by_q, dtype=np.float64)) / n)
    return np.stack(accs, axis=1), np.stack(toks, axis=1)


def achievable(acc: np.ndarray, tok: np.ndarray, t: np.ndarray, floor: Floor | None) -> np.ndarray:
    """`curves.accuracy_at` for many curves at once: row r of `acc`/`tok`
    (B × n) read at the budgets `t[r]` (B × m). The same function, exactly:
    the upper envelope by rising tokens with the floor's point on it,
    interpolated in log tokens, flat beyond its last point, never below the
    floor once t affords one trace."""
    if floor is not None and floor.tokens > 0:
        acc = np.concatenate([np.full((acc.shape[0], 1), floor.accuracy), acc], axis=1)
        tok = np.concatenate([np.full((tok.shape[0], 1), floor.tokens), tok], axis=1)
    b, n = acc.shape
    order = np.lexsort((-acc, tok), axis=1) if n > 1 else np.zeros((b, n), dtype=np.int64)
    x = np.take_along_axis(tok, order, axis=1)
    a = np.where(x > 0, np.take_along_axis(acc, order, axis=1), -np.inf)  # free points never count
    best = np.maximum.accumulate(np.concatenate([np.full((b, 1), -np.inf), a], axis=1), axis=1)
    keep = (a > best[:, :-1]) & (x > 0)
    x = np.where(keep, x, np.inf)
    a = np.where(keep, a, np.inf)
    order = np.argsort(x, axis=1, kind="stable")
    x = np.take_along_axis(x, order, axis=1)
    a = np.take_along_axis(a, order, axis=1)
    count = (x[:, None, :] <= t[:, :, None]).sum(axis=2)  # envelope points affordable
    k = np.clip(count - 1, 0, n - 1)
    nxt = np.clip(count, 0, n - 1)
    xk, ak = np.take_along_axis(x, k, axis=1), np.take_along_axis(a, k, axis=1)
    xn, an = np.take_along_axis(x, nxt, axis=1), np.take_along_axis(a, nxt, axis=1)
    interior = (count > 0) & (count < n) & np.isfinite(xn) & (xn > xk)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (np.log(t) - np.log(xk)) / (np.log(xn) - np.log(xk))
        inter = ak + w * (an - ak)
    val = np.where(interior, inter, ak)
    val = np.where(count > 0, val, 0.0)
    if floor is not None:
        val = np.maximum(val, np.where(t >= floor.tokens, floor.accuracy, 0.0))
    out: np.ndarray = np.where(np.isfinite(val), val, 0.0)
    return out


def _ref_gains(
    a: ProgramCells,
    b: ProgramCells,
    weights: Mapping[str, np.ndarray],
    ctx: ScoreContext,
    reference_is_b: bool,
) -> np.ndarray:
    """Replicates of `score(a) - score(b)` for the `ref` objective, vectorised:
    per store, the mean over the reference's points of (a's − b's achievable
    accuracy at the reference's tokens) — the reference's own accuracy
    cancels in the difference."""
    per_store = []
    for store in a:
        w = weights[store]
        acc_a, tok_a = _arrays(a[store], w)
        acc_b, tok_b = _arrays(b[store], w)
        if reference_is_b:
            ref_tok = tok_b
        else:
            ref = ctx.reference[store] if ctx.reference is not None else []
            pts = [p.tokens for p in ref if p.tokens > 0]
            ref_tok = np.tile(np.asarray(pts, dtype=np.float64), (w.shape[0], 1))
        keep = ref_tok > 0
        t = np.where(keep, ref_tok, 1.0)
        floor = ctx.floors.get(store)
        diff = achievable(acc_a, tok_a, t, floor) - achievable(acc_b, tok_b, t, floor)
        per_store.append(np.where(keep, diff, 0.0).sum(axis=1) / np.maximum(keep.sum(axis=1), 1))
    out: np.ndarray = np.mean(np.stack(per_store, axis=1), axis=1)
    return out


def _check_paired(a: ProgramCells, b: ProgramCells) -> None:
    for store in a:
        if store not in b:
            raise ValueError(f"store {store} is missing from one side")
        for beta, cell in a[store].items():
            other = b[store].get(beta)
            if other is not None and (
                other.seeds != cell.seeds or other.n_questions != cell.n_questions
            ):
                raise ValueError("a paired comparison needs the same seeds and questions")


def paired_gain(
    a: ProgramCells,
    b: ProgramCells,
    objective: Objective,
    ctx: ScoreContext,
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    reference_is_b: bool = False,
) -> Gain:
    """`score(a) - score(b)` with its bootstrap interval.

    For the `ref` objectives the reference's curves are resampled with the
    same draw; when `b` is the reference itself (`reference_is_b`), its
    resampled curves are the reference of each replicate."""
    _check_paired(a, b)
    point = objective.score(curves_of(a), ctx) - objective.score(curves_of(b), ctx)
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for store, by_beta in a.items():
        q = next(iter(by_beta.values())).n_questions
        draw = rng.integers(0, q, size=(n_boot, q))
        w = np.zeros((n_boot, q))
        np.add.at(w, (np.repeat(np.arange(n_boot), q), draw.ravel()), 1.0)
        weights[store] = w
    if objective.kind == "ref" and (reference_is_b or ctx.reference is not None):
        gains = _ref_gains(a, b, weights, ctx, reference_is_b)
        alpha = (1 - LEVEL) / 2
        lo, hi = np.quantile(gains, [alpha, 1 - alpha])
        return Gain(float(point), float(lo), float(hi), n_boot)
    ra, rb = _resampled(a, weights), _resampled(b, weights)
    ref_cells = b if reference_is_b else None
    rr = _resampled(ref_cells, weights) if ref_cells is not None else None
    gains = np.empty(n_boot)
    for r in range(n_boot):
        ref = None
        if objective.needs_reference:
            ref = {s: v[r] for s, v in rr.items()} if rr is not None else ctx.reference
        rctx = ScoreContext(ctx.windows, ctx.floors, ref)
        ca = {s: v[r] for s, v in ra.items()}
        cb = {s: v[r] for s, v in rb.items()}
        gains[r] = objective.score(ca, rctx) - objective.score(cb, rctx)
    alpha = (1 - LEVEL) / 2
    lo, hi = np.quantile(gains, [alpha, 1 - alpha])
    return Gain(float(point), float(lo), float(hi), n_boot)
