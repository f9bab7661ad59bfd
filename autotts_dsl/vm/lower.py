"""Lowering: a checked program becomes VM code (`opcodes.py`) plus a layout.

The code does not depend on β or `--param`s: every value that does (knobs,
params, limits, initial values, and every constant sub-expression of the
body, such as `1 - ema_alpha` or `max(1, warm_up // 2)`) lives in a constant
register whose value the reference compiler computes per β (`consts.py`).
So one lowering serves every β, and folding and rounding are the
reference's.

Values: scalars live in int64 registers (ints, bools, answers, branches) or
float64 registers; branch sets and answer lists are rows (a row id known
here plus a length register); a tally (`votes`) is an answers row, a
weights row and a size register. Each site gets its own registers and rows,
so a `let` keeps its value until the site runs again.

The lowering assumes a program the reference compiler accepted (it does not
re-check types); it raises `Unsupported` for the few constructs it does not
translate, and those programs run on the reference interpreter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Literal

from .. import ast
from ..builtins import FIELDS_BY_NAME, Builtin, overloads, resolve_overload
from ..records import record
from ..types import DECLARABLE, NUMERIC, T, unify_numeric
from .opcodes import (
    HEADER_FIELDS,
    OPCODE,
    OPERANDS,
    SET_KINDS,
    SPECIAL_REGS,
    SPECIAL_ROWS,
)

ConstKind = Literal["lit", "beta", "knob", "param", "expr", "limit", "state", "field", "wcap"]
Bank = Literal["i", "f"]


class Unsupported(Exception):
    """A construct the VM does not translate (the program runs on the reference)."""


@record
class Reg:
    bank: Bank
    index: int
    const: bool = False  # a constant register (relocated before the temporaries)


@record
class ConstSlot:
    """A constant register; its value is computed per β (`consts.py`)."""

    bank: Bank
    kind: ConstKind
    name: str = ""
    expr: ast.Expr | None = None
    value: int | float = 0  # for literals
    type: T = T.INT


@record
class Scalar:
    reg: Reg
    type: T


@record
class Seq:
    """A branch set or an answer list: the first `n` entries of an int row."""

    row: int
    n: Reg
    type: T


@record
class Tally:
    keys: int
    weights: int
    n: Reg


@record
class Window:
    index: int


Value = Scalar | Seq | Tally | Window


Instr = tuple[str, tuple[object, ...]]
"""An instruction as lowered: its name and operands (labels unresolved)."""


def _field_gather(kv: Scalar, code: list[Instr], b: Reg) -> tuple[str, int] | None:
    """("KEYR" | "KEYQ", field row) when a sort key's code is one load of a
    field of the loop's branch `b`, else None."""
    if len(code) != 1 or code[0][0] not in ("LDR", "LDQ"):
        return None
    name, (dst, row, of) = code[0]  # both load `dst = row[of]`
    if not (isinstance(row, int) and dst == kv.reg and of == b):
        return None
    if name == "LDR" and kv.type is T.FLOAT:
        return None
    return ("KEYQ" if name == "LDQ" else "KEYR"), row


@record(frozen=False)
class Label:
    at: int = -1


@record(frozen=False)
class Layout:
    """What the VM needs besides the code; `header()` packs it for the C side."""

    consts: list[ConstSlot] = field(default_factory=list)
    n_iregs: int = len(SPECIAL_REGS)
    n_fregs: int = 0
    n_irows: int = len(SPECIAL_ROWS)
    n_frows: int = 0
    windows: list[tuple[str, Reg]] = field(default_factory=list)  # name, capacity
    int_fields: list[tuple[str, int, Reg]] = field(default_factory=list)  # name, row, init
    float_fields: list[tuple[str, int, Reg]] = field(default_factory=list)
    limits: dict[str, Reg] = field(default_factory=dict)
    has_round: bool = False

    def n_consts(self, bank: Bank) -> int:
        return sum(1 for c in self.consts if c.bank == bank)


_SPECIAL = {name: Reg("i", n) for n, name in enumerate(SPECIAL_REGS)}
_ROW = {name: n for n, name in enumerate(SPECIAL_ROWS)}
_LITERALS = (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.NoneLit)
_BRANCH_FIELD_ROWS = {
    "answer": "LATEST",
    "reads": "READS",
    "spent": "SPENT",
    "finished": "FIN",
    "pruned": "PRU",
}
_INT_KINDS = (T.INT, T.BOOL, T.ANSWER, T.NONE, T.BRANCH)
_BIN_OPS = {"+": "ADD", "-": "SUB", "*": "MUL", "//": "FLOORDIV", "%": "MOD"}
_CMP_OPS = {"<": ("LT", False), "<=": ("LE", False), ">": ("LT", True), ">=": ("LE", True)}

_Scope = list[dict[str, Value]]


