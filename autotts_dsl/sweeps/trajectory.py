"""A discovery trajectory: successive controllers at one β, search vs held-out.

AutoTTS's figure: each round's controller (t1, t2, …) as a point in
accuracy × tokens, once on the search benchmark (AIME24) and once on the
held-out ones (AIME25 + HMMT25), each averaged over the models present.
The points come from a sweep's tidy rows, so the figure is produced by the
project's own sweep and plot commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..records import record
from .results import Row

SEARCH_DATASETS: tuple[str, ...] = ("aime24",)
HELDOUT_DATASETS: tuple[str, ...] = ("aime25", "hmmt25")


class TrajectoryError(ValueError):
    """The results do not hold what the trajectory needs."""


@record
class TrajectoryPoint:
    label: str  # t1, t2, …
    program: str
    split: str  # "search" or "held-out"
    accuracy: float
    avg_tokens: float
    n_stores: int


def trajectory_points(
    rows: Sequence[Row],
    programs: Sequence[str],
    beta: float,
    search: Sequence[str] = SEARCH_DATASETS,
    heldout: Sequence[str] = HELDOUT_DATASETS,
) -> list[TrajectoryPoint]:
    """Mean accuracy and tokens per program and split, at `beta`.

    Every program must have the same stores in a split, so the means compare
    like with like; a missing store is an error rather than a silent gap."""
    out: list[TrajectoryPoint] = []
    for split, datasets in (("search", search), ("held-out", heldout)):
        expected: set[str] | None = None
        for i, program in enumerate(programs, 1):
            picked = [
                r
                for r in rows
                if r["program"] == program
                and abs(float(r["beta"]) - beta) < 1e-9
                and str(r.get("dataset", "")) in datasets
            ]
            stores = {str(r["store"]) for r in picked}
            if not picked:
                raise TrajectoryError(
                    f"no {split} results for `{program}` at β={beta:g} "
                    f"(datasets {', '.join(datasets)})"
                )
            if expected is None:
                expected = stores
            elif stores != expected:
                raise TrajectoryError(
                    f"`{program}` has {split} results on {sorted(stores)}, "
                    f"the first program on {sorted(expected)}"
                )
            out.append(
                TrajectoryPoint(
                    label=f"t{i}",
                    program=program,
                    split=split,
                    accuracy=sum(float(r["accuracy"]) for r in picked) / len(picked),
                    avg_tokens=sum(float(r["avg_tokens"]) for r in picked) / len(picked),
                    n_stores=len(picked),
                )
            )
    return out


def plot_trajectory(
    points: Sequence[TrajectoryPoint], out_path: str | Path, *, beta: float, dpi: int = 150
) -> Path:
    """Two panels (search, held-out) sharing the y axis: the trajectory
    t1 → tN, each controller in its program's colour (as in the sweep's
    figures), labels placed where they do not collide. Format from the suffix."""
    from .figures import literal_text

    with literal_text():
        return _plot_trajectory(points, Path(out_path), beta, dpi)


def _plot_trajectory(points: Sequence[TrajectoryPoint], out: Path, beta: float, dpi: int) -> Path:
    import hashlib

    from matplotlib.figure import Figure

    from .figures import (
        Obstacle,
        PointLabel,
        atomic_write_bytes,
        color_map,
        figure_bytes,
        figure_format,
        freeze_layout,
        place_labels,
        style_accuracy_axis,
        style_token_axis,
    )

    fmt = figure_format(out)
    colors = color_map(p.program for p in points)
    fig = Figure(figsize=(8.0, 3.6), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, 2, sharey=True, squeeze=False)[0]
    labels: list[PointLabel] = []
    obstacles: list[Obstacle] = []
    for k, split in enumerate(("search", "held-out")):
        ax = axes[k]
        pts = [p for p in points if p.split == split]
        xs = [p.avg_tokens for p in pts]
        ys = [p.accuracy for p in pts]
        ax.plot(xs, ys, "-", color="#888888", lw=1, zorder=1)
        for p in pts:
            ax.plot([p.avg_tokens], [p.accuracy], "o", ms=7, color=colors[p.program], zorder=2)
            obstacles.append(Obstacle(ax, p.avg_tokens, p.accuracy, 3.5))
            labels.append(
                PointLabel(ax, p.avg_tokens, p.accuracy, f"{p.label} {p.program}", "black", 7.5)
            )
        style_token_axis(ax, "average tokens per question (log scale)")
        style_accuracy_axis(ax, "accuracy % (mean over stores)" if k == 0 else None)
        ax.margins(x=0.15, y=0.15)
        n = pts[0].n_stores if pts else 0
        ax.set_title(f"{split} ({n} stores)", fontsize=9.5)
    fig.suptitle(f"Discovery trajectory at β = {beta:g}", fontsize=11)
    freeze_layout(fig)
    place_labels(fig, labels, obstacles)
    digest = hashlib.sha256(repr((beta, list(points))).encode()).hexdigest()[:32]
    atomic_write_bytes(out, figure_bytes(fig, fmt, digest, dpi))
    return out
