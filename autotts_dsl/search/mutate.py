"""Typed AST mutations for the offline proposer.

Every operator maps a parsed program (and, for crossover, a donor) to a new
program plus a one-line description, or None when it does not apply:

* `knob`: move one numeric literal of a schedule knob within its declared
  monotone form — a β coefficient is scaled by a positive factor (the
  direction stays), any other constant is shifted (bounds, offsets);
* `param`: shift a param's default;
* `body`: shift a literal of a guard, an action count or a loop limit
  (thresholds, burst sizes, patience, keep-N);
* `gate+` / `gate-`: insert a guard rule from the library (`gates.py`) at
  some position of the round block, or remove a named rule (and the
  declarations only it used);
* `guard`: `and` a condition from the library onto the guard of an existing
  widening or stopping rule (e.g. no widening past a cap before the first
  branch completes), with its own knob;
* `aggregator`: swap the `finally` block for one of the library's;
* `vote`: change how every `answer` picks from the finished traces (plain
  majority, or votes weighted by a falling power of the trace's length), in
  the stopping rules and the `finally` block at once, and optionally the
  pool's confidence (`conf(completed)`) with the same weights;
* `crossover`: take a named rule, the `init` or the `finally` block from a
  donor program, with every declaration it needs.

Operators make no promise that the result checks: the caller sends every
mutant through the same checker as an LLM proposal and drops failures.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable

from .. import ast
from ..records import record
from .astops import (
    drop_unused,
    identifiers,
    lets_needed,
    mentioned,
    rebuild,
    rename_locals,
    replace_node,
    state_updates_needed,
    value_names,
    walk,
    with_dependencies,
)
from .gates import (
    AGGREGATORS,
    GATES,
    GUARDS,
    POOL_CONFS,
    POOL_VOTES,
    POOL_WEIGHTS,
    aggregator_block,
    fresh_prefix,
    gate_pieces,
    guard_pieces,
    pool_vote,
)

Lit = ast.IntLit | ast.FloatLit
Result = tuple[ast.Program, str] | None
Op = Callable[[ast.Program, random.Random, "ast.Program | None"], Result]

BETA_FACTORS = (0.5, 0.75, 1.25, 1.5, 2.0)
FLOAT_FACTORS = (0.8, 0.9, 1.1, 1.25)
INT_SHIFTS = (-2, -1, 1, 2)
UNIT_SHIFTS = (-0.05, -0.02, 0.02, 0.05)


@record
class _Site:
    lit: Lit
    owner: str
    beta_coef: bool


def _text(v: float) -> str:
    return f"{v:g}"


def _lit(v: float, like: Lit) -> Lit:
    if isinstance(like, ast.IntLit):
        return ast.IntLit(int(v))
    return ast.FloatLit(float(v))


def _new_value(site: _Site, rng: random.Random) -> float | None:
    """A new value of the same type and sign, different from the old one."""
    v = site.lit.value
    is_int = isinstance(site.lit, ast.IntLit)
    if site.beta_coef:
        f = rng.choice(BETA_FACTORS)
        new: float = round(v * f) if is_int else round(v * f, 4)
    elif is_int:
        new = v + rng.choice(INT_SHIFTS)
        if v > 0:
            new = max(1, new)
        elif v == 0:
            new = abs(new)
    elif 0 < abs(v) < 1:
        new = round(v + rng.choice(UNIT_SHIFTS) * (1 if v > 0 else -1), 4)
    else:
        new = round(v * rng.choice(FLOAT_FACTORS), 4)
    if new == v or (v > 0) != (new > 0) or (v < 0) != (new < 0):
        return None
    return new


def _expr_sites(expr: ast.Expr, owner: str) -> list[_Site]:
    """Literals of a schedule expression, minus `round`'s digit counts."""
    frozen: list[ast.Expr] = []
    coefs: list[ast.Expr] = []
    for n in walk(expr):
        if isinstance(n, ast.Call) and n.func == "round" and len(n.args) == 2:
            frozen.append(n.args[1])
        if isinstance(n, ast.Binary) and n.op == "*":
            for a, b in ((n.left, n.right), (n.right, n.left)):
                if isinstance(b, ast.Name) and b.id == "beta":
                    coefs.append(a)
    return [
        _Site(n, owner, any(n is c for c in coefs))
        for n in walk(expr)
        if isinstance(n, ast.IntLit | ast.FloatLit) and not any(n is f for f in frozen)
    ]


