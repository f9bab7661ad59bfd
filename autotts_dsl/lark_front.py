"""The Lark front end: source text → parse tree → typed AST, and syntax
errors as diagnostics with hints.

`parser.parse` is the public entry; it comes here only when the parse cache
(parse_cache.py) does not already hold the program, so a warm `tts-dsl run`
or `check` never imports Lark. The grammar lives in `grammar/tts.lark`
(installed as autotts_dsl/grammar). `_ToAst` turns Lark's tree into frozen
records with spans. No program text is ever evaluated as Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostic, DiagnosticError, Span, did_you_mean
from .parser import GRAMMAR_PATH, KEYWORDS, MAX_DEPTH


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    return lark.Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,  # reuse the LALR tables across processes (CLI start-up time)
    )


def _span(meta: Any) -> Span:
    if getattr(meta, "empty", True):
        return Span(0, 0, 0, 0)
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(tok: Token) -> Span:
    line = tok.line or 0
    col = tok.column or 0
    end_line = tok.end_line or line
    end_col = tok.end_column or col + len(str(tok))
    return Span(line, col, end_line, end_col)


_SECTIONS = {
    "limits_section": "limits",
    "params_section": "params",
    "schedule_section": "schedule",
    "state_section": "state",
    "branch_section": "branch",
    "init_section": "init",
    "round_section": "round",
    "finally_section": "finally",
}


@v_args(meta=True, inline=True)
class _ToAst(Transformer[Token, Any]):
    """Parse tree → AST. Method names are the grammar's rule/alias names."""

    # -- program structure --------------------------------------------------

    def start(self, meta: Any, header: tuple[str, str, Span], *sections: Any) -> ast.Program:
        name, description, _ = header
        found: dict[str, tuple[Any, Span]] = {}
        dups: list[Diagnostic] = []
        for kind, value, span in sections:
            if kind in found:
                dups.append(
                    Diagnostic(
                        "E002",
                        "error",
                        f"section `{kind}` appears twice",
                        span,
                        label="second definition",
                        hint=f"merge the two `{kind}` sections into one",
                    )
                )
            found[kind] = (value, span)
        if dups:
            raise DiagnosticError(dups)

        def items(kind: str) -> tuple[Any, ...]:
            return tuple(found[kind][0]) if kind in found else ()

        def block(kind: str) -> ast.Block | None:
            if kind not in found:
                return None
            body, span = found[kind]
            return ast.Block(body, span=span)

        return ast.Program(
            name=name,
            description=description,
            limits=items("limits"),
            params=items("params"),
            knobs=items("schedule"),
            state=items("state"),
            branch_fields=items("branch"),
            init=block("init"),
            round=block("round"),
            final=block("finally"),
            span=_span(meta),
        )

    def header(self, meta: Any, name: Token, desc: Token | None) -> tuple[str, str, Span]:
        return str(name), (str(desc)[1:-1] if desc is not None else ""), _span(meta)

    def _section(self, kind: str, meta: Any, items: Any) -> tuple[str, Any, Span]:
        return kind, items, _span(meta)

    def limits_section(self, meta: Any, *items: ast.Limit) -> tuple[str, Any, Span]:
        return self._section("limits", meta, items)

    def params_section(self, meta: Any, *items: ast.Param) -> tuple[str, Any, Span]:
        return self._section("params", meta, items)

    def schedule_section(self, meta: Any, *items: ast.Knob) -> tuple[str, Any, Span]:
        return self._section("schedule", meta, items)

    def state_section(self, meta: Any, *items: ast.VarDecl) -> tuple[str, Any, Span]:
        return self._section("state", meta, items)

    def branch_section(self, meta: Any, *items: ast.VarDecl) -> tuple[str, Any, Span]:
        return self._section("branch", meta, items)

    def init_section(self, meta: Any, body: tuple[ast.Stmt, ...]) -> tuple[str, Any, Span]:
        return self._section("init", meta, body)

    def round_section(self, meta: Any, body: tuple[ast.Stmt, ...]) -> tuple[str, Any, Span]:
        return self._section("round", meta, body)

    def finally_section(self, meta: Any, body: tuple[ast.Stmt, ...]) -> tuple[str, Any, Span]:
        return self._section("finally", meta, body)

    def limit_item(self, meta: Any, name: Token, expr: ast.Expr) -> ast.Limit:
        return ast.Limit(str(name), expr, span=_tok_span(name))

    def param_item(self, meta: Any, name: Token, typ: Token, expr: ast.Expr) -> ast.Param:
        return ast.Param(str(name), str(typ), expr, span=_tok_span(name))

    def knob(
        self, meta: Any, name: Token, typ: Token, direction: Token, expr: ast.Expr
    ) -> ast.Knob:
        d: ast.Direction = "up" if direction == "up" else "down" if direction == "down" else "const"
        return ast.Knob(str(name), str(typ), d, expr, span=_tok_span(name))

    def var_decl(
        self, meta: Any, name: Token, typ: ast.TypeRef, init: ast.Expr | None
    ) -> ast.VarDecl:
        return ast.VarDecl(str(name), typ, init, span=_tok_span(name))

    def simple_type(self, meta: Any, name: Token) -> ast.TypeRef:
        return ast.TypeRef(str(name), span=_span(meta))

    def sized_type(self, meta: Any, name: Token, size: ast.Expr) -> ast.TypeRef:
        return ast.TypeRef(str(name), size, span=_span(meta))

    # -- statements -----------------------------------------------------------

    def block(self, meta: Any, *stmts: ast.Stmt) -> tuple[ast.Stmt, ...]:
        return stmts

    def let_stmt(self, meta: Any, name: Token, value: ast.Expr) -> ast.Let:
        return ast.Let(str(name), value, span=_span(meta))

    def assign_var(self, meta: Any, name: Token, value: ast.Expr) -> ast.AssignVar:
        return ast.AssignVar(str(name), value, span=_span(meta))

    def assign_field(self, meta: Any, var: Token, name: Token, value: ast.Expr) -> ast.AssignField:
        return ast.AssignField(str(var), str(name), value, span=_span(meta))

    def call_stmt(self, meta: Any, func: Token, *args: ast.Expr | None) -> ast.CallStmt:
        return ast.CallStmt(str(func), tuple(a for a in args if a is not None), span=_span(meta))

    def if_stmt(self, meta: Any, cond: ast.Expr, body: tuple[ast.Stmt, ...], *rest: Any) -> ast.If:
        arms = [(cond, body)]
        orelse = None
        for item in rest:
            if item is None:
                continue
            kind, value = item
            if kind == "elif":
                arms.append(value)
            else:
                orelse = value
        return ast.If(tuple(arms), orelse, span=_span(meta))

    def elif_clause(self, meta: Any, cond: ast.Expr, body: tuple[ast.Stmt, ...]) -> Any:
        return "elif", (cond, body)

    def else_clause(self, meta: Any, body: tuple[ast.Stmt, ...]) -> Any:
        return "else", body

    def loop_head(
        self,
        meta: Any,
        var: Token,
        source: ast.Expr,
        where: ast.Expr | None,
        order: tuple[ast.SortKey, ...] | None,
        limit: ast.Expr | None,
    ) -> ast.LoopHead:
        return ast.LoopHead(str(var), source, where, order or (), limit, span=_span(meta))

    def where_clause(self, meta: Any, cond: ast.Expr) -> ast.Expr:
        return cond

    def order_clause(self, meta: Any, *keys: ast.SortKey) -> tuple[ast.SortKey, ...]:
        return keys

    def sort_key(self, meta: Any, key: ast.Expr, direction: Token | None) -> ast.SortKey:
        return ast.SortKey(key, direction is not None and str(direction) == "desc")

    def limit_clause(self, meta: Any, n: ast.Expr) -> ast.Expr:
        return n

    def for_stmt(self, meta: Any, head: ast.LoopHead, body: tuple[ast.Stmt, ...]) -> ast.For:
        return ast.For(head, body, span=_span(meta))

    def repeat_stmt(self, meta: Any, n: ast.Expr, body: tuple[ast.Stmt, ...]) -> ast.Repeat:
        return ast.Repeat(n, body, span=_span(meta))

    @staticmethod
    def _body(body: Any) -> tuple[ast.Stmt, ...]:
        return body if isinstance(body, tuple) else (body,)

    def when_rule(self, meta: Any, name: Token, cond: ast.Expr, body: Any) -> ast.If:
        return ast.If(((cond, self._body(body)),), None, rule=str(name), span=_span(meta))

    def for_rule(self, meta: Any, name: Token, head: ast.LoopHead, body: Any) -> ast.For:
        return ast.For(head, self._body(body), rule=str(name), span=_span(meta))

    def spawn_stmt(self, meta: Any, n: ast.Expr) -> ast.Spawn:
        return ast.Spawn(n, span=_span(meta))

    def read_full_stmt(self, meta: Any, n: ast.Expr) -> ast.ReadFull:
        return ast.ReadFull(n, span=_span(meta))

    def step_stmt(self, meta: Any, b: ast.Expr, times: ast.Expr | None) -> ast.Step:
        return ast.Step(b, times, span=_span(meta))

    def prune_stmt(self, meta: Any, b: ast.Expr) -> ast.Prune:
        return ast.Prune(b, span=_span(meta))

    def answer_stmt(self, meta: Any, value: ast.Expr) -> ast.Answer:
        return ast.Answer(value, span=_span(meta))

    def stop_stmt(self, meta: Any) -> ast.StopLoop:
        return ast.StopLoop(span=_span(meta))

    # -- expressions ----------------------------------------------------------

    def int_lit(self, meta: Any, tok: Token) -> ast.IntLit:
        return ast.IntLit(int(tok), span=_tok_span(tok))

    def float_lit(self, meta: Any, tok: Token) -> ast.FloatLit:
        return ast.FloatLit(float(tok), str(tok), span=_tok_span(tok))

    def true_lit(self, meta: Any) -> ast.BoolLit:
        return ast.BoolLit(True, span=_span(meta))

    def false_lit(self, meta: Any) -> ast.BoolLit:
        return ast.BoolLit(False, span=_span(meta))

    def none_lit(self, meta: Any) -> ast.NoneLit:
        return ast.NoneLit(span=_span(meta))

    def name(self, meta: Any, tok: Token) -> ast.Name:
        return ast.Name(str(tok), span=_tok_span(tok))

    def field(self, meta: Any, obj: ast.Expr, name: Token) -> ast.Field:
        return ast.Field(obj, str(name), span=_span(meta))

    def call(self, meta: Any, func: Token, *args: ast.Expr | None) -> ast.Call:
        return ast.Call(str(func), tuple(a for a in args if a is not None), span=_span(meta))

    def query(self, meta: Any, var: Token, source: ast.Expr, where: ast.Expr | None) -> ast.Query:
        return ast.Query(str(var), source, where, span=_span(meta))

    def generator(
        self, meta: Any, value: ast.Expr, var: Token, source: ast.Expr, where: ast.Expr | None
    ) -> ast.Generator:
        return ast.Generator(value, str(var), source, where, span=_span(meta))

    def neg(self, meta: Any, _op: Token, operand: ast.Expr) -> ast.Expr:
        if isinstance(operand, ast.IntLit):  # fold `-3` into a literal
            return ast.IntLit(-operand.value, span=_span(meta))
        if isinstance(operand, ast.FloatLit):
            return ast.FloatLit(-operand.value, "-" + operand.text, span=_span(meta))
        return ast.Unary("-", operand, span=_span(meta))

    def not_op(self, meta: Any, operand: ast.Expr) -> ast.Unary:
        return ast.Unary("not", operand, span=_span(meta))

    def binary(self, meta: Any, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Binary:
        return ast.Binary(str(op), left, right, span=_span(meta))  # type: ignore[arg-type]

    def compare(self, meta: Any, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Compare:
        return ast.Compare(str(op), left, right, span=_span(meta))  # type: ignore[arg-type]

    def and_op(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.BoolOp:
        return ast.BoolOp("and", left, right, span=_span(meta))

    def or_op(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.BoolOp:
        return ast.BoolOp("or", left, right, span=_span(meta))

    def cond(self, meta: Any, test: ast.Expr, then: ast.Expr, other: ast.Expr) -> ast.Cond:
        return ast.Cond(test, then, other, span=_span(meta))

    def coalesce(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Coalesce:
        return ast.Coalesce(left, right, span=_span(meta))


# ------------------------------------------------------------ syntax errors

_TOKEN_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": 'a "string"',
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COLON": "`:`",
    "COMMA": "`,`",
    "EQUAL": "`=`",
    "SEMICOLON": "`;`",
    "DOT": "`.`",
    "QMARK": "`?`",
    "COMP_OP": "a comparison",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "DSLASH": "`//`",
    "PERCENT": "`%`",
    "$END": "end of file",
}


def _terminal_text(name: str) -> str:
    """How a grammar terminal reads in a message: never lark's own names
    (`__ANON_0` is the `??` operator)."""
    if name in _TOKEN_NAMES:
        return _TOKEN_NAMES[name]
    try:
        term = _lark().get_terminal(name)
    except KeyError:
        term = None
    if term is not None and type(term.pattern).__name__ == "PatternStr":
        return f"`{term.pattern.value!s}`"
    if name.replace("_", "").isalpha() and name.isupper():
        return f"`{name.lower()}`"
    return "a token"


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_terminal_text(t) for t in expected})
    if len(names) > 10:
        return ", ".join(names[:8]) + f" or one of {len(names) - 8} more"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " or " + names[-1]
    return names[0] if names else "something else"


SECTION_WORDS = frozenset(
    ["controller", "limits", "params", "schedule", "state", "branch", "init", "round", "finally"]
)


def _keywords_in(expected: set[str]) -> list[str]:
    """The keywords among the terminals a parser state expects."""
    out = []
    for t in expected:
        text = _terminal_text(t)
        word = text.strip("`")
        if text.startswith("`") and word in KEYWORDS:
            out.append(word)
    return out


def _word_at(line_text: str, col: int) -> tuple[str, int]:
    """The identifier covering or ending just before 1-based `col` (and its
    column), else ('', 0)."""
    i = max(0, min(col - 1, len(line_text)))

    def ident(ch: str) -> bool:
        return ch.isalnum() or ch == "_"

    if i < len(line_text) and ident(line_text[i]):
        start = i
        while start > 0 and ident(line_text[start - 1]):
            start -= 1
        end = i
        while end < len(line_text) and ident(line_text[end]):
            end += 1
        return line_text[start:end], start + 1
    return "", 0


def _word_before(line_text: str, col: int) -> str:
    """The last identifier before 1-based `col` on the line."""
    words: list[str] = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line_text[: max(0, col - 1)])
    return words[-1] if words else ""


def _osa_distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours (`sapwn`) as one edit."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _keyword_like(word: str, candidates: Iterable[str]) -> str:
    """`did you mean `spawn`?` when `word` is one or two typos from a keyword."""
    limit = 1 if len(word) <= 4 else 2
    best = sorted((_osa_distance(word, c), c) for c in set(candidates) if c != word)
    if best and best[0][0] <= limit:
        return f"did you mean `{best[0][1]}`?"
    return did_you_mean(word, candidates)


def _typo_hint(found: str, expected: set[str], line_text: str, col: int) -> str:
    """`did you mean `finally`?` for a misspelt keyword: the word at the
    error, or the word just before it (`read_ful 1` fails at the `1`)."""
    word, start = _word_at(line_text, col)
    if word and word not in KEYWORDS:
        candidates = _keywords_in(expected) if start == col else []
        hint = _keyword_like(word, candidates or KEYWORDS)
        if hint:
            return f"`{word}` is not a keyword here; {hint}"
    before = _word_before(line_text, col)
    if before and before not in KEYWORDS and before != word:
        hint = _keyword_like(before, KEYWORDS)
        if hint:
            return f"`{before}` is not a keyword; {hint}"
    return ""


def _section_starting(line_text: str, col: int) -> tuple[str, int] | None:
    """The section keyword that starts this line before `col` (`finally {`
    inside an open block lexes `finally` as a name, so the parser fails at
    the `{` after it), with its column."""
    stripped = line_text.lstrip()
    first = re.match(r"[A-Za-z_][A-Za-z0-9_]*", stripped)
    if first is None or first.group() not in SECTION_WORDS:
        return None
    start = len(line_text) - len(stripped) + 1
    return (first.group(), start) if start <= col else None


# ------------------------------------------------------------ unclosed blocks


def _braces(source: str, upto: tuple[int, int]) -> tuple[list[tuple[int, int]], list[Any]]:
    """Scan `{`/`}` before (line, col), outside comments and strings: the
    `{`s still open there, and the pairs that closed, each as
    ((open line, col), (close line, col))."""
    stack: list[tuple[int, int]] = []
    pairs: list[Any] = []
    line, col = 1, 0
    in_string = in_comment = False
    for ch in source:
        col += 1
        if (line, col) >= upto:
            break
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = in_string = False
            continue
        if in_comment:
            continue
        if in_string:
            in_string = ch != '"'
            continue
        if ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch == "{":
            stack.append((line, col))
        elif ch == "}" and stack:
            pairs.append((stack.pop(), (line, col)))
    return stack, pairs


def _indent(lines: list[str], line: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text) - len(text.lstrip())


def _block_name(lines: list[str], line: int, col: int) -> str:
    """`round`, `if`, `for`, `rule widen` ...: what opened the `{` at (line, col)."""
    text = lines[line - 1][: col - 1] if 0 < line <= len(lines) else ""
    words: list[str] = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    for i, w in enumerate(words):
        if w == "rule" and i + 1 < len(words):
            return f"rule {words[i + 1]}"
        if w in KEYWORDS and w not in ("and", "or", "not", "in", "where", "do", "times"):
            return w
    return "block"


def _unclosed_block(source: str, at: tuple[int, int], found: str) -> Diagnostic | None:
    """A missing `}`, reported at the `{` it should close: when the parser
    meets a new section (or the end of the file) inside an open block.

    Which block lacks its `}` is read off the indentation: a `}` that starts
    a line indented less than the line of the `{` it closed most likely
    belongs to an outer block, so the block it closed is the unclosed one."""
    stack, pairs = _braces(source, at)
    if not stack:
        return None
    lines = source.split("\n")
    culprit = stack[-1]
    closed_by: tuple[int, int] | None = None
    outer = stack[-1]
    for (o_line, o_col), (c_line, c_col) in pairs:
        if (o_line, o_col) <= outer:
            continue  # opened before the innermost open block: not inside it
        close_text = lines[c_line - 1]
        starts_line = close_text[: c_col - 1].strip() == ""
        if starts_line and o_line != c_line and _indent(lines, c_line) < _indent(lines, o_line):
            culprit, closed_by = (o_line, o_col), (c_line, c_col)
            break
    line, col = culprit
    what = _block_name(lines, line, col)
    where = "the end of the file" if found == "$END" else f"`{found}` at line {at[0]}"
    notes = [f"the parser reached {where} with this block still open"]
    if closed_by is not None:
        notes.append(
            f"the `}}` at line {closed_by[0]} closes it, but its indentation matches an "
            f"enclosing block (the `{_block_name(lines, *outer)}` at line {outer[0]})"
        )
        hint = f"add the missing `}}` for the `{what}` before line {closed_by[0]}"
    else:
        hint = f"add `}}` to close the `{what}` block before {where}"
    return Diagnostic(
        "E001",
        "error",
        f"unclosed `{{`: the `{what}` block opened at line {line} is never closed",
        Span.point(line, col),
        label="this `{` has no matching `}`",
        hint=hint,
        notes=tuple(notes),
    )


def _hint_for(found: str, expected: set[str], line_text: str) -> str:
    if found in ("&&", "&"):
        return "use `and`"
    if found in ("||", "|"):
        return "use `or`"
    if found == "!":
        return "use `not x` for negation, `!=` for inequality"
    if found == ":" and ("LBRACE" in expected or "{" in expected):
        return "blocks use braces: `if COND { ... }`, not a colon"
    if found == "=" and "COMP_OP" in expected:
        return "use `==` to compare"
    if found == "if" and "else" in line_text:
        return "write `elif COND { ... }` instead of `else if`"
    if found in ("True", "False", "None"):
        return f"literals are lower case: `{found.lower()}`"
    if found == "$END" or found == "":
        if "CONTROLLER" in expected:
            return "a program starts with `controller NAME`"
        return "a `}` may be missing"
    if found in KEYWORDS and "NAME" in expected:
        return f"`{found}` is a reserved word of the language; choose another name"
    return ""


def _end_of_text(source: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character."""
    lines = source.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


def _syntax_diagnostic(err: UnexpectedInput, source: str) -> Diagnostic:
    lines = source.split("\n")
    line = getattr(err, "line", 0) or 0
    col = getattr(err, "column", 0) or 0
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = set(err.expected)
        text = str(tok)
        section = None if tok.type == "$END" else _section_starting(line_text, col)
        if tok.type == "$END" or section is not None:
            at = (len(lines) + 1, 0) if section is None else (line, section[1])
            unclosed = _unclosed_block(source, at, "$END" if section is None else section[0])
            if unclosed is not None:
                return unclosed
        if tok.type == "$END":
            last, end_col = _end_of_text(source)
            return Diagnostic(
                "E001",
                "error",
                f"unexpected end of file; expected {_describe_expected(expected)}",
                Span.point(last, end_col),
                label="input ends here",
                hint=_hint_for("$END", expected, ""),
            )
        hint = _hint_for(text, expected, line_text) or _typo_hint(text, expected, line_text, col)
        if text == "*" and line_text[col - 2 : col] == "**":
            hint = "there is no `**` operator: write `pow(x, y)`"
        return Diagnostic(
            "E001",
            "error",
            f"unexpected `{text}`; expected {_describe_expected(expected)}",
            Span.point(line, col, len(text)),
            label="not expected here",
            hint=hint,
        )
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        ch = source[pos] if pos < len(source) else ""
        two = source[pos : pos + 2]
        found = two if two in ("&&", "||") else ch
        return Diagnostic(
            "E001",
            "error",
            f"unexpected character `{ch}`",
            Span.point(line, col, len(found)),
            label="not part of the language",
            hint=_hint_for(found, set(err.allowed or ()), line_text)
            or _typo_hint(found, set(err.allowed or ()), line_text, col),
        )
    if isinstance(err, UnexpectedEOF):
        last, end_col = _end_of_text(source)
        return Diagnostic(
            "E001",
            "error",
            "unexpected end of file",
            Span.point(last, end_col),
            hint="a `}` may be missing",
        )
    return Diagnostic(
        "E001", "error", f"syntax error: {err}", Span.point(max(1, line), max(1, col))
    )


def _too_deep(tree: lark.Tree[Token]) -> Diagnostic | None:
    """E001 at the first token nested deeper than MAX_DEPTH, if any (an
    explicit stack: the check itself must not recurse)."""
    stack: list[tuple[lark.Tree[Token] | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _depth_diagnostic(_first_span(node))
        if isinstance(node, lark.Tree):
            stack.extend((c, depth + 1) for c in node.children if c is not None)
    return None


def _first_span(node: lark.Tree[Token] | Token) -> Span:
    while isinstance(node, lark.Tree):
        kids = [c for c in node.children if c is not None]
        if not kids:
            return _span(node.meta) if not getattr(node.meta, "empty", True) else Span.point(1, 1)
        node = kids[0]
    return _tok_span(node)


def _depth_diagnostic(span: Span) -> Diagnostic:
    return Diagnostic(
        "E001",
        "error",
        f"the program nests too deeply (more than {MAX_DEPTH} levels of blocks and operators)",
        span,
        label="too deep here",
        hint="split the expression or block with `let` or separate rules",
    )


def parse_normalized(source: str, path: str) -> ast.Program:
    """Parse text whose line ends are already `\n` and that holds no NUL
    (what `parser.parse` hands over). Raises `DiagnosticError`."""
    try:
        tree = _lark().parse(source)
    except UnexpectedInput as err:
        raise DiagnosticError([_syntax_diagnostic(err, source)], source, path) from None
    deep = _too_deep(tree)
    if deep is not None:
        raise DiagnosticError([deep], source, path)
    try:
        program = _ToAst().transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, DiagnosticError):
            raise DiagnosticError(err.orig_exc.diagnostics, source, path) from None
        if isinstance(err.orig_exc, RecursionError):  # a backstop: `_too_deep` comes first
            raise DiagnosticError([_depth_diagnostic(Span.point(1, 1))], source, path) from None
        raise
    except RecursionError:
        raise DiagnosticError([_depth_diagnostic(Span.point(1, 1))], source, path) from None
    assert isinstance(program, ast.Program)
    return program
