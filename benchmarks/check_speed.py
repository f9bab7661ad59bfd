"""How long `tts-dsl check stdlib_controllers/cmc.tts` takes.

In-process (this interpreter, started fresh): the import of the CLI, the
first check (which also builds the Lark parser once per process) and the
median of repeated warm checks through `main(["check", ...])`, plus the
checker alone on an already-parsed program. As a subprocess: the median wall
time of the `tts-dsl` command, interpreter start and imports included.

    python benchmarks/check_speed.py [--repeat N] [--program PATH]

Exits 1 if a warm in-process check is not well under half a second (0.5 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT = REPO_ROOT / "stdlib_controllers" / "cmc.tts"


def _quiet_main(argv: list[str]) -> int:
    from autotts_dsl.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--program", default=str(DEFAULT))
    args = ap.parse_args()
    argv = ["check", args.program]

    t0 = time.perf_counter()
    import autotts_dsl.cli.main  # noqa: F401
    from autotts_dsl.checker import check_program
    from autotts_dsl.parser import parse

    t_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    code = _quiet_main(argv)
    t_first = time.perf_counter() - t0

    warm = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        _quiet_main(argv)
        warm.append(time.perf_counter() - t0)

    source = Path(args.program).read_text(encoding="utf-8")
    program = parse(source, args.program)
    alone = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        check_program(program, source, args.program)
        alone.append(time.perf_counter() - t0)

    beside = Path(sys.executable).parent / "tts-dsl"
    exe = str(beside) if beside.is_file() else shutil.which("tts-dsl")
    cmd = [exe] if exe else [sys.executable, "-m", "autotts_dsl.cli.main"]
    walls = []
    for _ in range(max(3, args.repeat // 4)):
        t0 = time.perf_counter()
        subprocess.run([*cmd, *argv], capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)

    ms = 1000.0
    print(f"tts-dsl check {args.program}  (exit code {code})")
    print(f"  in-process  import of the CLI                  {t_import * ms:8.1f} ms")
    print(f"  in-process  first check (builds the parser)    {t_first * ms:8.1f} ms")
    print(
        f"  in-process  warm check, median of {len(warm):3d}          "
        f"{statistics.median(warm) * ms:8.1f} ms"
    )
    print(
        f"  in-process  checker alone (parsed program)     {statistics.median(alone) * ms:8.1f} ms"
    )
    print(
        f"  subprocess  `{' '.join(Path(c).name for c in cmd)} check`, "
        f"median of {len(walls)} {statistics.median(walls) * ms:8.1f} ms wall"
    )
    return 0 if statistics.median(warm) < 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
