"""The language grammar in the dialects decoders accept.

`grammar/tts.lark` is the source of truth (Lark, LALR(1), contextual
lexer). `export_grammar("llguidance")` rewrites it for llguidance, the
Earley parser behind vLLM's `guidance` structured-output backend, whose
Lark-like syntax differs where Lark's lexer does work an Earley parser
does not (docs/grammar.md lists every rewrite and the one known
deviation):

* keywords are contextual in Lark (the parser state picks keyword or
  `NAME`); llguidance would take both readings, so each `NAME` occurrence
  becomes a terminal that excludes the words Lark reads as keywords there
  (`grammar_keywords.keyword_exclusions`);
* after an expression Lark lexes any identifier-shaped word as one token,
  so `a andb` is the name `andb`, never `a and b`; llguidance would split
  it wherever `NAME` cannot follow, so a dead-end `NAME` alternative after
  every expression keeps the word whole;
* terminal priorities are not supported: `FLOAT.2` loses its `.2`, which
  changes nothing because llguidance's lexer takes the longest match and a
  FLOAT match is longer than the INT match wherever both apply;
* `%ignore` is not applied before the first token, so the program may
  start with an explicit run of the ignored terminals (comments on top).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from .grammar_keywords import IDENTIFIER, NameSite, keyword_exclusions
from .parser import GRAMMAR_PATH
from .records import record

DIALECTS = ("llguidance", "lark")
EXPRESSION_RULE = "expr"
START_RULE = "start"
LEADING = "LEADING_IGNORED"
NEVER = "NEVER"
GLUED = "_word_after_expression"
# Terminal priorities whose removal was checked by hand to keep the language
# (see the module docstring); any other priority stops the export.
REVIEWED_PRIORITIES = frozenset({"FLOAT"})


class GrammarExportError(Exception):
    """The grammar has a shape the translation does not handle."""


_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"i?)
  | (?P<regexp>/(?!/)(?:[^/\\\n]|\\.)+/[imslux]*)
  | (?P<arrow>->)
  | (?P<name>[?!]?[A-Za-z_][A-Za-z_0-9]*)
  | (?P<newline>\n)
  | (?P<space>[ \t]+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_DEFINITION = re.compile(r"^([?!]?)([A-Za-z_][A-Za-z_0-9]*)(\.-?\d+)?\s*:", re.MULTILINE)


@record
class _Tok:
    kind: str
    text: str
    start: int


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN.finditer(text)]


def _name_sites(text: str) -> dict[int, NameSite]:
    """Offset of every `NAME` reference in a rule body -> its site."""
    found: dict[int, NameSite] = {}
    rule: str | None = None
    pending: list[int] = []  # NAME offsets of the current alternative
    alias: str | None = None
    depth = 0
    expect_alias = False
    at_line_start = True

    def close() -> None:
        nonlocal pending, alias
        if rule is not None:
            for k, offset in enumerate(pending):
                found[offset] = NameSite(rule, alias, k)
        pending, alias = [], None

    toks = _tokens(text)
    for i, tok in enumerate(toks):
        if tok.kind == "newline":
            at_line_start = True
            continue
        line_start, at_line_start = at_line_start, False
        if line_start and tok.kind not in ("space", "comment"):
            close()  # a definition or a directive starts at column 0
            rule = None
            bare = tok.text.lstrip("?!")
            nxt = next((t for t in toks[i + 1 :] if t.kind != "space"), None)
            is_rule = tok.kind == "name" and bare.lstrip("_")[:1].islower()
            if is_rule and nxt is not None and nxt.text in (":", "."):
                rule, depth = bare, 0
            continue
        if rule is None or tok.kind in ("comment", "space"):
            continue
        if tok.text in "([":
            depth += 1
        elif tok.text in ")]":
            depth -= 1
        elif tok.text == "|" and depth == 0:
            close()
        elif tok.kind == "arrow":
            expect_alias = True
        elif tok.kind == "name" and expect_alias:
            alias, expect_alias = tok.text, False
        elif tok.kind == "name" and tok.text == IDENTIFIER:
            if depth:
                raise GrammarExportError(
                    f"{IDENTIFIER} inside a group of rule `{rule}`: its position "
                    "would not be stable across Lark's expansions"
                )
            pending.append(tok.start)
    close()
    return found


def _variant_names(exclusions: Mapping[NameSite, frozenset[str]]) -> dict[frozenset[str], str]:
    sets = sorted({s for s in exclusions.values() if s}, key=lambda s: (len(s), sorted(s)))
    return {s: f"{IDENTIFIER}_{i}" for i, s in enumerate(sets, 1)}


def _variant_block(
    exclusions: Mapping[NameSite, frozenset[str]], names: Mapping[frozenset[str], str]
) -> str:
    lines = [
        "",
        f"// {IDENTIFIER} where Lark's contextual lexer would read one of these words as a",
        "// keyword (generated from its LALR tables; see autotts_dsl/grammar_keywords.py).",
    ]
    for words, name in names.items():
        users = sorted(
            s.rule + (f"/{s.alias}" if s.alias else "") for s, w in exclusions.items() if w == words
        )
        lines.append(f"// used by: {', '.join(users)}")
        alternatives = " | ".join(f'"{w}"' for w in sorted(words))
        lines.append(f"{name}: {IDENTIFIER} & ~({alternatives})")
    return "\n".join(lines) + "\n"


def _replace_line_of(text: str, rule: str, rewrite: str) -> str:
    """Rewrite the one-line body of `rule` with `rewrite` (`{}` = the old body)."""
    pattern = re.compile(rf"^([?!]?{re.escape(rule)}\s*:)([^\n]*)\n", re.MULTILINE)
    match = pattern.search(text)
    if match is None:
        raise GrammarExportError(f"no rule `{rule}`")
    rest = text[match.end() :]
    if re.match(r"[ \t]+\|", rest):
        raise GrammarExportError(f"rule `{rule}` spans several lines")
    body = match.group(2).strip()
    if "|" in body:
        body = f"({body})"
    return text[: match.start()] + match.group(1) + " " + rewrite.format(body) + "\n" + rest


def _drop_priorities(text: str) -> str:
    def drop(m: re.Match[str]) -> str:
        if m.group(3) is None:
            return m.group(0)
        if m.group(2) not in REVIEWED_PRIORITIES:
            raise GrammarExportError(
                f"priority on `{m.group(2)}`: llguidance has no priorities; check that "
                "the longest match gives the same tokens, then list it in REVIEWED_PRIORITIES"
            )
        return f"{m.group(1)}{m.group(2)}:"

    return _DEFINITION.sub(drop, text)


HEADER = """\
// tts-dsl grammar for llguidance (vLLM `structured_outputs.grammar` with the
// guidance backend). GENERATED from grammar/tts.lark by
// `tts-dsl grammar --dialect llguidance`; edit the source, not this file.
// The rewrites, and why each keeps the language, are in docs/grammar.md.

