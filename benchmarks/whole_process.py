"""Whole-process speed: what a user times with one command, against AutoTTS.

Each figure is a whole process (start-up, imports, loading the store,
evaluating, writing output), timed from outside: wall seconds, and CPU
seconds of the process and its children (`getrusage`). A and B commands run
alternately after a warm-up, and the medians and the median of the pairwise
ratios are printed with the load average (the machine may be shared).

1. **run** — `tts-dsl run cmc --beta 0.5 --store S --json` against the
   seed's Python CMC run the way AutoTTS runs it (`autotts_replay.py`: a
   worker process, the question objects rebuilt per seed, traces collected
   and written). Warm (caches from earlier runs), and on first use with
   empty caches (fresh `XDG_CACHE_HOME` and `TMPDIR`). The two must agree
   on accuracy and tokens, or the script fails. Targets: >= 30x warm,
   no worse than 3x the reference's time on first use.
2. **start-up** — `tts-dsl --help` and `tts-dsl check cmc`: target <= 0.3 s wall.
3. **matrix** — `tts-dsl sweep cmc --betas 0:1:0.1 --store ../shared/replay/autotts`
   (11 β x 12 stores x 100 seeds, with the SC@64 references, CSVs and plots,
   empty result cache; the median of --runs sweeps): target <= 15 s wall on
   2 cores and >= 100x the reference's CPU time, which is estimated from
   `--reference-cells` cells of the same matrix run the AutoTTS way (default
   12: one per store, β spread over the grid) and scaled to the 132 cells.

    python benchmarks/whole_process.py [--runs 5] [--skip-run] [--skip-startup]
        [--skip-matrix] [--reference-cells 12]

`tts-dsl` is the console script next to the Python running this script. To
time what a user of the README's `pip install .` gets, run it with that
install's Python: an editable install (`pip install -e .`) adds its import
hook to every process (~0.03 s here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.shared import DATASETS, MODELS, shared_dir  # noqa: E402

PY = sys.executable
_SCRIPT = Path(PY).parent / "tts-dsl"  # the console script a user runs
TTS = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "autotts_dsl.cli.main"]
REPLAY = [PY, str(REPO_ROOT / "benchmarks" / "autotts_replay.py")]


@dataclass
class Timing:
    wall: float
    cpu: float
    stdout: str


def timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> Timing:
    """One whole process: wall time and CPU of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu, done.stdout)


def load_avg() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cpus"


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def pair(
    a: Sequence[str], b: Sequence[str], runs: int, env_a: dict[str, str] | None = None
) -> tuple[list[Timing], list[Timing]]:
    """A and B alternately, after one warm-up each."""
    timed(a, env_a)
    timed(b)
    ta: list[Timing] = []
    tb: list[Timing] = []
    for _ in range(runs):
        ta.append(timed(a, env_a))
        tb.append(timed(b))
    return ta, tb


def row(label: str, ts: Sequence[Timing]) -> str:
    w = [t.wall for t in ts]
    c = [t.cpu for t in ts]
    return (
        f"   {label:<34} wall {med(w):7.2f} s [{min(w):.2f}-{max(w):.2f}]"
        f"   cpu {med(c):7.2f} s [{min(c):.2f}-{max(c):.2f}]"
    )


def ratio_row(label: str, num: Sequence[Timing], den: Sequence[Timing], target: str) -> str:
    rc = [n.cpu / d.cpu for n, d in zip(num, den, strict=True)]
    rw = [n.wall / d.wall for n, d in zip(num, den, strict=True)]
    return (
        f"   {label:<34} cpu {med(rc):6.1f}x [{min(rc):.1f}-{max(rc):.1f}]"
        f"   wall {med(rw):6.1f}x   (target {target})"
    )


def dsl_figures(stdout: str) -> tuple[float, int]:
    first = json.loads(stdout)["results"][0]
    return float(first["accuracy"]), int(first["avg_tokens"])


def replay_figures(stdout: str) -> tuple[float, int]:
    got = json.loads(stdout.strip().splitlines()[-1])
    return float(got["accuracy"]), int(got["avg_tokens"])


# ---------------------------------------------------------------------------


