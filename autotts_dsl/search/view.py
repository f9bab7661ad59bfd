"""What the search knows, computed from the search stores only.

`search_state` scores every program and builds the archive; `search_view`
turns that into the plain data a prompt is made of. Both read the history's
search tables (stores with role `search`, `results`, `programs`, `rounds`,
`candidates`, `rejected`, `failures`) and nothing else: no held-out table,
no held-out store, no held-out cache is reachable from here, so no held-out
number can reach a prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from .archive import Scored, build_archive, frontier, score_programs
from .history import History, ProgramRow, StoreRow
from .objective import CurvePoint, Objective, Window


@dataclass(frozen=True)
class SearchState:
    stores: tuple[StoreRow, ...]
    windows: dict[str, Window]
    scored: tuple[Scored, ...]
    """Programs with complete results, best objective first."""
    archive: tuple[Scored, ...]
    failed: dict[int, str]

    def score_of(self, pid: int) -> float | None:
        return next((s.objective for s in self.scored if s.id == pid), None)

    @property
    def best(self) -> Scored | None:
        return self.scored[0] if self.scored else None


def search_state(history: History, objective: Objective, n_betas: int) -> SearchState:
    stores = tuple(history.stores("search"))
    windows = {s.content_hash: Window(s.lo, s.hi) for s in stores}
    failed = history.failures()
    scored = score_programs(
        history.programs(), history.curves("results"), windows, objective, n_betas, failed
    )
    return SearchState(stores, windows, tuple(scored), tuple(build_archive(scored)), failed)


@dataclass(frozen=True)
class StoreCell:
    accuracy: float
    tokens: float
    seq_tokens: float


@dataclass(frozen=True)
class BetaRow:
    beta: float
    cells: tuple[StoreCell, ...]
    """One per search store, in `SearchView.store_names` order."""
    mean: StoreCell


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TriedView:
    """One candidate of an earlier round and how it did."""

    round: int
    label: str
    parents: tuple[str, ...]
    change: str
    objective: float | None
    parent_objective: float | None
    note: str


@dataclass(frozen=True)
class SearchView:
    store_names: tuple[str, ...]
    betas: tuple[float, ...]
    ranked: tuple[ProgramView, ...]
    """Archive members, best objective first."""
    frontier: tuple[tuple[str, CurvePoint], ...]
    tried: tuple[TriedView, ...]
    rejections: tuple[str, ...]
    """One line per rejected proposal, most recent last."""


def _table(
    scored: Scored, curves: dict[str, list[CurvePoint]], stores: tuple[StoreRow, ...]
) -> tuple[BetaRow, ...]:
    rows = []
    for mean in scored.curve:
        cells = []
        for s in stores:
            p = next(x for x in curves[s.content_hash] if x.beta == mean.beta)
            cells.append(StoreCell(p.accuracy, p.tokens, p.seq_tokens))
        rows.append(
            BetaRow(mean.beta, tuple(cells), StoreCell(mean.accuracy, mean.tokens, mean.seq_tokens))
        )
    return tuple(rows)


def _program_view(
    s: Scored, curves: dict[str, list[CurvePoint]], stores: tuple[StoreRow, ...]
) -> ProgramView:
    p = s.program
    return ProgramView(
        p.label,
        p.name,
        p.source,
        tuple(f"p{x}" for x in p.parents),
        p.round,
        p.proposer,
        p.rationale,
        s.objective,
        _table(s, curves, stores),
    )


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def search_view(history: History, state: SearchState, betas: tuple[float, ...]) -> SearchView:
    curves = history.curves("results")
    ranked = tuple(_program_view(s, curves[s.id], state.stores) for s in state.archive)
    programs: dict[int, ProgramRow] = {p.id: p for p in history.programs()}
    tried: list[TriedView] = []
    for c in history.candidates():
        if c.round == 0 or c.program_id is None:
            continue
        prog = programs[c.program_id]
        parent_scores = [state.score_of(x) for x in prog.parents]
        known = [x for x in parent_scores if x is not None]
        note = c.status
        if c.program_id in state.failed:
            note = "run-time error: " + _first_line(state.failed[c.program_id])
        tried.append(
            TriedView(
                c.round,
                prog.label,
                tuple(f"p{x}" for x in prog.parents),
                prog.rationale,
                state.score_of(c.program_id),
                max(known) if known else None,
                note,
            )
        )
    rejections = []
    for r in history.rejected():
        diag = _first_line(r.diagnostics)
        rejections.append(f"round {r.round}, slot {r.slot}, try {r.attempt + 1}: {r.kind}: {diag}")
    front = tuple((s.program.label, p) for s, p in frontier(state.scored))
    return SearchView(
        tuple(s.name for s in state.stores), betas, ranked, front, tuple(tried), tuple(rejections)
    )
