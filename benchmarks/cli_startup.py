"""Whole-process start-up of the light commands (issue 17's 0.3 s target).

Times `tts-dsl --help` and `tts-dsl check cmc` as a user runs them (a new
process each, output to a pipe), alternating with a bare `python -c pass`
measured in the same run as the floor, and prints medians of wall and CPU
seconds, the load average, and the heaviest imports of `check` (from
`python -X importtime`). The package's bytecode is compiled first, as
`pip install` does (this repository's environment sets
PYTHONDONTWRITEBYTECODE, which would otherwise time the compiler too).

    python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3


def _tts_dsl() -> list[str]:
    beside = Path(sys.executable).parent / "tts-dsl"
    exe = str(beside) if beside.is_file() else shutil.which("tts-dsl")
    return [exe] if exe else [sys.executable, "-m", "autotts_dsl.cli.main"]


def _once(cmd: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _heaviest_imports(cmd: list[str], n: int = 8) -> list[tuple[float, str]]:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            _, cumulative, name = line.split("|")
            if not name.startswith("  "):  # top-level imports only
                rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    import compileall

    import autotts_dsl

    compileall.compile_dir(Path(autotts_dsl.__file__).parent, quiet=1)
    tts = _tts_dsl()
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "tts-dsl --help": [*tts, "--help"],
        "tts-dsl check cmc": [*tts, "check", "cmc"],
    }
    for cmd in commands.values():  # warm the OS caches and bytecode once
        _once(cmd)
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
    for _ in range(args.runs):  # alternate, so drift hits every command alike
        for name, cmd in commands.items():
            samples[name].append(_once(cmd))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.runs} runs each")
    for name, got in samples.items():
        wall = statistics.median(w for w, _ in got)
        cpu = statistics.median(c for _, c in got)
        verdict = "" if "floor" in name else (" ok" if wall <= TARGET_SECONDS else " over")
        print(
            f"  {name:24s} wall {wall:6.3f} s  cpu {cpu:6.3f} s"
            f"{'' if 'floor' in name else f'  (target {TARGET_SECONDS} s wall:{verdict})'}"
        )
    print("heaviest top-level imports of `tts-dsl check cmc` (cumulative, -X importtime):")
    for seconds, module in _heaviest_imports(
        [sys.executable, "-m", "autotts_dsl.cli.main", "check", "cmc"]
    ):
        print(f"  {seconds * 1000:7.1f} ms  {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
