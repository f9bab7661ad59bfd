"""Diagnostics: code, span, caret, reason, hint — rendered like rustc/Elm.

Every pass (parser, resolver, checker, runtime) reports problems as
`Diagnostic`s; `DiagnosticError` carries one or more of them out of a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .records import record

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, order=True)
class Span:
    """A source range; lines and columns are 1-based, `end_col` exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int, width: int = 1) -> Span:
        return Span(line, col, line, col + max(1, width))

    def to_json(self) -> dict[str, int]:
        return {
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
        }


NO_SPAN = Span(0, 0, 0, 0)


@record
class Diagnostic:
    """One finding. `code` is stable (tests and proposers key on it)."""

    code: str
    severity: Severity
    message: str
    span: Span = NO_SPAN
    label: str = ""
    hint: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_json(self, path: str = "") -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": path,
            "span": self.span.to_json(),
            "label": self.label,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class DiagnosticError(Exception):
    """Raised by a pass that cannot continue; holds its diagnostics."""

    def __init__(
        self, diagnostics: Sequence[Diagnostic], source: str = "", path: str = "<input>"
    ) -> None:
        self.diagnostics = tuple(diagnostics)
        self.source = source
        self.path = path
        super().__init__(self.diagnostics[0].message if self.diagnostics else "error")

    def render(self) -> str:
        return render_all(self.diagnostics, self.source, self.path)


def render(diag: Diagnostic, source: str, path: str) -> str:
    """Human-readable form with the offending line and a caret under the span."""
    lines = source.split("\n")  # the parser counts lines by "\n" only
    out = [f"{diag.severity}[{diag.code}]: {diag.message}"]
    sp = diag.span
    if sp.line > 0:
        gutter = len(str(sp.line))
        pad = " " * gutter
        out.append(f"{pad}--> {path}:{sp.line}:{sp.col}")
        if sp.line <= len(lines):
            text = lines[sp.line - 1].expandtabs(1)
            end = sp.end_col if sp.end_line == sp.line else len(text) + 1
            width = max(1, end - sp.col)
            out.append(f"{pad} |")
            out.append(f"{sp.line} | {text}")
            caret = " " * (sp.col - 1) + "^" * width
            out.append(f"{pad} | {caret}{' ' + diag.label if diag.label else ''}")
        out.append(f"{pad} |")
    for note in diag.notes:
        out.append(f"   = note: {note}")
    if diag.hint:
        out.append(f"   = hint: {diag.hint}")
    return "\n".join(out)


def render_all(diags: Iterable[Diagnostic], source: str, path: str) -> str:
    return "\n\n".join(render(d, source, path) for d in diags)


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' hint for a misspelt name, or '' when nothing is close."""
    best = sorted((edit_distance(name, c), c) for c in set(candidates) if c != name)
    if best and best[0][0] <= max(1, len(name) // 3):
        return f"did you mean `{best[0][1]}`?"
    return ""
