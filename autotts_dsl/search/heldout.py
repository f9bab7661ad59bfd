"""Held-out evaluation: the final pick, CMC and SC@64 on the held-out stores.

This is the only module that evaluates on held-out stores, and it runs only
for the final pick (at the end of a search, or from `search report
--heldout`). Results go to their own table (`heldout_cells`), which nothing on the
prompt side reads.

CMC is evaluated on the search's β grid plus β = 0.5 and 1 (the reference
points of the target), SC on the same grid (SC@64 is SC at β = 1:
`samples = round(64^β) = 64`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..executor import Executor
from ..records import record
from .config import SearchConfig
from .evaluate import Job, evaluate
from .history import History
from .sources import read_seed
from .verify import verify

TARGET_BETAS = (0.5, 1.0)


@record
class Baselines:
    cmc: int
    sc: int


def baseline_ids(history: History) -> Baselines:
    """Program ids of the stdlib CMC and SC (recorded as `baseline` programs,
    round -1, when they are not seeds)."""
    ids = []
    for name in ("cmc", "sc"):
        source, shown = read_seed(name)
        verdict = verify(source, shown)
        prog = history.program_by_hash(verdict.hash)
        if prog is None:
            pid, _ = history.add_program(
                verdict.hash, name, source, (), -1, 0, "baseline", f"baseline: {shown}"
            )
        else:
            pid = prog.id
        ids.append(pid)
    return Baselines(ids[0], ids[1])


def evaluate_heldout(
    history: History,
    config: SearchConfig,
    executor: Executor,
    pick: int,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    backend: str | None = None,
) -> Baselines:
    """The pick on the search's β grid, CMC on the grid plus the target
    points, SC@64 — all on every held-out store with the held-out seeds."""
    stores = history.stores("heldout")
    base = baseline_ids(history)
    started = time.perf_counter()

    def job(pid: int) -> Job:
        return Job(pid, history.program(pid).source, f"p{pid}")

    grid = tuple(sorted(set(config.betas) | set(TARGET_BETAS)))
    plan = [([pick], config.betas), ([base.cmc], grid), ([base.sc], grid)]
    for pids, betas in plan:
        evaluate(
            history,
            executor,
            [job(p) for p in pids],
            betas,
            stores,
            config.heldout_seeds,
            budget=config.cell_budget(len(config.heldout_seeds)),
            heldout=True,
            backend=backend,
            on_progress=on_progress,
        )
    spent = float(history.get_meta("heldout_wall") or 0.0)
    history.set_meta("heldout_wall", repr(spent + time.perf_counter() - started))
    return base
