"""Canonical layout of tts-dsl programs (`tts-dsl fmt`).

The layout is a function of the AST alone: sections in a fixed order
(limits, params, schedule, state, branch, init, round, finally) separated by
one blank line, two-space indentation, spaces around binary operators except
in a product of plain names and numbers (`6*beta`, the house style), minimal
parentheses, aligned columns in a multi-line `schedule`, `params` and
`limits`. A section or block whose content fits on one line (and holds no
comment) is written on one line: `init { spawn n_init }` (a `schedule` with
more than one knob is always a table). A long guard or loop head puts each
clause (`when`/`where`, `order by`, `limit`, `do`) on a line of its own,
continuation lines indented by four. Hence `parse(fmt(p)) == p` and
`fmt(fmt(s)) == fmt(s)`.

Comments are kept. The grammar drops them, so they are found by scanning
the text and attached to the AST by line:

* a comment on a line of its own belongs to the next declaration or
  statement of the same block (or section) and is printed above it; one
  after the last item of a block stays at the end of that block; one before
  a section keyword stays above the section;
* a comment after code belongs to the outermost (last) declaration or
  statement that starts on its line and is printed at the end of that
  item's first line; a comment after code where no item starts becomes a
  comment line of its own: after a closing `}` at the end of the block that
  brace closes, after `else {` above the first statement of the `else`, on
  a continuation line above the item it interrupts;
* single blank lines between items (and between comments) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import field

from . import ast
from .parser import parse
from .records import record

WIDTH = 100
INDENT = "  "
CONT = "    "  # continuation lines of a wrapped header

# ------------------------------------------------------------------ expressions

_P_TERNARY, _P_COALESCE, _P_OR, _P_AND, _P_NOT, _P_CMP, _P_SUM, _P_PROD, _P_UNARY = range(1, 10)
_P_POSTFIX, _P_ATOM = 10, 11


def _prec(e: ast.Expr) -> int:
    if isinstance(e, ast.Cond):
        return _P_TERNARY
    if isinstance(e, ast.Coalesce):
        return _P_COALESCE
    if isinstance(e, ast.BoolOp):
        return _P_OR if e.op == "or" else _P_AND
    if isinstance(e, ast.Unary):
        return _P_NOT if e.op == "not" else _P_UNARY
    if isinstance(e, ast.Compare):
        return _P_CMP
    if isinstance(e, ast.Binary):
        return _P_SUM if e.op in ("+", "-") else _P_PROD
    if isinstance(e, ast.IntLit | ast.FloatLit) and e.value < 0:
        return _P_UNARY  # the parser folds `-3` into a literal
    if isinstance(e, ast.Field | ast.Call):
        return _P_POSTFIX
    if isinstance(e, ast.Query | ast.Generator):
        return 0
    return _P_ATOM


def _float_text(e: ast.FloatLit) -> str:
    if e.text:
        try:
            if float(e.text) == e.value:
                return e.text
        except ValueError:
            pass
    return repr(e.value)


def format_expr(e: ast.Expr, min_prec: int = 0) -> str:
    """An expression as source text, parenthesised only where needed."""
    text = _expr(e)
    return f"({text})" if _prec(e) < min_prec else text


def _expr(e: ast.Expr) -> str:
    f = format_expr
    if isinstance(e, ast.IntLit):
        return str(e.value)
    if isinstance(e, ast.FloatLit):
        return _float_text(e)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.NoneLit):
        return "none"
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Field):
        return f"{f(e.obj, _P_POSTFIX)}.{e.name}"
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(f(a, 0) for a in e.args)})"
    if isinstance(e, ast.Query):
        where = f" where {f(e.where, 1)}" if e.where is not None else ""
        return f"{e.var} in {f(e.source, 1)}{where}"
    if isinstance(e, ast.Generator):
        where = f" where {f(e.where, 1)}" if e.where is not None else ""
        return f"{f(e.value, _P_COALESCE)} for {e.var} in {f(e.source, 1)}{where}"
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return f"not {f(e.operand, _P_NOT)}"
        inner = f(e.operand, _P_UNARY)
        return f"-({inner})" if inner.startswith("-") else f"-{inner}"
    if isinstance(e, ast.Binary):
        p = _prec(e)
        op = "*" if _hugged(e) else f" {e.op} "
        return f"{f(e.left, p)}{op}{f(e.right, p + 1)}"
    if isinstance(e, ast.Compare):
        return f"{f(e.left, _P_SUM)} {e.op} {f(e.right, _P_SUM)}"
    if isinstance(e, ast.BoolOp):
        p = _prec(e)
        return f"{f(e.left, p)} {e.op} {f(e.right, p + 1)}"
    if isinstance(e, ast.Cond):
        return f"{f(e.test, _P_COALESCE)} ? {f(e.then, 1)} : {f(e.other, _P_TERNARY)}"
    if isinstance(e, ast.Coalesce):
        return f"{f(e.left, _P_COALESCE)} ?? {f(e.right, _P_OR)}"
    raise TypeError(f"cannot format {type(e).__name__}")


def _atom(e: ast.Expr) -> bool:
    return isinstance(e, ast.Name) or (isinstance(e, ast.IntLit | ast.FloatLit) and e.value >= 0)


def _hugged(e: ast.Expr) -> bool:
    """A product of plain names and numbers is written tight, `6*beta`, the
    house style of the language's examples; anything else gets spaces."""
    return (
        isinstance(e, ast.Binary)
        and e.op == "*"
        and _atom(e.right)
        and (_atom(e.left) or _hugged(e.left))
    )


