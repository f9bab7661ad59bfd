"""What every figure of tts-dsl shares: formats, colours, axes, labels, files.

* Formats: the file's suffix decides (`.png`, `.pdf`, `.svg`); PDF and SVG
  carry no creation date, so the same data draws the same bytes.
* Colours: by program *name*, never by position, so `cmc` is the same blue
  in every figure a paper shows. Stdlib controllers have fixed colours;
  other names hash to a palette slot (the next free slot if two names of one
  figure collide).
* Axes: log token axes ticked at 1-2-5 with `52k` / `1.2M` labels, accuracy
  in plain numbers, the same grid and sizes everywhere (`style_token_axis`,
  `style_accuracy_axis`).
* Labels: `place_labels` puts point labels (β values) where they overlap
  neither each other, nor markers to avoid (SC@64 stars), nor the axes'
  edges, and leaves a label out rather than let it collide.

matplotlib is imported by the functions that draw, never at import time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..records import record

FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
FINGERPRINT_KEY = "tts-dsl-fingerprint"

PROGRAM_COLORS: dict[str, str] = {
    "cmc": "#1f77b4",
    "sc": "#4d4d4d",
    "asc": "#2ca02c",
    "esc": "#9467bd",
    "parallel_probe": "#8c564b",
    "sdgv": "#e377c2",
    "ibc": "#bcbd22",
    "scr": "#17becf",
    "dgcc": "#d62728",
}
"""Fixed colours of the stdlib controllers (Tableau 10)."""

PALETTE: tuple[str, ...] = (
    "#ff7f0e",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
    "#ad494a",
)
"""Colours for every other program name (no stdlib colour among them)."""

BASELINE_MARKERS: dict[str, str] = {"sc": "s", "asc": "v", "esc": "^", "parallel_probe": "D"}

TICK_SIZE = 8.0
LABEL_SIZE = 8.5
TITLE_SIZE = 9.5
POINT_LABEL_SIZE = 6.5


class FigureFormatError(ValueError):
    """A figure path whose suffix is not one of `FIGURE_FORMATS`."""


def figure_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        shown = f".{suffix}" if suffix else "no suffix"
        raise FigureFormatError(
            f"{path}: cannot tell the figure format from {shown}; "
            f"use {', '.join('.' + f for f in FIGURE_FORMATS)}"
        )
    return suffix


def parse_formats(text: str) -> tuple[str, ...]:
    """`png,pdf` → ('png', 'pdf'); raises FigureFormatError on anything else."""
    items = [t.strip().lower().lstrip(".") for t in text.split(",")]
    if not items or any(not t for t in items):
        raise FigureFormatError(f"--format {text!r}: expected e.g. png or png,pdf")
    bad = [t for t in items if t not in FIGURE_FORMATS]
    if bad:
        raise FigureFormatError(
            f"--format {text!r}: unknown format {bad[0]!r} "
            f"(choose from {', '.join(FIGURE_FORMATS)})"
        )
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------------------
# Colours


def _slot(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(PALETTE)


def program_color(name: str) -> str:
    """The colour of a program name (or a curve label) in every figure."""
    fixed = PROGRAM_COLORS.get(name)
    return fixed if fixed is not None else PALETTE[_slot(name)]


def color_map(names: Iterable[str]) -> dict[str, str]:
    """Colours for the curves of one figure: each name's own colour, unless
    two names of the figure want the same one; then the first (in sorted
    order) keeps it and the other takes the next free palette slot. So a
    name no other name of the figure competes with has its own colour."""
    out: dict[str, str] = {}
    used: set[str] = set()
    unique = sorted(set(names))
    for name in unique:  # fixed colours and uncontested hashed ones first
        color = program_color(name)
        if color not in used:
            out[name] = color
            used.add(color)
    for name in unique:
        if name in out:
            continue
        slot = _slot(name)
        color = PALETTE[slot]
        for k in range(len(PALETTE)):
            color = PALETTE[(slot + k) % len(PALETTE)]
            if color not in used:
                break
        out[name] = color
        used.add(color)
    return out


# ---------------------------------------------------------------------------
# Axes


def kilo(x: float, _pos: int | None = None) -> str:
    """Token counts: 500, 2k, 52k, 1.2M."""
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e3:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def _plain(y: float, _pos: int | None = None) -> str:
    return f"{y:g}"


def style_token_axis(ax: Any, label: str | None = None, *, minor: bool = True) -> None:
    """A log x axis of tokens, ticked 1-2-5 with `kilo` labels; with `minor`,
    unlabelled ticks and a faint grid at the other integers of a decade.
    A panel grid leaves them out: at its panel size they are barely seen,
    and their tick objects were a third of the time it took to draw."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(kilo))
    ax.grid(True, which="major", alpha=0.3, lw=0.6)
    if minor:
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="minor", alpha=0.1, lw=0.4)
    else:
        ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(labelsize=TICK_SIZE)
    if label is not None:
        ax.set_xlabel(label, fontsize=LABEL_SIZE)


