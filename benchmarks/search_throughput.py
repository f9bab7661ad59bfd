"""Candidates per minute through the whole search pipeline.

Three kinds of new programs, made the way the search makes them:

* constant-only edits: CMC with one literal of a knob, param or guard moved
  (the offline `knob`/`param`/`body` mutations);
* structural edits: a library gate inserted, a rule removed, `finally`
  swapped, a rule crossed over from another stdlib controller;
* full-program replies: an LLM-style reply (a ```tts block holding a stdlib
  controller with a changed constant) read by `edits.read_reply`.

Each kind goes through what a round does with a candidate: check, caps gate,
record, screen (the first --screen-seeds seeds, every store × β), promotion
of the best --promote share, the full evaluation of the promoted ones on the
remaining seeds (the protocol's 100 in all), and the paired bootstrap against
the parent that decides the archive. The seeds and the reference (round 0)
are evaluated before the clock starts. The figure depends on the evaluation
engine (`--backend`, `$TTS_DSL_BACKEND`; default auto), which is printed, as
is the load average: on a loaded machine the figure is provisional.

    python benchmarks/search_throughput.py [--candidates 8] [--jobs 2]
        [--stores aime24|synthetic] [--betas 0:1:0.25] [--seeds 100] [--screen-seeds 10]

Target (issue #11): >= 30 new CMC-sized candidates per minute on 2 cores, on
the four AIME24 stores × 5 β with 100 seeds for the survivors.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.fmt import format_program  # noqa: E402
from autotts_dsl.parser import parse  # noqa: E402
from autotts_dsl.programs import STDLIB_DIR  # noqa: E402
from autotts_dsl.search import mutate as mu  # noqa: E402
from autotts_dsl.search.config import SearchConfig  # noqa: E402
from autotts_dsl.search.edits import read_reply  # noqa: E402
from autotts_dsl.search.history import HISTORY_FILE, History  # noqa: E402
from autotts_dsl.search.loop import Search  # noqa: E402
from autotts_dsl.search.offline import Proposed  # noqa: E402
from autotts_dsl.search.session import init_history  # noqa: E402
from autotts_dsl.search.verify import verify  # noqa: E402
from autotts_dsl.sweeps.grid import parse_betas  # noqa: E402
from tests.support.shared import MODELS, shared_dir  # noqa: E402

CONSTANT_OPS = (mu.op_knob, mu.op_param, mu.op_body)
STRUCTURAL_OPS = (mu.op_gate_insert, mu.op_gate_remove, mu.op_aggregator, mu.op_crossover)
DONORS = ("ibc", "scr", "dgcc", "sdgv", "asc")


def source(name: str) -> str:
    return (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")


def mutants(kind: str, n: int, rng: random.Random, seen: set[str]) -> list[str]:
    cmc = parse(source("cmc"), "cmc")
    donors = [parse(source(d), d) for d in DONORS]
    out: list[str] = []
    tries = 0
    while len(out) < n and tries < 500 * n:
        tries += 1
        if kind == "full":
            name = rng.choice(("cmc", *DONORS[:3]))
            prog = parse(source(name), name)
            got = mu.op_knob(prog, rng, None)
            if got is None:
                continue
            reply = f"Try this.\n\n```tts\n{format_program(got[0])}```\n"
            text = read_reply(reply, {"p1": source("cmc")}, "p1").source
        else:
            ops = CONSTANT_OPS if kind == "constant" else STRUCTURAL_OPS
            got = rng.choice(ops)(cmc, rng, rng.choice(donors))
            if got is None:
                continue
            text = format_program(got[0])
        if text is None:
            continue
        v = verify(text)
        if v.ok and v.hash not in seen:
            seen.add(v.hash)
            out.append(text)
    return out


def store_specs(which: str) -> list[str]:
    if which == "synthetic":
        return ["default"]
    root = shared_dir() / "replay" / "autotts"
    return [str(root / m / f"{which}.json") for m in MODELS]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--candidates", type=int, default=8, help="per kind")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--stores", default="aime24")
    p.add_argument("--betas", default="0:1:0.25")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--screen-seeds", type=int, default=10)
    p.add_argument("--random-seed", type=int, default=0)
    args = p.parse_args()
    config = SearchConfig(
        seed_programs=("cmc",),
        search_stores=tuple(store_specs(args.stores)),
        betas=parse_betas(args.betas),
        seeds=tuple(range(args.seeds)),
        screen_seeds=args.screen_seeds,
    )
    backend = os.environ.get("TTS_DSL_BACKEND", "auto")
    print(
        f"backend {backend}; {len(config.search_stores)} store(s) × {len(config.betas)} β; "
        f"screen {len(config.chunks[0])} seeds, full {len(config.seeds)}; {args.jobs} jobs; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rng = random.Random(args.random_seed)
    with tempfile.TemporaryDirectory(prefix="tts-dsl-throughput-") as tmp:
        out = Path(tmp)
        with History(out / HISTORY_FILE, create=True) as h:
            init_history(h, config)
            search = Search(out, h, config, jobs=args.jobs)
            try:
                t0 = time.perf_counter()
                search.evaluate_seeds()
                print(f"round 0 (CMC, SC baseline; not timed): {time.perf_counter() - t0:.1f} s")
                seen = {pr.hash for pr in h.programs()}
                for round_no, kind in enumerate(("constant", "structural", "full"), 1):
                    started = time.perf_counter()
                    texts = mutants(kind, args.candidates, rng, seen)
                    h.start_round(round_no, "")
                    accepted = 0
                    for slot, text in enumerate(texts):
                        v = verify(text)
                        if search.gate(text, f"<{kind} {slot}>", v.program) is not None:
                            continue
                        name = v.program.name if v.program else kind
                        prop = Proposed(slot, text, v.hash, name, (1,), kind)
                        search._record_slot(round_no, slot, "bench", prop, [], "new")
                        accepted += 1
                    h.set_round_status(round_no, "evaluating")
                    cells = search._screen_and_promote(round_no)
                    search._admit(round_no)
                    wall = time.perf_counter() - started
                    decisions = h.decisions()
                    ids = [c.program_id for c in h.candidates(round_no) if c.program_id]
                    promoted = sum(
                        1
                        for pid in ids
                        if (d := decisions.get((pid, "screen"))) and d.verdict == "promoted"
                    )
                    rate = 60 * accepted / wall if wall > 0 else float("inf")
                    all_cells = h.cells()
                    worker = sum(
                        c.wall_seconds
                        for pid in ids
                        for by_beta in all_cells.get(pid, {}).values()
                        for by_seeds in by_beta.values()
                        for c in by_seeds.values()
                    )
                    print(
                        f"{kind:>10}: {accepted} candidates, {promoted} promoted, {cells} cells "
                        f"in {wall:.1f} s → {rate:.1f} candidates/min "
                        f"(the engine: {worker:.1f} s of worker time in the cells)"
                    )
            finally:
                search.close()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
