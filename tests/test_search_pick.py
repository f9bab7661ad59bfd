"""The final pick: the least structural change among the plausible gains."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autotts_dsl import ast
from autotts_dsl.fmt import format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, stdlib_names
from autotts_dsl.search.astops import rebuild
from autotts_dsl.search.pick import final_pick
from autotts_dsl.search.simplicity import skeleton, structural_change, text_shape, words
from autotts_dsl.search.stats import Gain

CMC = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")
RETUNED = CMC.replace("round(3 + 9*beta)", "round(3 + 18*beta)")
GATED = (STDLIB_DIR / "cmc_gated.tts").read_text(encoding="utf-8")
NEW_RULE = CMC.replace(
    "  let w = winner(completed)",
    "  rule sure_stop: when count(completed) >= 6 and conf(completed) >= 0.97\n"
    "      do answer winner(completed)\n"
    "  let w = winner(completed)",
    1,
)


def change(source: str, reference: str = CMC) -> int:
    return structural_change(parse(source, "x"), skeleton(parse(reference, "ref")))


def test_constants_are_not_structure_and_rules_are() -> None:
    assert RETUNED != CMC and change(RETUNED) == 0
    assert change(NEW_RULE) == 1  # the rule (one formatted line)
    assert change(GATED) > change(NEW_RULE)
    # a longer knob name realigns the schedule table; only its own line counts
    renamed = CMC.replace("abandon_patience", "abandon_patience_for_long")
    assert change(renamed) == 4  # its two lines (knob, prune), each removed and added


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(stdlib_names()), st.randoms(use_true_random=False))
def test_any_retune_of_a_stdlib_program_changes_no_structure(name: str, rnd: Any) -> None:
    program = parse((STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8"), name)

    def retune(node: object) -> object | None:
        if isinstance(node, ast.IntLit):
            return dataclasses.replace(node, value=rnd.randint(0, 10**6))
        if isinstance(node, ast.FloatLit):
            v = rnd.uniform(0, 100)
            return dataclasses.replace(node, value=v, text=repr(v))
        return None

    moved = dataclasses.replace(rebuild(program, retune), description="another")
    assert structural_change(moved, skeleton(program)) == 0
    # the pick's parse-free test sees it too, against the file with its comments
    file_text = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
    assert text_shape(format_program(moved)) == text_shape(file_text)
    assert words(format_program(moved)) == words(file_text)


def test_text_shape_separates_structure_and_words_survive_layout() -> None:
    assert text_shape(RETUNED) == text_shape(CMC)
    assert text_shape(NEW_RULE) != text_shape(CMC) and words(NEW_RULE) != words(CMC)
    spaced = RETUNED.replace("18*beta", "18 * beta")
    assert change(spaced) == 0 and text_shape(spaced) != text_shape(CMC)
    assert words(spaced) == words(CMC)


def _state(gains: dict[int, Gain], sources: dict[int, str]) -> tuple[Any, Any, dict[int, Any]]:
    programs = {
        pid: SimpleNamespace(id=pid, program=SimpleNamespace(source=src))
        for pid, src in sources.items()
    }
    state = SimpleNamespace(
        reference_id=1,
        scored=list(programs.values()),
        vs_reference=gains.get,
        scored_by_id=programs.get,
        best=programs[1],
    )
    history = SimpleNamespace(program=lambda pid: SimpleNamespace(source=sources[pid]))
    return state, history, programs


def test_the_pick_prefers_a_retune_whose_gain_is_plausible() -> None:
    sources = {1: CMC, 2: RETUNED, 3: GATED, 4: NEW_RULE, 5: RETUNED.replace("0.70", "0.75")}
    gains = {
        2: Gain(0.26, 0.05, 0.43, 500),  # a retune: smaller, but not clearly below the surest
        3: Gain(0.49, 0.14, 0.94, 500),  # the surest gain, many new lines
        4: Gain(0.90, -0.20, 2.00, 500),  # not significant: never picked
        5: Gain(0.30, 0.02, 0.50, 500),  # a retune with a lower lower bound
    }
    state, history, progs = _state(gains, sources)
    chosen, note = final_pick(state, history, "pts")
    assert chosen is progs[2]
    assert "+0.26 pts [95% CI +0.05, +0.43]" in note and "constants only" in note
    assert "lower bound +0.14" in note

    # a retune clearly below the surest gain (its interval ends under the
    # surest's lower bound) gives way to the surest structural one
    gains[2] = Gain(0.08, 0.01, 0.12, 500)
    gains[5] = Gain(0.09, 0.02, 0.13, 500)
    chosen, note = final_pick(state, history, "pts")
    assert chosen is progs[3] and "line(s) of structure changed" in note

    # among structural changes the smaller one wins
    gains[4] = Gain(0.40, 0.10, 0.70, 500)
    chosen, _ = final_pick(state, history, "pts")
    assert chosen is progs[4]

    for pid in (2, 3, 4, 5):
        del gains[pid]
    chosen, note = final_pick(state, history, "pts")
    assert chosen is progs[1] and "no program beat" in note


def test_a_retune_in_another_layout_is_still_a_retune() -> None:
    # an LLM's reply keeps its own spacing: the parse-free shortcut must not
    # hand the pick to a lower bound that a differently spaced retune beats
    spaced = CMC.replace("3 + 9*beta", "3 + 12 * beta")
    stricter = CMC.replace("b.disagree >= abandon_patience", "b.disagree > abandon_patience")
    assert words(stricter) == words(CMC) and change(stricter) > 0
    sources = {1: CMC, 2: RETUNED, 3: spaced, 4: stricter}
    gains = {
        2: Gain(0.30, 0.05, 0.60, 500),
        3: Gain(0.32, 0.08, 0.60, 500),
        4: Gain(0.40, 0.12, 0.70, 500),
    }
    state, history, progs = _state(gains, sources)
    chosen, note = final_pick(state, history)
    assert chosen is progs[3] and "constants only" in note
    del gains[3]
    chosen, _ = final_pick(state, history)
    assert chosen is progs[2]