def _chain(e: ast.Expr) -> tuple[str, list[ast.Expr]]:
    """A top-level and/or chain as (operator, operands); ("", [e]) otherwise."""
    if not isinstance(e, ast.BoolOp):
        return "", [e]
    parts: list[ast.Expr] = []
    x: ast.Expr = e
    while isinstance(x, ast.BoolOp) and x.op == e.op:
        parts.append(x.right)
        x = x.left
    parts.append(x)
    return e.op, parts[::-1]


def _guard_segments(prefix: str, e: ast.Expr) -> list[str]:
    """`prefix COND` as wrappable pieces: `prefix a`, `and b`, `and c`."""
    op, parts = _chain(e)
    if not op:
        return [f"{prefix}{format_expr(e, 1)}"]
    p = _P_OR if op == "or" else _P_AND
    first = format_expr(parts[0], p)
    return [f"{prefix}{first}"] + [f"{op} {format_expr(x, p + 1)}" for x in parts[1:]]


def _pack(clauses: Sequence[Sequence[str]], indent: str) -> list[str]:
    """A statement header: one line when it fits; else every clause
    (`when ...`, `where ...`, `order by ...`, `limit ...`, `do ...`) starts a
    line of its own and a clause's pieces (`and b`) fill lines greedily."""
    pieces = [p for c in clauses for p in c]
    one = indent + " ".join(pieces)
    if len(one) <= WIDTH:
        return [one]
    lines: list[str] = []
    for k, clause in enumerate(clauses):
        lines.append((indent if k == 0 else indent + CONT) + clause[0])
        for piece in clause[1:]:
            if len(lines[-1]) + 1 + len(piece) <= WIDTH:
                lines[-1] += " " + piece
            else:
                lines.append(indent + CONT + piece)
    return lines


def _assign(prefix: str, value: ast.Expr, indent: str) -> list[str]:
    """`x = v`; a long `c ? a : b` value breaks before its `:`."""
    if isinstance(value, ast.Cond):
        test = format_expr(value.test, _P_COALESCE)
        then = format_expr(value.then, 1)
        other = format_expr(value.other, _P_TERNARY)
        return _pack([[f"{prefix}{test} ? {then}"], [f": {other}"]], indent)
    return [f"{indent}{prefix}{format_expr(value)}"]


# -------------------------------------------------------------------- comments

Key = object  # id(node) for AST nodes, a tuple for containers and sections


@record(frozen=False)
class _Note:
    text: str
    blank_before: bool = False


