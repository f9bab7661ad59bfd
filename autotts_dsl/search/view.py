"""What the search knows, computed from the search stores only.

`search_state` scores every program and builds the archive; `search_view`
turns that into the plain data a prompt is made of. Both read the history's
search tables (stores with role `search`, `results`, `programs`, `rounds`,
`candidates`, `rejected`, `failures`) and nothing else: no held-out table,
no held-out store, no held-out cache is reachable from here, so no held-out
number can reach a prompt.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from typing import Any

from ..records import record
from ..sweeps.grid import seeds_spec as seeds_text
from .archive import (
    Niche,
    Scored,
    behaviour_of,
    degenerate_reason,
    frontier,
    program_cells,
    protocol_curves,
)
from .config import SearchConfig
from .curves import Floor
from .history import History, ProgramRow, StoreRow
from .objective import CurvePoint, Objective, ObjectiveError, ScoreContext, Window, mean_curve
from .stats import Gain, curves_of

SEED_ROLES = ("seed", "reference")
"""Proposer tags of round-0 programs that may be parents."""


@record
class SearchState:
    stores: tuple[StoreRow, ...]
    ctx: ScoreContext
    scored: tuple[Scored, ...]
    """Programs with the full evaluation and a curve worth showing, best first."""
    degenerate: dict[int, str]
    archive: tuple[Scored, ...]
    """Parents: the seeds plus the niche elites, best first."""
    niches: dict[Niche, int]
    failed: dict[int, str]
    gains: dict[tuple[int, int, str], Gain]
    reference_id: int | None
    baselines: dict[int, str]
    """program id -> baseline name (evaluated for context, never parents)."""

    @property
    def windows(self) -> dict[str, Window]:
        return dict(self.ctx.windows)

    def score_of(self, pid: int) -> float | None:
        return next((s.objective for s in self.scored if s.id == pid), None)

    def scored_by_id(self, pid: int) -> Scored | None:
        return next((s for s in self.scored if s.id == pid), None)

    def vs_reference(self, pid: int) -> Gain | None:
        if self.reference_id is None:
            return None
        return self.gains.get((pid, self.reference_id, "full"))

    @property
    def best(self) -> Scored | None:
        return self.archive[0] if self.archive else None


def full_chunks(config: SearchConfig) -> list[str]:
    return [seeds_text(c) for c in config.chunks]


def search_state(history: History, config: SearchConfig, objective: Objective) -> SearchState:
    stores = tuple(history.stores("search"))
    hashes = [s.content_hash for s in stores]
    windows = {s.content_hash: Window(s.lo, s.hi) for s in stores}
    floors: dict[str, Floor] = {s.content_hash: s.floor for s in stores}
    failed = history.failures()
    cells = history.cells()
    chunks = full_chunks(config)
    ref_meta = history.get_meta("reference_id")
    ref_id = int(ref_meta) if ref_meta else None
    full: dict[int, _Derived] = {}
    layout = (tuple(hashes), tuple(config.betas), tuple(chunks))  # what a program's cells mean
    for pid, by_store in cells.items():
        if pid in failed:
            continue
        got = _derived(history, pid, by_store, layout)
        if got is not None:
            full[pid] = got
    reference = full[ref_id].curves if ref_id is not None and ref_id in full else None
    ctx = ScoreContext(windows, floors, reference)
    ctx_key = (sorted(windows.items()), sorted(floors.items()))
    scored: list[Scored] = []
    degenerate: dict[int, str] = {}
    baselines: dict[int, str] = {}
    programs = {p.id: p for p in history.programs()}
    for pid, d in full.items():
        prog = programs[pid]
        if prog.proposer == "baseline":
            baselines[pid] = prog.name
        why = degenerate_reason(d.per_store, floors)
        if why:
            degenerate[pid] = why
            continue
        try:
            score = _score(history, pid, d, objective, ctx, ctx_key)
        except ObjectiveError:
            continue  # the reference is not evaluated yet
        scored.append(Scored(prog, score, d.mean, d.per_store, d.behaviour))
    scored.sort(key=lambda s: (-s.objective, s.id))
    niches = {
        (int(k.split(",")[0]), int(k.split(",")[1])): int(v)
        for k, v in json.loads(history.get_meta("archive") or "{}").items()
    }
    members = set(niches.values())
    archive = tuple(
        s
        for s in scored
        if s.id not in baselines and (s.id in members or s.program.proposer in SEED_ROLES)
    )
    return SearchState(
        stores,
        ctx,
        tuple(scored),
        degenerate,
        archive,
        niches,
        failed,
        history.stats(),
        ref_id,
        baselines,
    )


@record
class _Derived:
    """What a program's complete cells give, whatever the round: computed
    once per program (rebuilding it for every program every round made a
    round's bookkeeping grow with the history: 5 s at 1,300 programs)."""

    per_store: dict[str, tuple[CurvePoint, ...]]
    curves: Any  # stats.curves_of: what objectives score
    mean: tuple[CurvePoint, ...]
    behaviour: tuple[float, float]


_MEMO: weakref.WeakKeyDictionary[History, dict[tuple[Any, ...], _Derived]] = (
    weakref.WeakKeyDictionary()
)


def _derived(
    history: History,
    pid: int,
    by_store: Mapping[str, Any],
    layout: tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...]],
) -> _Derived | None:
    """The program's derived data, None until every cell is there. A cell is
    written once and never changed, so a complete program's data is final.
    `layout` is (store hashes, βs, seed chunks)."""
    hashes, betas, chunks = layout
    memo = _MEMO.setdefault(history, {})
    key = (pid, layout)
    got = memo.get(key)
    if got is None:
        data = program_cells(by_store, hashes, betas, chunks)
        if data is None:
            return None
        per_store = protocol_curves(data)
        got = _Derived(
            per_store, curves_of(data), tuple(_mean(per_store)), behaviour_of(data, betas)
        )
        memo[key] = got
    return got


