"""How a search shows itself on a terminal: the progress reporter, the
final pick, the held-out table and `search report` (rich tables), and the
JSON summaries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from .history import History
from .loop import RoundSummary
from .report import HeldoutReport, frontier_rows, lineage, rounds_table, totals


def stdout_console() -> Console:
    # Tables are the output: a pipe gets room for them instead of 80 columns.
    # No markup: names, stores and LLM text are printed as written (styles come from Text).
    return Console(
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
        width=None if sys.stdout.isatty() else 120,
    )


# ---------------------------------------------------------------------------
# Progress


class Reporter:
    """Round summary lines on stdout; a transient cell progress bar on stderr."""

    def __init__(self, out: Console, err: Console, quiet: bool) -> None:
        self.out, self.err, self.quiet = out, err, quiet
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""

    def note(self, text: str) -> None:
        self._stop()
        self.err.print(Text(text, style="dim"))

    def phase(self, round_no: int, text: str) -> None:
        self._stop()
        self._label = f"round {round_no}: {text}"

    def progress(self, done: int, total: int) -> None:
        if not self.err.is_terminal:
            return  # a bar in a log file is noise
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.err,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label or "evaluating", total=total)
        if self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar, self._task = None, None

    def round_done(self, summary: RoundSummary) -> None:
        self._stop()
        if not self.quiet:
            self.out.print(summary.line(), markup=False, highlight=False)

    def close(self) -> None:
        self._stop()


# ---------------------------------------------------------------------------
# Output


def summary_json(history: History, state: Any, pick: int | None) -> dict[str, Any]:
    t = totals(history)
    best = next((s for s in state.scored if s.id == pick), None)
    return {
        "final_pick": None
        if best is None
        else {
            "id": best.id,
            "label": best.program.label,
            "objective": best.objective,
            "source": best.program.source,
            "curve": [vars(p) for p in best.curve],
        },
        "rounds": rounds_table(history),
        "programs": t.programs,
        "rejected": t.rejected,
        "calls": t.calls,
        "usd": t.usd,
        "wall_seconds": t.search_seconds,
    }


def print_pick(console: Console, history: History, state: Any, pick: int | None) -> None:
    if pick is None:
        console.print("no program has complete results")
        return
    best = next((s for s in state.scored if s.id == pick), None)
    if best is None:
        console.print(f"final pick: p{pick}")
        return
    console.print(
        f"final pick: {best.program.label} ({best.program.name}), score {best.objective:+.2f} "
        f"on the search stores ({history.final_note() or 'best objective'})",
        markup=False,
    )
    chain = lineage(history, state, pick)
    console.print(
        "lineage: "
        + " ← ".join(
            f"{p.label}" + (f" ({score:+.2f})" if score is not None else "") for p, score in chain
        ),
        markup=False,
    )


def _k(x: float) -> str:
    return f"{x:,.0f}"


def _opt(x: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if x is None else fmt.format(x)


def print_heldout(console: Console, rep: HeldoutReport) -> None:
    table = Table(
        title=f"held-out ({', '.join(rep.stores)}; {rep.n_seeds} seeds): final pick "
        f"{rep.pick_label} vs CMC and SC (mean over stores)",
        title_justify="left",
    )
    p = rep.pick_label
    for col in (
        "β",
        f"{p} acc %",
        f"{p} tokens",
        "CMC acc %",
        "CMC tokens",
        "SC acc %",
        "SC tokens",
        f"{p} tokens for CMC acc",
        "SC tokens for CMC acc",
    ):
        table.add_column(col, justify="right")
    for row in rep.rows:
        table.add_row(
            f"{row.beta:g}",
            _opt(row.pick.accuracy if row.pick else None, "{:.2f}"),
            _opt(row.pick.tokens if row.pick else None),
            _opt(row.cmc.accuracy if row.cmc else None, "{:.2f}"),
            _opt(row.cmc.tokens if row.cmc else None),
            _opt(row.sc.accuracy if row.sc else None, "{:.2f}"),
            _opt(row.sc.tokens if row.sc else None),
            _opt(row.pick_match) if row.cmc else "",
            _opt(row.sc_match) if row.cmc else "",
        )
    console.print(table)
    if rep.sc64 is not None:
        console.print(f"SC@64: {rep.sc64.accuracy:.2f} % at {_k(rep.sc64.tokens)} tokens")
    if rep.pick_vs_cmc is not None:
        gain = rep.pick_vs_cmc_gain
        console.print(
            "held-out ref:cmc (accuracy gained over CMC at CMC's token levels): "
            + (gain.text("points") if gain is not None else f"{rep.pick_vs_cmc:+.2f} points")
        )
    console.print(
        f"held-out {rep.auc_name}: {rep.pick_label} {rep.pick_auc:.2f}, CMC {rep.cmc_auc:.2f}"
    )
    if rep.target_accuracy is not None and rep.target_tokens is not None:
        goal = (
            f"target: accuracy >= {rep.target_accuracy:.2f} % (CMC β=1) at <= "
            f"{_k(rep.target_tokens)} tokens (CMC β=0.5): "
        )
        if rep.meets is not None:
            goal += (
                f"MET by {rep.pick_label} at β={rep.meets.beta:g} "
                f"({rep.meets.accuracy:.2f} %, {_k(rep.meets.tokens)} tokens)"
            )
        elif rep.fallback_met:
            goal += "not met; more accuracy than CMC at equal tokens by more than its uncertainty"
        else:
            goal += "not met"
        console.print(goal)


def heldout_json(rep: HeldoutReport) -> dict[str, Any]:
    return {
        "stores": list(rep.stores),
        "rows": [
            {
                "beta": r.beta,
                "pick": vars(r.pick) if r.pick else None,
                "cmc": vars(r.cmc) if r.cmc else None,
                "sc": vars(r.sc) if r.sc else None,
                "pick_tokens_for_cmc_accuracy": r.pick_match,
                "sc_tokens_for_cmc_accuracy": r.sc_match,
            }
            for r in rep.rows
        ],
        "sc64": vars(rep.sc64) if rep.sc64 else None,
        "target_accuracy": rep.target_accuracy,
        "target_tokens": rep.target_tokens,
        "met": None if rep.meets is None else vars(rep.meets),
        "auc": rep.auc_name,
        "pick_auc": rep.pick_auc,
        "cmc_auc": rep.cmc_auc,
        "pick_vs_cmc": rep.pick_vs_cmc,
        "pick_vs_cmc_interval": (
            None
            if rep.pick_vs_cmc_gain is None
            else [rep.pick_vs_cmc_gain.lo, rep.pick_vs_cmc_gain.hi]
        ),
        "fallback_met": rep.fallback_met,
        "n_seeds": rep.n_seeds,
    }


def print_report(
    console: Console, history: History, state: Any, pick: int | None, plot: Path | None
) -> None:
    table = Table(title="rounds", title_justify="left")
    for col in (
        "round",
        "status",
        "accepted",
        "rejected",
        "dup",
        "cells",
        "best new",
        "best",
        "$",
        "wall s",
    ):
        table.add_column(col, justify="right")
    for r in rounds_table(history):
        best_new = (
            f"{r.get('best_new', '')} {r['best_new_score']:.2f}"
            if r.get("best_new_score") is not None
            else ""
        )
        best = (
            f"{r.get('best', '')} {r['best_score']:.2f}" if r.get("best_score") is not None else ""
        )
        table.add_row(
            str(r["round"]),
            r["status"],
            f"{r.get('accepted', 0)}/{r.get('slots', 0)}",
            str(r.get("rejected", 0)),
            str(r.get("duplicates", 0)),
            str(r.get("cells", 0)),
            best_new,
            best,
            f"{r.get('usd', 0.0):.4f}",
            f"{r['wall_seconds']:.1f}",
        )
    console.print(table)
    front = Table(title="best-so-far frontier (mean over search stores)", title_justify="left")
    for col in ("program", "β", "acc %", "tokens", "seq tokens"):
        front.add_column(col, justify="right")
    for label, pt in frontier_rows(state):
        front.add_row(label, f"{pt.beta:g}", f"{pt.accuracy:.2f}", _k(pt.tokens), _k(pt.seq_tokens))
    console.print(front)
    if pick is not None:
        lin = Table(title=f"lineage of the final pick p{pick}", title_justify="left")
        for col in ("program", "round", "proposer", "score", "change"):
            lin.add_column(col)
        for p, score in lineage(history, state, pick):
            lin.add_row(
                p.label,
                str(p.round),
                p.proposer,
                f"{score:.2f}" if score is not None else "-",
                p.rationale[:120],
            )
        console.print(lin)
    t = totals(history)
    console.print(
        f"programs {t.programs}, rejected proposals {t.rejected}; LLM calls {t.calls}"
        + (f" (+{t.lost_calls} lost)" if t.lost_calls else "")
        + f", tokens in/out {t.input_tokens:,}/{t.output_tokens:,}, total ${t.usd:.4f}; "
        f"wall time {t.search_seconds:.1f} s search"
        + (f" + {t.heldout_seconds:.1f} s held-out" if t.heldout_seconds else "")
    )
    if plot is not None:
        console.print(Text(f"plot: {plot}", style="dim"))
