"""The archive the search selects parents from.

Programs are scored by the objective on the search stores (complete results
only: every β on every store, no run-time failure). The archive holds the
best `size` programs by objective plus every program that contributes a
point to the joint Pareto frontier of mean (tokens, accuracy) over all
programs — so a cheap specialist survives next to the best all-rounder.
Parents are drawn from it by binary tournament on the objective.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .history import Curves, ProgramRow
from .objective import CurvePoint, Objective, Window, mean_curve


@dataclass(frozen=True)
class Scored:
    program: ProgramRow
    objective: float
    curve: tuple[CurvePoint, ...]
    """Mean over search stores, by rising β."""

    @property
    def id(self) -> int:
        return self.program.id


def score_programs(
    programs: Sequence[ProgramRow],
    curves: Curves,
    windows: Mapping[str, Window],
    objective: Objective,
    n_betas: int,
    failed: Mapping[int, str],
) -> list[Scored]:
    """Programs with complete results, best objective first (ties: older first)."""
    out: list[Scored] = []
    for prog in programs:
        per_store = curves.get(prog.id, {})
        complete = set(per_store) == set(windows) and all(
            len(points) == n_betas for points in per_store.values()
        )
        if prog.id in failed or not complete:
            continue
        out.append(Scored(prog, objective.score(per_store, windows), tuple(mean_curve(per_store))))
    out.sort(key=lambda s: (-s.objective, s.id))
    return out


def frontier(scored: Sequence[Scored]) -> list[tuple[Scored, CurvePoint]]:
    """The joint Pareto frontier of mean points: by rising tokens, each point
    strictly more accurate than every cheaper one."""
    points = [(s, p) for s in scored for p in s.curve]
    points.sort(key=lambda sp: (sp[1].tokens, -sp[1].accuracy, sp[0].id))
    out: list[tuple[Scored, CurvePoint]] = []
    best = float("-inf")
    for s, p in points:
        if p.accuracy > best:
            out.append((s, p))
            best = p.accuracy
    return out


def build_archive(scored: Sequence[Scored], size: int = 8) -> list[Scored]:
    keep = {s.id for s in scored[:size]} | {s.id for s, _ in frontier(scored)}
    return [s for s in scored if s.id in keep]


def select_parents(archive: Sequence[Scored], n: int, rng: random.Random) -> list[Scored]:
    """`n` parents by binary tournament (the better objective of two draws)."""
    if not archive:
        return []
    out = []
    for _ in range(n):
        a, b = rng.choice(archive), rng.choice(archive)
        out.append(a if (a.objective, -a.id) >= (b.objective, -b.id) else b)
    return out
