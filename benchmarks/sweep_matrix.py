"""Sweep speed: the full CMC matrix, how time scales, and DSL vs. the seed's CMC.

Prints three tables (and exits non-zero if the DSL and the seed disagree):

1. **Matrix** — `cmc` at 11 β (0, 0.1, ..., 1) × the 12 shared AutoTTS stores ×
   100 seeds, through `autotts_dsl.sweeps.run_sweep` with `--jobs` workers
   (default 2) on an empty cache: wall time, CPU time, peak memory of the
   parent and of the largest worker (`resource.getrusage`).
2. **Scaling** — one core, `cmc` at one β on simulated stores
   (`autotts_dsl.replay.synthetic.simulate_store`): time against the number
   of questions, of seeds and of branches per question (up to 1024).
3. **Ratio** — one core (pinned), same store / β / seeds: the seed's Python
   CMC (cut out of ../shared/seeds/autotts-readme.txt at run time) through the
   AutoTTS compatibility adapter vs. the DSL `cmc` through the sweep's
   evaluator `autotts_dsl.sweeps.runner.evaluate_cell`; results must be
   identical (summary and every episode's answer and cost).

The DSL side is timed through `evaluate_cell`, the function a sweep calls
per cell, so swapping in a faster backend there shows up here unchanged.
The machine may be shared: the load average is printed with each table, and
CPU seconds next to wall seconds.

    python benchmarks/sweep_matrix.py [--jobs 2] [--seeds 100] [--skip-matrix]
        [--skip-scaling] [--skip-ratio] [--store PATH] [--beta 0.5] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.engines import BACKEND_ENV  # noqa: E402
from autotts_dsl.programs import load_program  # noqa: E402
from autotts_dsl.replay import registry  # noqa: E402
from autotts_dsl.replay.compat import evaluate_autotts  # noqa: E402
from autotts_dsl.replay.store import store_to_records  # noqa: E402
from autotts_dsl.replay.synthetic import encode_records, simulate_store  # noqa: E402
from autotts_dsl.sweeps.cache import ResultCache  # noqa: E402
from autotts_dsl.sweeps.grid import parse_betas, program_cells, program_spec, store_spec  # noqa: E402
from autotts_dsl.sweeps.runner import evaluate_cell, run_sweep  # noqa: E402
from tests.support.seed_cmc import SEED_README, load_seed_cmc  # noqa: E402
from tests.support.shared import DATASETS, MODELS, shared_dir  # noqa: E402


def load_avg() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cpus"


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def maxrss_mib(who: int) -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return resource.getrusage(who).ru_maxrss * scale


# ---------------------------------------------------------------------------
# 1. The matrix


def bench_matrix(shared: Path, jobs: int, n_seeds: int) -> None:
    paths = [shared / "replay" / "autotts" / m / f"{d}.json" for m in MODELS for d in DATASETS]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: missing shared stores, e.g. {missing[0]} (set TTS_DSL_SHARED)")
    betas = parse_betas("0:1:0.1")
    seeds = tuple(range(n_seeds))
    runner = load_program("cmc")
    stores = [store_spec(registry.resolve_store(str(p)), str(p)) for p in paths]
    cells = program_cells(runner, program_spec(runner, "cmc"), betas, {}, stores, seeds)
    print(f"== 1. CMC matrix: {len(betas)} β × {len(stores)} stores × {n_seeds} seeds")
    print(f"   load average before: {load_avg()}")
    cpu0 = cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp, ResultCache(Path(tmp) / "cache.sqlite") as cache:
        t0 = time.perf_counter()
        metrics, stats = run_sweep(cells, cache, jobs=jobs)
        wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    if stats.failed or stats.interrupted:
        raise SystemExit(f"error: matrix sweep failed: {stats.errors or 'interrupted'}")
    cell_secs = sorted(m.wall_seconds for m in metrics.values())
    episodes = sum(m.n_questions * m.n_seeds for m in metrics.values())
    print(f"   load average after:  {load_avg()}")
    print()
    print(f"   {'cells':<34}{len(cells):>10}")
    print(f"   {'episodes':<34}{episodes:>10,}")
    print(f"   {'jobs':<34}{jobs:>10}")
    print(f"   {'wall seconds':<34}{wall:>10.1f}")
    print(f"   {'CPU seconds (parent + workers)':<34}{cpu:>10.1f}")
    print(f"   {'sum of per-cell evaluation secs':<34}{sum(cell_secs):>10.1f}")
    print(f"   {'cell seconds: min / median / max':<34}", end="")
    print(f"{cell_secs[0]:.2f} / {cell_secs[len(cell_secs) // 2]:.2f} / {cell_secs[-1]:.2f}")
    print(f"   {'episodes / wall second':<34}{episodes / wall:>10,.0f}")
    print(f"   {'peak RSS, parent (MiB)':<34}{maxrss_mib(resource.RUSAGE_SELF):>10.1f}")
    print(f"   {'peak RSS, largest worker (MiB)':<34}{maxrss_mib(resource.RUSAGE_CHILDREN):>10.1f}")
    print(f"   target: under 60 s -> {'met' if wall < 60 else 'NOT met'} ({wall:.1f} s)")
    print()


# ---------------------------------------------------------------------------
# 2. Scaling


def _time_cell(store_path: Path, beta: float, seeds: Sequence[int]) -> float:
    source = load_program("cmc").source
    evaluate_cell(source, beta, {}, str(store_path), seeds[:1])  # warm: load, parse, compile
    t0 = time.perf_counter()
    evaluate_cell(source, beta, {}, str(store_path), seeds)
    return time.perf_counter() - t0


def bench_scaling(beta: float) -> None:
    print(f"== 2. Scaling (one core, cmc at β = {beta:g}, simulated stores)")
    print(f"   load average: {load_avg()}")
    runs: list[tuple[str, int, int, int]] = []
    runs += [("questions", q, 128, 50) for q in (30, 60, 120, 240)]
    runs += [("seeds", 30, 128, s) for s in (50, 100, 200, 400)]
    runs += [("branches/question", 30, b, 50) for b in (64, 128, 256, 512, 1024)]
    print()
    print(
        f"   {'varying':<19}{'questions':>10}{'branches':>10}{'seeds':>7}{'episodes':>10}"
        f"{'seconds':>10}{'ms/episode':>12}{'× time':>8}"
    )
    first: dict[str, float] = {}
    tmp = tempfile.TemporaryDirectory()
    stores: dict[tuple[int, int], Path] = {}
    for what, q, b, s in runs:
        path = stores.get((q, b))
        if path is None:
            path = stores[(q, b)] = Path(tmp.name) / "sim" / f"q{q}_b{b}.json.gz"
            records = store_to_records(simulate_store(q, b, seed=11))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_records(records))
        secs = _time_cell(path, beta, tuple(range(s)))
        first.setdefault(what, secs)
        n = q * s
        print(
            f"   {what:<19}{q:>10}{b:>10}{s:>7}{n:>10}{secs:>10.3f}"
            f"{1000 * secs / n:>12.2f}{secs / first[what]:>8.2f}"
        )
    tmp.cleanup()
    print()


# ---------------------------------------------------------------------------
# 3. DSL vs. the seed's CMC


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def bench_ratio(shared: Path, store_path: Path, beta: float, n_seeds: int, repeat: int) -> bool:
    if not (shared / SEED_README).is_file():
        raise SystemExit(f"error: seed document not found under {shared} (set TTS_DSL_SHARED)")
    core = pin_one_core()
    seeds = tuple(range(n_seeds))
    store = registry.resolve_store(str(store_path))
    cmc_class = load_seed_cmc(shared)
    runner = load_program("cmc")
    evaluate_cell(runner.source, beta, {}, str(store_path), seeds[:1])  # warm the caches
    print(f"== 3. DSL cmc vs. the seed's Python CMC ({core}, best of {repeat})")
    print(f"   store {store.name}, β = {beta:g}, {n_seeds} seeds, {len(store) * n_seeds} episodes")
    print(f"   load average: {load_avg()}")
    best_seed = best_dsl = float("inf")
    seed_ev = dsl = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        seed_ev = evaluate_autotts(store, cmc_class({"beta": beta}), seeds)
        best_seed = min(best_seed, time.perf_counter() - t0)
        t0 = time.perf_counter()
        dsl = evaluate_cell(runner.source, beta, {}, str(store_path), seeds)
        best_dsl = min(best_dsl, time.perf_counter() - t0)
    assert seed_ev is not None and dsl is not None
    # Episode by episode, with the reference interpreter the evaluator wraps.
    t0 = time.perf_counter()
    ref = runner.evaluate(store, beta, {}, seeds, backend="reference")
    ref_seconds = time.perf_counter() - t0
    fast = runner.evaluate(store, beta, {}, seeds)
    same_summary = (dsl.accuracy, dsl.avg_tokens) == (seed_ev.accuracy, seed_ev.avg_tokens)
    same_episodes = all(
        bool((ev.answer == seed_ev.answer).all())
        and bool((ev.cost == seed_ev.cost).all())
        and bool((ev.correct == seed_ev.correct).all())
        for ev in (ref, fast)
    )
    print()
    print(f"   {'controller':<44}{'seconds':>9}{'accuracy':>10}{'avg_tokens':>12}")
    print(
        f"   {'seed CMC (Python) via compat adapter':<44}{best_seed:>9.3f}"
        f"{seed_ev.accuracy:>10.2f}{seed_ev.avg_tokens:>12d}"
    )
    print(
        f"   {'DSL cmc.tts via sweep evaluate_cell':<44}{best_dsl:>9.3f}"
        f"{dsl.accuracy:>10.2f}{dsl.avg_tokens:>12d}"
    )
    print(
        f"   {'DSL cmc.tts, reference interpreter':<44}{ref_seconds:>9.3f}"
        f"{ref.accuracy:>10.2f}{ref.avg_tokens:>12d}"
    )
    print(
        f"   backend of evaluate_cell: {fast.backend}; episodes replayed by the reference: "
        f"{fast.reruns}"
    )
    print()
    print(f"   identical summary: {same_summary}; identical episodes: {same_episodes}")
    ratio = best_seed / best_dsl
    print(f"   speed ratio (seed time / DSL time): {ratio:.2f}×  (target >= 10×)")
    print()
    return same_summary and same_episodes


def main(argv: Sequence[str] | None = None) -> int:
    shared = shared_dir()
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=2, help="workers for the matrix (default 2)")
    p.add_argument("--seeds", type=int, default=100, help="seeds for matrix and ratio (100)")
    p.add_argument("--beta", type=float, default=0.5, help="β for scaling and ratio (0.5)")
    p.add_argument(
        "--store",
        type=Path,
        default=shared / "replay" / "autotts" / "Qwen3-8B" / "aime24.json",
        help="store for the ratio (default: shared Qwen3-8B aime24)",
    )
    p.add_argument("--repeat", type=int, default=1, help="timed runs for the ratio; best kept")
    p.add_argument("--skip-matrix", action="store_true")
    p.add_argument("--skip-scaling", action="store_true")
    p.add_argument("--skip-ratio", action="store_true")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.seeds < 1 or args.repeat < 1:
        p.error("--jobs, --seeds and --repeat must be >= 1")
    os.environ.setdefault(BACKEND_ENV, "vm")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    print(f"DSL backend: {os.environ[BACKEND_ENV]} (set {BACKEND_ENV} to compare)\n")
    ok = True
    if not args.skip_matrix:  # first: it needs every core (later sections pin to one)
        bench_matrix(shared, args.jobs, args.seeds)
    if not args.skip_scaling:
        bench_scaling(args.beta)
    if not args.skip_ratio:
        ok = bench_ratio(shared, args.store, args.beta, args.seeds, args.repeat)
    if not ok:
        print("error: the DSL and the seed CMC disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
