"""What `tts-dsl search report DIR` shows, as data: the rounds, the
best-so-far frontier, the lineage of the final pick, totals ($, tokens, wall
time), an accuracy–token plot over rounds, and (with `--heldout`) the pick
next to CMC and SC@64 on the held-out stores with the target check."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..records import record
from .archive import Scored, frontier
from .cells import CellData
from .curves import Floor, envelope, tokens_for
from .heldout import Baselines
from .history import History, ProgramRow
from .objective import CurvePoint, Objective, ScoreContext, Window, mean_curve
from .stats import Gain, paired_gain
from .view import SearchState

PLOT_FILE = "search_progress.png"


@record
class Totals:
    programs: int
    rejected: int
    calls: int
    lost_calls: int
    input_tokens: int
    output_tokens: int
    usd: float
    search_seconds: float
    heldout_seconds: float


def totals(history: History) -> Totals:
    calls = history.calls()
    return Totals(
        programs=sum(1 for p in history.programs() if p.proposer != "baseline"),
        rejected=len(history.rejected()),
        calls=sum(1 for c in calls if c.status in ("ok", "error")),
        lost_calls=sum(1 for c in calls if c.status == "lost"),
        input_tokens=sum(c.input_tokens for c in calls),
        output_tokens=sum(c.output_tokens for c in calls),
        usd=history.spent_usd(),
        search_seconds=sum(r.wall_seconds for r in history.rounds()),
        heldout_seconds=float(history.get_meta("heldout_wall") or 0.0),
    )


def rounds_table(history: History) -> list[dict[str, Any]]:
    """One dict per round: status plus the stored round summary."""
    out = []
    for r in history.rounds():
        row: dict[str, Any] = {"round": r.round, "status": r.status}
        row.update(r.summary)
        row["wall_seconds"] = r.wall_seconds
        out.append(row)
    return out


def lineage(
    history: History, state: SearchState, pid: int
) -> list[tuple[ProgramRow, float | None]]:
    """The pick and its ancestors along first parents, back to a seed."""
    chain: list[tuple[ProgramRow, float | None]] = []
    seen: set[int] = set()
    cur: int | None = pid
    while cur is not None and cur not in seen:
        seen.add(cur)
        prog = history.program(cur)
        chain.append((prog, state.score_of(cur)))
        cur = prog.parents[0] if prog.parents else None
    return chain


def frontier_rows(state: SearchState) -> list[tuple[str, CurvePoint]]:
    eligible = [s for s in state.scored if s.id not in state.baselines]
    return [(s.program.label, p) for s, p in frontier(eligible)]


def frontier_by_round(state: SearchState) -> dict[int, list[CurvePoint]]:
    """Round -> the joint frontier of every program known after that round,
    for the first round and each round that changed it. Built incrementally
    (the frontier of a union is the frontier of the old frontier's programs
    and the new ones), so a search of a thousand rounds reports in linear time."""
    by_round: dict[int, list[Scored]] = {}
    for s in state.scored:
        by_round.setdefault(s.program.round, []).append(s)
    out: dict[int, list[CurvePoint]] = {}
    members: list[Scored] = []
    last: list[CurvePoint] | None = None
    for r in sorted(by_round):
        front = frontier(members + by_round[r])
        members = list({id(m): m for m, _ in front}.values())
        points = [p for _, p in front]
        if points != last:
            out[r] = points
            last = points
    return out


# ---------------------------------------------------------------------------
# Held-out


@record
class HeldoutRow:
    beta: float
    pick: CurvePoint | None
    cmc: CurvePoint | None
    sc: CurvePoint | None = None
    pick_match: float | None = None
    """Mean over stores of the tokens the pick needs for CMC's accuracy at
    this β (None: some store never reaches it)."""
    sc_match: float | None = None


@record
class HeldoutReport:
    stores: tuple[str, ...]
    pick_label: str
    rows: tuple[HeldoutRow, ...]
    sc64: CurvePoint | None
    target_accuracy: float | None
    """CMC's mean held-out accuracy at β = 1."""
    target_tokens: float | None
    """CMC's mean held-out tokens at β = 0.5."""
    meets: CurvePoint | None
    """The pick's cheapest β point reaching the target accuracy within the
    target tokens, if any."""
    pick_auc: float
    cmc_auc: float
    auc_name: str = "auc"
    pick_vs_cmc: float | None = None
    """Held-out `ref:cmc`: accuracy gained over CMC at CMC's token levels."""
    n_seeds: int = 0
    pick_vs_cmc_gain: Gain | None = None
    """The same with its paired bootstrap interval over the held-out
    questions (same draw for the pick and CMC)."""

    @property
    def fallback_met(self) -> bool:
        """More accuracy than CMC at equal tokens over CMC's range, by more
        than the held-out data's uncertainty."""
        return self.pick_vs_cmc_gain is not None and self.pick_vs_cmc_gain.significant


