"""Budget polarity: does a larger β make the controller spend more?

For every use of a knob we find the sign of "a larger knob value makes the
controller spend more tokens" at that site:

* the count of `spawn`/`read_full`/`step ... times`: +;
* a guard: + when it guards spending (`spawn`, `read_full`, `step`), − when
  it guards stopping (`answer`, `stop`, `prune`) — "easier to satisfy" means
  more of what it guards, and less of what its `elif`/`else` arms do;
* a loop's `where`/`limit`, a `repeat` count: the sign of what the body does;
* `limits`: `max_rounds`, `max_branches`, `fuel` allow more as they grow: +.

Inside an expression the sign follows the path down to the knob: `x >= k` is
harder as k grows, `-` and `not` flip, `*` and `/` take the sign of the other
factor (from intervals), a builtin its per-argument monotonicity from the
builtins table, `c ? a : b` the sign of `a - b` for its test. Lets are
followed into their definition and knobs into earlier knobs they use. A
knob that only feeds state (`ema = ... ema_alpha ...`) or a window size gets
sign 0: its effect depends on the run.

Multiplied by the knob's declared direction, each site says whether a larger
β spends more (+) or less (−). W201: sites disagree (named both); W202:
every known site spends less. Both are errors under `--strict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field

from .. import ast
from ..diagnostics import Span
from ..records import record
from ..types import T
from .context import Context
from .intervals import Binding, Env, Interval, IntervalEval, Val, children

LIMITS_THAT_ALLOW_MORE = ("max_rounds", "max_branches", "fuel")
_SIGN = {"pos": 1, "neg": -1, "zero": 0, "any": 0}


@record
class Site:
    knob: str
    sign: int  # +1: a larger value spends more; -1: less; 0: unknown
    span: Span  # the knob's occurrence
    line: int  # the line of the statement whose spending it moves
    context: str  # "guard of `answer` (rule momentum_stop)", "count of `spawn`", ...
    via: tuple[str, ...] = ()

    def describe(self) -> str:
        via = f" via `{'` → `'.join(self.via)}`" if self.via else ""
        return f"line {self.line}: {self.context}{via}"

    def to_json(self, direction: str) -> dict[str, object]:
        return {
            "line": self.line,
            "context": self.context,
            "via": list(self.via),
            "knob_sign": self.sign,
            "beta_sign": self.sign * dir_sign(direction),
            "span": self.span.to_json(),
        }


def dir_sign(direction: str) -> int:
    return {"up": 1, "down": -1}.get(direction, 0)


@record(frozen=False)
class KnobPolarity:
    knob: str
    direction: str
    sites: list[Site] = field(default_factory=list)

    @property
    def beta_signs(self) -> list[int]:
        return [s.sign * dir_sign(self.direction) for s in self.sites]

    @property
    def verdict(self) -> str:
        """more | less | mixed | unknown (sites, none decided) | none (no site)"""
        if self.direction == "const":
            return "const"
        if not self.sites:
            return "none"
        signs = {s for s in self.beta_signs if s}
        if signs == {1}:
            return "more"
        if signs == {-1}:
            return "less"
        if signs:
            return "mixed"
        return "unknown"

    def summary(self) -> str:
        bs = self.beta_signs
        plus, minus, zero = bs.count(1), bs.count(-1), bs.count(0)
        parts = [(plus, "+"), (minus, "−"), (zero, "?")]
        counts = " ".join(f"{mark}{n}" for n, mark in parts if n)
        return f"{self.verdict} ({counts})" if counts else self.verdict


def _effect_kinds(stmts: Sequence[ast.Stmt], out: set[str]) -> None:
    for s in stmts:
        if isinstance(s, ast.Spawn):
            out.add("spawn")
        elif isinstance(s, ast.ReadFull):
            out.add("read_full")
        elif isinstance(s, ast.Step):
            out.add("step")
        elif isinstance(s, ast.Prune):
            out.add("prune")
        elif isinstance(s, ast.Answer):
            out.add("answer")
        elif isinstance(s, ast.StopLoop):
            out.add("stop")
        elif isinstance(s, ast.If):
            for _, b in s.arms:
                _effect_kinds(b, out)
            _effect_kinds(s.orelse or (), out)
        elif isinstance(s, ast.For | ast.Repeat):
            _effect_kinds(s.body, out)


_SPEND = {"spawn", "read_full", "step"}


def effect(kinds: set[str]) -> int | None:
    """+1 only spends, -1 only stops/prunes, 0 neither, None both."""
    spend = bool(kinds & _SPEND)
    stop = bool(kinds - _SPEND)
    if spend and stop:
        return None
    return 1 if spend else -1 if stop else 0


def guard_sign(own: int | None, rest: int | None) -> int:
    if own is None or rest is None:
        return 0
    signs = {x for x in (own, -rest) if x}
    return signs.pop() if len(signs) == 1 else 0


def kinds_of(stmts: Sequence[ast.Stmt]) -> set[str]:
    out: set[str] = set()
    _effect_kinds(stmts, out)
    return out


def _what(kinds: set[str]) -> str:
    return "/".join(f"`{k}`" for k in sorted(kinds)) or "no action"


class Polarity:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ev = IntervalEval(ctx.limits, ctx.field_types())
        self.sites: list[Site] = []
        self.global_env = ctx.global_env()
        self._vals: dict[tuple[int, int], tuple[ast.Expr, Val]] = {}

    def run(self) -> dict[str, KnobPolarity]:
        p = self.ctx.program
        env = self.global_env
        for lim in p.limits:
            sign = 1 if lim.name in LIMITS_THAT_ALLOW_MORE else 0
            self.expr(lim.expr, sign, env, f"limit `{lim.name}`", lim.span.line, ())
        for d in p.state:
            if d.type.size is not None:
                self.expr(d.type.size, 0, env, f"size of window `{d.name}`", d.span.line, ())
        for d in (*p.state, *p.branch_fields):
            if d.init is not None:
                self.expr(d.init, 0, env, f"initial value of `{d.name}`", d.span.line, ())
        for block in (p.init, p.round, p.final):
            if block is not None:
                self.block(block.body, env.child())
        out = {k.name: KnobPolarity(k.name, k.direction) for k in p.knobs}
        # one site per (statement, role): `a*k + k` counts k once per sign
        seen: set[tuple[str, int, int, str, tuple[str, ...]]] = set()
        for s in self.sites:
            key = (s.knob, s.sign, s.line, s.context, s.via)
            if key not in seen and s.knob in out:
                seen.add(key)
                out[s.knob].sites.append(s)
        self.report(out)
        return out

    # -- expressions -----------------------------------------------------------------

    def val(self, e: ast.Expr, env: Env) -> Val:
        # memoised per node and scope: signs are asked of every sub-expression
        key = (id(e), id(env))
        got = self._vals.get(key)
        if got is None or got[0] is not e:
            got = self._vals[key] = (e, self.ev.eval(e, env, quiet=True))
        return got[1]

    def sign_of(self, e: ast.Expr, env: Env) -> int:
        return _SIGN[self.val(e, env).iv.sign]

    def expr(
        self,
        e: ast.Expr,
        s: int,
        env: Env,
        where: str,
        line: int,
        via: tuple[str, ...],
        followed: set[tuple[str, int]] | None = None,
    ) -> None:
        # `followed`: the (let or knob, sign) pairs already expanded for this
        # site; each is expanded once (the first chain found names it), which
        # keeps a chain of definitions that each use the previous one twice
        # linear instead of exponential
        seen = followed if followed is not None else set()
        if isinstance(e, ast.Name):
            b = env.lookup(e.id)
            if b is None:
                return
            if b.kind == "knob":
                self.sites.append(Site(e.id, s, e.span, line, where, via))
                k = self.ctx.knobs[e.id]
                if e.id not in via and (e.id, s) not in seen:
                    seen.add((e.id, s))
                    self.expr(k.expr, s, self.global_env, where, line, (*via, e.id), seen)
            elif (
                b.kind == "let" and b.expr is not None and e.id not in via and (e.id, s) not in seen
            ):
                seen.add((e.id, s))
                self.expr(b.expr, s, env, where, line, (*via, e.id), seen)
            return
        for child, cs in self.child_signs(e, s, env):
            self.expr(child, cs, env, where, line, via, seen)

    def child_signs(self, e: ast.Expr, s: int, env: Env) -> list[tuple[ast.Expr, int]]:
        if isinstance(e, ast.Unary):
            return [(e.operand, -s)]
        if isinstance(e, ast.Binary):
            if e.op == "+":
                return [(e.left, s), (e.right, s)]
            if e.op == "-":
                return [(e.left, s), (e.right, -s)]
            if e.op == "*":
                return [
                    (e.left, s * self.sign_of(e.right, env)),
                    (e.right, s * self.sign_of(e.left, env)),
                ]
            if e.op in ("/", "//"):
                den = self.val(e.right, env).iv
                if den.contains(0):
                    return [(e.left, 0), (e.right, 0)]
                return [
                    (e.left, s * _SIGN[den.sign]),
                    (e.right, -s * self.sign_of(e.left, env)),
                ]
            return [(e.left, 0), (e.right, 0)]
        if isinstance(e, ast.Compare):
            if e.op in ("<", "<="):
                return [(e.left, -s), (e.right, s)]
            if e.op in (">", ">="):
                return [(e.left, s), (e.right, -s)]
            return [(e.left, 0), (e.right, 0)]
        if isinstance(e, ast.BoolOp):
            return [(e.left, s), (e.right, s)]
        if isinstance(e, ast.Cond):
            then = self.val(e.then, env).iv
            other = self.val(e.other, env).iv
            diff = then.sub(other, floaty=not (then.integral and other.integral))
            return [(e.test, s * _SIGN[diff.sign]), (e.then, s), (e.other, s)]
        if isinstance(e, ast.Call):
            vals = [self.val(a, env) for a in e.args]
            row = self.ev.row_for(e, vals, env)
            if row is None:
                return [(a, 0) for a in e.args]
            monos = row.mono_for([v.iv.bounds for v in vals])
            out: list[tuple[ast.Expr, int]] = []
            for i, a in enumerate(e.args):
                m = monos[i] if i < len(monos) else "none"
                out.append((a, s if m == "incr" else -s if m == "decr" else 0))
            return out
        if isinstance(e, ast.Query | ast.Generator):
            return [(c, 0) for c in children(e)]
        return [(c, 0) for c in children(e)]

    # -- statements --------------------------------------------------------------------

    def block(self, stmts: Sequence[ast.Stmt], env: Env) -> None:
        for s in stmts:
            self.stmt(s, env)

    def stmt(self, s: ast.Stmt, env: Env) -> None:
        line = s.span.line
        if isinstance(s, ast.Let):
            v = self.ev.eval(s.value, env, quiet=True)
            env.names[s.name] = Binding("let", v, expr=s.value)
        elif isinstance(s, ast.AssignVar):
            self.expr(s.value, 0, env, f"assigned to state `{s.name}`", line, ())
        elif isinstance(s, ast.AssignField):
            self.expr(s.value, 0, env, f"assigned to `{s.var}.{s.name}`", line, ())
        elif isinstance(s, ast.CallStmt):
            for a in s.args:
                self.expr(a, 0, env, f"`{s.func}(...)`", line, ())
        elif isinstance(s, ast.If):
            bodies = [b for _, b in s.arms] + ([s.orelse] if s.orelse is not None else [])
            kinds = [kinds_of(b) for b in bodies]
            for i, (cond, body) in enumerate(s.arms):
                rest: set[str] = set().union(*kinds[i + 1 :]) if i + 1 < len(kinds) else set()
                g = guard_sign(effect(kinds[i]), effect(rest))
                label = f"rule `{s.rule}`" if s.rule else "`if`"
                where = f"guard of {label} ({_what(kinds[i])})"
                self.expr(cond, g, env, where, cond.span.line or line, ())
                self.block(body, env.child())
            if s.orelse is not None:
                self.block(s.orelse, env.child())
        elif isinstance(s, ast.For):
            h = s.head
            acts = kinds_of(s.body)
            e = effect(acts) or 0
            label = f"rule `{s.rule}`" if s.rule else "`for`"
            inner = env.child()
            inner.names[h.var] = Binding("loop", Val(Interval.top(True), T.BRANCH, False))
            if h.where is not None:
                self.expr(h.where, e, inner, f"`where` of {label} ({_what(acts)})", line, ())
            if h.limit is not None:
                self.expr(h.limit, e, env, f"`limit` of {label} ({_what(acts)})", line, ())
            for k in h.order:
                self.expr(k.key, 0, inner, f"`order by` of {label}", line, ())
            self.block(s.body, inner.child())
        elif isinstance(s, ast.Repeat):
            acts = kinds_of(s.body)
            what = f"count of `repeat` ({_what(acts)})"
            self.expr(s.count, effect(acts) or 0, env, what, line, ())
            self.block(s.body, env.child())
        elif isinstance(s, ast.Spawn | ast.ReadFull):
            verb = "spawn" if isinstance(s, ast.Spawn) else "read_full"
            self.expr(s.count, 1, env, f"count of `{verb}`", line, ())
        elif isinstance(s, ast.Step):
            if s.times is not None:
                self.expr(s.times, 1, env, "count of `step ... times`", line, ())
        elif isinstance(s, ast.Prune):
            self.expr(s.branch, 0, env, "`prune`", line, ())
        elif isinstance(s, ast.Answer):
            self.expr(s.value, 0, env, "`answer`", line, ())

    # -- diagnostics ------------------------------------------------------------------

    def report(self, knobs: dict[str, KnobPolarity]) -> None:
        severity = "error" if self.ctx.strict else "warning"
        for kp in knobs.values():
            k = self.ctx.knobs[kp.knob]
            verdict = kp.verdict
            if verdict not in ("mixed", "less"):
                continue
            more = [s for s, b in zip(kp.sites, kp.beta_signs, strict=True) if b > 0]
            less = [s for s, b in zip(kp.sites, kp.beta_signs, strict=True) if b < 0]
            notes = tuple(
                f"{'+' if b > 0 else '−' if b < 0 else '?'} {s.describe()}"
                for s, b in zip(kp.sites, kp.beta_signs, strict=True)
            )
            if verdict == "mixed":
                self.ctx.add(
                    "W201",
                    severity,  # type: ignore[arg-type]
                    f"knob `{kp.knob}` pulls the budget both ways as β grows: it spends more at "
                    f"{more[0].describe()}, but less at {less[0].describe()}",
                    k.span,
                    label=f"declared {kp.direction}",
                    hint="split it into one knob per use, each with the direction that makes "
                    "a larger β spend more",
                    notes=notes,
                )
            else:
                self.ctx.add(
                    "W202",
                    severity,  # type: ignore[arg-type]
                    f"as β grows, knob `{kp.knob}` makes the controller spend less: "
                    f"{less[0].describe()}",
                    k.span,
                    label=f"declared {kp.direction}",
                    hint="β is meant to buy accuracy with tokens: let this knob move the other "
                    "way with β, or accept the warning if it is deliberate",
                    notes=notes,
                )
