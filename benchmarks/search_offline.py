"""An offline discovery run on the real AutoTTS stores, judged on held-out data.

Searches with the offline proposer (typed AST mutations: no LLM, $0) on the
four AIME24 stores (Qwen3-0.6B/1.7B/4B/8B), then evaluates the final pick,
CMC and SC@64 on the eight held-out stores (AIME25 and HMMT25 of the same
four models), and prints the pick's held-out frontier next to CMC's, with
wall time, against the target:

    accuracy >= CMC's mean held-out accuracy at β = 1, at no more than
    CMC's mean held-out tokens at β = 0.5.

Everything is recorded under --out (resumable with --resume); `tts-dsl search
report OUT --heldout` shows the same tables again, plus rounds and lineage.

    python benchmarks/search_offline.py [--rounds 20] [--candidates 6]
        [--betas 0:1:0.1] [--seeds 10] [--heldout-seeds 100] [--jobs N]
        [--random-seed 0] [--out DIR] [--resume]

A quick check: `--rounds 1 --candidates 2 --seeds 2 --heldout-seeds 2
--betas 0,0.5,1` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.cli.main import main as tts_dsl  # noqa: E402
from autotts_dsl.search.config import SearchConfig  # noqa: E402
from autotts_dsl.search.heldout import baseline_ids  # noqa: E402
from autotts_dsl.search.history import HISTORY_FILE, History  # noqa: E402
from autotts_dsl.search.objective import parse_objective  # noqa: E402
from autotts_dsl.search.report import HeldoutReport, heldout_report, totals  # noqa: E402
from autotts_dsl.sweep.runner import default_jobs  # noqa: E402
from tests.support.shared import MODELS, shared_dir  # noqa: E402

SEARCH_SETS = ("aime24",)
HELDOUT_SETS = ("aime25", "hmmt25")
SEEDS = ("cmc", "ibc", "scr", "dgcc", "asc", "esc")


def stores(root: Path, datasets: tuple[str, ...]) -> list[str]:
    out = [root / m / f"{d}.json" for m in MODELS for d in datasets]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        sys.exit(f"missing replay stores (set TTS_DSL_SHARED?): {', '.join(missing)}")
    return [str(p) for p in out]


def fmt_k(x: float) -> str:
    return f"{x:,.0f}"


def print_heldout(rep: HeldoutReport, wall: float, search_wall: float) -> None:
    print(f"\nheld-out: {len(rep.stores)} stores ({', '.join(rep.stores)}), mean over stores")
    pick = rep.pick_label + " acc %"
    print(f"{'β':>5} | {pick:>12} {'tokens':>10} | {'CMC acc %':>10} {'tokens':>10}")
    for row in rep.rows:
        p, c = row.pick, row.cmc
        left = f"{p.accuracy:12.2f} {fmt_k(p.tokens):>10}" if p else f"{'-':>12} {'-':>10}"
        right = f"{c.accuracy:10.2f} {fmt_k(c.tokens):>10}" if c else f"{'-':>10} {'-':>10}"
        print(f"{row.beta:5g} | {left} | {right}")
    if rep.sc64 is not None:
        print(f"SC@64: {rep.sc64.accuracy:.2f} % at {fmt_k(rep.sc64.tokens)} tokens")
    print(f"held-out {rep.auc_name}: {rep.pick_label} {rep.pick_auc:.2f} vs CMC {rep.cmc_auc:.2f}")
    if rep.target_accuracy is not None and rep.target_tokens is not None:
        print(
            f"target: >= {rep.target_accuracy:.2f} % (CMC β=1) at <= "
            f"{fmt_k(rep.target_tokens)} tokens (CMC β=0.5): "
            + (
                f"MET at β={rep.meets.beta:g} ({rep.meets.accuracy:.2f} %, "
                f"{fmt_k(rep.meets.tokens)} tokens)"
                if rep.meets
                else "not met"
            )
        )
    print(f"wall time: search {search_wall:.0f} s, held-out {wall:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--candidates", type=int, default=6)
    ap.add_argument("--betas", default="0:1:0.1")
    ap.add_argument("--seeds", default="10", help="shuffle seeds per search evaluation")
    ap.add_argument("--heldout-seeds", default="100", help="shuffle seeds on held-out stores")
    ap.add_argument("--jobs", type=int, default=default_jobs())
    ap.add_argument("--random-seed", type=int, default=0)
    ap.add_argument(
        "--objective",
        default="auc:8-32",
        help="search objective (default auc:8-32: the budget range of the target, between "
        "the cost of 8 and of 32 full traces)",
    )
    ap.add_argument("--out", default=str(REPO_ROOT / "search-offline-bench"))
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    root = shared_dir() / "replay" / "autotts"
    out = Path(args.out)
    argv = ["search", "--out", str(out), "--jobs", str(args.jobs)]
    if args.resume:
        argv += ["--resume", "--rounds", str(args.rounds)]
    else:
        argv += ["--seed", *SEEDS, "--search-store", *stores(root, SEARCH_SETS)]
        argv += ["--heldout-store", *stores(root, HELDOUT_SETS)]
        argv += ["--rounds", str(args.rounds), "--candidates", str(args.candidates)]
        argv += ["--betas", args.betas, "--seeds", args.seeds]
        argv += ["--heldout-seeds", args.heldout_seeds, "--random-seed", str(args.random_seed)]
        argv += ["--objective", args.objective]
    started = time.perf_counter()
    code = tts_dsl(argv)
    if code != 0:
        return code
    print(f"\nsearch + held-out wall time this run: {time.perf_counter() - started:.0f} s")
    with History(out / HISTORY_FILE) as history:
        config = SearchConfig.from_json(history.get_meta("config") or "{}")
        final = history.final()
        if final is None:
            print("no final pick")
            return 1
        rep = heldout_report(
            history, final[0], baseline_ids(history), parse_objective(config.objective)
        )
        t = totals(history)
        pick = history.program(final[0])
        print(
            f"final pick {pick.label} ({pick.name}, round {pick.round}): {out / 'final_pick.tts'}"
        )
        print(f"programs evaluated: {t.programs}; proposals rejected by the checker: {t.rejected}")
        if rep is not None:
            print_heldout(rep, t.heldout_seconds, t.search_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
