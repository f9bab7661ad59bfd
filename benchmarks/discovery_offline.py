"""The result of issue #11: an offline discovery run (0 LLM calls) on the four
AIME24 stores, judged on held-out data.

Searches with the offline proposer (typed mutations, crossovers with the
archive and stdlib templates, the CMA-ES schedule tuner; no LLM, $0) on the
AIME24 stores of Qwen3-0.6B/1.7B/4B/8B for at most --minutes of search wall
time, with the protocol's 100 seeds for every reported number (a 10-seed
screen first). Then the final pick — of the programs whose gain over CMC is
larger than its uncertainty and not clearly below the surest such gain, the
one that changes CMC least (retunes first; docs/search.md), else CMC
itself — CMC and SC are evaluated on the eight held-out stores (AIME25 and HMMT25 of the same four
models, 100 seeds), and this prints, per β of the grid: accuracy and tokens
of each, and the tokens the pick and SC need to match CMC's accuracy; then
the target:

    a controller that dominates CMC on held-out: at least CMC β=1's average
    held-out accuracy at no more than CMC β=0.5's average tokens, or failing
    that, more accuracy than CMC at equal tokens across CMC's range
    (held-out ref:cmc > 0 with its paired bootstrap interval over the
    held-out questions above 0).

Everything is recorded under --out (resume a killed run with --resume);
`tts-dsl search report OUT --heldout` shows the same tables again, plus
rounds and lineage.

    python benchmarks/discovery_offline.py [--minutes 60] [--candidates 8]
        [--betas 0:1:0.25] [--seeds 100] [--screen-seeds 10]
        [--heldout-seeds 100] [--jobs N] [--random-seed 0] [--out DIR] [--resume]

A quick check of the script itself (a minute or two):
`--minutes 1 --rounds 1 --candidates 2 --seeds 4 --screen-seeds 2
--heldout-seeds 2 --betas 0,0.5,1`.
"""

from __future__ import annotations

import argparse
import os
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
from autotts_dsl.sweeps.runner import default_jobs  # noqa: E402
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


def k(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_heldout(rep: HeldoutReport, label: str) -> None:
    print(f"\nheld-out: {', '.join(rep.stores)} ({rep.n_seeds} seeds), mean over stores\n")
    print(
        f"| β | {label} acc % | {label} tokens | CMC acc % | CMC tokens | SC acc % | SC tokens "
        f"| {label} tokens for CMC's acc | SC tokens for CMC's acc |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rep.rows:
        print(
            f"| {r.beta:g} | {pct(r.pick.accuracy if r.pick else None)} | "
            f"{k(r.pick.tokens if r.pick else None)} | {pct(r.cmc.accuracy if r.cmc else None)} | "
            f"{k(r.cmc.tokens if r.cmc else None)} | {pct(r.sc.accuracy if r.sc else None)} | "
            f"{k(r.sc.tokens if r.sc else None)} | {k(r.pick_match)} | {k(r.sc_match)} |"
        )
    if rep.sc64 is not None:
        print(f"\nSC@64: {rep.sc64.accuracy:.2f} % at {k(rep.sc64.tokens)} tokens")
    if rep.pick_vs_cmc is not None:
        gain = rep.pick_vs_cmc_gain
        print(
            f"held-out ref:cmc of {label} (accuracy gained over CMC at CMC's token levels): "
            + (gain.text("points") if gain is not None else f"{rep.pick_vs_cmc:+.2f} points")
        )
    if rep.target_accuracy is not None and rep.target_tokens is not None:
        goal = (
            f"target: >= {rep.target_accuracy:.2f} % (CMC β=1) at <= {k(rep.target_tokens)} "
            "tokens (CMC β=0.5): "
        )
        if rep.meets is not None:
            goal += (
                f"MET at β={rep.meets.beta:g} ({rep.meets.accuracy:.2f} %, {k(rep.meets.tokens)})"
            )
        elif rep.fallback_met:
            goal += (
                "not met; more accuracy than CMC at equal tokens over CMC's range, by more "
                "than its uncertainty (fallback met)"
            )
        elif rep.pick_vs_cmc is not None and rep.pick_vs_cmc > 0:
            goal += (
                "NOT met; the fallback (more accuracy than CMC at equal tokens) holds on "
                "average only, within its uncertainty"
            )
        else:
            goal += "NOT met"
        print(goal)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="search wall-time limit")
    p.add_argument("--rounds", type=int, default=10_000, help="round limit (the clock decides)")
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("--betas", default="0:1:0.25")
    p.add_argument("--seeds", default="100")
    p.add_argument("--screen-seeds", default="10")
    p.add_argument("--heldout-seeds", default="100")
    p.add_argument("--jobs", type=int, default=default_jobs())
    p.add_argument("--random-seed", type=int, default=0)
    p.add_argument("--out", default="runs/discovery_offline")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()

    root = shared_dir() / "replay" / "autotts"
    out = Path(args.out)
    argv = ["search", "--out", str(out)]
    if args.resume:
        argv += ["--resume", "--max-minutes", str(args.minutes)]
    else:
        argv += ["--seed", *SEEDS, "--search-store", *stores(root, SEARCH_SETS)]
        argv += ["--heldout-store", *stores(root, HELDOUT_SETS)]
        argv += ["--rounds", str(args.rounds), "--candidates", str(args.candidates)]
        argv += ["--betas", args.betas, "--seeds", args.seeds]
        argv += ["--screen-seeds", args.screen_seeds, "--heldout-seeds", args.heldout_seeds]
        argv += ["--random-seed", str(args.random_seed), "--max-minutes", str(args.minutes)]
    argv += ["--jobs", str(args.jobs)]
    load = os.getloadavg()[0]
    print(
        f"backend {os.environ.get('TTS_DSL_BACKEND', 'auto')}, {args.jobs} jobs, "
        f"load average {load:.2f} at the start"
    )
    started = time.perf_counter()
    code = tts_dsl(argv)
    wall = time.perf_counter() - started
    if code != 0:
        return code
    with History(out / HISTORY_FILE) as h:
        config = SearchConfig.from_json(h.get_meta("config") or "{}")
        final = h.final()
        if final is None:
            print("no final pick")
            return 1
        pick = final[0]
        prog = h.program(pick)
        t = totals(h)
        print(
            f"\nsearch: {t.programs} programs ({t.rejected} rejected proposals), "
            f"{t.search_seconds / 60:.1f} min of search, {t.heldout_seconds:.0f} s held-out, "
            f"{wall / 60:.1f} min in all, {t.calls} LLM calls, ${t.usd:.2f}"
        )
        print(f"final pick: p{pick} ({prog.name}): {h.final_note()}")
        print(f"rationale of its last step: {prog.rationale[:300]}")
        rep = heldout_report(h, pick, baseline_ids(h), parse_objective(config.objective))
        if rep is None:
            print("no held-out stores")
            return 1
        print_heldout(rep, f"p{pick}")
        print(f"\nthe pick: {out / 'final_pick.tts'}; report: tts-dsl search report {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
