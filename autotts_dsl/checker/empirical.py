"""`tts-dsl check --empirical`: does the budget grow with β on real data?

The static polarity pass (W201/W202) judges each use of a knob; this runs
the program on replay stores over a fine β grid (default step 0.02) and
reports what the data says:

* **W401** — average tokens *drop* from one β of the grid to the next, on
  some store, with the knobs whose values changed there;
* **W402** — a *dead* β range: on every store the program spends 0 tokens
  there (with `max_rounds` = 0 the round block never runs; ESC for β ≤ 0.4,
  where `max_samples // window_size` is 0).

Evaluation goes through `ProgramRunner.evaluate` (the default engine, so a
faster engine speeds this up without a change here). This module sits above
the engines, like the sweep: `check/__init__` does not import it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

from ..diagnostics import Diagnostic, Span, render_all
from ..interpreter import ProgramRunner
from ..records import record
from ..replay.protocol import DEFAULT_SEEDS
from ..replay.store import ReplayStore

DEFAULT_STEP = 0.02


def default_betas(step: float = DEFAULT_STEP) -> tuple[float, ...]:
    n = round(1 / step)
    return tuple(round(k * step, 10) for k in range(n + 1))


@record
class Point:
    """One program's result on one store at one β."""

    beta: float
    accuracy: float
    avg_tokens: int
    total_cost: int  # exact sum over the episodes: drops are compared exactly
    episodes: int


@record
class Drop:
    store: str
    beta_lo: float
    beta_hi: float
    tokens_lo: int
    tokens_hi: int
    changed: tuple[tuple[str, Any, Any], ...]  # (knob, value at beta_lo, at beta_hi)


@record
class DeadRange:
    lo: float
    hi: float
    why: str


@record(frozen=False)
class EmpiricalReport:
    path: str
    source: str
    betas: tuple[float, ...]
    stores: list[str] = field(default_factory=list)
    curves: dict[str, list[Point]] = field(default_factory=dict)
    drops: list[Drop] = field(default_factory=list)
    dead: list[DeadRange] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drops and not self.dead

    def render(self) -> str:
        return render_all(self.diagnostics, self.source, self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "ok": self.ok,
            "betas": list(self.betas),
            "stores": self.stores,
            "curves": {
                s: [
                    {"beta": p.beta, "accuracy": p.accuracy, "avg_tokens": p.avg_tokens}
                    for p in pts
                ]
                for s, pts in self.curves.items()
            },
            "drops": [
                {
                    "store": d.store,
                    "from": d.beta_lo,
                    "to": d.beta_hi,
                    "tokens_from": d.tokens_lo,
                    "tokens_to": d.tokens_hi,
                    "changed": {k: [a, b] for k, a, b in d.changed},
                }
                for d in self.drops
            ],
            "dead_ranges": [{"from": r.lo, "to": r.hi, "why": r.why} for r in self.dead],
            "diagnostics": [d.to_json(self.path) for d in self.diagnostics],
        }


Progress = Callable[[str, float], None]


def empirical_check(
    runner: ProgramRunner,
    stores: Sequence[ReplayStore],
    betas: Sequence[float] | None = None,
    params: Mapping[str, Any] | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    backend: str | None = None,
    progress: Progress | None = None,
) -> EmpiricalReport:
    """Run `runner` on every store at every β and report the drops in average
    tokens and the dead β ranges. Raises `DiagnosticError` when the program
    does not compile at some β (the caller checks it first)."""
    grid = tuple(sorted(set(betas if betas is not None else default_betas())))
    given = dict(params or {})
    report = EmpiricalReport(runner.path, runner.source, grid)
    knobs = {b: runner.compile(b, given).knobs for b in grid}
    for store in stores:
        report.stores.append(store.name)
        curve: list[Point] = []
        for b in grid:
            if progress is not None:
                progress(store.name, b)
            ev = runner.evaluate(store, b, given, seeds, backend=backend)
            curve.append(
                Point(b, ev.accuracy, ev.avg_tokens, int(ev.cost.sum()), int(ev.cost.size))
            )
        report.curves[store.name] = curve
        for lo, hi in itertools.pairwise(curve):
            # the same episodes at both β: compare the exact totals
            if hi.total_cost * lo.episodes < lo.total_cost * hi.episodes:
                changed = tuple(
                    (k, v, knobs[hi.beta][k])
                    for k, v in knobs[lo.beta].items()
                    if knobs[hi.beta][k] != v
                )
                report.drops.append(
                    Drop(store.name, lo.beta, hi.beta, lo.avg_tokens, hi.avg_tokens, changed)
                )
    report.dead = _dead_ranges(runner, report, given)
    report.diagnostics = _diagnostics(runner, report)
    return report


