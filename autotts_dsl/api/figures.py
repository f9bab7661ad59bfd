"""Sweep results: reading them back, their headline, and the figures.

Results are rows with the columns of a sweep's results.csv (`COLUMNS`): a
`run`/`sweep` DataFrame or the dicts `read_results` gives. matplotlib loads
on the first figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..sweeps.figures import FIGURE_FORMATS, FigureFormatError, figure_format, parse_formats
from ..sweeps.headline import ProgramHeadline, StoreHeadline
from ..sweeps.results import ResultsError
from ..sweeps.trajectory import TrajectoryError, TrajectoryPoint

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_FORMATS",
    "FigureFormatError",
    "ProgramHeadline",
    "Results",
    "ResultsError",
    "StoreHeadline",
    "TrajectoryError",
    "TrajectoryPoint",
    "figure_format",
    "headline",
    "parse_formats",
    "plot",
    "read_results",
    "save_figures",
    "save_plot",
    "save_trajectory",
    "trajectory",
]

Results: TypeAlias = "pd.DataFrame | Sequence[Mapping[str, Any]]"
"""Rows with the sweep CSV's columns: a DataFrame or a list of dicts."""

MetricName = Literal["tokens", "seq_tokens"]

_COLUMN = {"tokens": "avg_tokens", "seq_tokens": "avg_seq_tokens"}


def _rows(results: Results) -> list[dict[str, Any]]:
    """Rows as dicts; a DataFrame's with Python scalars (as the CSV reader
    gives: figure fingerprints depend on them)."""
    if hasattr(results, "to_dict"):
        return [
            {str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in results.to_dict("records")
        ]
    return [dict(r) for r in results]


def _metric(metric: str) -> Literal["avg_tokens", "avg_seq_tokens"]:
    column = _COLUMN.get(metric)
    if column is None:
        raise ValueError(f"metric must be 'tokens' or 'seq_tokens', not {metric!r}")
    return "avg_seq_tokens" if column == "avg_seq_tokens" else "avg_tokens"


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a sweep's results.csv, typed. Raises `ResultsError` (not
    a results file: the line and column at fault), `UnicodeDecodeError`,
    `OSError`."""
    from ..sweeps.results import read_tidy_csv

    return read_tidy_csv(path)


def headline(results: Results) -> tuple[list[StoreHeadline], list[ProgramHeadline]]:
    """The summary `tts-dsl sweep` prints: per program × store (peak accuracy
    and its β, accuracy and tokens at β = 0.5, SC@64's, the tokens the
    program's frontier needs to reach SC@64's accuracy and the share saved),
    and per program the means over stores."""
    from ..sweeps.headline import headline as _headline

    return _headline(_rows(results))


def plot(
    results: Results,
    *,
    metric: MetricName = "tokens",
    compact: bool = False,
    baselines: bool = True,
    title: str | None = None,
) -> Figure:
    """The accuracy-token figure of results (a matplotlib Figure; nothing is
    written). `metric`: "tokens" or "seq_tokens"; `compact`: means over
    stores in one panel (a paper column), else one panel per store. Rows of
    role `reference`/`baseline` draw as such (`baselines=False` leaves the
    baselines out)."""
    from ..sweeps.plot import mean_figure, results_figure

    draw = mean_figure if compact else results_figure
    fig: Figure = draw(_rows(results), metric=_metric(metric), baselines=baselines, title=title)
    return fig


def save_plot(
    results: Results,
    path: str | Path,
    *,
    metric: MetricName = "tokens",
    compact: bool = False,
    baselines: bool = True,
    title: str | None = None,
) -> Path:
    """`plot`, written to `path` (the format from its suffix: .png, .pdf or
    .svg) atomically; a figure already there drawn from the same rows and
    options is kept as it is. Raises `FigureFormatError`, `ValueError` (no
    rows), `OSError`."""
    from ..sweeps.plot import plot_mean, plot_results

    draw = plot_mean if compact else plot_results
    return draw(_rows(results), path, metric=_metric(metric), baselines=baselines, title=title)


def save_figures(
    results: Results,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png",),
    baselines: bool = True,
    jobs: int = 1,
) -> list[Path]:
    """The figures of a sweep in `out_dir`, in each format: accuracy_tokens
    and accuracy_seq_tokens (a panel per store) and accuracy_tokens_mean
    (one compact panel); with `jobs` > 1, drawn side by side (Linux).
    Raises `FigureFormatError`, `OSError`."""
    from ..sweeps.plot import draw_sweep_figures

    rows = _rows(results)
    return draw_sweep_figures(rows, Path(out_dir), baselines=baselines, formats=formats, jobs=jobs)


def trajectory(
    results: Results, programs: Sequence[str], beta: float = 1.0
) -> list[TrajectoryPoint]:
    """A discovery trajectory: `programs` in order (t1, t2, ...) at β, each a
    mean over the search stores (aime24) and over the held-out ones (aime25,
    hmmt25). Raises `TrajectoryError` (a program or store missing)."""
    from ..sweeps.trajectory import trajectory_points

    return trajectory_points(_rows(results), [p.strip() for p in programs if p.strip()], beta)


def save_trajectory(
    points: Sequence[TrajectoryPoint], path: str | Path, *, beta: float = 1.0
) -> Path:
    """The trajectory figure written to `path` (format from the suffix)."""
    from ..sweeps.trajectory import plot_trajectory

    return plot_trajectory(points, Path(path), beta=beta)
