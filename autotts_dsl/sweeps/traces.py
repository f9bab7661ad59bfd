"""Per-cell trace files for `tts-dsl sweep --traces`.

Each cell's episodes are replayed by the reference interpreter with tracing
on and written as one JSONL file (the `tts-dsl run --trace` record layout):
`OUT/traces/<program>/<store>/beta_<β>[_<params>].jsonl`. A file is written
whole then renamed, so an interrupted pass leaves no partial file, and a
re-run skips cells whose file exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..interpreter import ProgramRunner
from ..io_atomic import atomic_write_lines
from ..parser import parse
from ..replay import registry
from ..trace import TraceLevel, evaluation_records
from .grid import Cell, params_text

TRACES_DIR = "traces"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "_"


def trace_path(out_dir: Path, cell: Cell) -> Path:
    name = f"beta_{cell.beta:g}"
    if cell.params:
        name += "_" + _slug(params_text(cell.params))
    return (
        out_dir / TRACES_DIR / _slug(cell.program.label) / _slug(cell.store.name) / f"{name}.jsonl"
    )


def write_cell_traces(
    out_dir: Path,
    cells: Sequence[Cell],
    level: TraceLevel,
    on_cell: Callable[[Cell, bool], None] | None = None,
) -> list[Path]:
    """Write the trace file of every cell that has none yet; returns all paths.
    `on_cell(cell, written)` reports progress. Raises OSError, EpisodeFault."""
    runners: dict[str, ProgramRunner] = {}
    stores: dict[str, Any] = {}
    paths: list[Path] = []
    for cell in cells:
        path = trace_path(out_dir, cell)
        paths.append(path)
        if path.exists():
            if on_cell:
                on_cell(cell, False)
            continue
        prog = cell.program
        runner = runners.get(prog.program_hash)
        if runner is None:
            runner = runners[prog.program_hash] = ProgramRunner(
                parse(prog.source, prog.path), prog.source, prog.path
            )
        store = stores.get(cell.store.spec)
        if store is None:
            store = stores[cell.store.spec] = registry.resolve_store(cell.store.spec)
        traces: list[list[dict[str, Any]]] = []
        ev = runner.evaluate(store, cell.beta, cell.params_dict, cell.seeds, traces=traces)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_lines(path, evaluation_records(store, ev, traces, level))
        if on_cell:
            on_cell(cell, True)
    return paths
