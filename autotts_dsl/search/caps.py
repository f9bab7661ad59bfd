"""The search's hard caps, enforced on the compiled program before anything
runs.

A proposal may declare whatever limits the language allows; the search only
evaluates programs whose limits, at every β of the grid, stay within caps a
proposal cannot raise: rounds, branches (beyond what the stores hold anyway),
fuel, and window sizes. A program over a cap is rejected like a checker
error, with the line of the limit or window and what to change, so an LLM
proposer can repair it. Together with the executor's wall-clock budget per
cell this bounds what any proposal can cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import ast
from ..builtins import Window
from ..diagnostics import DiagnosticError
from ..interpreter import ProgramRunner
from ..records import record

CAP_CODE = "S002"


@record
class Caps:
    max_rounds: int = 1000
    max_branches: int = 128
    fuel: int = 1_000_000
    window: int = 256

    def to_dict(self) -> dict[str, int]:
        return {
            "max_rounds": self.max_rounds,
            "max_branches": self.max_branches,
            "fuel": self.fuel,
            "window": self.window,
        }


@record
class CapViolation:
    what: str
    value: int
    cap: int
    beta: float
    line: int
    col: int

    def render(self, path: str, source: str) -> str:
        lines = source.splitlines()
        text = lines[self.line - 1].rstrip() if 0 < self.line <= len(lines) else ""
        where = f"{path}:{self.line}:{self.col}" if self.line else path
        caret = f"\n  | {text}" if text else ""
        return (
            f"{where}: error[{CAP_CODE}]: {self.what} = {self.value:,} at β = {self.beta:g} "
            f"exceeds the search's cap of {self.cap:,}{caret}\n"
            f"  = note: the search caps every proposal's rounds, branches, fuel and windows "
            f"(a proposal cannot raise them); keep {self.what} <= {self.cap:,} at every β"
        )


def _limit_span(program: ast.Program, name: str) -> tuple[int, int]:
    for lim in program.limits:
        if lim.name == name:
            return lim.span.line, lim.span.col
    return program.span.line, program.span.col


def _window_span(program: ast.Program, index: int) -> tuple[int, int]:
    decls = [d for d in program.state if d.type.name == "window"]
    if index < len(decls):
        return decls[index].span.line, decls[index].span.col
    return program.span.line, program.span.col


def check_caps(
    runner: ProgramRunner, betas: Sequence[float], caps: Caps, store_branches: int
) -> CapViolation | None:
    """The first cap a program exceeds at some β of the grid (None: within).

    An undeclared `max_branches` is bounded by the stores (`store_branches`,
    the most traces any question holds), so it counts as that."""
    program = runner.program
    for beta in betas:
        try:
            comp = runner.compile(beta)
        except DiagnosticError:
            continue  # the evaluation reports it with the compiler's own words
        branches = min(comp.max_branches, store_branches) if store_branches else comp.max_branches
        checks = (
            ("max_rounds", comp.max_rounds, caps.max_rounds),
            ("max_branches", branches, caps.max_branches),
            ("fuel", comp.fuel, caps.fuel),
        )
        for name, value, cap in checks:
            if value > cap:
                return CapViolation(name, value, cap, beta, *_limit_span(program, name))
        windows = [v for v in comp.make_state() if isinstance(v, Window)]
        for i, w in enumerate(windows):
            if w.capacity > caps.window:
                line, col = _window_span(program, i)
                return CapViolation("window size", w.capacity, caps.window, beta, line, col)
    return None
