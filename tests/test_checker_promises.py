"""The checker's promises, tested by the classes of program that broke them
(issue 16): each property below would have found the holes it names.

* proofs: a random schedule expression with extreme literals (near the
  float and int64 ranges, past 2**53) that `check` proves monotone is
  monotone on a dense β grid evaluated by the real compiler, and compiles
  at every point of it;
* admissibility: random nests of loops over the same sets with prunes,
  steps and (conditional) aliases that pass `check` never fault with "step
  on a pruned branch";
* termination: random programs near every limit that pass `check` finish
  every episode within the static bound (work, branches, reads);
* robustness: token soups and mutated stdlib programs (extreme literals
  spliced in) through parse, check and fmt raise nothing but diagnostics.

Budgets are small in the default suite; `-m slow` runs four times more.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.checker import check_source
from autotts_dsl.compiler import compile_program
from autotts_dsl.diagnostics import DiagnosticError
from autotts_dsl.fmt import fmt
from autotts_dsl.interpreter import ProgramRunner, run_episode
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR
from autotts_dsl.replay.episode import Episode
from autotts_dsl.replay.synthetic import simulate_store
from autotts_dsl.runtime import RuntimeFault

SCALE = float(os.environ.get("TTS_PROPERTY_SCALE", "1"))


def budget(n: int, slow: bool = False) -> Callable[[Any], Any]:
    return settings(
        max_examples=int(n * SCALE * (4 if slow else 1)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


STORE = simulate_store(3, 12, 5, 700)
FINALLY = "finally { answer winner(completed) ?? winner(answers(alive)) }\n"

# ------------------------------------------------------------ 1. proofs

EXTREME = [
    "1e308",
    "1.7976931348623157e308",
    "-1e308",
    "5e-324",
    "1e-300",
    "9223372036854775807",
    "9223372036854775000",
    "4611686018427387904",
    "9007199254740993",
    "9007199254740992",
    "3037000499",
    "0",
    "0.0",
]
LEAF = st.one_of(
    st.just("beta"),
    st.sampled_from(EXTREME),
    st.sampled_from(["1", "2", "10", "0.5", "1.5", "-3"]),
    # extreme scales of β: where overflow and exactness problems start
    st.tuples(st.sampled_from(EXTREME[:9]), st.sampled_from(["*", "+", "-"])).map(
        lambda t: f"({t[0]} {t[1]} beta)"
    ),
)


def _extend(sub: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        sub.map(lambda a: f"(-{a})"),
        sub.map(lambda a: f"(0 * {a})"),  # 0 × an overflow is NaN, not 0
        st.tuples(st.sampled_from(["min", "max", "pow"]), sub, sub).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(
            st.sampled_from(["round", "floor", "ceil", "sqrt", "exp", "log", "sigmoid", "abs"]),
            sub,
        ).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, sub, sub, sub).map(lambda t: f"({t[0]} > {t[1]} ? {t[2]} : {t[3]})"),
    )


SCHEDULE = st.recursive(LEAF, _extend, max_leaves=5).filter(lambda e: "beta" in e)
GRID = [i / 400 for i in range(401)]


def _knob_values(text: str, name: str = "x") -> list[tuple[float, int | float | None]]:
    prog = parse(text)
    out: list[tuple[float, int | float | None]] = []
    for beta in GRID:
        try:
            out.append((beta, compile_program(prog, beta).knobs[name]))
        except DiagnosticError:
            out.append((beta, None))
    return out


def _monotone(values: list[int | float], direction: str) -> bool:
    pairs = list(itertools.pairwise(values))
    if direction == "up":
        return all(a <= b for a, b in pairs)
    if direction == "down":
        return all(a >= b for a, b in pairs)
    return len(set(values)) <= 1


def proofs_are_sound(expr: str, typ: str, direction: str) -> None:
    body = f"round({expr})" if typ == "int" else expr
    text = (
        f"controller p\nschedule {{ x : {typ} {direction} = {body} }}\n"
        "init { spawn max(0, min(4, round(x))) }\n" + FINALLY
    )
    report = check_source(text, "p", grid_points=101)
    if not report.knobs or report.knobs[0].status != "proved":
        return
    got = _knob_values(text)
    values = [v for _, v in got if v is not None]
    # Monotone exactly: every float operation is monotone, so is a composition
    # of them; there is no rounding noise to forgive in a proved claim.
    assert _monotone(values, direction), (text, [(b, v) for b, v in got][::40])
    assert all(isinstance(v, int | float) and v == v and abs(v) != float("inf") for v in values)
    if report.ok:
        failing = [b for b, v in got if v is None]
        assert not failing, f"{expr}: proved and checked, but fails to compile at β={failing[0]}"


@budget(80)
@given(SCHEDULE, st.sampled_from(["int", "float"]), st.sampled_from(["up", "down", "const"]))
def test_proofs_with_extreme_literals_are_sound(expr: str, typ: str, direction: str) -> None:
    proofs_are_sound(expr, typ, direction)


@pytest.mark.slow
@budget(80, slow=True)
@given(SCHEDULE, st.sampled_from(["int", "float"]), st.sampled_from(["up", "down", "const"]))
def test_proofs_with_extreme_literals_are_sound_long(expr: str, typ: str, direction: str) -> None:
    proofs_are_sound(expr, typ, direction)


@pytest.mark.parametrize(
    ("expr", "typ"),
    [
        # the audit's counterexample: 0 * inf is NaN, and min(0.5, NaN) is 0.5
        ("6 + round(-10 * min(0.5, -(beta + 0 * (1e308 * (10 * beta)))))", "int"),
        ("1e308 * beta * 10", "float"),
        ("1e308 * beta * 2", "float"),  # finite at β = 0.5, inf from β ≈ 0.9
        ("9223372036854775000 - round(1000 * beta)", "int"),  # exact, past 2**53
    ],
)
def test_audit_counterexamples_do_not_pass(expr: str, typ: str) -> None:
    text = f"controller p\nschedule {{ x : {typ} up = {expr} }}\ninit {{ spawn 1 }}\n" + FINALLY
    report = check_source(text, "p")
    assert not report.ok, f"{expr} passes check"
    got = _knob_values(text)
    values = [v for _, v in got if v is not None]
    assert not _monotone(values, "up") or len(values) < len(got)  # the claim is indeed false


def test_int_ranges_are_exact_past_two_to_the_53() -> None:
    text = (
        "controller p\nschedule { x : int up = (9007199254740993 - 9007199254740992) "
        "* round(10 * beta) }\ninit { spawn x }\n" + FINALLY
    )
    report = check_source(text, "p")
    assert report.ok, report.render()
    assert (report.knobs[0].range.lo, report.knobs[0].range.hi) == (0, 10)


# ----------------------------------------------------- 2. prunes in nested loops

SETS = ["running", "alive", "finished"]


@st.composite
def loop_body(draw: st.DrawFn, depth: int = 0, scope: tuple[tuple[str, str], ...] = ()) -> str:
    """One or two items over the loop variables in `scope` ((name, set)
    pairs): an inner loop over a set (often the same one), a step of a
    running branch, a prune, an action through a (conditional) alias, or one
    of them under an `if`. Each variable is pruned at most once per body, so
    most programs pass `check` and get run."""
    out: list[str] = []
    running = [v for v, src in scope if src == "running"]
    pruned: set[str] = set()

    def action() -> str:
        choices = ["prune"] + (["step", "step", "alias"] if running else [])
        kind = draw(st.sampled_from(choices))
        if kind == "step":
            return f"step {draw(st.sampled_from(running))}"
        if kind == "alias":
            x, y = draw(st.sampled_from(running)), draw(st.sampled_from(running))
            name = f"z{depth}_{len(out)}"
            value = x if x == y else f"round % 2 == 0 ? {x} : {y}"
            return f"let {name} = {value}  step {name}"
        # the innermost variable: pruning an outer one inside an inner loop
        # prunes it again on the next inner iteration (E211, never run)
        v = scope[-1][0]
        if v in pruned:
            return f"step {draw(st.sampled_from(running))}" if running else "spawn 1"
        pruned.add(v)
        return f"prune {v}"

    for k in range(draw(st.sampled_from([1, 2, 2]))):
        kinds = (["for", "for"] if depth < 3 else []) + (["act", "act", "if"] if scope else [])
        # an inner loop first, then an action on an outer variable: the shape
        # of a prune that reaches a branch another variable still holds
        kind = "for" if k == 0 and depth < 2 else draw(st.sampled_from(kinds))
        if kind == "for":
            var = "abcd"[len(scope)]
            src = draw(st.sampled_from(["running", "running", "alive", "finished"]))
            where = draw(st.sampled_from(["", "", f" where {var}.index != 1"]))
            inner = draw(loop_body(depth + 1, (*scope, (var, src))))
            out.append(f"for {var} in {src}{where} {{ {inner} }}")
        elif kind == "if":
            v = draw(st.sampled_from([v for v, _ in scope]))
            out.append(f"if {v}.index % 2 == 0 {{ {action()} }}")
        else:
            out.append(action())
    return "  ".join(out)


def run_all(text: str) -> list[RuntimeFault]:
    runner = ProgramRunner(parse(text), text, "g.tts")
    prog = runner.compile(0.5)
    faults: list[RuntimeFault] = []
    for seed in (0, 1):
        for q in STORE.questions:
            try:
                run_episode(prog, Episode(q, seed))
            except RuntimeFault as fault:
                faults.append(fault)
    return faults


def checked_programs_never_step_a_pruned_branch(body: str) -> None:
    text = (
        "controller g\nlimits { max_branches = 12  max_rounds = 6 }\ninit { spawn 6 }\n"
        f"round {{\n  {body}\n}}\n" + FINALLY
    )
    report = check_source(text, "g.tts", grid_points=11)
    if not report.ok:
        return
    bad = [f for f in run_all(text) if "pruned" in f.message]
    assert not bad, f"{text}\npasses check, but: line {bad[0].span.line}: {bad[0].message}"


@budget(40)
@given(loop_body())
def test_checked_programs_never_step_a_pruned_branch(body: str) -> None:
    checked_programs_never_step_a_pruned_branch(body)


@pytest.mark.slow
@budget(40, slow=True)
@given(loop_body())
def test_checked_programs_never_step_a_pruned_branch_long(body: str) -> None:
    checked_programs_never_step_a_pruned_branch(body)


@pytest.mark.parametrize(
    "body",
    [
        "for a in running { for b in running { prune b } step a }",
        "for a in running { for b in running { step b  prune a } }",
        "for a in running { let x = round > 1 ? a : a  prune x  step a }",
        "for a in alive { for b in finished { prune b } } for c in running { step c }",
        "for a in running { step a  for f in finished { prune f }  step a }",
    ],
)
def test_audit_prune_probes(body: str) -> None:
    text = (
        "controller g\nlimits { max_branches = 12  max_rounds = 6 }\ninit { spawn 6 }\n"
        f"round {{\n  {body}\n}}\n" + FINALLY
    )
    report = check_source(text, "g.tts")
    faults = [f for f in run_all(text) if "pruned" in f.message]
    if faults:
        assert not report.ok and "E211" in {d.code for d in report.errors}, report.render()


# ------------------------------------------------------- 3. near every limit


@st.composite
def limited_program(draw: st.DrawFn) -> str:
    rounds = draw(st.sampled_from([0, 1, 3, 20, 100_000]))
    branches = draw(st.sampled_from([0, 1, 5, 12, 4096]))
    fuel = draw(st.sampled_from([1, 10, 200, 10_000_000]))
    size = draw(st.sampled_from([1, 3, 100_000]))
    n = draw(st.sampled_from(["0", "1", "3", "count(running)", "min(cost, 5)", "round % 4"]))
    inner = draw(
        st.sampled_from(
            [
                "for b in running { step b times 2 }",
                "for b in alive order by b.reads desc limit 3 { push(h, b.reads) }",
                f"repeat {n} {{ s = s + count(b in alive where b.reads > 1) }}",
                "if spawned < 8 { spawn 2 } else { read_full 1 }",
                f"for a in running {{ for b in opened {{ s = s + 1 }} repeat {n} {{ step a }} }}",
                "let c = conf(completed)  if c > 0.9 { stop }",
                "push(h, mean(h) + beta_conf(count(completed), 1))",
            ]
        )
    )
    outer = draw(st.sampled_from(["{}", "repeat 2 {{ {} }}", "for z in alive {{ {} }}"]))
    return (
        f"controller lim\nlimits {{ max_rounds = {rounds}  max_branches = {branches}  "
        f"fuel = {fuel} }}\nstate {{ s: int = 0  h: window({size}) }}\n"
        f"init {{ spawn 3 }}\nround {{\n  {outer.format(inner)}\n}}\n" + FINALLY
    )


RUN_AT_MOST = 300_000  # work units: programs with a larger bound are only checked


def finishes_within_its_bound(text: str) -> None:
    report = check_source(text, "lim.tts", grid_points=11)
    if not report.ok:
        assert report.errors
        return
    cost = report.cost
    assert cost is not None
    if cost.work > RUN_AT_MOST:
        return  # checked (and bounded); too long to run under the profiler here
    prog = ProgramRunner(parse(text), text, "lim.tts").compile(0.5)
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    for q in STORE.questions[:2]:
        ep = Episode(q, 0)
        calls = 0
        sys.setprofile(count)
        try:
            run_episode(prog, ep)
        except RuntimeFault:
            pass  # out of fuel is a located fault, within the bound all the same
        finally:
            sys.setprofile(None)
        assert ep.opened <= cost.branches, (text, ep.opened, cost)
        assert ep.total_reads <= cost.reads, (text, ep.total_reads, cost)
        # a work unit is about one interpreter call: allow a factor of two
        assert calls <= 2 * cost.work + 200, (text, calls, cost)


@budget(40)
@given(limited_program())
def test_checked_programs_finish_within_their_static_bound(text: str) -> None:
    finishes_within_its_bound(text)


@pytest.mark.slow
@budget(40, slow=True)
@given(limited_program())
def test_checked_programs_finish_within_their_static_bound_long(text: str) -> None:
    finishes_within_its_bound(text)


@pytest.mark.parametrize(
    ("decl", "code"),
    [
        ("limits { max_rounds = 2000000000 }", "E109"),
        ("limits { max_branches = 5000 }", "E109"),
        ("limits { fuel = 10000001 }", "E109"),
        ("state { h: window(2000000000) }", "E109"),
        ("state { h: window(100001) }", "E109"),
        # above the cap only for some β (compiles at the β check starts from)
        ("limits { max_rounds = round(150000*beta) }", "E109"),
        ("state { h: window(round(150000*beta) + 1) }", "E109"),
    ],
)
def test_declarations_above_the_caps_are_located_errors(decl: str, code: str) -> None:
    text = f"controller c\n{decl}\ninit {{ spawn 1 }}\n" + FINALLY
    report = check_source(text, "c.tts")
    assert [(d.code, d.span.line) for d in report.errors] == [(code, 2)], report.render()


def test_declared_window_sizes_bound_the_vms_memory() -> None:
    """`window(2000000000)` once made the compiled backend allocate 16 GB: sizes
    are capped (E109, above: 1,000,000 entries over all windows), and the VM
    allocates the sum of the capacities, so a large window next to many
    small ones costs what they declare, not their count times the largest."""
    small = "  ".join(f"w{i}: window(1)" for i in range(40))
    text = (
        f"controller c\nstate {{ big: window(100000)  {small} }}\ninit {{ spawn 2 }}\n"
        "round { push(big, spawned)  push(w3, mean(big))  if len(big) > 3 { stop } }\n" + FINALLY
    )
    runner = ProgramRunner(parse(text), text, "c.tts")
    got = runner.evaluate(STORE, 0.5, seeds=(0,), backend="vm")
    ref = runner.evaluate(STORE, 0.5, seeds=(0,), backend="reference")
    assert got.backend == "vm" and got.reruns == 0
    assert (got.answer == ref.answer).all() and (got.cost == ref.cost).all()


def test_five_nested_loops_over_opened_halt_or_are_refused() -> None:
    loops = "".join(f"for {v} in opened {{ " for v in "abcde")
    round_ = "round {\n  " + loops + "let x = 1 " + "} " * 5 + "\n}\n"
    # with the most fuel a program may have, the bound is above the cap ...
    text = "controller c\nlimits { fuel = 10000000 }\ninit { spawn 8 }\n" + round_ + FINALLY
    report = check_source(text, "c.tts")
    assert "E214" in {d.code for d in report.errors}, report.render()
    # ... with the default fuel it passes, and each episode stops when the
    # fuel (charged per iteration) runs out: it used to run for days
    text = "controller c\ninit { spawn 8 }\n" + round_ + FINALLY
    report = check_source(text, "c.tts")
    assert report.ok and report.cost is not None and report.cost.by == "fuel"
    prog = ProgramRunner(parse(text), text, "c.tts").compile(0.5)
    with pytest.raises(RuntimeFault, match="exceeds the remaining fuel"):
        run_episode(prog, Episode(STORE.questions[0], 0))


def test_an_empty_round_runs_out_of_fuel_at_the_round() -> None:
    text = "controller c\nlimits { max_rounds = 100000  fuel = 50 }\nround { }\n" + FINALLY
    assert check_source(text, "c.tts").ok
    (fault, *_) = run_all(text)
    assert fault.message == "out of fuel" and fault.span.line == 3


def test_a_for_loop_is_charged_per_iteration() -> None:
    text = (
        "controller c\nlimits { max_rounds = 5  fuel = 20 }\ninit { spawn 6 }\n"
        "round { for a in opened { for b in opened { let x = 1 } } }\n" + FINALLY
    )
    (fault, *_) = run_all(text)
    assert re.fullmatch(r"`for` over \d+ branches exceeds the remaining fuel", fault.message)


# -------------------------------------------------------------- 4. robustness

HUGE_INT = "1" + "0" * 400  # beyond the float range: once an OverflowError in the checker

TOKENS = [
    *[
        "controller",
        "limits",
        "params",
        "schedule",
        "state",
        "branch",
        "init",
        "round",
        "finally",
        "for",
        "in",
        "where",
        "order",
        "by",
        "limit",
        "desc",
        "asc",
        "repeat",
        "times",
        "rule",
        "when",
        "do",
        "spawn",
        "read_full",
        "step",
        "prune",
        "answer",
        "stop",
        "let",
        "if",
        "elif",
        "else",
        "and",
        "or",
        "not",
        "true",
        "false",
        "none",
        "up",
        "down",
        "const",
        "int",
        "float",
        "bool",
        "window",
        "beta",
        "running",
        "alive",
        "finished",
        "opened",
        "pruned",
        "completed",
        "spawned",
        "cost",
        "count",
        "winner",
        "conf",
        "min",
        "max",
        "round",
        "pow",
        "log",
        "b",
        "x",
        "k",
    ],
    *[
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        ";",
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "?",
        "??",
        ".",
        "**",
        "#",
    ],
    *EXTREME,
    "1e400",
    "99999999999999999999999999999999999999",
    HUGE_INT,
    '"text"',
    "\n",
]


def diagnostics_only(text: str) -> None:
    report = check_source(text, "fuzz.tts", grid_points=11)
    assert all(d.code[0] in "EW" and d.span.line >= 0 for d in report.diagnostics)
    try:
        out = fmt(text)
    except DiagnosticError:
        return
    assert parse(out) == parse(text)
    if report.ok:
        for beta in (0.0, 1.0):
            with contextlib.suppress(DiagnosticError):
                compile_program(parse(text), beta)


@budget(150)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=60).map(" ".join))
def test_token_soups_give_diagnostics_only(text: str) -> None:
    diagnostics_only(text)


@budget(25)
@given(
    st.sampled_from(sorted(STDLIB_DIR.glob("*.tts"))),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(EXTREME) | st.sampled_from(["1e400", HUGE_INT, "-" + HUGE_INT]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_stdlib_with_extreme_literals_gives_diagnostics_only(path: Any, swaps: list[Any]) -> None:
    text = path.read_text(encoding="utf-8")
    numbers = list(re.finditer(r"(?<![\w.])\d+(\.\d+)?(e-?\d+)?(?![\w.])", text))
    for at, literal in swaps:
        if not numbers:
            break
        m = numbers[at % len(numbers)]
        text = text[: m.start()] + literal + text[m.end() :]
        numbers = list(re.finditer(r"(?<![\w.])\d+(\.\d+)?(e-?\d+)?(?![\w.])", text))
    diagnostics_only(text)


@pytest.mark.slow
@budget(150, slow=True)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=120).map(" ".join))
def test_token_soups_give_diagnostics_only_long(text: str) -> None:
    diagnostics_only(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("controller x\nschedule { k : int up = 1" + "0" * 400 + " }\n" + FINALLY, "E118"),
        ("controller x\nschedule { k : float up = 1e400 * beta }\n" + FINALLY, "E118"),
        ("controller x\ninit { spawn " + "-" * 300 + "1 }\n" + FINALLY, "E001"),
        (
            "controller x\ninit { "
            + "if true { " * 300
            + "spawn 1"
            + " }" * 300
            + " }\n"
            + FINALLY,
            "E001",
        ),
        ("controller x\ninit { spawn " + "(" * 300 + "1" + ")" * 300 + " }\n" + FINALLY, ""),
        ("controller x\ninit { spawn round(round(5 + spawned, -1000000000000)) }\n" + FINALLY, ""),
    ],
    ids=["int_beyond_float", "float_literal_inf", "minus_300", "ifs_300", "parens_300", "round_n"],
)
def test_extreme_inputs_are_diagnostics(text: str, code: str) -> None:
    report = check_source(text, "x.tts")
    assert [d.code for d in report.errors] == ([code] if code else []), report.render()
    if not code:
        run_all(text)  # and it runs


# ---------------------------------------------------------- 5. small defects


def test_a_knob_in_error_raises_no_follow_on_errors() -> None:
    text = (
        "controller x\nschedule { k : int up = spawned  j : int up = k + 1 }\n"
        "init { spawn k  spawn j }\n" + FINALLY
    )
    report = check_source(text, "x.tts")
    assert [d.code for d in report.errors] == ["E111"], report.render()


def test_power_operator_gets_a_hint_towards_pow() -> None:
    text = "controller x\nschedule { k : float up = 2 ** beta }\n" + FINALLY
    (d,) = check_source(text, "x.tts").errors
    assert d.code == "E001" and "pow(x, y)" in d.hint


def test_e210_message_has_balanced_backticks() -> None:
    text = (
        "controller x\ninit { spawn 2 }\nround { for b in running { let y = b  prune y } "
        "for c in alive { step c } }\n" + FINALLY
    )
    report = check_source(text, "x.tts")
    e210 = [d for d in report.errors if d.code == "E210"]
    assert e210
    for d in report.diagnostics:
        assert d.message.count("`") % 2 == 0, d.message


@pytest.mark.parametrize(
    ("params", "code"),
    [({}, ""), ({"s": -1.0}, "E201"), ({"n_init": -3}, "E203"), ({"s": "x"}, "E107")],
)
def test_check_with_the_params_of_a_run(params: dict[str, Any], code: str) -> None:
    text = (
        "controller p\nparams { s : float = 1.0 }\n"
        "schedule { n_init : int up = round(4 + 4*s*beta) }\ninit { spawn n_init }\n" + FINALLY
    )
    report = check_source(text, "p.tts", params=params)
    assert [d.code for d in report.errors] == ([code] if code else []), report.render()
