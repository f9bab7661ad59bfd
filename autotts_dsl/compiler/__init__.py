"""Name resolution, typing and compilation of a program to closures.

`compile_program(program, beta, overrides)` evaluates the schedule, params
and limits to constants (the knobs of one β), resolves every name, checks
types, and turns every expression and statement into a Python closure over
a `Ctx`. Constant subexpressions are folded. Type and name errors are
collected as diagnostics and raised together as one `DiagnosticError`.

The compiler is layered, each layer using only those below it:
base → exprs → tracing → stmts → program.
"""

from .base import DEFAULT_FUEL, DEFAULT_MAX_ROUNDS, LIMIT_NAMES, Compiled
from .program import compile_program

__all__ = [
    "DEFAULT_FUEL",
    "DEFAULT_MAX_ROUNDS",
    "LIMIT_NAMES",
    "Compiled",
    "compile_program",
]
