"""Typed AST of tts-dsl. Every node carries the source span it came from.

Expressions and statements are frozen dataclasses; the parser builds them
from the Lark tree, the checker and compiler walk them, `fmt` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .diagnostics import NO_SPAN, Span

# ----------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class IntLit(Expr):
    value: int


@dataclass(frozen=True)
class FloatLit(Expr):
    value: float
    text: str = field(default="", compare=False, repr=False)  # as written, for fmt


@dataclass(frozen=True)
class BoolLit(Expr):
    value: bool


@dataclass(frozen=True)
class NoneLit(Expr):
    pass


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class Field(Expr):
    obj: Expr
    name: str


@dataclass(frozen=True)
class Query(Expr):
    """`b in SET [where COND]` as a call argument: a filtered branch set."""

    var: str
    source: Expr
    where: Expr | None


@dataclass(frozen=True)
class Generator(Expr):
    """`EXPR for b in SET [where COND]` as a call argument: values per branch."""

    value: Expr
    var: str
    source: Expr
    where: Expr | None


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]


UnaryOp = Literal["-", "not"]
BinOp = Literal["+", "-", "*", "/", "//", "%"]
CmpOp = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Unary(Expr):
    op: UnaryOp
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: BinOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: CmpOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    op: Literal["and", "or"]
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Cond(Expr):
    """`test ? then : other`"""

    test: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class Coalesce(Expr):
    """`left ?? right`: left unless it is `none`."""

    left: Expr
    right: Expr


# ------------------------------------------------------------------ statements


@dataclass(frozen=True)
class Stmt:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Let(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class AssignVar(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class AssignField(Stmt):
    var: str
    name: str
    value: Expr


@dataclass(frozen=True)
class CallStmt(Stmt):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class If(Stmt):
    arms: tuple[tuple[Expr, tuple[Stmt, ...]], ...]  # (condition, body) for if/elif
    orelse: tuple[Stmt, ...] | None
    rule: str | None = None  # set for `rule NAME: when ... do ...`


@dataclass(frozen=True)
class SortKey:
    key: Expr
    descending: bool


@dataclass(frozen=True)
class LoopHead:
    var: str
    source: Expr
    where: Expr | None
    order: tuple[SortKey, ...]
    limit: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class For(Stmt):
    head: LoopHead
    body: tuple[Stmt, ...]
    rule: str | None = None  # set for `rule NAME: for ... do ...`


@dataclass(frozen=True)
class Repeat(Stmt):
    count: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Spawn(Stmt):
    count: Expr


@dataclass(frozen=True)
class ReadFull(Stmt):
    count: Expr


@dataclass(frozen=True)
class Step(Stmt):
    branch: Expr
    times: Expr | None


@dataclass(frozen=True)
class Prune(Stmt):
    branch: Expr


@dataclass(frozen=True)
class Answer(Stmt):
    value: Expr


@dataclass(frozen=True)
class StopLoop(Stmt):
    pass


ACTIONS = (Spawn, ReadFull, Step, Prune, Answer, StopLoop)

# ---------------------------------------------------------------- declarations

Direction = Literal["up", "down", "const"]


@dataclass(frozen=True)
class TypeRef:
    name: str
    size: Expr | None = None  # window(size)
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Knob:
    name: str
    type: str
    direction: Direction
    expr: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Limit:
    name: str
    expr: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class VarDecl:
    name: str
    type: TypeRef
    init: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Block:
    body: tuple[Stmt, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
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
