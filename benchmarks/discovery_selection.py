"""How well a finished search's numbers predict held-out: the evidence behind
the final pick's rule.

Takes the directory of a finished search with held-out stores (e.g. one of
`benchmarks/discovery_offline.py`) and evaluates on held-out, with the
search's held-out seeds: the top --top programs by the lower bound of their
search gain over the reference; the --top constant-only retunes of the
reference (no structure changed, `search.simplicity`) with the highest
search gain; and the picks of two rules, the surest gain (highest lower
bound) and the final pick (`search.pick`: the least structural change among
the gains not clearly below the surest). Prints each one's search gain and
held-out ref:cmc with their 95 % intervals; the rank correlation of search
gain with held-out gain among the top by lower bound and among all
evaluated; and the mean held-out gain of retunes and of structural changes.

The held-out cells go into the run's history (the table nothing on the
search side reads); pass a copy of the directory to keep the original as it
was.

    python benchmarks/discovery_selection.py RUN_DIR [--top 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.executor import make_executor  # noqa: E402
from autotts_dsl.parser import parse  # noqa: E402
from autotts_dsl.search.cells import warm_up  # noqa: E402
from autotts_dsl.search.config import SearchConfig  # noqa: E402
from autotts_dsl.search.heldout import baseline_ids, evaluate_heldout  # noqa: E402
from autotts_dsl.search.history import HISTORY_FILE, History  # noqa: E402
from autotts_dsl.search.objective import parse_objective  # noqa: E402
from autotts_dsl.search.pick import final_pick  # noqa: E402
from autotts_dsl.search.report import heldout_report  # noqa: E402
from autotts_dsl.search.simplicity import skeleton, structural_change  # noqa: E402
from autotts_dsl.search.stats import Gain  # noqa: E402
from autotts_dsl.search.view import search_state  # noqa: E402
from autotts_dsl.sweeps.runner import default_jobs  # noqa: E402


def ranks(x: list[float]) -> np.ndarray:
    """Ranks with ties averaged (for Spearman's correlation)."""
    a = np.asarray(x)
    order = a.argsort(kind="stable")
    r = np.empty(len(a))
    r[order] = np.arange(len(a), dtype=float)
    for v in np.unique(a):
        tie = a == v
        r[tie] = r[tie].mean()
    return r


def spearman(x: list[float], y: list[float]) -> float:
    if len(x) < 3:
        return float("nan")
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def text(g: Gain | None) -> str:
    return "-" if g is None else f"{g.gain:+.2f} [{g.lo:+.2f}, {g.hi:+.2f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a finished search's --out directory")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--jobs", type=int, default=default_jobs())
    args = p.parse_args()
    path = args.run / HISTORY_FILE
    if not path.is_file():
        sys.exit(f"{args.run}: no search history here")
    with History(path) as h, make_executor(args.jobs, initializer=warm_up) as ex:
        config = SearchConfig.from_json(h.get_meta("config") or "{}")
        if not h.stores("heldout"):
            sys.exit(f"{args.run}: the search has no held-out stores")
        objective = parse_objective(config.objective)
        state = search_state(h, config, objective)
        ref = state.reference_id
        if ref is None:
            sys.exit(f"{args.run}: the search has no reference")
        shape = skeleton(parse(h.program(ref).source, f"p{ref}"))
        gains = {
            s.id: g
            for s in state.scored
            if s.id != ref and (g := state.vs_reference(s.id)) is not None
        }
        by_lo = sorted(gains, key=lambda pid: -gains[pid].lo)
        change = {pid: structural_change(parse(h.program(pid).source, f"p{pid}"), shape)
                  for pid in by_lo}  # fmt: skip
        retunes = sorted(
            (pid for pid in by_lo if change[pid] == 0), key=lambda pid: -gains[pid].gain
        )
        surest = next((pid for pid in by_lo if gains[pid].significant), None)
        picked, _ = final_pick(state, h, objective.unit)
        rules = {"surest gain": surest, "final pick": picked.id if picked else None}
        chosen = list(dict.fromkeys([*rules.values(), *by_lo[: args.top], *retunes[: args.top]]))
        chosen = [pid for pid in chosen if pid is not None and pid != ref]
        print(
            f"{args.run}: {len(state.scored)} programs fully evaluated, {len(gains)} with a "
            f"gain over the reference p{ref}, {sum(g.significant for g in gains.values())} "
            f"significant, {len(retunes)} constant-only retunes; evaluating {len(chosen)} "
            f"on held-out ({len(config.heldout_seeds)} seeds)"
        )
        started = time.perf_counter()
        base = baseline_ids(h)
        held: dict[int, Gain | None] = {}
        print(
            "\n| program | structure changed (lines) | search gain [95 %] "
            "| held-out ref:cmc [95 %] |"
        )
        print("| --- | ---: | ---: | ---: |")
        for pid in chosen:
            evaluate_heldout(h, config, ex, pid)
            rep = heldout_report(h, pid, base, objective)
            held[pid] = rep.pick_vs_cmc_gain if rep is not None else None
            tags = [name for name, got in rules.items() if got == pid]
            label = f"p{pid}" + (f" ({', '.join(tags)})" if tags else "")
            print(f"| {label} | {change[pid]} | {text(gains[pid])} | {text(held[pid])} |")
        done = [pid for pid in chosen if held[pid] is not None]
        print(f"\n{len(done)} programs on held-out in {time.perf_counter() - started:.0f} s")
        top = [pid for pid in by_lo[: args.top] if pid in done]
        for what, group in (("the top by lower bound", top), ("all evaluated", done)):
            rho = spearman([gains[i].gain for i in group], [held[i].gain for i in group])  # type: ignore[union-attr]
            print(f"rank correlation of search gain with held-out gain, {what}: {rho:+.2f}")
        for kind, keep in (("retunes", lambda c: c == 0), ("structural", lambda c: c > 0)):
            group = [held[pid] for pid in done if keep(change[pid])]
            if group:
                mean = sum(g.gain for g in group if g is not None) / len(group)
                above = sum(1 for g in group if g is not None and g.significant)
                print(
                    f"{kind}: {len(group)} evaluated, mean held-out gain {mean:+.2f}, "
                    f"{above} above their uncertainty"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
