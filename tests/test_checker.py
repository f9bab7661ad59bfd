"""The checker: interval arithmetic, β-direction proofs and counterexamples,
ranges, budget polarity, admissibility, lints, and the three CLI commands."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from autotts_dsl.builtins import BUILTINS, corners
from autotts_dsl.checker import CheckReport, check_source, explain
from autotts_dsl.checker.intervals import Interval
from autotts_dsl.cli.main import main
from autotts_dsl.compiler import compile_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, stdlib_names

# ------------------------------------------------------------------ helpers


def check(text: str, **kw: object) -> CheckReport:
    return check_source(text, "t.tts", **kw)  # type: ignore[arg-type]


def codes(r: CheckReport) -> list[tuple[str, int]]:
    return sorted((d.code, d.span.line) for d in r.diagnostics)


def knob_program(expr: str, direction: str = "up", typ: str = "float") -> str:
    return (
        "controller p\n"
        f"schedule {{ x : {typ} {direction} = {expr} }}\n"
        "init { spawn max(0, round(x)) }\n"
        "finally { answer winner(completed) }\n"
    )


def proved(expr: str, direction: str = "up") -> str:
    r = check(knob_program(expr, direction))
    assert r.knobs, r.render()
    return r.knobs[0].proved


FINALLY = "finally { answer winner(completed) }\n"

# ------------------------------------------------------------------ intervals


def test_interval_arithmetic() -> None:
    a, b = Interval(1, 2), Interval(-3, 4)
    assert a.add(b, floaty=True).bounds == (-2, 6)
    assert a.sub(b, floaty=True).bounds == (-3, 5)
    assert a.mul(b, floaty=True).bounds == (-6, 8)
    assert a.divide(Interval(2, 4)).bounds == (0.25, 1.0)
    assert a.divide(b).bounds == (-math.inf, math.inf)  # the divisor holds 0
    assert Interval(7, 9, True).floordiv(Interval(2, 2, True)).bounds == (3, 4)
    assert Interval(0, 100, True).mod(Interval(3, 3, True)).bounds == (0, 2)
    # an unbounded int end is a finite value: 0 times it is 0 ...
    assert Interval(0, 0, True).mul(Interval.top(True)).bounds == (0, 0)
    # ... but a float range with an infinite end may hold ∞ itself: 0 × ∞ is NaN
    assert Interval(0, 0).mul(Interval(0, math.inf), floaty=True).nan
    assert Interval.make(0.5, 3.5, True).bounds == (1, 3)


def test_interval_ints_are_exact_beyond_two_to_the_53() -> None:
    big = Interval.point(2**53 + 1, True)
    assert big.sub(Interval.point(2**53, True)).bounds == (1, 1)
    assert (
        str(Interval.point(9223372036854775807, True))
        == "[9223372036854775807, 9223372036854775807]"
    )
    # in floats the same difference is what the run time computes: 0
    assert big.as_float().sub(Interval.point(2.0**53), floaty=True).bounds == (0, 0)


def test_interval_overflow_and_nan_are_unknown() -> None:
    huge = Interval.point(1e308).mul(Interval(0.0, 10.0), floaty=True)
    assert huge.bounds == (0, math.inf) and huge.may_inf
    assert Interval.point(0.0).mul(huge, floaty=True).nan
    inf = Interval.point(math.inf)
    assert inf.sub(inf, floaty=True).nan
    assert str(inf.sub(inf, floaty=True)).endswith("or NaN")


def test_interval_signs() -> None:
    assert Interval(0, 2).sign == "pos"
    assert Interval(-2, 0).sign == "neg"
    assert Interval(0, 0).sign == "zero"
    assert Interval(-1, 1).sign == "any"


def test_corner_rule_is_exact_for_monotone_rows() -> None:
    rule = corners(math.pow)
    assert rule([(64, 64), (0, 1)]) == (1, 64)
    assert rule([(0.25, 0.25), (0, 1)]) == (0.25, 1)
    assert corners(round)([(math.inf, math.inf)]) == (math.inf, math.inf)


def test_every_schedule_builtin_has_an_interval_rule() -> None:
    # the one table carries the checker's metadata too
    missing = [b.signature for b in BUILTINS if b.schedule and b.interval is None]
    assert not missing


def test_pow_monotonicity_depends_on_the_ranges() -> None:
    (row,) = [b for b in BUILTINS if b.name == "pow"]
    assert row.mono_for([(64, 64), (0, 1)]) == ("incr", "incr")
    assert row.mono_for([(0.5, 0.5), (0, 1)]) == ("incr", "decr")
    assert row.mono_for([(0, 1), (2, 2)]) == ("incr", "none")
    assert row.domain_at is not None
    assert row.domain_at([(-1, 1), (2, 2)])
    assert not row.domain_at([(0, 1), (2, 2)])


# ------------------------------------------------------------------ proofs


@pytest.mark.parametrize(
    ("expr", "direction"),
    [
        ("beta", "up"),
        ("1 - beta", "down"),
        ("beta*beta", "up"),
        ("(1 - beta)*(1 - beta)", "down"),
        ("-beta*beta", "down"),
        ("1/(1 + beta)", "down"),
        ("pow(2, beta)", "up"),
        ("pow(0.5, beta)", "down"),
        ("pow(beta, 2)", "up"),
        ("min(beta, 0.5)", "up"),
        ("max(1 - beta, 0.2)", "down"),
        ("clamp(beta, 0.2, 0.8)", "up"),
        ("abs(beta + 1)", "up"),
        ("abs(beta - 2)", "down"),
        ("round(2 + 6*beta)", "up"),
        ("round(0.70 - 0.40*beta, 4)", "down"),
        ("floor(4.5*beta)", "up"),
        ("ceil(3*beta)", "up"),
        ("sigmoid(4*beta - 2)", "up"),
        ("exp(-beta)", "down"),
        ("log(1 + beta)", "up"),
        ("sqrt(beta)", "up"),
        ("7 % 3", "const"),
        ("float(round(3*beta))", "up"),
        ("2 // (1 + beta)", "down"),
        ("round(3*beta) * round(2*beta)", "up"),
        ("(beta - 0.5) * 2", "up"),
    ],
)
def test_direction_rules(expr: str, direction: str) -> None:
    assert proved(expr, direction) == direction


@pytest.mark.parametrize(
    "expr",
    ["beta/(1 + beta)", "abs(beta - 0.5)", "beta % 0.3", "beta > 0.5 ? 1 : 0", "exp(beta) - beta"],
)
def test_unprovable_expressions(expr: str) -> None:
    assert proved(expr) == "unknown"


def test_false_up_claim_gets_a_counterexample() -> None:
    r = check(knob_program("0.9 - 0.1*beta"))
    assert codes(r) == [("E201", 2)]
    d = r.diagnostics[0]
    m = re.search(r"but it is (\S+) at β=(\S+) and (\S+) at β=(\S+)", d.message)
    assert m, d.message
    v1, b1, v2, b2 = (float(x) for x in m.groups())
    assert b1 < b2 and v1 > v2  # a genuine violation of `up`
    # and the values are the compiler's own
    program = parse(knob_program("0.9 - 0.1*beta"))
    assert compile_program(program, b1).knobs["x"] == pytest.approx(v1)
    assert compile_program(program, b2).knobs["x"] == pytest.approx(v2)
    assert "down" in d.hint
    assert r.knobs[0].status == "false"


def test_non_monotone_claim_says_so() -> None:
    r = check(knob_program("beta*(1 - beta)"))
    (d,) = r.diagnostics
    assert d.code == "E201"
    assert "not monotone" in d.hint


def test_true_but_unprovable_claim_is_an_error_with_a_hint() -> None:
    r = check(knob_program("exp(beta) - beta"))
    (d,) = r.diagnostics
    assert d.code == "E202"
    assert any("no counterexample" in n for n in d.notes)
    assert d.hint


def test_const_claim() -> None:
    assert codes(check(knob_program("round(2 + 2*beta)", "const", "int"))) == [("E201", 2)]
    assert codes(check(knob_program("3", "const", "int"))) == []


def test_later_knobs_assume_the_declared_direction() -> None:
    text = (
        "controller p\nschedule {\n  a : float up = 0.5 - 0.1*beta\n  b : float up = 2*a\n}\n"
        "init { spawn round(a + b) }\n" + FINALLY
    )
    r = check(text)
    # one wrong claim, one error: `b` is proved from `a`'s declaration
    assert [(d.code, d.span.line) for d in r.errors] == [("E201", 3)]
    assert [k.status for k in r.knobs] == ["false", "proved"]


def test_params_are_constant_in_the_proofs() -> None:
    text = (
        "controller p\nparams { base : float = 2.0 }\n"
        "schedule { x : float up = base*beta  y : float down = base - beta }\n"
        "init { spawn round(x + y) }\n" + FINALLY
    )
    r = check(text)
    assert [k.proved for k in r.knobs] == ["up", "down"]
    assert not r.errors


def test_cmc_ranges_are_exact() -> None:
    r = check_source((STDLIB_DIR / "cmc.tts").read_text(), "cmc")
    ranges = {k.name: k.range.bounds for k in r.knobs}
    assert ranges["n_init"] == (2, 8)
    assert ranges["max_branch_use"] == (4, 64)
    assert ranges["conf_thresh"] == (0.85, 0.97)
    assert ranges["ema_alpha"] == (0.3, 0.7)
    assert all(k.status == "proved" for k in r.knobs)


def test_values_at_the_requested_beta() -> None:
    program = parse((STDLIB_DIR / "cmc.tts").read_text())
    r = explain(program, "", "cmc", beta=1.0)
    assert {k.name: k.value for k in r.knobs}["n_init"] == 8
    assert r.beta == 1.0


# ------------------------------------------------------------------ ranges


def test_static_negative_count_is_an_error_with_the_beta() -> None:
    r = check(knob_program("round(4*beta - 2)", "up", "int").replace("max(0, round(x))", "x"))
    (d,) = r.diagnostics
    assert d.code == "E203"
    assert "at β=" in d.message


def test_runtime_count_clamp_is_a_warning() -> None:
    r = check("controller p\ninit { spawn 4 }\nround { spawn 8 - count(running) }\n" + FINALLY)
    assert codes(r) == [("W203", 3)]


def test_guard_facts_make_counts_provable() -> None:
    text = (
        "controller p\nschedule { cap : int up = min(64, round(4 + 60*beta)) }\n"
        "init { spawn 2 }\n"
        "round {\n"
        "  rule a: when spawned < cap do spawn min(3, cap - spawned)\n"  # 5: fine
        "  rule b: when spawned < cap do {\n"
        "    spawn 1\n"
        "    spawn cap - spawned\n"  # 8: stale after the spawn above
        "  }\n"
        "  let ok = spawned < cap\n"
        "  for x in running { step x }\n"
        "  if ok { spawn cap - spawned }\n"  # 12: stale after the steps
        "  let n = count(running)\n"
        "  rule c: when n > 0 and 3 / n > 0.5 do stop\n"  # 14: fine, n is a let
        "  if count(running) > 0 { stop }\n"
        "}\n" + FINALLY
    )
    assert codes(check(text)) == [("W203", 8), ("W203", 12)]


def test_cond_and_negated_facts_guard_divisions() -> None:
    text = (
        "controller p\ninit { spawn 4 }\nround {\n"
        "  let a = count(running) == 0 ? 0.0 : 1.0 / count(running)\n"
        "  let b = 1.0 / count(running)\n"
        "  if a + b > 2 { stop }\n"
        "}\n" + FINALLY
    )
    assert codes(check(text)) == [("W204", 5)]


def test_probability_threshold_outside_unit_interval() -> None:
    text = (
        "controller p\nschedule { t : float up = 0.9 + 0.2*beta }\ninit { spawn 4 }\n"
        "round {\n  let c = conf(completed)\n  rule s: when c >= t do answer winner(completed)\n"
        "  for b in running { step b }\n}\n" + FINALLY
    )
    r = check(text)
    assert codes(r) == [("E204", 6)]
    assert "at β=" in r.diagnostics[0].message


def test_repeat_needs_a_static_bound() -> None:
    def prog(count: str) -> str:
        return (
            "controller p\ninit { spawn 4 }\nround {\n"
            f"  repeat {count} {{ for b in running {{ step b }} }}\n}}\n" + FINALLY
        )

    assert codes(check(prog("min(cost, 3)"))) == []
    assert codes(check(prog("count(running)"))) == []  # <= max_branches
    assert codes(check(prog("cost"))) == [("E213", 4)]


# ---------------------------------------------------------------- polarity

EXPECTED_STDLIB_WARNINGS = {
    "cmc": {("W201", "warm_up"), ("W202", "trend_thresh")},
    "cmc_gated": {("W201", "warm_up"), ("W202", "trend_thresh")},
    "cmc_patient": {("W201", "warm_up"), ("W202", "trend_thresh")},
    "asc": set(),
    "esc": {("W308", "max_rounds")},  # the round block never runs for β < 0.485
    "sc": set(),
    "parallel_probe": set(),
    "ibc": {("W201", "warm_up"), ("W202", "widen_from")},
    "scr": {("W201", "warm_up"), ("W201", "stall_patience")},
    "sdgv": {("W201", "warm_up"), ("W202", "widen_from")},
    "dgcc": {("W201", "warm_up")},
}


@pytest.mark.parametrize("name", stdlib_names())
def test_stdlib_checks_clean(name: str) -> None:
    text = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
    r = check_source(text, name)
    assert r.ok, r.render()
    assert all(k.status == "proved" for k in r.knobs)
    if name in EXPECTED_STDLIB_WARNINGS:  # documented in docs/checker.md
        got = {(d.code, d.message.split("`")[1]) for d in r.warnings}
        assert got == EXPECTED_STDLIB_WARNINGS[name], r.render()


def test_cmc_warm_up_sites() -> None:
    text = (STDLIB_DIR / "cmc.tts").read_text()
    r = check_source(text, "cmc")
    pol = {k.name: k.polarity for k in r.knobs}
    warm = pol["warm_up"]
    signs = {(s.line, b) for s, b in zip(warm.sites, warm.beta_signs, strict=True)}

    def line_of(fragment: str) -> int:
        return next(i for i, ln in enumerate(text.split("\n"), 1) if fragment in ln)

    # delays abandonment and stopping (+), the aligned burst and widening (−)
    assert signs == {
        (line_of("if warm and w != none"), 1),
        (line_of("do step b times (warm"), -1),
        (line_of("rule momentum_stop"), 1),
        (line_of("rule widen"), -1),
    }
    assert pol["conf_thresh"].verdict == "more"
    assert pol["delta_slack"].verdict == "more"  # declared down, guards `answer` via -slack
    assert pol["ema_alpha"].verdict == "unknown"  # feeds state only
    assert pol["trend_thresh"].verdict == "less"


def test_strict_turns_polarity_warnings_into_errors() -> None:
    text = (STDLIB_DIR / "cmc.tts").read_text()
    r = check_source(text, "cmc", strict=True)
    assert not r.ok
    assert {d.code for d in r.errors} == {"W201", "W202"}


def test_polarity_follows_lets_knobs_and_comparisons() -> None:
    text = (
        "controller p\nschedule {\n  a : int up = round(2 + 4*beta)\n  b : int up = a + 1\n}\n"
        "init { spawn 2 }\nround {\n"
        "  let late = round >= b\n"
        "  rule stop_late: when late and count(completed) > 2 do answer winner(completed)\n"
        "  if count(running) == 0 { stop }\n  for x in running { step x }\n}\n" + FINALLY
    )
    r = check(text)
    pol = {k.name: k.polarity for k in r.knobs}
    (site,) = pol["a"].sites
    assert site.via == ("b", "late") or site.via == ("late", "b")
    assert pol["a"].verdict == "more" and pol["b"].verdict == "more"


# ------------------------------------------------------------ admissibility

LOOP = "controller p\ninit { spawn 4 }\nround {\n{body}\n  if count(running) == 0 {{ stop }}\n}}\n"


def body(text: str) -> str:
    return LOOP.replace("{body}", text).replace("{{", "{").replace("}}", "}") + FINALLY


def test_step_after_prune_is_rejected_at_its_line() -> None:
    r = check(body("  for b in running {\n    prune b\n    step b\n  }"))
    assert codes(r) == [("E211", 6)]


def test_step_needs_running_and_prune_allows_alive() -> None:
    assert codes(check(body("  for b in alive { step b }"))) == [("E210", 4)]
    assert codes(check(body("  for b in opened { step b }"))) == [("E210", 4)]
    assert codes(check(body("  for b in alive where b.reads > 3 { prune b }"))) == []
    assert codes(check(body("  for b in pruned { prune b }"))) == [("E210", 4)]


def test_prune_in_a_loop_reaches_the_next_iteration() -> None:
    text = body(
        "  for a in running {\n    for b in running {\n      step a\n      prune a\n    }\n  }"
    )
    assert codes(check(text)) == [("E211", 6), ("E211", 7)]  # step and prune again


def test_prune_then_answer_is_fine() -> None:
    text = body("  for b in running {\n    if b.reads > 3 {\n      prune b\n      stop\n    }\n"
                "    step b\n  }")  # fmt: skip
    assert codes(check(text)) == []


def test_finally_must_answer_on_every_path() -> None:
    base = "controller p\ninit { spawn 4 }\n"
    assert codes(check(base + "finally { if spawned > 2 { answer none } }\n")) == [("E212", 3)]
    ok = "finally { if spawned > 2 { answer none } else { answer winner(completed) } }\n"
    assert codes(check(base + ok)) == []
    assert codes(check(base + "finally { repeat 2 { answer none } }\n")) == []


# ------------------------------------------------------------------- lints


def test_lints() -> None:
    text = (
        "controller p\nparams { unused_p : int = 1 }\n"
        "schedule {\n  k : int up = round(4*beta)\n  dead : float up = beta\n"
        "  lost : int up = round(beta)\n}\n"
        "state { acc: float = 0.0  never: int = 0 }\nbranch { tag: int = 0 }\n"
        "init { spawn max(1, k) }\n"
        "round {\n  acc = acc + dead\n  let spare = 3\n  stop\n  spawn 1\n}\n" + FINALLY
    )  # fmt: skip
    got = codes(check(text))
    assert ("W302", 2) in got  # unused param
    assert ("W305", 5) in got  # `dead` feeds `acc`, which decides nothing
    assert ("W301", 6) in got  # `lost` is never used
    assert ("W303", 8) in got  # `never` is never read
    assert ("W304", 9) in got  # `tag` is never read
    assert ("W307", 13) in got  # `let spare`
    assert ("W306", 15) in got  # after `stop`


# ------------------------------------------------------------------ reports


def test_syntax_errors_are_diagnostics() -> None:
    r = check("controller p\ninit { spawn 4 \n")
    assert not r.ok and r.diagnostics[0].code == "E001"
    assert r.knobs == []


def test_report_json_round_trips() -> None:
    r = check_source((STDLIB_DIR / "cmc.tts").read_text(), "cmc")
    doc = json.loads(json.dumps(r.to_json()))
    assert doc["ok"] and doc["warnings"] == 2
    knob = next(k for k in doc["knobs"] if k["name"] == "warm_up")
    assert knob["range"] == [2, 10] and knob["polarity"] == "mixed"
    assert {s["beta_sign"] for s in knob["sites"]} == {1, -1}


# ---------------------------------------------------------------------- CLI


def test_cli_check_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", "cmc", "-q"]) == 0
    assert "2 warnings" in capsys.readouterr().out
    bad = tmp_path / "bad.tts"
    bad.write_text(knob_program("0.9 - 0.1*beta"))
    assert main(["check", str(bad)]) == 1
    assert "E201" in capsys.readouterr().err  # diagnostics on stderr, as in `run`
    assert main(["check", str(tmp_path / "missing.tts")]) == 2
    assert main(["check", "--strict", "cmc", "-q"]) == 1


def test_cli_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "sc", "asc"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and [f["file"] for f in doc["files"]] == ["stdlib/sc.tts", "stdlib/asc.tts"]


def test_cli_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "cmc", "--beta", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "warm_up" in out and "[0.85, 0.97]" in out and "guard of rule `widen`" in out
    assert main(["explain", "cmc", "--beta", "2"]) == 2
    assert main(["explain", "cmc", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["knobs"]


def test_cli_fmt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "p.tts"
    f.write_text("controller p   # keep me\ninit{spawn 2}\nfinally{answer winner(completed)}\n")
    assert main(["fmt", "--check", str(f)]) == 1
    assert main(["fmt", str(f)]) == 0
    text = f.read_text()
    assert "# keep me" in text and "init { spawn 2 }" in text
    assert main(["fmt", "--check", str(f)]) == 0
    broken = tmp_path / "broken.tts"
    broken.write_text("controller p\ninit {\n")
    assert main(["fmt", str(broken)]) == 1
    assert main(["fmt", str(tmp_path / "nope.tts")]) == 2


def test_a_choice_decided_by_params_proves_its_arm() -> None:
    text = (
        "controller p\nparams { fast : bool = true  k : int = 3 }\n"
        "schedule { x : float up = fast ? 2*beta : 1 - beta  y : float up = k > 2 ? beta : 0.0 }\n"
        "init { spawn round(4*x + y) }\n" + FINALLY
    )
    r = check(text)
    assert not r.diagnostics and [k.proved for k in r.knobs] == ["up", "up"]
