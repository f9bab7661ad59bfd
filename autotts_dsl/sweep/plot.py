"""Accuracy–token plots and the headline summary of a sweep.

Plots use matplotlib's object API on the Agg canvas (no pyplot, no display).
One panel per store (models × datasets when the stores form that grid),
x = average tokens per question on a log axis, y = accuracy. Each swept
program is one curve over β: every point hollow, the points on its Pareto
frontier (no cheaper point is as accurate) filled and joined by a bold line.
Baselines are dashed; SC@64 is a black star with a dotted line at its
accuracy.

The headline: on every store, the tokens a program needs to match SC@64's
accuracy, read off its Pareto frontier (interpolated linearly in log-tokens
between the frontier points that bracket that accuracy — the segment drawn
on the plot), as a saving relative to SC@64's tokens; "not reached" when the
frontier never reaches SC@64's accuracy. Plus peak accuracy and the point at
β = 0.5, per store and averaged over stores.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .results import Row

Metric = Literal["avg_tokens", "avg_seq_tokens"]
METRIC_LABELS: dict[str, str] = {
    "avg_tokens": "average tokens per question (log scale)",
    "avg_seq_tokens": "average sequential tokens per question (log scale)",
}

BASELINE_STYLE: dict[str, tuple[str, str]] = {
    "sc": ("#4d4d4d", "s"),
    "asc": ("#2ca02c", "v"),
    "esc": ("#9467bd", "^"),
    "parallel_probe": ("#8c564b", "D"),
}
BASELINE_LABEL: dict[str, str] = {
    "sc": "SC (β grid)",
    "asc": "ASC",
    "esc": "ESC",
    "parallel_probe": "Parallel-Probe",
}


# ---------------------------------------------------------------------------
# Curves and frontiers


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    "peak_accuracy",
    "peak_beta",
    "peak_tokens",
    "accuracy_at_beta_0.5",
    "tokens_at_beta_0.5",
    "sc64_accuracy",
    "sc64_tokens",
    "tokens_at_sc64_accuracy",
    "tokens_saved_vs_sc64",
)


def summary_table(
    per_store: Sequence[StoreHeadline], per_program: Sequence[ProgramHeadline]
) -> list[list[Any]]:
    """Rows for `summary.csv` (SUMMARY_COLUMNS); per-program means use store
    `mean`. Savings are fractions; "not reached" is spelled out."""
    out: list[list[Any]] = []
    for h in per_store:
        saved: Any = round(h.savings, 4) if h.savings is not None else None
        if h.sc64_accuracy is not None and not h.reached:
            saved = "not reached"
        out.append(
            [
                h.program,
                h.store,
                h.synthetic,
                h.peak_accuracy,
                h.peak_beta,
                h.peak_tokens,
                h.accuracy_at_half,
                h.tokens_at_half,
                h.sc64_accuracy,
                h.sc64_tokens,
                round(h.matched_tokens) if h.matched_tokens is not None else None,
                saved,
            ]
        )
    for p in per_program:
        out.append(
            [
                p.program,
                f"mean ({p.n_stores} stores; SC@64 accuracy reached on "
                f"{p.n_reached}/{p.n_with_reference})",
                None,
                round(p.mean_peak_accuracy, 2),
                None,
                None,
                _round(p.mean_accuracy_at_half, 2),
                _round(p.mean_tokens_at_half, 0),
                _round(p.mean_sc64_accuracy, 2),
                None,
                None,
                _round(p.mean_savings, 4),
            ]
        )
    return out


def _round(x: float | None, n: int) -> float | None:
    return None if x is None else round(x, n)


# ---------------------------------------------------------------------------
# Drawing


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


def _kilo(x: float, _pos: int | None = None) -> str:
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e3:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


PLOT_VERSION = "1"
FINGERPRINT_KEY = "tts-dsl-fingerprint"


def plot_fingerprint(
    rows: Sequence[Row], metric: str, baselines: bool, title: str | None, dpi: int
) -> str:
    """What a plot depends on (everything but run times)."""
    h = hashlib.sha256()
    h.update(repr((PLOT_VERSION, metric, baselines, title, dpi)).encode())
    for r in rows:
        h.update(repr(sorted((k, v) for k, v in r.items() if k != "wall_seconds")).encode())
    return h.hexdigest()[:32]


def png_text(path: str | Path) -> dict[str, str]:
    """The tEXt entries of a PNG file ({} when unreadable or not a PNG)."""
    out: dict[str, str] = {}
    try:
        data = Path(path).read_bytes()
    except OSError:
        return out
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return out
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


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
    """Draw accuracy vs `metric` per store and write a PNG atomically.

    With `reuse`, an existing PNG drawn from the same rows and options (its
    fingerprint is stored in the PNG's text metadata) is kept as it is.
    """
    if not rows:
        raise ValueError("no results to plot")
    fingerprint = plot_fingerprint(rows, metric, baselines, title, dpi)
    if reuse and png_text(out_path).get(FINGERPRINT_KEY) == fingerprint:
        return Path(out_path)

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

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
    fig = Figure(figsize=(width, 3.4 * nrows + 1.0), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    used = set(grid)
    for r in range(nrows):
        for c in range(ncols):
            if (r, c) not in used:
                axes[r][c].set_visible(False)

    sweep = _curves(rows, "sweep", metric, by_params=_needs_params(rows))
    base = _curves(rows, "baseline", metric, by_params=False) if baselines else {}
    ref = _reference(rows, metric)
    synthetic = {str(r["store"]): bool(r["synthetic"]) for r in rows}
    colors = [f"C{i}" for i in range(10)]
    handles: dict[str, Any] = {}

    for store, (gr, gc) in zip(stores, grid, strict=True):
        ax = axes[gr][gc]
        for i, (label, by_store) in enumerate(sweep.items()):
            pts = sorted(by_store.get(store, []), key=lambda p: p.beta)
            if not pts:
                continue
            color = colors[i % len(colors)]
            ax.plot(
                [p.tokens for p in pts],
                [p.accuracy for p in pts],
                "-",
                color=color,
                lw=0.9,
                alpha=0.45,
                zorder=3,
            )
            ax.plot(
                [p.tokens for p in pts],
                [p.accuracy for p in pts],
                "o",
                ms=4.5,
                mfc="white",
                mec=color,
                mew=1.2,
                zorder=4,
            )
            front = pareto_front(pts)
            ax.plot(
                [p.tokens for p in front],
                [p.accuracy for p in front],
                "-o",
                color=color,
                lw=2.0,
                ms=4.5,
                zorder=5,
            )
            for p in (pts[0], pts[-1]) if len(pts) > 1 else (pts[0],):
                ax.annotate(
                    f"β={p.beta:g}",
                    (p.tokens, p.accuracy),
                    textcoords="offset points",
                    xytext=(4, -10 if p is pts[0] else 4),
                    fontsize=6.5,
                    color=color,
                )
            handles.setdefault(
                label, Line2D([], [], color=color, marker="o", lw=2.0, ms=4.5, label=label)
            )
        for label, by_store in base.items():
            pts = sorted(by_store.get(store, []), key=lambda p: p.tokens)
            if not pts:
                continue
            color, marker = BASELINE_STYLE.get(label, ("#7f7f7f", "x"))
            ax.plot(
                [p.tokens for p in pts],
                [p.accuracy for p in pts],
                linestyle="--",
                marker=marker,
                color=color,
                lw=1.0,
                ms=3.8,
                alpha=0.85,
                zorder=2,
            )
            name = BASELINE_LABEL.get(label, label)
            handles.setdefault(
                "~" + name,
                Line2D([], [], color=color, marker=marker, ls="--", lw=1.0, ms=3.8, label=name),
            )
        sc = ref.get(store)
        if sc is not None:
            ax.axhline(sc.accuracy, color="black", lw=0.7, ls=":", alpha=0.6, zorder=1)
            ax.plot([sc.tokens], [sc.accuracy], "*", color="black", ms=10, zorder=6)
            handles.setdefault(
                "~~SC@64",
                Line2D([], [], color="black", marker="*", ls=":", lw=0.7, ms=10, label="SC@64"),
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_kilo))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3, lw=0.6)
        ax.grid(True, which="minor", alpha=0.1, lw=0.4)
        ax.tick_params(labelsize=8)
        name = store.removeprefix("autotts/") + (" (synthetic)" if synthetic.get(store) else "")
        ax.set_title(name, fontsize=9.5)
        if gr == nrows - 1 or (gr + 1, gc) not in used:
            ax.set_xlabel(METRIC_LABELS[metric], fontsize=8)
        if gc == 0:
            ax.set_ylabel("accuracy (%)", fontsize=8.5)

    ordered = [h for k, h in handles.items() if not k.startswith("~")]
    ordered += [h for k, h in sorted(handles.items()) if k.startswith("~") and h not in ordered]
    ordered.append(
        Line2D(
            [], [], ls="", marker="o", ms=4.5, mfc="white", mec="#555555", label="off-frontier β"
        )
    )
    fig.legend(
        handles=ordered,
        loc="outside lower center",
        ncol=min(len(ordered), max(2, int(width / 1.55))),
        fontsize=8.5,
        frameon=False,
    )
    seeds = {str(r["seeds"]) for r in rows if r.get("seeds")}
    n_seeds = ""
    if len(seeds) == 1:
        from .grid import parse_seeds_spec

        n_seeds = f" · {len(parse_seeds_spec(seeds.pop()))} seeds"
    what = METRIC_LABELS[metric].split(" (")[0].removeprefix("average ")
    default_title = f"Accuracy vs. {what}{n_seeds} (filled: Pareto frontier)"
    fig.suptitle(title or default_title, fontsize=11)
    buf = io.BytesIO()
    meta = {"Software": "tts-dsl sweep", FINGERPRINT_KEY: fingerprint}
    fig.savefig(buf, format="png", dpi=dpi, metadata=meta)
    _atomic_write_bytes(Path(out_path), buf.getvalue())
    return Path(out_path)


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
