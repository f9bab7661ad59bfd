"""The one table of builtins: name resolution, type checking, monotonicity
proofs, interpretation and the language reference card all read it.

A row is a `Builtin` (a function, possibly one of several overloads of a
name) or a `BuiltinValue` (a read of the controller's state, e.g. `round`).
Each function row declares, per argument, its monotonicity (CVXPY-DCP
style: the schedule checker composes these) and its implementation on
runtime values. Answers are interned ints; `none` is NO_ANSWER (-1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from .records import record
from .replay.numeric import neumaier_sum
from .replay.store import NO_ANSWER
from .replay.voting import beta_conf, tally, vote_stats
from .types import T, accepts

Mono = Literal["incr", "decr", "none"]
"""Monotonicity of a function in one argument, others held fixed."""


@record
class Builtin:
    name: str
    params: tuple[T, ...]
    result: T
    impl: Callable[..., Any]
    doc: str
    example: str
    mono: tuple[Mono, ...] = ()
    variadic: bool = False  # the last parameter repeats (at least once)
    schedule: bool = False  # pure numeric: allowed in `schedule`, `params`, `limits`
    effect: bool = False  # statement-only (mutates its first argument)
    cost: str = "O(1)"
    # How the VM computes it (`autotts_dsl/vm/opcodes.py`): an opcode, or an
    # opcode stem the lowering completes by type (`MIN` -> MIN_I / MIN_F);
    # `LEN` reads a length the VM already holds; `RERUN` hands the episode to
    # the reference; "" leaves programs using it to the reference.
    vm: str = ""
    # For numeric rows: does an all-int call return an int?
    int_preserving: bool = False
    # Domain condition on arguments for monotonicity to hold (checked by intervals).
    domain: str = ""
    # The implementation takes the runtime context first (reads episode state).
    needs_ctx: bool = False
    # A generator argument yields (b.answer, value) pairs instead of values.
    branch_keyed: bool = False
    # -- for the checker (autotts_dsl/checker); None means "nothing known" --
    # Range of the result from the ranges of the arguments (see `Bounds`); the
    # sign of a result is read off this range.
    interval: IntervalRule | None = None
    # Monotonicity per argument given the argument ranges: refines `mono` where
    # it depends on a domain condition (pow, clamp, abs).
    mono_at: MonoRule | None = None
    # Why the arguments may leave the function's domain ("" when they cannot).
    domain_at: DomainRule | None = None

    def mono_for(self, args: Sequence[Bounds]) -> tuple[Mono, ...]:
        """Monotonicity per argument over these argument ranges."""
        if self.mono_at is not None:
            return self.mono_at(args)
        declared: list[Mono] = list(self.mono) or ["none"] * len(self.params)
        if self.variadic and len(args) > len(declared):
            declared += [declared[-1]] * (len(args) - len(declared))
        return tuple(declared[: len(args)])

    @property
    def signature(self) -> str:
        ps = [str(p) for p in self.params]
        if self.variadic:
            ps[-1] += ", ..."
        return f"{self.name}({', '.join(ps)}) -> {self.result}"


@record
class BuiltinValue:
    """A name that reads controller state (or β)."""

    name: str
    type: T
    doc: str
    schedule: bool = False  # readable inside `schedule` (only `beta`)
    kind: Literal["state", "set", "beta"] = "state"
    # Static range for the checker (a set's or list's range is its size); the
    # upper end is capped by the limit named in `hi_limit` when there is one.
    lo: float = -math.inf
    hi: float = math.inf
    hi_limit: str = ""


@record
class BranchField:
    name: str
    type: T
    doc: str
    lo: float = -math.inf  # static range for the checker, as for BuiltinValue
    hi: float = math.inf
    hi_limit: str = ""


# ------------------------------------------------------------- checker rules

Bounds = tuple[float, float]
"""A closed range [lo, hi] (ends may be infinite). Interval rules see a number
argument as its range of values, a set, list or window as its range of
*sizes*, and a generator as the range of the values it yields."""

IntervalRule = Callable[[Sequence[Bounds]], Bounds]
MonoRule = Callable[[Sequence[Bounds]], tuple[Mono, ...]]
DomainRule = Callable[[Sequence[Bounds]], str]

UNBOUNDED: Bounds = (-math.inf, math.inf)


def _at_corner(impl: Callable[..., Any], args: Sequence[float]) -> float | None:
    """`impl` at one corner of the argument box; an int result stays an exact
    int (min/max of ints past 2**53 must not round)."""
    try:
        v = impl(*args)
    except OverflowError:
        # round/floor/ceil of ±inf or of a float beyond int64, exp/pow
        # overflowing: the values grow without bound towards that argument
        huge = next((a for a in args if abs(a) >= 2**63), None)
        return math.copysign(math.inf, huge) if huge is not None else math.inf
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    if isinstance(v, bool):
        return int(v)
    return v if isinstance(v, int) else float(v)


def corners(impl: Callable[..., Any]) -> IntervalRule:
    """Range of a function that is monotone in each argument separately (in a
    direction that may depend on the others): its extremes over a box of
    arguments lie at the box's corners, so evaluating those is exact."""

    def rule(args: Sequence[Bounds]) -> Bounds:
        lo, hi = math.inf, -math.inf
        n = len(args)
        for mask in range(1 << n):
            v = _at_corner(impl, [args[k][(mask >> k) & 1] for k in range(n)])
            if v is None or v != v:  # no value there, or NaN
                return UNBOUNDED
            lo, hi = min(lo, v), max(hi, v)
        return lo, hi

    return rule


