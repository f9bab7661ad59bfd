"""Hypothesis properties of the checker and the formatter.

* soundness: a random schedule expression is never proved `up`/`down`/`const`
  when evaluating it with the compiler on a dense β grid shows otherwise,
  and every counterexample the checker prints is a real one;
* fmt: random ASTs and comment-laden stdlib programs survive
  print → parse unchanged, and formatting is idempotent;
* robustness: random and mutated program text never makes `check` (or
  `fmt`) fail with anything but diagnostics.
"""

from __future__ import annotations

import os
import re
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autotts_dsl import ast
from autotts_dsl.checker import check_source
from autotts_dsl.checker.monotone import REL_TOL
from autotts_dsl.compiler import compile_program
from autotts_dsl.diagnostics import DiagnosticError
from autotts_dsl.fmt import fmt, format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR

# TTS_PROPERTY_SCALE=10 runs ten times the examples (a longer local soak)
SCALE = float(os.environ.get("TTS_PROPERTY_SCALE", "1"))
FAST = settings(
    max_examples=int(60 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SOME = settings(
    max_examples=int(150 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# ----------------------------------------------------------- schedule soundness

LEAF = st.one_of(
    st.just("beta"),  # half of the leaves: most expressions then vary with β
    st.one_of(st.integers(0, 9).map(str), st.sampled_from(["0.5", "0.25", "1.5", "2.0", "0.1"])),
)


def _extend(sub: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub)
    return st.one_of(
        binop.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda a: f"(-{a})"),
        st.tuples(st.sampled_from(["min", "max", "pow"]), sub, sub).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(
            st.sampled_from(["round", "floor", "ceil", "sqrt", "exp", "log", "sigmoid", "abs"]),
            sub,
        ).map(lambda t: f"{t[0]}({t[1]})"),
        sub.map(lambda a: f"round({a}, 2)"),
        st.tuples(sub, sub, sub).map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(sub, sub, sub, sub).map(lambda t: f"({t[0]} > {t[1]} ? {t[2]} : {t[3]})"),
    )


SCHEDULE_EXPR = st.recursive(LEAF, _extend, max_leaves=7).filter(lambda e: "beta" in e)
GRID = [i / 1000 for i in range(1001)]


def _values(text: str) -> list[tuple[float, float]]:
    """(β, x) on the dense grid, by the real compiler; failing βs left out."""
    prog = parse(text)
    out = []
    for beta in GRID:
        try:
            out.append((beta, float(compile_program(prog, beta).knobs["x"])))
        except DiagnosticError:
            continue
    return out


def _violates(values: list[tuple[float, float]], direction: str) -> bool:
    def tol(a: float, b: float) -> float:
        return REL_TOL * max(1.0, abs(a), abs(b))

    if direction == "const":
        xs = [x for _, x in values]
        return bool(xs) and max(xs) - min(xs) > tol(max(xs), min(xs))
    sign = 1.0 if direction == "up" else -1.0
    best = None
    for _, x in values:
        if best is not None and sign * (best - x) > tol(best, x):
            return True
        best = x if best is None or sign * x > sign * best else best
    return False


@FAST
@given(SCHEDULE_EXPR, st.sampled_from(["up", "down", "const"]))
def test_proofs_are_sound(expr: str, direction: str) -> None:
    text = (
        f"controller p\nschedule {{ x : float {direction} = {expr} }}\n"
        "init { spawn 1 }\nfinally { answer winner(completed) }\n"
    )
    report = check_source(text, "p", grid_points=101)
    assume(report.knobs)  # compiled at β = 0.5
    (knob,) = report.knobs
    if knob.status == "proved":
        values = _values(text)
        assert not _violates(values, direction), f"{expr} proved {direction}"
    if knob.status == "false":
        m = re.search(r"at β=(\S+) and .* at β=(\S+)$", knob.counterexample)
        assert m, knob.counterexample
        b1, b2 = float(m.group(1)), float(m.group(2))
        prog = parse(text)
        v1 = float(compile_program(prog, b1).knobs["x"])
        v2 = float(compile_program(prog, b2).knobs["x"])
        assert _violates([(b1, v1), (b2, v2)], direction), (expr, knob.counterexample)


# ----------------------------------------------------------------- fmt: ASTs

NAMES = st.sampled_from(["a", "b", "w", "n", "x1", "cap", "ema", "hist"])
FUNCS = st.sampled_from(["min", "max", "count", "winner", "conf", "f", "push"])
FIELDS = st.sampled_from(["answer", "reads", "dis"])


def _lit() -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        st.integers(-50, 50).map(ast.IntLit),
        st.sampled_from([0.5, 1.0, 2.5, 1e-05, 0.125, -0.75]).map(ast.FloatLit),
        st.booleans().map(ast.BoolLit),
        st.just(ast.NoneLit()),
        NAMES.map(ast.Name),
    )


def _exprs(sub: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    non_literal = sub.filter(lambda e: not isinstance(e, ast.IntLit | ast.FloatLit))
    arg = st.one_of(
        sub,
        st.builds(ast.Query, NAMES, NAMES.map(ast.Name), st.none() | sub),
        st.builds(ast.Generator, sub, NAMES, NAMES.map(ast.Name), st.none() | sub),
    )
    return st.one_of(
        st.builds(ast.Field, NAMES.map(ast.Name), FIELDS),
        st.builds(ast.Call, FUNCS, st.lists(arg, max_size=3).map(tuple)),
        st.builds(ast.Unary, st.just("-"), non_literal),
        st.builds(ast.Unary, st.just("not"), sub),
        st.builds(ast.Binary, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub, sub),
        st.builds(ast.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), sub, sub),
        st.builds(ast.BoolOp, st.sampled_from(["and", "or"]), sub, sub),
        st.builds(ast.Cond, sub, sub, sub),
        st.builds(ast.Coalesce, sub, sub),
    )


EXPR = st.recursive(_lit(), _exprs, max_leaves=6)


def _stmts(sub: st.SearchStrategy[tuple[ast.Stmt, ...]]) -> st.SearchStrategy[ast.Stmt]:
    head = st.builds(
        ast.LoopHead,
        NAMES,
        NAMES.map(ast.Name),
        st.none() | EXPR,
        st.lists(st.builds(ast.SortKey, EXPR, st.booleans()), max_size=2).map(tuple),
        st.none() | EXPR,
    )
    single_action = st.one_of(
        st.builds(ast.Spawn, EXPR), st.builds(ast.Prune, EXPR), st.builds(ast.StopLoop)
    ).map(lambda s: (s,))
    return st.one_of(
        st.builds(ast.If, st.lists(st.tuples(EXPR, sub), min_size=1, max_size=3).map(tuple),
                  st.none() | sub),
        st.builds(ast.If, st.tuples(st.tuples(EXPR, sub | single_action)), st.none(),
                  rule=NAMES),
        st.builds(ast.For, head, sub),
        st.builds(ast.For, head, sub | single_action, rule=NAMES),
        st.builds(ast.Repeat, EXPR, sub),
    )  # fmt: skip


SIMPLE = st.one_of(
    st.builds(ast.Let, NAMES, EXPR),
    st.builds(ast.AssignVar, NAMES, EXPR),
    st.builds(ast.AssignField, NAMES, FIELDS, EXPR),
    st.builds(ast.CallStmt, FUNCS, st.lists(EXPR, max_size=2).map(tuple)),
    st.builds(ast.Spawn, EXPR),
    st.builds(ast.ReadFull, EXPR),
    st.builds(ast.Step, EXPR, st.none() | EXPR),
    st.builds(ast.Prune, EXPR),
    st.builds(ast.Answer, EXPR),
    st.builds(ast.StopLoop),
)
BODY = st.recursive(
    st.lists(SIMPLE, max_size=3).map(tuple),
    lambda sub: st.lists(SIMPLE | _stmts(sub), max_size=3).map(tuple),
    max_leaves=6,
)
BLOCK = st.none() | BODY.map(ast.Block)
SIZED = st.builds(ast.TypeRef, st.just("window"), EXPR)
DECL_TYPE = st.one_of(st.builds(ast.TypeRef, st.just("int")), SIZED)
PROGRAM = st.builds(
    ast.Program,
    name=NAMES,
    description=st.text(string.ascii_letters + " ", max_size=12),
    limits=st.lists(st.builds(ast.Limit, NAMES, EXPR), max_size=2).map(tuple),
    params=st.lists(
        st.builds(ast.Param, NAMES, st.sampled_from(["int", "float"]), EXPR), max_size=2
    ).map(tuple),
    knobs=st.lists(
        st.builds(
            ast.Knob,
            NAMES,
            st.sampled_from(["int", "float"]),
            st.sampled_from(["up", "down", "const"]),
            EXPR,
        ),
        max_size=3,
    ).map(tuple),
    state=st.lists(st.builds(ast.VarDecl, NAMES, DECL_TYPE, st.none() | EXPR), max_size=2).map(
        tuple
    ),
    branch_fields=st.lists(
        st.builds(ast.VarDecl, NAMES, st.builds(ast.TypeRef, st.just("int")), st.none() | EXPR),
        max_size=2,
    ).map(tuple),
    init=BLOCK,
    round=BLOCK,
    final=BLOCK,
)


@SOME
@given(PROGRAM)
def test_fmt_round_trips_random_programs(program: ast.Program) -> None:
    text = format_program(program)
    again = parse(text)
    assert again == program, text
    assert format_program(again) == text


# ------------------------------------------------------ fmt: comments survive

STDLIB = sorted(STDLIB_DIR.glob("*.tts"))


@FAST
@given(
    st.sampled_from(STDLIB),
    st.lists(st.tuples(st.integers(0, 200), st.booleans()), max_size=8),
)
def test_fmt_keeps_every_comment(path: object, edits: list[tuple[int, bool]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()  # type: ignore[attr-defined]
    for k, (at, own) in enumerate(edits):
        i = at % (len(lines) + 1)
        if own or i == len(lines):
            lines.insert(i, f"# note {k}")
        else:
            lines[i] += f"  # note {k}"
    text = "\n".join(lines) + "\n"
    out = fmt(text)
    found = sorted(re.findall(r"#[^\n]*", out))
    assert [c.rstrip() for c in found] == sorted(c.rstrip() for c in re.findall(r"#[^\n]*", text))
    assert parse(out) == parse(text)
    assert fmt(out) == out


# --------------------------------------------------------------- robustness


def _mutate(text: str, cuts: list[tuple[int, int, int]]) -> str:
    for a, b, kind in cuts:
        n = len(text)
        if n == 0:
            break
        i, j = sorted((a % n, b % n))
        if kind == 0:
            text = text[:i] + text[j:]  # delete a slice
        elif kind == 1:
            text = text[:i] + text[i:j] + text[i:]  # duplicate a slice
        else:
            text = text[:i] + text[j:] + text[i:j]  # move a slice to the end
    return text


def _survives(text: str) -> None:
    report = check_source(text, "fuzz.tts", grid_points=21)
    assert all(d.code[0] in "EW" and d.span.line >= 0 for d in report.diagnostics)
    try:
        out = fmt(text)
    except DiagnosticError:
        return
    assert parse(out) == parse(text)


@SOME
@given(st.text(max_size=200))
def test_random_text_gives_diagnostics_only(text: str) -> None:
    _survives(text)


@FAST
@given(
    st.sampled_from(STDLIB),
    st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 2)), max_size=3),
)
def test_mutated_programs_give_diagnostics_only(
    path: object, cuts: list[tuple[int, int, int]]
) -> None:
    _survives(_mutate(path.read_text(encoding="utf-8"), cuts))  # type: ignore[attr-defined]
