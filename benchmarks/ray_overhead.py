"""Scheduling overhead per sweep cell on Ray vs the local process pool.

Runs the sweep's own task (`sweep.runner.run_task` on `evaluate_cell`) many
times over on two executors with the same number of workers:

* local — `ProcessExecutor(N)`, worker processes on this machine;
* ray   — a Ray cluster started here (N nodes of one CPU each, the layout the
  tests use), stores shared through its object store as `sweep` does.

for three cell sizes, all cmc at one β on one store: short (10 seeds on
the VM: tens of milliseconds), medium (100 seeds on the VM: tenths of a
second) and long (10 seeds on the reference interpreter: about a second).
Workers are warmed first (imports, store, program), so what is measured is
the steady state of a long sweep. The local pool is measured before the
cluster starts, so Ray's daemons do not slow it down; on the cluster they
are part of what Ray costs.

The overhead of a cell is the worker time it holds beyond its own
computation: wall × workers / cells − mean compute time (each cell times its
own computation); the median of three rounds. Ray's overhead per cell is not
quite constant across sizes, so the threshold printed is the conservative
one: cells longer than (the largest overhead measured) / 0.10 spend less
than 10 % of their time on Ray. The overheads and the share they are of
each cell size are printed too.

    python benchmarks/ray_overhead.py [--workers 2]

prints a table and one JSON line. On a loaded machine the figures are
provisional (`uptime` shows the load; the script prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.executor import Executor, ProcessExecutor  # noqa: E402
from autotts_dsl.executor.ray_executor import RayExecutor  # noqa: E402
from autotts_dsl.executor.stores import share_stores  # noqa: E402
from autotts_dsl.programs import load_program  # noqa: E402
from autotts_dsl.replay import registry  # noqa: E402
from autotts_dsl.replay.protocol import DEFAULT_SEEDS  # noqa: E402
from autotts_dsl.sweeps.runner import Outcome, Task, _store, evaluate_cell, run_task  # noqa: E402
from tests.support.ray_cluster import LocalCluster, use_hermetic_env  # noqa: E402

STORE = "default"
BETA = 0.5
SHARE = 0.10
"""The overhead share the threshold is computed for."""


def cell_task(i: int, seeds: int) -> Task:
    runner = load_program("cmc")
    store = registry.resolve_store(STORE)
    return Task(
        key=f"bench-{i}",
        program_source=runner.source,
        program_path=runner.path,
        beta=BETA,
        params=(),
        store_path=STORE,
        store_hash=store.content_hash,
        seeds=tuple(DEFAULT_SEEDS[:seeds]),
    )


def measure(executor: Executor, size: Size, workers: int) -> dict[str, float]:
    """`size.cells` cells after a warm-up round, `size.rounds` times; the
    figures of the round with the median overhead."""
    task = partial(run_task, evaluate_cell)
    share_stores(executor, [STORE], _store)
    warm = [cell_task(i, size.seeds) for i in range(2 * workers)]
    for res in executor.map_unordered(task, warm):
        assert res.ok, res.error  # imports, store and program in every worker
    rounds = []
    for _ in range(size.rounds):
        tasks = [cell_task(i, size.seeds) for i in range(size.cells)]
        started = time.perf_counter()
        compute = []
        for res in executor.map_unordered(task, tasks):
            assert res.ok and isinstance(res.value, Outcome) and res.value.metrics, res.error
            compute.append(res.value.metrics.wall_seconds)
        wall = time.perf_counter() - started
        cell = statistics.fmean(compute)
        overhead = wall * workers / size.cells - cell
        rounds.append({"wall": wall, "cell": cell, "overhead": overhead, "share": overhead / cell})
    rounds.sort(key=lambda r: r["overhead"])
    return rounds[len(rounds) // 2]


@dataclass(frozen=True)
class Size:
    label: str
    backend: str
    seeds: int
    cells: int
    rounds: int


SIZES = (
    Size("short", "vm", 10, 200, 3),  # tens of milliseconds
    Size("medium", "vm", 100, 40, 3),  # tenths of a second
    Size("long", "reference", 10, 6, 3),  # about a second
)


def run_sizes(make: Any, workers: int) -> list[dict[str, float]]:
    """Each size on a fresh executor from `make()`."""
    out = []
    for size in SIZES:
        os.environ["TTS_DSL_BACKEND"] = size.backend  # local workers inherit it; Ray tasks carry it
        with make() as executor:
            out.append(measure(executor, size, workers))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="workers (Ray: nodes of one CPU)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    local = run_sizes(partial(ProcessExecutor, args.workers), args.workers)
    use_hermetic_env()
    cluster = LocalCluster(cpus_per_node=1)
    try:
        cluster.start()
        for _ in range(args.workers - 1):
            cluster.add_node()
        cluster.wait_for_nodes(args.workers)
        remote = run_sizes(partial(RayExecutor, cluster.address), args.workers)
    finally:
        cluster.shutdown()
    pairs = zip(SIZES, local, remote, strict=True)
    results = [{**asdict(size), "local": lo, "ray": ra} for size, lo, ra in pairs]
    overhead = max(r["ray"]["overhead"] for r in results)
    threshold = overhead / SHARE
    end_load = os.getloadavg()[0]
    print(
        f"{args.workers} workers; load average {load:.2f} at start, {end_load:.2f} at end "
        f"({os.cpu_count()} CPUs; the figures are provisional when it exceeds 2)"
    )
    print(
        f"{'size':>7} {'cells':>6} {'cell ms: local':>15} {'ray':>7} "
        f"{'overhead ms: local':>19} {'ray':>7} {'share: local':>13} {'ray':>7}"
    )
    for r in results:
        lo, ra = r["local"], r["ray"]
        print(
            f"{r['label']:>7} {r['cells']:>6} {1e3 * lo['cell']:>15.1f} {1e3 * ra['cell']:>7.1f} "
            f"{1e3 * lo['overhead']:>19.1f} {1e3 * ra['overhead']:>7.1f} "
            f"{100 * lo['share']:>12.1f}% {100 * ra['share']:>6.1f}%"
        )
    print(
        f"Ray's overhead per cell: at most {1e3 * overhead:.1f} ms here (the local pool's: at "
        f"most {1e3 * max(r['local']['overhead'] for r in results):.1f} ms); below "
        f"{100 * SHARE:.0f} % of a cell for cells longer than {threshold:.2f} s"
    )
    print(
        json.dumps(
            {
                "workers": args.workers,
                "load": [round(load, 2), round(end_load, 2)],
                "results": results,
                "ray_overhead_seconds": overhead,
                "ray_below_10pct_above_seconds": threshold,
            }
        )
    )


if __name__ == "__main__":
    main()
