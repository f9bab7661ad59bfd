"""Finding programs: a file path, or the name of a stdlib controller."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import did_you_mean
from .parser import parse

if TYPE_CHECKING:  # the engine loads with the first program run, not for `check`
    from .interpreter import ProgramRunner

STDLIB_DIR = Path(__file__).parent / "stdlib_controllers"


class ProgramNotFound(FileNotFoundError):
    """Neither a readable file nor a stdlib controller name (or not UTF-8
    text). A `FileNotFoundError`, so callers that only care about "could not
    open it" need not know this type; `str()` is the one-line message."""


def stdlib_names() -> list[str]:
    return sorted(p.stem for p in STDLIB_DIR.glob("*.tts"))


def resolve_program_path(spec: str) -> Path:
    """`cmc` → the stdlib's cmc.tts; anything that exists → itself."""
    p = Path(spec)
    if p.is_file():
        return p
    if p.exists():
        raise ProgramNotFound(f"{spec}: is not a file")
    stdlib = STDLIB_DIR / f"{spec.removesuffix('.tts')}.tts"
    if "/" not in spec and stdlib.is_file():
        return stdlib
    hint = did_you_mean(spec.removesuffix(".tts"), stdlib_names())
    raise ProgramNotFound(
        f"{spec}: no such file or stdlib controller"
        + (f"; {hint}" if hint else f" (stdlib: {', '.join(stdlib_names())})")
    )


def load_program(spec: str) -> ProgramRunner:
    """Read and parse a program. Raises ProgramNotFound, OSError, DiagnosticError."""
    from .interpreter import ProgramRunner

    path = resolve_program_path(spec)
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProgramNotFound(f"{spec}: not UTF-8 text") from None
    shown = str(path) if Path(spec).is_file() else f"stdlib/{path.name}"
    return ProgramRunner(parse(source, shown), source, shown)