@record(frozen=False)
class _Comments:
    leading: dict[Key, list[_Note]] = field(default_factory=dict)
    trailing: dict[Key, str] = field(default_factory=dict)
    dangling: dict[Key, list[_Note]] = field(default_factory=dict)
    blank_before: set[Key] = field(default_factory=set)
    dirty: set[Key] = field(default_factory=set)  # holds a comment somewhere inside
    header: list[_Note] = field(default_factory=list)
    eof: list[_Note] = field(default_factory=list)


@record(frozen=False)
class _Scanned:
    comments: list[tuple[int, str, bool]]  # (line, text, on a line of its own)
    sections: dict[str, tuple[int, int]]  # name -> (keyword line, closing-brace line)
    header_line: int
    blank: set[int]
    code: list[str]  # each line with its comment and strings blanked out


_SECTION_WORDS = ("limits", "params", "schedule", "state", "branch", "init", "round", "finally")


def _scan(source: str) -> _Scanned:
    comments: list[tuple[int, str, bool]] = []
    sections: dict[str, tuple[int, int]] = {}
    blank: set[int] = set()
    header_line = 0
    depth = 0
    open_section: tuple[str, int] | None = None
    code: list[str] = []
    for lineno, text in enumerate(source.splitlines(), 1):
        code.append("")
        if not text.strip():
            blank.add(lineno)
            continue
        i, n = 0, len(text)
        in_string = False
        chars: list[str] = []
        while i < n:
            ch = text[i]
            chars.append(" " if in_string or ch == '"' else ch)
            code[-1] = "".join(chars)
            if in_string:
                in_string = ch != '"'
            elif ch == '"':
                in_string = True
            elif ch == "#":
                comments.append((lineno, text[i:].rstrip(), not text[:i].strip()))
                code[-1] = "".join(chars[:-1])
                break
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0 and open_section is not None:
                    sections[open_section[0]] = (open_section[1], lineno)
                    open_section = None
            elif depth == 0 and (ch.isalpha() or ch == "_"):
                j = i
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                word = text[i:j]
                if word in _SECTION_WORDS and open_section is None:
                    open_section = (word, lineno)
                elif word == "controller" and not header_line:
                    header_line = lineno
                chars.extend(text[i + 1 : j])
                code[-1] = "".join(chars)
                i = j
                continue
            i += 1
    return _Scanned(comments, sections, header_line, blank, code)


@record(frozen=False)
class _Item:
    key: Key
    start: int
    end: int
    subs: list[_Container] = field(default_factory=list)


@record(frozen=False)
class _Container:
    key: Key
    lo: int
    hi: int
    items: list[_Item] = field(default_factory=list)


def _stmt_items(stmts: Sequence[ast.Stmt], code: Sequence[str]) -> list[_Item]:
    return [_stmt_item(s, code) for s in stmts]


def _else_line(code: Sequence[str], lo: int, hi: int) -> int:
    """The line of the `else` keyword between lines lo and hi (1-based)."""
    for line in range(max(lo, 1), min(hi, len(code)) + 1):
        if re.search(r"\belse\b", code[line - 1]):
            return line
    return lo


def _stmt_item(s: ast.Stmt, code: Sequence[str]) -> _Item:
    """`code`: the source lines with comments and strings blanked out."""
    item = _Item(id(s), s.span.line, max(s.span.end_line, s.span.line))
    if isinstance(s, ast.If):
        conds = [c.span.line for c, _ in s.arms]
        else_at = item.end + 1
        if s.orelse is not None:
            last = s.arms[-1][1]
            after = last[-1].span.end_line if last else conds[-1]
            else_at = _else_line(code, after, s.orelse[0].span.line if s.orelse else item.end)
        for k, (_, body) in enumerate(s.arms):
            hi = conds[k + 1] - 1 if k + 1 < len(conds) else else_at - 1
            sub = _Container(("arm", id(s), k), conds[k], max(hi, conds[k]), [])
            sub.items = _stmt_items(body, code)
            item.subs.append(sub)
        if s.orelse is not None:
            sub = _Container(("else", id(s)), else_at, item.end, _stmt_items(s.orelse, code))
            item.subs.append(sub)
    elif isinstance(s, ast.For | ast.Repeat):
        sub = _Container(("body", id(s)), item.start, item.end, _stmt_items(s.body, code))
        item.subs.append(sub)
    return item


