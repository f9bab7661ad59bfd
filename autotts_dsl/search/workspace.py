"""A workspace for an agent behind `--proposer command --workspace`.

Before each proposal the search lays out a directory for the command (its
working directory; `$TTS_DSL_WORKSPACE` names it too):

    prompt.md        the prompt of this proposal
    parent.tts       the suggested parent
    programs/pN.tts  the archive programs shown in the prompt
    stdlib/*.tts     the stdlib controllers
    docs/*.md        the language, builtins, checker and search docs
    config.json      search stores, β grid, seeds, the reference's curve there
    evaluate         `./evaluate FILE.tts` checks a program and evaluates it on
                     the search stores (screen seeds), printing its table and
                     its score against the reference on the same seeds

Only search stores are written here: no held-out store, path or number
reaches the workspace (the agent can of course read the machine; the search
keeps nothing held-out where it looks). Evaluations an agent runs are its
own tool, not candidates: its reply is what the search evaluates.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ..io_atomic import atomic_write_text
from ..programs import STDLIB_DIR
from .archive import program_cells
from .config import SearchConfig
from .history import History
from .objective import CurvePoint, ScoreContext, Window, parse_objective
from .stats import curves_of
from .view import SearchState

DOCS = ("language.md", "builtins.md", "checker.md", "search.md")
DOCS_DIR = Path(__file__).resolve().parent.parent.parent / "docs"


def prepare(
    root: Path,
    history: History,
    state: SearchState,
    config: SearchConfig,
    prompt: str,
    parent: str | None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "prompt.md", prompt)
    progs = root / "programs"
    progs.mkdir(exist_ok=True)
    for s in state.archive:
        atomic_write_text(progs / f"{s.program.label}.tts", s.program.source)
    if parent is not None:
        atomic_write_text(root / "parent.tts", history.program(int(parent[1:])).source)
    stdlib = root / "stdlib"
    stdlib.mkdir(exist_ok=True)
    for f in sorted(STDLIB_DIR.glob("*.tts")):
        shutil.copyfile(f, stdlib / f.name)
    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    for name in DOCS:
        if (DOCS_DIR / name).is_file():
            shutil.copyfile(DOCS_DIR / name, docs / name)
    stores = history.stores("search")
    screen = config.chunks[0]
    ref: dict[str, list[list[float]]] = {}
    if state.reference_id is not None:
        from ..sweeps.grid import seeds_spec

        got = program_cells(
            history.cells().get(state.reference_id, {}),
            [s.content_hash for s in stores],
            config.betas,
            [seeds_spec(screen)],
        )
        if got is not None:
            ref = {
                h: [[p.beta, p.accuracy, p.tokens] for p in pts]
                for h, pts in curves_of(got).items()
            }
    cfg: dict[str, Any] = {
        "stores": [
            {"spec": s.spec, "name": s.name, "hash": s.content_hash, "lo": s.lo,
             "hi": s.hi, "floor": s.floor_accuracy}
            for s in stores
        ],
        "betas": list(config.betas),
        "seeds": list(screen),
        "objective": config.objective,
        "reference": ref,
    }  # fmt: skip
    atomic_write_text(root / "config.json", json.dumps(cfg, indent=1))
    script = root / "evaluate"
    atomic_write_text(
        script,
        "#!/bin/sh\n"
        f"exec {shlex.quote(sys.executable)} -m autotts_dsl.search.workspace "
        f'--config "$(dirname "$0")/config.json" "$@"\n',
    )
    script.chmod(0o755)
    return root


def _evaluate(config_path: Path, program: Path) -> int:
    from ..diagnostics import DiagnosticError
    from ..interpreter import ProgramRunner
    from ..parser import parse
    from ..runtime import EpisodeFault
    from .cells import cached_store
    from .curves import Floor
    from .verify import verify

    cfg = json.loads(config_path.read_text(encoding="utf-8"))
    source = program.read_text(encoding="utf-8")
    verdict = verify(source, str(program))
    if not verdict.ok:
        print(verdict.diagnostics, file=sys.stderr)
        return 1
    runner = ProgramRunner(parse(source, str(program)), source, str(program))
    per: dict[str, list[CurvePoint]] = {}
    print("store | β | acc % | tokens")
    for s in cfg["stores"]:
        store = cached_store(s["spec"])
        pts = []
        for beta in cfg["betas"]:
            try:
                ev = runner.evaluate(store, beta, {}, tuple(cfg["seeds"]))
            except (EpisodeFault, DiagnosticError) as exc:
                print(f"{program}: {exc}", file=sys.stderr)
                return 1
            n = max(1, len(ev.correct))
            pts.append(
                CurvePoint(beta, 100 * float(ev.correct.sum()) / n, float(ev.cost.sum()) / n, 0.0)
            )
            print(f"{s['name']} | {beta:g} | {ev.accuracy:.2f} | {ev.avg_tokens:,}")
        per[s["hash"]] = pts
    if cfg["reference"]:
        ref = {
            h: [CurvePoint(b, a, t, 0.0) for b, a, t in pts] for h, pts in cfg["reference"].items()
        }
        windows = {s["hash"]: Window(s["lo"], s["hi"]) for s in cfg["stores"]}
        floors = {s["hash"]: Floor(s["lo"], s["floor"]) for s in cfg["stores"]}
        obj = parse_objective(cfg["objective"])
        score = obj.score(per, ScoreContext(windows, floors, ref))
        print(
            f"score ({obj.name}, {len(cfg['seeds'])} seeds, against the reference on the "
            f"same seeds): {score:+.2f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="evaluate", description="evaluate a program on the search stores"
    )
    p.add_argument("--config", required=True)
    p.add_argument("program")
    args = p.parse_args(argv)
    return _evaluate(Path(args.config), Path(args.program))


if __name__ == "__main__":
    raise SystemExit(main())