def _dead_ranges(
    runner: ProgramRunner, report: EmpiricalReport, params: dict[str, Any]
) -> list[DeadRange]:
    if not report.curves:
        return []
    dead = [
        all(c[i].total_cost == 0 for c in report.curves.values()) for i in range(len(report.betas))
    ]
    out: list[DeadRange] = []
    i = 0
    while i < len(dead):
        if not dead[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(dead) and dead[j + 1]:
            j += 1
        lo, hi = report.betas[i], report.betas[j]
        out.append(DeadRange(lo, hi, _why_dead(runner, lo, hi, params)))
        i = j + 1
    return out


def _why_dead(runner: ProgramRunner, lo: float, hi: float, params: dict[str, Any]) -> str:
    a, b = runner.compile(lo, params), runner.compile(hi, params)
    if runner.program.round is not None and a.max_rounds == 0 and b.max_rounds == 0:
        return "max_rounds is 0 there: the round block never runs"
    if a.max_branches == 0 and b.max_branches == 0:
        return "max_branches is 0 there: no branch can be opened"
    shown = ", ".join(
        f"{k} = {_fmt(v)}" + (f"..{_fmt(b.knobs[k])}" if b.knobs[k] != v else "")
        for k, v in a.knobs.items()
    )
    return f"no branch is read there ({shown})" if shown else "no branch is read there"


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _knob_span(runner: ProgramRunner, names: Sequence[str]) -> Span:
    for k in runner.program.knobs:
        if k.name in names:
            return Span.point(k.span.line, k.span.col, len(k.name))
    sp = runner.program.span
    return Span.point(sp.line, sp.col, len("controller"))


def _diagnostics(runner: ProgramRunner, report: EmpiricalReport) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    by_step: dict[tuple[float, float], list[Drop]] = {}
    for d in report.drops:
        by_step.setdefault((d.beta_lo, d.beta_hi), []).append(d)
    for (lo, hi), drops in sorted(by_step.items()):
        changed = sorted({k for d in drops for k, _, _ in d.changed})
        worst = max(drops, key=lambda d: d.tokens_lo - d.tokens_hi)
        knobs = (
            ", ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, a, b in drops[0].changed)
            or "no knob changed"
        )
        out.append(
            Diagnostic(
                "W401",
                "warning",
                f"average tokens drop from β={lo:g} to β={hi:g} on {len(drops)} of "
                f"{len(report.stores)} stores ({worst.store}: {worst.tokens_lo:,} → "
                f"{worst.tokens_hi:,}); there {knobs}",
                _knob_span(runner, changed),
                label="changes where the budget drops",
                notes=tuple(f"{d.store}: {d.tokens_lo:,} → {d.tokens_hi:,} tokens" for d in drops),
                hint="a larger β should buy more tokens: make the knobs that change here "
                "move the budget one way (see the W201/W202 warnings of `tts-dsl check`)",
            )
        )
    for r in report.dead:
        span = _dead_span(runner, r)
        out.append(
            Diagnostic(
                "W402",
                "warning",
                f"dead β range [{r.lo:g}, {r.hi:g}]: 0 tokens on every store ({r.why})",
                span,
                label="nothing is spent for these β",
                hint="every β should do something: shift the schedule so the smallest β "
                "already reads a branch, or say in the program's description why not",
            )
        )
    return out


def _dead_span(runner: ProgramRunner, r: DeadRange) -> Span:
    if r.why.startswith("max_rounds") or r.why.startswith("max_branches"):
        name = r.why.split()[0]
        for lim in runner.program.limits:
            if lim.name == name:
                return lim.expr.span
    sp = runner.program.span
    return Span.point(sp.line, sp.col, len("controller"))


__all__ = [
    "DEFAULT_STEP",
    "DeadRange",
    "Drop",
    "EmpiricalReport",
    "Point",
    "default_betas",
    "empirical_check",
]