"""


def llguidance_grammar(source: str) -> str:
    """`source` (Lark text) rewritten for llguidance's Lark-like syntax."""
    exclusions = keyword_exclusions(source)
    sites = _name_sites(source)
    missing = set(exclusions) - set(sites.values())
    unknown = set(sites.values()) - set(exclusions)
    if missing or unknown:
        raise GrammarExportError(
            f"{IDENTIFIER} occurrences disagree with Lark's rules: "
            f"not found in the text {sorted(missing)}, unknown to Lark {sorted(unknown)}"
        )
    names = _variant_names(exclusions)
    out: list[str] = []
    last = 0
    for offset in sorted(sites):
        out.append(source[last:offset])
        name = names.get(exclusions[sites[offset]], IDENTIFIER)
        out.append(name)
        last = offset + len(IDENTIFIER)
        # keep the `->` aliases aligned: eat the padding the longer name needs
        grow = len(name) - len(IDENTIFIER)
        if grow and source.startswith(" " * (grow + 1), last):
            last += grow
    text = "".join(out) + source[last:]

    definition = re.search(rf"^{IDENTIFIER}\s*:[^\n]*\n", text, re.MULTILINE)
    if definition is None:
        raise GrammarExportError(f"no terminal {IDENTIFIER}")
    text = text[: definition.end()] + _variant_block(exclusions, names) + text[definition.end() :]
    text = _drop_priorities(text)

    ignored = re.findall(r"^%ignore\s+([A-Z_][A-Z_0-9]*)\s*$", text, re.MULTILINE)
    if not ignored:
        raise GrammarExportError("no `%ignore` terminal")
    text = _replace_line_of(text, START_RULE, f"{LEADING}? {{}}")
    text = _replace_line_of(text, EXPRESSION_RULE, f"{{}} {GLUED}?")
    text += f"""
// ------------------------------------------------------- llguidance only

// %ignore does not apply before the first token: allow it explicitly.
{LEADING}: ({" | ".join(ignored)})+

// After an expression Lark lexes a whole identifier-shaped word (`a andb` is
// `a` then the name `andb`, an error where no name may follow). This dead
// end keeps the word whole wherever llguidance would otherwise split it.
{GLUED}: {IDENTIFIER} {NEVER}
{NEVER}: /a/ & /b/
"""
    return HEADER + text


@cache
def export_grammar(dialect: str = "llguidance") -> str:
    """The grammar of the language in `dialect` (one of DIALECTS)."""
    source = GRAMMAR_PATH.read_text(encoding="utf-8")
    if dialect == "lark":
        return source
    if dialect == "llguidance":
        return llguidance_grammar(source)
    raise GrammarExportError(f"unknown dialect {dialect!r} (choose from {', '.join(DIALECTS)})")


__all__ = ["DIALECTS", "GrammarExportError", "export_grammar", "llguidance_grammar"]