class Lowering:
    def __init__(self, program: ast.Program) -> None:
        self.program = program
        self.layout = Layout()
        self.code: list[Instr] = []
        self.globals: dict[str, Value] = {
            "beta": Scalar(self.const("f", "beta"), T.FLOAT),
        }
        self.final_label = Label()
        # Registers a statement can change after a `let` read them: state
        # variables and the episode counters (a `let` copies those). Every other
        # value lives in a register of its own site, rewritten only when the site
        # runs again, which binds the `let` anew.
        self.mutable: set[Reg] = set(_SPECIAL.values())

    # -- registers, rows, constants ------------------------------------------------

    def const(
        self,
        bank: Bank,
        kind: ConstKind,
        name: str = "",
        expr: ast.Expr | None = None,
        value: int | float = 0,
        typ: T = T.INT,
    ) -> Reg:
        index = self.layout.n_consts(bank)
        self.layout.consts.append(ConstSlot(bank, kind, name, expr, value, typ))
        return Reg(bank, index, const=True)

    def ireg(self) -> Reg:
        self.layout.n_iregs += 1
        return Reg("i", self.layout.n_iregs - 1)

    def freg(self) -> Reg:
        self.layout.n_fregs += 1
        return Reg("f", self.layout.n_fregs - 1)

    def reg_for(self, typ: T) -> Reg:
        return self.freg() if typ is T.FLOAT else self.ireg()

    def irow(self) -> int:
        self.layout.n_irows += 1
        return self.layout.n_irows - 1

    def frow(self) -> int:
        self.layout.n_frows += 1
        return self.layout.n_frows - 1

    def emit(self, name: str, *operands: object) -> None:
        assert len(operands) == len(OPERANDS[name]), name
        self.code.append((name, operands))

    def place(self, label: Label) -> None:
        label.at = len(self.code)
        self.code.append(("LABEL", (label,)))

    def seti(self, value: int) -> Reg:
        r = self.ireg()
        self.emit("SETI", r, value)
        return r

    # -- types of constant expressions ---------------------------------------------

    @staticmethod
    def lookup(scope: _Scope, name: str) -> Value | None:
        for names in reversed(scope):
            if name in names:
                return names[name]
        return None

    def is_const(self, e: ast.Expr, scope: _Scope) -> bool:
        """Folded to a constant by the reference compiler (a subset of what it folds)."""
        if isinstance(e, _LITERALS):
            return True
        if isinstance(e, ast.Name):
            v = self.lookup(scope, e.id)
            return isinstance(v, Scalar) and v.reg.const
        if isinstance(e, ast.Unary):
            return self.is_const(e.operand, scope)
        if isinstance(e, (ast.Binary, ast.Compare, ast.BoolOp)):
            return self.is_const(e.left, scope) and self.is_const(e.right, scope)
        if isinstance(e, ast.Cond):
            return all(self.is_const(x, scope) for x in (e.test, e.then, e.other))
        if isinstance(e, ast.Call):
            rows = [r for r in overloads(e.func) if r.schedule]
            return bool(rows) and all(self.is_const(a, scope) for a in e.args)
        return False

    def const_type(self, e: ast.Expr, scope: _Scope) -> T:
        """The type of an expression `is_const` accepted."""
        if isinstance(e, ast.IntLit):
            return T.INT
        if isinstance(e, ast.FloatLit):
            return T.FLOAT
        if isinstance(e, ast.BoolLit):
            return T.BOOL
        if isinstance(e, ast.NoneLit):
            return T.NONE
        if isinstance(e, ast.Name):
            v = self.lookup(scope, e.id)
            assert isinstance(v, Scalar)
            return v.type
        if isinstance(e, ast.Unary):
            return T.BOOL if e.op == "not" else self.const_type(e.operand, scope)
        if isinstance(e, ast.Binary):
            lt, rt = self.const_type(e.left, scope), self.const_type(e.right, scope)
            return T.FLOAT if e.op == "/" else unify_numeric(lt, rt)
        if isinstance(e, (ast.Compare, ast.BoolOp)):
            return T.BOOL
        if isinstance(e, ast.Cond):
            at, bt = self.const_type(e.then, scope), self.const_type(e.other, scope)
            if at in NUMERIC and bt in NUMERIC:
                return unify_numeric(at, bt)
            return T.ANSWER if T.NONE in (at, bt) and at is not bt else at
        assert isinstance(e, ast.Call)
        types = [self.const_type(a, scope) for a in e.args]
        row = resolve_overload([r for r in overloads(e.func) if r.schedule], types)
        if row is None:
            raise Unsupported(f"builtin `{e.func}`")
        if row.int_preserving and all(t is T.INT for t in types):
            return T.INT
        return row.result

    # -- declarations ----------------------------------------------------------------

    def declarations(self) -> None:
        p = self.program
        for prm in p.params:
            typ = DECLARABLE[prm.type]
            self.globals[prm.name] = Scalar(self.typed_const(typ, "param", prm.name), typ)
        for k in p.knobs:
            typ = DECLARABLE[k.type]
            self.globals[k.name] = Scalar(self.typed_const(typ, "knob", k.name), typ)
        lay = self.layout
        for name in ("max_branches", "max_rounds", "fuel"):
            lay.limits[name] = self.const("i", "limit", name)
        for d in p.state:
            if d.type.name == "window":
                cap = self.const("i", "wcap", d.name)
                self.globals[d.name] = Window(len(lay.windows))
                lay.windows.append((d.name, cap))
                continue
            typ = DECLARABLE[d.type.name]
            reg = self.reg_for(typ)
            self.mutable.add(reg)
            self.globals[d.name] = Scalar(reg, typ)
        for d in p.branch_fields:
            typ = DECLARABLE[d.type.name]
            init = self.typed_const(typ, "field", d.name)
            if typ is T.FLOAT:
                lay.float_fields.append((d.name, self.frow(), init))
            else:
                lay.int_fields.append((d.name, self.irow(), init))

    def typed_const(
        self, typ: T, kind: ConstKind, name: str = "", expr: ast.Expr | None = None
    ) -> Reg:
        return self.const("f" if typ is T.FLOAT else "i", kind, name, expr, typ=typ)

    def prologue(self) -> None:
        """Per episode: state variables to their initial values, windows emptied."""
        for d in self.program.state:
            v = self.globals[d.name]
            if isinstance(v, Window):
                self.emit("WCLEAR", v.index)
            else:
                assert isinstance(v, Scalar)
                init = self.typed_const(v.type, "state", d.name)
                self.emit("MOV_F" if v.type is T.FLOAT else "MOV_I", v.reg, init)

    # -- expressions -----------------------------------------------------------------

    def expr(self, e: ast.Expr, scope: _Scope) -> Value:
        if not isinstance(e, _LITERALS) and self.is_const(e, scope):
            if isinstance(e, ast.Name):
                v = self.lookup(scope, e.id)
                assert v is not None
                return v
            typ = self.const_type(e, scope)
            store = T.ANSWER if typ is T.NONE else typ
            return Scalar(self.typed_const(store, "expr", expr=e), typ)
        method: Callable[[ast.Expr, _Scope], Value] = getattr(self, "expr_" + type(e).__name__)
        return method(e, scope)

    def scalar(self, e: ast.Expr, scope: _Scope) -> Scalar:
        v = self.expr(e, scope)
        if not isinstance(v, Scalar):
            raise Unsupported(f"a {type(v).__name__} where a value is needed")
        return v

    def as_float(self, v: Scalar) -> Reg:
        if v.type is T.FLOAT:
            return v.reg
        r = self.freg()
        self.emit("I2F", r, v.reg)
        return r

    def as_exact_float(self, v: Scalar) -> Reg:
        if v.type is T.FLOAT:
            return v.reg
        r = self.freg()
        self.emit("I2FX", r, v.reg)
        return r

    def expr_IntLit(self, e: ast.IntLit, scope: _Scope) -> Value:
        if not -(2**63) <= e.value < 2**63:
            raise Unsupported("an integer literal beyond 64 bits")
        return Scalar(self.const("i", "lit", value=e.value), T.INT)

    def expr_FloatLit(self, e: ast.FloatLit, scope: _Scope) -> Value:
        if not math.isfinite(e.value):
            raise Unsupported("a float literal that overflows")
        return Scalar(self.const("f", "lit", value=e.value, typ=T.FLOAT), T.FLOAT)

    def expr_BoolLit(self, e: ast.BoolLit, scope: _Scope) -> Value:
        return Scalar(self.const("i", "lit", value=int(e.value), typ=T.BOOL), T.BOOL)

    def expr_NoneLit(self, e: ast.NoneLit, scope: _Scope) -> Value:
        return Scalar(self.const("i", "lit", value=-1, typ=T.ANSWER), T.NONE)

    def expr_Name(self, e: ast.Name, scope: _Scope) -> Value:
        v = self.lookup(scope, e.id)
        if v is not None:
            return v
        if e.id == "round":
            return Scalar(_SPECIAL["RND"], T.INT)
        if e.id == "spawned":
            return Scalar(_SPECIAL["OPENED"], T.INT)
        if e.id == "cost":
            return Scalar(_SPECIAL["COST"], T.INT)
        if e.id == "remaining":
            r = self.ireg()
            self.emit("SUB_I", r, _SPECIAL["NB"], _SPECIAL["OPENED"])
            return Scalar(r, T.INT)
        if e.id == "completed":
            return Seq(_ROW["COMP"], _SPECIAL["NCOMP"], T.ANSWERS)
        if e.id in SET_KINDS:
            row, n = self.irow(), self.ireg()
            self.emit("COLLECT", SET_KINDS.index(e.id), row, n)
            return Seq(row, n, T.SET)
        raise Unsupported(f"name `{e.id}`")

    def expr_Field(self, e: ast.Field, scope: _Scope) -> Value:
        b = self.scalar(e.obj, scope)
        lay = self.layout
        for name, row, _ in lay.int_fields:
            if name == e.name:
                r = self.ireg()
                self.emit("LDR", r, row, b.reg)
                return Scalar(r, self.field_type(name))
        for name, row, _ in lay.float_fields:
            if name == e.name:
                f = self.freg()
                self.emit("LDQ", f, row, b.reg)
                return Scalar(f, T.FLOAT)
        if e.name == "index":
            return Scalar(b.reg, T.INT)
        r = self.ireg()
        self.emit("LDR", r, _ROW[_BRANCH_FIELD_ROWS[e.name]], b.reg)
        return Scalar(r, FIELDS_BY_NAME[e.name].type)

    def field_type(self, name: str) -> T:
        d = next(d for d in self.program.branch_fields if d.name == name)
        return DECLARABLE[d.type.name]

    def expr_Unary(self, e: ast.Unary, scope: _Scope) -> Value:
        v = self.scalar(e.operand, scope)
        if e.op == "not":
            r = self.ireg()
            self.emit("NOT", r, v.reg)
            return Scalar(r, T.BOOL)
        if v.type is T.FLOAT:
            f = self.freg()
            self.emit("NEG_F", f, v.reg)
            return Scalar(f, T.FLOAT)
        r = self.ireg()
        self.emit("NEG_I", r, v.reg)
        return Scalar(r, v.type)

    def expr_Binary(self, e: ast.Binary, scope: _Scope) -> Value:
        a = self.scalar(e.left, scope)
        b = self.scalar(e.right, scope)
        if e.op == "/":
            f = self.freg()
            if a.type is T.FLOAT or b.type is T.FLOAT:
                self.emit("DIV_F", f, self.as_float(a), self.as_float(b))
            else:
                self.emit("TDIV_I", f, a.reg, b.reg)
            return Scalar(f, T.FLOAT)
        op = _BIN_OPS[e.op]
        if a.type is T.FLOAT or b.type is T.FLOAT:
            f = self.freg()
            self.emit(op + "_F", f, self.as_float(a), self.as_float(b))
            return Scalar(f, T.FLOAT)
        r = self.ireg()
        self.emit(op + "_I", r, a.reg, b.reg)
        return Scalar(r, T.INT)

    def comparison(self, e: ast.Compare, scope: _Scope) -> tuple[str, Reg, Reg]:
        """`e`'s operands, ordered so that it reads `a OP b` with OP one of
        LT, LE, EQ, NE and a bank suffix (`>` is `<` with the operands swapped)."""
        a = self.scalar(e.left, scope)
        b = self.scalar(e.right, scope)
        if e.op in ("==", "!="):
            name, swap = ("EQ" if e.op == "==" else "NE"), False
        else:
            name, swap = _CMP_OPS[e.op]
        if swap:
            a, b = b, a
        if a.type is T.FLOAT or b.type is T.FLOAT:
            return name + "_F", self.as_exact_float(a), self.as_exact_float(b)
        return name + "_I", a.reg, b.reg

    def expr_Compare(self, e: ast.Compare, scope: _Scope) -> Value:
        op, a, b = self.comparison(e, scope)
        r = self.ireg()
        self.emit(op, r, a, b)
        return Scalar(r, T.BOOL)

    def jump_if(self, e: ast.Expr, when: bool, to: Label, scope: _Scope) -> None:
        """Jump to `to` when the bool `e` is `when`, else fall through; `and`
        and `or` short-circuit as jumps, comparisons fuse with the branch."""
        if not self.is_const(e, scope):
            if isinstance(e, ast.BoolOp):
                if (e.op == "and") != when:  # `and` to false, `or` to true: either side
                    self.jump_if(e.left, when, to, scope)
                    self.jump_if(e.right, when, to, scope)
                else:  # both sides must hold: the left one failing skips the right
                    skip = Label()
                    self.jump_if(e.left, not when, skip, scope)
                    self.jump_if(e.right, when, to, scope)
                    self.place(skip)
                return
            if isinstance(e, ast.Unary) and e.op == "not":
                self.jump_if(e.operand, not when, to, scope)
                return
            if isinstance(e, ast.Compare):
                op, a, b = self.comparison(e, scope)
                self.emit(("JT_" if when else "JF_") + op, a, b, to)
                return
        v = self.scalar(e, scope)
        self.emit("JNZ" if when else "JZ", v.reg, to)

    def expr_BoolOp(self, e: ast.BoolOp, scope: _Scope) -> Value:
        r = self.ireg()
        end = Label()
        self.emit("SETI", r, 0)
        self.jump_if(e, False, end, scope)
        self.emit("SETI", r, 1)
        self.place(end)
        return Scalar(r, T.BOOL)

    def expr_Cond(self, e: ast.Cond, scope: _Scope) -> Value:
        other_label, end = Label(), Label()
        self.jump_if(e.test, False, other_label, scope)
        mark = len(self.code)
        a = self.expr(e.then, scope)
        if not isinstance(a, Scalar):
            raise Unsupported("`? :` over sets, lists or tallies")
        # The result type needs both arms; lower the first arm into a buffer.
        then_code = self.code[mark:]
        del self.code[mark:]
        b_mark = len(self.code)
        b = self.expr(e.other, scope)
        if not isinstance(b, Scalar):
            raise Unsupported("`? :` over sets, lists or tallies")
        other_code = self.code[b_mark:]
        del self.code[b_mark:]
        if a.type in NUMERIC and b.type in NUMERIC:
            typ = unify_numeric(a.type, b.type)
        elif a.type in (T.ANSWER, T.NONE) and b.type in (T.ANSWER, T.NONE):
            typ = T.NONE if a.type is b.type is T.NONE else T.ANSWER
        elif a.type is b.type and a.type in (T.BOOL, T.BRANCH):
            typ = a.type
        else:
            raise Unsupported(f"`? :` over {a.type} values")
        r = self.reg_for(typ)
        self.code.extend(then_code)
        self.move(r, a, typ)
        self.emit("JMP", end)
        self.place(other_label)
        self.code.extend(other_code)
        self.move(r, b, typ)
        self.place(end)
        return Scalar(r, typ)

    def move(self, dst: Reg, v: Scalar, typ: T) -> None:
        if typ is T.FLOAT:
            self.emit("MOV_F", dst, self.as_float(v))
        else:
            self.emit("MOV_I", dst, v.reg)

    def expr_Coalesce(self, e: ast.Coalesce, scope: _Scope) -> Value:
        r = self.ireg()
        end = Label()
        a = self.scalar(e.left, scope)
        self.emit("MOV_I", r, a.reg)
        self.emit("JSOME", r, end)
        b = self.scalar(e.right, scope)
        self.emit("MOV_I", r, b.reg)
        self.place(end)
        return Scalar(r, T.ANSWER)

    # -- branch sets -----------------------------------------------------------------

    def selection(
        self, var: str, source: ast.Expr, where: ast.Expr | None, scope: _Scope
    ) -> tuple[Seq, dict[str, Value]]:
        """`var in source where cond` as a fresh row (a snapshot, set order kept),
        and the scope binding `var` for expressions over it."""
        src = self.expr(source, scope)
        if not isinstance(src, Seq) or src.type is not T.SET:
            raise Unsupported("iteration over something other than a branch set")
        fresh = isinstance(source, ast.Name) and source.id in SET_KINDS
        if fresh:
            sel = src
        else:
            sel = Seq(self.irow(), self.ireg(), T.SET)
            self.emit("COPY_ROW", sel.row, src.row, src.n)
            self.emit("MOV_I", sel.n, src.n)
        b = self.ireg()
        names: dict[str, Value] = {var: Scalar(b, T.BRANCH)}
        if where is not None:
            kept = self.seti(0)

            def keep() -> None:  # in place: the kept prefix never passes the cursor
                skip = Label()
                self.jump_if(where, False, skip, [*scope, names])
                self.emit("STR", sel.row, kept, b)
                self.emit("INC", kept)
                self.place(skip)

            self.each(sel, b, keep)
            self.emit("MOV_I", sel.n, kept)
        return sel, names

    def each(
        self,
        sel: Seq,
        b: Reg,
        body: Callable[[], None],
        idx: Reg | None = None,
        *,
        burn: bool = False,
    ) -> None:
        """Run `body` with `b` bound to each entry of `sel` in order and `idx`
        holding its position. The test sits at the bottom (one dispatch per
        iteration): jump to it, and it jumps back while entries remain. With
        `burn`, each iteration uses a unit of fuel as it starts (LOOPB: the
        top of the body is entered only from the test)."""
        idx = idx if idx is not None else self.ireg()
        self.emit("SETI", idx, -1)
        top, test = Label(), Label()
        self.emit("JMP", test)
        self.place(top)
        body()
        self.place(test)
        self.emit("LOOPB" if burn else "LOOP", sel.row, sel.n, idx, b, top)

    def field_key(self, key: ast.Expr, scope: _Scope) -> tuple[Scalar, list[Instr]]:
        """The key of one branch, lowered aside: its value and its code."""
        mark = len(self.code)
        kv = self.scalar(key, scope)
        code = self.code[mark:]
        del self.code[mark:]
        return kv, code

    def expr_Query(self, e: ast.Query, scope: _Scope) -> Value:
        sel, _ = self.selection(e.var, e.source, e.where, scope)
        return sel

    def expr_Generator(self, e: ast.Generator, scope: _Scope) -> Value:
        raise Unsupported("a generator outside an aggregate")

    def generator_rows(
        self, g: ast.Generator, scope: _Scope, keyed: bool, as_float: bool = False
    ) -> tuple[Seq, int, T, int]:
        """A generator's values in a row (float row when they are floats or
        `as_float`); with `keyed`, each branch's answer in an int row.
        Returns (selection, value row, element type, answers row)."""
        sel, names = self.selection(g.var, g.source, g.where, scope)
        b = names[g.var]
        assert isinstance(b, Scalar)
        idx = self.ireg()
        ans_row = self.irow() if keyed else -1
        # Lower the value once to learn its type, into a buffer placed inside the loop.
        mark = len(self.code)
        v = self.scalar(g.value, [*scope, names])
        value_code = self.code[mark:]
        del self.code[mark:]
        floats = v.type is T.FLOAT or as_float
        vrow = self.frow() if floats else self.irow()
        pos = idx

        def body() -> None:
            self.code.extend(value_code)
            if floats:
                self.emit("STQ", vrow, pos, self.as_float(v))
            else:
                self.emit("STR", vrow, pos, v.reg)
            if keyed:
                a = self.ireg()
                self.emit("LDR", a, _ROW["LATEST"], b.reg)
                self.emit("STR", ans_row, pos, a)

        self.each(sel, b.reg, body, idx)
        return sel, vrow, v.type, ans_row

    # -- calls -----------------------------------------------------------------------

    def expr_Call(self, e: ast.Call, scope: _Scope) -> Value:
        rows = overloads(e.func)
        keyed = any(r.branch_keyed for r in rows)
        gens = [a for a in e.args if isinstance(a, ast.Generator)]
        if gens:
            if len(e.args) != 1:
                raise Unsupported("a generator beside other arguments")
            return self.aggregate(e, gens[0], rows, keyed, scope)
        args = [self.expr(a, scope) for a in e.args]
        types = [self.type_of(v) for v in args]
        row = resolve_overload(rows, types)
        if row is None:
            raise Unsupported(f"builtin `{e.func}`")
        return self.call(row, args, types)

    @staticmethod
    def type_of(v: Value) -> T:
        if isinstance(v, Scalar):
            return v.type
        if isinstance(v, Seq):
            return v.type
        if isinstance(v, Tally):
            return T.VOTES
        return T.WINDOW

    def call(self, row: Builtin, args: list[Value], types: Sequence[T]) -> Value:
        """A builtin on evaluated arguments, as its row's `vm` field says."""
        if not row.vm:
            raise Unsupported(f"builtin `{row.name}`")
        if row.schedule:
            scalars = [a for a in args if isinstance(a, Scalar)]
            return self.numeric(row, scalars, types)
        if row.vm == "LEN":
            (s,) = args
            assert isinstance(s, Seq)
            return Scalar(s.n, T.INT)
        return self.op_call(row.vm, row.result, args)

    def op_call(self, op: str, result: T, args: Sequence[Value]) -> Value:
        """Emit `op` with its outputs (by `result` type) and then the arguments,
        each spelled as its operand kinds: a set or list as (row, length), a
        tally as (answers row, weights row, size), a window, or a register."""
        kinds = OPERANDS[op]
        operands: list[object] = []
        out: Value | None
        if result in (T.SET, T.ANSWERS):
            out = Seq(self.irow(), self.ireg(), result)
            operands += [out.row, out.n]
        elif result is T.VOTES:
            out = Tally(self.irow(), self.frow(), self.ireg())
            operands += [out.keys, out.weights, out.n]
        elif result is T.VOID:
            out = None
        else:
            out = Scalar(self.reg_for(result), result)
            operands.append(out.reg)
        for a in args:
            if isinstance(a, Seq):
                operands += [a.row, a.n]
            elif isinstance(a, Tally):
                operands += [a.keys, a.weights, a.n]
            elif isinstance(a, Window):
                operands.append(a.index)
            else:
                want = kinds[len(operands)]
                operands.append(self.as_float(a) if want == "f" else a.reg)
        self.emit(op, *operands)
        assert out is not None, op
        return out

    def numeric(self, row: Builtin, args: list[Scalar], types: Sequence[T]) -> Value:
        """The numeric builtins: an int form when every argument is an int and
        the row preserves ints, else the float form (`MIN` -> MIN_I / MIN_F)."""
        op = row.vm
        if op == "RERUN":
            # round(x, n) rounds with exact decimal arithmetic: the reference
            # does it (constant folding covers the schedule uses).
            self.emit("RERUN")
            return Scalar(self.freg(), row.result)
        if op in ("ROUND", "FLOOR", "CEIL") and types == [T.INT]:
            return Scalar(args[0].reg, T.INT)  # exact on ints, as in Python
        if op == "I2F":
            return Scalar(self.as_float(args[0]), T.FLOAT)
        ints = row.int_preserving and all(t is T.INT for t in types)
        if op + "_I" in OPCODE:
            op += "_I" if ints else "_F"
        result = T.INT if ints else row.result
        if op in ("MIN_I", "MAX_I", "MIN_F", "MAX_F"):
            regs = [a.reg if ints else self.as_float(a) for a in args]
            acc = regs[0]  # fold left, like Python's min/max over arguments
            for r in regs[1:]:
                out = self.reg_for(result)
                self.emit(op, out, acc, r)
                acc = out
            return Scalar(acc, result)
        if not ints:
            args = [Scalar(self.as_float(a), T.FLOAT) for a in args]
        return self.op_call(op, result, args)

    def aggregate(
        self, e: ast.Call, g: ast.Generator, rows: Sequence[Builtin], keyed: bool, scope: _Scope
    ) -> Value:
        row = next((r for r in rows if T.GEN in r.params), None)
        if row is None or not row.vm:
            raise Unsupported(f"builtin `{e.func}` over a generator")
        if row.branch_keyed:
            sel, vrow, _, ans_row = self.generator_rows(g, scope, keyed=True, as_float=True)
            t = Tally(self.irow(), self.frow(), self.ireg())
            self.emit(row.vm, t.keys, t.weights, t.n, ans_row, vrow, sel.n)
            return t
        sel, vrow, elem, _ = self.generator_rows(g, scope, keyed=False)
        op = row.vm
        if op + "_I" in OPCODE:
            op += "_F" if elem is T.FLOAT else "_I"
        kinds = OPERANDS[op]
        out = self.freg() if kinds[0] == "f" else self.ireg()
        self.emit(op, out, vrow, sel.n)
        if row.result is T.BOOL:
            return Scalar(out, T.BOOL)
        ints = row.int_preserving and elem is T.INT
        return Scalar(out, T.INT if ints else T.FLOAT)

    # -- statements ------------------------------------------------------------------

    def block(self, stmts: Sequence[ast.Stmt], scope: _Scope) -> None:
        inner: _Scope = [*scope, {}]
        for s in stmts:
            getattr(self, "stmt_" + type(s).__name__)(s, inner)

    def stmt_Let(self, s: ast.Let, scope: _Scope) -> None:
        v = self.expr(s.value, scope)
        # A `let` holds a value: copy what later statements could change.
        if isinstance(v, Scalar):
            if v.reg in self.mutable:
                r = self.reg_for(v.type)
                self.move(r, v, v.type)
                v = Scalar(r, T.ANSWER if v.type is T.NONE else v.type)
        elif isinstance(v, Seq):
            snap = Seq(self.irow(), self.ireg(), v.type)
            self.emit("COPY_ROW", snap.row, v.row, v.n)
            self.emit("MOV_I", snap.n, v.n)
            v = snap
        elif isinstance(v, Tally):
            # A tally's rows belong to its site; a later run of the site is a new binding.
            r = self.ireg()
            self.emit("MOV_I", r, v.n)
            v = Tally(v.keys, v.weights, r)
        else:
            raise Unsupported("a `let` of a window")
        scope[-1][s.name] = v

    def stmt_AssignVar(self, s: ast.AssignVar, scope: _Scope) -> None:
        target = self.lookup(scope, s.name)
        assert isinstance(target, Scalar)
        v = self.scalar(s.value, scope)
        self.move(target.reg, v, target.type)

    def stmt_AssignField(self, s: ast.AssignField, scope: _Scope) -> None:
        b = self.lookup(scope, s.var)
        assert isinstance(b, Scalar)
        v = self.scalar(s.value, scope)
        for name, row, _ in self.layout.int_fields:
            if name == s.name:
                self.emit("STR", row, b.reg, v.reg)
                return
        for name, row, _ in self.layout.float_fields:
            if name == s.name:
                self.emit("STQ", row, b.reg, self.as_float(v))
                return
        raise Unsupported(f"field `{s.name}`")

    def stmt_CallStmt(self, s: ast.CallStmt, scope: _Scope) -> None:
        target = s.args[0]
        w = self.lookup(scope, target.id) if isinstance(target, ast.Name) else None
        if not isinstance(w, Window):
            raise Unsupported(f"`{s.func}` on something other than a state window")
        v = self.scalar(s.args[1], scope)
        row = next(r for r in overloads(s.func) if r.effect)
        self.emit(row.vm, w.index, self.as_float(v))

    def stmt_If(self, s: ast.If, scope: _Scope) -> None:
        end = Label()
        for cond, body in s.arms:
            nxt = Label()
            self.jump_if(cond, False, nxt, scope)
            self.block(body, scope)
            self.emit("JMP", end)
            self.place(nxt)
        if s.orelse is not None:
            self.block(s.orelse, scope)
        self.place(end)

    def stmt_For(self, s: ast.For, scope: _Scope) -> None:
        h = s.head
        sel, names = self.selection(h.var, h.source, h.where, scope)
        b = names[h.var]
        assert isinstance(b, Scalar)
        inner: _Scope = [*scope, names]
        if h.order:
            first = self.layout.n_frows
            key_rows = [self.frow() for _ in h.order]
            idx = pos = self.ireg()
            lowered = [self.field_key(k.key, inner) for k in h.order]
            gathers = [_field_gather(kv, code, b.reg) for kv, code in lowered]

            def keys() -> None:
                for (kv, code), key_row, gather in zip(lowered, key_rows, gathers, strict=True):
                    if gather is not None:
                        continue
                    self.code.extend(code)
                    if kv.type is T.FLOAT:
                        self.emit("STQ", key_row, pos, kv.reg)
                    else:
                        self.emit("KEYI", key_row, pos, kv.reg)

            # `order by b.f` reads a field row: one gathering instruction per
            # key instead of a load and a store per branch
            for key_row, gather in zip(key_rows, gathers, strict=True):
                if gather is not None:
                    op, row = gather
                    self.emit(op, key_row, sel.row, sel.n, row)
            if any(g is None for g in gathers):
                self.each(sel, b.reg, keys, idx)
            desc = sum(1 << n for n, k in enumerate(h.order) if k.descending)
            self.emit("SORT", sel.row, sel.n, first, len(key_rows), desc)
        if h.limit is not None:
            lim = self.scalar(h.limit, scope)
            self.emit("LIMIT", sel.n, lim.reg)
        self.emit("FUEL", sel.n)  # one unit per iteration, checked up front like `repeat`

        self.each(sel, b.reg, lambda: self.block(s.body, inner), burn=True)

    def stmt_Repeat(self, s: ast.Repeat, scope: _Scope) -> None:
        n = self.scalar(s.count, scope)
        self.emit("FUEL", n.reg)
        k = self.seti(0)
        top, end = Label(), Label()
        self.place(top)
        self.emit("JF_LT_I", k, n.reg, end)
        self.emit("INC", k)
        self.emit("BURN")
        self.block(s.body, scope)
        self.emit("JMP", top)
        self.place(end)

    def stmt_Spawn(self, s: ast.Spawn, scope: _Scope) -> None:
        self.emit("SPAWN", self.scalar(s.count, scope).reg)

    def stmt_ReadFull(self, s: ast.ReadFull, scope: _Scope) -> None:
        self.emit("READ_FULL", self.scalar(s.count, scope).reg)

    def stmt_Step(self, s: ast.Step, scope: _Scope) -> None:
        b = self.scalar(s.branch, scope)
        n = self.const("i", "lit", value=1) if s.times is None else self.scalar(s.times, scope).reg
        self.emit("STEP", b.reg, n)

    def stmt_Prune(self, s: ast.Prune, scope: _Scope) -> None:
        self.emit("PRUNE", self.scalar(s.branch, scope).reg)

    def stmt_Answer(self, s: ast.Answer, scope: _Scope) -> None:
        self.emit("ANSWER", self.scalar(s.value, scope).reg)

    def stmt_StopLoop(self, s: ast.StopLoop, scope: _Scope) -> None:
        self.emit("END_BATCH")
        self.emit("JMP", self.final_label)

    # -- the program -----------------------------------------------------------------

    def lower(self) -> None:
        self.declarations()
        self.prologue()
        p = self.program
        if p.init is not None:
            self.block(p.init.body, [self.globals])
        self.emit("END_BATCH")
        if p.round is not None:
            self.layout.has_round = True
            top = Label()
            self.place(top)
            self.emit("ROUND_NEXT", self.final_label)
            self.block(p.round.body, [self.globals])
            self.emit("END_BATCH")
            self.emit("JMP", top)
        self.place(self.final_label)
        if p.final is not None:
            self.block(p.final.body, [self.globals])
        self.emit("RERUN")  # `finally` did not answer: the reference reports it


