"""Writing programs: the canonical layout, new programs from a template or a
stdlib controller, and the grammar for constrained decoders.

Light, like `api.programs`: parser-level code only.
"""

from __future__ import annotations

from ..grammar_export import DIALECTS as GRAMMAR_DIALECTS
from ..grammar_export import GrammarExportError
from ..scaffold import ScaffoldError

__all__ = [
    "GRAMMAR_DIALECTS",
    "FormatError",
    "GrammarExportError",
    "ScaffoldError",
    "format_program",
    "grammar",
    "new_program",
]


class FormatError(RuntimeError):
    """The formatter refused to hand back text that lost a comment (a bug
    in the formatter; the source is left as it was)."""


def format_program(source: str, path: str = "<source>") -> str:
    """`source` in the canonical layout (what `tts-dsl fmt` writes), its
    comments kept. Raises `ProgramError` on a syntax error, `FormatError`
    if formatting would lose a comment."""
    from ..diagnostics import DiagnosticError
    from ..fmt import fmt
    from .programs import ProgramError

    try:
        return fmt(source, path)
    except DiagnosticError as err:
        raise ProgramError(err.diagnostics, source, path) from None
    except RuntimeError as err:
        raise FormatError(str(err)) from None


def new_program(name: str, *, start_from: str | None = None) -> str:
    """The text of a new program called `name`: a small template that passes
    `check`, or with `start_from` (a stdlib name or a file) a copy of that
    program renamed to `name`, with a first comment saying where it came
    from. Raises `ScaffoldError` (a name that cannot be a controller name),
    `ProgramNotFound` or `OSError`."""
    from ..scaffold import renamed_copy, template
    from .programs import read_program

    if start_from is None:
        return template(name)
    origin = read_program(start_from)
    return renamed_copy(origin.text, name, origin.path)


def grammar(dialect: str = "llguidance") -> str:
    """The language's grammar for constrained decoders: `"llguidance"` (the
    dialect of llguidance and of vLLM's `guidance` structured-output
    backend) or `"lark"` (grammar/tts.lark, the source of truth). Raises
    `GrammarExportError`."""
    from ..grammar_export import export_grammar

    return export_grammar(dialect)
