"""The offline proposer (typed AST mutations, $0, deterministic per seed) and
an offline `tts-dsl search` end to end, with its report."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

import autotts_dsl as tts
from autotts_dsl import ast
from autotts_dsl.checker import check_source
from autotts_dsl.cli.main import main
from autotts_dsl.fmt import format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, load_program, stdlib_names
from autotts_dsl.search.archive import Scored
from autotts_dsl.search.astops import declared, mentioned, walk
from autotts_dsl.search.gates import (
    AGGREGATORS,
    GATES,
    GUARDS,
    POOL_CONFS,
    POOL_VOTES,
    aggregator_block,
    gate_pieces,
    guard_pieces,
)
from autotts_dsl.search.history import History, ProgramRow
from autotts_dsl.search.mutate import (
    op_aggregator,
    op_crossover,
    op_gate_insert,
    op_gate_remove,
    op_guard,
    op_knob,
    op_vote,
    with_pool_conf,
    with_pool_vote,
)
from autotts_dsl.search.offline import OfflineProposer
from autotts_dsl.search.verify import verify
from tests.test_search_fixtures import write_store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def program(name: str) -> ast.Program:
    return load_program(name).program


def archive_of(names: list[str]) -> list[Scored]:
    out = []
    for i, name in enumerate(names, 1):
        source = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
        row = ProgramRow(i, verify(source).hash, name, source, (), 0, i, "seed", "")
        out.append(Scored(row, 50.0 - i, (), {}))
    return out


# ---------------------------------------------------------------------------
# Mutations


def test_every_stdlib_program_checks_clean() -> None:
    for name in stdlib_names():
        src = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
        assert verify(src).ok, name


def test_gates_and_aggregators_are_valid_in_cmc() -> None:
    cmc = program("cmc")
    for gate in GATES:
        pieces = gate_pieces(gate, "g1_")
        assert pieces.stmts and all(n.startswith("g1_") for n in pieces.names - {"conf", "min"})
    for text in AGGREGATORS:
        child = ast.Program(**{**vars(cmc), "final": aggregator_block(text)})
        assert verify(format_program(child)).ok, text


def test_knob_moves_keep_the_declared_direction() -> None:
    cmc = program("cmc")
    rng = random.Random(3)
    moved = 0
    for _ in range(40):
        got = op_knob(cmc, rng, None)
        assert got is not None
        child, change = got
        assert change.startswith("knob ")
        before = {k.name: k for k in cmc.knobs}
        diff = [k for k in child.knobs if k != before[k.name]]
        assert len(diff) == 1  # one literal of one knob
        assert diff[0].direction == before[diff[0].name].direction
        verdict = verify(format_program(child))
        if verdict.ok:
            moved += 1
        else:  # only range errors, never an unprovable direction
            assert not {"E201", "E202"} & set(verdict.codes), verdict.diagnostics
    assert moved >= 35


def test_gate_insert_and_remove() -> None:
    asc = program("asc")
    rng = random.Random(0)
    child, change = op_gate_insert(asc, rng, None) or (asc, "")
    assert change.startswith("insert ") and verify(format_program(child)).ok
    added = set(declared(child)) - set(declared(asc))
    assert added and all(n.startswith("g1_") for n in added)
    # removing the inserted rule drops the declarations only it used
    for _ in range(20):
        got = op_gate_remove(child, rng, None)
        assert got is not None
        back, change = got
        if "g1_" in change:
            assert not any(n.startswith("g1_") for n in declared(back))
            break
    else:
        pytest.fail("never removed the inserted rule")


def test_guards_strengthen_a_rule_and_check_clean() -> None:
    for guard in GUARDS:
        pieces = guard_pieces(guard, "g1_")
        assert pieces.knobs and all(k.name.startswith("g1_") for k in pieces.knobs)
    seen: set[str] = set()
    for name in stdlib_names():
        parent = program(name)
        rng = random.Random(0)
        for _ in range(12):
            got = op_guard(parent, rng, None)
            if got is None:
                # only programs without a widening or stopping rule
                assert name == "sc"
                break
            child, change = got
            seen.add(change.split(" with ")[1].split(" (")[0])
            verdict = verify(format_program(child))
            assert verdict.ok, (name, change, verdict.diagnostics)
            # the rule is still there, its guard is now a conjunction
            rule = change.split()[2]
            guarded = [
                r
                for r in walk_rules(child)
                if r.rule == rule and isinstance(r.arms[0][0], ast.BoolOp)
            ]
            assert guarded and guarded[0].arms[0][0].op == "and"
    assert seen == {g.name for g in GUARDS}


def walk_rules(p: ast.Program) -> list[ast.If]:
    return [n for n in walk(p.round) if isinstance(n, ast.If) and n.rule]


def long_trace_store(path: Path) -> Path:
    """One question whose 64 traces all run 60 intervals before finishing,
    with answers that never agree: no evidence for a long time."""
    branches = [[[str(i % 5)] * 60, 30_500, str(i % 5)] for i in range(64)]
    record = {"question": "q", "gold_answer": "0", "probe_freq": 500}
    path.write_text(json.dumps([{**record, "each_branch": branches}]), encoding="utf-8")
    return path


def width_before_first_completion(src: Path, store: Path, out: Path) -> int:
    argv = ["run", str(src), "--beta", "0.5", "--store", str(store), "--seeds", "1"]
    assert main([*argv, "--trace", str(out), "--trace-level", "actions", "--no-baseline"]) == 0
    (episode,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    states = [e["state"] for e in episode["trace"]]
    assert any(st["completed"] > 0 for st in states)  # the episode got that far
    return max(st["spawned"] for st in states if st["completed"] == 0)


def test_evidence_width_caps_width_until_the_first_completion(tmp_path: Path) -> None:
    """CMC with the evidence_width guard on `widen` opens at most its cap
    (19 at β = 0.5) before any branch has finished; plain CMC opens all 34
    it may."""
    cmc = program("cmc")
    for seed in range(40):
        got = op_guard(cmc, random.Random(seed), None)
        if got and "widen with evidence_width" in got[1]:
            child = got[0]
            break
    else:
        pytest.fail("never guarded widen with evidence_width")
    guarded = tmp_path / "guarded.tts"
    guarded.write_text(format_program(child), encoding="utf-8")
    store = long_trace_store(tmp_path / "long.json")
    plain = width_before_first_completion(STDLIB_DIR / "cmc.tts", store, tmp_path / "a.jsonl")
    capped = width_before_first_completion(guarded, store, tmp_path / "b.jsonl")
    assert plain == 34 and capped == 19


def test_crossover_brings_the_declarations_it_needs() -> None:
    asc, cmc = program("asc"), program("cmc")
    rng = random.Random(5)
    for _ in range(30):
        got = op_crossover(asc, rng, cmc)
        assert got is not None
        child, change = got
        if "rule widen" in change:
            assert {"max_branch_use", "trend_thresh", "widen_burst"} <= set(declared(child))
            assert mentioned(child) >= {"hist"}
            return
    pytest.fail("crossover never picked cmc's widen rule")


def test_crossover_brings_the_round_lets_a_rule_reads() -> None:
    """CMC's `momentum_stop` reads `warm`, a `let` of CMC's round: moved into
    ASC it comes with that let (and the knob the let reads), and checks."""
    asc, cmc = program("asc"), program("cmc")
    for seed in range(60):
        got = op_crossover(asc, random.Random(seed), cmc)
        if got and "rule momentum_stop" in got[1]:
            child, change = got
            assert "(with let warm)" in change
            assert verify(format_program(child)).ok
            assert "warm_up" in declared(child)
            return
    pytest.fail("crossover never picked cmc's momentum_stop")


def crossover_with(target: str, donor: str, rule: str) -> tuple[ast.Program, str]:
    for seed in range(200):
        got = op_crossover(program(target), random.Random(seed), program(donor))
        if got and f"rule {rule} " in got[1] + " ":
            return got
    pytest.fail(f"crossover never picked {donor}'s {rule}")


def _never_written(text: str) -> list[str]:
    return [d.code for d in check_source(text, "x").diagnostics if d.code in ("W309", "W310")]


def test_a_moved_rule_brings_the_updates_of_the_state_it_reads() -> None:
    """CMC's `widen` tests `ema` and `delta(hist)`; moved into IBC without the
    statements that update them it would test constants (W309)."""
    child, change = crossover_with("ibc", "cmc", "widen")
    text = format_program(child)
    assert "statement(s) updating the state it reads" in change
    assert "push(hist, ema)" in text and "ema = (1 - ema_alpha) * ema" in text
    assert verify(text).ok and _never_written(text) == []


def test_a_moved_finally_brings_the_updates_of_the_state_it_reads() -> None:
    # Parallel-Probe's `finally` answers its state `prev`, which its round updates
    for seed in range(200):
        got = op_crossover(program("cmc"), random.Random(seed), program("parallel_probe"))
        if got and got[1].startswith("finally from parallel_probe"):
            text = format_program(got[0])
            assert verify(text).ok and _never_written(text) == [], got[1]
            return
    pytest.fail("crossover never picked parallel_probe's finally")


def test_a_moved_rule_renames_a_local_the_program_already_has() -> None:
    """SDGV's `advance` has `let before` inside its loop, ESC a round-level
    `let before`; names cannot be shadowed, so the moved one is renamed."""
    child, _ = crossover_with("esc", "sdgv", "advance")
    text = format_program(child)
    assert "let before_2 = b.answer" in text and "b.answer == before_2" in text
    assert verify(text).ok


def test_a_brought_let_reads_lets_placed_before_it() -> None:
    """DGCC's `strict_gate` brings `let eligible = warm and ...`; in CMC,
    whose own `warm` it reads, it lands after CMC's `let warm`; and IBC's
    `widen_one` brings IBC's `let widen` although CMC has a rule of that
    name (rules are another namespace)."""
    for target, donor, rule in (("cmc", "dgcc", "strict_gate"), ("cmc", "ibc", "widen_one")):
        child, change = crossover_with(target, donor, rule)
        assert "(with let" in change
        assert verify(format_program(child)).ok, change


def test_crossovers_between_stdlib_programs_check() -> None:
    names = stdlib_names()
    progs = {n: program(n) for n in names}
    rng = random.Random(0)
    ok = tried = 0
    for _ in range(200):
        a, b = rng.sample(names, 2)
        got = op_crossover(progs[a], rng, progs[b])
        if got is not None:
            tried += 1
            ok += verify(format_program(got[0])).ok
    # 64 % before rules brought their lets, 96 % before they were renamed or
    # placed after the lets they read
    assert ok == tried


def test_aggregator_swap_changes_finally() -> None:
    sc = program("sc")
    child, change = op_aggregator(sc, random.Random(1), None) or (sc, "")
    assert change.startswith("finally: ") and child.final != sc.final
    assert verify(format_program(child)).ok


def test_vote_rewrites_the_answers_not_the_winner_that_steers_depth() -> None:
    cmc = program("cmc")
    plain = parse("controller g\nfinally { answer winner(completed) }\n", "<t>")
    for text in POOL_VOTES[1:]:
        child = with_pool_vote(cmc, text)
        assert child is not None
        out = format_program(child)
        assert verify(out).ok, text
        # the stop rule's and the finally block's answers; `let w` stays plain
        assert out.count("b in finished") == 2, out
        assert "let w = winner(completed)" in out
        assert with_pool_vote(child, text) is None  # already that vote
        assert with_pool_vote(child, POOL_VOTES[0]) == cmc  # and back
    assert with_pool_vote(plain, POOL_VOTES[0]) is None
    assert op_vote(program("ibc"), random.Random(0), None) is not None
    no_pool = parse("controller g\nfinally { answer winner(answers(alive)) }\n", "<t>")
    assert op_vote(no_pool, random.Random(0), None) is None


@pytest.mark.parametrize("backend", ["reference", "vm"])
def test_a_length_weighted_vote_prefers_the_short_traces(tmp_path: Path, backend: str) -> None:
    # three short traces say the gold answer, four long ones say another:
    # the plain vote of all seven is wrong, every length-weighted one right
    store = _short_right_long_wrong(tmp_path, 3, 4)
    sc = program("sc")
    picks = {}
    for text in POOL_VOTES:
        child = with_pool_vote(sc, text) or sc
        prog = tts.load(format_program(child))
        ep = tts.episodes(prog, store, beta=1.0, seeds=5, backend=backend)
        picks[text] = set(ep["answer"])
    assert picks[POOL_VOTES[0]] == {"8"}
    assert all(picks[t] == {"7"} for t in POOL_VOTES[1:]), picks


def test_vote_can_weight_the_stopping_confidence_too() -> None:
    asc = program("asc")
    changes = set()
    for seed in range(60):
        got = op_vote(asc, random.Random(seed), None)
        assert got is not None
        changes.add(got[1])
    assert "answers vote and confidence: 1/length" in changes
    assert "answers vote: 1/length" in changes
    for text in POOL_CONFS[1:]:
        child = with_pool_conf(asc, text)
        assert child is not None
        out = format_program(child)
        assert verify(out).ok, text
        assert "conf(completed)" not in out and "beta_conf(" in out
        assert with_pool_conf(child, POOL_CONFS[0]) == asc
    assert with_pool_conf(program("sc"), POOL_CONFS[1]) is None  # no confidence to weight


def _short_right_long_wrong(tmp_path: Path, short: int, long: int) -> str:
    # `short` short traces say the gold answer, `long` long ones another
    branches = [[[], 600, "7"]] * short + [[[], 9000, "8"]] * long
    record = {
        "question": "q",
        "gold_answer": "7",
        "probe_freq": 500,
        "final_answers_trace": [],
        "each_branch": branches,
    }
    store = tmp_path / "s.json"
    store.write_text(json.dumps([record]), encoding="utf-8")
    return str(store)


@pytest.mark.parametrize("backend", ["reference", "vm"])
def test_a_weighted_confidence_stops_sooner_when_the_short_traces_agree(
    tmp_path: Path, backend: str
) -> None:
    store = _short_right_long_wrong(tmp_path, 8, 8)
    asc = program("asc")
    answers = with_pool_vote(asc, POOL_VOTES[2])
    assert answers is not None
    both = with_pool_conf(answers, POOL_CONFS[2])
    assert both is not None
    runs = {}
    for label, prog in (("answers", answers), ("both", both)):
        loaded = tts.load(format_program(dataclasses.replace(prog, name=f"asc_{label}")))
        runs[label] = tts.episodes(loaded, store, beta=1.0, seeds=20, backend=backend)
    assert runs["both"]["tokens"].mean() < 0.8 * runs["answers"]["tokens"].mean()
    assert runs["both"]["correct"].mean() >= runs["answers"]["correct"].mean()


def test_offline_proposer_is_deterministic_and_check_clean() -> None:
    archive = archive_of(["cmc", "asc", "ibc", "esc"])
    seen = {s.program.hash for s in archive}
    runs = [OfflineProposer(7).propose(1, archive, 8, seen) for _ in range(2)]
    assert runs[0] == runs[1]
    accepted, rejected = runs[0]
    assert len(accepted) == 8
    assert len({p.hash for p in accepted} | seen) == len(seen) + 8  # all new and distinct
    for p in accepted:
        verdict = verify(p.source)
        assert verdict.ok and verdict.hash == p.hash
        assert p.parents and set(p.parents) <= {s.id for s in archive}
        assert parse(p.source, "x").name in {"cmc", "asc", "ibc", "esc"}
    for r in rejected:
        assert r.codes and r.diagnostics.startswith("error[")
    other, _ = OfflineProposer(8).propose(1, archive, 8, seen)
    assert [p.hash for p in other] != [p.hash for p in accepted]
    later, _ = OfflineProposer(7).propose(2, archive, 8, seen)
    assert [p.hash for p in later] != [p.hash for p in accepted]


# ---------------------------------------------------------------------------
# End to end


def search_argv(out: Path, *extra: str) -> list[str]:
    return [
        "search",
        "--seed",
        "cmc",
        "asc",
        "--rounds",
        "2",
        "--candidates",
        "3",
        "--betas",
        "0,0.5,1",
        "--seeds",
        "3",
        "--out",
        str(out),
        *extra,
    ]


def programs_of(out: Path) -> list[tuple[object, ...]]:
    with History(out / "history.sqlite") as h:
        return [(p.hash, p.parents, p.round, p.slot, p.rationale) for p in h.programs()]


def test_offline_search_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(search_argv(out)) == 0
    lines = capsys.readouterr().out.splitlines()
    # cmc and asc, and SC as the baseline: 3 programs × 3 β (3 seeds: no screen)
    assert lines[0].startswith("round 0/2 (seeds): 3 programs, 9 cells")
    assert any(ln.startswith("round 1/2 (offline): 3/3 accepted, 9 cells") for ln in lines)
    assert any(ln.startswith("round 2/2 (offline):") for ln in lines)
    assert any(ln.startswith("final pick: p") for ln in lines)
    with History(out / "history.sqlite") as h:
        assert [r.status for r in h.rounds()] == ["done"] * 3
        assert h.calls() == [] and h.spent_usd() == 0.0
        final = h.final()
        assert final is not None
        assert all(s.summary["usd"] == 0.0 for s in h.rounds())

    # the same random seed gives the same search
    again = tmp_path / "again"
    assert main(search_argv(again)) == 0
    assert programs_of(again) == programs_of(out)

    capsys.readouterr()
    assert main(["search", "report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in report["rounds"]] == [0, 1, 2]
    assert report["final_pick"]["label"] == f"p{final[0]}"
    assert report["lineage"][0]["program"] == f"p{final[0]}"
    assert report["lineage"][-1]["proposer"] == "seed"
    assert report["frontier"] and report["usd"] == 0.0
    assert (out / "search_progress.png").read_bytes().startswith(PNG_MAGIC)

    assert main(["search", "report", str(out), "--no-plot"]) == 0
    text = capsys.readouterr().out
    for heading in ("rounds", "best-so-far frontier", "lineage of the final pick", "total $0.0000"):
        assert heading in text


def test_the_state_kept_between_rounds_equals_a_fresh_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`search_state` keeps each complete program's derived data between
    rounds; states computed along the way (with programs completing after
    their screen) equal one computed from scratch."""
    from autotts_dsl.search.objective import parse_objective
    from autotts_dsl.search.session import stored_config
    from autotts_dsl.search.view import search_state

    out = tmp_path / "run"
    assert main(search_argv(out, "--seeds", "6", "--screen-seeds", "2")) == 0
    capsys.readouterr()

    def summary(state: object) -> list[tuple[object, ...]]:
        return [
            (s.id, s.objective, s.curve, s.behaviour)
            for s in state.scored  # type: ignore[attr-defined]
        ]

    with History(out / "history.sqlite") as h:
        config = stored_config(h)
        objective = parse_objective(config.objective)
        first = summary(search_state(h, config, objective))
        kept = summary(search_state(h, config, objective))  # from the memo
    with History(out / "history.sqlite") as fresh:
        assert summary(search_state(fresh, config, objective)) == first == kept
    assert len(first) >= 3


