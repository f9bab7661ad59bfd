"""The proposer's prompt, assembled from a `SearchView` (search stores only)
and bounded in size.

Sections, most important first: the task, the reply format, the language
(syntax summary and the reference card generated from the builtins table),
the suggested parent with its β-sweep table, the checker's `explain` of it,
diagnostic trace excerpts, the other archive programs, what earlier rounds
tried, and recent rejections. When the text exceeds `max_chars`, the least
important sections are cut first (each keeps its head, or goes entirely).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..records import record
from ..refcard import reference_card
from .objective import Objective
from .view import ProgramView, SearchView

TASK = """\
# Task: propose a better test-time-scaling controller in tts-dsl

A reasoning model answers a math question better when it spends more tokens:
open several reasoning traces ("branches"), read them further, take a vote.
A test-time-scaling (TTS) controller decides, per question, when to open
another branch (width), which branches to read further (depth), which to
prune, and when to stop and answer. Controllers are small programs in
tts-dsl, checked before they run and evaluated offline on replay stores of
pre-sampled traces: the replay MDP, with zero LLM calls per evaluation.

The replay MDP. Each question has pre-sampled traces (128 in the AutoTTS
stores), each cut into intervals of 500 tokens; reading an interval reveals
the answer the model would give if forced to stop there. Branches open in a
fixed shuffled order. Actions and their cost in tokens:
  spawn N         open N new branches, each reading its first interval (500 each)
  step b times K  read K more intervals of branch b (500 each; the read after
                  the last interval returns the final answer and charges the
                  rest of the trace; `completed` gets that final answer)
  read_full N     open N branches and charge each whole trace (final answers only)
  prune b         drop branch b (what it cost stays charged)
  answer X        end the episode with answer X
  stop            leave the round loop; `finally` must then answer
`init` runs once and each `round` is one parallel batch; sequential tokens
(a latency proxy) charge each batch its largest single-branch spend. The
gold answer is never visible to a program.

Evaluation: every question under several shuffle seeds; accuracy (percent)
and average tokens per question, at each β of the grid, on each search store.

The one-knob discipline. Every internal constant is a declared monotone
function of one knob β in [0, 1], in the `schedule` section:
`name : int|float up|down|const = expr(beta)`. A larger β must buy accuracy
with tokens: each knob's direction should make the controller spend more as
β grows (a larger threshold to stop, more branches, longer patience). The
checker proves every declared direction (an unprovable one is an error) and
warns when a knob pulls the budget both ways. Prefer smooth, simple schedules
(`round(a + b*beta)`, `max(lo, ...)`, `min(hi, ...)`) over special cases.
"""

REPLY_FORMAT = """\
# How to reply

Start with two or three sentences: what you change and why, citing what the
sweep tables or traces show. Then give ONE new controller, either

(a) edits to one program shown below:

PARENT: p3
<<<<<<< SEARCH
lines copied from the parent
=======
the replacement lines
>>>>>>> REPLACE

(one or more blocks, applied in order; each SEARCH text must occur exactly
once in the parent; the layout of whitespace does not matter), or

(b) the complete program in one ```tts fenced block.

A proposal that does not parse or check is sent back to you with the
checker's diagnostics and is never evaluated. Aim for a better score, not a
copy: a program identical to an earlier one (up to layout) is not evaluated
again.
"""

REPLY_FORMAT_GRAMMAR = """\
# How to reply

Your reply is constrained to the tts-dsl grammar: write ONE complete new
controller program and nothing else (explain your change in `#` comments at
its top). A program that does not check is sent back with the checker's
diagnostics and is never evaluated; a copy of an earlier program is not
evaluated again.
"""

SYNTAX = """\
# The language

