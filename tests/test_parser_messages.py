"""Syntax-error messages: where an unclosed block opened, no internal token
names, did-you-mean for misspelt keywords."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl.diagnostics import Diagnostic, DiagnosticError
from autotts_dsl.parser import parse


def syntax_error(src: str) -> Diagnostic:
    with pytest.raises(DiagnosticError) as info:
        parse(src, "p.tts")
    (d,) = info.value.diagnostics
    assert d.code == "E001"
    return d


def test_missing_brace_of_round_before_finally() -> None:
    src = (
        "controller p\n"
        "init { spawn 2 }\n"
        "round {\n"
        "  for b in running { step b }\n"
        "finally { answer winner(completed) }\n"
    )
    d = syntax_error(src)
    assert d.message == "unclosed `{`: the `round` block opened at line 3 is never closed"
    assert (d.span.line, d.span.col) == (3, 7)
    assert d.label == "this `{` has no matching `}`"
    assert "`finally` at line 5" in d.notes[0]
    assert d.hint == "add `}` to close the `round` block before `finally` at line 5"


def test_indentation_tells_which_inner_block_lacks_its_brace() -> None:
    src = (
        "controller p\n"
        "init { spawn 2 }\n"
        "round {\n"
        "  if count(completed) >= 2 {\n"
        "    answer winner(completed)\n"
        "  for b in running { step b }\n"
        "}\n"
        "finally { answer winner(completed) }\n"
    )
    d = syntax_error(src)
    assert d.message == "unclosed `{`: the `if` block opened at line 4 is never closed"
    assert (d.span.line, d.span.col) == (4, 28)
    assert any("the `}` at line 7" in n and "`round` at line 3" in n for n in d.notes)
    assert "before line 7" in d.hint


def test_unclosed_rule_block_at_end_of_file() -> None:
    src = "controller p\ninit { spawn 2 }\nround {\n  rule go: when true do {\n    stop\n"
    d = syntax_error(src)
    assert d.message.startswith("unclosed `{`: the `rule go` block opened at line 4")
    assert "the end of the file" in d.notes[0]


def test_braces_in_comments_and_strings_do_not_count() -> None:
    src = (
        'controller p "a { brace"\n'
        "# } a comment with a brace {\n"
        "round {\n"
        "  stop\n"
        "finally { answer none }\n"
    )
    d = syntax_error(src)
    assert d.message.startswith("unclosed `{`: the `round` block opened at line 3")


@pytest.mark.parametrize(
    ("src", "hint"),
    [
        (
            "controller p\ninit { read_ful 1 }\nfinally { answer none }\n",
            "did you mean `read_full`?",
        ),
        ("controller p\ninit { spawn 1 }\nfinaly { answer none }\n", "did you mean `finally`?"),
        (
            "controller p\nschedule { n : int upp = 3 }\nfinally { answer none }\n",
            "did you mean `up`?",
        ),
        (
            "controller p\nshcedule { n : int up = 3 }\nfinally { answer none }\n",
            "did you mean `schedule`?",
        ),
        ("controller p\ninit { sapwn 2 }\nfinally { answer none }\n", "did you mean `spawn`?"),
    ],
)
def test_misspelt_keywords_get_did_you_mean(src: str, hint: str) -> None:
    assert hint in syntax_error(src).hint


def test_anonymous_terminals_are_named_by_their_text() -> None:
    from autotts_dsl.lark_front import _describe_expected

    assert _describe_expected({"__ANON_0"}) == "`??`"  # lark's name for the `??` operator
    assert _describe_expected({"__ANON_0", "RPAR"}) == "`)` or `??`"
    d = syntax_error("controller p\ninit { spawn 1 }\nfinally { answer winner(completed) 1 }\n")
    assert "__ANON" not in d.message


TOKENS = [
    "controller", "p", "init", "round", "finally", "schedule", "params", "{", "}", "(", ")",
    "spawn", "step", "b", "for", "in", "running", "if", "else", "elif", "rule", "x", ":",
    "when", "do", "answer", "winner", "completed", "??", "?", "1", "2.5", "=", "==", "+",
    "//", "and", "not", ",", ".", "let", "repeat", "int", "up", "beta", "none", "\n", '"s"',
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25))
def test_no_message_leaks_grammar_internals(tokens: list[str]) -> None:
    src = "controller p\n" + " ".join(tokens)
    try:
        parse(src, "p.tts")
    except DiagnosticError as err:
        for d in err.diagnostics:
            text = " ".join([d.message, d.label, d.hint, *d.notes])
            assert "__" not in text and "ANON" not in text, text
            assert "$END" not in text, text
            assert "a token" not in text, text  # every terminal has a readable name
