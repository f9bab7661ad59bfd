"""One `tts-dsl run`: check first, evaluate store by store (reporting
progress), tabulate, and write the results with their provenance.

The CLI (`cli/run_cmd.py`) only parses arguments and prints; what a run
computes and writes is decided here.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io_atomic import atomic_write_text
from .provenance import seeds_text
from .replay.protocol import COLUMNS, Evaluation, concat_columns
from .replay.store import ReplayStore

if TYPE_CHECKING:
    from .checker import CheckReport
    from .interpreter import ProgramRunner

RUN_JSON = "run.json"
RUN_CSV = "run.csv"

ProgressFn = Callable[[int], None]
"""`progress(episodes_done_in_this_store)`."""

CHUNK_SECONDS = 0.5
"""How long one evaluation call aims to take when progress is reported."""


# ---------------------------------------------------------------------------
# Checking first


def check_before_run(runner: ProgramRunner, beta: float, params: Mapping[str, Any]) -> CheckReport:
    """`tts-dsl check` on the program about to run, at the run's β and params
    (so their ranges are checked too)."""
    from .checker import check_program

    return check_program(
        runner.program, runner.source, runner.path, beta=beta, strict=False, params=dict(params)
    )


# ---------------------------------------------------------------------------
# Evaluating with progress


def concat_evaluations(parts: Sequence[Evaluation]) -> Evaluation:
    """Evaluations of consecutive seed ranges of one store as one. Episodes
    are independent, so this equals evaluating all the seeds at once."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    engines = list(dict.fromkeys(p.backend for p in parts))
    return Evaluation(
        store=first.store,
        n_questions=first.n_questions,
        seeds=tuple(s for p in parts for s in p.seeds),
        **{name: concat_columns([p.raw(name) for p in parts], name) for name in COLUMNS},
        wall_seconds=sum(p.wall_seconds for p in parts),
        reruns=sum(p.reruns for p in parts),
        backend="+".join(engines),
    )


def evaluate_store(
    runner: ProgramRunner,
    store: ReplayStore,
    beta: float,
    params: Mapping[str, Any],
    seeds: Sequence[int],
    *,
    backend: str | None = None,
    traces: list[list[dict[str, Any]]] | None = None,
    progress: ProgressFn | None = None,
) -> Evaluation:
    """`runner.evaluate`, and with `progress`, in slices of seeds sized to
    take about `CHUNK_SECONDS` each (one seed first, to measure), calling
    `progress` after each. Results are identical either way."""
    seeds = tuple(seeds)
    if progress is None:
        return runner.evaluate(store, beta, params, seeds, traces=traces, backend=backend)
    parts: list[Evaluation] = []
    done = 0
    chunk = 1
    n_q = len(store.questions)
    while done < len(seeds):
        part_seeds = seeds[done : done + chunk]
        started = time.perf_counter()
        parts.append(
            runner.evaluate(store, beta, params, part_seeds, traces=traces, backend=backend)
        )
        per_seed = max(time.perf_counter() - started, 1e-6) / len(part_seeds)
        done += len(part_seeds)
        progress(done * n_q)
        chunk = max(1, min(len(seeds) - done, int(CHUNK_SECONDS / per_seed)))
    return concat_evaluations(parts)


# ---------------------------------------------------------------------------
# The SC@64 column


@functools.cache
def _sc_program() -> ProgramRunner:
    from .programs import load_program

    return load_program("sc")  # parsed once, not once per store


_SC64: dict[tuple[str, tuple[int, ...]], int] = {}


def sc64_tokens(store: ReplayStore, seeds: Sequence[int], backend: str | None = None) -> int:
    """SC@64's average tokens on `store` (the relative-token column). It does
    not depend on the program, so it is computed once per store contents and
    seeds, and kept between processes next to the parsed stores."""
    key = (store.content_hash, tuple(seeds))
    if key not in _SC64:
        cached = _sc64_file(key)
        got = _read_int(cached) if cached is not None else None
        if got is None:
            ev = _sc_program().evaluate(store, 1.0, {"samples": 64}, key[1], backend=backend)
            got = ev.avg_tokens
            if cached is not None:
                _write_int(cached, got)
        _SC64[key] = got
    return _SC64[key]


