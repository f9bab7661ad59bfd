"""Reading a proposer's reply: a complete program, or SEARCH/REPLACE edits
against a named parent, applied tolerantly.

A reply is, in order of precedence:

1. SEARCH/REPLACE blocks (`<<<<<<< SEARCH` … `=======` … `>>>>>>> REPLACE`)
   against the parent named on a `PARENT: <id>` line (default: the parent
   the prompt suggested). A block's SEARCH text is matched ignoring how
   whitespace is laid out (runs of whitespace compare equal; failing that,
   whitespace is ignored altogether) and must match exactly once.
2. A complete program in a fenced block (```tts, or any fence holding a
   `controller` header; the last such block wins).
3. Bare program text starting with `controller` (what a grammar-constrained
   backend produces).

Anything else is refused with a message the proposer can act on; a block
that does not apply gets a precise message and a request for the complete
program instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Literal

from ..records import record

ReplyKind = Literal["program", "edit", "no-program", "edit-failed", "unknown-parent"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_BLOCK = re.compile(
    r"^[ \t]*<{5,}[ \t]*SEARCH[ \t]*\n(.*?)"
    r"^[ \t]*={5,}[ \t]*\n(.*?)"
    r"^[ \t]*>{5,}[ \t]*REPLACE[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
_PARENT = re.compile(r"^[ \t*#>-]*PARENT[ \t*]*:[ \t*`]*([A-Za-z0-9_.-]+)", re.MULTILINE | re.I)
_HEADER = re.compile(r"^\s*controller\s+[A-Za-z_]", re.MULTILINE)

FULL_PROGRAM_REQUEST = (
    "Reply with the complete program in one ```tts fenced block instead (no SEARCH/REPLACE)."
)


@record
class EditBlock:
    search: str
    replace: str


@record
class Reply:
    """What a reply amounts to. `source` is set for kinds `program` and
    `edit`; `message` (for the proposer) for the others."""

    kind: ReplyKind
    source: str | None
    parent: str | None
    rationale: str
    message: str = ""


class EditError(ValueError):
    """A SEARCH/REPLACE block that does not apply (message says why)."""


# ---------------------------------------------------------------------------
# Tolerant matching


def _squeeze(text: str, drop_spaces: bool) -> tuple[str, list[int]]:
    """Text with whitespace runs squeezed to one space (or dropped), and for
    each output character its index in `text`."""
    chars: list[str] = []
    where: list[int] = []
    gap = False
    for i, ch in enumerate(text):
        if ch.isspace():
            gap = True
            continue
        if gap and chars and not drop_spaces:
            chars.append(" ")
            where.append(i - 1)
        gap = False
        chars.append(ch)
        where.append(i)
    return "".join(chars), where


def _occurrences(hay: str, needle: str) -> list[int]:
    out: list[int] = []
    start = hay.find(needle)
    while start >= 0:
        out.append(start)
        start = hay.find(needle, start + max(1, len(needle)))
    return out


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _closest_line(source: str, search: str) -> str:
    first = next((ln.strip() for ln in search.splitlines() if ln.strip()), "")
    if not first:
        return ""
    best, best_no, best_text = 0.0, 0, ""
    for no, line in enumerate(source.splitlines(), 1):
        ratio = difflib.SequenceMatcher(None, first, line.strip()).ratio()
        if ratio > best:
            best, best_no, best_text = ratio, no, line.strip()
    if best < 0.4:
        return ""
    return f" The closest line of the parent is line {best_no}: `{best_text}`."


def apply_block(source: str, block: EditBlock) -> str:
    """Apply one block; raises `EditError` unless its SEARCH text occurs
    exactly once (comparing with whitespace squeezed, then ignored)."""
    if not block.search.strip():
        raise EditError("its SEARCH text is empty")
    for drop in (False, True):
        hay, where = _squeeze(source, drop)
        needle, _ = _squeeze(block.search, drop)
        needle = needle.strip()
        hits = _occurrences(hay, needle)
        if len(hits) > 1:
            lines = ", ".join(str(_line_of(source, where[h])) for h in hits[:5])
            raise EditError(
                f"its SEARCH text matches {len(hits)} places (lines {lines}); "
                "include more surrounding lines so it matches exactly one"
            )
        if hits:
            start = where[hits[0]]
            end = where[hits[0] + len(needle) - 1] + 1
            line_start = source.rfind("\n", 0, start) + 1
            replacement = block.replace.rstrip("\n")
            if not source[line_start:start].strip() and replacement[:1].isspace():
                start = line_start  # the replacement brings its own indentation
            return source[:start] + replacement + source[end:]
    raise EditError(
        "its SEARCH text was not found in the parent, even ignoring whitespace."
        + _closest_line(source, block.search)
    )


def apply_edits(source: str, blocks: list[EditBlock], parent: str) -> str:
    """Apply blocks in order; all or nothing."""
    text = source
    for i, block in enumerate(blocks, 1):
        try:
            text = apply_block(text, block)
        except EditError as exc:
            raise EditError(
                f"SEARCH/REPLACE block {i} of {len(blocks)} does not apply to parent "
                f"{parent}: {exc} No edit was applied."
            ) from None
    return text


# ---------------------------------------------------------------------------
# Replies


def _rationale(text: str) -> str:
    bare = _BLOCK.sub("", _FENCE.sub("", text))
    bare = re.sub(r"^[ \t]*PARENT[ \t]*:.*$", "", bare, flags=re.MULTILINE | re.I)
    words = " ".join(bare.split())
    return words[:600] + ("…" if len(words) > 600 else "")


def _program_block(text: str) -> str | None:
    fences = list(_FENCE.finditer(text))
    tagged = [m.group(2) for m in fences if m.group(1).lower() in ("tts", "tts-dsl")]
    if tagged:
        return tagged[-1]
    headed = [m.group(2) for m in fences if _HEADER.search(m.group(2))]
    if headed:
        return headed[-1]
    if not fences and _bare_program(text):
        return text
    return None


def _leading_comment(text: str) -> str:
    """The first paragraph of `#` comments at the top of a program."""
    notes: list[str] = []
    for line in text.lstrip().splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        notes.append(stripped.lstrip("#").strip())
    first = notes.index("") if "" in notes else len(notes)
    return " ".join(notes[:first])[:600]


def _bare_program(text: str) -> bool:
    """Only blank and comment lines come before a `controller` header."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("controller"):
            return True
        if stripped and not stripped.startswith("#"):
            return False
    return False


