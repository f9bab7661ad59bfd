"""Replay-engine throughput: the seed CMC controller, run unchanged, on two replays.

Measures, on one core in one process:

(a) episodes/s of the seed CMC (cut out of ../shared/seeds/autotts-readme.txt at
    run time) through `autotts_dsl.replay.compat.evaluate_autotts`, i.e. on our
    interned engine;
(b) episodes/s of the same controller on a *plain reading* of replay protocol
    §1-§3, written below the way a typical reference replay would be: Branch
    objects holding the store's string lists, the branch-object list shuffled
    with `random.Random(seed)` per episode, charges exactly as specified.

Both must give the same accuracy / avg_tokens (and the same per-episode
answers and costs); the script exits non-zero if they do not. It also reports
the time `load_store` takes to load all 12 shared stores.

    python benchmarks/engine_throughput.py [--store PATH] [--beta B] [--seeds N] [--repeat R]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.replay.compat import evaluate_autotts  # noqa: E402
from autotts_dsl.replay.store import NO_ANSWER, StoreError, load_store  # noqa: E402
from tests.support.seed_cmc import SEED_README, load_seed_cmc  # noqa: E402
from tests.support.shared import DATASETS, MODELS, shared_dir  # noqa: E402

# ---------------------------------------------------------------------------
# The plain replay: protocol §1-§3 read literally, on the raw JSON records.


class Branch:
    def __init__(self, probe_answers: list[str], branch_tokens: int, final_answer: str) -> None:
        self.probe_answers = probe_answers
        self.branch_tokens = branch_tokens
        self.final_answer = final_answer
        self.k = 0
        self.spent = 0
        self.finished = False


class PlainQuestion:
    """One episode: the question interface AutoTTS controllers call."""

    def __init__(self, record: dict[str, Any], seed: int) -> None:
        self.probe_freq: int = record["probe_freq"]
        self.branches = [Branch(p, t, f) for p, t, f in record["each_branch"]]
        random.Random(seed).shuffle(self.branches)
        self.n_opened = 0
        self.total_tokens = 0

    def _read(self, br: Branch) -> tuple[str, bool]:
        if br.k < len(br.probe_answers):
            answer = br.probe_answers[br.k]
            br.k += 1
            br.spent += self.probe_freq
            self.total_tokens += self.probe_freq
            return answer, False
        charge = max(0, br.branch_tokens - br.spent)
        br.spent += charge
        self.total_tokens += charge
        br.finished = True
        return br.final_answer, True

    def probe_new(self) -> tuple[str, int, bool]:
        if self.n_opened >= len(self.branches):
            raise ValueError("no unopened branch left")
        index = self.n_opened
        self.n_opened += 1
        answer, finished = self._read(self.branches[index])
        return answer, index, finished

    def probe_more(self, index: int) -> tuple[str, bool]:
        if not 0 <= index < self.n_opened:
            raise ValueError(f"branch {index} is not open")
        return self._read(self.branches[index])

    def get_new_branch_final_answer(self) -> str:
        if self.n_opened >= len(self.branches):
            raise ValueError("no unopened branch left")
        br = self.branches[self.n_opened]
        self.n_opened += 1
        br.spent = br.branch_tokens
        br.finished = True
        self.total_tokens += br.branch_tokens
        return br.final_answer

    def get_seq_and_total_tokens(self) -> tuple[int, int]:
        return 0, self.total_tokens


def plain_evaluate(
    records: list[dict[str, Any]], controller: Any, seeds: Sequence[int]
) -> tuple[float, int, list[tuple[str | None, int]]]:
    """Protocol §3: (accuracy, avg_tokens, per-episode (answer, cost))."""
    n = len(records)
    acc_seed: list[float] = []
    cost_seed: list[float] = []
    episodes: list[tuple[str | None, int]] = []
    for seed in seeds:
        correct = 0
        total = 0
        for record in records:
            question = PlainQuestion(record, seed)
            answer = controller.solve(question)
            correct += answer == record["gold_answer"]
            total += question.total_tokens
            episodes.append((answer, question.total_tokens))
        acc_seed.append(correct / n)
        cost_seed.append(total / n)
    return (
        round(100 * statistics.mean(acc_seed), 2),
        int(statistics.mean(cost_seed)),
        episodes,
    )


# ---------------------------------------------------------------------------


def published_cell(shared: Path, store_path: Path, beta: float) -> tuple[float, int] | None:
    table = shared / "reference" / "aime24_published.csv"
    if store_path.name != "aime24.json" or not table.is_file():
        return None
    with table.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if (
                row["controller"] == "cmc"
                and row["model"] == store_path.parent.name
                and row["params"] == f"beta={beta:.1f}"
            ):
                return float(row["accuracy"]), int(row["avg_tokens"])
    return None


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def main(argv: Sequence[str] | None = None) -> int:
    shared = shared_dir()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--store",
        type=Path,
        default=shared / "replay" / "autotts" / "Qwen3-8B" / "aime24.json",
        help="AutoTTS replay store (default: shared Qwen3-8B aime24)",
    )
    parser.add_argument("--beta", type=float, default=0.5, help="CMC beta (default 0.5)")
    parser.add_argument("--seeds", type=int, default=100, help="shuffle seeds 0..N-1 (default 100)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each side; best is kept (default 3)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.repeat < 1:
        parser.error("--seeds and --repeat must be >= 1")
    if not (shared / SEED_README).is_file():
        print(
            f"error: seed document not found under {shared} (set TTS_DSL_SHARED)", file=sys.stderr
        )
        return 2

    core = pin_one_core()
    seeds = range(args.seeds)
    cmc_class = load_seed_cmc(shared)

    t0 = time.perf_counter()
    try:
        store = load_store(args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    records = json.loads(Path(args.store).read_text(encoding="utf-8"))
    load_plain = time.perf_counter() - t0
    n_episodes = len(store) * args.seeds

    best_ours = best_plain = float("inf")
    ours = plain = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = evaluate_autotts(store, cmc_class({"beta": args.beta}), seeds)
        best_ours = min(best_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain = plain_evaluate(records, cmc_class({"beta": args.beta}), seeds)
        best_plain = min(best_plain, time.perf_counter() - t0)
    assert ours is not None and plain is not None

    store_loads = []
    for model in MODELS:
        for dataset in DATASETS:
            path = shared / "replay" / "autotts" / model / f"{dataset}.json"
            t0 = time.perf_counter()
            load_store(path)
            store_loads.append(time.perf_counter() - t0)

    ours_eps = [
        (store.answer_text(int(a)), int(c)) for a, c in zip(ours.answer, ours.cost, strict=True)
    ]
    # the adapter maps an answer the store never contains to NO_ANSWER (None)
    plain_eps = [(a if store.answer_id(a) != NO_ANSWER else None, c) for a, c in plain[2]]
    summary_ours = (ours.accuracy, ours.avg_tokens)
    summary_plain = (plain[0], plain[1])

    print(
        f"store {store.name} ({len(store)} questions), CMC beta={args.beta}, "
        f"{args.seeds} seeds = {n_episodes} episodes, best of {args.repeat}; {core}"
    )
    print()
    print(f"{'replay':<28}{'seconds':>9}{'episodes/s':>12}{'accuracy':>10}{'avg_tokens':>12}")
    for label, secs, (acc, tok) in (
        ("tts-dsl engine (adapter)", best_ours, summary_ours),
        ("plain reading of the spec", best_plain, summary_plain),
    ):
        print(f"{label:<28}{secs:>9.3f}{n_episodes / secs:>12.0f}{acc:>10.2f}{tok:>12d}")
    print()
    print(f"speed-up (engine vs plain): {best_plain / best_ours:.2f}x")
    published = published_cell(shared, Path(args.store), args.beta)
    if published is not None and args.seeds == 100:
        print(f"published: {published[0]:.2f} / {published[1]}")
    print(
        f"load_store: {load_ours * 1000:.0f} ms for this store "
        f"(json.load alone {load_plain * 1000:.0f} ms); "
        f"all 12 shared stores {sum(store_loads):.2f} s "
        f"(max {max(store_loads) * 1000:.0f} ms)"
    )

    if summary_ours != summary_plain or ours_eps != plain_eps:
        diffs = sum(a != b for a, b in zip(ours_eps, plain_eps, strict=True))
        print(
            f"error: results differ: engine {summary_ours}, plain {summary_plain}; "
            f"{diffs} of {n_episodes} episodes differ",
            file=sys.stderr,
        )
        return 1
    if published is not None and args.seeds == 100 and summary_ours != published:
        print(f"error: differs from the published {published}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