_SCORES: weakref.WeakKeyDictionary[History, dict[int, tuple[Any, ...]]] = (
    weakref.WeakKeyDictionary()
)


def _score(
    history: History, pid: int, d: _Derived, objective: Objective, ctx: ScoreContext, key: Any
) -> float:
    """`objective.score(d.curves, ctx)`, kept while the objective, the
    program's data and the reference curve are the same objects and the
    windows and floors (`key`) are equal (scoring every program every round
    was a third of a long search's driver time)."""
    memo = _SCORES.setdefault(history, {})
    got = memo.get(pid)
    if (
        got is not None
        and got[0] is objective
        and got[1] is d
        and got[2] is ctx.reference
        and got[3] == key
    ):
        return float(got[4])
    score = objective.score(d.curves, ctx)
    memo[pid] = (objective, d, ctx.reference, key, score)
    return score


def _mean(per_store: dict[str, tuple[CurvePoint, ...]]) -> list[CurvePoint]:
    return mean_curve(per_store)


@record
class StoreCell:
    accuracy: float
    tokens: float
    seq_tokens: float


@record
class BetaRow:
    beta: float
    cells: tuple[StoreCell, ...]
    """One per search store, in `SearchView.store_names` order."""
    mean: StoreCell


@record
class ProgramView:
    label: str
    name: str
    source: str
    parents: tuple[str, ...]
    round: int
    proposer: str
    rationale: str
    objective: float
    table: tuple[BetaRow, ...]
    vs_reference: Gain | None = None
    vs_parent: Gain | None = None
    niche: Niche = (0, 0)


@record
class TriedView:
    """One candidate of an earlier round and how it did."""

    round: int
    label: str
    parents: tuple[str, ...]
    change: str
    objective: float | None
    parent_objective: float | None
    note: str
    vs_parent: Gain | None = None


