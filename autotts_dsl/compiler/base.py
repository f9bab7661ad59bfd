"""Shared pieces of the compiler: constant closures, symbols, scopes,
the compiled result and the base class holding diagnostics and slots."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import ast
from ..builtins import (
    RESERVED,
)
from ..diagnostics import Diagnostic, Span
from ..records import record
from ..runtime import Ctx
from ..scopes import Scope
from ..types import T

Fn = Callable[[Ctx], Any]
Action = Callable[[Ctx], None]

DEFAULT_FUEL = 1_000_000
DEFAULT_MAX_ROUNDS = 1000
LIMIT_MINIMUM = {"max_branches": 0, "max_rounds": 0, "fuel": 1}
# The most a program may declare (E109 above): with these, every episode's work
# has a static bound (`checker/cost.py`) and every array the compiled backend
# allocates has a bounded size.
LIMIT_MAXIMUM = {"max_branches": 4096, "max_rounds": 100_000, "fuel": 10_000_000}
LIMIT_NAMES = tuple(LIMIT_MINIMUM)
DEFAULT_MAX_BRANCHES = LIMIT_MAXIMUM["max_branches"]  # "all the question has", up to the cap
MAX_WINDOW = 100_000
MAX_WINDOW_TOTAL = 1_000_000  # entries over all windows of a program


class _Const:
    """Marks a folded constant closure (so callers can fold further)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, c: Ctx) -> Any:
        return self.value


@record(frozen=False)
class Sym:
    kind: str  # const | state | local | branchvar | value
    type: T | None  # None: its definition had an error (suppresses follow-on errors)
    slot: int = -1
    value: Any = None
    size: int = 0  # window capacity


@record(frozen=False)
class Compiled:
    """A program specialised to one β and one set of parameters."""

    program: ast.Program
    beta: float
    knobs: dict[str, Any]
    params: dict[str, Any]
    max_branches: int
    max_rounds: int
    fuel: int
    init: Action
    round: Action
    final: Action
    make_state: Callable[[], list[Any]]
    field_inits: tuple[Any, ...]
    n_locals: int
    state_names: tuple[str, ...] = ()
    field_names: tuple[str, ...] = ()
    source: str = ""
    path: str = ""

    @property
    def constants(self) -> dict[str, Any]:
        return {**self.params, **self.knobs}


_Scope = Scope[Sym]


class CompilerBase:
    """State shared by every compiler layer: the program, diagnostics, slots."""

    def __init__(
        self,
        program: ast.Program,
        beta: float,
        overrides: Mapping[str, Any],
        tracing: bool,
        source: str,
    ) -> None:
        self.program = program
        self.beta = beta
        self.overrides = dict(overrides)
        self.tracing = tracing
        self.source_lines = source.split("\n")
        self.diags: list[Diagnostic] = []
        self.n_locals = 0
        self.global_scope = _Scope()
        self.fields: dict[str, tuple[int, T]] = {}
        self.max_branches = DEFAULT_MAX_BRANCHES
        self.in_final = False

    # -- diagnostics -------------------------------------------------------------

    def error(self, code: str, message: str, span: Span, label: str = "", hint: str = "") -> None:
        self.diags.append(Diagnostic(code, "error", message, span, label=label, hint=hint))

    # -- declarations --------------------------------------------------------------

    def declare(self, scope: _Scope, name: str, sym: Sym, span: Span) -> None:
        if name in RESERVED:
            self.error(
                "E103",
                f"`{name}` is a builtin name and cannot be redeclared",
                span,
                label="reserved",
                hint="choose another name",
            )
            return
        if scope.lookup(name) is not None:
            self.error(
                "E104",
                f"`{name}` is already defined",
                span,
                label="redefined here",
                hint="names cannot be shadowed; choose another name",
            )
            return
        scope.names[name] = sym

    def new_local(self) -> int:
        self.n_locals += 1
        return self.n_locals - 1

    in_body = False
    _gen_elem: T = T.FLOAT
    in_init = False
    current_rule: str | None = None
    field_inits: tuple[Any, ...] = ()


def _noop(c: Ctx) -> None:
    return None
