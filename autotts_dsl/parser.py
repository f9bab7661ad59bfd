"""Source text → typed AST (`ast.Program`), with syntax errors as diagnostics.

The public face of parsing, kept free of Lark so that importing it costs
nothing: `parse` looks in the parse cache first (when asked to: programs
read from files) and hands anything else to the Lark front end
(lark_front.py), which builds the tree, the AST and the error messages.
"""

from __future__ import annotations

from pathlib import Path

from . import ast
from .diagnostics import Diagnostic, DiagnosticError, Span

GRAMMAR_PATH = Path(__file__).parent / "grammar" / "tts.lark"

# Words the grammar uses as keywords. Some are contextual (`round`), but the
# loop-clause words can follow any expression, so they are reserved as names.
KEYWORDS = frozenset(
    [
        "controller",
        "limits",
        "params",
        "schedule",
        "state",
        "branch",
        "init",
        "round",
        "finally",
        "let",
        "if",
        "elif",
        "else",
        "for",
        "in",
        "where",
        "order",
        "by",
        "asc",
        "desc",
        "limit",
        "repeat",
        "rule",
        "when",
        "do",
        "spawn",
        "read_full",
        "step",
        "times",
        "prune",
        "answer",
        "stop",
        "and",
        "or",
        "not",
        "true",
        "false",
        "none",
        "up",
        "down",
        "const",
    ]
)


MAX_DEPTH = 200
"""Deepest parse tree accepted (about 100 nested blocks, or a chain of 190
operators). Every later pass walks the program recursively; this keeps them
far from Python's recursion limit."""


def normalize_newlines(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\r", "\n")


def parse(source: str, path: str = "<input>", *, cached: bool = False) -> ast.Program:
    """Parse a tts-dsl program. Raises `DiagnosticError` on a syntax error.

    Line ends are normalised to `\n` first (`\r\n` and a lone `\r` alike),
    so every pass counts lines the way the parser does. With `cached`, the
    AST of text parsed before (by the same grammar and parser code) is read
    back from the parse cache instead: meant for program files, which are
    parsed again by every command; text made in process (search
    candidates) is left out so it never fills the cache."""
    source = normalize_newlines(source)
    if "\x00" in source:
        idx = source.index("\x00")
        line = source.count("\n", 0, idx) + 1
        col = idx - (source.rfind("\n", 0, idx) + 1) + 1
        raise DiagnosticError(
            [Diagnostic("E001", "error", "NUL byte in program text", Span.point(line, col))],
            source,
            path,
        )
    if cached:
        from . import parse_cache

        hit = parse_cache.get(source)
        if hit is not None:
            return hit
    from .lark_front import parse_normalized

    program = parse_normalized(source, path)
    if cached:
        parse_cache.put(source, program)
    return program


def parse_file(path: str | Path) -> tuple[ast.Program, str]:
    """Read and parse a program file (through the parse cache); returns
    (program, source text)."""
    p = Path(path)
    source = normalize_newlines(p.read_text(encoding="utf-8"))
    return parse(source, str(p), cached=True), source
