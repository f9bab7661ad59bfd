"""Evaluating a program on the VM: lowering (cached per program structure),
constants (per β and params), the C loop over every episode, and the
reference interpreter for the episodes the VM hands back.

`evaluate(program, compiled, source, path, store, params, seeds)` returns the
same `Evaluation` as the reference interpreter, episode for episode.
"""

from __future__ import annotations

import functools
import time
import warnings
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from .. import ast
from ..compiler import Compiled
from ..reference import replay_episode
from ..replay.protocol import Evaluation
from ..replay.store import ReplayStore
from . import cells
from .consts import constants, folder_for
from .lower import Lowered, Unsupported, header, lower
from .opcodes import digest

# Windows larger than this are left to the reference (the VM allocates them up front).
MAX_WINDOW = 1 << 22


@functools.cache
def native() -> Any:
    """The compiled extension module, or None when it was not built (or was
    built from another instruction set: a stale build after an update)."""
    try:
        import autotts_dsl._vm as _vm
    except ImportError:
        return None
    if getattr(_vm, "OPCODES_DIGEST", None) != digest():
        warnings.warn(
            "autotts_dsl._vm was built from another version of vm.c; "
            "reinstall tts-dsl (pip install -e .) to rebuild it",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _vm


def available() -> bool:
    return native() is not None


class Program:
    """A program lowered once: its code and header as arrays, ready for any β."""

    def __init__(self, lowered: Lowered) -> None:
        self.lowered = lowered
        self.code = array("i", lowered.code)
        self.header = array("q", header(lowered))


_PROGRAMS: dict[str, Program | Unsupported] = {}


def program_for(program: ast.Program) -> Program:
    """The lowered program (cached by structure); raises `Unsupported`."""
    key = repr(program)
    got = _PROGRAMS.get(key)
    if got is None:
        try:
            got = Program(lower(program))
        except Unsupported as why:
            got = why
        if len(_PROGRAMS) > 4096:
            _PROGRAMS.clear()
        _PROGRAMS[key] = got
    if isinstance(got, Unsupported):
        raise got
    return got


def evaluate(
    program: ast.Program,
    compiled: Compiled,
    source: str,
    path: str,
    store: ReplayStore,
    params: Mapping[str, Any],
    seeds: Sequence[int],
) -> Evaluation:
    """Every (seed, question) episode of `store` on the VM, for the program
    compiled by the reference at one (β, params). Raises `Unsupported` when
    the program (or a value it needs) is beyond the VM."""
    vm = native()
    if vm is None:
        raise Unsupported("the VM extension (autotts_dsl._vm) is not built")
    seeds = tuple(seeds)
    prog = program_for(program)
    folder = folder_for(compiled, program, params, source)
    ci, cf = constants(prog.lowered.layout, folder, compiled)
    for _, cap in prog.lowered.layout.windows:
        if ci[cap.index - _n_special()] > MAX_WINDOW:
            raise Unsupported("a window larger than the VM allocates")
    started = time.perf_counter()
    d = store.flat()
    n_q = len(store.questions)
    order, rows = cells.order_rows(d, seeds)
    width = max(1, d.width)
    n_max = max(1, min(width, compiled.max_branches))
    table = cells.beta_table(n_max)
    n_ep = len(seeds) * n_q
    out = array("q", bytes(8 * 6 * n_ep))  # per episode: status, answer, cost, seq, opened, reads
    vm.run_cell(
        prog.code,
        prog.header,
        ci,
        cf,
        d.probes,
        d.n_probes,
        d.tokens,
        d.finals,
        d.n_branches,
        d.interval,
        order.table,
        rows,
        table,
        out,
        len(prog.code),
        n_q,
        d.width,
        d.depth,
        len(seeds),
        order.n_sets,
        order.width,
        n_max + 1,
        len(store.vocab),
    )
    status = out[0::6]
    reruns = [e for e in range(n_ep) if status[e]] if any(status) else []
    for e in reruns:
        si, qi = divmod(e, n_q)
        ep = replay_episode(compiled, path, store, qi, seeds[si])
        out[6 * e : 6 * e + 6] = array(
            "q", (0, ep.answer, ep.cost, ep.seq_cost, ep.opened, ep.total_reads)
        )
    answer = array("i", out[1::6])
    gold = d.gold
    correct = array("b", [a == gold[e % n_q] for e, a in enumerate(answer)])
    return Evaluation(
        store=store.name,
        n_questions=n_q,
        seeds=seeds,
        answer=answer,
        correct=correct,
        cost=out[2::6],
        seq_cost=out[3::6],
        opened=array("i", out[4::6]),
        reads=out[5::6],
        wall_seconds=time.perf_counter() - started,
        reruns=len(reruns),
        backend="vm",
    )


def _n_special() -> int:
    from .opcodes import SPECIAL_REGS

    return len(SPECIAL_REGS)


def disassemble(program: ast.Program) -> str:
    """The program's VM code, one instruction per line (for debugging)."""
    return "\n".join(program_for(program).lowered.listing)
