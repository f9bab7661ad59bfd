"""docs/infer.md's commands: every one parses, and the ```sh blocks run as
written against serve-replay, giving what the page says (```text blocks
are the parts that need a real server or a second terminal)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autotts_dsl.cli.main import build_parser
from tests.support.live import serve_replay_process

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "infer.md"


def blocks(kind: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"^```{kind}\n(.*?)^```", text, flags=re.M | re.S)


def test_every_command_on_the_page_parses() -> None:
    parser = build_parser(full=True)
    seen = 0
    for block in blocks("sh") + blocks("text"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("tts-dsl "):
                parser.parse_args(shlex.split(line)[1:])
                seen += 1
    assert seen >= 4
    assert "tts-dsl infer" in "\n".join(blocks("sh")) and "vllm serve" in "\n".join(blocks("text"))


@pytest.mark.shared
@pytest.mark.slow  # ~30 s: serve-replay, an infer and a run as processes
def test_page_commands_run_against_serve_replay(shared_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "tests" / "data").mkdir(parents=True)
    shutil.copy(REPO / "tests/data/aime24_questions.jsonl", work / "tests/data/")
    (tmp_path / "shared").symlink_to(shared_dir)  # the page's ../shared, seen from work/
    port_file = tmp_path / "port"
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = serve_replay_process(
        shared_dir / "replay/autotts/Qwen3-8B/aime24.json", port_file, env=env, timeout=120
    )
    try:
        env["SERVER"] = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        env["MODEL"] = "replay/autotts/Qwen3-8B/aime24"
        for block in blocks("sh"):
            done = subprocess.run(
                ["bash", "-e", "-c", block], cwd=work, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{block}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    finally:
        server.kill()
        server.wait()
    online = [json.loads(x) for x in (work / "cmc-trace.jsonl").read_text().splitlines()]
    offline = [json.loads(x) for x in (work / "run-trace.jsonl").read_text().splitlines()][:3]
    assert len(online) == 3
    for a, b in zip(online, offline, strict=True):
        assert {k: v for k, v in a.items() if k != "store"} == {
            k: v for k, v in b.items() if k != "store"
        }
    rows = [json.loads(x) for x in (work / "cmc.jsonl").read_text().splitlines()]
    assert [(r["tokens"], r["seq_tokens"]) for r in rows] == [
        (b["cost"], b["seq_cost"]) for b in offline
    ]