def _round_n_interval(args: Sequence[Bounds]) -> Bounds:
    # Rounding to n decimals is monotone in x for a fixed n only.
    n_lo, n_hi = args[1]
    if n_lo != n_hi or not math.isfinite(n_lo):
        return UNBOUNDED
    return corners(lambda x: _round(x, int(n_lo)))(args[:1])


def _abs_interval(args: Sequence[Bounds]) -> Bounds:
    lo, hi = args[0]
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return 0.0, max(-lo, hi)


def _abs_mono(args: Sequence[Bounds]) -> tuple[Mono, ...]:
    lo, hi = args[0]
    return ("incr",) if lo >= 0 else ("decr",) if hi <= 0 else ("none",)


def _clamp_mono(args: Sequence[Bounds]) -> tuple[Mono, ...]:
    # clamp(x, lo, hi) is non-decreasing in x only while lo <= hi.
    return ("incr" if args[1][1] <= args[2][0] else "none", "incr", "incr")


def _pow_mono(args: Sequence[Bounds]) -> tuple[Mono, ...]:
    (x_lo, x_hi), (y_lo, y_hi) = args
    in_x: Mono = "incr" if x_lo >= 0 and y_lo >= 0 else "decr" if x_lo > 0 and y_hi <= 0 else "none"
    in_y: Mono = "incr" if x_lo >= 1 else "decr" if x_lo > 0 and x_hi <= 1 else "none"
    return in_x, in_y


def _pow_domain(args: Sequence[Bounds]) -> str:
    (x_lo, _), (y_lo, _) = args
    if x_lo < 0:
        return "the base can be negative (pow needs x >= 0)"
    if x_lo == 0 and y_lo < 0:
        return "the base can be 0 with a negative exponent"
    return ""


def _log_domain(args: Sequence[Bounds]) -> str:
    return "the argument can be <= 0 (log needs x > 0)" if args[0][0] <= 0 else ""


def _sqrt_domain(args: Sequence[Bounds]) -> str:
    return "the argument can be negative (sqrt needs x >= 0)" if args[0][0] < 0 else ""


def _unit_interval(args: Sequence[Bounds]) -> Bounds:
    return 0.0, 1.0


def _size_interval(args: Sequence[Bounds]) -> Bounds:
    return max(0.0, args[0][0]), args[0][1]


def _upto_size_interval(args: Sequence[Bounds]) -> Bounds:
    return 0.0, args[0][1]


def _recent_interval(args: Sequence[Bounds]) -> Bounds:
    return 0.0, min(args[0][1], max(0.0, args[1][1]))


def _gen_sum_interval(args: Sequence[Bounds]) -> Bounds:
    # Any number of values: the sign is all that survives.
    lo, hi = args[0]
    return (0.0 if lo >= 0 else -math.inf), (0.0 if hi <= 0 else math.inf)