@record
class Lowered:
    """VM code for one program structure (β- and param-independent)."""

    code: tuple[int, ...]
    layout: Layout
    listing: tuple[str, ...]  # one line per instruction, for `disassemble`


def lower(program: ast.Program) -> Lowered:
    """VM code for `program`; raises `Unsupported` for what it does not translate."""
    lo = Lowering(program)
    lo.lower()
    return _assemble(lo)


def _assemble(lo: Lowering) -> Lowered:
    lay = lo.layout
    n_ci, n_cf = lay.n_consts("i"), lay.n_consts("f")
    n_special = len(SPECIAL_REGS)

    def reg(r: Reg) -> int:
        # Registers: specials, then constants, then temporaries (ints); floats:
        # constants, then temporaries.
        if r.bank == "i":
            if r.const:
                return n_special + r.index
            if r.index < n_special:
                return r.index
            return n_ci + r.index
        return r.index if r.const else n_cf + r.index

    # Offsets of each instruction (labels take no space).
    offsets: list[int] = []
    at = 0
    for name, operands in lo.code:
        offsets.append(at)
        if name != "LABEL":
            at += 1 + len(operands)
    label_at: dict[int, int] = {}
    for k, (name, operands) in enumerate(lo.code):
        if name == "LABEL":
            label = operands[0]
            assert isinstance(label, Label)
            label_at[id(label)] = offsets[k]
    code: list[int] = []
    listing: list[str] = []
    for name, operands in lo.code:
        if name == "LABEL":
            continue
        words: list[int] = []
        for kind, x in zip(OPERANDS[name], operands, strict=True):
            if kind in "if":
                assert isinstance(x, Reg) and x.bank == kind, (name, kind, x)
                words.append(reg(x))
            elif kind == "L":
                assert isinstance(x, Label)
                words.append(label_at[id(x)])
            else:
                assert isinstance(x, int)
                words.append(x)
        listing.append(f"{len(code):5d}  {name:<11} {' '.join(map(str, words))}")
        code.extend([OPCODE[name], *words])
    lay.n_iregs = n_ci + lay.n_iregs
    lay.n_fregs = n_cf + lay.n_fregs
    lo.layout.limits = {k: Reg("i", reg(v)) for k, v in lay.limits.items()}
    lo.layout.windows = [(n, Reg("i", reg(c))) for n, c in lay.windows]
    lo.layout.int_fields = [(n, row, Reg("i", reg(r))) for n, row, r in lay.int_fields]
    lo.layout.float_fields = [(n, row, Reg("f", reg(r))) for n, row, r in lay.float_fields]
    return Lowered(tuple(code), lay, tuple(listing))


def header(lowered: Lowered) -> list[int]:
    """The int64 program header the VM reads (fields of `opcodes.HEADER_FIELDS`,
    then window capacities and field initialisers)."""
    lay = lowered.layout
    values = {
        "N_IREGS": lay.n_iregs,
        "N_FREGS": lay.n_fregs,
        "N_IROWS": lay.n_irows,
        "N_FROWS": lay.n_frows,
        "N_WINDOWS": len(lay.windows),
        "REG_MAXB": lay.limits["max_branches"].index,
        "REG_MAXR": lay.limits["max_rounds"].index,
        "REG_FUEL": lay.limits["fuel"].index,
        "N_IFIELDS": len(lay.int_fields),
        "N_FFIELDS": len(lay.float_fields),
        "HAS_ROUND": int(lay.has_round),
    }
    out = [values[name] for name in HEADER_FIELDS]
    out += [cap.index for _, cap in lay.windows]
    for _, row, init in lay.int_fields:
        out += [row, init.index]
    for _, row, init in lay.float_fields:
        out += [row, init.index]
    return out
