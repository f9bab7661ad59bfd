"""Programs: finding, loading and checking them.

Light on purpose: the parser and the checker, never the engines (`tts-dsl
check` runs on this module, and a test keeps numpy and pandas off its path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..checker import CheckReport, KnobRow
from ..diagnostics import Diagnostic, DiagnosticError, render_all
from ..programs import STDLIB_DIR, ProgramNotFound, resolve_program_path, stdlib_names
from ..records import record

if TYPE_CHECKING:
    from .. import ast
    from ..interpreter import ProgramRunner

__all__ = [
    "CheckReport",
    "Diagnostic",
    "KnobRow",
    "Program",
    "ProgramError",
    "ProgramLike",
    "ProgramNotFound",
    "ProgramText",
    "StdlibEntry",
    "check",
    "load",
    "read_program",
    "stdlib",
    "stdlib_names",
    "stdlib_source",
]


class ProgramError(ValueError):
    """A program that does not parse or compile; `.diagnostics` holds them,
    `.path` is where it came from and `str()` is the rendered diagnostics."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str, path: str) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        self.path = path
        super().__init__(render_all(self.diagnostics, source, path))

    def render(self) -> str:
        """The diagnostics as `tts-dsl` prints them (with source excerpts)."""
        return str(self)


@record
class ProgramText:
    """Program text as read: `path` is the name to show (`stdlib/cmc.tts` for
    a stdlib controller, the path as given for a file) and `file` the file
    one may write back to (None for the stdlib)."""

    text: str
    path: str
    file: Path | None


def read_program(spec: str | Path) -> ProgramText:
    """The text of a program file or stdlib controller, without parsing it.
    Raises `ProgramNotFound` (no such file or name, or not UTF-8 text) or
    `OSError` (the file cannot be read)."""
    name = str(spec)
    path = resolve_program_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProgramNotFound(f"{name}: not UTF-8 text") from None
    if Path(name).is_file():
        return ProgramText(text, str(path), path)
    return ProgramText(text, f"stdlib/{path.name}", None)


@record
class Program:
    """A parsed program: its text, where it came from, and its declarations.
    Compiling and running it load the engines on first use."""

    name: str
    path: str
    source: str
    tree: ast.Program = field(repr=False, compare=False)

    @cached_property
    def runner(self) -> ProgramRunner:
        """The engine-facing runner (compiles per β, evaluates on stores)."""
        from ..interpreter import ProgramRunner

        return ProgramRunner(self.tree, self.source, self.path)

    @property
    def description(self) -> str:
        return self.tree.description

    @property
    def params(self) -> dict[str, str]:
        """Declared params: name -> type."""
        return {p.name: p.type for p in self.tree.params}

    @property
    def knobs(self) -> dict[str, str]:
        """Schedule knobs: name -> declared direction in β (up, down, const)."""
        return {k.name: k.direction for k in self.tree.knobs}

    @property
    def declared(self) -> frozenset[str]:
        """Every name `params=` may set: the params and the knobs."""
        return frozenset(self.params) | frozenset(self.knobs)

    @property
    def program_hash(self) -> str:
        from ..ast import program_hash

        return program_hash(self.tree)

    def constants(
        self, beta: float = 0.5, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Every param and knob value at β, typed as the program reads them
        (raises `ProgramError` when it does not compile there, e.g. a
        `params` name it does not declare)."""
        try:
            return dict(self.runner.compile(beta, dict(params or {})).constants)
        except DiagnosticError as err:
            raise ProgramError(err.diagnostics, self.source, self.path) from None

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(d)}</td></tr>"
            for n, d in self.knobs.items()
        )
        desc = html.escape(self.description or "")
        return (
            f"<div><b>{html.escape(self.name)}</b> <small>{html.escape(self.path)}</small>"
            f"<br>{desc}<table><tr><th>knob</th><th>direction</th></tr>{rows}</table></div>"
        )


ProgramLike: TypeAlias = "Program | ProgramText | str | Path"
"""What `load` accepts: a `Program`, a stdlib name, a file path, program
text, or the `ProgramText` that `read_program` gives."""


def _is_text(spec: object) -> bool:
    return isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith("controller"))


def _parse(text: str, path: str, *, from_file: bool) -> Program:
    from ..parser import parse

    try:
        tree = parse(text, path, cached=from_file)  # a file's AST may come from the parse cache
    except DiagnosticError as err:
        raise ProgramError(err.diagnostics, text, path) from None
    return Program(tree.name, path, text, tree)


def load(spec: ProgramLike) -> Program:
    """A program from a stdlib name (`"cmc"`), a file path, or program text
    (anything containing a newline or starting with `controller`). Raises
    `ProgramError` (syntax), `ProgramNotFound` (a `FileNotFoundError`) or
    `OSError`."""
    if isinstance(spec, Program):
        return spec
    if isinstance(spec, ProgramText):
        return _parse(spec.text, spec.path, from_file=True)
    if _is_text(spec):
        return _parse(str(spec), "<source>", from_file=False)
    found = read_program(spec)
    return _parse(found.text, found.path, from_file=True)


def check(
    program: ProgramLike,
    *,
    beta: float = 0.5,
    params: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> CheckReport:
    """Everything `tts-dsl check` proves, as a report object: `.ok`,
    `.diagnostics` (objects with code, severity, message, span), `.knobs`
    (value at `beta`, range, proved direction, polarity), `.render()` for
    text, `.to_json()`, and an HTML view in notebooks. A program that does
    not parse is a report with its syntax errors (never an exception); a
    name or file that is not there raises `ProgramNotFound`."""
    from ..checker import check_program, check_source

    if isinstance(program, Program):
        return check_program(
            program.tree, program.source, program.path, strict=strict, beta=beta, params=params
        )
    if _is_text(program):
        return check_source(str(program), "<source>", strict=strict, beta=beta, params=params)
    found = program if isinstance(program, ProgramText) else read_program(program)
    return check_source(
        found.text, found.path, strict=strict, beta=beta, params=params, cached=True
    )


@record
class StdlibEntry:
    """One stdlib controller: its name, non-comment lines and description."""

    name: str
    lines: int
    description: str


def stdlib() -> list[StdlibEntry]:
    """The stdlib controllers (`load(entry.name)` loads one)."""
    from ..parser import parse

    out = []
    for name in stdlib_names():
        source = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
        code = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        out.append(StdlibEntry(name, len(code), parse(source, name).description))
    return out


def stdlib_source(name: str) -> str:
    """The text of the stdlib controller `name` (`"cmc"`). Raises
    `ProgramNotFound` for anything else, including a path."""
    if "/" in name or name.endswith(".tts"):
        raise ProgramNotFound(f"{name}: give a stdlib name such as `cmc`")
    path = resolve_program_path(name)
    if path.parent != STDLIB_DIR:
        raise ProgramNotFound(f"{name}: not a stdlib controller")
    return path.read_text(encoding="utf-8")
