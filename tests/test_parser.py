"""Parser: syntax-error diagnostics (code, message, hint, line/column, rendering),
AST shape and spans, precedence, contextual keywords, and a fuzz property that
`parse` only ever raises `DiagnosticError`."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl import ast
from autotts_dsl.diagnostics import Diagnostic, DiagnosticError, Span
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR

HEADER = "controller t\n"
STDLIB = ("asc", "cmc", "esc", "parallel_probe", "sc")
FINAL = "finally { answer none }\n"


def syntax_error(src: str, path: str = "prog.tts") -> tuple[Diagnostic, DiagnosticError]:
    with pytest.raises(DiagnosticError) as info:
        parse(src, path)
    err = info.value
    assert len(err.diagnostics) == 1
    return err.diagnostics[0], err


def only(body: str) -> tuple[ast.Stmt, ...]:
    """Parse a program whose round block is `body`; return the round statements."""
    prog = parse(HEADER + "round {\n" + body + "\n}\n" + FINAL, "p.tts")
    assert prog.round is not None
    return prog.round.body


def let_value(expr: str) -> ast.Expr:
    (stmt,) = only(f"let v = {expr}")
    assert isinstance(stmt, ast.Let)
    return stmt.value


def text_at(src: str, span: Span) -> str:
    """The source text a single-line span covers."""
    assert span.line == span.end_line
    return src.splitlines()[span.line - 1][span.col - 1 : span.end_col - 1]


# ----------------------------------------------------------- syntax errors


def test_colon_instead_of_brace_is_unexpected_token_with_brace_hint() -> None:
    src = HEADER + "round {\n  if x > 1: stop\n}\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert d.severity == "error"
    assert (d.span.line, d.span.col) == (3, 11)
    assert d.message.startswith("unexpected `:`")
    assert "`{`" in d.message
    assert "braces" in d.hint


@pytest.mark.parametrize(("op", "word"), [("&&", "and"), ("||", "or")])
def test_c_style_boolean_operators_are_unexpected_characters(op: str, word: str) -> None:
    src = HEADER + f"round {{\n  if a {op} b {{ stop }}\n}}\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert d.message == f"unexpected character `{op[0]}`"
    assert (d.span.line, d.span.col) == (3, 8)
    assert d.span.end_col - d.span.col == 2  # the caret covers both characters
    assert d.hint == f"use `{word}`"


def test_bang_hints_not_and_inequality() -> None:
    d, _ = syntax_error(HEADER + "round {\n  if !a { stop }\n}\n" + FINAL)
    assert (d.code, d.span.line, d.span.col) == ("E001", 3, 6)
    assert "`not" in d.hint and "`!=`" in d.hint


def test_missing_closing_brace_is_reported_where_the_block_opened() -> None:
    src = HEADER + "round {\n  stop\n"
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert d.message == "unclosed `{`: the `round` block opened at line 2 is never closed"
    assert (d.span.line, d.span.col) == (2, len("round {"))  # the caret is on the `{`
    assert "end of the file" in d.notes[0]
    assert "add `}`" in d.hint


def test_end_of_file_outside_any_block_points_after_the_last_line() -> None:
    d, _ = syntax_error(HEADER + "round\n")
    assert d.message.startswith("unexpected end of file; expected `{`")
    assert (d.span.line, d.span.col) == (2, len("round") + 1)


def test_else_if_suggests_elif() -> None:
    src = HEADER + "round {\n  if a { stop } else if b { stop }\n}\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert d.message.startswith("unexpected `if`")
    assert (d.span.line, d.span.col) == (3, 22)
    assert "elif" in d.hint


def test_single_equals_in_a_condition_suggests_double_equals() -> None:
    d, _ = syntax_error(HEADER + "round {\n  if a = 1 { stop }\n}\n" + FINAL)
    assert d.code == "E001"
    assert d.message.startswith("unexpected `=`")
    assert (d.span.line, d.span.col) == (3, 8)
    assert d.hint == "use `==` to compare"


def test_nul_byte_is_rejected_with_its_position() -> None:
    d, err = syntax_error(HEADER + "round {\n  st\x00op\n}\n" + FINAL)
    assert d.code == "E001"
    assert "NUL" in d.message
    assert (d.span.line, d.span.col) == (3, 5)
    assert err.path == "prog.tts"


def test_duplicate_section_is_e002_at_the_second_one() -> None:
    src = HEADER + "round { stop }\nstate { x: int = 0 }\nround { stop }\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E002"
    assert d.message == "section `round` appears twice"
    assert (d.span.line, d.span.col) == (4, 1)
    assert "merge" in d.hint


def test_missing_controller_header() -> None:
    d, _ = syntax_error("round { stop }\n" + FINAL)
    assert d.code == "E001"
    assert d.message == "unexpected `round`; expected `controller`"
    assert (d.span.line, d.span.col) == (1, 1)


def test_empty_program_reports_end_of_file_expecting_controller() -> None:
    d, _ = syntax_error("")
    assert d.code == "E001"
    assert "expected `controller`" in d.message
    assert d.span.line == 1


def test_empty_program_hint_does_not_blame_a_brace() -> None:
    d, _ = syntax_error("")
    assert "`}`" not in d.hint


def test_knob_without_direction() -> None:
    src = HEADER + "schedule {\n  n : int = 3\n}\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert d.message == "unexpected `=`; expected `const`, `down` or `up`"
    assert (d.span.line, d.span.col) == (3, 11)


def test_rendered_diagnostic_has_location_source_line_caret_and_hint() -> None:
    src = HEADER + "round {\n  if x > 1: stop\n}\n" + FINAL
    _, err = syntax_error(src, "dir/prog.tts")
    text = err.render()
    lines = text.splitlines()
    assert lines[0] == "error[E001]: unexpected `:`; expected `{`"
    assert "--> dir/prog.tts:3:11" in text
    assert "3 |   if x > 1: stop" in lines
    caret = next(line for line in lines if "^" in line)
    # the caret is under column 11 of the echoed source line
    src_line = next(line for line in lines if line.startswith("3 | "))
    assert caret.index("^") == src_line.index(":", 5)
    assert caret.rstrip().endswith("^ not expected here")
    assert lines[-1] == "   = hint: blocks use braces: `if COND { ... }`, not a colon"


def test_rendered_eof_diagnostic_points_after_the_last_line() -> None:
    src = HEADER + "round {}\nparams\n  "
    _, err = syntax_error(src, "p.tts")
    text = err.render()
    assert "--> p.tts:3:7" in text
    assert "3 | params" in text
    assert "|       ^ input ends here" in text


def test_rendered_line_is_right_when_source_contains_a_form_feed() -> None:
    src = "controller t\x0c\nround {\n  if a && b { stop }\n}\n" + FINAL
    d, err = syntax_error(src)
    assert d.span.line == 3
    assert "3 |   if a && b { stop }" in err.render()


# ---------------------------------------------------------------- AST shape


def test_header_name_and_description() -> None:
    prog = parse('controller cmc2 "A description"\n' + FINAL)
    assert prog.name == "cmc2"
    assert prog.description == "A description"
    assert parse(HEADER + FINAL).description == ""


def test_sections_land_in_their_fields() -> None:
    src = (
        HEADER
        + "limits { max_rounds = 3  max_branches = 4 }\n"
        + "params { p : float = 0.5 }\n"
        + "schedule { k : int up = 1\n  j : float down = 0.5\n  c : int const = 2 }\n"
        + "state { x: int = 0  h: window(3) }\n"
        + "branch { d: int = 0 }\n"
        + "init { spawn 1 }\nround { stop }\n"
        + FINAL
    )
    prog = parse(src)
    assert [lim.name for lim in prog.limits] == ["max_rounds", "max_branches"]
    assert [(p.name, p.type) for p in prog.params] == [("p", "float")]
    assert [(k.name, k.type, k.direction) for k in prog.knobs] == [
        ("k", "int", "up"),
        ("j", "float", "down"),
        ("c", "int", "const"),
    ]
    assert [d.name for d in prog.state] == ["x", "h"]
    assert prog.state[1].type.name == "window"
    assert prog.state[1].type.size == ast.IntLit(3)
    assert prog.state[0].init == ast.IntLit(0)
    assert [d.name for d in prog.branch_fields] == ["d"]
    assert prog.init is not None and prog.init.body == (ast.Spawn(ast.IntLit(1)),)
    assert prog.round is not None and prog.round.body == (ast.StopLoop(),)
    assert prog.final is not None


def test_sections_may_come_in_any_order_and_be_absent() -> None:
    prog = parse(HEADER + FINAL + "init { spawn 2 }\n")
    assert prog.round is None
    assert prog.init is not None and prog.final is not None
    assert prog.limits == () and prog.knobs == ()


def test_spans_point_at_the_right_text() -> None:
    src = (
        HEADER
        + "schedule { n_init : int up = max(2, round(2 + 6*beta)) }\n"
        + "round {\n"
        + "  let w = winner(completed)\n"
        + "  for b in running where b.reads > 1 { step b times 2 }\n"
        + "}\n"
        + FINAL
    )
    prog = parse(src)
    knob = prog.knobs[0]
    assert text_at(src, knob.span) == "n_init"
    assert text_at(src, knob.expr.span) == "max(2, round(2 + 6*beta))"
    let, loop = prog.round.body  # type: ignore[union-attr]
    assert isinstance(let, ast.Let)
    assert text_at(src, let.span) == "let w = winner(completed)"
    assert text_at(src, let.value.span) == "winner(completed)"
    assert isinstance(loop, ast.For)
    assert loop.span.line == 5 and loop.span.col == 3
    assert text_at(src, loop.head.source.span) == "running"
    assert loop.head.where is not None
    assert text_at(src, loop.head.where.span) == "b.reads > 1"
    (step,) = loop.body
    assert isinstance(step, ast.Step)
    assert text_at(src, step.span) == "step b times 2"
    assert step.times is not None and text_at(src, step.times.span) == "2"


def test_round_is_section_keyword_counter_and_function_in_one_program() -> None:
    src = (
        HEADER
        + "schedule { k : int up = round(2 + 6*beta) }\n"
        + "round {\n  if round >= round(1.5) { stop }\n}\n"
        + FINAL
    )
    prog = parse(src)
    assert prog.round is not None
    assert isinstance(prog.knobs[0].expr, ast.Call) and prog.knobs[0].expr.func == "round"
    (if_stmt,) = prog.round.body
    assert isinstance(if_stmt, ast.If)
    cond = if_stmt.arms[0][0]
    assert cond == ast.Compare(">=", ast.Name("round"), ast.Call("round", (ast.FloatLit(1.5),)))


def test_section_keywords_are_names_inside_blocks() -> None:
    # `up`/`down`/`state`/`init` are keywords only where a section or direction is expected
    src = HEADER + "state { up: int = 0  down: int = 0 }\nround {\n  up = down + 1\n}\n" + FINAL
    (stmt,) = parse(src).round.body  # type: ignore[union-attr]
    assert stmt == ast.AssignVar("up", ast.Binary("+", ast.Name("down"), ast.IntLit(1)))


def test_loop_clause_words_are_reserved_with_a_hint() -> None:
    # `limit`, `times`, `where`, ... can follow any expression, so the language
    # reserves them; using one as a name says so instead of a bare syntax error.
    src = HEADER + "state { x: int = 0  limit: int = 3 }\nround {\n  x = limit\n}\n" + FINAL
    d, _ = syntax_error(src)
    assert d.code == "E001"
    assert "reserved word" in d.hint
    assert "`limit`" in d.hint


def test_comments_and_semicolons() -> None:
    body = "# a comment line\n  let a = 1; let b = 2 # trailing\n  ;stop;"
    stmts = only(body)
    assert stmts == (ast.Let("a", ast.IntLit(1)), ast.Let("b", ast.IntLit(2)), ast.StopLoop())


def test_subtraction_is_left_associative() -> None:
    assert let_value("a - b - c") == ast.Binary(
        "-", ast.Binary("-", ast.Name("a"), ast.Name("b")), ast.Name("c")
    )


def test_multiplication_binds_tighter_than_addition() -> None:
    assert let_value("a + b * c") == ast.Binary(
        "+", ast.Name("a"), ast.Binary("*", ast.Name("b"), ast.Name("c"))
    )
    assert let_value("a * b + c // d % e") == ast.Binary(
        "+",
        ast.Binary("*", ast.Name("a"), ast.Name("b")),
        ast.Binary("%", ast.Binary("//", ast.Name("c"), ast.Name("d")), ast.Name("e")),
    )


def test_unary_minus_and_literal_folding() -> None:
    assert let_value("-x") == ast.Unary("-", ast.Name("x"))
    assert let_value("-3") == ast.IntLit(-3)
    assert let_value("-0.5") == ast.FloatLit(-0.5)
    assert let_value("-x * y") == ast.Binary("*", ast.Unary("-", ast.Name("x")), ast.Name("y"))
    assert let_value("a - -b") == ast.Binary("-", ast.Name("a"), ast.Unary("-", ast.Name("b")))


def test_not_binds_tighter_than_and_and_and_tighter_than_or() -> None:
    assert let_value("not a and b") == ast.BoolOp(
        "and", ast.Unary("not", ast.Name("a")), ast.Name("b")
    )
    assert let_value("a or b and c") == ast.BoolOp(
        "or", ast.Name("a"), ast.BoolOp("and", ast.Name("b"), ast.Name("c"))
    )
    assert let_value("not a == b") == ast.Unary(
        "not", ast.Compare("==", ast.Name("a"), ast.Name("b"))
    )


def test_conditional_and_coalesce() -> None:
    assert let_value("c ? x : y ?? z") == ast.Cond(
        ast.Name("c"), ast.Name("x"), ast.Coalesce(ast.Name("y"), ast.Name("z"))
    )
    # `??` is left-associative and binds looser than `or`
    assert let_value("a ?? b ?? c") == ast.Coalesce(
        ast.Coalesce(ast.Name("a"), ast.Name("b")), ast.Name("c")
    )
    # the conditional nests to the right
    assert let_value("p ? 1 : q ? 2 : 3") == ast.Cond(
        ast.Name("p"), ast.IntLit(1), ast.Cond(ast.Name("q"), ast.IntLit(2), ast.IntLit(3))
    )


def test_comparison_binds_looser_than_arithmetic() -> None:
    assert let_value("a + 1 >= b * 2") == ast.Compare(
        ">=",
        ast.Binary("+", ast.Name("a"), ast.IntLit(1)),
        ast.Binary("*", ast.Name("b"), ast.IntLit(2)),
    )


def test_fields_and_literals() -> None:
    assert let_value("b.reads") == ast.Field(ast.Name("b"), "reads")
    assert let_value("true") == ast.BoolLit(True)
    assert let_value("none") == ast.NoneLit()
    assert let_value("1e3") == ast.FloatLit(1000.0)
    assert let_value(".5") == ast.FloatLit(0.5)
    assert let_value("42") == ast.IntLit(42)


def test_for_with_where_order_by_desc_and_limit() -> None:
    (loop,) = only(
        "for b in running where b.reads > 1 order by b.reads desc, b.index limit 2 { prune b }"
    )
    assert isinstance(loop, ast.For)
    head = loop.head
    assert head.var == "b"
    assert head.source == ast.Name("running")
    assert head.where == ast.Compare(">", ast.Field(ast.Name("b"), "reads"), ast.IntLit(1))
    assert head.order == (
        ast.SortKey(ast.Field(ast.Name("b"), "reads"), True),
        ast.SortKey(ast.Field(ast.Name("b"), "index"), False),
    )
    assert head.limit == ast.IntLit(2)
    assert loop.body == (ast.Prune(ast.Name("b")),)
    assert loop.rule is None


def test_order_by_asc_is_ascending() -> None:
    (loop,) = only("for b in alive order by b.reads asc { step b }")
    assert isinstance(loop, ast.For)
    assert loop.head.order == (ast.SortKey(ast.Field(ast.Name("b"), "reads"), False),)
    assert loop.head.where is None and loop.head.limit is None


def test_query_argument() -> None:
    value = let_value("count(b in running where b.answer != w)")
    assert value == ast.Call(
        "count",
        (
            ast.Query(
                "b",
                ast.Name("running"),
                ast.Compare("!=", ast.Field(ast.Name("b"), "answer"), ast.Name("w")),
            ),
        ),
    )


def test_generator_argument() -> None:
    assert let_value("max(b.reads for b in running)") == ast.Call(
        "max", (ast.Generator(ast.Field(ast.Name("b"), "reads"), "b", ast.Name("running"), None),)
    )
    gen = let_value("sum(b.spent for b in opened where b.finished)")
    assert isinstance(gen, ast.Call)
    (arg,) = gen.args
    assert isinstance(arg, ast.Generator)
    assert arg.where == ast.Field(ast.Name("b"), "finished")


def test_rules_desugar_to_if_and_for_with_names() -> None:
    stmts = only(
        "rule stop_it: when round > 3 do answer none\n"
        "rule deepen: for b in running order by b.reads desc do step b times 2\n"
        "rule block_body: when true do { stop }"
    )
    when, loop, block = stmts
    assert isinstance(when, ast.If) and when.rule == "stop_it"
    assert when.arms == (
        (ast.Compare(">", ast.Name("round"), ast.IntLit(3)), (ast.Answer(ast.NoneLit()),)),
    )
    assert when.orelse is None
    assert isinstance(loop, ast.For) and loop.rule == "deepen"
    assert loop.body == (ast.Step(ast.Name("b"), ast.IntLit(2)),)
    assert isinstance(block, ast.If) and block.arms[0][1] == (ast.StopLoop(),)


def test_if_elif_else_and_repeat_and_calls() -> None:
    stmts = only(
        "if a { stop } elif b { spawn 1 } elif c { read_full 2 } else { answer none }\n"
        "repeat 3 { push(h, 1.0) }\n"
        "x.d = 1"
    )
    if_stmt, rep, assign = stmts
    assert isinstance(if_stmt, ast.If)
    assert [c for c, _ in if_stmt.arms] == [ast.Name("a"), ast.Name("b"), ast.Name("c")]
    assert if_stmt.orelse == (ast.Answer(ast.NoneLit()),)
    assert rep == ast.Repeat(
        ast.IntLit(3), (ast.CallStmt("push", (ast.Name("h"), ast.FloatLit(1.0))),)
    )
    assert assign == ast.AssignField("x", "d", ast.IntLit(1))


def test_stdlib_programs_parse() -> None:
    for name in STDLIB:
        path = STDLIB_DIR / f"{name}.tts"
        prog = parse(path.read_text(encoding="utf-8"), str(path))
        assert prog.name == name
        assert prog.final is not None


# ------------------------------------------------------------------- fuzzing

STDLIB_SOURCES = [(STDLIB_DIR / f"{n}.tts").read_text(encoding="utf-8") for n in STDLIB]
TOKENS = sorted(
    {
        t
        for s in STDLIB_SOURCES
        for t in re.findall(r"[A-Za-z_]+|\d+\.\d+|\d+|\S", re.sub(r"#[^\n]*", "", s))
    }
    | {"&&", "||", "!", "else if", "True", "None", "\x00", "\n", "\t", "\r", "\x0c", "é", '"'}
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_only_raises_diagnostics(src: str) -> None:
    try:
        prog = parse(src, "fuzz.tts")
    except DiagnosticError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert d.code in ("E001", "E002")
            assert d.span.line >= 1
            assert d.span.col >= 1
        text = err.render()
        assert "fuzz.tts:" in text
    else:
        assert isinstance(prog, ast.Program)


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_diagnostic_error(src: str) -> None:
    _parse_only_raises_diagnostics(src)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(lambda t: "controller x\n" + " ".join(t)))
def test_token_soup_only_raises_diagnostic_error(src: str) -> None:
    _parse_only_raises_diagnostics(src)


@st.composite
def mutated_stdlib(draw: st.DrawFn) -> str:
    src = draw(st.sampled_from(STDLIB_SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(src)))
        kind = draw(st.sampled_from(["insert", "delete", "splice"]))
        if kind == "insert":
            src = src[:i] + draw(st.sampled_from(TOKENS)) + src[i:]
        elif kind == "delete":
            j = draw(st.integers(i, min(len(src), i + 12)))
            src = src[:i] + src[j:]
        else:
            other = draw(st.sampled_from(STDLIB_SOURCES))
            j = draw(st.integers(0, len(other)))
            k = draw(st.integers(j, len(other)))
            src = src[:i] + other[j:k] + src[i:]
    return src


@FUZZ
@given(mutated_stdlib())
def test_mutated_stdlib_programs_only_raise_diagnostic_error(src: str) -> None:
    _parse_only_raises_diagnostics(src)
