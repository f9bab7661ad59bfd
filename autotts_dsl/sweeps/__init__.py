"""Sweeps: programs × β grid × stores, cached, in parallel, with plots.

`grid` builds the cells, `runner` evaluates them (the evaluation of one cell
is the swappable `runner.evaluate_cell`), `cache` keeps finished cells in
SQLite, `results` writes the tidy CSV and AutoTTS's matrix layout, `plot`
draws accuracy–token curves and computes the headline summary.
"""

from __future__ import annotations

from .cache import CellMetrics, ResultCache, cell_key
from .grid import Cell, GridError, ProgramSpec, StoreSpec, parse_betas
from .runner import Evaluator, SweepStats, evaluate_cell, run_sweep

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