_TUNABLE = (ast.Compare, ast.Spawn, ast.ReadFull, ast.Step, ast.LoopHead)


def _body_sites(block: ast.Block, owner: str) -> list[_Site]:
    """Literals inside guards, action counts and loop heads."""
    out: list[_Site] = []

    def visit(node: object, inside: bool) -> None:
        if isinstance(node, ast.IntLit | ast.FloatLit):
            if inside:
                out.append(_Site(node, owner, False))
            return
        if isinstance(node, ast.Call) and node.func == "round" and len(node.args) == 2:
            visit(node.args[0], inside)
            return
        inside = inside or isinstance(node, _TUNABLE)
        if isinstance(node, tuple):
            for x in node:
                visit(x, inside)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                if f.name != "span":
                    visit(getattr(node, f.name), inside)

    visit(block, False)
    return out


def _tweak(program: ast.Program, sites: list[_Site], rng: random.Random) -> Result:
    rng.shuffle(sites)
    for site in sites[:4]:
        new = _new_value(site, rng)
        if new is None:
            continue
        what = "β coefficient" if site.beta_coef else "constant"
        desc = f"{site.owner}: {what} {_text(site.lit.value)} → {_text(new)}"
        return replace_node(program, site.lit, _lit(new, site.lit)), desc
    return None


