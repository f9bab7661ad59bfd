"""Sweeps: programs × β grid × stores, cached, in parallel, with plots.

`grid` builds the cells, `runner` evaluates them (the evaluation of one cell
is the swappable `runner.evaluate_cell`), `cache` keeps finished cells in
SQLite, `results` writes the tidy CSV and AutoTTS's matrix layout, `plot`
draws accuracy–token curves and computes the headline summary.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import CellMetrics, ResultCache, cell_key
    from .grid import Cell, GridError, ProgramSpec, StoreSpec, parse_betas
    from .runner import Evaluator, SweepStats, evaluate_cell, run_sweep

# Loaded on first use (PEP 562): `run` reads sweeps.grid and must not pay for
# the runner, SQLite and the process pool it never uses.
_WHERE = {
    "CellMetrics": "cache",
    "ResultCache": "cache",
    "cell_key": "cache",
    "Cell": "grid",
    "GridError": "grid",
    "ProgramSpec": "grid",
    "StoreSpec": "grid",
    "parse_betas": "grid",
    "Evaluator": "runner",
    "SweepStats": "runner",
    "evaluate_cell": "runner",
    "run_sweep": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Cell",
    "CellMetrics",
    "Evaluator",
    "GridError",
    "ProgramSpec",
    "ResultCache",
    "StoreSpec",
    "SweepStats",
    "cell_key",
    "evaluate_cell",
    "parse_betas",
    "run_sweep",
]