def test_report_heldout_after_the_fact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    search = write_store(tmp_path / "stores" / "ModelH" / "searchpart.json", 5, 16, seed=21)
    held = write_store(tmp_path / "stores" / "ModelH" / "heldpart.json", 5, 16, seed=22)
    out = tmp_path / "run"
    argv = search_argv(out, "--search-store", str(search))
    argv[argv.index("--rounds") + 1] = "1"
    assert main(argv) == 0
    assert main(["search", "report", str(out), "--heldout"]) == 2  # no held-out stores known
    assert main(["search", "report", str(out), "--heldout", "--heldout-store", str(search)]) == 2
    capsys.readouterr()
    argv = ["search", "report", str(out), "--heldout", "--heldout-store", str(held), "--json"]
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)["heldout"]
    assert rep["stores"] == ["ModelH/heldpart"]
    betas = [r["beta"] for r in rep["rows"]]
    assert betas == [0.0, 0.5, 1.0]
    assert all(r["pick"] and r["cmc"] for r in rep["rows"])
    assert rep["sc64"]["beta"] == 1.0
    assert rep["target_accuracy"] == rep["rows"][-1]["cmc"]["accuracy"]
    assert rep["target_tokens"] == rep["rows"][1]["cmc"]["tokens"]
    # held-out ref:cmc comes with its paired interval over the held-out questions
    lo, hi = rep["pick_vs_cmc_interval"]
    assert lo <= rep["pick_vs_cmc"] <= hi
    assert rep["fallback_met"] == (lo > 0)


def test_usage_errors(tmp_path: Path) -> None:
    out = tmp_path / "u"
    assert main(["search", "--rounds", "1"]) == 2  # no --out
    assert main(search_argv(out, "--betas", "0,2")) == 2
    assert main(search_argv(out, "--seed", "no_such_controller")) == 2
    assert main(search_argv(out, "--objective", "nope")) == 2
    assert main(["search", "--out", str(out), "--resume"]) == 2  # nothing to resume
    bad = tmp_path / "bad.tts"
    bad.write_text("controller bad\nfinally { answer winnr(completed) }\n", encoding="utf-8")
    assert main(search_argv(out, "--seed", str(bad))) == 1
    assert not (out / "history.sqlite").exists()
