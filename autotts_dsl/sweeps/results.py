"""Sweep results as files: a tidy CSV and AutoTTS's matrix layout.

* `results.csv` — one row per (program, β, params, store): the tidy table
  (`TIDY_COLUMNS`) that `tts-dsl plot` re-draws from.
* `matrix_results_<MODEL>/<DATASET>_raw.csv` — the layout AutoTTS's
  `eval.py` writes (`Method, Acc, Cost, Std_Acc, Description, config`, then
  one column per config/knob value), so analysis scripts written for AutoTTS
  read these unchanged. We add `Seq_Cost` (sequential tokens) and provenance
  columns at the end.

Every file is written atomically (temp file, fsync, rename): a crash leaves
either the previous file or the complete new one.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io_atomic import atomic_write_text
from .cache import CellMetrics
from .grid import ROLES, Cell, params_text, seeds_spec

TIDY_COLUMNS: tuple[str, ...] = (
    "program",
    "program_hash",
    "beta",
    "params",
    "model",
    "dataset",
    "store",
    "synthetic",
    "accuracy",
    "avg_tokens",
    "avg_seq_tokens",
    "mean_opened",
    "mean_depth",
    "seeds",
    "wall_seconds",
    "role",
    "store_hash",
    "n_questions",
    "backend",
    "tool_version",
)
"""Columns of `results.csv`; the first fifteen are the documented core. The
provenance of each row: program_hash, store_hash, seeds, backend (the engine
that computed the cell) and tool_version; the command line is in the
sweep's `provenance.json`."""

REQUIRED_COLUMNS: tuple[str, ...] = (
    "program",
    "beta",
    "params",
    "store",
    "accuracy",
    "avg_tokens",
)
"""What `read_tidy_csv` needs to re-draw a plot (others get defaults)."""

RESULTS_FILE = "results.csv"
SUMMARY_FILE = "summary.csv"
MATRIX_HEAD: tuple[str, ...] = ("Method", "Acc", "Cost", "Std_Acc", "Description", "config")

Row = dict[str, Any]


class ResultsError(Exception):
    """A results CSV that cannot be read back (missing columns, bad values)."""


# ---------------------------------------------------------------------------
# Rows


def tidy_rows(cells: Sequence[Cell], metrics: Mapping[str, CellMetrics]) -> list[Row]:
    """One row per cell that has metrics, in a stable order: role (sweep,
    baseline, reference), then programs and stores in the order given, then
    params and β."""
    prog_order: dict[str, int] = {}
    store_order: dict[str, int] = {}
    for c in cells:
        prog_order.setdefault(c.program.label, len(prog_order))
        store_order.setdefault(c.store.name, len(store_order))
    seen: set[tuple[str, str]] = set()
    rows: list[tuple[tuple[Any, ...], Row]] = []
    for c in cells:
        m = metrics.get(c.key)
        if m is None or (c.program.label, c.key) in seen:
            continue
        seen.add((c.program.label, c.key))
        ptext = params_text(c.params)
        row: Row = {
            "program": c.program.label,
            "program_hash": c.program.program_hash,
            "beta": c.beta,
            "params": ptext,
            "model": c.store.model,
            "dataset": c.store.dataset,
            "store": c.store.name,
            "synthetic": c.store.synthetic,
            "accuracy": m.accuracy,
            "avg_tokens": m.avg_tokens,
            "avg_seq_tokens": m.avg_seq_tokens,
            "mean_opened": round(m.mean_opened, 4),
            "mean_depth": round(m.mean_depth, 4),
            "seeds": seeds_spec(c.seeds),
            "wall_seconds": round(m.wall_seconds, 3),
            "role": c.role,
            "store_hash": c.store.content_hash,
            "n_questions": m.n_questions,
            "backend": m.backend,
            "tool_version": m.tool_version,
        }
        order = (
            ROLES.index(c.role),
            prog_order[c.program.label],
            store_order[c.store.name],
            ptext,
            c.beta,
        )
        rows.append((order, row))
    rows.sort(key=lambda r: r[0])
    return [r for _, r in rows]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return "" if v is None else str(v)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_fmt(v) for v in r])
    return buf.getvalue()


