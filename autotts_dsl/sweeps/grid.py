"""The sweep grid: β values, programs, stores, baseline configurations, cells.

A *cell* is one evaluation: (program, β, params, store, seeds). Its cache key
(`Cell.key`) depends only on what determines the result: the program's
structural hash (not its layout or comments), β, the typed params, the
store's content hash and the seed list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..ast import program_hash
from ..interpreter import ProgramRunner
from ..records import record
from ..replay.store import ReplayStore
from .cache import cell_key

Role = Literal["sweep", "baseline", "reference"]
ROLES: tuple[Role, ...] = ("sweep", "baseline", "reference")

ParamValue = int | float | bool
Params = tuple[tuple[str, ParamValue], ...]
"""Typed params, sorted by name: hashable and canonical."""

MAX_GRID_POINTS = 10_001


class GridError(ValueError):
    """A malformed grid specification (a usage error)."""


# ---------------------------------------------------------------------------
# β grids


def _number(text: str, what: str) -> float:
    try:
        value = float(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise GridError(f"{what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise GridError(f"{what} {text.strip()!r} is not finite")
    return value


def parse_betas(text: str) -> tuple[float, ...]:
    """`START:STOP:STEP` (inclusive of STOP), a comma list, or one value.

    Grid points are `round(START + k*STEP, 10)`, so `0:1:0.1` gives exactly
    the floats `0.0, 0.1, ..., 1.0` (each equal to its literal). The result
    is sorted and free of duplicates; every value must lie in [0, 1].
    """
    spec = text.strip()
    if not spec:
        raise GridError("--betas is empty")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise GridError(f"--betas {spec!r}: expected START:STOP:STEP or a comma list")
        start, stop, step = (_number(p, "β grid bound") for p in parts)
        if step <= 0:
            raise GridError(f"--betas {spec!r}: STEP must be positive")
        if stop < start:
            raise GridError(f"--betas {spec!r}: STOP is below START")
        n = math.floor((stop - start) / step + 1e-9)
        if n + 1 > MAX_GRID_POINTS:
            raise GridError(f"--betas {spec!r}: {n + 1} points is too many")
        values = [round(start + k * step, 10) for k in range(n + 1)]
    else:
        items = [p for p in spec.split(",")]
        if any(not p.strip() for p in items):
            raise GridError(f"--betas {spec!r}: empty item in the list")
        values = [_number(p, "β") for p in items]
    for v in values:
        if not 0.0 <= v <= 1.0:
            raise GridError(f"--betas {spec!r}: β = {v:g} is outside [0, 1]")
    return tuple(sorted({v + 0.0 for v in values}))  # + 0.0 turns -0.0 into 0.0


def seeds_spec(seeds: Sequence[int]) -> str:
    """Canonical text of a seed list: `A:B` for a contiguous range, else a list."""
    s = tuple(seeds)
    if s and s == tuple(range(s[0], s[0] + len(s))):
        return f"{s[0]}:{s[0] + len(s)}"
    return ",".join(str(x) for x in s)


def parse_seeds_spec(text: str) -> tuple[int, ...]:
    """Inverse of `seeds_spec`."""
    if ":" in text:
        lo, hi = (int(x) for x in text.split(":", 1))
        return tuple(range(lo, hi))
    return tuple(int(x) for x in text.split(",") if x.strip())


def params_text(params: Params | Mapping[str, Any]) -> str:
    """`k=v;k=v` (sorted), the way AutoTTS's published tables write configs."""
    items = sorted(params.items()) if isinstance(params, Mapping) else sorted(params)
    return ";".join(f"{k}={_value_text(v)}" for k, v in items)


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def parse_params_text(text: str) -> dict[str, str]:
    """Inverse of `params_text`, values left as text (the compiler types them)."""
    out: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        k, _, v = item.partition("=")
        out[k] = v
    return out


# ---------------------------------------------------------------------------
# Programs, stores, cells


@record
class ProgramSpec:
    """A parsed program as the sweep sees it."""

    label: str
    """Shown in tables, CSVs and plots (`cmc`, or a file's stem)."""
    source: str
    path: str
    """Where it came from, for diagnostics (`stdlib/cmc.tts`, `my/ctl.tts`)."""
    program_hash: str
    name: str
    """The `controller NAME` of the program."""


@record
class StoreSpec:
    """A store as the sweep sees it: how workers find it, and what it is."""

    spec: str
    """What a worker passes to `registry.resolve_store`."""
    name: str
    content_hash: str
    synthetic: bool
    n_questions: int

    @property
    def model(self) -> str:
        parts = self.name.split("/")
        return parts[-2] if len(parts) >= 2 else "local"

    @property
    def dataset(self) -> str:
        return self.name.split("/")[-1]


