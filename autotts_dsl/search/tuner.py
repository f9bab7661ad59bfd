"""Schedule coefficients tuned by CMA-ES (`cma`), inside the checker's proofs.

The tuner works on one target program at a time (the archive's best): the
numeric literals of its `schedule` knobs become a vector; a candidate scales
each literal by exp(z) (so a β coefficient keeps its sign, hence the
declared direction, and the checker's monotonicity proof still has to pass:
every candidate goes through the same checker as any proposal). CMA-ES asks
a generation of z vectors, the search hands them out a few per round, and
tells it each candidate's screened gain over the target once a generation
is evaluated (a candidate the checker rejects scores a penalty). The whole
trail is recorded (`history.tuner`), and the optimiser is rebuilt by replay
on every round, so a resumed search proposes exactly what it would have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .. import ast
from ..records import record
from .archive import Scored
from .astops import replace_node
from .mutate import _expr_sites, _lit

POPSIZE = 6
SIGMA0 = 0.25
PENALTY = 10.0
"""Fitness (minimised: minus the screened gain) of a candidate that was
rejected or never scored."""


@record
class TunerContext:
    target: Scored
    slots: int
    points: Sequence[tuple[int, int, int, tuple[float, ...]]]
    """(round, slot, target id, z) of every earlier tuner proposal."""
    programs: Mapping[tuple[int, int], int | None]
    """(round, slot) -> the program id it became (None: rejected)."""
    scores: Mapping[int, float]
    """program id -> screened gain over its parent."""


def sites(program: ast.Program) -> list[ast.IntLit | ast.FloatLit]:
    return [s.lit for k in program.knobs for s in _expr_sites(k.expr, k.name)]


def apply(program: ast.Program, z: Sequence[float]) -> ast.Program:
    out = program
    for lit, zi in zip(sites(program), z, strict=False):
        v = float(lit.value)
        new = v * math.exp(zi) if v != 0 else zi
        if isinstance(lit, ast.IntLit):
            new = round(new)
            if v > 0:
                new = max(1, new)
        else:
            new = round(new, 4)
        out = replace_node(out, lit, _lit(new, lit))
    return out


def next_vectors(ctx: TunerContext, seed: int) -> list[tuple[float, ...]]:
    """The z vectors of this round's tuner slots (fewer when a generation is
    still being evaluated)."""
    import cma  # type: ignore[import-untyped]

    program_sites = sites_of(ctx.target)
    d = len(program_sites)
    if d == 0:
        return []
    es = cma.CMAEvolutionStrategy(
        np.zeros(d), SIGMA0, {"seed": seed % (2**31 - 1) + 1, "popsize": POPSIZE, "verbose": -9}
    )
    gen = [tuple(float(v) for v in x) for x in es.ask()]
    used = 0
    fitness: list[float] = []
    mine = [p for p in ctx.points if p[2] == ctx.target.id]
    for rnd, slot, _t, _z in mine:
        pid = ctx.programs.get((rnd, slot))
        score = ctx.scores.get(pid) if pid is not None else None
        fitness.append(-score if score is not None else PENALTY)
        used += 1
        if used == len(gen):
            es.tell([np.asarray(g) for g in gen], fitness)
            gen = [tuple(float(v) for v in x) for x in es.ask()]
            used, fitness = 0, []
    return gen[used : used + ctx.slots]


def sites_of(s: Scored) -> list[ast.IntLit | ast.FloatLit]:
    from ..parser import parse

    return sites(parse(s.program.source, s.program.label))