@record
class SearchView:
    store_names: tuple[str, ...]
    betas: tuple[float, ...]
    ranked: tuple[ProgramView, ...]
    """Archive members, best objective first."""
    frontier: tuple[tuple[str, CurvePoint], ...]
    tried: tuple[TriedView, ...]
    rejections: tuple[str, ...]
    """One line per rejected proposal, most recent last."""
    baselines: tuple[ProgramView, ...] = ()
    reference: str = ""
    unit: str = ""


def _table(s: Scored, stores: tuple[StoreRow, ...]) -> tuple[BetaRow, ...]:
    rows = []
    for mean in s.curve:
        cells = []
        for st in stores:
            p = next(x for x in s.per_store[st.content_hash] if x.beta == mean.beta)
            cells.append(StoreCell(p.accuracy, p.tokens, p.seq_tokens))
        rows.append(
            BetaRow(mean.beta, tuple(cells), StoreCell(mean.accuracy, mean.tokens, mean.seq_tokens))
        )
    return tuple(rows)


def parent_of(prog: ProgramRow, state: SearchState) -> int | None:
    """The program a candidate is compared with: its first parent, else the reference."""
    return prog.parents[0] if prog.parents else state.reference_id


def program_view(s: Scored, state: SearchState) -> ProgramView:
    p = s.program
    parent = parent_of(p, state)
    return ProgramView(
        p.label,
        p.name,
        p.source,
        tuple(f"p{x}" for x in p.parents),
        p.round,
        p.proposer,
        p.rationale,
        s.objective,
        _table(s, state.stores),
        state.vs_reference(p.id),
        state.gains.get((p.id, parent, "full")) if parent is not None else None,
        s.niche,
    )


def _first_error(text: str) -> str:
    """The line a rejection is about: its first error (not a warning)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error[" in ln or ln.startswith("error"):
            return ln
    return lines[0] if lines else ""


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def search_view(
    history: History,
    state: SearchState,
    betas: tuple[float, ...],
    objective: Objective | None = None,
) -> SearchView:
    ranked = tuple(program_view(s, state) for s in state.archive)
    programs: dict[int, ProgramRow] = {p.id: p for p in history.programs()}
    decisions = history.decisions()
    tried: list[TriedView] = []
    for c in history.candidates():
        if c.round == 0 or c.program_id is None:
            continue
        prog = programs[c.program_id]
        parent = parent_of(prog, state)
        note = c.status
        if c.program_id in state.failed:
            note = "rejected: " + _first_error(state.failed[c.program_id])
        elif c.program_id in state.degenerate:
            note = "degenerate: " + state.degenerate[c.program_id]
        else:
            for stage in ("archive", "screen"):
                d = decisions.get((c.program_id, stage))
                if d is not None:
                    note = f"{d.verdict}: {d.detail}"
                    break
        tried.append(
            TriedView(
                c.round,
                prog.label,
                tuple(f"p{x}" for x in prog.parents),
                prog.rationale,
                state.score_of(c.program_id),
                state.score_of(parent) if parent is not None else None,
                note,
                state.gains.get(
                    (c.program_id, parent, "full"),
                    state.gains.get((c.program_id, parent, "screen")),
                )
                if parent is not None
                else None,
            )
        )
    rejections = []
    for r in history.rejected():
        diag = _first_error(r.diagnostics)
        rejections.append(f"round {r.round}, slot {r.slot}, try {r.attempt + 1}: {r.kind}: {diag}")
    eligible = [s for s in state.scored if s.id not in state.baselines]
    front = tuple((s.program.label, p) for s, p in frontier(eligible))
    baselines = tuple(program_view(s, state) for s in state.scored if s.id in state.baselines)
    ref = state.scored_by_id(state.reference_id) if state.reference_id is not None else None
    return SearchView(
        tuple(s.name for s in state.stores),
        betas,
        ranked,
        front,
        tuple(tried),
        tuple(rejections),
        baselines,
        ref.program.label + f" ({ref.program.name})" if ref is not None else "",
        objective.unit if objective is not None else "",
    )