def style_accuracy_axis(ax: Any, label: str | None = "accuracy (%)") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.tick_params(labelsize=TICK_SIZE)
    if label is not None:
        ax.set_ylabel(label, fontsize=LABEL_SIZE)


# ---------------------------------------------------------------------------
# Point labels that do not collide


@record
class PointLabel:
    ax: Any
    x: float
    y: float
    text: str
    color: str
    size: float = POINT_LABEL_SIZE


@record
class Obstacle:
    """A marker that labels keep clear of: data point, radius in points.
    `hard`: never covered (SC@64's star); others are avoided when possible."""

    ax: Any
    x: float
    y: float
    radius: float
    hard: bool = False


@record
class Polyline:
    """A drawn line that labels avoid when they can (data coordinates)."""

    ax: Any
    xs: Sequence[float]
    ys: Sequence[float]


_OFFSETS: tuple[tuple[float, float], ...] = (
    (5, 3),
    (5, -10),
    (-5, 3),
    (-5, -10),
    (0, 7),
    (0, -14),
    (9, -4),
    (-9, -4),
    (12, 8),
    (12, -16),
    (-12, 8),
    (-12, -16),
    (18, -4),
    (-18, -4),
)
"""Where a label may go, in points from its point (x right, y up); a
negative x puts the label's right edge there."""


class _Circles:
    """Obstacles of one axes in display coordinates, tested together."""

    def __init__(self) -> None:
        self.xy: list[tuple[float, float]] = []
        self.r: list[float] = []

    def add(self, x: float, y: float, r: float) -> None:
        self.xy.append((x, y))
        self.r.append(r)

    def hit(self, box: Any) -> bool:
        if not self.xy:
            return False
        import numpy as np

        xy = np.asarray(self.xy)
        r = np.asarray(self.r)
        dx = np.maximum(np.maximum(box.x0 - xy[:, 0], 0.0), xy[:, 0] - box.x1)
        dy = np.maximum(np.maximum(box.y0 - xy[:, 1], 0.0), xy[:, 1] - box.y1)
        return bool(np.any(dx * dx + dy * dy < r * r))


def _sampled(ax: Any, line: Polyline, step: float, r: float, into: _Circles) -> None:
    pts = ax.transData.transform(list(zip(line.xs, line.ys, strict=True)))
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / step))
        for k in range(n + 1):
            into.add(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, r)


def place_labels(
    fig: Any,
    labels: Sequence[PointLabel],
    obstacles: Sequence[Obstacle] = (),
    lines: Sequence[Polyline] = (),
) -> list[Any]:
    """Annotate each label at the first offset where it stays inside its
    axes and overlaps no placed label, no obstacle and no line; failing
    that, the first place clear of labels and hard obstacles; failing that
    it is left out. Call after the figure's layout is final
    (`freeze_layout`)."""
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72.0
    soft: dict[int, _Circles] = {}
    hard: dict[int, _Circles] = {}
    for ob in obstacles:
        px, py = ob.ax.transData.transform((ob.x, ob.y))
        (hard if ob.hard else soft).setdefault(id(ob.ax), _Circles()).add(px, py, ob.radius * scale)
    for line in lines:
        _sampled(line.ax, line, 2.0 * scale, 1.5 * scale, soft.setdefault(id(line.ax), _Circles()))
    placed: dict[int, list[Any]] = {}
    out = []
    for lab in labels:
        inside = lab.ax.get_window_extent(renderer)
        key = id(lab.ax)
        # Measure the label once per alignment, then move that box around.
        base: dict[str, Any] = {}
        for ha in ("left", "right"):
            probe = _annotate(lab, 0.0, 0.0, ha)
            base[ha] = probe.get_window_extent(renderer)
            probe.remove()
        free = []
        for dx, dy in _OFFSETS:
            b = base["left" if dx >= 0 else "right"].translated(dx * scale, dy * scale)
            if (
                b.x0 >= inside.x0
                and b.x1 <= inside.x1
                and b.y0 >= inside.y0
                and b.y1 <= inside.y1
                and not any(b.overlaps(o) for o in placed.get(key, []))
                and not (key in hard and hard[key].hit(b))
            ):
                free.append(((dx, dy), b))
        clear = [(off, b) for off, b in free if not (key in soft and soft[key].hit(b))]
        options = clear or free
        if not options:
            continue
        (dx, dy), box = options[0]
        out.append(_annotate(lab, dx, dy, "left" if dx >= 0 else "right"))
        placed.setdefault(key, []).append(box)
    return out


