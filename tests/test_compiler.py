"""Compiler: one test per diagnostic it can produce (code + line), knob values
per β, params and overrides, int → float promotion."""

from __future__ import annotations

from typing import Any

import pytest

from autotts_dsl.compiler import Compiled, compile_program
from autotts_dsl.diagnostics import Diagnostic, DiagnosticError
from autotts_dsl.parser import parse
from autotts_dsl.programs import load_program

HEADER = "controller t\n"
FINAL = "finally { answer winner(completed) }\n"


def compile_src(src: str, beta: float = 0.5, overrides: dict[str, Any] | None = None) -> Compiled:
    return compile_program(parse(src, "t.tts"), beta, overrides or {}, source=src, path="t.tts")


def errors(
    src: str, beta: float = 0.5, overrides: dict[str, Any] | None = None
) -> list[Diagnostic]:
    with pytest.raises(DiagnosticError) as info:
        compile_src(src, beta, overrides)
    assert info.value.path == "t.tts"
    return list(info.value.diagnostics)


def one_error(src: str, beta: float = 0.5, overrides: dict[str, Any] | None = None) -> Diagnostic:
    diags = errors(src, beta, overrides)
    assert len(diags) == 1, [(d.code, d.message) for d in diags]
    return diags[0]


def in_round(body: str, decls: str = "") -> str:
    return HEADER + decls + "round {\n" + body + "\n}\n" + FINAL


# ------------------------------------------------------------------ E101


def test_e101_unknown_name_with_did_you_mean() -> None:
    d = one_error(in_round("  let x = spawnd"))
    assert (d.code, d.span.line, d.span.col) == ("E101", 3, 11)
    assert d.message == "unknown name `spawnd`"
    assert d.hint == "did you mean `spawned`?"


def test_e101_capitalised_true_hints_lower_case() -> None:
    d = one_error(in_round("  if True { stop }"))
    assert (d.code, d.span.line) == ("E101", 3)
    assert d.hint == "literals are lower case: `true`"


def test_e101_gold_is_not_nameable() -> None:
    for name in ("gold", "gold_answer"):
        d = one_error(in_round(f"  answer {name}"))
        assert (d.code, d.span.line) == ("E101", 3)
        assert d.message == f"unknown name `{name}`"
        assert "gold answer is not visible" in d.hint


def test_e101_unknown_function_and_field() -> None:
    d = one_error(in_round("  let x = winnr(completed)"))
    assert (d.code, d.span.line, d.hint) == ("E101", 3, "did you mean `winner`?")
    d = one_error(in_round("  for b in running {\n    let x = b.read\n  }"))
    assert (d.code, d.span.line) == ("E101", 4)
    assert d.message == "branches have no field `read`"
    assert d.hint == "did you mean `reads`?"


def test_e101_let_is_scoped_to_its_block() -> None:
    d = one_error(in_round("  if true { let y = 1 }\n  let z = y"))
    assert (d.code, d.span.line) == ("E101", 4)


def test_e101_assigning_an_undeclared_variable() -> None:
    d = one_error(in_round("  zz = 1"))
    assert (d.code, d.span.line) == ("E101", 3)
    assert "state" in d.hint


# ------------------------------------------------------------------ E102


def test_e102_answer_compared_with_int() -> None:
    d = one_error(in_round("  if winner(completed) == 1 { stop }"))
    assert (d.code, d.span.line) == ("E102", 3)
    assert d.message == "cannot compare `answer` with `int`"


def test_e102_not_on_int() -> None:
    d = one_error(in_round("  if not 1 { stop }"))
    assert (d.code, d.span.line) == ("E102", 3)
    assert d.message == "`not` needs a bool, got `int`"


