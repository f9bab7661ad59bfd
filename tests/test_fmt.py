"""`fmt`: canonical, idempotent, structure-preserving, comment-preserving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autotts_dsl import ast
from autotts_dsl.diagnostics import DiagnosticError
from autotts_dsl.fmt import fmt, format_expr, format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR

STDLIB = sorted(STDLIB_DIR.glob("*.tts"))


def comments(text: str) -> list[str]:
    return sorted(m.group(0).rstrip() for m in re.finditer(r"#[^\n]*", text))


@pytest.mark.parametrize("path", STDLIB, ids=[p.stem for p in STDLIB])
def test_stdlib_round_trip(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    out = fmt(text)
    assert parse(out) == parse(text)
    assert fmt(out) == out
    assert comments(out) == comments(text)


def test_canonical_layout() -> None:
    src = """
# header
controller p "demo"   # trailing on the header
round {
  let w = winner(completed)     # the winner
  if count(running)==0 {stop}


  # deepen
  rule deepen: for b in running order by b.reads desc do step b times (b.answer == w ? 2 : 1)
  # end of round
}
schedule { n : int up = max(2, round(2+6*beta))  long_name : float down = 1-beta }
init{spawn n}
finally { answer w0 ?? none }
"""
    want = """# header

controller p "demo"  # trailing on the header

schedule {
  n         : int   up   = max(2, round(2 + 6*beta))
  long_name : float down = 1 - beta
}

init { spawn n }

round {
  let w = winner(completed)  # the winner
  if count(running) == 0 { stop }

  # deepen
  rule deepen: for b in running order by b.reads desc do step b times (b.answer == w ? 2 : 1)
  # end of round
}

finally { answer w0 ?? none }
"""
    assert fmt(src) == want
    assert fmt(want) == want


def test_long_headers_wrap_by_clause() -> None:
    src = (
        "controller p\nround {\n"
        "  rule abandon: for b in running where b.disagree >= abandon_patience_of_some_length "
        "order by b.disagree desc limit max(0, count(running) - 2) do prune b\n"
        "  rule s: when warm and count(completed) >= min_complete and ema >= conf_thresh "
        "and delta(hist) >= -delta_slack do answer winner(completed)\n}\nfinally { answer none }\n"
    )
    out = fmt(src)
    assert (
        "  rule abandon: for b in running\n"
        "      where b.disagree >= abandon_patience_of_some_length\n"
        "      order by b.disagree desc\n"
        "      limit max(0, count(running) - 2)\n"
        "      do prune b\n"
    ) in out
    assert "      do answer winner(completed)\n" in out
    assert all(len(line) <= 100 for line in out.splitlines())
    assert parse(out) == parse(src)
    assert fmt(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "(a + b) * c",
        "a - (b - c)",
        "a - b - c",
        "a / (b * c)",
        "-(a + b)",
        "-(-a)",
        "a - -3",
        "not (a and b)",
        "not a and b",
        "a or b and c",
        "(a or b) and c",
        "a ? b : c ? d : e",
        "(a ? b : c) ? d : e",
        "a ?? b ?? c",
        "a ?? (b ?? c)",
        "x.answer == w",
        "count(b in running where b.reads > 2)",
        "votes((b.finished ? 2.5 : 1.0) for b in alive where b.reads > 1)",
        "(a < b) == (c < d)",
        "round(0.70 - 0.40 * beta, 4)",
        "2*a*b + a * f(b) - 3 * (a + b) + a*-2",
        "1e-05 + .5",
    ],
)
def test_expressions_round_trip(text: str) -> None:
    src = f"controller p\nround {{ let v = {text} }}\nfinally {{ answer none }}\n"
    prog = parse(src)
    out = format_program(prog)
    assert parse(out) == prog
    let = prog.round.body[0] if prog.round else None
    assert isinstance(let, ast.Let)
    assert parse(f"controller p\nround {{ let v = {format_expr(let.value)} }}\n") == parse(
        f"controller p\nround {{ let v = {text} }}\n"
    )


def test_comment_placement() -> None:
    src = """controller p
state { a: int = 0 }   # after state
round {
  if a > 0 {
    a = 1
    # at the end of the if body
  } else {
    # before the else statement
    a = 2
  }
  for b in running {
    step b
  }   # after a closing brace
  a = (a +   # inside an expression
       1)
}
finally { answer none }
# at the end of the file
"""
    out = fmt(src)
    assert comments(out) == comments(src)
    assert fmt(out) == out
    assert parse(out) == parse(src)
    lines = out.splitlines()
    assert lines[-1] == "# at the end of the file"
    body = out[out.index("if a > 0") : out.index("} else")]
    assert "# at the end of the if body" in body
    assert out.index("} else") < out.index("# before the else statement") < out.index("a = 2")
    # after a `}`: kept at the end of the block it closes
    assert "    step b\n    # after a closing brace\n  }" in out
    # after code on a line where a statement starts: at the end of its first line
    assert "  a = a + 1  # inside an expression\n" in out


def test_blank_lines_are_kept_once() -> None:
    src = "controller p\nround {\n  let a = 1\n\n\n\n  let b = a\n  stop\n}\n"
    out = fmt(src)
    assert "  let a = 1\n\n  let b = a\n  stop\n" in out


def test_syntax_errors_are_not_formatted() -> None:
    with pytest.raises(DiagnosticError):
        fmt("controller p\nround {\n")


def test_format_program_without_source() -> None:
    prog = parse((STDLIB_DIR / "cmc.tts").read_text())
    text = format_program(prog)
    assert "#" not in text
    assert parse(text) == prog
    assert format_program(parse(text)) == text
