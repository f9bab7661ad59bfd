"""Accuracy–token figures of a sweep.

Two figures from one tidy results table (`results.csv`):

* `plot_results` — one panel per store (models × datasets when the stores
  form that grid; panels of one row share their y axis);
* `plot_mean` — one compact panel, every curve averaged over its stores,
  sized for one column of a paper.

x = average tokens per question (log), y = accuracy. Each swept program is
one curve over β: every point hollow, the points on its Pareto frontier (no
cheaper point is as accurate) filled and joined by a bold line, its lowest
and highest β labelled where the label fits. Baselines are dashed in their
program's colour and marked `(baseline)`; SC@64 is a black star with a
dotted line at its accuracy. Colours, ticks, label placement and the file
formats (PNG, PDF, SVG, from the suffix) come from `figures.py`.

The headline numbers live in `headline.py` (re-exported here).
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .figures import (
    BASELINE_MARKERS,
    FIGURE_FORMATS,
    FINGERPRINT_KEY,
    LABEL_SIZE,
    POINT_LABEL_SIZE,
    TITLE_SIZE,
    Obstacle,
    PointLabel,
    Polyline,
    atomic_write_bytes,
    color_map,
    figure_bytes,
    figure_format,
    freeze_layout,
    grid_margins,
    has_fingerprint,
    kilo,
    literal_text,
    place_labels,
    png_text,
    style_accuracy_axis,
    style_token_axis,
)
from .headline import (
    SUMMARY_COLUMNS,
    Point,
    ProgramHeadline,
    StoreHeadline,
    _curves,
    _needs_params,
    _reference,
    _stores,
    headline,
    pareto_front,
    summary_table,
    tokens_at_accuracy,
)
from .results import Row

Metric = Literal["avg_tokens", "avg_seq_tokens"]
METRIC_LABELS: dict[str, str] = {
    "avg_tokens": "average tokens per question (log scale)",
    "avg_seq_tokens": "average sequential tokens per question (log scale)",
}
SHORT_METRIC_LABELS: dict[str, str] = {
    "avg_tokens": "avg tokens / question (log)",
    "avg_seq_tokens": "avg sequential tokens / question (log)",
}

PLOT_VERSION = "3"  # bumped when a figure looks different: its fingerprint changes

__all__ = [
    "FIGURE_FORMATS",
    "FINGERPRINT_KEY",
    "METRIC_LABELS",
    "SUMMARY_COLUMNS",
    "Metric",
    "Point",
    "ProgramHeadline",
    "StoreHeadline",
    "headline",
    "mean_figure",
    "pareto_front",
    "plot_fingerprint",
    "plot_mean",
    "plot_results",
    "png_text",
    "results_figure",
    "summary_table",
    "tokens_at_accuracy",
]

_kilo = kilo  # the name other modules used before figures.py


def _layout(rows: Sequence[Row], stores: Sequence[str]) -> list[tuple[int, int]] | None:
    """Grid positions (row, col) per store when the stores are exactly a
    models × datasets grid, else None."""
    md: dict[str, tuple[str, str]] = {}
    for r in rows:
        md.setdefault(str(r["store"]), (str(r["model"]), str(r["dataset"])))
    models = list(dict.fromkeys(md[s][0] for s in stores))
    datasets = list(dict.fromkeys(md[s][1] for s in stores))
    if len(stores) < 2 or len(models) * len(datasets) != len(stores) or len(datasets) > 6:
        return None
    if len(set(md[s] for s in stores)) != len(stores):
        return None
    return [(models.index(md[s][0]), datasets.index(md[s][1])) for s in stores]


def plot_fingerprint(
    rows: Sequence[Row], metric: str, baselines: bool, title: str | None, dpi: int, kind: str = ""
) -> str:
    """What a figure depends on (everything but run times and provenance)."""
    h = hashlib.sha256()
    h.update(repr((PLOT_VERSION, kind, metric, baselines, title, dpi)).encode())
    skip = {"wall_seconds", "backend", "tool_version"}
    for r in rows:
        h.update(repr(sorted((k, v) for k, v in r.items() if k not in skip)).encode())
    return h.hexdigest()[:32]


# ---------------------------------------------------------------------------
# Curves of one figure


class _Curves:
    """Everything one figure draws, grouped per store, with the colours."""

    def __init__(self, rows: Sequence[Row], metric: str, baselines: bool) -> None:
        self.sweep = _curves(rows, "sweep", metric, by_params=_needs_params(rows))
        self.base = _curves(rows, "baseline", metric, by_params=False) if baselines else {}
        self.ref = _reference(rows, metric)
        self.synthetic = {str(r["store"]): bool(r["synthetic"]) for r in rows}
        self.colors = color_map([*self.sweep, *self.base])
        betas = {p.beta for by_store in self.sweep.values() for ps in by_store.values() for p in ps}
        self.single_beta = next(iter(betas)) if len(betas) == 1 else None

    @staticmethod
    def baseline_label(name: str) -> str:
        return f"{name} (baseline)"


class _Marks:
    """What `place_labels` needs from the panels: labels, markers, lines."""

    def __init__(self) -> None:
        self.labels: list[PointLabel] = []
        self.obstacles: list[Obstacle] = []
        self.lines: list[Polyline] = []
        self.hlines: list[tuple[Any, float]] = []
        self.off_frontier = False

    def place(self, fig: Any) -> None:
        freeze_layout(fig)
        lines = list(self.lines)
        for ax, y in self.hlines:
            lo, hi = ax.get_xlim()
            lines.append(Polyline(ax, [lo, hi], [y, y]))
        place_labels(fig, self.labels, self.obstacles, lines)


def _draw(
    ax: Any,
    curves: _Curves,
    sweep_pts: dict[str, list[Point]],
    base_pts: dict[str, list[Point]],
    sc: Point | None,
    handles: dict[str, Any],
    marks: _Marks,
    scale: float = 1.0,
) -> None:
    """One panel: swept curves, baselines, SC@64; collects legend handles
    and what the β labels must avoid. `scale` shrinks lines and markers."""
    from matplotlib.lines import Line2D

    ms, lw = 4.5 * scale, 2.0 * scale
    for label, pts in sweep_pts.items():
        pts = sorted(pts, key=lambda p: p.beta)
        if not pts:
            continue
        color = curves.colors[label]
        xs, ys = [p.tokens for p in pts], [p.accuracy for p in pts]
        ax.plot(xs, ys, "-", color=color, lw=0.9 * scale, alpha=0.45, zorder=3)
        ax.plot(xs, ys, "o", ms=ms, mfc="white", mec=color, mew=1.2 * scale, zorder=4)
        front = pareto_front(pts)
        marks.off_frontier |= len(front) < len(pts)
        fx, fy = [p.tokens for p in front], [p.accuracy for p in front]
        ax.plot(fx, fy, "-o", color=color, lw=lw, ms=ms, zorder=5)
        marks.lines += [Polyline(ax, xs, ys), Polyline(ax, fx, fy)]
        marks.obstacles.extend(Obstacle(ax, p.tokens, p.accuracy, ms / 2 + 0.5) for p in pts)
        if curves.single_beta is None:
            ends = [pts[0], pts[-1]] if pts[0].beta != pts[-1].beta else [pts[0]]
            size = POINT_LABEL_SIZE * min(1.0, 0.3 + 0.7 * scale)
            marks.labels.extend(
                PointLabel(ax, p.tokens, p.accuracy, f"β={p.beta:g}", color, size) for p in ends
            )
        handles.setdefault(
            label, Line2D([], [], color=color, marker="o", lw=lw, ms=ms, label=label)
        )
    for name, pts in base_pts.items():
        pts = sorted(pts, key=lambda p: p.tokens)
        if not pts:
            continue
        color, marker = curves.colors[name], BASELINE_MARKERS.get(name, "x")
        xs, ys = [p.tokens for p in pts], [p.accuracy for p in pts]
        ax.plot(
            xs,
            ys,
            linestyle="--",
            marker=marker,
            color=color,
            lw=1.0 * scale,
            ms=3.8 * scale,
            alpha=0.85,
            zorder=2,
        )
        marks.lines.append(Polyline(ax, xs, ys))
        marks.obstacles.extend(
            Obstacle(ax, x, y, 2.0 * scale + 0.5) for x, y in zip(xs, ys, strict=True)
        )
        text = curves.baseline_label(name)
        handles.setdefault(
            "~" + text,
            Line2D(
                [],
                [],
                color=color,
                marker=marker,
                ls="--",
                lw=1.0 * scale,
                ms=3.8 * scale,
                label=text,
            ),
        )
    if sc is not None:
        ax.axhline(sc.accuracy, color="black", lw=0.7, ls=":", alpha=0.6, zorder=1)
        ax.plot([sc.tokens], [sc.accuracy], "*", color="black", ms=10 * scale, zorder=6)
        marks.obstacles.append(Obstacle(ax, sc.tokens, sc.accuracy, 6.0 * scale, hard=True))
        marks.hlines.append((ax, sc.accuracy))
        handles.setdefault(
            "~~SC@64",
            Line2D([], [], color="black", marker="*", ls=":", lw=0.7, ms=10 * scale, label="SC@64"),
        )


def _legend_handles(handles: dict[str, Any], marks: _Marks) -> list[Any]:
    from matplotlib.lines import Line2D

    ordered = [h for k, h in handles.items() if not k.startswith("~")]
    ordered += [h for k, h in sorted(handles.items()) if k.startswith("~")]
    if marks.off_frontier:  # explain hollow points only where there are some
        ordered.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=4.5,
                mfc="white",
                mec="#555555",
                label="off-frontier β",
            )
        )
    return ordered


def _seeds_text(rows: Sequence[Row]) -> str:
    seeds = {str(r["seeds"]) for r in rows if r.get("seeds")}
    if len(seeds) != 1:
        return ""
    from .grid import parse_seeds_spec

    return f" · {len(parse_seeds_spec(seeds.pop()))} seeds"


def _title(rows: Sequence[Row], metric: str, curves: _Curves, tail: str) -> str:
    what = METRIC_LABELS[metric].split(" (")[0].removeprefix("average ")
    at = f" at β = {curves.single_beta:g}" if curves.single_beta is not None else ""
    return f"Accuracy vs. {what}{at}{_seeds_text(rows)}{tail}"


def _write(fig: Any, out_path: Path, fingerprint: str, dpi: int) -> Path:
    atomic_write_bytes(out_path, figure_bytes(fig, figure_format(out_path), fingerprint, dpi))
    return out_path


# ---------------------------------------------------------------------------
# The per-store grid


def plot_results(
    rows: Sequence[Row],
    out_path: str | Path,
    *,
    metric: Metric = "avg_tokens",
    baselines: bool = True,
    title: str | None = None,
    dpi: int = 150,
    reuse: bool = True,
) -> Path:
    """Draw accuracy vs `metric`, one panel per store, and write the figure
    (format from the suffix) atomically. With `reuse`, a figure already drawn
    from the same rows and options (its fingerprint is in its metadata) is
    kept as it is."""
    if not rows:
        raise ValueError("no results to plot")
    out = Path(out_path)
    figure_format(out)
    fingerprint = plot_fingerprint(rows, metric, baselines, title, dpi, "grid")
    if reuse and has_fingerprint(out, fingerprint):
        return out
    fig = results_figure(rows, metric=metric, baselines=baselines, title=title, dpi=dpi)
    return _write(fig, out, fingerprint, dpi)


def results_figure(
    rows: Sequence[Row],
    *,
    metric: Metric = "avg_tokens",
    baselines: bool = True,
    title: str | None = None,
    dpi: int = 150,
) -> Any:
    """The figure `plot_results` writes (a matplotlib `Figure`)."""
    with literal_text():
        return _results_figure(rows, metric, baselines, title, dpi)


def _results_figure(
    rows: Sequence[Row], metric: Metric, baselines: bool, title: str | None, dpi: int
) -> Any:
    from matplotlib.figure import Figure

    stores = _stores(rows)
    grid = _layout(rows, stores)
    if grid is not None:
        nrows = max(r for r, _ in grid) + 1
        ncols = max(c for _, c in grid) + 1
    else:
        ncols = min(3, len(stores))
        nrows = math.ceil(len(stores) / ncols)
        grid = [(i // ncols, i % ncols) for i in range(len(stores))]
    width = max(4.3 * ncols, 7.5)
    fig = Figure(figsize=(width, 3.4 * nrows + 1.0), dpi=dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey="row")
    used = set(grid)
    for r in range(nrows):
        for c in range(ncols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)

    curves = _Curves(rows, metric, baselines)
    handles: dict[str, Any] = {}
    marks = _Marks()
    xlabel_rows: set[int] = set()
    for store, (gr, gc) in zip(stores, grid, strict=True):
        ax = axes[gr][gc]
        _draw(
            ax,
            curves,
            {k: v.get(store, []) for k, v in curves.sweep.items()},
            {k: v.get(store, []) for k, v in curves.base.items()},
            curves.ref.get(store),
            handles,
            marks,
        )
        style_token_axis(ax, minor=len(stores) <= 4)
        style_accuracy_axis(ax, "accuracy (%)" if gc == 0 else None)
        name = store.removeprefix("autotts/")
        name += " (synthetic)" if curves.synthetic.get(store) else ""
        ax.set_title(name, fontsize=TITLE_SIZE)
        if gr == nrows - 1 or (gr + 1, gc) not in used:
            ax.set_xlabel(METRIC_LABELS[metric], fontsize=LABEL_SIZE - 0.5)
            xlabel_rows.add(gr)
    ordered = _legend_handles(handles, marks)
    ncol = min(len(ordered), max(2, int(width / 1.7)))
    fig.legend(
        handles=ordered,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.04 / fig.get_size_inches()[1]),
        ncol=ncol,
        fontsize=LABEL_SIZE,
        frameon=False,
        borderaxespad=0,
    )
    fig.suptitle(
        title or _title(rows, metric, curves, " (filled: Pareto frontier)"),
        fontsize=11,
        y=1 - 0.1 / fig.get_size_inches()[1],
        va="top",
    )
    grid_margins(
        fig,
        nrows,
        ncols,
        legend_rows=math.ceil(len(ordered) / max(1, ncol)),
        xlabel_rows=sorted(xlabel_rows),
    )
    marks.place(fig)
    return fig


# ---------------------------------------------------------------------------
# The compact figure: mean over stores


def _mean_points(by_store: dict[str, list[Point]]) -> list[Point]:
    """A curve's points averaged over its stores, at the (β, params) it has
    on every one of them."""
    groups: dict[tuple[float, str], list[Point]] = {}
    for pts in by_store.values():
        for p in pts:
            groups.setdefault((p.beta, p.params), []).append(p)
    n = len(by_store)
    return [
        Point(
            beta,
            params,
            sum(p.accuracy for p in ps) / n,
            sum(p.tokens for p in ps) / n,
        )
        for (beta, params), ps in groups.items()
        if len(ps) == n
    ]


def plot_mean(
    rows: Sequence[Row],
    out_path: str | Path,
    *,
    metric: Metric = "avg_tokens",
    baselines: bool = True,
    title: str | None = None,
    dpi: int = 200,
    reuse: bool = True,
) -> Path:
    """One panel, 3.4 × 3 inches (a paper column): every curve and SC@64
    averaged over the stores (mean accuracy, mean tokens)."""
    if not rows:
        raise ValueError("no results to plot")
    out = Path(out_path)
    figure_format(out)
    fingerprint = plot_fingerprint(rows, metric, baselines, title, dpi, "mean")
    if reuse and has_fingerprint(out, fingerprint):
        return out
    fig = mean_figure(rows, metric=metric, baselines=baselines, title=title, dpi=dpi)
    return _write(fig, out, fingerprint, dpi)


def mean_figure(
    rows: Sequence[Row],
    *,
    metric: Metric = "avg_tokens",
    baselines: bool = True,
    title: str | None = None,
    dpi: int = 200,
) -> Any:
    """The figure `plot_mean` writes (a matplotlib `Figure`)."""
    with literal_text():
        return _mean_figure(rows, metric, baselines, title, dpi)


def _mean_figure(
    rows: Sequence[Row], metric: Metric, baselines: bool, title: str | None, dpi: int
) -> Any:
    from matplotlib.figure import Figure

    curves = _Curves(rows, metric, baselines)
    refs = list(curves.ref.values())
    sc = (
        Point(
            1.0,
            "",
            sum(p.accuracy for p in refs) / len(refs),
            sum(p.tokens for p in refs) / len(refs),
        )
        if refs
        else None
    )
    n_stores = len(_stores(rows))
    fig = Figure(figsize=(3.4, 3.0), layout="constrained", dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    handles: dict[str, Any] = {}
    marks = _Marks()
    _draw(
        ax,
        curves,
        {k: _mean_points(v) for k, v in curves.sweep.items()},
        {k: _mean_points(v) for k, v in curves.base.items()},
        sc,
        handles,
        marks,
        scale=0.75,
    )
    style_token_axis(ax)
    style_accuracy_axis(ax, None)
    ax.set_xlabel(SHORT_METRIC_LABELS[metric], fontsize=7)
    ax.set_ylabel("accuracy (%)", fontsize=7)
    ax.tick_params(labelsize=6.5)
    ordered = _legend_handles(handles, marks)
    fig.legend(
        handles=ordered,
        loc="outside lower center",
        ncol=2,
        fontsize=6,
        frameon=False,
        handlelength=2.2,
        columnspacing=1.2,
    )
    where = f"mean over {n_stores} store{'s' * (n_stores != 1)}"
    fig.suptitle(title or f"{_title(rows, metric, curves, '')}\n{where}", fontsize=7.5)
    marks.place(fig)
    return fig


# ---------------------------------------------------------------------------
# A sweep's figures


SWEEP_FIGURES: tuple[tuple[str, Metric, str], ...] = (
    ("grid", "avg_tokens", "accuracy_tokens"),
    ("grid", "avg_seq_tokens", "accuracy_seq_tokens"),
    ("mean", "avg_tokens", "accuracy_tokens_mean"),
)
"""(kind, metric, file stem) of the figures a sweep draws, costliest first."""


def _draw_one(job: tuple[Sequence[Row], str, Metric, Path, bool]) -> Path:
    rows, kind, metric, path, baselines = job
    draw = plot_results if kind == "grid" else plot_mean
    return draw(rows, path, metric=metric, baselines=baselines)


def draw_sweep_figures(
    rows: Sequence[Row],
    out_dir: Path,
    *,
    baselines: bool,
    formats: Sequence[str] = ("png",),
    jobs: int = 1,
) -> list[Path]:
    """Every figure of a sweep in every format, into `out_dir`; the paths
    written, in `SWEEP_FIGURES` order. With `jobs` > 1 on Linux, figures are
    drawn side by side in forked processes (matplotlib is imported once,
    before the fork): the grids take seconds each."""
    work = [
        (rows, kind, metric, out_dir / f"{stem}.{fmt}", baselines)
        for fmt in formats
        for kind, metric, stem in SWEEP_FIGURES
    ]
    n = min(jobs, len(work))
    if n <= 1 or not sys.platform.startswith("linux"):
        return [_draw_one(job) for job in work]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(n) as pool:
        return pool.map(_draw_one, work, chunksize=1)
