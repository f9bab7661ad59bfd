"""How much structure a program changes against the reference.

The final pick prefers the program that changes the least structure among
those whose gain is plausible (see `loop.Search.pick`): on the 30 search
questions a retune of the reference's constants carried over to held-out
questions, while added rules mostly fitted the search questions (measured by
`benchmarks/discovery_selection.py`, docs/search.md "The final pick").

The measure: both programs with every number literal blanked and the name
and description dropped, formatted, and compared line by line; the lines
added plus the lines removed. A constant-only edit scores 0.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from .. import ast
from ..fmt import format_program
from .astops import rebuild

_BLANK_INT = ast.IntLit(0)
_BLANK_FLOAT = ast.FloatLit(0.0, "0.0")


def _blank(node: object) -> object | None:
    if isinstance(node, ast.IntLit):
        return _BLANK_INT
    if isinstance(node, ast.FloatLit):
        return _BLANK_FLOAT
    return None


def skeleton(program: ast.Program) -> tuple[str, ...]:
    """The program's formatted lines with its numbers blanked (its shape)."""
    bare = dataclasses.replace(rebuild(program, _blank), name="", description="")
    # whitespace collapsed: a longer new knob name realigns the whole table
    lines = (" ".join(line.split()) for line in format_program(bare).splitlines())
    return tuple(line for line in lines if line)


def structural_change(program: ast.Program, reference: tuple[str, ...]) -> int:
    """Lines added plus lines removed between `program`'s skeleton and the
    reference's (`skeleton(reference_program)`)."""
    mine = skeleton(program)
    if mine == reference:
        return 0
    matcher = difflib.SequenceMatcher(a=reference, b=mine, autojunk=False)
    same = sum(block.size for block in matcher.get_matching_blocks())
    return (len(reference) - same) + (len(mine) - same)


_COMMENT = re.compile(r"#[^\n]*")
_HEADER = re.compile(r"^\s*controller\b[^\n]*$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.])")


def _bare_text(source: str) -> str:
    return _HEADER.sub("", _COMMENT.sub("", source), count=1)


def text_shape(source: str) -> str:
    """A parse-free stand-in for `skeleton`: comments, the `controller` line
    and number values dropped, whitespace collapsed. Two sources with the
    same text shape differ only in their numbers (and name), so their
    skeletons are equal; for the search's own (formatted) programs the
    converse holds too, but text in another layout needs `structural_change`."""
    return " ".join(_NUMBER.sub("0", _bare_text(source)).split())


def words(source: str) -> tuple[str, ...]:
    """The names and keywords of a program in order, without its header or
    comments. Layout and parentheses do not change them, so programs with
    equal skeletons have equal words: unequal words rule a retune out
    without parsing."""
    return tuple(_WORD.findall(_NUMBER.sub("0", _bare_text(source))))  # not 1e-05's e