def _gen_pick_interval(args: Sequence[Bounds]) -> Bounds:
    # One of the values, or 0 for an empty set.
    lo, hi = args[0]
    return min(0.0, lo), max(0.0, hi)


# ------------------------------------------------------------- implementations


INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
"""Ints are 64-bit: a result outside [INT_MIN, INT_MAX] is a run-time fault
(a located error at compile time when the expression is constant)."""


def int64(v: int) -> int:
    """`v`, or OverflowError when it leaves the int64 range."""
    if INT_MIN <= v <= INT_MAX:
        return v
    raise OverflowError(f"integer overflow: {describe_int(v)} is outside the 64-bit range")


def describe_int(v: int) -> str:
    text = str(v) if abs(v) < 10**30 else f"a {len(str(abs(v)))}-digit integer"
    return text


def _round(x: float, ndigits: int | None = None) -> Any:
    # Python's round: half-to-even, an int without ndigits (language semantics).
    if ndigits is None:
        return int64(round(x))
    if isinstance(x, int) and ndigits < -20:
        # Every int64 is < 5e19: from -20 on it rounds to 0, and Python would
        # first build 10**-ndigits (unbounded time for a huge ndigits).
        ndigits = -20
    return round(x, ndigits)


def _floor(x: float) -> int:
    return int64(math.floor(x))


def _ceil(x: float) -> int:
    return int64(math.ceil(x))


def _abs(x: Any) -> Any:
    return int64(abs(x)) if isinstance(x, int) else abs(x)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _winner(answers: Sequence[int]) -> int:
    w = vote_stats(answers)[0]
    return NO_ANSWER if w is None else w


def _conf(answers: Sequence[int]) -> float:
    _, t1, t2 = vote_stats(answers)
    return beta_conf(t1, t2)


def _count_of(answers: Sequence[int], a: int) -> int:
    return sum(1 for x in answers if x == a)


def _share(answers: Sequence[int], a: int) -> float:
    return _count_of(answers, a) / len(answers) if answers else 0.0


def _recent(answers: Sequence[int], n: int) -> list[int]:
    return list(answers[-n:]) if n > 0 else []


def _mean(values: Sequence[float]) -> float:
    return neumaier_sum(values) / len(values) if values else 0.0


def _sum(values: Sequence[Any]) -> Any:
    if all(type(v) is int for v in values):
        return int64(sum(values))
    return neumaier_sum(values)


def _min(values: Sequence[Any]) -> Any:
    return min(values) if values else 0


def _max(values: Sequence[Any]) -> Any:
    return max(values) if values else 0


def _votes_from_pairs(pairs: Sequence[tuple[int, float]]) -> dict[int, float]:
    # Weights add in branch order with plain double addition; `none` casts no vote.
    out: dict[int, float] = {}
    for answer, weight in pairs:
        if answer != NO_ANSWER:
            out[answer] = out.get(answer, 0.0) + float(weight)
    return out


def _votes_from_list(answers: Sequence[int]) -> dict[int, float]:
    return _votes_from_pairs([(a, 1.0) for a in answers])


def _vote_top(v: dict[int, float]) -> tuple[int, float, float]:
    best, t1, t2 = vote_stats_weighted(v)
    return best, t1, t2


def vote_stats_weighted(v: dict[int, float]) -> tuple[int, float, float]:
    """(winner, top1, top2) of a tally; ties go to the answer that voted first."""
    best = NO_ANSWER
    t1 = 0.0
    t2 = 0.0
    for a, w in v.items():
        if w > t1 or best == NO_ANSWER:
            if best != NO_ANSWER:
                t2 = t1
            best, t1 = a, w
        elif w > t2:
            t2 = w
    return best, t1, t2


def _delta(w: Window) -> float:
    return w.items[-1] - w.items[0] if len(w.items) >= 2 else 0.0


class Window:
    """A bounded FIFO of floats (`state { hist: window(n) }`)."""

    __slots__ = ("capacity", "items")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: list[float] = []

    def push(self, x: float) -> None:
        self.items.append(x)
        if len(self.items) > self.capacity:
            del self.items[0]

    def set_last(self, x: float) -> None:
        if self.items:
            self.items[-1] = x


def _push(w: Window, x: float) -> None:
    w.push(float(x))


def _set_last(w: Window, x: float) -> None:
    w.set_last(float(x))