def _sc64_file(key: tuple[str, tuple[int, ...]]) -> Path | None:
    """Where the SC@64 figure for (store contents, seeds) is kept: the key
    also names the tool version and the SC program's text, so a change to
    either is a new entry."""
    import hashlib

    from . import __version__
    from .cache_dir import cache_root

    root = cache_root()
    if root is None:
        return None
    from .programs import STDLIB_DIR

    try:  # the program's text, not its parse: a kept figure costs no parsing
        sc = hashlib.sha256((STDLIB_DIR / "sc.tts").read_bytes()).hexdigest()
    except OSError:
        return None
    text = f"{__version__}|{sc}|{key[0]}|{key[1]}"
    return root / "sc64" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.txt"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _write_int(path: Path, value: int) -> None:
    with contextlib.suppress(OSError):  # a read-only cache: computed again next time
        atomic_write_text(path, str(value))


# ---------------------------------------------------------------------------
# Rows


def result_row(store: ReplayStore, ev: Evaluation, sc64: int | None, wall: float) -> dict[str, Any]:
    return {
        "store": store.name,
        "store_hash": store.content_hash,
        "synthetic": store.synthetic,
        "questions": ev.n_questions,
        "seeds": len(ev.seeds),
        "accuracy": ev.accuracy,
        "avg_tokens": ev.avg_tokens,
        "avg_seq_tokens": ev.avg_seq_tokens,
        "sc64_tokens": sc64,
        "tokens_vs_sc64": round(ev.avg_tokens / sc64, 4) if sc64 else None,
        "mean_opened": round(ev.mean_opened, 3),
        "mean_depth": round(ev.mean_depth, 3),
        "wall_seconds": round(wall, 3),
        "engine": ev.backend if not ev.reruns else f"{ev.backend} ({ev.reruns} replayed)",
    }


def total_row(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over stores (tokens relative to SC@64: a ratio of sums)."""
    n = len(rows)
    tot: dict[str, Any] = {
        "stores": n,
        "accuracy": round(sum(r["accuracy"] for r in rows) / n, 2),
        "avg_tokens": int(sum(r["avg_tokens"] for r in rows) / n),
        "avg_seq_tokens": int(sum(r["avg_seq_tokens"] for r in rows) / n),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 3),
    }
    if all(r["sc64_tokens"] for r in rows):
        sc = sum(r["sc64_tokens"] for r in rows)
        tot["tokens_vs_sc64"] = round(sum(r["avg_tokens"] for r in rows) / sc, 4)
    return tot


# ---------------------------------------------------------------------------
# Files

RUN_CSV_COLUMNS: tuple[str, ...] = (
    "program",
    "program_hash",
    "beta",
    "params",
    "store",
    "store_hash",
    "synthetic",
    "questions",
    "seeds",
    "accuracy",
    "avg_tokens",
    "avg_seq_tokens",
    "sc64_tokens",
    "tokens_vs_sc64",
    "mean_opened",
    "mean_depth",
    "wall_seconds",
    "engine",
    "tool_version",
)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_run_files(out_dir: str | Path, doc: Mapping[str, Any]) -> list[Path]:
    """`run.json` (the `--json` document) and `run.csv` (one row per store,
    with the per-row provenance) in `out_dir`, each written atomically."""
    import csv
    import io
    import json

    out = Path(out_dir)
    prov = doc["provenance"]
    program = prov["programs"][0]
    params = ";".join(f"{k}={v}" for k, v in sorted(doc["params"].items()))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RUN_CSV_COLUMNS)
    for r in doc["results"]:
        row = {
            **r,
            "program": program["name"],
            "program_hash": program["program_hash"],
            "beta": doc["beta"],
            "params": params,
            "seeds": prov["seeds"],
            "tool_version": prov["version"],
        }
        w.writerow([_cell(row.get(c)) for c in RUN_CSV_COLUMNS])
    json_path, csv_path = out / RUN_JSON, out / RUN_CSV
    atomic_write_text(json_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(csv_path, buf.getvalue())
    return [json_path, csv_path]


__all__ = [
    "RUN_CSV",
    "RUN_JSON",
    "check_before_run",
    "concat_evaluations",
    "evaluate_store",
    "result_row",
    "sc64_tokens",
    "seeds_text",
    "total_row",
    "write_run_files",
]
