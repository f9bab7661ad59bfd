"""The offline proposer's library: guard rules it can insert into a round
block, conditions it can add to an existing rule's guard, and final
aggregators it can swap in.

Each gate is a small program text with `{p}` where a fresh name prefix goes
(so two copies never clash); its knobs are declared monotone in the
direction that makes a larger β spend more, so an inserted gate keeps the
one-knob discipline (the checker verifies it anyway).
"""

from __future__ import annotations

import functools

from .. import ast
from ..parser import parse
from ..records import record


@record
class Gate:
    name: str
    text: str
    """Template: `schedule`, optional `state`, and the `round` statements."""


GATES: tuple[Gate, ...] = (
    Gate(
        "confidence",
        """
        schedule {
          {p}conf : float up = round(0.90 + 0.08*beta, 4)
          {p}min  : int   up = max(2, round(2 + 4*beta))
        }
        round {
          rule {p}confident: when count(completed) >= {p}min and conf(completed) >= {p}conf
              do answer winner(completed)
        }
        """,
    ),
    Gate(
        "margin",
        """
        schedule { {p}margin : int up = max(2, round(2 + 6*beta)) }
        round {
          rule {p}margin_stop: when top1(completed) - top2(completed) >= {p}margin
              do answer winner(completed)
        }
        """,
    ),
    Gate(
        "stability",
        """
        schedule { {p}patience : int up = max(2, round(2 + 8*beta)) }
        state { {p}prev: answer = none  {p}stable: int = 0 }
        round {
          let {p}w = winner(answers(alive))
          {p}stable = {p}w != none and {p}w == {p}prev ? {p}stable + 1 : 0
          {p}prev = {p}w
          rule {p}stable_stop: when {p}stable >= {p}patience and count(completed) >= 1
              do answer {p}w
        }
        """,
    ),
    Gate(
        "ema_trend",
        """
        schedule {
          {p}alpha  : float down = round(0.60 - 0.30*beta, 4)
          {p}thresh : float up   = round(0.88 + 0.10*beta, 4)
        }
        state { {p}ema: float = 0.0  {p}hist: window(3) }
        round {
          {p}ema = (1 - {p}alpha) * {p}ema + {p}alpha * conf(completed)
          push({p}hist, {p}ema)
          rule {p}trend_stop: when count(completed) >= 2 and {p}ema >= {p}thresh
              and delta({p}hist) >= 0
              do answer winner(completed)
        }
        """,
    ),
    Gate(
        "widen_unsure",
        """
        schedule {
          {p}cap  : int   up = min(64, round(4 + 28*beta))
          {p}need : float up = round(0.80 + 0.15*beta, 4)
        }
        round {
          rule {p}widen: when spawned < {p}cap and remaining > 0 and conf(completed) < {p}need
              do spawn 1
        }
        """,
    ),
)


@record
class Guard:
    """A condition `and`-ed onto the guard of an existing rule whose action is
    `acts_on` (`spawn` or `answer`): the rule keeps its own logic and fires
    only when the condition also holds."""

    name: str
    acts_on: str
    text: str
    """Template: `schedule` and `when CONDITION` (with `{p}`)."""


GUARDS: tuple[Guard, ...] = (
    # Before any branch completes there is no evidence to widen on, yet a
    # widening rule driven by low confidence fires every round then: on
    # questions with long traces CMC opens every branch it may before one
    # finishes. This caps the width until the first completion.
    Guard(
        "evidence_width",
        "spawn",
        """
        schedule { {p}precap : int up = max(4, round(4 + 60*pow(beta, 2))) }
        when count(completed) >= 1 or spawned < {p}precap
        """,
    ),
    Guard(
        "parallel_width",
        "spawn",
        """
        schedule { {p}width : int up = max(4, round(4 + 60*beta)) }
        when count(running) < {p}width
        """,
    ),
    Guard(
        "stop_support",
        "answer",
        """
        schedule { {p}support : int up = max(2, round(2 + 4*beta)) }
        when count(completed) >= {p}support
        """,
    ),
    Guard(
        "stop_lead",
        "answer",
        """
        schedule { {p}lead : int up = max(1, round(1 + 4*beta)) }
        when top1(completed) - top2(completed) >= {p}lead
        """,
    ),
)


@record
class GuardPieces:
    knobs: tuple[ast.Knob, ...]
    condition: ast.Expr
    names: frozenset[str]


