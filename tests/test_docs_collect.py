"""docs/collect.md's commands run as written against serve-replay (the page's
```sh blocks; ```text blocks are the parts that need a real server)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live import serve_replay_process

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "collect.md"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)


def test_page_has_the_whole_path() -> None:
    blocks = "\n".join(sh_blocks(PAGE.read_text(encoding="utf-8")))
    for step in (
        "--dry-run",
        'tts-dsl collect --server "$SERVER"',
        "store inspect",
        "tts-dsl sweep",
    ):
        assert step in blocks, step


@pytest.mark.shared
@pytest.mark.slow  # ~45 s: eight tts-dsl processes, a collection and a sweep
def test_page_commands_run_against_serve_replay(shared_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "tests" / "data").mkdir(parents=True)
    shutil.copy(REPO / "tests/data/aime24_questions.jsonl", work / "tests/data/")
    port_file = tmp_path / "port"
    bindir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "TTS_DSL_DATA": str(tmp_path / "data"),
    }
    server = serve_replay_process(
        shared_dir / "replay/autotts/Qwen3-8B/aime24.json", port_file, env=env, timeout=120
    )
    try:
        env["SERVER"] = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        env["MODEL"] = "replay/autotts/Qwen3-8B/aime24"
        for block in sh_blocks(PAGE.read_text(encoding="utf-8")):
            done = subprocess.run(
                ["bash", "-e", "-c", block], cwd=work, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{block}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    finally:
        server.kill()
        server.wait()
    assert (work / "my-store.json").is_file() and (work / "my-store.json.meta").is_file()
    assert (work / "my-sweep" / "results.csv").is_file()
