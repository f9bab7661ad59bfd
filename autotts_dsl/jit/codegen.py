"""Code generation: a checked program becomes Python source for one module.

The module has two functions. `episode(...)` runs one episode with the same
semantics as `interpreter.run_episode` on flat arrays; `run_cell(...)` runs
every (seed, question) episode of a store and returns one row per episode.
Everything that depends on β (knobs, params, limits, initial values, and
every constant sub-expression of the body) is read from two arrays, `CI`
and `CF`, so one compiled module serves every β: the constants are computed
per β by the reference compiler (`backend.constants`), never re-derived here.

Control flow: each block runs inside a one-shot `while True:` loop, so
`answer` and `stop` become "set `_ctl`, break"; after every user loop a
check propagates the break outwards.

The generator assumes a program the reference compiler has accepted (it
does not re-check types), and raises `Unsupported` for the few constructs
it does not translate; those programs run on the reference interpreter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from .. import ast
from ..builtins import FIELDS_BY_NAME, VALUES_BY_NAME, Builtin, overloads, resolve_overload
from ..types import DECLARABLE, NUMERIC, T, unify_numeric

ConstKind = Literal["beta", "knob", "param", "expr", "limit", "state", "field", "wcap"]


class Unsupported(Exception):
    """A construct the compiled backend does not translate."""


@dataclass(frozen=True)
class ConstSlot:
    """One entry of the constant banks, computed per β by the backend."""

    bank: Literal["i", "f"]
    index: int
    kind: ConstKind
    name: str = ""
    expr: ast.Expr | None = None
    type: T = T.INT


@dataclass
class Var:
    kind: Literal["const", "state", "window", "local", "branch"]
    type: T
    code: str
    window: int = -1


@dataclass
class Layout:
    """What the generated module needs from the backend at run time."""

    consts: list[ConstSlot] = field(default_factory=list)
    n_int_rows: int = 0  # int64 workspace rows (branch sets, answer lists, keys)
    n_float_rows: int = 0  # float64 workspace rows (generator values, weights, sort keys)
    n_mark_rows: int = 0  # vote markers, one row per `votes(...)` site
    windows: list[str] = field(default_factory=list)
    fields: list[tuple[str, T]] = field(default_factory=list)

    @property
    def n_int(self) -> int:
        return sum(1 for c in self.consts if c.bank == "i")

    @property
    def n_float(self) -> int:
        return sum(1 for c in self.consts if c.bank == "f")


_Scope = list[dict[str, Var]]

_LITERALS = (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.NoneLit)

_SET_FILTERS = {
    "opened": "",
    "running": "not fin[{j}] and not pru[{j}]",
    "alive": "not pru[{j}]",
    "finished": "fin[{j}] and not pru[{j}]",
    "pruned": "pru[{j}]",
}

_INT_OPS = {"+": "k_iadd", "-": "k_isub", "*": "k_imul", "//": "k_ifloordiv", "%": "k_imod"}

_DTYPE = {T.INT: "np.int64", T.FLOAT: "np.float64", T.BOOL: "np.bool_", T.ANSWER: "np.int64"}


def at(row: str, index: str) -> str:
    """Element `index` of a workspace row `WI[k]`, as one 2-D index."""
    return f"{row[:-1]}, {index}]"


def upto(row: str, n: str) -> str:
    """The first `n` entries of a workspace row, as one 2-D slice."""
    return f"{row[:-1]}, :{n}]"


class Emitter:
    """Indented Python source lines."""

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.level + text)

    @contextmanager
    def indented(self, header: str) -> Iterator[None]:
        self.emit(header)
        self.level += 1
        before = len(self.lines)
        yield
        if len(self.lines) == before:
            self.emit("pass")
        self.level -= 1

    def sub(self) -> Emitter:
        return Emitter(self.level)

    def splice(self, other: Emitter) -> None:
        self.lines.extend(other.lines)


class CodeGen:
    def __init__(self, program: ast.Program) -> None:
        self.program = program
        self.layout = Layout()
        self.field_inits: dict[str, str] = {}
        self.n_tmp = 0
        self.dry = 0  # > 0 while typing a constant expression (no hoisting, no slots)
        self.globals: dict[str, Var] = {"beta": Var("const", T.FLOAT, self.slot("f", "beta"))}

    # -- bookkeeping ---------------------------------------------------------------

    def slot(
        self,
        bank: Literal["i", "f"],
        kind: ConstKind,
        name: str = "",
        expr: ast.Expr | None = None,
        typ: T = T.INT,
    ) -> str:
        index = sum(1 for c in self.layout.consts if c.bank == bank)
        self.layout.consts.append(ConstSlot(bank, index, kind, name, expr, typ))
        return f"C{bank.upper()}[{index}]"

    def const_code(
        self, bank_type: T, kind: ConstKind, name: str = "", expr: ast.Expr | None = None
    ) -> str:
        if bank_type is T.FLOAT:
            return self.slot("f", kind, name, expr, T.FLOAT)
        code = self.slot("i", kind, name, expr, bank_type)
        return f"({code} != 0)" if bank_type is T.BOOL else code

    def tmp(self, stem: str = "t") -> str:
        self.n_tmp += 1
        return f"_{stem}{self.n_tmp}"

    def int_row(self) -> str:
        self.layout.n_int_rows += 1
        return f"WI[{self.layout.n_int_rows - 1}]"

    def float_row(self) -> str:
        self.layout.n_float_rows += 1
        return f"WF[{self.layout.n_float_rows - 1}]"

    def mark_row(self) -> str:
        self.layout.n_mark_rows += 1
        return f"VM[{self.layout.n_mark_rows - 1}]"

    @staticmethod
    def lookup(scope: _Scope, name: str) -> Var | None:
        for names in reversed(scope):
            if name in names:
                return names[name]
        return None

    # -- declarations -----------------------------------------------------------------

    def declarations(self) -> None:
        p = self.program
        for prm in p.params:
            typ = DECLARABLE[prm.type]
            self.globals[prm.name] = Var("const", typ, self.const_code(typ, "param", prm.name))
        for k in p.knobs:
            typ = DECLARABLE[k.type]
            self.globals[k.name] = Var("const", typ, self.const_code(typ, "knob", k.name))
        for d in p.state:
            if d.type.name == "window":
                w = len(self.layout.windows)
                self.layout.windows.append(d.name)
                self.globals[d.name] = Var("window", T.WINDOW, f"wb{w}", window=w)
                continue
            typ = DECLARABLE[d.type.name]
            self.globals[d.name] = Var("state", typ, f"s_{d.name}")
        for d in p.branch_fields:
            self.layout.fields.append((d.name, DECLARABLE[d.type.name]))

    # -- constants ----------------------------------------------------------------------

    def is_const(self, e: ast.Expr, scope: _Scope) -> bool:
        """Folded to a constant by the reference compiler (a subset of what it folds)."""
        if isinstance(e, _LITERALS):
            return True
        if isinstance(e, ast.Name):
            v = self.lookup(scope, e.id)
            return v is not None and v.kind == "const"
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

    # -- expressions ----------------------------------------------------------------------

    def expr(self, e: ast.Expr, scope: _Scope, em: Emitter) -> tuple[str, T]:
        if not self.dry and not isinstance(e, _LITERALS) and self.is_const(e, scope):
            self.dry += 1
            try:
                _, typ = self.expr(e, scope, Emitter())
            finally:
                self.dry -= 1
            if isinstance(e, ast.Name):
                v = self.lookup(scope, e.id)
                assert v is not None
                return v.code, v.type
            bank = T.FLOAT if typ is T.FLOAT else typ
            return self.const_code(bank, "expr", expr=e), typ
        method: Callable[[ast.Expr, _Scope, Emitter], tuple[str, T]] = getattr(
            self, "expr_" + type(e).__name__
        )
        return method(e, scope, em)

    def expr_IntLit(self, e: ast.IntLit, scope: _Scope, em: Emitter) -> tuple[str, T]:
        if not -(2**62) < e.value < 2**62:
            raise Unsupported("an integer literal beyond 64 bits")
        return repr(e.value), T.INT

    def expr_FloatLit(self, e: ast.FloatLit, scope: _Scope, em: Emitter) -> tuple[str, T]:
        if not math.isfinite(e.value):
            raise Unsupported("a float literal that overflows")
        return repr(e.value), T.FLOAT

    def expr_BoolLit(self, e: ast.BoolLit, scope: _Scope, em: Emitter) -> tuple[str, T]:
        return repr(e.value), T.BOOL

    def expr_NoneLit(self, e: ast.NoneLit, scope: _Scope, em: Emitter) -> tuple[str, T]:
        return "-1", T.NONE

    def expr_Name(self, e: ast.Name, scope: _Scope, em: Emitter) -> tuple[str, T]:
        v = self.lookup(scope, e.id)
        if v is not None:
            if v.kind == "window":
                raise Unsupported("a window used as a value")
            return v.code, v.type
        builtin = {
            "round": "rnd",
            "spawned": "opened",
            "cost": "cost",
            "remaining": "(nb - opened)",
            "completed": "comp[:ncomp]",
        }
        if e.id in builtin:
            return builtin[e.id], VALUES_BY_NAME[e.id].type
        if e.id in _SET_FILTERS:
            return self.materialize(e, scope, em), T.SET
        raise Unsupported(f"name `{e.id}`")

    def expr_Field(self, e: ast.Field, scope: _Scope, em: Emitter) -> tuple[str, T]:
        obj, _ = self.expr(e.obj, scope, em)
        for k, (name, typ) in enumerate(self.layout.fields):
            if name == e.name:
                return f"f{k}[{obj}]", typ
        reads = {
            "answer": "latest[{}]",
            "reads": "reads[{}]",
            "spent": "spent[{}]",
            "index": "{}",
            "finished": "fin[{}]",
            "pruned": "pru[{}]",
        }
        return reads[e.name].format(obj), FIELDS_BY_NAME[e.name].type

    def expr_Unary(self, e: ast.Unary, scope: _Scope, em: Emitter) -> tuple[str, T]:
        code, t = self.expr(e.operand, scope, em)
        if e.op == "not":
            return f"(not {code})", T.BOOL
        if t is T.INT:
            return f"k_ineg({code})", t
        return f"(-{code})", t

    def expr_Binary(self, e: ast.Binary, scope: _Scope, em: Emitter) -> tuple[str, T]:
        lc, lt = self.expr(e.left, scope, em)
        rc, rt = self.expr(e.right, scope, em)
        result = T.FLOAT if e.op == "/" else unify_numeric(lt, rt)
        literal_divisor = isinstance(e.right, (ast.IntLit, ast.FloatLit)) and e.right.value != 0
        if e.op in ("/", "//", "%") and not literal_divisor:
            d = self.tmp("d")
            em.emit(f"{d} = {rc}")
            em.emit(f"if {d} == 0: raise Rerun()")
            rc = d
        checked = _INT_OPS.get(e.op) if result is T.INT else None
        if checked:  # 64-bit ints: overflow is the reference's fault
            return f"{checked}({lc}, {rc})", result
        return f"({lc} {e.op} {rc})", result

    def expr_Compare(self, e: ast.Compare, scope: _Scope, em: Emitter) -> tuple[str, T]:
        lc, _ = self.expr(e.left, scope, em)
        rc, _ = self.expr(e.right, scope, em)
        return f"({lc} {e.op} {rc})", T.BOOL

    def lazy(self, e: ast.Expr, scope: _Scope, em: Emitter) -> tuple[str, T, Emitter]:
        """An expression whose preamble must only run conditionally."""
        sub = Emitter(em.level + 1)
        code, t = self.expr(e, scope, sub)
        return code, t, sub

    def expr_BoolOp(self, e: ast.BoolOp, scope: _Scope, em: Emitter) -> tuple[str, T]:
        lc, _ = self.expr(e.left, scope, em)
        rc, _, pre = self.lazy(e.right, scope, em)
        if not pre.lines:
            return f"({lc} {e.op} {rc})", T.BOOL
        t = self.tmp("b")
        em.emit(f"{t} = {lc}")
        with em.indented(f"if {t}:" if e.op == "and" else f"if not {t}:"):
            em.splice(pre)
            em.emit(f"{t} = {rc}")
        return t, T.BOOL

    def expr_Cond(self, e: ast.Cond, scope: _Scope, em: Emitter) -> tuple[str, T]:
        tc, _ = self.expr(e.test, scope, em)
        ac, at, apre = self.lazy(e.then, scope, em)
        bc, bt, bpre = self.lazy(e.other, scope, em)
        if at in NUMERIC and bt in NUMERIC:
            typ = unify_numeric(at, bt)
        elif at in (T.ANSWER, T.NONE) and bt in (T.ANSWER, T.NONE):
            typ = T.NONE if at is bt is T.NONE else T.ANSWER
        elif at is bt and at in (T.BOOL, T.BRANCH):
            typ = at
        else:
            raise Unsupported(f"`? :` over {at} values")
        if typ is T.FLOAT:  # one numba type for both arms
            ac, bc = f"float({ac})", f"float({bc})"
        if not apre.lines and not bpre.lines:
            return f"({ac} if {tc} else {bc})", typ
        t = self.tmp("c")
        with em.indented(f"if {tc}:"):
            em.splice(apre)
            em.emit(f"{t} = {ac}")
        with em.indented("else:"):
            em.splice(bpre)
            em.emit(f"{t} = {bc}")
        return t, typ

    def expr_Coalesce(self, e: ast.Coalesce, scope: _Scope, em: Emitter) -> tuple[str, T]:
        lc, _ = self.expr(e.left, scope, em)
        t = self.tmp("a")
        em.emit(f"{t} = {lc}")
        rc, _, pre = self.lazy(e.right, scope, em)
        with em.indented(f"if {t} == -1:"):
            em.splice(pre)
            em.emit(f"{t} = {rc}")
        return t, T.ANSWER

    # -- branch sets ------------------------------------------------------------------------

    def each(
        self,
        source: ast.Expr,
        scope: _Scope,
        em: Emitter,
        body: Callable[[str, Emitter], None],
    ) -> None:
        """Emit a loop over the branches of a set expression, calling `body`
        with the variable holding each branch index (set order preserved)."""
        if isinstance(source, ast.Name) and self.lookup(scope, source.id) is None:
            if source.id not in _SET_FILTERS:
                raise Unsupported(f"iteration over `{source.id}`")
            j = self.tmp("j")
            cond = _SET_FILTERS[source.id].format(j=j)
            with em.indented(f"for {j} in range(opened):"):
                if cond:
                    with em.indented(f"if {cond}:"):
                        body(j, em)
                else:
                    body(j, em)
            return
        if isinstance(source, ast.Query):
            self.each_query(source.var, source.source, source.where, scope, em, body)
            return
        code, t = self.expr(source, scope, em)
        if t is not T.SET:
            raise Unsupported(f"iteration over a {t}")
        j = self.tmp("j")
        e = self.tmp("e")
        with em.indented(f"for {j} in range({code}.shape[0]):"):
            em.emit(f"{e} = {code}[{j}]")
            body(e, em)

    def each_query(
        self,
        var: str,
        source: ast.Expr,
        where: ast.Expr | None,
        scope: _Scope,
        em: Emitter,
        body: Callable[[str, Emitter], None],
        inner_scope: dict[str, Var] | None = None,
    ) -> dict[str, Var]:
        """`var in source where cond`: binds `var`, filters, calls `body`.
        Returns the scope binding `var` (for generator values)."""
        b = self.tmp("b")
        names: dict[str, Var] = {var: Var("branch", T.BRANCH, b)}
        if inner_scope is not None:
            inner_scope.update(names)

        def filtered(e: str, em2: Emitter) -> None:
            em2.emit(f"{b} = {e}")
            if where is None:
                body(b, em2)
                return
            cc, _ = self.expr(where, [*scope, names], em2)
            with em2.indented(f"if {cc}:"):
                body(b, em2)

        self.each(source, scope, em, filtered)
        return names

    def collect(
        self, em: Emitter, emit_loop: Callable[[Callable[[str, Emitter], None]], object]
    ) -> tuple[str, str]:
        """Emit `emit_loop(put)`, where `put` appends each branch to a fresh
        int row; returns the row and the variable holding its length."""
        row = self.int_row()
        n = self.tmp("n")
        em.emit(f"{n} = 0")

        def put(e: str, em2: Emitter) -> None:
            em2.emit(f"{at(row, n)} = {e}")
            em2.emit(f"{n} += 1")

        emit_loop(put)
        return row, n

    def materialize(self, source: ast.Expr, scope: _Scope, em: Emitter) -> str:
        """A branch set as an int64 view (a snapshot in set order)."""
        row, n = self.collect(em, lambda put: self.each(source, scope, em, put))
        return upto(row, n)

    def expr_Query(self, e: ast.Query, scope: _Scope, em: Emitter) -> tuple[str, T]:
        return self.materialize(e, scope, em), T.SET

    def expr_Generator(self, e: ast.Generator, scope: _Scope, em: Emitter) -> tuple[str, T]:
        raise Unsupported("a generator outside an aggregate")

    def generator_values(
        self, g: ast.Generator, scope: _Scope, em: Emitter, keyed: bool
    ) -> tuple[list[str], T]:
        """Collect a generator's values (and, keyed, each branch's answer)
        into workspace rows; returns the views and the element type."""
        n = self.tmp("n")
        em.emit(f"{n} = 0")
        elem: list[T] = []
        vals_row = ""
        ans_row = self.int_row() if keyed else ""

        def put(b: str, em2: Emitter) -> None:
            nonlocal vals_row
            vc, vt = self.expr(g.value, [*scope, names], em2)
            if not elem:
                elem.append(vt)
                vals_row = self.float_row() if vt is T.FLOAT else self.int_row()
            em2.emit(f"{at(vals_row, n)} = {vc}")
            if keyed:
                em2.emit(f"{at(ans_row, n)} = latest[{b}]")
            em2.emit(f"{n} += 1")

        names: dict[str, Var] = {}
        self.each_query(g.var, g.source, g.where, scope, em, put, inner_scope=names)
        typ = elem[0]
        views = [f"{upto(vals_row, n)}"]
        if keyed:
            views = [f"{upto(ans_row, n)}", *views]
        return views, typ

    # -- calls ----------------------------------------------------------------------------

    def expr_Call(self, e: ast.Call, scope: _Scope, em: Emitter) -> tuple[str, T]:
        rows = overloads(e.func)
        keyed = any(r.branch_keyed for r in rows)
        args: list[str] = []
        types: list[T] = []
        gen_elem: T | None = None
        for a in e.args:
            if isinstance(a, ast.Generator):
                views, gen_elem = self.generator_values(a, scope, em, keyed)
                args.extend(views)
                types.append(T.GEN)
            elif isinstance(a, ast.Name) and (v := self.lookup(scope, a.id)) and v.window >= 0:
                w = v.window
                args.extend([f"wb{w}", f"wn{w}", f"wc{w}"])
                types.append(T.WINDOW)
            else:
                code, t = self.expr(a, scope, em)
                args.append(code)
                types.append(t)
        row = resolve_overload(rows, types)
        if row is None or not row.jit:
            raise Unsupported(f"builtin `{e.func}`")
        return self.call(row, args, types, gen_elem)

    def call(
        self, row: Builtin, args: list[str], types: Sequence[T], gen_elem: T | None
    ) -> tuple[str, T]:
        result = row.result
        if row.int_preserving:
            elems = [gen_elem] if T.GEN in types else list(types)
            if all(t is T.INT for t in elems):
                result = T.INT
        name = row.jit
        if row.name in ("round", "floor", "ceil") and list(types) == [T.INT]:
            return args[0], T.INT  # exact on ints of any size, as in Python
        if row.schedule:
            if row.variadic:  # fold left, like Python's min/max over arguments
                code = args[0]
                for a in args[1:]:
                    code = f"{name}({code}, {a})"
                return code, result
            return f"{name}({', '.join(args)})", result
        if name == "k_sum_f" and gen_elem is T.INT:
            name = "k_sum_i"
        extra: list[str] = []
        if row.result is T.VOTES:
            extra = [self.int_row(), self.float_row(), self.mark_row()]
        elif row.result is T.ANSWERS:
            extra = [self.int_row()]
        return f"{name}({', '.join(['TW', *args, *extra])})", result

    # -- statements -------------------------------------------------------------------------

    def block(self, stmts: Sequence[ast.Stmt], scope: _Scope, em: Emitter) -> None:
        inner: _Scope = [*scope, {}]
        before = len(em.lines)
        for s in stmts:
            getattr(self, "stmt_" + type(s).__name__)(s, inner, em)
        if len(em.lines) == before:
            em.emit("pass")

    def stmt_Let(self, s: ast.Let, scope: _Scope, em: Emitter) -> None:
        code, t = self.expr(s.value, scope, em)
        if t is T.NONE:
            t = T.ANSWER
        if t in (T.WINDOW, T.GEN, T.VOID):
            raise Unsupported(f"a `let` of a {t}")
        name = self.tmp(f"L_{s.name}_")
        em.emit(f"{name} = {code}")
        scope[-1][s.name] = Var("local", t, name)

    def stmt_AssignVar(self, s: ast.AssignVar, scope: _Scope, em: Emitter) -> None:
        v = self.lookup(scope, s.name)
        assert v is not None and v.kind == "state"
        code, _ = self.expr(s.value, scope, em)
        if v.type is T.FLOAT:
            code = f"float({code})"
        em.emit(f"{v.code} = {code}")

    def stmt_AssignField(self, s: ast.AssignField, scope: _Scope, em: Emitter) -> None:
        b = self.lookup(scope, s.var)
        assert b is not None
        code, _ = self.expr(s.value, scope, em)
        for k, (name, typ) in enumerate(self.layout.fields):
            if name == s.name:
                if typ is T.FLOAT:
                    code = f"float({code})"
                em.emit(f"f{k}[{b.code}] = {code}")
                return
        raise Unsupported(f"field `{s.name}`")

    def stmt_CallStmt(self, s: ast.CallStmt, scope: _Scope, em: Emitter) -> None:
        target = s.args[0]
        v = self.lookup(scope, target.id) if isinstance(target, ast.Name) else None
        if v is None or v.window < 0:
            raise Unsupported(f"`{s.func}` on something other than a state window")
        code, _ = self.expr(s.args[1], scope, em)
        row = next(r for r in overloads(s.func) if r.effect)
        w = v.window
        em.emit(f"wn{w} = {row.jit}(wb{w}, wn{w}, wc{w}, float({code}))")

    def stmt_If(self, s: ast.If, scope: _Scope, em: Emitter) -> None:
        self.if_arms(list(s.arms), s.orelse, scope, em)

    def if_arms(
        self,
        arms: list[tuple[ast.Expr, tuple[ast.Stmt, ...]]],
        orelse: tuple[ast.Stmt, ...] | None,
        scope: _Scope,
        em: Emitter,
    ) -> None:
        (cond, body), rest = arms[0], arms[1:]
        cc, _ = self.expr(cond, scope, em)
        with em.indented(f"if {cc}:"):
            self.block(body, scope, em)
        if rest:
            with em.indented("else:"):
                self.if_arms(rest, orelse, scope, em)
        elif orelse is not None:
            with em.indented("else:"):
                self.block(orelse, scope, em)

    def stmt_For(self, s: ast.For, scope: _Scope, em: Emitter) -> None:
        h = s.head
        names: dict[str, Var] = {}
        row, n = self.collect(
            em,
            lambda put: self.each_query(
                h.var, h.source, h.where, scope, em, put, inner_scope=names
            ),
        )
        inner: _Scope = [*scope, names]
        b = names[h.var].code
        if h.order:
            first = self.layout.n_float_rows  # the key rows are consecutive
            key_rows = [self.float_row() for _ in h.order]
            p = self.tmp("p")
            with em.indented(f"for {p} in range({n}):"):
                em.emit(f"{b} = {at(row, p)}")
                for k, key_row in zip(h.order, key_rows, strict=True):
                    kc, _ = self.expr(k.key, inner, em)
                    em.emit(f"{at(key_row, p)} = {kc}")
            desc = "".join(f"{k.descending}, " for k in h.order)
            em.emit(
                f"k_sort({row}, {n}, WF[{first}:{first + len(key_rows)}], ({desc}), "
                f"{self.int_row()}, {self.int_row()})"
            )
        if h.limit is not None:
            lc, _ = self.expr(h.limit, scope, em)
            lim = self.tmp("lim")
            em.emit(f"{lim} = {lc}")
            em.emit(f"if {lim} < {n}: {n} = max(0, {lim})")
        em.emit(f"if {n} > fuel: raise Rerun()")
        p = self.tmp("p")
        with em.indented(f"for {p} in range({n}):"):
            em.emit("fuel -= 1")
            em.emit(f"{b} = {at(row, p)}")
            self.block(s.body, inner, em)
        em.emit("if _ctl != 0: break")

    def stmt_Repeat(self, s: ast.Repeat, scope: _Scope, em: Emitter) -> None:
        cc, _ = self.expr(s.count, scope, em)
        n = self.tmp("n")
        em.emit(f"{n} = {cc}")
        em.emit(f"if {n} > fuel: raise Rerun()")
        with em.indented(f"for _ in range({n}):"):
            em.emit("fuel -= 1")
            self.block(s.body, scope, em)
        em.emit("if _ctl != 0: break")

    def open_branch(self, em: Emitter, i: str) -> None:
        em.emit(f"{i} = opened")
        em.emit("opened += 1")
        em.emit("fuel -= 1")
        em.emit(f"reads[{i}] = 0")
        em.emit(f"spent[{i}] = 0")
        em.emit(f"fin[{i}] = False")
        em.emit(f"pru[{i}] = False")
        em.emit(f"batch[{i}] = 0")
        for k, (name, typ) in enumerate(self.layout.fields):
            if name not in self.field_inits:
                self.field_inits[name] = self.const_code(typ, "field", name)
            em.emit(f"f{k}[{i}] = {self.field_inits[name]}")

    def read(self, em: Emitter, i: str) -> None:
        """The read primitive (replay protocol §2) on unfinished branch `i`."""
        bo, k, c, a = self.tmp("o"), self.tmp("k"), self.tmp("c"), self.tmp("a")
        em.emit(f"{bo} = order[{i}]")
        em.emit(f"{k} = reads[{i}]")
        em.emit(f"reads[{i}] = {k} + 1")
        with em.indented(f"if {k} < NP[qi, {bo}]:"):
            em.emit(f"{c} = interval")
            em.emit(f"{a} = PR[qi, {bo}, {k}]")
        with em.indented("else:"):
            em.emit(f"{c} = TK[qi, {bo}] - spent[{i}]")
            em.emit(f"if {c} < 0: {c} = 0")
            em.emit(f"{a} = FN[qi, {bo}]")
            em.emit(f"fin[{i}] = True")
            em.emit(f"comp[ncomp] = {a}")
            em.emit("ncomp += 1")
        em.emit(f"spent[{i}] += {c}")
        em.emit(f"cost += {c}")
        em.emit(f"batch[{i}] += {c}")
        em.emit(f"if batch[{i}] > bmax: bmax = batch[{i}]")
        em.emit(f"latest[{i}] = {a}")

    def opener(self, count: ast.Expr, scope: _Scope, em: Emitter, full: bool) -> None:
        cc, _ = self.expr(count, scope, em)
        n, i = self.tmp("n"), self.tmp("i")
        em.emit(f"{n} = {cc}")
        em.emit(f"if {n} > fuel: raise Rerun()")
        with em.indented(f"for _ in range({n}):"):
            em.emit("if opened >= cap: break")
            self.open_branch(em, i)
            if full:
                self.read_full(em, i)
            else:
                self.read(em, i)

    def read_full(self, em: Emitter, i: str) -> None:
        """FULL_READ on the just-opened branch `i`: its whole length at once."""
        bo, c, a = self.tmp("o"), self.tmp("c"), self.tmp("a")
        em.emit(f"{bo} = order[{i}]")
        em.emit(f"{c} = TK[qi, {bo}]")
        em.emit(f"reads[{i}] = 1")
        em.emit(f"spent[{i}] = {c}")
        em.emit(f"fin[{i}] = True")
        em.emit(f"cost += {c}")
        em.emit(f"batch[{i}] = {c}")
        em.emit(f"if {c} > bmax: bmax = {c}")
        em.emit(f"{a} = FN[qi, {bo}]")
        em.emit(f"latest[{i}] = {a}")
        em.emit(f"comp[ncomp] = {a}")
        em.emit("ncomp += 1")

    def stmt_Spawn(self, s: ast.Spawn, scope: _Scope, em: Emitter) -> None:
        self.opener(s.count, scope, em, full=False)

    def stmt_ReadFull(self, s: ast.ReadFull, scope: _Scope, em: Emitter) -> None:
        self.opener(s.count, scope, em, full=True)

    def stmt_Step(self, s: ast.Step, scope: _Scope, em: Emitter) -> None:
        bc, _ = self.expr(s.branch, scope, em)
        i = self.tmp("i")
        em.emit(f"{i} = {bc}")
        em.emit(f"if pru[{i}]: raise Rerun()")
        n = self.tmp("n")
        if s.times is None:
            em.emit(f"{n} = 1")
        else:
            tc, _ = self.expr(s.times, scope, em)
            em.emit(f"{n} = {tc}")
        em.emit(f"if {n} > fuel: raise Rerun()")
        with em.indented(f"for _ in range({n}):"):
            em.emit(f"if fin[{i}]: break")
            em.emit("fuel -= 1")
            self.read(em, i)

    def stmt_Prune(self, s: ast.Prune, scope: _Scope, em: Emitter) -> None:
        bc, _ = self.expr(s.branch, scope, em)
        em.emit(f"pru[{bc}] = True")

    def stmt_Answer(self, s: ast.Answer, scope: _Scope, em: Emitter) -> None:
        code, _ = self.expr(s.value, scope, em)
        em.emit(f"_ans = {code}")
        em.emit("_ctl = 2")
        em.emit("break")

    def stmt_StopLoop(self, s: ast.StopLoop, scope: _Scope, em: Emitter) -> None:
        em.emit("_ctl = 1")
        em.emit("break")

    # -- the module ---------------------------------------------------------------------------

    def section(self, block: ast.Block | None, em: Emitter) -> None:
        with em.indented("while True:"):
            if block is not None:
                self.block(block.body, [self.globals], em)
            em.emit("break")
        em.emit("seq += bmax")
        em.emit("bmax = 0")
        with em.indented("for _j in range(opened):"):
            em.emit("batch[_j] = 0")

    def generate(self, *, jit: bool) -> str:
        self.declarations()
        p = self.program
        body = Emitter(1)
        maxb = self.slot("i", "limit", "max_branches")
        maxr = self.slot("i", "limit", "max_rounds")
        fuel = self.slot("i", "limit", "fuel")
        init_state = Emitter(1)
        for d in p.state:
            v = self.globals[d.name]
            if v.window >= 0:
                w = v.window
                init_state.emit(f"wc{w} = {self.slot('i', 'wcap', d.name)}")
                init_state.emit(f"wb{w} = WIN[{w}]")
                init_state.emit(f"wn{w} = 0")
            else:
                init_state.emit(f"{v.code} = {self.const_code(v.type, 'state', d.name)}")
        self.section(p.init, body)
        body.emit("if _ctl == 2: return _ans, cost, seq, opened")
        if p.round is not None:
            with body.indented(f"for _r in range({maxr}):"):
                body.emit("rnd = _r")
                body.emit("if fuel <= 0: raise Rerun()  # one unit per round")
                body.emit("fuel -= 1")
                self.section(p.round, body)
                body.emit("if _ctl == 2: return _ans, cost, seq, opened")
                body.emit("if _ctl == 1: break")
            body.emit("_ctl = 0")
        self.section(p.final, body)
        body.emit("if _ctl == 2: return _ans, cost, seq, opened")
        body.emit("raise Rerun()  # `finally` did not answer: the reference reports it")

        fields = "".join(f", f{k}" for k in range(len(self.layout.fields)))
        deco = "@njit(cache=True, nogil=True)\n" if jit else ""
        lines = [
            _HEADER.format(jit=jit, njit="from numba import njit\n" if jit else ""),
            f"{deco}def episode(qi, order, nb, interval, CI, CF, PR, NP, TK, FN, TW, WI, WF, VM,"
            f" WIN, reads, spent, fin, pru, latest, batch, comp{fields}):",
            "    opened = 0",
            "    cost = 0",
            "    seq = 0",
            "    bmax = 0",
            "    ncomp = 0",
            "    rnd = -1",
            "    _ctl = 0",
            "    _ans = -1",
            f"    fuel = {fuel}",
            f"    cap = min({maxb}, nb)",
            *init_state.lines,
            *body.lines,
            "",
            "",
            self.driver(jit),
        ]
        return "\n".join(lines) + "\n"

    def driver(self, jit: bool) -> str:
        lay = self.layout
        wcaps = [c for c in lay.consts if c.kind == "wcap"]
        wmax = "max(1, " + "".join(f"CI[{c.index}], " for c in wcaps) + "1)"
        field_allocs = "".join(
            f"    f{k} = np.zeros(W, {_DTYPE[t]})\n" for k, (_, t) in enumerate(lay.fields)
        )
        fields = "".join(f", f{k}" for k in range(len(lay.fields)))
        catch = "Exception" if jit else "Rerun"
        deco = "@njit(cache=True, nogil=True)\n" if jit else ""
        return _DRIVER.format(
            deco=deco,
            n_wi=max(1, lay.n_int_rows),
            n_wf=max(1, lay.n_float_rows),
            n_vm=max(1, lay.n_mark_rows),
            n_win=max(1, len(lay.windows)),
            wmax=wmax,
            field_allocs=field_allocs,
            fields=fields,
            catch=catch,
        )


_HEADER = '''"""Generated by autotts_dsl.jit.codegen; do not edit (jit={jit})."""
# ruff: noqa
import numpy as np
{njit}from autotts_dsl.jit.kernels import *  # the kernels and Rerun
'''

_DRIVER = """{deco}def run_cell(ORD, QU, CI, CF, PR, NP, TK, FN, NB, IV, BT, V, OUT):
    n_q = PR.shape[0]
    W = max(1, PR.shape[1])
    reads = np.zeros(W, np.int64)
    spent = np.zeros(W, np.int64)
    fin = np.zeros(W, np.bool_)
    pru = np.zeros(W, np.bool_)
    latest = np.zeros(W, np.int64)
    batch = np.zeros(W, np.int64)
    comp = np.zeros(W, np.int64)
    TW = (np.zeros(V + 1, np.int64), np.zeros(W, np.int64), BT, latest)
    WI = np.zeros(({n_wi}, W), np.int64)
    WF = np.zeros(({n_wf}, W), np.float64)
    VM = np.zeros(({n_vm}, V + 1), np.int64)
    WIN = np.zeros(({n_win}, {wmax}), np.float64)
{field_allocs}    for e in range(OUT.shape[0]):
        si = e // n_q
        q = e % n_q
        OUT[e, 0] = 1
        try:
            a, c, s, o = episode(
                q, ORD[si, QU[q]], NB[q], IV[q], CI, CF, PR, NP, TK, FN, TW, WI, WF, VM, WIN,
                reads, spent, fin, pru, latest, batch, comp{fields}
            )
        except {catch}:
            continue
        r = 0
        for j in range(o):
            r += reads[j]
        OUT[e, 0] = 0
        OUT[e, 1] = a
        OUT[e, 2] = c
        OUT[e, 3] = s
        OUT[e, 4] = o
        OUT[e, 5] = r
"""


def generate(program: ast.Program, *, jit: bool) -> tuple[str, Layout]:
    """Python source of the compiled module for `program`, and its layout.
    Raises `Unsupported` for constructs left to the reference interpreter."""
    gen = CodeGen(program)
    source = gen.generate(jit=jit)
    return source, gen.layout