def _decl_end(d: object) -> int:
    """The last line of a declaration (its expression may span lines)."""
    parts: list[ast.Expr | None] = []
    if isinstance(d, ast.Knob | ast.Limit):
        parts = [d.expr]
    elif isinstance(d, ast.Param):
        parts = [d.default]
    elif isinstance(d, ast.VarDecl):
        parts = [d.type.size, d.init]
    return max((e.span.end_line for e in parts if e is not None), default=0)


class _Attacher:
    def __init__(self, program: ast.Program, source: str) -> None:
        self.sc = _scan(source)
        self.c = _Comments()
        self.program = program
        self.tops = self._top_containers()

    def _decl_container(self, name: str, decls: Sequence[object]) -> _Container | None:
        if name not in self.sc.sections:
            return None
        lo, hi = self.sc.sections[name]
        items = []
        for d in decls:
            line = d.span.line  # type: ignore[attr-defined]
            items.append(_Item(id(d), line, max(line, _decl_end(d))))
        return _Container(("section", name), lo, hi, items)

    def _top_containers(self) -> list[_Container]:
        p = self.program
        out: list[_Container | None] = [
            self._decl_container("limits", p.limits),
            self._decl_container("params", p.params),
            self._decl_container("schedule", p.knobs),
            self._decl_container("state", p.state),
            self._decl_container("branch", p.branch_fields),
        ]
        for name, block in (("init", p.init), ("round", p.round), ("finally", p.final)):
            if block is not None and name in self.sc.sections:
                lo, hi = self.sc.sections[name]
                items = _stmt_items(block.body, self.sc.code)
                out.append(_Container(("section", name), lo, hi, items))
        return sorted((c for c in out if c is not None), key=lambda c: c.lo)

    def note(self, line: int, text: str) -> _Note:
        prev = line - 1
        return _Note(text, prev in self.sc.blank)

    def run(self) -> _Comments:
        sc, c = self.sc, self.c
        for cont in self.tops:
            self._blanks(cont)
        for line, text, own in sc.comments:
            if line < sc.header_line or not sc.header_line:
                c.header.append(self.note(line, text))
                continue
            if line == sc.header_line and not own:
                c.trailing["header"] = text
                continue
            found = next((t for t in self.tops if t.lo <= line <= t.hi), None)
            if found is None:
                nxt = next((t for t in self.tops if t.lo > line), None)
                if nxt is None:
                    c.eof.append(self.note(line, text))
                else:
                    c.leading.setdefault(nxt.key, []).append(self.note(line, text))
                continue
            c.dirty.add(found.key)
            if own:
                self.own_line(found, line, text, self.note(line, text))
            else:
                self.after_code(found, line, text)
        return c

    def _blanks(self, cont: _Container) -> None:
        for k, item in enumerate(cont.items):
            if k and item.start - 1 in self.sc.blank:
                self.c.blank_before.add(item.key)
            for sub in item.subs:
                self._blanks(sub)

    def own_line(self, cont: _Container, line: int, text: str, note: _Note) -> None:
        for item in cont.items:
            if item.start < line <= item.end:
                for sub in item.subs:
                    if sub.lo < line <= sub.hi or (sub.lo == line and sub.lo > item.start):
                        self.c.dirty.update((item.key, sub.key))
                        self.own_line(sub, line, text, note)
                        return
                # inside a multi-line item but in none of its blocks: above it
                self.c.dirty.add(item.key)
                self.c.leading.setdefault(item.key, []).append(_Note(text, False))
                return
        nxt = next((it for it in cont.items if it.start > line), None)
        if nxt is not None:
            self.c.leading.setdefault(nxt.key, []).append(note)
        else:
            self.c.dangling.setdefault(cont.key, []).append(note)

    def after_code(self, cont: _Container, line: int, text: str) -> None:
        starting = [it for it in cont.items if it.start == line]
        if starting:
            self.c.trailing[starting[-1].key] = text
            self.c.dirty.add(starting[-1].key)
            return
        for item in cont.items:
            if item.start < line <= item.end:
                for sub in item.subs:
                    if sub.lo <= line <= sub.hi:
                        self.c.dirty.update((item.key, sub.key))
                        self.after_code(sub, line, text)
                        return
        self.own_line(cont, line, text, _Note(text, False))


