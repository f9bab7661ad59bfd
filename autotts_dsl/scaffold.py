"""Starting points for a new program: a template, or a copy of another
program under a new controller name (`tts-dsl new NAME [--from cmc]`)."""

from __future__ import annotations

import re

from .parser import KEYWORDS, parse

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_RE = re.compile(r"^(\s*controller\s+)([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)

TEMPLATE = """\
# {name} — a test-time-scaling controller (see docs/language.md).
#
# Opens a few traces, reads them one interval per round, and stops as soon
# as enough have finished and agree. β buys accuracy with tokens: every knob
# below is declared `up` or `down` with β, and `tts-dsl check` proves it.

controller {name} "A starting point: widen, deepen, stop on agreement"

schedule {{
  n_init   : int   up = max(2, round(2 + 6*beta))  # traces opened first
  max_open : int   up = round(8 + 56*beta)  # most traces ever opened
  agree    : float up = round(0.6 + 0.35*beta, 4)  # share that must agree
}}

init {{ spawn n_init }}

round {{
  let w = winner(completed)
  rule agreed: when count(completed) >= 2 and share(completed, w) >= agree do answer w
  rule widen: when count(running) == 0 and remaining > 0 and spawned < max_open do spawn 1
  rule deepen: for b in running do step b
}}

finally {{ answer winner(completed) ?? winner(answers(b in alive where b.answer != none)) }}
"""


class ScaffoldError(ValueError):
    """A name that cannot be a controller name, or a source without a header."""


def check_name(name: str) -> None:
    """Raise ScaffoldError unless `name` can follow `controller`."""
    if not NAME_RE.fullmatch(name):
        raise ScaffoldError(
            f"{name!r} cannot be a controller name: use letters, digits and `_`, "
            "not starting with a digit"
        )
    if name in KEYWORDS:
        raise ScaffoldError(f"{name!r} is a reserved word of the language; choose another name")


def template(name: str) -> str:
    """A small working program named `name` (it passes `tts-dsl check`)."""
    check_name(name)
    return TEMPLATE.format(name=name)


def renamed_copy(source: str, name: str, origin: str) -> str:
    """`source` with its controller renamed to `name`, and a first comment
    line saying where it came from. The result parses, with that name."""
    check_name(name)
    text, n = _HEADER_RE.subn(lambda m: m.group(1) + name, source, count=1)
    if n != 1:
        raise ScaffoldError(f"{origin}: no `controller NAME` header to rename")
    out = f"# Started from {origin} by `tts-dsl new`.\n{text}"
    if parse(out, origin).name != name:  # the regex met a comment or a string first
        raise ScaffoldError(f"{origin}: could not rename its controller header")
    return out
