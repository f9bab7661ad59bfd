"""Which words Lark's contextual lexer reads as keywords before each identifier.

tts-dsl's keywords are contextual: the LALR(1) parser state decides how an
identifier-shaped word is lexed. When a keyword is among the terminals the
state accepts, the word is that keyword (never `NAME`), even if the parse
then fails; otherwise it is a `NAME`. A decoder without Lark's tables (an
Earley parser such as llguidance) would accept both readings, so an
exported grammar has to spell out, for every place a `NAME` can be shifted,
which words may not be that `NAME`.

`keyword_exclusions` computes those sets from Lark's own LALR analysis of
the grammar. For each state that accepts `NAME` it follows the reductions
Lark performs on a `NAME` lookahead up to the shift, and charges the
state's keywords to every `NAME` occurrence that shift can belong to. The
stack below a reduction is not known here, so every predecessor state is
followed: the sets can only come out larger than the exact ones, which
makes the exported grammar stricter than Lark, never looser.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lark
from lark.common import ParserConf
from lark.lexer import PatternStr
from lark.parsers.lalr_analysis import LALR_Analyzer

IDENTIFIER = "NAME"
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


@dataclass(frozen=True, order=True)
class NameSite:
    """One occurrence of the identifier terminal in the grammar: the
    `index`-th `NAME` of the alternative of `rule` with `alias` (None when
    the rule has a single, unnamed alternative)."""

    rule: str
    alias: str | None
    index: int


def keyword_terminals(parser: lark.Lark) -> dict[str, str]:
    """Terminal name -> word, for the string terminals an identifier can spell."""
    return {
        t.name: t.pattern.value
        for t in parser.terminals
        if isinstance(t.pattern, PatternStr) and _WORD.match(t.pattern.value)
    }


def _site(rule: Any, index: int) -> NameSite:
    before = sum(1 for sym in rule.expansion[:index] if sym.name == IDENTIFIER)
    alias = str(rule.alias) if rule.alias is not None else None
    return NameSite(str(rule.origin.name), alias, before)


def keyword_exclusions(grammar_text: str) -> Mapping[NameSite, frozenset[str]]:
    """Every `NAME` occurrence of the grammar -> the words that Lark may
    read as a keyword where that occurrence is expected."""
    parser = lark.Lark(grammar_text, parser="lalr", lexer="contextual", maybe_placeholders=True)
    words = keyword_terminals(parser)
    analyzer = LALR_Analyzer(ParserConf(parser.rules, {}, parser.options.start))
    analyzer.compute_lalr()  # type: ignore[no-untyped-call]  # lark leaves it unannotated
    states = list(analyzer.lr0_itemsets)

    # The parse table as Lark builds it: reductions on lookaheads, shifts win.
    reduce_on: dict[Any, dict[str, Any]] = {}
    accepts: dict[Any, set[str]] = {}
    for state in states:
        reduce_on[state] = {la.name: next(iter(rules)) for la, rules in state.lookaheads.items()}
        shifts = {sym.name for sym in state.transitions if sym.is_term}
        accepts[state] = shifts | set(reduce_on[state])
    came_from: dict[Any, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
    for state in states:
        for sym, after in state.transitions.items():
            came_from[after][sym.name].add(state)

    sites: dict[NameSite, set[str]] = defaultdict(set)
    for state in states:
        for item in state.closure:
            if not item.is_satisfied and item.next.name == IDENTIFIER:
                sites[_site(item.rule, item.index)]  # every site, even if never charged
    for lexing in states:
        if IDENTIFIER not in accepts[lexing]:
            continue
        keywords = {words[t] for t in accepts[lexing] if t in words}
        todo, seen = [lexing], {lexing}
        while todo:
            state = todo.pop()
            shifted = any(s.name == IDENTIFIER for s in state.transitions)
            if shifted:
                for item in state.closure:
                    if not item.is_satisfied and item.next.name == IDENTIFIER:
                        sites[_site(item.rule, item.index)] |= keywords
                continue
            rule = reduce_on[state].get(IDENTIFIER)
            if rule is None:
                continue
            below = {state}
            for sym in reversed(rule.expansion):
                below = {p for q in below for p in came_from[q][sym.name]}
            for prev in below:
                target: Any = prev.transitions.get(rule.origin)
                if target is not None and target not in seen:
                    seen.add(target)
                    todo.append(target)
    return {site: frozenset(found) for site, found in sites.items()}


__all__ = ["IDENTIFIER", "NameSite", "keyword_exclusions", "keyword_terminals"]
