"""What the proposer should know besides the archive: the target in plain
words, the reference and baseline curves on the search stores, ceilings of
the stores themselves, the parent's per-question results and a compact
round-by-round trajectory of episodes it gets wrong.

Everything here comes from the search stores and the search tables (the
caller passes search stores only); nothing reads a held-out table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..interpreter import ProgramRunner
from ..parser import parse
from ..replay.episode import shuffle_order
from ..replay.store import ReplayStore
from ..replay.voting import winner
from .config import SearchConfig
from .history import History
from .objective import Objective
from .view import SearchState

CEILING_SEEDS = 10


def _n(x: float) -> str:
    return f"{x:,.0f}"


def target_text(state: SearchState, objective: Objective) -> str:
    ref = state.scored_by_id(state.reference_id) if state.reference_id is not None else None
    if ref is None:
        return ""
    best = next((s for s in state.archive if s.id != ref.id), None)
    lines = [
        "# The target",
        "",
        f"Beat the reference {ref.program.label} ({ref.program.name}) on its own ground: at each "
        f"of its β points reach its accuracy with fewer tokens, or more accuracy with as many "
        f"tokens. The score is {objective.description}.",
    ]
    if best is not None:
        g = state.vs_reference(best.id)
        if g is not None:
            lines.append(
                f"Best so far: {best.program.label} at {g.text(objective.unit)}; a gain counts "
                "only when its whole 95% interval (bootstrap over questions, paired over the "
                "same seeds) is above zero."
            )
    return "\n".join(lines)


def baselines_text(state: SearchState) -> str:
    rows = []
    names = {}
    if state.reference_id is not None:
        names[state.reference_id] = "reference"
    names.update({pid: "baseline" for pid in state.baselines})
    for pid, role in names.items():
        s = state.scored_by_id(pid)
        if s is None:
            continue
        pts = ", ".join(f"β={p.beta:g}: {p.accuracy:.2f}% / {_n(p.tokens)}" for p in s.curve)
        label = f"{s.program.name} ({role}, {s.program.label})"
        if s.program.name == "sc":
            label += ", SC@k with k = round(64^β)"
        rows.append(f"- {label}: {pts}")
    if not rows:
        return ""
    return "# Reference and baselines on the search stores (mean acc% / tokens)\n\n" + "\n".join(
        rows
    )


def ceilings(store: ReplayStore, seeds: Sequence[int]) -> dict[str, float]:
    """Majority of all traces, pass@k, and the best possible stopping of SC."""
    maj = pass1 = pass8 = pass64 = 0.0
    stop_right = stop_tokens = 0.0
    n = 0
    for q in store.questions:
        finals = list(q.finals)
        maj += winner(finals) == q.gold
        c, m = sum(1 for f in finals if f == q.gold), len(finals)
        for k, acc in ((1, "p1"), (8, "p8"), (64, "p64")):
            k = min(k, m)
            miss = math.comb(m - c, k) / math.comb(m, k) if m - c >= k else 0.0
            if acc == "p1":
                pass1 += 1 - miss
            elif acc == "p8":
                pass8 += 1 - miss
            else:
                pass64 += 1 - miss
        for seed in seeds:
            order = shuffle_order(seed, q.n_branches)
            got = None
            for k in range(1, min(64, q.n_branches) + 1):
                pool = [q.finals[order[i]] for i in range(k)]
                if winner(pool) == q.gold:
                    got = k
                    break
            if got is not None:
                stop_right += 1
                stop_tokens += sum(q.tokens[order[i]] for i in range(got))
            n += 1
    nq = max(1, len(store.questions))
    return {
        "majority_all": 100 * maj / nq,
        "pass@1": 100 * pass1 / nq,
        "pass@8": 100 * pass8 / nq,
        "pass@64": 100 * pass64 / nq,
        "oracle_stop": 100 * stop_right / max(1, n),
        "oracle_stop_tokens": stop_tokens / max(1.0, stop_right),
    }


def ceilings_text(stores: Sequence[ReplayStore]) -> str:
    lines = [
        "# Ceilings of the search stores",
        "",
        "majority of all traces | pass@1 | pass@8 | pass@64 | best possible stopping of "
        "SC (stop at the first prefix whose majority is right; tokens when right)",
    ]
    for s in stores:
        c = ceilings(s, range(CEILING_SEEDS))
        lines.append(
            f"- {s.name}: {c['majority_all']:.1f}% | {c['pass@1']:.1f}% | {c['pass@8']:.1f}% | "
            f"{c['pass@64']:.1f}% | {c['oracle_stop']:.1f}% at {_n(c['oracle_stop_tokens'])} tokens"
        )
    return "\n".join(lines)


def per_question_text(
    history: History,
    state: SearchState,
    config: SearchConfig,
    parent: str,
    stores: Sequence[ReplayStore],
) -> str:
    pid = int(parent[1:])
    cells = history.cells().get(pid, {})
    mid = config.betas[len(config.betas) // 2]
    lines = []
    for st, store in zip(state.stores, stores, strict=False):
        by_seeds = cells.get(st.content_hash, {}).get(mid, {})
        if not by_seeds:
            continue
        c = by_seeds[max(by_seeds, key=lambda k: len(by_seeds[k].seeds))]
        bad = []
        for qi, q in enumerate(store.questions):
            acc = 100 * c.correct_by_q[qi] / max(1, len(c.seeds))
            if acc < 50 and winner(list(q.finals)) == q.gold:
                tokens = c.cost_by_q[qi] / max(1, len(c.seeds))
                share = 100 * sum(1 for f in q.finals if f == q.gold) / max(1, len(q.finals))
                bad.append(
                    f"q{qi} ({acc:.0f}% right, {_n(tokens)} tokens; {share:.0f}% of traces right)"
                )
        if bad:
            lines.append(f"- {store.name}: " + "; ".join(bad[:8]))
    if not lines:
        return ""
    return (
        f"# Questions {parent} gets wrong at β = {mid:g} although the majority of all the "
        "store's traces is right\n\n" + "\n".join(lines)
    )


def trajectories_text(
    source: str, label: str, store: ReplayStore, beta: float, seed: int, n: int = 2
) -> str:
    runner = ProgramRunner(parse(source, label), source, label)
    traces: list[list[dict[str, Any]]] = []
    ev = runner.evaluate(store, beta, {}, (seed,), traces=traces)
    chosen = []
    for e, events in enumerate(traces):
        q = store.questions[int(ev.question_column[e])]
        if not ev.correct[e] and winner(list(q.finals)) == q.gold:
            chosen.append((e, events))
    out = []
    for e, events in chosen[:n]:
        rounds: dict[int, Counter[str]] = {}
        cost: dict[int, int] = {}
        for ev_ in events:
            if ev_.get("event") != "action":
                continue
            r = int(ev_.get("round", -1))
            rounds.setdefault(r, Counter())[
                f"{ev_['action']}({ev_.get('rule') or 'line ' + str(ev_['line'])})"
            ] += 1
            cost[r] = int(ev_.get("state", {}).get("cost", 0)) + int(ev_.get("charged", 0))
        parts = []
        for r in sorted(rounds)[:12]:
            acts = ", ".join(f"{a}×{k}" if k > 1 else a for a, k in rounds[r].most_common(3))
            parts.append(f"r{r}: {acts} → {_n(cost.get(r, 0))} tokens")
        more = " …" if len(rounds) > 12 else ""
        out.append(
            f"- {store.name} q{int(ev.question_column[e])} seed {seed} "
            f"(wrong, {_n(int(ev.cost[e]))} tokens): " + " | ".join(parts) + more
        )
    if not out:
        return ""
    return (
        f"# Round by round: episodes {label} gets wrong at β = {beta:g} (r-1 is init)\n\n"
        + "\n".join(out)
    )


def context_text(
    history: History,
    state: SearchState,
    config: SearchConfig,
    objective: Objective,
    parent: str | None,
    stores: Sequence[ReplayStore],
) -> str:
    parts = [target_text(state, objective), baselines_text(state), ceilings_text(stores)]
    if parent is not None:
        parts.append(per_question_text(history, state, config, parent, stores))
        prog = history.program(int(parent[1:]))
        mid = config.betas[len(config.betas) // 2]
        if stores:
            parts.append(trajectories_text(prog.source, parent, stores[0], mid, config.seeds[0]))
    return "\n\n".join(p for p in parts if p)