# ------------------------------------------------------------------- printing


class _Printer:
    def __init__(self, comments: _Comments | None = None) -> None:
        self.c = comments or _Comments()

    # -- comment helpers -----------------------------------------------------------

    def _notes(self, notes: Sequence[_Note], indent: str, first: bool) -> list[str]:
        out: list[str] = []
        for k, n in enumerate(notes):
            if n.blank_before and not (first and k == 0):
                out.append("")
            out.append(indent + n.text)
        return out

    def _with_comments(self, key: Key, lines: list[str], indent: str, first: bool) -> list[str]:
        """An item's lines with its comments: those above it, a kept blank
        line, and the one after its first line."""
        lead = self.c.leading.get(key, [])
        out = self._notes(lead, indent, first)
        if key in self.c.blank_before and not (first and not lead):
            out.append("")
        tail = self.c.trailing.get(key)
        if tail is not None and lines:
            lines = [lines[0] + "  " + tail, *lines[1:]]
        return out + lines

    # -- program -------------------------------------------------------------------

    def program(self, p: ast.Program) -> str:
        out: list[str] = self._notes(self.c.header, "", True)
        head = f"controller {p.name}" + (f' "{p.description}"' if p.description else "")
        if "header" in self.c.trailing:
            head += "  " + self.c.trailing["header"]
        if out:
            out.append("")
        out.append(head)
        sections = [
            ("limits", self._limits(p.limits), bool(p.limits)),
            ("params", self._params(p.params), bool(p.params)),
            ("schedule", self._knobs(p.knobs), bool(p.knobs)),
            ("state", self._vars(p.state), bool(p.state)),
            ("branch", self._vars(p.branch_fields), bool(p.branch_fields)),
        ]
        for name, rendered, present in sections:
            key = ("section", name)
            if present or key in self.c.dangling or key in self.c.leading:
                out.append("")
                out += self._section(name, rendered)
        for name, block in (("init", p.init), ("round", p.round), ("finally", p.final)):
            if block is not None:
                out.append("")
                key = ("section", name)
                out += self._notes(self.c.leading.get(key, []), "", True)
                out += self._block_lines(name, block.body, key, "")
        if self.c.eof:
            out.append("")
            out += self._notes(self.c.eof, "", True)
        return "\n".join(out) + "\n"

    def _section(self, name: str, items: list[tuple[Key, str, str]]) -> list[str]:
        key = ("section", name)
        out = self._notes(self.c.leading.get(key, []), "", True)
        if not items and key not in self.c.dangling:
            return [*out, f"{name} {{}}"]
        one = f"{name} {{ " + "  ".join(plain for _, _, plain in items) + " }"
        # knobs read best as an aligned table, unless there is just one
        compact = name != "schedule" or len(items) == 1
        if compact and key not in self.c.dirty and len(one) <= WIDTH and items:
            return [*out, one]
        body: list[str] = []
        for k, (item_key, text, _) in enumerate(items):
            body += self._with_comments(item_key, [INDENT + text], INDENT, k == 0)
        body += self._notes(self.c.dangling.get(key, []), INDENT, not items)
        return [*out, f"{name} {{", *body, "}"]

    def _limits(self, limits: Sequence[ast.Limit]) -> list[tuple[Key, str, str]]:
        w = max((len(x.name) for x in limits), default=0)
        return [
            (id(x), f"{x.name:<{w}} = {format_expr(x.expr)}", f"{x.name} = {format_expr(x.expr)}")
            for x in limits
        ]

    def _params(self, params: Sequence[ast.Param]) -> list[tuple[Key, str, str]]:
        w = max((len(x.name) for x in params), default=0)
        t = max((len(x.type) for x in params), default=0)
        return [
            (
                id(x),
                f"{x.name:<{w}} : {x.type:<{t}} = {format_expr(x.default)}",
                f"{x.name} : {x.type} = {format_expr(x.default)}",
            )
            for x in params
        ]

    def _knobs(self, knobs: Sequence[ast.Knob]) -> list[tuple[Key, str, str]]:
        w = max((len(k.name) for k in knobs), default=0)
        t = max((len(k.type) for k in knobs), default=0)
        d = max((len(k.direction) for k in knobs), default=0)
        return [
            (
                id(k),
                f"{k.name:<{w}} : {k.type:<{t}} {k.direction:<{d}} = {format_expr(k.expr)}",
                f"{k.name} : {k.type} {k.direction} = {format_expr(k.expr)}",
            )
            for k in knobs
        ]

    def _vars(self, decls: Sequence[ast.VarDecl]) -> list[tuple[Key, str, str]]:
        out: list[tuple[Key, str, str]] = []
        for v in decls:
            typ = v.type.name
            if v.type.size is not None:
                typ += f"({format_expr(v.type.size)})"
            init = f" = {format_expr(v.init)}" if v.init is not None else ""
            text = f"{v.name}: {typ}{init}"
            out.append((id(v), text, text))
        return out

    # -- statements ------------------------------------------------------------------

    def _block_lines(
        self, opener: str, stmts: Sequence[ast.Stmt], key: Key, indent: str
    ) -> list[str]:
        """`opener { ... }` (the opener text may already carry a header)."""
        if stmts == () and key not in self.c.dangling:
            return [f"{indent}{opener} {{}}"]
        inline = self._inline(stmts, key)
        if inline is not None and len(indent) + len(opener) + len(inline) + 6 <= WIDTH:
            return [f"{indent}{opener} {{ {inline} }}"]
        return [f"{indent}{opener} {{", *self._body(stmts, key, indent + INDENT), f"{indent}}}"]

    def _inline(self, stmts: Sequence[ast.Stmt], key: Key) -> str | None:
        if len(stmts) != 1 or key in self.c.dirty or key in self.c.dangling:
            return None
        s = stmts[0]
        if id(s) in self.c.dirty:
            return None
        lines = self.stmt(s, "")
        return lines[0] if len(lines) == 1 else None

    def _body(self, stmts: Sequence[ast.Stmt], key: Key, indent: str) -> list[str]:
        out: list[str] = []
        for k, s in enumerate(stmts):
            out += self._with_comments(id(s), self.stmt(s, indent), indent, k == 0)
        out += self._notes(self.c.dangling.get(key, []), indent, not stmts)
        return out

    def stmt(self, s: ast.Stmt, indent: str) -> list[str]:
        f = format_expr
        if isinstance(s, ast.Let):
            return _assign(f"let {s.name} = ", s.value, indent)
        if isinstance(s, ast.AssignVar):
            return _assign(f"{s.name} = ", s.value, indent)
        if isinstance(s, ast.AssignField):
            return _assign(f"{s.var}.{s.name} = ", s.value, indent)
        if isinstance(s, ast.CallStmt):
            return [f"{indent}{s.func}({', '.join(f(a) for a in s.args)})"]
        if isinstance(s, ast.Spawn):
            return [f"{indent}spawn {self._arg(s.count)}"]
        if isinstance(s, ast.ReadFull):
            return [f"{indent}read_full {self._arg(s.count)}"]
        if isinstance(s, ast.Step):
            times = f" times {self._arg(s.times)}" if s.times is not None else ""
            return [f"{indent}step {self._arg(s.branch)}{times}"]
        if isinstance(s, ast.Prune):
            return [f"{indent}prune {self._arg(s.branch)}"]
        if isinstance(s, ast.Answer):
            return [f"{indent}answer {f(s.value)}"]
        if isinstance(s, ast.StopLoop):
            return [f"{indent}stop"]
        if isinstance(s, ast.If):
            return self._if(s, indent)
        if isinstance(s, ast.For):
            return self._for(s, indent)
        if isinstance(s, ast.Repeat):
            return self._headed(
                [[f"repeat {f(s.count, 1)}"]], s.body, ("body", id(s)), indent, rule=False
            )
        raise TypeError(f"cannot format {type(s).__name__}")

    @staticmethod
    def _arg(e: ast.Expr) -> str:
        # a `? :` argument reads better in parentheses (the grammar does not need them)
        return format_expr(e, _P_COALESCE)

    def _headed(
        self,
        clauses: list[list[str]],
        body: Sequence[ast.Stmt],
        key: Key,
        indent: str,
        rule: bool,
    ) -> list[str]:
        """A header (wrapped as needed) followed by a block, or for a rule
        with a single action, by `do ACTION`."""
        if rule and len(body) == 1 and isinstance(body[0], ast.ACTIONS):
            action = body[0]
            if key not in self.c.dirty and key not in self.c.dangling:
                act = self.stmt(action, "")[0]
                return _pack([*clauses, [f"do {act}"]], indent)
        opener = "do {" if rule else "{"
        head = _pack([*clauses[:-1], [*clauses[-1], opener]], indent)
        inline = self._inline(body, key)
        if inline is not None and len(head) == 1 and len(head[0]) + len(inline) + 3 <= WIDTH:
            return [f"{head[0]} {inline} }}"]
        if not body and key not in self.c.dangling:
            return [*head[:-1], head[-1] + "}"]
        return [*head, *self._body(body, key, indent + INDENT), f"{indent}}}"]

    def _if(self, s: ast.If, indent: str) -> list[str]:
        if s.rule is not None:
            cond, body = s.arms[0]
            segs = _guard_segments(f"rule {s.rule}: when ", cond)
            return self._headed([segs], body, ("arm", id(s), 0), indent, rule=True)
        out: list[str] = []
        for k, (cond, body) in enumerate(s.arms):
            word = "if " if k == 0 else "elif "
            lines = self._headed(
                [_guard_segments(word, cond)], body, ("arm", id(s), k), indent, rule=False
            )
            if k:
                lines[0] = out.pop() + " " + lines[0].lstrip()
            out += lines
        if s.orelse is not None:
            lines = self._headed([["else"]], s.orelse, ("else", id(s)), indent, rule=False)
            lines[0] = out.pop() + " " + lines[0].lstrip()
            out += lines
        return out

    def _for(self, s: ast.For, indent: str) -> list[str]:
        h = s.head
        lead = f"rule {s.rule}: for " if s.rule is not None else "for "
        clauses = [[f"{lead}{h.var} in {format_expr(h.source, 1)}"]]
        if h.where is not None:
            clauses.append(_guard_segments("where ", h.where))
        if h.order:
            keys = ", ".join(
                format_expr(k.key, 1) + (" desc" if k.descending else "") for k in h.order
            )
            clauses.append([f"order by {keys}"])
        if h.limit is not None:
            clauses.append([f"limit {format_expr(h.limit, 1)}"])
        return self._headed(clauses, s.body, ("body", id(s)), indent, rule=s.rule is not None)


# ------------------------------------------------------------------ entry points


def format_program(program: ast.Program) -> str:
    """Canonical text of a program (no comments: the AST has none)."""
    return _Printer().program(program)


def fmt(source: str, path: str = "<input>") -> str:
    """Reformat program text, keeping its comments. Raises `DiagnosticError`
    on a syntax error (nothing is reformatted then)."""
    program = parse(source, path)
    out = _Printer(_Attacher(program, source).run()).program(program)
    if sorted(c[1] for c in _scan(out).comments) != sorted(c[1] for c in _scan(source).comments):
        # never hand back a file with a comment missing; this is a bug in fmt
        raise RuntimeError(f"{path}: fmt would lose or duplicate a comment; file left unchanged")
    return out