def nearest_program(source: str, programs: Mapping[str, str]) -> str | None:
    """The shown program a complete reply is closest to (line by line), so a
    program written without `PARENT:` is credited to what it came from."""
    mine = [ln.strip() for ln in source.splitlines() if ln.strip()]
    best, best_ratio = None, -1.0
    for label in sorted(programs):
        theirs = [ln.strip() for ln in programs[label].splitlines() if ln.strip()]
        ratio = difflib.SequenceMatcher(None, mine, theirs, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = label, ratio
    return best


def read_reply(text: str, parents: Mapping[str, str], default_parent: str | None) -> Reply:
    """Turn a reply into a program text (or a message saying what is wrong).

    `parents` maps the ids the prompt showed to their source text."""
    rationale = _rationale(text)
    blocks = [EditBlock(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]
    if blocks:
        named = _PARENT.search(text)
        parent = named.group(1) if named else default_parent
        if parent is None or parent not in parents:
            shown = ", ".join(sorted(parents)) or "none"
            what = (
                f"`PARENT: {parent}` is not a program of the prompt"
                if parent
                else ("no `PARENT: <id>` line names the program the edits apply to")
            )
            return Reply(
                "unknown-parent",
                None,
                parent,
                rationale,
                f"Your SEARCH/REPLACE edits cannot be applied: {what} (ids: {shown}). "
                + FULL_PROGRAM_REQUEST,
            )
        try:
            source = apply_edits(parents[parent], blocks, parent)
        except EditError as exc:
            return Reply("edit-failed", None, parent, rationale, f"{exc} {FULL_PROGRAM_REQUEST}")
        return Reply("edit", source, parent, rationale)
    program = _program_block(text)
    if program is not None:
        named = _PARENT.search(text)
        parent = (
            named.group(1)
            if named and named.group(1) in parents
            else nearest_program(program, parents) or default_parent
        )
        if program is text:  # a bare program: its leading comments are the rationale
            rationale = _leading_comment(text)
        return Reply("program", program.strip() + "\n", parent, rationale)
    return Reply(
        "no-program",
        None,
        None,
        rationale,
        "Your reply holds no program: give either SEARCH/REPLACE blocks after a "
        "`PARENT: <id>` line, or the complete program in one ```tts fenced block.",
    )
