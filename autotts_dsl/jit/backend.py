"""The compiled backend: generated module, numba, and the reference as fallback.

`evaluate(runner, store, beta, params, seeds, backend=...)` returns the same
`Evaluation` as `ProgramRunner.evaluate` on the reference interpreter, episode
for episode. Episodes the generated code declines (a fault, a value it does
not replicate) are replayed by the reference interpreter, so results and
error messages are the reference's by construction; `Evaluation.reruns`
counts them.

Backends: `numba` (machine code; compiled once per program and cached on
disk), `python` (the same generated code, interpreted: for debugging the
generator), `reference` (the closure interpreter), `auto` (numba when it is
importable and the program is covered, else reference).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import ast
from ..builtins import Window
from ..compiler import Compiled
from ..compiler.base import _Const
from ..compiler.program import ProgramCompiler
from ..replay.episode import Episode, shuffle_order
from ..replay.protocol import Evaluation
from ..replay.store import ReplayStore
from ..runtime import EpisodeFault, RuntimeFault
from .codegen import Layout, Unsupported, generate

if TYPE_CHECKING:
    from ..interpreter import ProgramRunner

BACKENDS = ("auto", "numba", "python", "reference")
BACKEND_ENV = "TTS_DSL_BACKEND"
CACHE_ENV = "TTS_DSL_CACHE"


class BackendError(Exception):
    """A backend was asked for explicitly and cannot run this program."""


def default_backend() -> str:
    name = os.environ.get(BACKEND_ENV, "auto")
    return name if name in BACKENDS else "auto"


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return True


# ---------------------------------------------------------------- module cache


def cache_dir() -> Path:
    """Where generated modules (and numba's machine code beside them) live."""
    return _cache_dir(os.environ.get(CACHE_ENV), os.environ.get("XDG_CACHE_HOME"))


@functools.cache
def _cache_dir(root: str | None, xdg: str | None) -> Path:
    # Probed once per setting: `auto` asks on every evaluation.
    base = Path(root) if root else Path(xdg or Path.home() / ".cache") / "tts-dsl"
    path = base / "jit"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"tts-dsl-jit-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def _kernels_fingerprint() -> str:
    import numba

    text = (Path(__file__).parent / "kernels.py").read_bytes()
    return hashlib.sha256(text + numba.__version__.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Kernel:
    """A generated module for one program."""

    module: ModuleType
    layout: Layout
    jit: bool
    path: Path


_KERNELS: dict[tuple[str, bool], Kernel | Unsupported] = {}


def kernel_for(program: ast.Program, *, jit: bool) -> Kernel:
    """The generated module for `program` (raises `Unsupported`)."""
    key = (repr(program), jit)
    got = _KERNELS.get(key)
    if got is None:
        try:
            got = _load(program, jit)
        except Unsupported as why:
            got = why
        _KERNELS[key] = got
    if isinstance(got, Unsupported):
        raise got
    return got


_SOURCES: dict[tuple[str, bool], tuple[str, Layout]] = {}


def _source_for(program: ast.Program, *, jit: bool) -> tuple[str, Layout]:
    """The generated module text (stamped with the kernels' version) and layout."""
    key = (repr(program), jit)
    got = _SOURCES.get(key)
    if got is None:
        source, layout = generate(program, jit=jit)
        got = _SOURCES[key] = (f"# kernels {_kernels_fingerprint()}\n" + source, layout)
    return got


def _module_path(source: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    return cache_dir() / f"tts_dsl_gen_{digest}.py"


def _load(program: ast.Program, jit: bool) -> Kernel:
    source, layout = _source_for(program, jit=jit)
    path = _module_path(source)
    name = path.stem
    if not path.exists():
        # Written whole then renamed: concurrent workers never see half a file.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return Kernel(module, layout, jit, path)


# ---------------------------------------------------------------- when `auto` compiles

AUTO_COMPILE_AFTER = 10_000
"""Episodes of one program the `auto` backend leaves to the reference in a
process before compiling it. Compiling a program takes a few seconds (about
what the reference needs for 3,000-5,000 CMC episodes), so one-off small
evaluations, such as a search's many short-lived candidates, are cheaper on
the reference; repeated or large ones (sweeps) compile. A program whose
machine code is already on disk is always run compiled."""

_AUTO_EPISODES: dict[str, int] = {}


def _worth_compiling(program: ast.Program, episodes: int) -> bool:
    key = repr(program)
    if not numba_available():
        return False
    got = _KERNELS.get((key, True))
    if got is not None:
        return not isinstance(got, Unsupported)
    if is_compiled_on_disk(program):
        return True
    seen = _AUTO_EPISODES.get(key, 0) + episodes
    _AUTO_EPISODES[key] = seen
    return seen >= AUTO_COMPILE_AFTER


def is_compiled_on_disk(program: ast.Program) -> bool:
    """Has numba cached this program's machine code (so loading it is cheap)?"""
    try:
        path = _module_path(_source_for(program, jit=True)[0])
    except Unsupported:
        return False
    return any((path.parent / "__pycache__").glob(f"{path.stem}.run_cell-*.nbi"))


# ---------------------------------------------------------------- per-β constants


def constants(
    layout: Layout,
    runner: ProgramRunner,
    compiled: Compiled,
    params: Mapping[str, Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The constant banks for one (β, params), every value computed by the
    reference compiler (so folding, rounding and overrides agree)."""
    folder = ProgramCompiler(runner.program, compiled.beta, dict(params), False, runner.source)
    folder.compile_decls()
    state = dict(zip(compiled.state_names, compiled.make_state(), strict=True))
    fields = dict(zip(compiled.field_names, compiled.field_inits, strict=True))
    limits = {
        "max_branches": compiled.max_branches,
        "max_rounds": compiled.max_rounds,
        "fuel": compiled.fuel,
    }
    ints: list[int] = []
    floats: list[float] = []
    for c in layout.consts:
        value: Any
        if c.kind == "beta":
            value = compiled.beta
        elif c.kind == "knob":
            value = compiled.knobs[c.name]
        elif c.kind == "param":
            value = compiled.params[c.name]
        elif c.kind == "limit":
            value = limits[c.name]
        elif c.kind == "state":
            value = state[c.name]
        elif c.kind == "wcap":
            value = state[c.name].capacity
        elif c.kind == "field":
            value = fields[c.name]
        else:
            assert c.expr is not None
            fn, _ = folder.expr(c.expr, folder.global_scope)
            if not isinstance(fn, _Const):
                raise Unsupported("a constant the reference does not fold")
            value = fn.value
        if c.bank == "f":
            floats.append(float(value))
        else:
            iv = int(value)
            if not -(2**63) <= iv < 2**63:
                raise Unsupported("a constant beyond 64 bits")
            ints.append(iv)
    return np.array(ints, dtype=np.int64), np.array(floats, dtype=np.float64)


# ---------------------------------------------------------------- store and seeds


@dataclass(frozen=True)
class _StoreData:
    probes: npt.NDArray[np.int64]
    n_probes: npt.NDArray[np.int64]
    tokens: npt.NDArray[np.int64]
    finals: npt.NDArray[np.int64]
    n_branches: npt.NDArray[np.int64]
    interval: npt.NDArray[np.int64]
    gold: npt.NDArray[np.int64]
    vocab: int


_STORE_DATA: dict[int, tuple[ReplayStore, _StoreData]] = {}


def _store_data(store: ReplayStore) -> _StoreData:
    got = _STORE_DATA.get(id(store))
    if got is not None and got[0] is store:
        return got[1]
    a = store.arrays()
    data = _StoreData(
        probes=a.probes.astype(np.int64),
        n_probes=a.n_probes.astype(np.int64),
        tokens=a.tokens.astype(np.int64),
        finals=a.finals.astype(np.int64),
        n_branches=a.n_branches.astype(np.int64),
        interval=a.interval.astype(np.int64),
        gold=a.gold.astype(np.int64),
        vocab=len(store.vocab),
    )
    if len(_STORE_DATA) > 64:
        _STORE_DATA.clear()
    _STORE_DATA[id(store)] = (store, data)
    return data


def _orders(
    seeds: tuple[int, ...], n_branches: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Shuffled orders per (seed, distinct branch count), and the row of each question."""
    sizes = sorted({int(n) for n in n_branches})
    width = max([1, *sizes])
    orders = np.zeros((len(seeds), max(1, len(sizes)), width), dtype=np.int64)
    for si, seed in enumerate(seeds):
        for ui, n in enumerate(sizes):
            orders[si, ui, :n] = shuffle_order(seed, n)
    row = {n: ui for ui, n in enumerate(sizes)}
    return orders, np.array([row[int(n)] for n in n_branches], dtype=np.int64)


_BETA_TABLES: dict[int, npt.NDArray[np.float64]] = {}


def _beta_table(n_max: int) -> npt.NDArray[np.float64]:
    from .kernels import beta_table

    got = _BETA_TABLES.get(n_max)
    if got is None:
        got = _BETA_TABLES[n_max] = beta_table(n_max)
    return got


# ---------------------------------------------------------------- evaluation


def evaluate(
    runner: ProgramRunner,
    store: ReplayStore,
    beta: float,
    params: Mapping[str, Any] | None,
    seeds: Sequence[int],
    *,
    backend: str = "auto",
) -> Evaluation:
    """`ProgramRunner.evaluate` on the chosen backend (see the module doc)."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend `{backend}` (choose from {', '.join(BACKENDS)})")
    params = dict(params or {})
    seeds = tuple(seeds)
    compiled = runner.compile(beta, params)  # type and name errors, as the reference
    if backend == "reference" or (backend == "auto" and not numba_available()):
        return runner.evaluate_reference(store, beta, params, seeds)
    if backend == "numba" and not numba_available():
        raise BackendError("the numba backend needs the `numba` package")
    if backend == "auto" and not _worth_compiling(runner.program, len(seeds) * len(store)):
        return runner.evaluate_reference(store, beta, params, seeds)
    try:
        kern = kernel_for(runner.program, jit=backend != "python")
        ci, cf = constants(kern.layout, runner, compiled, params)
        _check_workspace(compiled)
    except Unsupported as why:
        if backend == "auto":
            return runner.evaluate_reference(store, beta, params, seeds)
        raise BackendError(f"{runner.path}: not covered by the compiled backend: {why}") from None
    return _run(kern, runner, compiled, store, seeds, ci, cf)


MAX_WINDOW_CELLS = 4_000_000
"""The window workspace is one row per window, as long as the longest: past
this many floats (32 MB) the episode runs on the reference, whose windows
take only the entries pushed."""


def _check_workspace(compiled: Compiled) -> None:
    caps = [w.capacity for w in compiled.make_state() if isinstance(w, Window)]
    if caps and len(caps) * max(caps) > MAX_WINDOW_CELLS:
        raise Unsupported(f"{len(caps)} windows of up to {max(caps):,} entries")


def _run(
    kern: Kernel,
    runner: ProgramRunner,
    compiled: Compiled,
    store: ReplayStore,
    seeds: tuple[int, ...],
    ci: npt.NDArray[np.int64],
    cf: npt.NDArray[np.float64],
) -> Evaluation:
    from ..interpreter import run_episode

    started = time.perf_counter()
    d = _store_data(store)
    n_q = len(store.questions)
    orders, rows = _orders(seeds, d.n_branches)
    width = max(1, d.probes.shape[1] if d.probes.ndim == 3 else 1)
    table = _beta_table(max(1, min(width, compiled.max_branches)))
    out = np.zeros((len(seeds) * n_q, 6), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # python backend: numpy scalars
        kern.module.run_cell(
            orders,
            rows,
            ci,
            cf,
            d.probes,
            d.n_probes,
            d.tokens,
            d.finals,
            d.n_branches,
            d.interval,
            table,
            d.vocab,
            out,
        )
    reruns = np.flatnonzero(out[:, 0])
    for e in reruns.tolist():
        si, qi = divmod(e, n_q)
        ep = Episode(store.questions[qi], seeds[si])
        try:
            replayed = run_episode(compiled, ep)
        except RuntimeFault as fault:
            raise EpisodeFault(
                fault.message, fault.span, runner.path, store.name, qi, seeds[si]
            ) from None
        out[e] = (0, replayed, ep.cost, ep.seq_cost, ep.opened, ep.total_reads)
    answer = out[:, 1].astype(np.int32)
    gold = np.tile(d.gold, len(seeds))
    return Evaluation(
        store=store.name,
        n_questions=n_q,
        seeds=seeds,
        answer=answer,
        correct=out[:, 1] == gold,
        cost=out[:, 2].copy(),
        seq_cost=out[:, 3].copy(),
        opened=out[:, 4].astype(np.int32),
        reads=out[:, 5].copy(),
        wall_seconds=time.perf_counter() - started,
        reruns=int(reruns.size),
        backend="numba" if kern.jit else "python",
    )