INT, F, B, A = T.INT, T.FLOAT, T.BOOL, T.ANSWER

BUILTINS: tuple[Builtin, ...] = (
    # -- numeric (allowed in schedules; monotonicity feeds the proofs) --
    Builtin(
        "min",
        (F, F),
        F,
        min,
        "smallest of its arguments",
        "min(64, round(4 + 60*beta))",
        vm="MIN",
        mono=("incr", "incr"),
        variadic=True,
        schedule=True,
        int_preserving=True,
        interval=corners(min),
    ),
    Builtin(
        "max",
        (F, F),
        F,
        max,
        "largest of its arguments",
        "max(2, round(2 + 6*beta))",
        vm="MAX",
        mono=("incr", "incr"),
        variadic=True,
        schedule=True,
        int_preserving=True,
        interval=corners(max),
    ),
    Builtin(
        "clamp",
        (F, F, F),
        F,
        _clamp,
        "`x` limited to [lo, hi]",
        "clamp(x, 0.0, 1.0)",
        vm="CLAMP",
        mono=("incr", "incr", "incr"),
        schedule=True,
        int_preserving=True,
        interval=corners(_clamp),
        mono_at=_clamp_mono,
    ),
    Builtin(
        "round",
        (F,),
        INT,
        _round,
        "nearest int, ties to even (Python's round)",
        "round(2 + 6*beta)",
        vm="ROUND",
        mono=("incr",),
        schedule=True,
        interval=corners(_round),
    ),
    Builtin(
        "round",
        (F, INT),
        F,
        _round,
        "rounded to n decimals, ties to even",
        "round(0.85 + 0.12*beta, 4)",
        vm="RERUN",
        mono=("incr", "none"),
        schedule=True,
        interval=_round_n_interval,
    ),
    Builtin(
        "floor",
        (F,),
        INT,
        _floor,
        "largest int <= x",
        "floor(4.5*beta)",
        vm="FLOOR",
        mono=("incr",),
        schedule=True,
        interval=corners(_floor),
    ),
    Builtin(
        "ceil",
        (F,),
        INT,
        _ceil,
        "smallest int >= x",
        "ceil(gap * (1 - s))",
        vm="CEIL",
        mono=("incr",),
        schedule=True,
        interval=corners(_ceil),
    ),
    Builtin(
        "abs",
        (F,),
        F,
        _abs,
        "absolute value",
        "abs(delta(hist))",
        vm="ABS",
        mono=("none",),
        schedule=True,
        int_preserving=True,
        interval=_abs_interval,
        mono_at=_abs_mono,
    ),
    Builtin(
        "exp",
        (F,),
        F,
        math.exp,
        "e to the x",
        "exp(beta)",
        vm="EXP",
        mono=("incr",),
        schedule=True,
        interval=corners(math.exp),
    ),
    Builtin(
        "log",
        (F,),
        F,
        math.log,
        "natural logarithm (x > 0)",
        "log(1 + beta)",
        vm="LOG",
        mono=("incr",),
        schedule=True,
        domain="x > 0",
        interval=corners(math.log),
        domain_at=_log_domain,
    ),
    Builtin(
        "sqrt",
        (F,),
        F,
        math.sqrt,
        "square root (x >= 0)",
        "sqrt(beta)",
        vm="SQRT",
        mono=("incr",),
        schedule=True,
        domain="x >= 0",
        interval=corners(math.sqrt),
        domain_at=_sqrt_domain,
    ),
    Builtin(
        "sigmoid",
        (F,),
        F,
        _sigmoid,
        "1 / (1 + e^-x)",
        "sigmoid(4*beta - 2)",
        vm="SIGMOID",
        mono=("incr",),
        schedule=True,
        interval=corners(_sigmoid),
    ),
    Builtin(
        "pow",
        (F, F),
        F,
        math.pow,
        "x to the power y (x >= 0)",
        "pow(64, beta)",
        vm="POW",
        mono=("incr", "incr"),
        schedule=True,
        domain="x >= 0; incr in x needs y > 0, in y needs x >= 1",
        interval=corners(math.pow),
        mono_at=_pow_mono,
        domain_at=_pow_domain,
    ),
    Builtin(
        "float",
        (F,),
        F,
        float,
        "as a float",
        "float(count(running))",
        vm="I2F",
        mono=("incr",),
        schedule=True,
        interval=corners(float),
    ),
    # -- voting over answer lists (replay protocol §4) --
    Builtin(
        "winner",
        (T.ANSWERS,),
        A,
        _winner,
        "most frequent answer; ties to the earliest first occurrence; none if empty",
        "winner(completed)",
        vm="WINNER",
        cost="O(n)",
    ),
    Builtin(
        "top1",
        (T.ANSWERS,),
        INT,
        lambda xs: vote_stats(xs)[1],
        "count of the most frequent answer",
        "top1(completed)",
        vm="TOP1",
        cost="O(n)",
        interval=_upto_size_interval,
    ),
    Builtin(
        "top2",
        (T.ANSWERS,),
        INT,
        lambda xs: vote_stats(xs)[2],
        "count of the second most frequent answer (0 if only one)",
        "top2(completed)",
        vm="TOP2",
        cost="O(n)",
        interval=_upto_size_interval,
    ),
    Builtin(
        "conf",
        (T.ANSWERS,),
        F,
        _conf,
        "Beta-majority confidence beta_conf(top1, top2) of a list (0 if empty)",
        "conf(completed)",
        vm="CONF",
        cost="O(n)",
        interval=_unit_interval,
    ),
    Builtin(
        "beta_conf",
        (INT, INT),
        F,
        beta_conf,
        "P(p > 1/2) under Beta(t1+1, t2+1), exact for counts up to 4,096 (normal "
        "approximation beyond); 0 when t1 <= 0; a negative t2 counts as 0",
        "beta_conf(3, 1)",
        vm="BETA_CONF",
        mono=("incr", "decr"),
        interval=_unit_interval,
    ),
    Builtin(
        "distinct",
        (T.ANSWERS,),
        INT,
        lambda xs: len(tally(xs)),
        "number of distinct answers",
        "distinct(recent(completed, 8))",
        vm="DISTINCT",
        cost="O(n)",
        interval=_upto_size_interval,
    ),
    Builtin(
        "count_of",
        (T.ANSWERS, A),
        INT,
        _count_of,
        "occurrences of an answer",
        "count_of(completed, w)",
        vm="COUNT_OF",
        cost="O(n)",
        interval=_upto_size_interval,
    ),
    Builtin(
        "share",
        (T.ANSWERS, A),
        F,
        _share,
        "fraction of the list equal to an answer",
        "share(answers(alive), w)",
        vm="SHARE",
        cost="O(n)",
        interval=_unit_interval,
    ),
    Builtin(
        "recent",
        (T.ANSWERS, INT),
        T.ANSWERS,
        _recent,
        "the last n answers of a list",
        "recent(completed, 8)",
        vm="RECENT",
        cost="O(n)",
        interval=_recent_interval,
    ),
    Builtin(
        "len",
        (T.ANSWERS,),
        INT,
        len,
        "length of a list",
        "len(completed)",
        vm="LEN",
        interval=_size_interval,
    ),
    Builtin(
        "count",
        (T.ANSWERS,),
        INT,
        len,
        "length of a list",
        "count(completed)",
        vm="LEN",
        interval=_size_interval,
    ),
    # -- branch sets --
    Builtin(
        "count",
        (T.SET,),
        INT,
        len,
        "number of branches in a set",
        "count(b in running where b.answer != w)",
        vm="LEN",
        interval=_size_interval,
    ),
    Builtin(
        "answers",
        (T.SET,),
        T.ANSWERS,
        lambda ctx, s: [ctx.latest[i] for i in s],
        "latest answers of a set's branches, in index order",
        "winner(answers(alive))",
        vm="ANSWERS",
        cost="O(n)",
        needs_ctx=True,
        interval=_size_interval,
    ),
    # -- weighted votes (tallies) --
    Builtin(
        "votes",
        (T.SET,),
        T.VOTES,
        lambda ctx, s: _votes_from_pairs([(ctx.latest[i], 1.0) for i in s]),
        "one vote per branch for its latest answer (`none` casts no vote)",
        "votes(alive)",
        vm="VOTES_SET",
        cost="O(n)",
        needs_ctx=True,
    ),
    Builtin(
        "votes",
        (T.GEN,),
        T.VOTES,
        _votes_from_pairs,
        "each branch votes for its latest answer with the given weight; weights add "
        "in branch order",
        "votes((b.finished ? 2.5 : 1.0) for b in alive)",
        vm="VOTES_PAIRS",
        cost="O(n)",
        branch_keyed=True,
    ),
    Builtin(
        "votes",
        (T.ANSWERS,),
        T.VOTES,
        _votes_from_list,
        "one vote per list entry",
        "votes(completed)",
        vm="VOTES_LIST",
        cost="O(n)",
    ),
    Builtin(
        "winner",
        (T.VOTES,),
        A,
        lambda v: _vote_top(v)[0],
        "answer with the largest weight; ties to the earliest voter; none if empty",
        "winner(votes(alive))",
        vm="VWINNER",
        cost="O(n)",
    ),
    Builtin(
        "top1",
        (T.VOTES,),
        F,
        lambda v: _vote_top(v)[1],
        "largest weight (0 if empty)",
        "top1(v)",
        vm="VTOP1",
        cost="O(n)",
    ),
    Builtin(
        "top2",
        (T.VOTES,),
        F,
        lambda v: _vote_top(v)[2],
        "second largest weight (0 with fewer than two answers)",
        "top2(v)",
        vm="VTOP2",
        cost="O(n)",
    ),
    Builtin(
        "total",
        (T.VOTES,),
        F,
        lambda v: neumaier_sum(v.values()),
        "sum of all weights (compensated, in voting order)",
        "total(v)",
        vm="VTOTAL",
        cost="O(n)",
    ),
    Builtin(
        "weight_of",
        (T.VOTES, A),
        F,
        lambda v, a: v.get(a, 0.0),
        "weight of one answer (0 if absent)",
        "weight_of(v, w)",
        vm="WEIGHT_OF",
    ),
    # -- aggregates over `expr for b in SET` --
    Builtin(
        "sum",
        (T.GEN,),
        F,
        _sum,
        "sum (compensated for floats); 0 if empty",
        "sum(b.spent for b in opened)",
        vm="SUM",
        cost="O(n)",
        int_preserving=True,
        interval=_gen_sum_interval,
    ),
    Builtin(
        "mean",
        (T.GEN,),
        F,
        _mean,
        "mean; 0 if empty",
        "mean(b.reads for b in running)",
        vm="MEAN",
        cost="O(n)",
        interval=_gen_pick_interval,
    ),
    Builtin(
        "min",
        (T.GEN,),
        F,
        _min,
        "smallest value; 0 if empty",
        "min(b.reads for b in running)",
        vm="GMIN",
        cost="O(n)",
        int_preserving=True,
        interval=_gen_pick_interval,
    ),
    Builtin(
        "max",
        (T.GEN,),
        F,
        _max,
        "largest value; 0 if empty",
        "max(b.reads for b in running)",
        vm="GMAX",
        cost="O(n)",
        int_preserving=True,
        interval=_gen_pick_interval,
    ),
    Builtin(
        "any",
        (T.GEN,),
        B,
        any,
        "true if some value is true",
        "any(b.answer == w for b in running)",
        vm="ANY",
        cost="O(n)",
    ),
    Builtin(
        "all",
        (T.GEN,),
        B,
        all,
        "true if every value is true (true if empty)",
        "all(b.finished for b in alive)",
        vm="ALL",
        cost="O(n)",
    ),
    # -- windows --
    Builtin(
        "push",
        (T.WINDOW, F),
        T.VOID,
        _push,
        "append to a window, dropping the oldest entry when full",
        "push(hist, ema)",
        vm="PUSH",
        effect=True,
    ),
    Builtin(
        "set_last",
        (T.WINDOW, F),
        T.VOID,
        _set_last,
        "overwrite the newest entry (no-op when empty)",
        "set_last(hist, ema)",
        vm="SET_LAST",
        effect=True,
    ),
    Builtin(
        "first",
        (T.WINDOW,),
        F,
        lambda w: w.items[0] if w.items else 0.0,
        "oldest entry (0 if empty)",
        "first(hist)",
        vm="WFIRST",
    ),
    Builtin(
        "last",
        (T.WINDOW,),
        F,
        lambda w: w.items[-1] if w.items else 0.0,
        "newest entry (0 if empty)",
        "last(hist)",
        vm="WLAST",
    ),
    Builtin(
        "delta",
        (T.WINDOW,),
        F,
        _delta,
        "newest minus oldest (0 with fewer than 2)",
        "delta(hist) >= -slack",
        vm="WDELTA",
    ),
    Builtin(
        "len",
        (T.WINDOW,),
        INT,
        lambda w: len(w.items),
        "number of entries",
        "len(hist)",
        vm="WLEN",
        interval=_size_interval,
    ),
    Builtin(
        "mean",
        (T.WINDOW,),
        F,
        lambda w: _mean(w.items),
        "mean of the entries (0 if empty)",
        "mean(hist)",
        vm="WMEAN",
        cost="O(n)",
    ),
)