def guard_pieces(guard: Guard, prefix: str) -> GuardPieces:
    """The guard's knobs and condition with `{p}` set to `prefix`."""
    head, _, cond = guard.text.replace("{p}", prefix).partition("when ")
    program = parse(
        f"controller g\n{head}\nround {{ rule g: when {cond.strip()} do stop }}\n"
        "finally { answer none }\n",
        f"<guard {guard.name}>",
    )
    rule = program.round.body[0] if program.round is not None else None
    if not isinstance(rule, ast.If):
        raise ValueError(f"guard {guard.name!r} has no condition")
    return GuardPieces(program.knobs, rule.arms[0][0], frozenset(k.name for k in program.knobs))


AGGREGATORS: tuple[str, ...] = (
    "answer winner(completed) ?? winner(answers(alive))",
    "answer winner(answers(alive)) ?? winner(completed)",
    "answer winner(votes((b.finished ? 2.0 : 1.0) for b in alive)) ?? winner(completed)",
    "answer winner(completed) ?? winner(answers(b in alive where b.answer != none))",
    "answer winner(votes(b in alive where b.reads >= 2)) ?? winner(answers(alive))",
)


# How an `answer` picks from the pool of finished traces. Shorter traces are
# right more often (on the AIME24 stores, votes weighted by 1/length over 16
# full reads are +1.0 points over plain votes), so the alternatives weight
# each finished branch's vote by a falling power of its length; the checker
# sees a divisor that cannot be 0. `?? winner(completed)` keeps an answer
# when every finished branch was pruned.
POOL_WEIGHTS: tuple[tuple[str, str | None], ...] = (
    ("plain", None),
    ("1/sqrt(length)", "1.0 / sqrt(max(1, b.spent))"),
    ("1/length", "1.0 / max(1, b.spent)"),
    ("1/length²", "1.0 / max(1, b.spent * b.spent)"),
)


def _tally(weight: str) -> str:
    return f"votes(({weight}) for b in finished)"


def _weighted_conf(weight: str) -> str:
    # the weights scaled to sum to the number of finished branches, so the
    # Beta-majority confidence still reads counts (a lone vote stays unsure)
    v = _tally(weight)
    scale = f"count(finished) / max(0.000001, total({v}))"
    return f"beta_conf(round(top1({v}) * {scale}), round(top2({v}) * {scale}))"


POOL_VOTES: tuple[str, ...] = tuple(
    "winner(completed)" if w is None else f"winner({_tally(w)}) ?? winner(completed)"
    for _, w in POOL_WEIGHTS
)
# the same weightings for the pool's confidence, index for index
POOL_CONFS: tuple[str, ...] = tuple(
    "conf(completed)" if w is None else _weighted_conf(w) for _, w in POOL_WEIGHTS
)


@functools.cache
def pool_vote(text: str) -> ast.Expr:
    """A pool vote or pool confidence (`POOL_VOTES`, `POOL_CONFS`) as an
    expression (parsed once: the vote operator compares against all of them
    on every mutation; the nodes are immutable, so sharing them is safe)."""
    program = parse(f"controller g\nfinally {{ answer {text} }}\n", "<pool vote>")
    stmt = program.final.body[0] if program.final is not None else None
    if not isinstance(stmt, ast.Answer):
        raise ValueError(f"pool vote {text!r} is not an answer")
    return stmt.value


@record
class GatePieces:
    knobs: tuple[ast.Knob, ...]
    state: tuple[ast.VarDecl, ...]
    stmts: tuple[ast.Stmt, ...]
    names: frozenset[str]


def gate_pieces(gate: Gate, prefix: str) -> GatePieces:
    """The gate's declarations and statements with `{p}` set to `prefix`."""
    text = gate.text.replace("{p}", prefix)
    program = parse(f"controller g\n{text}\nfinally {{ answer none }}\n", f"<gate {gate.name}>")
    stmts = program.round.body if program.round is not None else ()
    names = {k.name for k in program.knobs} | {v.name for v in program.state}
    names |= {s.rule for s in stmts if isinstance(s, ast.If | ast.For) and s.rule}
    names |= {s.name for s in stmts if isinstance(s, ast.Let)}
    return GatePieces(program.knobs, program.state, stmts, frozenset(names))


def aggregator_block(text: str) -> ast.Block:
    program = parse(f"controller g\nfinally {{ {text} }}\n", "<aggregator>")
    if program.final is None:
        raise ValueError(f"aggregator {text!r} has no finally block")
    return program.final


def fresh_prefix(taken: set[str], gate: Gate | Guard) -> str:
    """`g1_`, `g2_`, ...: the first prefix none of whose gate names is taken."""
    n = 1
    while True:
        prefix = f"g{n}_"
        names = (
            gate_pieces(gate, prefix).names
            if isinstance(gate, Gate)
            else guard_pieces(gate, prefix).names
        )
        if not (names & taken):
            return prefix
        n += 1
