"""Scores, the archive and parent selection.

A program is *scored* once it has the full evaluation (every seed chunk of
every β on every search store, no failure); its score is the objective on
the unrounded curves (`stats.curves_of`), its table the protocol's numbers.
A curve that spends no tokens at some β, or never beats one sampled trace
(SC@1, the store's floor), is *degenerate*: it never enters the archive, a
prompt, or the final pick.

The archive is a MAP-Elites map over behaviour at the middle β — mean
branches opened and mean reads per branch, in powers of two — plus the seed
programs. A new program enters only when its gain over its parent is larger
than its uncertainty (`stats.Gain.significant`), and takes an occupied niche
only when it also beats the niche's elite that way. Parents are drawn half
the time by binary tournament on the score, half the time uniformly over the
occupied niches, so the search keeps exploring unlike behaviours.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from ..records import record
from .cells import CellData
from .curves import Floor
from .history import ProgramRow
from .objective import CurvePoint, mean_curve

Niche = tuple[int, int]


@record
class Scored:
    program: ProgramRow
    objective: float
    curve: tuple[CurvePoint, ...]
    """Mean over search stores, by rising β (protocol numbers)."""
    per_store: Mapping[str, tuple[CurvePoint, ...]]
    behaviour: tuple[float, float] = (0.0, 0.0)
    """(mean branches opened, mean reads per branch) at the middle β, over stores."""

    @property
    def id(self) -> int:
        return self.program.id

    @property
    def niche(self) -> Niche:
        return niche_of(self.behaviour)


def niche_of(behaviour: tuple[float, float]) -> Niche:
    opened, depth = behaviour
    return (
        math.floor(math.log2(max(1.0, opened))),
        math.floor(math.log2(max(1.0, depth))),
    )


def merged(by_seeds: Mapping[str, CellData], chunks: Sequence[str]) -> CellData | None:
    """The chunks' cells as one (None when one is missing)."""
    out: CellData | None = None
    for spec in chunks:
        c = by_seeds.get(spec)
        if c is None:
            return None
        out = c if out is None else out.merge(c)
    return out


def program_cells(
    cells: Mapping[str, Mapping[float, Mapping[str, CellData]]],
    stores: Sequence[str],
    betas: Sequence[float],
    chunks: Sequence[str],
) -> dict[str, dict[float, CellData]] | None:
    """store -> β -> cell over `chunks`, or None unless every cell is there."""
    out: dict[str, dict[float, CellData]] = {}
    for s in stores:
        by_beta = cells.get(s, {})
        row: dict[float, CellData] = {}
        for b in betas:
            got = merged(by_beta.get(b, {}), chunks)
            if got is None:
                return None
            row[b] = got
        out[s] = row
    return out


def protocol_curves(
    cells: Mapping[str, Mapping[float, CellData]],
) -> dict[str, tuple[CurvePoint, ...]]:
    out = {}
    for s, by_beta in cells.items():
        out[s] = tuple(
            CurvePoint(b, c.accuracy, float(c.avg_tokens), float(c.avg_seq_tokens))
            for b, c in sorted(by_beta.items())
        )
    return out


def behaviour_of(
    cells: Mapping[str, Mapping[float, CellData]], betas: Sequence[float]
) -> tuple[float, float]:
    mid = betas[len(betas) // 2]
    opened, depth = [], []
    for by_beta in cells.values():
        c = by_beta.get(mid)
        if c is None:
            continue
        m = c.metrics()
        opened.append(m.mean_opened)
        depth.append(m.mean_depth)
    n = max(1, len(opened))
    return (sum(opened) / n, sum(depth) / n)


def degenerate_reason(
    per_store: Mapping[str, Sequence[CurvePoint]], floors: Mapping[str, Floor]
) -> str:
    """Why a curve is not worth anyone's attention ("" when it is)."""
    for _s, pts in per_store.items():
        for p in pts:
            if p.tokens <= 0:
                return f"spends no tokens at β = {p.beta:g}"
    curve = mean_curve(per_store)
    if not curve:
        return "has no points"
    fl = [floors[s].accuracy for s in per_store if s in floors]
    floor = sum(fl) / len(fl) if fl else 0.0
    best = max(p.accuracy for p in curve)
    if fl and best <= floor:
        return (
            f"is never more accurate than one sampled trace (best {best:.2f} % <= SC@1 "
            f"{floor:.2f} %, mean over stores)"
        )
    return ""


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


def select_parents(archive: Sequence[Scored], n: int, rng: random.Random) -> list[Scored]:
    """`n` parents: each by binary tournament on the score or, half the time,
    uniformly over the archive's niches (then the niche's best)."""
    if not archive:
        return []
    by_niche: dict[Niche, list[Scored]] = {}
    for s in archive:
        by_niche.setdefault(s.niche, []).append(s)
    niches = sorted(by_niche)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            a, b = rng.choice(archive), rng.choice(archive)
            out.append(a if (a.objective, -a.id) >= (b.objective, -b.id) else b)
        else:
            members = by_niche[rng.choice(niches)]
            out.append(max(members, key=lambda s: (s.objective, -s.id)))
    return out