BUILTIN_VALUES: tuple[BuiltinValue, ...] = (
    BuiltinValue(
        "beta", T.FLOAT, "the budget knob β in [0, 1]", schedule=True, kind="beta", lo=0, hi=1
    ),
    BuiltinValue(
        "round",
        T.INT,
        "index of the current round (0-based); -1 in `init`",
        lo=-1,
        hi_limit="max_rounds",
    ),
    BuiltinValue(
        "spawned",
        T.INT,
        "branches opened so far (BRANCH and FULL_READ)",
        lo=0,
        hi_limit="max_branches",
    ),
    BuiltinValue("cost", T.INT, "tokens charged so far in this episode", lo=0),
    BuiltinValue("remaining", T.INT, "branches of the question not yet opened", lo=0),
    BuiltinValue(
        "completed",
        T.ANSWERS,
        "final answers of finished branches, in completion order",
        lo=0,
        hi_limit="max_branches",
    ),
    BuiltinValue("opened", T.SET, "every opened branch", kind="set", lo=0, hi_limit="max_branches"),
    BuiltinValue(
        "running",
        T.SET,
        "opened branches neither finished nor pruned",
        kind="set",
        lo=0,
        hi_limit="max_branches",
    ),
    BuiltinValue(
        "alive",
        T.SET,
        "opened branches not pruned (running + finished)",
        kind="set",
        lo=0,
        hi_limit="max_branches",
    ),
    BuiltinValue(
        "finished",
        T.SET,
        "finished branches that are not pruned",
        kind="set",
        lo=0,
        hi_limit="max_branches",
    ),
    BuiltinValue("pruned", T.SET, "pruned branches", kind="set", lo=0, hi_limit="max_branches"),
)