def op_knob(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    sites = [s for k in program.knobs for s in _expr_sites(k.expr, f"knob {k.name}")]
    return _tweak(program, sites, rng)


def op_param(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    sites = [
        _Site(p.default, f"param {p.name}", False)
        for p in program.params
        if isinstance(p.default, ast.IntLit | ast.FloatLit)
    ]
    return _tweak(program, sites, rng)


def op_body(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    sites: list[_Site] = []
    for name, block in (("init", program.init), ("round", program.round)):
        if block is not None:
            sites += _body_sites(block, name)
    return _tweak(program, sites, rng)


def _with_round(program: ast.Program, body: tuple[ast.Stmt, ...]) -> ast.Program:
    block = (
        ast.Block(body) if program.round is None else dataclasses.replace(program.round, body=body)
    )
    return dataclasses.replace(program, round=block)


def op_gate_insert(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    if program.round is None:
        return None
    gate = rng.choice(GATES)
    prefix = fresh_prefix(identifiers(program), gate)
    pieces = gate_pieces(gate, prefix)
    body = program.round.body
    pos = rng.randint(0, len(body))
    child = _with_round(program, body[:pos] + pieces.stmts + body[pos:])
    child = dataclasses.replace(
        child, knobs=child.knobs + pieces.knobs, state=child.state + pieces.state
    )
    return child, f"insert {gate.name} gate ({prefix}*) at round statement {pos + 1}"


def _rules(block: ast.Block | None) -> list[ast.If | ast.For]:
    if block is None:
        return []
    return [s for s in block.body if isinstance(s, ast.If | ast.For) and s.rule]


def op_gate_remove(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    rules = _rules(program.round)
    if not rules or program.round is None:
        return None
    victim = rng.choice(rules)
    gate = re.match(r"g\d+_", victim.rule or "")

    def goes(s: ast.Stmt) -> bool:
        # a library gate leaves whole: its rule and the statements feeding it
        if s is victim:
            return True
        if gate is None:
            return False
        names = mentioned(s) | ({s.name} if isinstance(s, ast.Let) else set())
        return any(n.startswith(gate.group()) for n in names)

    body = tuple(s for s in program.round.body if not goes(s))
    return drop_unused(_with_round(program, body)), f"remove rule {victim.rule}"


_ACTIONS: dict[str, type[ast.Stmt]] = {"spawn": ast.Spawn, "answer": ast.Answer}


def op_guard(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    if program.round is None:
        return None
    rules = [r for r in walk(program.round) if isinstance(r, ast.If) and r.rule]
    options = [
        (guard, targets)
        for guard in GUARDS
        if (
            targets := [
                r
                for r in rules
                if any(isinstance(n, _ACTIONS[guard.acts_on]) for n in walk(r.arms[0]))
            ]
        )
    ]
    if not options:
        return None
    guard, targets = rng.choice(options)
    rule = rng.choice(targets)
    prefix = fresh_prefix(identifiers(program), guard)
    pieces = guard_pieces(guard, prefix)
    cond, body = rule.arms[0]
    guarded = dataclasses.replace(
        rule, arms=((ast.BoolOp("and", cond, pieces.condition), body), *rule.arms[1:])
    )
    child = replace_node(program, rule, guarded)
    child = dataclasses.replace(child, knobs=child.knobs + pieces.knobs)
    return child, f"guard rule {rule.rule} with {guard.name} ({prefix}*)"


def op_aggregator(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    current = program.final.body if program.final is not None else ()
    options = [a for a in AGGREGATORS if aggregator_block(a).body != current]
    if not options:
        return None
    text = rng.choice(options)
    child = drop_unused(dataclasses.replace(program, final=aggregator_block(text)))
    return child, f"finally: {text}"


def _pool_sites(program: ast.Program) -> list[ast.Expr]:
    """Each `answer` whose value, or the left end of its `??` chain, is one of
    the library's pool votes: that vote expression."""
    votes = [pool_vote(t) for t in POOL_VOTES]

    def site(expr: ast.Expr) -> ast.Expr | None:
        if expr in votes:
            return expr
        return site(expr.left) if isinstance(expr, ast.Coalesce) else None

    return [
        found
        for node in walk(program)
        if isinstance(node, ast.Answer) and (found := site(node.value)) is not None
    ]


def _set_all(program: ast.Program, sites: list[ast.Expr], new: ast.Expr) -> ast.Program | None:
    """`program` with each of `sites` (nodes of it) replaced by `new`; None
    when there is none or all are `new` already."""
    if all(s == new for s in sites):
        return None
    ids = {id(s) for s in sites}
    return rebuild(program, lambda cur: new if id(cur) in ids else None)


def with_pool_vote(program: ast.Program, text: str) -> ast.Program | None:
    """`program` with every answer's pool vote (`_pool_sites`) set to the
    library's vote `text`; None when it has none or all are that vote
    already. Other uses of the same expression (e.g. `let w = winner(completed)`,
    which steers depth and pruning) stay as they are."""
    return _set_all(program, _pool_sites(program), pool_vote(text))


def with_pool_conf(program: ast.Program, text: str) -> ast.Program | None:
    """`program` with every pool confidence (`conf(completed)` or a weighted
    one of `POOL_CONFS`) set to `text`; None when it has none or all are
    that one already."""
    confs = [pool_vote(t) for t in POOL_CONFS]
    sites = [node for node in walk(program) if isinstance(node, ast.Expr) and node in confs]
    return _set_all(program, sites, pool_vote(text))


def op_vote(program: ast.Program, rng: random.Random, _donor: ast.Program | None) -> Result:
    # one weighting of the pool, for the answers alone or for the answers
    # and the confidences that decide when to stop
    options: list[tuple[ast.Program, str]] = []
    for (name, _), vote, conf in zip(POOL_WEIGHTS, POOL_VOTES, POOL_CONFS, strict=True):
        answers = with_pool_vote(program, vote) or program
        if answers is not program:
            options.append((answers, f"answers vote: {name}"))
        both = with_pool_conf(answers, conf)
        if both is not None:
            options.append((both, f"answers vote and confidence: {name}"))
    return rng.choice(options) if options else None


def op_crossover(program: ast.Program, rng: random.Random, donor: ast.Program | None) -> Result:
    if donor is None:
        return None
    choices: list[str] = [f"rule {r.rule}" for r in _rules(donor.round)]
    if donor.final is not None and donor.final != program.final:
        choices.append("finally")
    if donor.init is not None and donor.init != program.init:
        choices.append("init")
    if not choices:
        return None
    pick = rng.choice(choices)
    tag = f"from {donor.name}"
    if pick in ("finally", "init"):
        block = donor.final if pick == "finally" else donor.init
        child = (
            dataclasses.replace(program, final=block)
            if pick == "finally"
            else dataclasses.replace(program, init=block)
        )
        # state the block reads keeps the donor's updates, at the end of the round
        updates = state_updates_needed(program, donor, block)
        if not updates:
            return drop_unused(with_dependencies(child, donor, [block])), f"{pick} {tag}"
        lets, updates = rename_locals(
            (lets_needed(program, donor, updates), updates), value_names(program)
        )
        body = program.round.body if program.round is not None else ()
        child = _with_round(child, (*body, *lets, *updates))
        child = with_dependencies(child, donor, [block, *lets, *updates])
        desc = f"{pick} {tag} (with the {len(updates)} statement(s) updating the state it reads)"
        return drop_unused(child), desc
    if program.round is None:
        return None
    rule = next(r for r in _rules(donor.round) if f"rule {r.rule}" == pick)
    updates = state_updates_needed(program, donor, rule)
    moved = rename_locals(
        (lets_needed(program, donor, (updates, rule)), updates, rule), value_names(program)
    )
    lets, updates, rule = moved
    body = program.round.body
    same = [
        i for i, s in enumerate(body) if isinstance(s, ast.If | ast.For) and s.rule == rule.rule
    ]
    if same:
        new_body = (*body[: same[0]], *lets, *updates, rule, *body[same[0] + 1 :])
        desc = f"rule {rule.rule} replaced by the version {tag}"
    else:
        # after the program's own lets that the rule (or a let it brings) reads
        reads = mentioned((rule, updates)).union(*(mentioned(s.value) for s in lets))
        after = [i + 1 for i, s in enumerate(body) if isinstance(s, ast.Let) and s.name in reads]
        pos = rng.randint(max(after, default=0), len(body))
        new_body = (*body[:pos], *lets, *updates, rule, *body[pos:])
        desc = f"rule {rule.rule} {tag} inserted at round statement {pos + 1}"
    if lets:
        desc += f" (with let {', '.join(s.name for s in lets)})"
    if updates:
        desc += f" (with the {len(updates)} statement(s) updating the state it reads)"
    child = with_dependencies(_with_round(program, new_body), donor, [rule, *lets, *updates])
    return drop_unused(child), desc


OPERATORS: tuple[tuple[str, Op, int], ...] = (
    ("knob", op_knob, 5),
    ("param", op_param, 1),
    ("body", op_body, 2),
    ("gate+", op_gate_insert, 2),
    ("gate-", op_gate_remove, 1),
    ("guard", op_guard, 2),
    ("aggregator", op_aggregator, 1),
    ("vote", op_vote, 1),
    ("crossover", op_crossover, 2),
)


@record
class Mutation:
    program: ast.Program
    change: str
    op: str
    used_donor: bool


def mutate(
    program: ast.Program, rng: random.Random, donor: ast.Program | None = None
) -> Mutation | None:
    """One random operator (weighted; crossover only with a donor), retried
    on operators that do not apply."""
    ops = [(name, op, w) for name, op, w in OPERATORS if donor is not None or name != "crossover"]
    for _ in range(8):
        name, op, _w = rng.choices(ops, weights=[w for _, _, w in ops])[0]
        got = op(program, rng, donor)
        if got is not None:
            return Mutation(got[0], got[1], name, name == "crossover")
    return None