def test_e102_set_expected() -> None:
    d = one_error(in_round("  for b in completed { step b }"))
    assert (d.code, d.span.line) == ("E102", 3)
    assert d.message == "expected a set of branches, got `answers`"
    d = one_error(in_round("  let n = count(b in 3)"))
    assert (d.code, d.span.line) == ("E102", 3)


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ("  if 1 { stop }", "a condition must be a bool"),
        ("  let x = true + 1", "`+` needs numbers"),
        ("  let x = 1 and true", "`and` needs bools"),
        ("  let x = 1 ? 2 : 3", "condition of `? :`"),
        ("  let x = true ? 2 : none", "two arms of `? :` differ"),
        ("  let x = 1 ?? none", "`??` works on answers"),
        ("  answer 3", "`answer` needs an answer"),
        ("  spawn 1.5", "the count of `spawn` must be an int"),
        ("  read_full true", "the count of `read_full` must be an int"),
        ("  prune 1", "`prune` needs a branch"),
        ("  step 1", "`step` needs a branch"),
        ("  repeat 1.5 { stop }", "`repeat` needs an int count"),
        ("  let x = -true", "unary `-` needs a number"),
        ("  let x = round.reads", "needs a branch"),
        ("  for b in running where 1 { stop }", "`where` needs a bool"),
        ("  for b in running limit 1.5 { stop }", "`limit` needs an int"),
        ("  for b in running order by b.answer { stop }", "cannot order by"),
    ],
)
def test_e102_other_type_errors(body: str, message_part: str) -> None:
    d = one_error(in_round(body))
    assert (d.code, d.span.line) == ("E102", 3)
    assert message_part in d.message


def test_e102_step_count_float_hints_round() -> None:
    d = one_error(in_round("  for b in running { step b times 1.5 }"))
    assert (d.code, d.span.line) == ("E102", 3)
    assert "round" in d.hint


# ------------------------------------------------------------------ E103 / E104


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "state {\n  round: int = 0\n}\n" + FINAL, 3),
        (HEADER + "state {\n  winner: int = 0\n}\n" + FINAL, 3),
        (HEADER + "params {\n  beta: float = 0.1\n}\n" + FINAL, 3),
        (HEADER + "schedule {\n  running: int up = 1\n}\n" + FINAL, 3),
        (in_round("  let count = 1"), 3),
        (in_round("  for spawned in running { stop }"), 3),
    ],
)
def test_e103_redeclaring_a_builtin_name(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E103", line)
    assert "builtin name" in d.message


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "state { x: int = 0\n  x: int = 1 }\n" + FINAL, 3),
        (HEADER + "params { n: int = 1 }\nschedule {\n  n: int up = 2 }\n" + FINAL, 4),
        (HEADER + "state { w: int = 0 }\n" + "round {\n  let w = 1\n}\n" + FINAL, 4),
        (in_round("  let a = 1\n  let a = 2"), 4),
        (in_round("  for b in running {\n    let n = count(b in alive)\n  }"), 4),
        (HEADER + "branch { d: int = 0\n  d: int = 1 }\n" + FINAL, 3),
        (HEADER + "branch {\n  reads: int = 0 }\n" + FINAL, 3),
    ],
)
def test_e104_duplicates(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E104", line)
    assert "already defined" in d.message


# ------------------------------------------------------------------ E105 / E106


def test_e105_int_knob_with_float_expression_hints_round() -> None:
    d = one_error(HEADER + "schedule {\n  n : int up = 2 + 8*beta\n}\n" + FINAL)
    assert (d.code, d.span.line) == ("E105", 3)
    assert d.message == "knob `n` is declared `int` but the expression is `float`"
    assert "round(...)" in d.hint


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "state {\n  x: int = 1.5 }\n" + FINAL, 3),
        (HEADER + "params {\n  p: int = 0.5 }\n" + FINAL, 3),
        (HEADER + "state { x: int = 1 }\nround {\n  x = 1.5\n}\n" + FINAL, 4),
        (HEADER + "state { x: bool = false }\nround {\n  x = 1\n}\n" + FINAL, 4),
        (
            HEADER
            + "branch { d: int = 0 }\nround {\n  for b in running { b.d = 0.5 }\n}\n"
            + FINAL,
            4,
        ),
        (HEADER + "limits {\n  max_rounds = 2.5 }\n" + FINAL, 3),
        (HEADER + "schedule {\n  n: int up = 3 / 3 }\n" + FINAL, 3),
    ],
)
def test_e105_declared_type_mismatch(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E105", line)


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "state {\n  x: string = 1\n}\n" + FINAL, 3),
        (HEADER + "branch {\n  h: window(3)\n}\n" + FINAL, 3),
        (HEADER + "schedule {\n  n: bool up = true\n}\n" + FINAL, 3),
        (HEADER + "params {\n  a: answer = none\n}\n" + FINAL, 3),
        (HEADER + "state {\n  x: int(3) = 1\n}\n" + FINAL, 3),
    ],
)
def test_e106_unknown_type(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E106", line)


# ------------------------------------------------------------------ E107


PARAMS = HEADER + "params {\n  n: int = 1\n  f: float = 0.5\n  flag: bool = true\n}\n" + FINAL


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [("n", "abc", 3), ("n", "1.5", 3), ("f", "x", 4), ("flag", "maybe", 5), ("n", 2.5, 3)],
)
def test_e107_bad_param_value(name: str, raw: Any, line: int) -> None:
    d = one_error(PARAMS, overrides={name: raw})
    assert (d.code, d.span.line) == ("E107", line)
    assert d.message.startswith(f"--param {name}=")


