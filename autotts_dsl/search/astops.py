"""Generic operations on the typed AST for the offline proposer: walking,
rebuilding with a node replaced, the names a piece of program mentions,
dropping declarations nothing mentions, and moving declarations a piece
needs from one program into another."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .. import ast

N = TypeVar("N")


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, tuple):
        yield from node
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield getattr(node, f.name)


def walk(node: Any) -> Iterator[Any]:
    """Every AST node under `node` (itself included), parents before children."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if dataclasses.is_dataclass(cur) and not isinstance(cur, type):
            yield cur
        if isinstance(cur, tuple) or dataclasses.is_dataclass(cur):
            stack.extend(reversed(list(_children(cur))))


def rebuild(node: N, fn: Callable[[Any], Any | None]) -> N:
    """A copy of `node` where every sub-node for which `fn` returns something
    is replaced by that (unchanged parts are shared)."""

    def go(cur: Any) -> Any:
        got = fn(cur)
        if got is not None:
            return got
        if isinstance(cur, tuple):
            items = tuple(go(x) for x in cur)
            return cur if all(a is b for a, b in zip(items, cur, strict=True)) else items
        if dataclasses.is_dataclass(cur) and not isinstance(cur, type):
            changes = {}
            for f in dataclasses.fields(cur):
                if f.name == "span":
                    continue
                old = getattr(cur, f.name)
                new = go(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(cur, **changes) if changes else cur
        return cur

    out: N = go(node)
    return out


def replace_node(node: N, target: Any, new: Any) -> N:
    """`node` with the sub-node `target` (by identity) replaced by `new`."""
    return rebuild(node, lambda cur: new if cur is target else None)


def mentioned(node: Any) -> set[str]:
    """Names, fields and assignment targets that occur under `node`."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, (ast.Field | ast.AssignField, ast.AssignVar)):
            out.add(n.name)
        elif isinstance(n, ast.CallStmt | ast.Call):
            out.add(n.func)
    return out


def declared(program: ast.Program) -> dict[str, Any]:
    """Name -> declaration (param, knob, state variable or branch field)."""
    out: dict[str, Any] = {}
    for group in (program.params, program.knobs, program.state, program.branch_fields):
        for d in group:
            out[d.name] = d
    return out


def value_names(program: ast.Program) -> set[str]:
    """Every name a value can have in `program`: declarations, names it
    mentions, `let`s and loop variables anywhere (rule names are another
    namespace)."""
    out = set(declared(program)) | mentioned(program)
    for n in walk(program):
        if isinstance(n, ast.Let):
            out.add(n.name)
        elif isinstance(n, ast.LoopHead):
            out.add(n.var)
    return out


def identifiers(program: ast.Program) -> set[str]:
    """Every name a new declaration, local or rule could clash with."""
    out = value_names(program)
    for n in walk(program):
        if isinstance(n, ast.If | ast.For) and n.rule:
            out.add(n.rule)
    return out


def rename_locals(piece: N, taken: set[str]) -> N:
    """`piece` with each `let` it defines whose name is in `taken` renamed
    to a fresh one (`name_2`, ...), with the reads of it inside `piece`:
    names cannot be shadowed, so a rule moved into a program that has its
    own `let before` elsewhere would not check. (Inside `piece` every read
    of such a name is of the piece's own `let`: the donor had no other.)"""
    own = {n.name for n in walk(piece) if isinstance(n, ast.Let)}
    clash = own & taken
    if not clash:
        return piece
    used = taken | own
    fresh: dict[str, str] = {}
    for name in sorted(clash):
        k = 2
        while f"{name}_{k}" in used:
            k += 1
        fresh[name] = f"{name}_{k}"
        used.add(fresh[name])

    def swap(node: Any) -> Any | None:
        if isinstance(node, ast.Let) and node.name in fresh:
            return dataclasses.replace(node, name=fresh[node.name], value=rebuild(node.value, swap))
        if isinstance(node, ast.Name) and node.id in fresh:
            return dataclasses.replace(node, id=fresh[node.id])
        return None

    return rebuild(piece, swap)


def drop_unused(program: ast.Program) -> ast.Program:
    """Remove params, knobs, state variables and branch fields that nothing
    mentions any more (repeatedly: dropping one can orphan another)."""
    while True:
        used = mentioned(program)
        pruned = dataclasses.replace(
            program,
            params=tuple(p for p in program.params if p.name in used),
            knobs=tuple(k for k in program.knobs if k.name in used),
            state=tuple(v for v in program.state if v.name in used),
            branch_fields=tuple(v for v in program.branch_fields if v.name in used),
        )
        if pruned == program:
            return program
        program = pruned


def with_dependencies(
    target: ast.Program, donor: ast.Program, pieces: Iterable[Any]
) -> ast.Program:
    """`target` plus every declaration of `donor` that `pieces` need (and
    that those need in turn) which `target` does not declare itself."""
    have = declared(target)
    offer = declared(donor)
    need: set[str] = set()
    todo = set().union(*(mentioned(p) for p in pieces))
    while todo:
        name = todo.pop()
        if name in need or name in have or name not in offer:
            continue
        need.add(name)
        todo |= mentioned(offer[name])
    if not need:
        return target

    def take(group: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(d for d in group if d.name in need)

    return dataclasses.replace(
        target,
        params=target.params + take(donor.params),
        knobs=target.knobs + take(donor.knobs),
        state=target.state + take(donor.state),
        branch_fields=target.branch_fields + take(donor.branch_fields),
    )


def lets_needed(target: ast.Program, donor: ast.Program, piece: Any) -> tuple[ast.Let, ...]:
    """The donor's top-level round `let`s that `piece` reads (and that those
    read in turn), in the donor's order, leaving out names `target` already
    has at that level: a rule moved between programs keeps the local values
    it tests. (One that clashes with a `let` nested in `target` is renamed
    by the caller, `rename_locals`.)"""
    if donor.round is None:
        return ()
    lets = {s.name: s for s in donor.round.body if isinstance(s, ast.Let)}
    # what the round's top level sees (a `let` nested in a block does not count)
    have = set(declared(target))
    if target.round is not None:
        have |= {s.name for s in target.round.body if isinstance(s, ast.Let)}
    need: set[str] = set()
    todo = mentioned(piece)
    while todo:
        name = todo.pop()
        if name in need or name in have or name not in lets:
            continue
        need.add(name)
        todo |= mentioned(lets[name].value)
    return tuple(s for s in donor.round.body if isinstance(s, ast.Let) and s.name in need)


def state_updates_needed(
    target: ast.Program, donor: ast.Program, piece: Any
) -> tuple[ast.Stmt, ...]:
    """The donor's top-level round statements that write the donor state
    variables and branch fields `piece` reads (and those the statements read
    in turn) which `target` does not declare, in the donor's order: a moved
    rule that tests CMC's `ema` keeps the statements that update it, or it
    would test a constant (W309/W310). `piece` itself is never brought, nor a
    statement holding a rule (state a rule updates stays a W309 warning)."""
    if donor.round is None:
        return ()
    have = set(declared(target))
    own = {d.name for d in (*donor.state, *donor.branch_fields)} - have
    inside = {id(n) for n in walk(piece)}

    def writes(stmt: ast.Stmt) -> set[str]:
        out: set[str] = set()
        for n in walk(stmt):
            if isinstance(n, ast.AssignVar | ast.AssignField):
                out.add(n.name)
            elif isinstance(n, ast.CallStmt) and n.args and isinstance(n.args[0], ast.Name):
                out.add(n.args[0].id)  # push / set_last write their window
        return out & own

    def movable(stmt: ast.Stmt) -> bool:
        # plain updates only: a statement holding a rule would move a rule too
        has_rule = any(isinstance(n, ast.If | ast.For) and n.rule for n in walk(stmt))
        return id(stmt) not in inside and not has_rule

    candidates = [(s, writes(s)) for s in donor.round.body if movable(s)]
    need: set[str] = set()
    todo = mentioned(piece) & own
    while todo:
        name = todo.pop()
        if name in need:
            continue
        need.add(name)
        for stmt, wrote in candidates:
            if name in wrote:
                todo |= mentioned(stmt) & own
    return tuple(s for s, wrote in candidates if wrote & need)