Program: `controller NAME "description"` then sections in any order, each at
most once: limits { max_branches = N  max_rounds = N  fuel = N },
params { name : int|float|bool = value }, schedule { knobs, see above },
state { name: int|float|bool|answer = init   name: window(N) },
branch { per-branch field: type = init }, init { ... } (once),
round { ... } (repeated up to max_rounds), finally { ... } (must answer).
Statements: `let x = e` (immutable, block-scoped), `x = e` (state),
`b.f = e` (branch field), `push(w, x)`, `set_last(w, x)`,
`if c { } elif c { } else { }`,
`for b in SET [where c] [order by k [desc], ...] [limit n] { }`, `repeat n { }`,
`rule NAME: when c do ACTION-or-{block}`,
`rule NAME: for b in SET [where c] [order by ...] [limit n] do ACTION-or-{block}`,
and the actions above. Sets: opened, running, alive (= running + finished),
finished, pruned. Queries inside calls: `count(b in running where b.answer == w)`,
`max(b.reads for b in running)`. Expressions: + - * / // %, comparisons,
and/or/not, `c ? x : y`, `a ?? b` (a unless none). Answers compare only with
== and !=. `#` starts a comment.
"""


@record
class Section:
    title: str
    text: str
    priority: int
    """Higher survives longer when the prompt must shrink."""
    keep: int = 0
    """Characters kept when first cut (0: the section may go entirely)."""
    required: bool = False
    """Never dropped; cut only when nothing optional is left."""


def _n(x: float) -> str:
    return f"{x:,.0f}"


def sweep_table(view: SearchView, prog: ProgramView) -> str:
    """β rows × (accuracy %, tokens, sequential tokens) per store and mean."""
    stores = list(view.store_names)
    head = ["β"] + [f"{s}: acc% / tokens / seq" for s in stores]
    if len(stores) > 1:
        head.append("mean: acc% / tokens / seq")
    lines = [" | ".join(head)]
    for row in prog.table:
        cells = [f"{row.beta:.2f}"]
        cells += [f"{c.accuracy:.2f} / {_n(c.tokens)} / {_n(c.seq_tokens)}" for c in row.cells]
        if len(stores) > 1:
            m = row.mean
            cells.append(f"{m.accuracy:.2f} / {_n(m.tokens)} / {_n(m.seq_tokens)}")
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def strip_header(source: str) -> str:
    """The program without its leading comment block (inspirations repeat
    their header otherwise; the text before `controller` says nothing the
    table does not)."""
    lines = source.splitlines()
    k = 0
    while k < len(lines) and (not lines[k].strip() or lines[k].lstrip().startswith("#")):
        k += 1
    return "\n".join(lines[k:])


def _score(view: SearchView, prog: ProgramView) -> str:
    text = f"score {prog.objective:+.2f}" if view.unit else f"score {prog.objective:.2f}"
    if prog.vs_reference is not None and view.reference:
        text += f"; vs {view.reference}: {prog.vs_reference.text(view.unit)}"
    if prog.vs_parent is not None and prog.parents:
        text += f"; vs {prog.parents[0]}: {prog.vs_parent.text(view.unit)}"
    return text


def program_block(view: SearchView, prog: ProgramView, *, strip: bool = False) -> str:
    origin = (
        "seed" if prog.proposer in ("seed", "reference") else f"round {prog.round}, {prog.proposer}"
    )
    parents = f", from {', '.join(prog.parents)}" if prog.parents else ""
    change = f"\nChange: {prog.rationale}" if prog.rationale else ""
    source = strip_header(prog.source) if strip else prog.source
    return (
        f"## {prog.label}: {prog.name} ({origin}{parents}); {_score(view, prog)}{change}\n"
        f"```tts\n{source.rstrip()}\n```\n{sweep_table(view, prog)}"
    )


def diverse(others: Sequence[ProgramView]) -> list[ProgramView]:
    """Inspirations: the best program of each behaviour niche first, then the
    rest — unlike programs before near-copies."""
    seen: set[tuple[int, int]] = set()
    first: list[ProgramView] = []
    rest: list[ProgramView] = []
    for p in others:
        (rest if p.niche in seen else first).append(p)
        seen.add(p.niche)
    return first + rest


def _tried(view: SearchView) -> str:
    lines = []
    for t in view.tried:
        score = "not scored" if t.objective is None else f"score {t.objective:+.2f}"
        if t.vs_parent is not None:
            score += f" (vs parent {t.vs_parent.text()})"
        elif t.objective is not None and t.parent_objective is not None:
            score += f" ({t.objective - t.parent_objective:+.2f} vs parent)"
        src = f" from {', '.join(t.parents)}" if t.parents else ""
        extra = "" if t.note in ("new", "") else f" [{t.note}]"
        change = t.change[:200] + ("…" if len(t.change) > 200 else "")
        lines.append(f"- round {t.round}: {t.label}{src}: {change} → {score}{extra}")
    return "\n".join(lines)


def _frontier(view: SearchView) -> str:
    return "\n".join(
        f"- {label} at β={p.beta:g}: {p.accuracy:.2f}% for {_n(p.tokens)} tokens"
        for label, p in view.frontier
    )


def sections(
    view: SearchView,
    objective: Objective,
    parent: ProgramView | None,
    explain_text: str,
    traces_text: str,
    grammar: bool = False,
    context: str = "",
) -> list[Section]:
    betas = ", ".join(f"{b:g}" for b in view.betas)
    setup = (
        f"Search stores: {', '.join(view.store_names)}. β grid: {betas}.\n"
        f"Score (higher is better): {objective.description}."
    )
    out = [
        Section("task", TASK + "\n" + setup, 100, required=True),
        Section("format", REPLY_FORMAT_GRAMMAR if grammar else REPLY_FORMAT, 99, required=True),
        Section("syntax", SYNTAX, 97),
        Section("card", "# Builtins (reference card)\n\n" + reference_card(), 96),
    ]
    if parent is not None:
        out.append(
            Section(
                "parent", "# Suggested parent\n\n" + program_block(view, parent), 98, required=True
            )
        )
    if context:
        out.append(Section("context", context, 70, 2500))
    if explain_text:
        title = f"# What the checker proves about {parent.label if parent else 'the parent'}"
        out.append(Section("explain", f"{title}\n\n{explain_text}", 60, 1500))
    if traces_text:
        out.append(Section("traces", "# Diagnostic trace excerpts\n\n" + traces_text, 55, 1200))
    if view.frontier:
        front = "# Joint accuracy-token frontier so far (mean over stores)\n\n" + _frontier(view)
        out.append(Section("frontier", front, 50))
    others = diverse([p for p in view.ranked if parent is None or p.label != parent.label])
    for i, prog in enumerate(others):
        title = (
            "# Inspirations: other archive programs, one per behaviour first\n\n" if i == 0 else ""
        )
        block = program_block(view, prog, strip=True)
        out.append(Section(f"program {prog.label}", title + block, 40 - i))
    if view.tried:
        out.append(Section("tried", "# What earlier rounds tried\n\n" + _tried(view), 20, 800))
    if view.rejections:
        recent = "\n".join(f"- {r}" for r in view.rejections[-8:])
        out.append(Section("rejections", "# Recently rejected proposals\n\n" + recent, 10))
    return out


def assemble(parts: Sequence[Section], max_chars: int) -> str:
    """Join sections in order, shrinking the least important ones to fit:
    first each optional section down to its `keep` (or out), then optional
    sections out entirely, then required ones cut to what is left."""
    texts = [s.text for s in parts]
    order = sorted(range(len(parts)), key=lambda j: parts[j].priority)
    marker = "\n[... cut to fit the prompt budget]"

    def over() -> int:
        return sum(len(t) + 2 for t in texts if t) - max_chars

    def cut(i: int, floor: int) -> None:
        room = max(floor, len(texts[i]) - over() - len(marker))
        if room < 200:
            texts[i] = ""
        elif room < len(texts[i]):
            texts[i] = texts[i][:room].rstrip() + marker

    for i in order:
        if over() > 0 and not parts[i].required:
            cut(i, parts[i].keep)
    for i in order:
        if over() > 0 and not parts[i].required:
            texts[i] = ""
    for i in order:
        if over() > 0:
            cut(i, 0)
    return "\n\n".join(t for t in texts if t).rstrip() + "\n"


def build_prompt(
    view: SearchView,
    objective: Objective,
    parent: ProgramView | None,
    *,
    explain_text: str = "",
    traces_text: str = "",
    max_chars: int = 24_000,
    grammar: bool = False,
    context: str = "",
) -> str:
    parts = sections(view, objective, parent, explain_text, traces_text, grammar, context)
    return assemble(parts, max_chars - repair_reserve(max_chars))


def repair_reserve(max_chars: int) -> int:
    """Room kept free in the first prompt for the slot note and one repair
    turn (the failed reply's excerpt and the feedback), so no request of a
    slot exceeds `max_chars`."""
    return min(8_000, max_chars // 3)
