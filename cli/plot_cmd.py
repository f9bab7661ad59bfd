"""`tts-dsl plot RESULTS.csv --out FIG.png`: re-draw a sweep's plot from its CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..sweep.plot import Metric, headline
from ..sweep.results import ResultsError, read_tidy_csv
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .sweep_cmd import print_headline, summary_console

METRICS: dict[str, Metric] = {"tokens": "avg_tokens", "seq": "avg_seq_tokens"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="re-draw the accuracy-token plot of a sweep from its results CSV",
        description="Draw accuracy vs. average tokens (log x), one panel per store, one curve "
        "per program with its Pareto frontier, from a `tts-dsl sweep` results.csv, and print "
        "the headline summary (tokens saved vs. SC@64 at matched accuracy).",
    )
    p.add_argument("results", metavar="RESULTS.csv", help="results.csv written by `tts-dsl sweep`")
    p.add_argument("--out", required=True, metavar="FIG.png", help="where to write the PNG")
    p.add_argument(
        "--metric",
        choices=sorted(METRICS),
        default="tokens",
        help="x axis: total tokens (default) or sequential tokens (the latency proxy)",
    )
    p.add_argument("--no-baselines", action="store_true", help="leave baseline curves out")
    p.add_argument("--title", help="figure title")
    p.add_argument(
        "--trajectory",
        metavar="P1,P2,...",
        help="draw a discovery trajectory instead: these programs in order (t1, t2, ...), "
        "search stores (aime24) vs held-out (aime25 + hmmt25), at --beta",
    )
    p.add_argument("--beta", type=float, default=1.0, help="β of the trajectory (default 1)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        rows = read_tidy_csv(args.results)
    except ResultsError as exc:
        raise CliError(str(exc)) from None
    except UnicodeDecodeError:
        raise CliError(f"{args.results}: not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"{args.results}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        from ..sweep.plot import plot_results
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise CliError(f"plotting needs matplotlib ({exc})", EXIT_USAGE) from None
    out = Path(args.out)
    if args.trajectory:
        return draw_trajectory(rows, args.trajectory.split(","), args.beta, out)
    try:
        plot_results(
            rows,
            out,
            metric=METRICS[args.metric],
            baselines=not args.no_baselines,
            title=args.title,
        )
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    console = summary_console()
    per_store, per_program = headline(rows)
    print_headline(console, per_store, per_program)
    console.print(f"plot written to {out}")
    return EXIT_OK


def draw_trajectory(rows: list[dict[str, Any]], programs: list[str], beta: float, out: Path) -> int:
    """Plot the trajectory and print its points (shared with `sweep --trajectory`)."""
    from rich.table import Table

    from ..sweep.trajectory import TrajectoryError, plot_trajectory, trajectory_points

    try:
        points = trajectory_points(rows, [p.strip() for p in programs if p.strip()], beta)
    except TrajectoryError as exc:
        raise CliError(str(exc)) from None
    try:
        plot_trajectory(points, out, beta=beta)
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    table = Table(title=f"Discovery trajectory at β = {beta:g}", title_justify="left")
    for col in ("", "program", "split", "stores", "accuracy %", "avg tokens"):
        table.add_column(col, justify="left" if col in ("", "program", "split") else "right")
    for p in points:
        table.add_row(
            p.label,
            p.program,
            p.split,
            str(p.n_stores),
            f"{p.accuracy:.2f}",
            f"{p.avg_tokens:,.0f}",
        )
    console = summary_console()
    console.print(table)
    console.print(f"trajectory plot written to {out}")
    return EXIT_OK
