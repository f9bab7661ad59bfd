"""CMC against SC@64 online: `tts-dsl infer` against `tts-dsl serve-replay
STORE --token-latency MS`, the table of README.md's *Running a program on a
live model* section.

Three processes, as a user would run them: serve-replay serves a shared
AutoTTS store with MS milliseconds of simulated decode time per generated
token (in parallel across requests, as on a real server), and `tts-dsl
infer` runs each program on the picked questions with one seed. Per program
it prints accuracy, the replay's total and sequential tokens (checked equal,
episode for episode, to `run` on the same store: the benchmark fails
otherwise), requests, tokens the look-ahead sampled that no read used,
and wall time per question next to what sequential
tokens predict (seq tokens × MS); the rest is what the requests cost
beyond decoding (serve-replay and infer are Python: each continuation and
probe resends its prefix, up to ~40k token ids, as JSON).

    python benchmarks/infer_latency.py [--store Qwen3-8B/aime25] [--questions 0:30:5]
        [--token-latency 2] [--programs cmc@0.5,sc@1.0] [--parallel 2]

The wall times depend on the machine's load (printed with them): the
simulated decode time is exact, the rest is serve-replay's and infer's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.programs import load_program  # noqa: E402
from autotts_dsl.replay.store import ReplayStore, load_store  # noqa: E402
from tests.support.shared import shared_dir  # noqa: E402

CLI = [sys.executable, "-m", "autotts_dsl.cli.main"]


def parse_picks(spec: str, n: int) -> list[int]:
    """`A:B[:STEP]` or a comma list of question indices."""
    if ":" in spec:
        parts = [int(x) if x else None for x in spec.split(":")]
        return list(range(n))[slice(*parts)]
    return [int(x) for x in spec.split(",")]


def load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def start_server(store_path: Path, token_latency_ms: float, work: Path) -> tuple[Any, str]:
    port_file = work / "port"
    server = subprocess.Popen(
        [
            *CLI,
            "serve-replay",
            str(store_path),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--token-latency",
            str(token_latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not port_file.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"serve-replay did not start: {server.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.1)
    return server, f"http://127.0.0.1:{port_file.read_text().strip()}/v1"


def offline_rows(store: ReplayStore, program: str, beta: float, picked: list[int]) -> list[Any]:
    """`run`'s (answer, tokens, seq tokens) per picked question, seed 0."""
    ev = load_program(program).evaluate(store, beta, {}, [0])
    return [
        (store.answer_text(int(ev.answer[q])), int(ev.cost[q]), int(ev.seq_cost[q])) for q in picked
    ]


def run_online(
    program: str,
    beta: float,
    *,
    url: str,
    model: str,
    questions: Path,
    work: Path,
    parallel: int,
) -> tuple[list[dict[str, Any]], float]:
    out = work / f"{program}-{beta}.jsonl"
    cmd = [
        *CLI,
        "infer",
        program,
        "--beta",
        str(beta),
        "--server",
        url,
        "--model",
        model,
        "--questions",
        str(questions),
        "--out",
        str(out),
        "--max-tokens",
        "42000",
        "--equivalence",
        "exact",
        "--parallel",
        str(parallel),
        "--concurrency",
        str(128 * parallel),
        "--json",
    ]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return [json.loads(line) for line in out.read_text().splitlines()], elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default="Qwen3-8B/aime25", help="MODEL/DATASET of the shared stores")
    ap.add_argument("--questions", default="0:30:5", help="A:B[:STEP] or a comma list")
    ap.add_argument("--token-latency", type=float, default=2.0, help="ms per generated token")
    ap.add_argument("--programs", default="cmc@0.5,sc@1.0", help="NAME@BETA,...")
    ap.add_argument("--parallel", type=int, default=2, help="episodes at once")
    args = ap.parse_args(argv)

    store_path = shared_dir() / "replay" / "autotts" / f"{args.store}.json"
    store = load_store(store_path)
    picked = parse_picks(args.questions, len(store.questions))
    programs = [(p.split("@")[0], float(p.split("@")[1])) for p in args.programs.split(",")]
    model = f"replay/autotts/{args.store}"
    print(f"# {args.store}: questions {picked}, seed 0, --token-latency {args.token_latency} ms")
    print(f"# before: {load_avg()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="infer-latency-") as tmp:
        work = Path(tmp)
        questions = work / "questions.jsonl"
        questions.write_text(
            "".join(
                json.dumps(
                    {
                        "question": store.questions[q].text,
                        "gold": store.vocab[store.questions[q].gold],
                    }
                )
                + "\n"
                for q in picked
            )
        )
        server, url = start_server(store_path, args.token_latency, work)
        try:
            for program, beta in programs:
                online, elapsed = run_online(
                    program,
                    beta,
                    url=url,
                    model=model,
                    questions=questions,
                    work=work,
                    parallel=args.parallel,
                )
                want = offline_rows(store, program, beta, picked)
                got = [(r["answer"], r["tokens"], r["seq_tokens"]) for r in online]
                if got != want:
                    raise SystemExit(f"{program} β={beta}: online {got} != offline {want}")
                n = len(online)
                seq = sum(r["seq_tokens"] for r in online) / n
                rows.append(
                    {
                        "program": f"{program} β={beta:g}",
                        "acc": 100 * sum(bool(r["correct"]) for r in online) / n,
                        "tokens": sum(r["tokens"] for r in online) / n,
                        "seq": seq,
                        "requests": sum(r["requests"] for r in online) / n,
                        "unread": sum(r["unread_tokens"] for r in online) / n,
                        "wall": sum(r["wall_seconds"] for r in online) / n,
                        "decode": seq * args.token_latency / 1000,
                        "elapsed": elapsed,
                    }
                )
                print(f"# {rows[-1]['program']}: done in {elapsed:.0f} s; {load_avg()}", flush=True)
        finally:
            server.kill()
            server.wait()
    print()
    print(
        "| program | acc % | tokens/q | seq tokens/q | requests/q | wall s/q "
        "| seq tokens × MS | the rest |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['program']} | {r['acc']:.1f} | {r['tokens']:,.0f} | {r['seq']:,.0f} | "
            f"{r['requests']:,.0f} | {r['wall']:.1f} | {r['decode']:.1f} | "
            f"{r['wall'] - r['decode']:.1f} |"
        )
    unread = ", ".join(f"{r['program']} {r['unread']:,.0f}" for r in rows)
    print(f"\nsampled by the look-ahead but never read, tokens/q: {unread}")
    if len(rows) == 2:
        a, b = rows
        print(
            f"{a['program']} / {b['program']}: tokens {a['tokens'] / b['tokens']:.2f}, "
            f"seq tokens {a['seq'] / b['seq']:.2f}, wall {a['wall'] / b['wall']:.2f}"
        )
    print("online = offline: every episode's answer, tokens and seq tokens are run's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