def test_e107_unknown_param_name_with_did_you_mean() -> None:
    d = one_error(PARAMS, overrides={"nn": "3"})
    assert d.code == "E107"
    assert d.message == "--param nn: no param or knob of that name"
    assert d.span.line == 1  # the controller header
    assert d.hint == "did you mean `n`?"


def test_e107_bad_knob_pin() -> None:
    src = HEADER + "schedule {\n  k: int up = round(10*beta)\n}\n" + FINAL
    d = one_error(src, overrides={"k": "2.5"})
    assert (d.code, d.span.line) == ("E107", 3)


# ------------------------------------------------------------------ E108 / E109


def test_e108_unknown_limit() -> None:
    d = one_error(HEADER + "limits {\n  max_round = 3\n}\n" + FINAL)
    assert (d.code, d.span.line) == ("E108", 3)
    assert d.hint == "did you mean `max_rounds`?"


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "limits {\n  max_rounds = -1\n}\n" + FINAL, 3),
        (HEADER + "limits {\n  max_branches = -4\n}\n" + FINAL, 3),
        (HEADER + "limits {\n  fuel = 0\n}\n" + FINAL, 3),
        (HEADER + "state {\n  h: window(0)\n}\n" + FINAL, 3),
        (HEADER + "state {\n  h: window(-2)\n}\n" + FINAL, 3),
        (HEADER + "state {\n  h: window(2.5)\n}\n" + FINAL, 3),
    ],
)
def test_e109_negative_or_zero_sizes(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E109", line)


def test_e109_zero_fuel_message_states_the_real_bound() -> None:
    d = one_error(HEADER + "limits {\n  fuel = 0\n}\n" + FINAL)
    assert ">= 1" in d.message


def test_zero_max_rounds_is_allowed() -> None:
    # ESC at β = 0 has max_rounds = 1 // 8 = 0: no rounds, straight to `finally`
    c = compile_src(HEADER + "limits { max_rounds = 0 }\n" + FINAL)
    assert c.max_rounds == 0


# ------------------------------------------------------------------ E110 / E111 / E112


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "state { x: int = 0\n  y: int = x }\n" + FINAL, 3),
        (HEADER + "state { x: int = 2\n  h: window(x) }\n" + FINAL, 3),
        (HEADER + "state {\n  h: window(3) = 0.5 }\n" + FINAL, 3),
        (HEADER + "state { x: int = 2 }\nbranch {\n  d: int = x }\n" + FINAL, 4),
    ],
)
def test_e110_non_constant_in_a_constant_context(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E110", line)


@pytest.mark.parametrize(
    ("expr", "col"),
    [
        ("round", 15),
        ("count(completed)", 21),
        ("winner(completed) == none ? 1 : 2", 22),
        ("spawned", 15),
        ("cost", 15),
    ],
)
def test_e111_run_time_state_in_a_schedule(expr: str, col: int) -> None:
    d = one_error(HEADER + f"schedule {{\n  n: int up = {expr}\n}}\n" + FINAL)
    assert (d.code, d.span.line, d.span.col) == ("E111", 3, col)
    assert "run-time state" in d.message


def test_e111_in_params_limits_and_state_initialisers() -> None:
    assert one_error(HEADER + "params {\n  p: int = remaining\n}\n" + FINAL).code == "E111"
    assert one_error(HEADER + "limits {\n  max_rounds = spawned\n}\n" + FINAL).span.line == 3
    d = one_error(HEADER + "state {\n  x: int = round\n}\n" + FINAL)
    assert (d.code, d.span.line) == ("E111", 3)


def test_e111_reported_on_a_run_time_builtin_call() -> None:
    # `beta_conf` takes ints, so its argument is constant; the call itself is run-time only
    d = one_error(HEADER + "schedule {\n  c: float up = beta_conf(3, 1)\n}\n" + FINAL)
    assert (d.code, d.span.line) == ("E111", 3)


@pytest.mark.parametrize(
    "expr",
    ["1 // 0", "1 / (beta - beta)", "7 % 0", "log(0)", "sqrt(-1)", "pow(10.0, 400)"],
)
def test_e112_constant_arithmetic_error(expr: str) -> None:
    d = one_error(HEADER + f"schedule {{\n  n: float up = {expr}\n}}\n" + FINAL)
    assert (d.code, d.span.line) == ("E112", 3)


# ------------------------------------------------------------------ E113 / E114 / E115


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_e113_ordering_answers(op: str) -> None:
    d = one_error(
        in_round(f"  let w = winner(completed)\n  let x = none\n  if w {op} x {{ stop }}")
    )
    assert (d.code, d.span.line) == ("E113", 5)
    assert "unordered" in d.message


def test_answers_compare_with_equality_and_none() -> None:
    compile_src(in_round("  let w = winner(completed)\n  if w == none or w != w { stop }"))


def test_aggregating_answers_is_rejected() -> None:
    d = one_error(in_round("  let m = max(b.answer for b in running)"))
    assert d.code in ("E113", "E114", "E102")


@pytest.mark.parametrize(
    "body",
    [
        "  let x = winner(1)",
        "  let x = winner(completed, completed)",
        "  let x = max(winner(completed), winner(completed))",
        "  let x = recent(completed)",
        "  let x = max(b.finished for b in running)",
        "  let x = round(1.5, 2.5)",
    ],
)
def test_e114_wrong_builtin_arguments(body: str) -> None:
    d = one_error(in_round(body))
    assert (d.code, d.span.line) == ("E114", 3)


def test_e114_wrong_effect_arguments() -> None:
    d = one_error(in_round("  push(h)", "state { h: window(2) }\n"))
    assert (d.code, d.span.line) == ("E114", 4)
    d = one_error(in_round("  push(completed, 1.0)"))
    assert (d.code, d.span.line) == ("E114", 3)


def test_e115_effect_builtin_used_as_a_value() -> None:
    d = one_error(in_round("  let x = push(h, 1.0)", "state { h: window(3) }\n"))
    assert (d.code, d.span.line) == ("E115", 4)
    assert "must be used as a statement" in d.message


def test_e115_pure_call_used_as_a_statement() -> None:
    d = one_error(in_round("  winner(completed)"))
    assert (d.code, d.span.line) == ("E115", 3)
    assert "no effect" in d.message


# ------------------------------------------------------------------ E116 / E117 / E120


@pytest.mark.parametrize(
    ("src", "line", "what"),
    [
        (HEADER + "schedule { n: int up = 1 }\nround {\n  n = 2\n}\n" + FINAL, 4, "knob"),
        (HEADER + "params { p: int = 1 }\nround {\n  p = 2\n}\n" + FINAL, 4, "knob or param"),
        (in_round("  let y = 1\n  y = 2"), 4, "`let`"),
        (in_round("  for b in running {\n    b.reads = 2\n  }"), 4, "read-only"),
        (in_round("  for b in running {\n    b = b\n  }"), 4, "loop variable"),
        (in_round("  h = 1.0", "state { h: window(2) }\n"), 4, "window"),
    ],
)
def test_e116_assigning_to_a_constant_let_or_builtin_field(src: str, line: int, what: str) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E116", line)
    assert what in d.message


def test_e116_assigning_to_a_builtin_value() -> None:
    d = one_error(in_round("  spawned = 2"))
    assert (d.code, d.span.line) == ("E116", 3)


@pytest.mark.parametrize(
    ("src", "line"),
    [
        (HEADER + "init {\n  stop\n}\n" + FINAL, 3),
        (HEADER + "finally {\n  stop\n  answer none\n}\n", 3),
        (HEADER + "init {\n  if true {\n    stop\n  }\n}\n" + FINAL, 4),
    ],
)
def test_e117_stop_outside_round(src: str, line: int) -> None:
    d = one_error(src)
    assert (d.code, d.span.line) == ("E117", line)


def test_e120_missing_finally() -> None:
    d = one_error(HEADER + "round { stop }\n")
    assert (d.code, d.span.line) == ("E120", 1)
    assert "finally" in d.hint


def test_all_errors_are_reported_together_in_source_order() -> None:
    src = in_round("  let a = nope\n  if 1 { stop }\n  answer 3")
    codes = [(d.code, d.span.line) for d in errors(src)]
    assert codes == [("E101", 3), ("E102", 4), ("E102", 5)]


def test_compile_error_renders_with_file_line_and_caret() -> None:
    src = in_round("  let x = spawnd")
    with pytest.raises(DiagnosticError) as info:
        compile_src(src)
    text = info.value.render()
    assert "error[E101]: unknown name `spawnd`" in text
    assert "--> t.tts:3:11" in text
    assert "3 |   let x = spawnd" in text
    assert "|           ^^^^^^ not defined" in text


# ------------------------------------------------------------------ knob values


def test_knob_rounding_is_half_to_even() -> None:
    src = (
        HEADER
        + "schedule {\n"
        + "  a : int up = round(2 + 8*beta)\n"  # 6.0
        + "  b : int up = round(1 + 3*beta)\n"  # 2.5 -> 2 (half-up would say 3)
        + "  c : int up = round(2 + 3*beta)\n"  # 3.5 -> 4
        + "  d : float down = round(0.70 - 0.40*beta, 4)\n"  # 0.49999999999999994 -> 0.5
        + "  e : float up = round(0.85 + 0.12*beta, 4)\n"
        + "  f : int up = floor(4.5 * beta) + ceil(beta)\n"
        + "}\n"
        + FINAL
    )
    k = compile_src(src, beta=0.5).knobs
    assert k == {"a": 6, "b": 2, "c": 4, "d": 0.5, "e": 0.91, "f": 3}
    assert type(k["a"]) is int and type(k["d"]) is float


def test_cmc_knobs_at_half() -> None:
    k = load_program("cmc").compile(0.5).knobs
    assert k == {
        "n_init": 5,
        "max_branch_use": 34,
        "warm_up": 6,
        "abandon_patience": 8,  # round(7.5) = 8 (even)
        "T_ema": 5,
        "ema_alpha": 0.5,
        "conf_thresh": 0.91,
        "delta_slack": 0.025,
        "burst_aligned": 2,  # round(2.0)
        "widen_burst": 2,  # round(2.5) = 2 (even), not 3
        "trend_thresh": 0.025,
        "min_complete": 4,  # round(3.5) = 4
    }


@pytest.mark.parametrize(("beta", "samples"), [(0.0, 1), (0.5, 8), (1.0, 64), (0.25, 3)])
def test_sc_samples_per_beta(beta: float, samples: int) -> None:
    assert load_program("sc").compile(beta).knobs == {"samples": samples}


def test_params_are_overridable_and_knobs_see_them() -> None:
    src = (
        HEADER
        + "params { p: int = 3\n  q: float = 1\n  r: bool = true }\n"
        + "schedule { k: int up = p * 2 }\n"
        + FINAL
    )
    c = compile_src(src)
    assert c.params == {"p": 3, "q": 1.0, "r": True}
    assert c.knobs == {"k": 6}
    c = compile_src(src, overrides={"p": "5", "r": "false", "q": "2"})
    assert c.params == {"p": 5, "q": 2.0, "r": False}
    assert c.knobs == {"k": 10}
    assert c.constants == {"p": 5, "q": 2.0, "r": False, "k": 10}


def test_knobs_can_be_pinned_by_overrides() -> None:
    src = HEADER + "schedule {\n  k: int up = round(10*beta)\n  j: int up = k + 1\n}\n" + FINAL
    assert compile_src(src, beta=0.3).knobs == {"k": 3, "j": 4}
    assert compile_src(src, beta=0.3, overrides={"k": "7"}).knobs == {"k": 7, "j": 8}
    assert compile_src(src, beta=0.3, overrides={"k": 9}).knobs == {"k": 9, "j": 10}


def test_int_to_float_promotion() -> None:
    src = (
        HEADER
        + "params { p: float = 2 }\n"
        + "schedule { k: float up = 3\n  m: float up = max(1, 2) }\n"
        + "state { x: float = 1 }\n"
        + "branch { d: float = 0 }\n"
        + "round {\n  x = 4\n  x = x + k\n}\n"
        + FINAL
    )
    c = compile_src(src)
    assert c.params == {"p": 2.0} and type(c.params["p"]) is float
    assert c.knobs == {"k": 3.0, "m": 2.0}
    assert all(type(v) is float for v in c.knobs.values())
    state = c.make_state()
    assert state == [1.0] and type(state[0]) is float
    assert c.field_inits == (0.0,) and type(c.field_inits[0]) is float


def test_int_arithmetic_stays_int_and_division_is_float() -> None:
    src = (
        HEADER
        + "schedule {\n  a: int up = 7 // 2\n  b: int up = 7 % 4\n"
        + "  c: float up = 7 / 2\n  d: int up = min(3, 2)\n  e: float up = min(1.5, 2) }\n"
        + FINAL
    )
    assert compile_src(src).knobs == {"a": 3, "b": 3, "c": 3.5, "d": 2, "e": 1.5}


def test_limits_and_defaults() -> None:
    c = compile_src(HEADER + FINAL)
    assert (c.max_rounds, c.fuel) == (1000, 1_000_000)
    c = compile_src(
        HEADER
        + "params { n: int = 3 }\nlimits { max_rounds = n * 2  max_branches = 4  fuel = 10 }\n"
        + FINAL
    )
    assert (c.max_branches, c.max_rounds, c.fuel) == (4, 6, 10)


def test_stdlib_programs_compile_across_the_beta_grid() -> None:
    for name in ("sc", "asc", "esc", "parallel_probe", "cmc"):
        runner = load_program(name)
        for beta in (0.0, 0.1, 0.5, 0.9, 1.0):
            c = runner.compile(beta)
            assert c.beta == beta
    assert load_program("esc").compile(0.0).max_rounds == 0
    assert load_program("esc").compile(1.0).max_rounds == 8