def write_tidy_csv(path: str | Path, rows: Sequence[Row]) -> Path:
    """Write `results.csv` atomically."""
    text = _csv_text(TIDY_COLUMNS, ([r.get(c) for c in TIDY_COLUMNS] for r in rows))
    atomic_write_text(path, text)
    return Path(path)


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Any table, atomically."""
    atomic_write_text(path, _csv_text(header, rows))
    return Path(path)


# ---------------------------------------------------------------------------
# Reading back


def _as_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no", ""):
        return False
    raise ValueError(text)


_CONVERT: dict[str, Any] = {
    "beta": float,
    "accuracy": float,
    "avg_tokens": lambda s: int(float(s)),
    "avg_seq_tokens": lambda s: int(float(s)) if s.strip() else 0,
    "mean_opened": lambda s: float(s) if s.strip() else math.nan,
    "mean_depth": lambda s: float(s) if s.strip() else math.nan,
    "wall_seconds": lambda s: float(s) if s.strip() else math.nan,
    "synthetic": _as_bool,
    "n_questions": lambda s: int(s) if s.strip() else 0,
}

_DEFAULTS: dict[str, Any] = {
    "program_hash": "",
    "model": "",
    "dataset": "",
    "synthetic": False,
    "avg_seq_tokens": 0,
    "mean_opened": math.nan,
    "mean_depth": math.nan,
    "seeds": "",
    "wall_seconds": math.nan,
    "role": "sweep",
    "store_hash": "",
    "n_questions": 0,
    "backend": "",
    "tool_version": "",
}


def read_tidy_csv(path: str | Path) -> list[Row]:
    """Read a `results.csv` back into typed rows.

    Raises `OSError` when unreadable and `ResultsError` when it is not a
    sweep results table.
    """
    p = Path(path)
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ResultsError(
                f"{p}: not a sweep results table (missing column(s) {', '.join(missing)})"
            )
        rows: list[Row] = []
        for line, raw in enumerate(reader, start=2):
            row: Row = dict(_DEFAULTS)
            for col, text in raw.items():
                if col is None or text is None:
                    raise ResultsError(f"{p}:{line}: wrong number of fields")
                conv = _CONVERT.get(col)
                try:
                    row[col] = conv(text) if conv is not None else text
                except ValueError:
                    raise ResultsError(f"{p}:{line}: column {col}: bad value {text!r}") from None
            if row["role"] not in ROLES:
                raise ResultsError(f"{p}:{line}: unknown role {row['role']!r}")
            if not row["model"] or not row["dataset"]:
                parts = str(row["store"]).split("/")
                row["model"] = row["model"] or (parts[-2] if len(parts) > 1 else "local")
                row["dataset"] = row["dataset"] or parts[-1]
            rows.append(row)
    if not rows:
        raise ResultsError(f"{p}: holds no results")
    return rows


# ---------------------------------------------------------------------------
# AutoTTS matrix layout


def _py_repr(v: Any) -> str:
    return repr(v)


def matrix_files(cells: Sequence[Cell], metrics: Mapping[str, CellMetrics]) -> dict[Path, str]:
    """Relative path -> CSV text of every `matrix_results_<MODEL>/<DATASET>_raw.csv`."""
    groups: dict[tuple[str, str], dict[str, list[Cell]]] = {}
    for c in cells:
        if c.key not in metrics:
            continue
        by_store = groups.setdefault((c.store.model, c.store.dataset), {})
        by_store.setdefault(c.store.content_hash, []).append(c)
    out: dict[Path, str] = {}
    for (model, dataset), by_store in groups.items():
        for store_hash, group in by_store.items():
            # Two different stores with one model/dataset name: keep both apart.
            stem = dataset if len(by_store) == 1 else f"{dataset}-{store_hash[:8]}"
            rel = Path(f"matrix_results_{_safe(model)}") / f"{_safe(stem)}_raw.csv"
            out[rel] = _matrix_text(group, metrics)
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name) or "_"


def _matrix_text(cells: Sequence[Cell], metrics: Mapping[str, CellMetrics]) -> str:
    rows = tidy_rows(cells, metrics)
    by_key = {(c.program.label, c.beta, params_text(c.params)): c for c in cells}
    knob_cols: list[str] = ["beta"]
    for c in cells:
        for k, _ in c.knobs:
            if k not in knob_cols:
                knob_cols.append(k)
    tail = ("Seq_Cost", "Program_Hash", "Store", "Seeds", "Store_Hash", "Backend", "Tool_Version")
    body = []
    for r in rows:
        c = by_key[(r["program"], r["beta"], r["params"])]
        config = {"beta": c.beta, **dict(c.params)}
        values: dict[str, Any] = {"beta": c.beta, **dict(c.knobs)}
        body.append(
            [
                r["program"],
                r["accuracy"],
                r["avg_tokens"],
                0,
                f"{c.program.name} | config={_py_repr(config)}",
                _py_repr(config),
                *(values.get(k) for k in knob_cols),
                r["avg_seq_tokens"],
                r["program_hash"],
                r["store"],
                r["seeds"],
                r["store_hash"],
                r["backend"],
                r["tool_version"],
            ]
        )
    return _csv_text((*MATRIX_HEAD, *knob_cols, *tail), body)


def write_matrix(
    out_dir: str | Path, cells: Sequence[Cell], metrics: Mapping[str, CellMetrics]
) -> list[Path]:
    """Write the AutoTTS matrix files under `out_dir`; returns their paths."""
    written = []
    for rel, text in matrix_files(cells, metrics).items():
        path = Path(out_dir) / rel
        atomic_write_text(path, text)
        written.append(path)
    return written
