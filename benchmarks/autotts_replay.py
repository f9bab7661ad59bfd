"""The seed's Python CMC, evaluated the way AutoTTS evaluates controllers: the
reference process for the whole-process benchmark (`whole_process.py`).

Everything here is plain Python in the shape of AutoTTS's evaluation
harness (its `eval.py` and replay loader), so that timing this process times
what an AutoTTS user runs: a worker process loads the store with `json`;
for each of the 100 shuffle seeds every question is rebuilt as a question
object holding one branch object per trace, shuffled with its own
`random.Random(seed)`; the controller's `solve(question)` runs on each and
its trace is collected after each question; the parent receives the result
and the traces, and writes the results table (pandas CSV) and the traces
(JSONL). The CMC class itself is cut out of ../shared/seeds/autotts-readme.txt
at run time (tests/support/seed_cmc.py).

    python benchmarks/autotts_replay.py STORE.json --out DIR [--beta 0.5] [--seeds 100]

prints one JSON line per β: accuracy (percent, 2 decimals) and avg_tokens
(truncated), the protocol's figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.seed_cmc import load_seed_cmc  # noqa: E402
from tests.support.shared import shared_dir  # noqa: E402


class Trace:
    """One sampled reasoning trace with its read cursor."""

    def __init__(self, probes: list[str], tokens: int, final: str) -> None:
        self.probes = probes
        self.tokens = tokens
        self.final = final
        self.reads = 0
        self.spent = 0
        self.done = False

    def read(self, interval: int) -> tuple[str, int, bool]:
        if self.done:
            return self.final, 0, True
        if self.reads < len(self.probes):
            answer = self.probes[self.reads]
            self.reads += 1
            self.spent += interval
            return answer, interval, False
        charge = max(0, self.tokens - self.spent)
        self.spent += charge
        self.done = True
        return self.final, charge, True


class ReplayQuestion:
    """The question interface AutoTTS controllers are written against."""

    def __init__(self, record: dict[str, Any], seed: int) -> None:
        self.traces = [Trace(*b) for b in record["each_branch"]]
        random.Random(seed).shuffle(self.traces)
        self.gold = record["gold_answer"]
        self.probe_freq = record["probe_freq"]
        self.opened = 0
        self.cost = 0

    def probe_new(self) -> tuple[str, int, bool]:
        if self.opened >= len(self.traces):
            raise ValueError("Index out of range for branches.")
        answer, charge, done = self.traces[self.opened].read(self.probe_freq)
        self.cost += charge
        self.opened += 1
        return answer, self.opened - 1, done

    def probe_more(self, index: int) -> tuple[str, bool]:
        if not 0 <= index < self.opened:
            raise ValueError("Index out of range for branches.")
        answer, charge, done = self.traces[index].read(self.probe_freq)
        self.cost += charge
        return answer, done

    def get_new_branch_final_answer(self) -> str:
        if self.opened >= len(self.traces):
            raise ValueError("Index out of range for branches.")
        t = self.traces[self.opened]
        self.opened += 1
        t.spent, t.reads, t.done = t.tokens, 1, True
        self.cost += t.tokens
        return t.final

    def get_seq_and_total_tokens(self) -> tuple[int, int]:
        return 0, self.cost


def evaluate(
    records: list[dict[str, Any]], controller: Any, seeds: range, traces: list[dict[str, Any]]
) -> dict[str, Any]:
    per_seed_acc: list[float] = []
    per_seed_cost: list[float] = []
    for seed in seeds:
        questions = [ReplayQuestion(r, seed) for r in records]
        correct = 0
        total = 0
        for index, q in enumerate(questions):
            answer = controller.solve(q)
            correct += answer == q.gold
            total += q.cost
            traces.append(
                {
                    "shuffle_seed": seed,
                    "question_index": index,
                    "is_correct": answer == q.gold,
                    "cost": q.cost,
                    "trace": controller.get_last_trace(),
                }
            )
        per_seed_acc.append(correct / len(questions))
        per_seed_cost.append(total / len(questions))
    return {
        "accuracy": round(100 * sum(per_seed_acc) / len(per_seed_acc), 2),
        "avg_tokens": int(sum(per_seed_cost) / len(per_seed_cost)),
    }


def parse_betas(text: str) -> list[float]:
    if ":" not in text:
        return [float(x) for x in text.split(",")]
    lo, hi, step = (float(x) for x in text.split(":"))
    n = round((hi - lo) / step)
    return [round(lo + k * step, 10) for k in range(n + 1)]


_RECORDS: list[dict[str, Any]] = []


def _load(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        _RECORDS[:] = json.load(f)


def _evaluate_in_worker(beta: float, n_seeds: int) -> tuple[dict[str, Any], list[Any]]:
    cmc = load_seed_cmc(shared_dir())
    controller = cmc({"beta": beta})
    traces: list[dict[str, Any]] = []
    got = evaluate(_RECORDS, controller, range(n_seeds), traces)
    return {"Method": "OptimalController", "beta": beta, **got}, traces


def main(argv: list[str] | None = None) -> int:
    import concurrent.futures

    import pandas as pd

    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("store", type=Path, help="an AutoTTS store (.json)")
    p.add_argument("--out", type=Path, required=True, help="directory for results and traces")
    p.add_argument("--beta", default="0.5", help="β, a list a,b or a grid lo:hi:step")
    p.add_argument("--seeds", type=int, default=100)
    args = p.parse_args(argv)
    betas = parse_betas(args.beta)
    rows: list[dict[str, Any]] = []
    all_traces: list[dict[str, Any]] = []
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=1, initializer=_load, initargs=(str(args.store),)
    ) as pool:
        for row, traces in pool.map(_evaluate_in_worker, betas, [args.seeds] * len(betas)):
            rows.append(row)
            all_traces.extend({"method": row["Method"], "beta": row["beta"], **t} for t in traces)
            print(json.dumps({"store": str(args.store), **row}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out / f"{args.store.stem}_raw.csv", index=False)
    with open(args.out / f"{args.store.stem}_trace.jsonl", "w", encoding="utf-8") as f:
        for t in all_traces:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
