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