def _match(
    cand: dict[str, list[CurvePoint]],
    cmc: dict[str, list[CurvePoint]],
    beta: float,
    floors: dict[str, Floor],
) -> float | None:
    needs = []
    for s, pts in cmc.items():
        ref = next((p for p in pts if p.beta == beta), None)
        if ref is None or s not in cand:
            return None
        env = envelope([(p.tokens, p.accuracy) for p in cand[s]])
        need = tokens_for(env, ref.accuracy, floors.get(s))
        if need is None:
            return None
        needs.append(need)
    return sum(needs) / len(needs) if needs else None


def heldout_report(
    history: History, pick: int, base: Baselines, objective: Objective
) -> HeldoutReport | None:
    stores = history.stores("heldout")
    if not stores:
        return None
    windows = {s.content_hash: Window(s.lo, s.hi) for s in stores}
    floors = {s.content_hash: s.floor for s in stores}
    cells = history.cells(heldout=True)
    n_seeds = 0

    def per_store(pid: int) -> dict[str, list[CurvePoint]]:
        nonlocal n_seeds
        got = cells.get(pid, {})
        out: dict[str, list[CurvePoint]] = {}
        for h in windows:
            if h not in got:
                continue
            pts = []
            for beta, by_seeds in sorted(got[h].items()):
                c = max(by_seeds.values(), key=lambda c: len(c.seeds))
                n_seeds = max(n_seeds, len(c.seeds))
                pts.append(
                    CurvePoint(beta, c.accuracy, float(c.avg_tokens), float(c.avg_seq_tokens))
                )
            out[h] = pts
        return out

    pick_s, cmc_s, sc_s = per_store(pick), per_store(base.cmc), per_store(base.sc)
    pick_curve, cmc_curve, sc_curve = mean_curve(pick_s), mean_curve(cmc_s), mean_curve(sc_s)
    betas = sorted({p.beta for p in pick_curve} | {p.beta for p in cmc_curve})
    rows = tuple(
        HeldoutRow(
            b,
            next((p for p in pick_curve if p.beta == b), None),
            next((p for p in cmc_curve if p.beta == b), None),
            next((p for p in sc_curve if p.beta == b), None),
            _match(pick_s, cmc_s, b, floors),
            _match(sc_s, cmc_s, b, floors),
        )
        for b in betas
    )
    at1 = next((p for p in cmc_curve if p.beta == 1.0), None)
    at05 = next((p for p in cmc_curve if p.beta == 0.5), None)
    meets = None
    if at1 is not None and at05 is not None:
        ok = [p for p in pick_curve if p.accuracy >= at1.accuracy and p.tokens <= at05.tokens]
        meets = min(ok, key=lambda p: p.tokens) if ok else None
    auc = objective if objective.kind == "auc" else Objective("auc", "auc")
    complete = len(pick_s) == len(windows) and len(cmc_s) == len(windows)
    ctx = ScoreContext(windows, floors)
    vs = None
    vs_gain = None
    if complete:
        grid = {p.beta for p in pick_curve}
        ref = {h: [p for p in pts if p.beta in grid] for h, pts in cmc_s.items()}
        ref_obj = Objective("ref:cmc", "ref", reference="cmc")
        ref_ctx = ScoreContext(windows, floors, ref)
        vs = ref_obj.score(pick_s, ref_ctx)
        vs_gain = _paired_vs_cmc(
            cells.get(pick, {}), cells.get(base.cmc, {}), grid, ref_obj, ref_ctx
        )
    sc64 = next((p for p in sc_curve if p.beta == 1.0), None)
    return HeldoutReport(
        tuple(s.name for s in stores),
        f"p{pick}",
        rows,
        sc64,
        at1.accuracy if at1 else None,
        at05.tokens if at05 else None,
        meets,
        auc.score(pick_s, ctx) if complete else 0.0,
        auc.score(cmc_s, ctx) if complete else 0.0,
        auc.name,
        vs,
        n_seeds,
        vs_gain,
    )