BRANCH_FIELDS: tuple[BranchField, ...] = (
    BranchField("answer", T.ANSWER, "answer of the branch's latest read"),
    BranchField("reads", T.INT, "reads done on the branch (the opening read included)", lo=1),
    BranchField("spent", T.INT, "tokens charged to the branch", lo=0),
    BranchField(
        "index",
        T.INT,
        "position in the shuffled order (opening order)",
        lo=0,
        hi_limit="max_branches",
    ),
    BranchField("finished", T.BOOL, "its trace has been read to the end"),
    BranchField("pruned", T.BOOL, "it was pruned"),
)

# Names reserved by the language: they cannot be redeclared.
RESERVED = frozenset(
    {b.name for b in BUILTINS} | {v.name for v in BUILTIN_VALUES} | {"true", "false", "none"}
)


def resolve_overload(rows: Sequence[Builtin], types: Sequence[T]) -> Builtin | None:
    """The first overload whose parameters accept these argument types."""
    for row in rows:
        ps = row.params
        if row.variadic:
            if len(types) < len(ps):
                continue
            ps = ps[:-1] + (ps[-1],) * (len(types) - len(ps) + 1)
        if len(ps) == len(types) and all(accepts(p, t) for p, t in zip(ps, types, strict=True)):
            return row
    return None


def overloads(name: str) -> tuple[Builtin, ...]:
    return _BY_NAME.get(name, ())


_BY_NAME: dict[str, tuple[Builtin, ...]] = {}
for _row in BUILTINS:
    _BY_NAME[_row.name] = (*_BY_NAME.get(_row.name, ()), _row)

VALUES_BY_NAME = {v.name: v for v in BUILTIN_VALUES}
FIELDS_BY_NAME = {f.name: f for f in BRANCH_FIELDS}
