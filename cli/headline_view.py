"""The sweep summary table, shared by `sweep` and `plot` (both print it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .console import Text, dim, new_table, print_table, stdout_console, styled

if TYPE_CHECKING:
    from ..api.figures import ProgramHeadline, StoreHeadline
    from .console import Console


def _tok(x: float | None) -> str:
    """Compact token counts, 3 significant figures: 958, 52.1k, 227k, 1.07M
    (exact values are in the CSVs)."""
    if x is None:
        return "-"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= scale * 0.9995:
            v = x / scale
            return f"{v:.3g}{suffix}" if v < 1000 else f"{v:.0f}{suffix}"
    return f"{x:.0f}"


def _pair(acc: float | None, tokens: float | None) -> str:
    return "-" if acc is None else f"{acc:.2f} · {_tok(tokens)}"


def _saving(h: StoreHeadline) -> Text:
    if h.sc64_accuracy is None:
        return Text("-")
    if h.savings is None:
        return styled("not reached", "yellow")
    return Text(f"{100 * h.savings:.1f} %")


def _short_store(name: str) -> str:
    return name.removeprefix("autotts/")


def summary_console() -> Console:
    """stdout: a terminal gets a table for its width, a pipe plain rows."""
    return stdout_console()


def print_headline(
    console: Console,
    per_store: Sequence[StoreHeadline],
    per_program: Sequence[ProgramHeadline],
    *,
    betas: Sequence[float] | None = None,
    n_seeds: int | None = None,
) -> None:
    """The summary: per program × store, then per-program means. On a
    terminal, one section per program (fits 80 columns); in a pipe, one
    plain row per program and store, with full store names."""
    if not per_store:
        console.print(dim("no swept program results to summarise"))
        return
    title = "sweep summary"
    if betas is not None:
        title += f": {len(betas)} β"
    if n_seeds is not None:
        title += f" × {n_seeds} seeds"
    term = console.is_terminal
    table = new_table(console, title=title)
    if not term:
        table.add_column("program")
    table.add_column("store", overflow="fold")
    heads = ["peak acc\n(β)", "β=0.5\nacc · tok", "SC@64\nacc · tok"]
    if not term:  # a terminal keeps to 80 columns: `saved` already says it
        heads.append("tok at\nSC@64 acc")
    heads.append("saved")
    for head in heads:
        table.add_column(head if term else head.replace("\n", " "), justify="right", no_wrap=True)
    for prog in per_program:
        rows = [h for h in per_store if h.program == prog.program]
        if term:
            table.add_row(styled(prog.program, "bold"), *[""] * len(heads))
        for h in rows:
            store = (_short_store(h.store) if term else h.store) + (" *" if h.synthetic else "")
            cells: list[str | Text] = [
                ("  " + store) if term else store,
                f"{h.peak_accuracy:.2f} ({h.peak_beta:g})",
                _pair(h.accuracy_at_half, h.tokens_at_half),
                _pair(h.sc64_accuracy, h.sc64_tokens),
                *([] if term else [_tok(h.matched_tokens)]),
                _saving(h),
            ]
            table.add_row(*([] if term else [h.program]), *cells)
        if len(rows) > 1:
            saved = "-" if prog.mean_savings is None else f"{100 * prog.mean_savings:.1f} %"
            reach = f"{prog.n_reached}/{prog.n_with_reference}"
            cells = [
                styled("  mean" if term else "mean", "bold"),
                styled(f"{prog.mean_peak_accuracy:.2f}", "bold"),
                _pair(prog.mean_accuracy_at_half, prog.mean_tokens_at_half),
                _pair(prog.mean_sc64_accuracy, None).replace(" · -", ""),
                *([] if term else [f"reached {reach}"]),
                styled(f"{saved} ({reach})" if term else saved, "bold"),
            ]
            table.add_row(*([] if term else [prog.program]), *cells)
        if term:
            table.add_section()
    print_table(console, table)
    console.print(
        dim(
            "acc: accuracy %; tok: average tokens per question; saved: 1 - tokens the "
            "program's Pareto frontier needs to reach SC@64's accuracy (log-interpolated) "
            "/ SC@64's tokens; means over the stores where it is reached (how many, in "
            "brackets). Exact figures: summary.csv, results.csv."
        )
    )
    if any(h.synthetic for h in per_store):
        console.print(dim("* a synthetic store (illustrative numbers)"))
