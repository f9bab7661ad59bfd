"""`tts-dsl plot RESULTS.csv --out FIG.pdf`: re-draw a sweep's figures from its CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from .console import new_table, print_table
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .headline_view import print_headline, summary_console

METRICS: dict[str, Literal["tokens", "seq_tokens"]] = {"tokens": "tokens", "seq": "seq_tokens"}
"""--metric -> the API's metric (total or sequential tokens)."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="re-draw the accuracy-token plots of a sweep from its results CSV",
        description="Draw accuracy vs. average tokens (log x) from a `tts-dsl sweep` "
        "results.csv: one panel per store (default), or with --mean one compact panel "
        "of the means over stores (one column of a paper); one curve per program with its "
        "Pareto frontier. The format follows FIG's suffix: .png, .pdf or .svg. Also prints "
        "the headline summary (tokens saved vs. SC@64 at matched accuracy).",
    )
    p.add_argument("results", metavar="RESULTS.csv", help="results.csv written by `tts-dsl sweep`")
    p.add_argument(
        "-o", "--out", required=True, metavar="FIG", help="where to write: FIG.png, .pdf or .svg"
    )
    p.add_argument(
        "--metric",
        choices=sorted(METRICS),
        default="tokens",
        help="x axis: total tokens (default) or sequential tokens (the latency proxy)",
    )
    p.add_argument(
        "--mean", action="store_true", help="one compact panel: each curve averaged over stores"
    )
    p.add_argument("--no-baselines", action="store_true", help="leave baseline curves out")
    p.add_argument("--title", help="figure title")
    p.add_argument(
        "--trajectory",
        metavar="P1,P2,...",
        help="draw a discovery trajectory instead: these programs in order (t1, t2, ...), "
        "search stores (aime24) vs held-out (aime25 + hmmt25), at --beta",
    )
    p.add_argument("-b", "--beta", type=float, default=1.0, help="β of the trajectory (default 1)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..api.figures import (
        FigureFormatError,
        ResultsError,
        figure_format,
        headline,
        read_results,
        save_plot,
    )

    out = Path(args.out)
    try:
        figure_format(out)
    except FigureFormatError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        rows = read_results(args.results)
    except ResultsError as exc:
        raise CliError(str(exc)) from None
    except UnicodeDecodeError:
        raise CliError(f"{args.results}: not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"{args.results}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    if args.trajectory:
        return draw_trajectory(rows, args.trajectory.split(","), args.beta, out)
    try:
        save_plot(
            rows,
            out,
            metric=METRICS[args.metric],
            compact=args.mean,
            baselines=not args.no_baselines,
            title=args.title,
        )
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise CliError(f"plotting needs matplotlib ({exc})", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    console = summary_console()
    per_store, per_program = headline(rows)
    print_headline(console, per_store, per_program)
    console.print(f"plot written to {out}", soft_wrap=True)
    return EXIT_OK


def draw_trajectory(
    rows: list[dict[str, Any]], programs: list[str], beta: float, out: Path | list[Path]
) -> int:
    """Plot the trajectory (to each of `out`) and print its points once
    (shared with `sweep --trajectory`)."""
    from ..api.figures import TrajectoryError, save_trajectory, trajectory

    try:
        points = trajectory(rows, programs, beta)
    except TrajectoryError as exc:
        raise CliError(str(exc)) from None
    outs = out if isinstance(out, list) else [out]
    for path in outs:
        try:
            save_trajectory(points, path, beta=beta)
        except OSError as exc:
            raise CliError(f"{path}: cannot write: {exc.strerror or exc}", EXIT_USAGE) from None
    console = summary_console()
    table = new_table(console, title=f"Discovery trajectory at β = {beta:g}")
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
    print_table(console, table)
    console.print("trajectory plot written to " + ", ".join(str(p) for p in outs), soft_wrap=True)
    return EXIT_OK
