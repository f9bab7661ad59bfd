"""What stands between CMC and issue #11's target, measured on replay stores.

The target asks for CMC β=1's average held-out accuracy at no more than CMC
β=0.5's average tokens. This script shows where CMC's extra tokens from
β=0.5 to β=1 go, question by question, and how far policies that only pick
one of CMC's own β settings per question get within that token budget:

* the extra tokens split by what they buy: questions that gain accuracy
  (> 5 points), questions hopeless at both settings (< 20 % correct),
  questions already solved at β=0.5 (> 90 %), the rest; beside each class,
  the plurality share of all 128 final answers (how lopsided the vote is);
* a per-question oracle that knows, in hindsight, each question's accuracy
  and tokens at every β of the grid and picks one β per question: the best
  accuracy it reaches within the budget (an exact knapsack);
* the same oracle when all it may use is the plurality share of all 128
  final answers of the question (more than a controller sees; questions
  binned by quantiles of it, one β per bin chosen in hindsight).

If even the second oracle stays below the target, no mixture of CMC's
settings that reads the vote reaches it; the remaining gap is what knowing
each question's correctness is worth.

    python benchmarks/discovery_limits.py [--datasets aime25,hmmt25]
        [--seeds 100] [--bins 2,5,10,20]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import autotts_dsl as tts  # noqa: E402
from tests.support.shared import MODELS, shared_dir  # noqa: E402

BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class Grid:
    """Per question (rows: store by store, in file order) and β (columns)."""

    acc: np.ndarray  # fraction of seeds answered correctly
    tok: np.ndarray  # mean tokens of the question's episodes
    plurality: np.ndarray  # share of the most frequent of its 128 final answers


def measure(datasets: list[str], seeds: int) -> Grid:
    cmc = tts.load("cmc")
    acc, tok, plur = [], [], []
    for model in MODELS:
        for ds in datasets:
            path = shared_dir() / "replay" / "autotts" / model / f"{ds}.json"
            if not path.is_file():
                sys.exit(f"missing replay store {path} (set TTS_DSL_SHARED?)")
            store = tts.open_store(str(path))  # read once, for every β and the vote
            cols_a, cols_t = [], []
            for beta in BETAS:
                ep = tts.episodes(cmc, store, beta=beta, seeds=seeds)
                by_q = ep.groupby("question")
                cols_a.append(by_q["correct"].mean().to_numpy())
                cols_t.append(by_q["tokens"].mean().to_numpy())
            acc.append(np.column_stack(cols_a))
            tok.append(np.column_stack(cols_t))
            for q in store.questions:
                plur.append(Counter(q.finals).most_common(1)[0][1] / q.n_branches)
    return Grid(np.vstack(acc), np.vstack(tok), np.array(plur))


def best_within(grid: Grid, groups: np.ndarray, budget: float, unit: float = 1.0) -> float:
    """Highest mean accuracy within `budget` mean tokens when one β is chosen
    per group: a multiple-choice knapsack solved by dynamic programming over
    mean tokens in steps of `unit`, each group's cost rounded up (so the
    budget is held to within one step per group)."""
    n = len(grid.acc)
    cap = int(np.ceil(budget / unit)) + len(np.unique(groups))
    best = np.full(cap + 1, -np.inf)
    best[0] = 0.0
    for g in np.unique(groups):
        sel = groups == g
        gain = grid.acc[sel].sum(0)
        cost = np.ceil(grid.tok[sel].sum(0) / (unit * n) - 1e-9).astype(int)
        nxt = np.full(cap + 1, -np.inf)
        for a, c in zip(gain, cost, strict=True):
            if c <= cap:
                nxt[c:] = np.maximum(nxt[c:], best[: cap + 1 - c] + a)
        best = nxt
    return float(best.max()) / n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="aime25,hmmt25")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--bins", default="2,5,10,20")
    args = p.parse_args()
    grid = measure(args.datasets.split(","), args.seeds)
    i05, i1 = BETAS.index(0.5), BETAS.index(1.0)
    n = len(grid.acc)
    a05, a1 = grid.acc[:, i05], grid.acc[:, i1]
    t05, t1 = grid.tok[:, i05], grid.tok[:, i1]
    budget = float(t05.mean())
    print(f"{n} questions ({args.datasets}, four models, {args.seeds} seeds)")
    print(f"CMC β=0.5: {100 * a05.mean():.2f} % at {t05.mean():,.0f} tokens")
    print(f"CMC β=1:   {100 * a1.mean():.2f} % at {t1.mean():,.0f} tokens")
    print(f"target: >= {100 * a1.mean():.2f} % at <= {budget:,.0f} tokens\n")

    gain = a1 - a05 > 0.05
    hopeless = (a05 < 0.2) & (a1 < 0.2) & ~gain
    solved = (a05 > 0.9) & ~gain & ~hopeless
    classes = {"gain": gain, "hopeless": hopeless, "solved": solved}
    classes["other"] = ~(gain | hopeless | solved)
    extra = t1 - t05
    print(
        "| questions, by what β 0.5 → 1 buys | n | share of the extra tokens "
        "| accuracy gained (points) | plurality share of 128 answers |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, sel in classes.items():
        print(
            f"| {name} | {int(sel.sum())} | {100 * extra[sel].sum() / extra.sum():.1f} % "
            f"| {100 * (a1 - a05)[sel].sum() / n:+.2f} | {grid.plurality[sel].mean():.2f} |"
        )

    a = best_within(grid, np.arange(n), budget)
    print(
        f"\nwithin {budget:,.0f} tokens, one β per question chosen in hindsight"
        f" (knows each question's accuracy): {100 * a:.2f} %"
    )
    for nb in (int(x) for x in args.bins.split(",")):
        edges = np.quantile(grid.plurality, np.linspace(0, 1, nb + 1)[1:-1])
        a = best_within(grid, np.digitize(grid.plurality, edges), budget)
        print(f"one β per {nb} bins of the plurality share, in hindsight: {100 * a:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
