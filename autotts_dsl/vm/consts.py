"""The constant registers for one (β, params), computed by the reference compiler.

Knobs, params, limits, initial values and folded sub-expressions come from
the reference's own folding (so rounding, overrides and `--param` checks
agree by construction); literals carry their value from the lowering.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

from ..compiler import Compiled
from ..compiler.base import _Const
from ..compiler.program import ProgramCompiler
from .lower import Layout, Unsupported

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def constants(
    layout: Layout,
    program_compiler: ProgramCompiler,
    compiled: Compiled,
) -> tuple[array[int], array[float]]:
    """The int and float constant banks, in register order.

    `program_compiler` must have compiled its declarations for the same β and
    params as `compiled` (it folds the body's constant sub-expressions)."""
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
        if c.kind == "lit":
            value = c.value
        elif c.kind == "beta":
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
            fn, _ = program_compiler.expr(c.expr, program_compiler.global_scope)
            if not isinstance(fn, _Const):
                raise Unsupported("a constant the reference does not fold")
            value = fn.value
        if c.bank == "f":
            floats.append(float(value))
        else:
            iv = int(value)
            if not _I64_MIN <= iv <= _I64_MAX:
                raise Unsupported("a constant beyond 64 bits")
            ints.append(iv)
    return array("q", ints), array("d", floats)


def folder_for(
    compiled: Compiled, program: Any, params: Mapping[str, Any], source: str
) -> ProgramCompiler:
    """A reference compiler with the declarations of this (β, params) compiled,
    ready to fold constant expressions of the body."""
    folder = ProgramCompiler(program, compiled.beta, dict(params), False, source)
    folder.compile_decls()
    return folder