@record
class Cell:
    """One evaluation of the grid."""

    program: ProgramSpec
    beta: float
    params: Params
    store: StoreSpec
    seeds: tuple[int, ...]
    role: Role = "sweep"
    knobs: tuple[tuple[str, Any], ...] = ()
    """Every param and knob value at this β (for the AutoTTS matrix layout)."""

    @property
    def key(self) -> str:
        return cell_key(
            self.program.program_hash,
            self.beta,
            self.params,
            self.store.content_hash,
            seeds_spec(self.seeds),
        )

    @property
    def params_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)


def canonical_params(params: Mapping[str, Any]) -> Params:
    return tuple(sorted(params.items()))


# ---------------------------------------------------------------------------
# Baselines


@record
class BaselineConfig:
    """A stdlib controller run at fixed configurations (or over the β grid)."""

    program: str
    configs: tuple[dict[str, ParamValue], ...]
    """Pinned params; empty means: run over the sweep's β grid unpinned."""


SC64: tuple[str, float, dict[str, ParamValue]] = ("sc", 1.0, {"samples": 64})
"""The reference every store is compared against: SC@64."""

BASELINE_BETA = 1.0
"""β used for baseline cells whose knobs are all pinned (β then has no effect
on the pinned knobs; a fixed value keeps their cache keys stable)."""

BASELINES: tuple[BaselineConfig, ...] = (
    BaselineConfig("sc", ()),
    BaselineConfig(
        "asc",
        tuple({"max_samples": n, "threshold": 0.95} for n in (1, 4, 8, 16, 32, 64)),
    ),
    BaselineConfig("esc", tuple({"max_samples": n, "window_size": 8} for n in (16, 32, 64))),
    BaselineConfig("parallel_probe", tuple({"num_chains": n} for n in (1, 4, 8, 16, 32, 64))),
)
"""`--baselines`: SC over the β grid, and ASC / ESC / Parallel-Probe at the
configurations AutoTTS published (replay protocol §6)."""


def baseline_points(betas: Sequence[float]) -> list[tuple[str, float, dict[str, ParamValue]]]:
    """`(program, β, params)` of every baseline cell for a β grid."""
    out: list[tuple[str, float, dict[str, ParamValue]]] = []
    for b in BASELINES:
        if b.configs:
            out.extend((b.program, BASELINE_BETA, dict(c)) for c in b.configs)
        else:
            out.extend((b.program, beta, {}) for beta in betas)
    return out


def dedupe_cells(cells: Iterable[Cell]) -> list[Cell]:
    """Drop cells whose key repeats; the first (the highest role) wins."""
    seen: dict[str, Cell] = {}
    for c in cells:
        seen.setdefault(c.key, c)
    return list(seen.values())


# ---------------------------------------------------------------------------
# Building the grid


def program_spec(runner: ProgramRunner, label: str) -> ProgramSpec:
    return ProgramSpec(
        label=label,
        source=runner.source,
        path=runner.path,
        program_hash=program_hash(runner.program),
        name=runner.program.name,
    )


def store_spec(store: ReplayStore, spec: str) -> StoreSpec:
    return StoreSpec(
        spec=spec,
        name=store.name,
        content_hash=store.content_hash,
        synthetic=store.synthetic,
        n_questions=len(store.questions),
    )


def declared_names(runner: ProgramRunner) -> set[str]:
    """Params and knobs a `--param` may set."""
    prog = runner.program
    return {p.name for p in prog.params} | {k.name for k in prog.knobs}


def program_cells(
    runner: ProgramRunner,
    spec: ProgramSpec,
    betas: Sequence[float],
    overrides: Mapping[str, Any],
    stores: Sequence[StoreSpec],
    seeds: Sequence[int],
    role: Role = "sweep",
) -> list[Cell]:
    """Cells of one program over β × stores. Compiles at every β first, so a
    program that does not compile raises `DiagnosticError` before any work."""
    out: list[Cell] = []
    for beta in betas:
        compiled = runner.compile(beta, dict(overrides))
        constants = compiled.constants
        typed = canonical_params({k: constants[k] for k in overrides})
        knobs = tuple(constants.items())
        out.extend(Cell(spec, beta, typed, store, tuple(seeds), role, knobs) for store in stores)
    return out


def reference_and_baseline_cells(
    betas: Sequence[float],
    stores: Sequence[StoreSpec],
    seeds: Sequence[int],
    *,
    baselines: bool,
    load: Callable[[str], ProgramRunner],
) -> list[Cell]:
    """SC@64 on every store (role `reference`), and with `baselines` the
    stdlib baselines (role `baseline`). `load` maps a stdlib name to a runner."""
    runners: dict[str, tuple[ProgramRunner, ProgramSpec]] = {}

    def get(name: str) -> tuple[ProgramRunner, ProgramSpec]:
        if name not in runners:
            r = load(name)
            runners[name] = (r, program_spec(r, name))
        return runners[name]

    name, beta, params = SC64
    r, s = get(name)
    cells = program_cells(r, s, [beta], params, stores, seeds, "reference")
    if baselines:
        for name, beta, params in baseline_points(betas):
            r, s = get(name)
            cells += program_cells(r, s, [beta], params, stores, seeds, "baseline")
    return cells
