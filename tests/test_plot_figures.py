"""Figures for papers: formats, colours by name, shared axes, β labels that
collide with nothing, legends, the compact figure, one tick style."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl.sweeps.figures import (
    PALETTE,
    PROGRAM_COLORS,
    color_map,
    kilo,
    program_color,
)
from autotts_dsl.sweeps.plot import mean_figure, plot_mean, plot_results, results_figure
from tests.support.cli import run_cli

MODELS = ("Qwen3-1.7B", "Qwen3-8B")
DATASETS = ("aime24", "aime25")


def row(program: str, beta: float, acc: float, tok: float, *, store: tuple[str, str],
        role: str = "sweep", params: str = "") -> dict[str, Any]:  # fmt: skip
    model, dataset = store
    return {
        "program": program, "beta": beta, "params": params, "store": f"autotts/{model}/{dataset}",
        "model": model, "dataset": dataset, "synthetic": False, "accuracy": acc,
        "avg_tokens": tok, "avg_seq_tokens": tok / 4, "role": role, "seeds": "0:100",
    }  # fmt: skip


def grid_rows(programs: tuple[str, ...] = ("cmc", "asc"), betas: tuple[float, ...] = (0, 0.5, 1),
              baselines: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for k, store in enumerate(itertools.product(MODELS, DATASETS)):
        for i, p in enumerate(programs):
            for b in betas:
                acc, tok = 40 + 10 * k + 20 * b + i, 10_000 * (1 + 9 * b) * (1 + i)
                rows.append(row(p, b, acc, tok, store=store))
        ref = {"role": "reference", "params": "samples=64"}
        rows.append(row("sc", 1.0, 45 + 10 * k, 300_000, store=store, **ref))
        if baselines:
            for n in (4, 16):
                base = {"role": "baseline", "params": f"max_samples={n}"}
                rows.append(row("asc", 1.0, 38 + 10 * k + n / 4, 4_000 * n, store=store, **base))
    return rows


def _texts(fig: Any) -> list[Any]:
    return [t for ax in fig.axes for t in ax.texts]


def _beta_labels(fig: Any) -> list[Any]:
    return [t for t in _texts(fig) if t.get_text().startswith("β=")]


# ---------------------------------------------------------------------------
# Formats


@pytest.mark.parametrize(
    ("suffix", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")]
)
def test_the_suffix_decides_the_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    rows = [r for r in grid_rows() if r["store"] == "autotts/Qwen3-8B/aime24"]  # one panel
    out = plot_results(rows, tmp_path / f"fig.{suffix}")
    data = out.read_bytes()
    assert data.startswith(magic), data[:20]
    if suffix == "svg":
        assert b"<svg" in data[:2000]
    # Drawn again from the same rows: kept as it is (its fingerprint matches).
    before = out.stat().st_mtime_ns
    assert plot_results(rows, out).stat().st_mtime_ns == before
    if suffix != "png":  # no creation date inside: the same rows give the same bytes
        assert plot_results(rows, tmp_path / f"again.{suffix}").read_bytes() == data
    assert plot_mean(rows, tmp_path / f"mean.{suffix}").read_bytes().startswith(magic)


def test_plot_cli_formats_and_bad_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    from autotts_dsl.sweeps.results import TIDY_COLUMNS

    path = tmp_path / "results.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=TIDY_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in grid_rows():
            w.writerow({**r, "synthetic": "false"})
    code, _, err = run_cli(capsys, "plot", str(path), "--out", str(tmp_path / "f.pdf"))
    assert code == 0, err
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    code, _, err = run_cli(capsys, "plot", str(path), "--mean", "-o", str(tmp_path / "m.svg"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "plot", str(path), "--out", str(tmp_path / "f.jpg"))
    assert code == 2 and out == "" and "cannot tell the figure format from .jpg" in err
    assert not (tmp_path / "f.jpg").exists()


def test_sweep_writes_every_figure_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = ["sweep", "sc", "--betas", "0,1", "--seeds", "1", "--jobs", "1", "--format", "png,pdf"]
    code, _, err = run_cli(capsys, *argv, "--out", str(out))
    assert code == 0, err
    for stem in ("accuracy_tokens", "accuracy_seq_tokens", "accuracy_tokens_mean"):
        assert (out / f"{stem}.png").is_file() and (out / f"{stem}.pdf").is_file(), stem
    code, _, err = run_cli(capsys, *argv[:-2], "--format", "png,gif", "--out", str(out))
    assert code == 2 and "unknown format 'gif'" in err


# ---------------------------------------------------------------------------
# Colours


names = st.sets(st.text("abcdefgh_", min_size=1, max_size=6), min_size=1, max_size=len(PALETTE))


@settings(max_examples=60, deadline=None)
@given(names=names, extra=names)
def test_colours_follow_names_and_stay_distinct(names: set[str], extra: set[str]) -> None:
    alone = color_map(names)
    assert len(set(alone.values())) == len(alone)  # distinct within a figure
    assert color_map(sorted(names, reverse=True)) == alone  # by name, not by position
    union = names | extra
    if len(union - set(PROGRAM_COLORS)) > len(PALETTE):
        return
    both = color_map(union)
    for n in names:
        # Unless another name of the figure wants the same colour, a name has
        # its own colour in every figure.
        if sum(program_color(m) == program_color(n) for m in union) == 1:
            assert alone[n] == both[n] == program_color(n)


def test_stdlib_colours_are_fixed_and_shared_by_baselines() -> None:
    assert (
        color_map(["cmc", "zzz"])["cmc"]
        == color_map(["sdgv", "cmc"])["cmc"]
        == PROGRAM_COLORS["cmc"]
    )
    fig = results_figure(grid_rows(("asc", "cmc"), baselines=True), baselines=True)
    ax = fig.axes[0]
    colors = {ln.get_label(): ln.get_color() for ln in fig.legends[0].legend_handles}
    assert colors["cmc"] == PROGRAM_COLORS["cmc"]
    assert colors["asc"] == colors["asc (baseline)"] == PROGRAM_COLORS["asc"]
    assert ax.lines  # drawn


# ---------------------------------------------------------------------------
# Layout, labels, legends


def test_legend_entries_never_look_alike() -> None:
    fig = results_figure(grid_rows(("asc", "cmc"), baselines=True), baselines=True)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "asc" in labels and "asc (baseline)" in labels
    lowered = [t.lower() for t in labels]
    assert len(set(lowered)) == len(lowered), labels


def test_panels_of_a_row_share_their_y_axis() -> None:
    fig = results_figure(grid_rows())
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 4
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    assert axes[2].get_shared_y_axes().joined(axes[2], axes[3])
    assert axes[0].get_ylim() == axes[1].get_ylim()
    assert axes[0].get_ylabel() and not axes[1].get_ylabel()
    assert not any(t.get_visible() and t.get_text() for t in axes[1].get_yticklabels())


def test_single_beta_sweeps_label_no_points_and_say_beta_once() -> None:
    fig = results_figure(grid_rows(betas=(1.0,)))
    assert _beta_labels(fig) == []
    assert "at β = 1" in fig._suptitle.get_text()


def _overlap(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("build", [results_figure, mean_figure])
def test_beta_labels_collide_with_nothing(build: Any) -> None:
    fig = build(grid_rows(("cmc", "asc", "ibc"), betas=(0, 0.25, 0.5, 0.75, 1)))
    renderer = fig.canvas.get_renderer()
    labels = _beta_labels(fig)
    assert labels
    boxes = [(t.axes, t.get_window_extent(renderer)) for t in labels]
    for (ax1, b1), (ax2, b2) in itertools.combinations(boxes, 2):
        assert not (ax1 is ax2 and _overlap(b1, b2))
    for ax, box in boxes:
        inside = ax.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1
        for line in ax.lines:
            if line.get_marker() == "*":  # SC@64
                (x,), (y,) = line.get_xdata(), line.get_ydata()
                px, py = ax.transData.transform((x, y))
                assert not (box.x0 < px < box.x1 and box.y0 < py < box.y1)
    texts = [t.get_text() for t in labels]
    for ax in {id(a): a for a, _ in boxes}.values():
        per_ax = [t.get_text() for t in ax.texts]
        assert len(per_ax) <= 2 * 3  # at most the lowest and highest β of each curve
    assert "β=0" in texts and "β=1" in texts


def _layout_rows(n_models: int, n_datasets: int, name: str) -> list[dict[str, Any]]:
    rows = []
    for k, (m, d) in enumerate(
        itertools.product([f"{name}-{i}" for i in range(n_models)], ["aime24", "aime25", "hmmt25"])
    ):
        if d == "hmmt25" and n_datasets < 3:
            continue
        for b in (0, 0.5, 1):
            rows.append(row("cmc", b, 10 + 3 * k + 80 * b, 40_000 * (1 + 20 * b), store=(m, d)))
        rows.append(row("sc", 1.0, 95, 1_300_000, store=(m, d), role="reference",
                        params="samples=64"))  # fmt: skip
    return rows


@pytest.mark.parametrize(
    ("n_models", "n_datasets", "name"),
    [(1, 2, "Qwen3-8B"), (2, 2, "Qwen3-1.7B"), (4, 3, "Qwen3-0.6B"), (3, 3, "a-much-longer-name")],
)
def test_the_grid_layout_keeps_every_text_on_the_canvas_and_clear_of_the_panels(
    n_models: int, n_datasets: int, name: str
) -> None:
    """The grid's margins are computed, not measured: every title, tick
    label, axis label and legend entry must still land on the canvas, and
    none may run into another panel or its text."""
    fig = results_figure(_layout_rows(n_models, n_datasets, name))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    panels = [ax for ax in fig.axes if ax.get_visible()]
    owned: list[tuple[Any, Any]] = []  # (panel or None, text box)
    for ax in panels:
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):  # the labels drawn: ticks inside the view
            lo, hi = sorted(axis.get_view_interval())
            locs = axis.get_majorticklocs()
            ticks = axis.get_major_ticks(len(locs))
            texts += [t.label1 for t in ticks if lo <= t.get_loc() <= hi]
        for t in texts:
            if t.get_visible() and t.get_text():
                owned.append((ax, t.get_window_extent(renderer)))
    for t in [fig._suptitle, *fig.legends[0].get_texts()]:
        owned.append((None, t.get_window_extent(renderer)))
    for _, box in owned:
        assert canvas.x0 <= box.x0 and box.x1 <= canvas.x1 and canvas.y0 <= box.y0
        assert box.y1 <= canvas.y1
    for (ax1, b1), (ax2, b2) in itertools.combinations(owned, 2):
        if ax1 is not ax2:
            assert not _overlap(b1, b2), (b1, b2)
    for ax in panels:
        frame = ax.get_window_extent(renderer)
        for owner, box in owned:
            if owner is not ax:
                assert not _overlap(frame, box), (frame, box)


def test_the_compact_figure_fits_a_paper_column() -> None:
    fig = mean_figure(grid_rows(baselines=True), baselines=True)
    width, height = fig.get_size_inches()
    assert width <= 3.5 and height <= 3.2
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    cmc = next(
        ln for ln in ax.lines if ln.get_color() == PROGRAM_COLORS["cmc"] and ln.get_linewidth() > 1
    )
    xs = sorted(cmc.get_xdata())
    # Means over the four stores of the grid rows: β=0 costs 10k everywhere.
    assert xs[0] == pytest.approx(10_000)
    assert "mean over 4 stores" in fig._suptitle.get_text()


def test_one_tick_style_everywhere() -> None:
    from autotts_dsl.sweeps.trajectory import TrajectoryPoint, plot_trajectory  # noqa: F401

    assert [kilo(x) for x in (500, 2_000, 52_000, 1_200_000)] == ["500", "2k", "52k", "1.2M"]
    for fig in (results_figure(grid_rows()), mean_figure(grid_rows())):
        for ax in fig.axes:
            if ax.get_visible():
                fmt = ax.xaxis.get_major_formatter()
                assert fmt(20_000, 0) == "20k" and ax.get_xscale() == "log"
                assert ax.yaxis.get_major_formatter()(55.0, 0) == "55"


def test_trajectory_uses_the_same_style(tmp_path: Path) -> None:
    from autotts_dsl.sweeps.trajectory import TrajectoryPoint, plot_trajectory

    pts = [
        TrajectoryPoint(f"t{i}", p, split, 30 + i, 10_000 * i, 2)
        for split in ("search", "held-out")
        for i, p in enumerate(("sdgv", "ibc", "cmc"), 1)
    ]
    out = plot_trajectory(pts, tmp_path / "t.pdf", beta=1.0)
    assert out.read_bytes().startswith(b"%PDF")


def test_dollar_signs_in_names_are_not_mathtext(tmp_path: Path) -> None:
    rows = [r for r in grid_rows(("$x^2$", "a$b")) if r["store"].endswith("8B/aime24")]
    fig = results_figure(rows)
    texts = [t for t in fig.legends[0].get_texts()] + _texts(fig)
    assert {"$x^2$", "a$b"} <= {t.get_text() for t in texts}
    assert not any(t.get_parse_math() for t in texts)
    assert plot_results(rows, tmp_path / "d.svg").read_bytes().startswith(b"<?xml")


def test_a_sweeps_figures_drawn_side_by_side_equal_those_drawn_in_turn(tmp_path: Path) -> None:
    from autotts_dsl.sweeps.plot import SWEEP_FIGURES, draw_sweep_figures

    rows = grid_rows(baselines=True)
    one = draw_sweep_figures(rows, tmp_path / "one", baselines=True, formats=("png", "svg"))
    two = draw_sweep_figures(rows, tmp_path / "two", baselines=True, formats=("png", "svg"), jobs=2)
    assert [p.name for p in one] == [p.name for p in two]
    assert len(one) == 2 * len(SWEEP_FIGURES)
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
