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

The stores do hold one signal of which trace is right: its length (shorter
traces are right more often). The last two tables show what it is worth:

* with N full reads (the first N branches of each shuffle), the accuracy of
  the plain vote and of votes weighted by 1/sqrt(length) and 1/length;
* CMC against CMC with its answers' pool vote weighted the same way (the
  search's `vote` operator, `search.mutate.with_pool_vote`), at every β.

    python benchmarks/discovery_limits.py [--datasets aime25,hmmt25]
        [--seeds 100] [--bins 2,5,10,20]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import autotts_dsl as tts  # noqa: E402
from autotts_dsl.builtins import vote_stats_weighted  # noqa: E402
from autotts_dsl.fmt import format_program  # noqa: E402
from autotts_dsl.replay.store import NO_ANSWER, ReplayStore  # noqa: E402
from autotts_dsl.search.gates import POOL_VOTES  # noqa: E402
from autotts_dsl.search.mutate import with_pool_vote  # noqa: E402
from tests.support.shared import MODELS, shared_dir  # noqa: E402

BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class Grid:
    """Per question (rows: store by store, in file order) and β (columns)."""

    acc: np.ndarray  # fraction of seeds answered correctly
    tok: np.ndarray  # mean tokens of the question's episodes
    plurality: np.ndarray  # share of the most frequent of its 128 final answers


def open_stores(datasets: list[str]) -> list[ReplayStore]:
    """The shared stores of every model × dataset, each read once for all
    the tables."""
    stores = []
    for model in MODELS:
        for ds in datasets:
            path = shared_dir() / "replay" / "autotts" / model / f"{ds}.json"
            if not path.is_file():
                sys.exit(f"missing replay store {path} (set TTS_DSL_SHARED?)")
            stores.append(tts.open_store(str(path)))
    return stores


def measure(stores: list[ReplayStore], seeds: int) -> Grid:
    cmc = tts.load("cmc")
    acc, tok, plur = [], [], []
    for store in stores:
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


WEIGHTS = {"plain": 0.0, "1/sqrt(length)": 0.5, "1/length": 1.0}


def _vote(finals: list[int], lengths: list[int], power: float) -> int:
    """Weighted vote as the engines count it (ties to the earliest voter); no
    answer casts no vote."""
    tally: dict[int, float] = {}
    for a, n in zip(finals, lengths, strict=True):
        if a != NO_ANSWER:
            tally[a] = tally.get(a, 0.0) + max(1, n) ** -power
    return vote_stats_weighted(tally)[0]


def full_read_votes(
    stores: list[ReplayStore], sizes: list[int], seeds: int
) -> dict[tuple[str, int], float]:
    """Accuracy of each weighting over the first N branches of each shuffle."""
    hits: dict[tuple[str, int], list[bool]] = {(w, n): [] for w in WEIGHTS for n in sizes}
    for store in stores:
        for q in store.questions:
            for seed in range(seeds):
                order = list(range(q.n_branches))
                random.Random(seed).shuffle(order)  # the protocol's branch order
                for n in sizes:
                    first = order[:n]
                    finals = [q.finals[i] for i in first]
                    lengths = [q.tokens[i] for i in first]
                    for w, power in WEIGHTS.items():
                        hits[(w, n)].append(_vote(finals, lengths, power) == q.gold)
    return {k: float(np.mean(v)) for k, v in hits.items()}


def pool_vote_variants() -> dict[str, tts.Program]:
    """CMC, and CMC whose answers weight the pool vote by length."""
    cmc = tts.load("cmc")
    out = {"plain vote (CMC)": cmc}
    for name, label, text in (
        ("cmc_sqrt_vote", "1/sqrt(length)", POOL_VOTES[1]),
        ("cmc_length_vote", "1/length", POOL_VOTES[2]),
    ):
        child = with_pool_vote(cmc.tree, text)
        assert child is not None, "CMC answers with winner(completed)"
        out[label] = tts.load(format_program(dataclasses.replace(child, name=name)))
    return out


def length_signal(stores: list[ReplayStore], seeds: int) -> None:
    sizes = [8, 16, 32]
    acc = full_read_votes(stores, sizes, seeds)
    print("\n| N full reads | " + " | ".join(WEIGHTS) + " |")
    print("| ---: |" + " ---: |" * len(WEIGHTS))
    for n in sizes:
        cells = [f"{100 * acc[(w, n)]:.2f}" for w in WEIGHTS]
        print(f"| {n} | " + " | ".join(cells) + " |")

    variants = pool_vote_variants()
    rows = tts.run(list(variants.values()), stores, betas=list(BETAS), seeds=seeds)
    mean = rows.groupby(["program", "beta"])[["accuracy", "avg_tokens"]].mean()
    print("\n| CMC's answers | " + " | ".join(f"β={b:g}" for b in BETAS) + " |")
    print("| --- |" + " ---: |" * len(BETAS))
    for label, prog in variants.items():
        cells = [f"{mean.loc[(prog.name, b), 'accuracy']:.2f}" for b in BETAS]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="aime25,hmmt25")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--bins", default="2,5,10,20")
    args = p.parse_args()
    stores = open_stores(args.datasets.split(","))
    grid = measure(stores, args.seeds)
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
    length_signal(stores, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
