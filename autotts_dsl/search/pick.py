"""The final pick of a search.

Of the programs whose gain over the reference is larger than its
uncertainty, and whose interval reaches the lower bound of the surest such
gain (not clearly worse than it), the one that changes the least structure
against the reference (`simplicity`: constant retunes first); ties go to the
higher lower bound. When no program's gain counts, the reference.

Why not the highest gain, or the surest: over thousands of candidates the
highest point estimate is mostly the luckiest draw of the 30 search
questions, and programs with new rules fitted those questions. In two runs
whose top hundred programs were all evaluated on held-out, search gain and
held-out gain were uncorrelated within a run, while the constant-only
retunes of CMC carried over (`benchmarks/discovery_selection.py`).
"""

from __future__ import annotations

from ..parser import parse
from .archive import Scored
from .history import History
from .simplicity import skeleton, structural_change, text_shape, words
from .stats import Gain
from .view import SearchState


def plausible_gains(state: SearchState) -> list[tuple[Scored, Gain]]:
    """Programs with a significant gain over the reference that is not
    clearly below the surest one (their upper bound reaches its lower)."""
    ref = state.reference_id
    gains = [
        (s, g)
        for s in state.scored
        if s.id != ref and (g := state.vs_reference(s.id)) is not None and g.significant
    ]
    if not gains:
        return []
    surest = max(g.lo for _, g in gains)
    return [(s, g) for s, g in gains if g.hi >= surest]


def final_pick(state: SearchState, history: History, unit: str = "") -> tuple[Scored | None, str]:
    """The pick and a one-line reason (stored with it in the history)."""
    ref = state.reference_id
    if ref is None:
        return state.best, "best objective (no reference)"
    plausible = plausible_gains(state)
    if not plausible:
        chosen = state.scored_by_id(ref)
        return chosen, "no program beat the reference by more than its uncertainty"
    ranked = _rank(plausible, history.program(ref).source, f"p{ref}")
    lines, _, _, chosen, gain = ranked[0]
    what = "constants only" if lines == 0 else f"{lines} line(s) of structure changed"
    surest = max(g.lo for _, g in plausible)
    return chosen, (
        f"gain over the reference p{ref}: {gain.text(unit)}; {what}, the least of "
        f"{len(plausible)} program(s) whose gain is not clearly below the surest "
        f"(lower bound {surest:+.2f})"
    )


Ranked = tuple[int, float, int, Scored, Gain]


def _rank(plausible: list[tuple[Scored, Gain]], ref_source: str, ref_name: str) -> list[Ranked]:
    """`plausible` by (structure changed, -lower bound, id), or only its head
    when a retune exists: parsing hundreds of programs (~50 ms each) to
    measure changes that cannot win is what this avoids."""

    def key(s: Scored, g: Gain) -> tuple[float, int]:
        return (-g.lo, s.id)

    quick = text_shape(ref_source)
    retunes = sorted(
        (0, *key(s, g), s, g) for s, g in plausible if text_shape(s.program.source) == quick
    )
    if not retunes:
        shape = skeleton(parse(ref_source, ref_name))
        return sorted(
            (structural_change(parse(s.program.source, f"p{s.id}"), shape), *key(s, g), s, g)
            for s, g in plausible
        )
    # a retune in another layout (an LLM's reply) can still win on its lower bound
    best, ref_words = retunes[0][1:3], words(ref_source)
    ref_shape: tuple[str, ...] | None = None
    for s, g in plausible:
        if key(s, g) < best and words(s.program.source) == ref_words:
            if ref_shape is None:
                ref_shape = skeleton(parse(ref_source, ref_name))
            if structural_change(parse(s.program.source, f"p{s.id}"), ref_shape) == 0:
                retunes.append((0, *key(s, g), s, g))
    return sorted(retunes)
