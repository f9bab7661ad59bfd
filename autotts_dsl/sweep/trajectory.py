"""A discovery trajectory: successive controllers at one β, search vs held-out.

AutoTTS's figure: each round's controller (t1, t2, …) as a point in
accuracy × tokens, once on the search benchmark (AIME24) and once on the
held-out ones (AIME25 + HMMT25), each averaged over the models present.
The points come from a sweep's tidy rows, so the figure is produced by the
project's own sweep and plot commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .results import Row

SEARCH_DATASETS: tuple[str, ...] = ("aime24",)
HELDOUT_DATASETS: tuple[str, ...] = ("aime25", "hmmt25")


class TrajectoryError(ValueError):
    """The results do not hold what the trajectory needs."""


@dataclass(frozen=True)
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
    """Two panels (search, held-out): the trajectory t1 → tN with labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from .plot import _atomic_write_bytes, _kilo

    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    splits = ("search", "held-out")
    for k, split in enumerate(splits):
        ax = fig.add_subplot(1, 2, k + 1)
        pts = [p for p in points if p.split == split]
        xs = [p.avg_tokens for p in pts]
        ys = [p.accuracy for p in pts]
        ax.plot(xs, ys, "-", color="#888888", lw=1, zorder=1)
        ax.scatter(xs, ys, c=range(len(pts)), cmap="viridis", s=60, zorder=2)
        for j, p in enumerate(pts):
            # Alternate above/below: successive rounds often sit close together.
            ax.annotate(
                f"{p.label} {p.program}",
                (p.avg_tokens, p.accuracy),
                textcoords="offset points",
                xytext=(-10, 8) if j % 2 else (-10, -14),
                fontsize=8,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_kilo))
        ax.xaxis.set_minor_formatter(FuncFormatter(_kilo))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.margins(x=0.08, y=0.1)
        ax.set_xlabel("average tokens per question (log scale)")
        ax.set_ylabel("accuracy % (mean over stores)")
        n = pts[0].n_stores if pts else 0
        ax.set_title(f"{split} ({n} stores)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Discovery trajectory at β = {beta:g}", fontsize=11)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "tts-dsl"})
    _atomic_write_bytes(Path(out_path), buf.getvalue())
    return Path(out_path)