def _annotate(lab: PointLabel, dx: float, dy: float, ha: str) -> Any:
    return lab.ax.annotate(
        lab.text,
        (lab.x, lab.y),
        textcoords="offset points",
        xytext=(dx, dy),
        ha=ha,
        fontsize=lab.size,
        color=lab.color,
        annotation_clip=False,
    )


def literal_text() -> Any:
    """A context in which figure text is never mathtext: a program or store
    name with `$` signs prints as written (user text is text)."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False})


def grid_margins(
    fig: Any, nrows: int, ncols: int, *, legend_rows: int, xlabel_rows: Sequence[int]
) -> None:
    """Place an nrows x ncols grid of panels with margins worked out from the
    font sizes: y tick labels and label on the left, suptitle and panel
    titles on top, x tick labels (and the x label where a row has one) below
    each row, `legend_rows` of legend at the bottom. Constrained layout found
    the same margins by measuring every tick of every panel: 60 % of the
    time of drawing a 12-panel figure, for panels that all look alike."""
    pt = 1 / 72
    width, height = fig.get_size_inches()
    tick = (3.5 + 3.5 + 1.25 * TICK_SIZE) * pt  # tick length, pad, label
    xlabel = (4 + 1.25 * LABEL_SIZE) * pt
    title = (6 + 1.25 * TITLE_SIZE) * pt
    left = tick + 0.25 + xlabel  # y tick labels up to "100", then the y label
    right = 0.12
    top = 0.12 + 1.3 * 11 * pt + title  # suptitle (11 pt), then the first panel title
    legend = 0.08 + legend_rows * 1.6 * LABEL_SIZE * pt
    bottom = legend + tick + (xlabel if nrows - 1 in xlabel_rows else 0)
    gap_x = 0.14
    gap_y = tick + title + (xlabel if any(r < nrows - 1 for r in xlabel_rows) else 0)
    panel_w = (width - left - right - gap_x * (ncols - 1)) / ncols
    panel_h = (height - top - bottom - gap_y * (nrows - 1)) / nrows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=gap_x / panel_w,
        hspace=gap_y / panel_h,
    )


def freeze_layout(fig: Any) -> None:
    """Run the layout engine once and keep its result, so that labels placed
    afterwards stay where `place_labels` measured them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # text extents need a renderer; Agg measures as it draws
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # the layout alone: saving draws the figure once
    fig.set_layout_engine("none")
    for ax in fig.axes:
        ax.get_xlim(), ax.get_ylim()  # settle autoscaled limits before measuring


# ---------------------------------------------------------------------------
# Files


def figure_bytes(fig: Any, fmt: str, fingerprint: str, dpi: int) -> bytes:
    """The figure in `fmt`, with its fingerprint in the file's metadata and
    no creation date."""
    tag = f"{FINGERPRINT_KEY}={fingerprint}"
    if fmt == "png":
        meta: dict[str, Any] = {"Software": "tts-dsl", FINGERPRINT_KEY: fingerprint}
    elif fmt == "pdf":
        meta = {"Creator": "tts-dsl", "Keywords": tag, "CreationDate": None}
    else:
        meta = {"Creator": "tts-dsl", "Description": tag, "Date": None}
    buf = io.BytesIO()
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": fingerprint, "text.parse_math": False}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


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


def has_fingerprint(path: str | Path, fingerprint: str) -> bool:
    """Whether the figure at `path` was drawn from data with this fingerprint."""
    p = Path(path)
    if figure_format(p) == "png":
        return png_text(p).get(FINGERPRINT_KEY) == fingerprint
    try:
        data = p.read_bytes()
    except OSError:
        return False
    return f"{FINGERPRINT_KEY}={fingerprint}".encode() in data


def atomic_write_bytes(target: Path, data: bytes) -> None:
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
