"""Typed AST of tts-dsl. Every node carries the source span it came from.

Expressions and statements are frozen dataclasses; the parser builds them
from the Lark tree, the checker and compiler walk them, `fmt` prints them.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from .diagnostics import NO_SPAN, Span
from .records import record

# ----------------------------------------------------------------- expressions


@record
class Expr:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class IntLit(Expr):
    value: int


@record
class FloatLit(Expr):
    value: float
    text: str = field(default="", compare=False, repr=False)  # as written, for fmt


@record
class BoolLit(Expr):
    value: bool


@record
class NoneLit(Expr):
    pass


@record
class Name(Expr):
    id: str


@record
class Field(Expr):
    obj: Expr
    name: str


@record
class Query(Expr):
    """`b in SET [where COND]` as a call argument: a filtered branch set."""

    var: str
    source: Expr
    where: Expr | None


@record
class Generator(Expr):
    """`EXPR for b in SET [where COND]` as a call argument: values per branch."""

    value: Expr
    var: str
    source: Expr
    where: Expr | None


@record
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


UnaryOp = Literal["-", "not"]
BinOp = Literal["+", "-", "*", "/", "//", "%"]
CmpOp = Literal["==", "!=", "<", "<=", ">", ">="]


@record
class Unary(Expr):
    op: UnaryOp
    operand: Expr


@record
class Binary(Expr):
    op: BinOp
    left: Expr
    right: Expr


@record
class Compare(Expr):
    op: CmpOp
    left: Expr
    right: Expr


@record
class BoolOp(Expr):
    op: Literal["and", "or"]
    left: Expr
    right: Expr


@record
class Cond(Expr):
    """`test ? then : other`"""

    test: Expr
    then: Expr
    other: Expr


@record
class Coalesce(Expr):
    """`left ?? right`: left unless it is `none`."""

    left: Expr
    right: Expr


# ------------------------------------------------------------------ statements


@record
class Stmt:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Let(Stmt):
    name: str
    value: Expr


@record
class AssignVar(Stmt):
    name: str
    value: Expr


@record
class AssignField(Stmt):
    var: str
    name: str
    value: Expr


@record
class CallStmt(Stmt):
    func: str
    args: tuple[Expr, ...]


@record
class If(Stmt):
    arms: tuple[tuple[Expr, tuple[Stmt, ...]], ...]  # (condition, body) for if/elif
    orelse: tuple[Stmt, ...] | None
    rule: str | None = None  # set for `rule NAME: when ... do ...`


@record
class SortKey:
    key: Expr
    descending: bool


@record
class LoopHead:
    var: str
    source: Expr
    where: Expr | None
    order: tuple[SortKey, ...]
    limit: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class For(Stmt):
    head: LoopHead
    body: tuple[Stmt, ...]
    rule: str | None = None  # set for `rule NAME: for ... do ...`


@record
class Repeat(Stmt):
    count: Expr
    body: tuple[Stmt, ...]


@record
class Spawn(Stmt):
    count: Expr


@record
class ReadFull(Stmt):
    count: Expr


@record
class Step(Stmt):
    branch: Expr
    times: Expr | None


@record
class Prune(Stmt):
    branch: Expr


@record
class Answer(Stmt):
    value: Expr


@record
class StopLoop(Stmt):
    pass


ACTIONS = (Spawn, ReadFull, Step, Prune, Answer, StopLoop)

# ---------------------------------------------------------------- declarations

Direction = Literal["up", "down", "const"]


@record
class TypeRef:
    name: str
    size: Expr | None = None  # window(size)
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Knob:
    name: str
    type: str
    direction: Direction
    expr: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Param:
    name: str
    type: str
    default: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Limit:
    name: str
    expr: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class VarDecl:
    name: str
    type: TypeRef
    init: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Block:
    body: tuple[Stmt, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@record
class Program:
    name: str
    description: str
    limits: tuple[Limit, ...]
    params: tuple[Param, ...]
    knobs: tuple[Knob, ...]
    state: tuple[VarDecl, ...]
    branch_fields: tuple[VarDecl, ...]
    init: Block | None
    round: Block | None
    final: Block | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


def program_hash(program: Program) -> str:
    """A hash of the program's structure: independent of layout, comments and
    spans (span fields are excluded from `repr`), so reformatting keeps it."""
    import hashlib

    return hashlib.sha256(repr(program).encode()).hexdigest()[:16]