def bench_run(store: Path, runs: int) -> bool:
    out = Path(tempfile.mkdtemp(prefix="autotts-out-"))
    dsl = [*TTS, "run", "cmc", "--beta", "0.5", "--store", str(store), "--json"]
    ref = [*REPLAY, str(store), "--out", str(out), "--beta", "0.5"]
    print(f"== 1. one run: CMC at β = 0.5 on {store.parent.name}/{store.name}, 100 seeds")
    print(f"   {load_avg()}")
    warm_dsl, warm_ref = pair(dsl, ref, runs)
    ok = dsl_figures(warm_dsl[0].stdout) == replay_figures(warm_ref[0].stdout)
    print(f"   same accuracy and tokens: {'yes' if ok else 'NO'}", end="")
    print(f" {dsl_figures(warm_dsl[0].stdout)}")
    print(row("tts-dsl run (warm)", warm_dsl))
    print(row("AutoTTS-style seed CMC", warm_ref))
    print(ratio_row("speed-up, warm", warm_ref, warm_dsl, ">= 30x"))
    cold: list[Timing] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "XDG_CACHE_HOME": tmp, "TMPDIR": tmp, "TTS_DSL_CACHE": tmp}
            cold.append(timed(dsl, env))
    print(row("tts-dsl run (first use)", cold))
    ref_cpu = med([t.cpu for t in warm_ref])
    print(
        f"   first use against the reference: {med([t.cpu for t in cold]) / ref_cpu:.3f}x its "
        "CPU time (target: no worse than 3x)"
    )
    shutil.rmtree(out, ignore_errors=True)
    print()
    return ok


def bench_startup(runs: int) -> None:
    print("== 2. start-up (target <= 0.3 s wall)")
    print(f"   {load_avg()}")
    bare = [timed([PY, "-c", "pass"]) for _ in range(runs)]
    print(row("python -c pass", bare))
    for args in (["--help"], ["check", "cmc"]):
        timed([*TTS, *args])
        ts = [timed([*TTS, *args]) for _ in range(runs)]
        print(row("tts-dsl " + " ".join(args), ts))
    print()


def reference_cells(n: int) -> list[tuple[Path, float]]:
    base = shared_dir() / "replay" / "autotts"
    stores = [base / m / f"{d}.json" for m in MODELS for d in DATASETS]
    betas = [round(0.1 * k, 1) for k in range(11)]
    return [(stores[k % len(stores)], betas[(k * 5) % len(betas)]) for k in range(n)]


def bench_matrix(n_ref: int, runs: int) -> None:
    base = shared_dir() / "replay" / "autotts"
    print("== 3. the CMC matrix: 11 β x 12 stores x 100 seeds, via sweep (CSVs and plots)")
    print(f"   {load_avg()}")
    timed([*TTS, "--help"])  # warm the OS page cache for the code
    ts: list[Timing] = []
    for _ in range(runs):  # each into an empty directory: no cached cells
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*TTS, "sweep", "cmc", "--betas", "0:1:0.1", "--store", str(base), "--out", tmp]
            ts.append(timed(cmd))
    print(row(f"tts-dsl sweep (median of {runs})", ts) + "   (target <= 15 s wall)")
    t = Timing(med([x.wall for x in ts]), med([x.cpu for x in ts]), "")
    if n_ref <= 0:
        print()
        return
    cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for store, beta in reference_cells(n_ref):
            cpu += timed([*REPLAY, str(store), "--out", tmp, "--beta", str(beta)]).cpu
    estimate = cpu / n_ref * 132
    print(
        f"   AutoTTS-style reference: {cpu:.1f} cpu-s for {n_ref} cells -> about "
        f"{estimate:.0f} cpu-s for the 132 cells"
    )
    print(f"   CPU ratio: {estimate / t.cpu:.0f}x (target >= 100x)")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (5)")
    p.add_argument("--store", type=Path, default=None, help="store for section 1")
    p.add_argument("--reference-cells", type=int, default=12)
    p.add_argument("--skip-run", action="store_true")
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument("--skip-matrix", action="store_true")
    args = p.parse_args(argv)
    store = args.store or shared_dir() / "replay" / "autotts" / "Qwen3-8B" / "aime24.json"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    ok = True
    if not args.skip_run:
        ok = bench_run(store, args.runs)
    if not args.skip_startup:
        bench_startup(args.runs)
    if not args.skip_matrix:
        bench_matrix(args.reference_cells, args.runs)
    if not ok:
        print("error: tts-dsl and the AutoTTS-style CMC disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