def _paired_vs_cmc(
    pick: Mapping[str, Mapping[float, Mapping[str, CellData]]],
    cmc: Mapping[str, Mapping[float, Mapping[str, CellData]]],
    grid: set[float],
    objective: Objective,
    ctx: ScoreContext,
) -> Gain | None:
    """Held-out ref:cmc of the pick with its bootstrap interval, when both
    have the same seeds on every store and β of the grid."""
    a: dict[str, dict[float, CellData]] = {}
    b: dict[str, dict[float, CellData]] = {}
    for h in ctx.windows:
        for beta in grid:
            mine, theirs = pick.get(h, {}).get(beta, {}), cmc.get(h, {}).get(beta, {})
            common = set(mine) & set(theirs)
            if not common:
                return None
            seeds = max(common, key=lambda k: len(mine[k].seeds))
            a.setdefault(h, {})[beta] = mine[seeds]
            b.setdefault(h, {})[beta] = theirs[seeds]
    return paired_gain(a, b, objective, ctx, reference_is_b=True)


# ---------------------------------------------------------------------------
# Plot


def plot_progress(state: SearchState, pick: int | None, path: Path) -> Path | None:
    """Accuracy vs mean tokens: the joint frontier after each round (darker =
    later) and the final pick's curve. None when matplotlib is missing."""
    try:
        from matplotlib import colormaps
        from matplotlib.figure import Figure
    except ImportError:
        return None
    by_round = frontier_by_round(state)
    if not by_round:
        return None
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.subplots()
    cmap = colormaps["viridis"]
    last = max(by_round) or 1
    for r, points in sorted(by_round.items()):
        xs = [p.tokens for p in points]
        ys = [p.accuracy for p in points]
        ax.step(xs, ys, where="post", color=cmap(r / last), lw=1.4)
        ax.plot(xs, ys, "o", color=cmap(r / last), ms=3)
    # rounds on a colour bar: a legend entry per round overflowed the axes
    # of a long search
    bar = fig.colorbar(ScalarMappable(Normalize(0, last), cmap), ax=ax, pad=0.01)
    bar.set_label("frontier after round", fontsize=8)
    chosen = next((s for s in state.scored if s.id == pick), None)
    if chosen is not None:
        ax.plot(
            [p.tokens for p in chosen.curve],
            [p.accuracy for p in chosen.curve],
            "s--",
            color="crimson",
            ms=5,
            label=f"final pick {chosen.program.label}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("average tokens per question, mean over search stores (log scale)")
    ax.set_ylabel("accuracy % (mean over search stores)")
    ax.set_title("Search progress: joint accuracy–token frontier per round")
    ax.grid(True, which="both", alpha=0.3)
    if chosen is not None:
        ax.legend(fontsize=7, loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, metadata={"Software": "tts-dsl search"})
    _write_atomic(path, buf.getvalue())
    return path


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
