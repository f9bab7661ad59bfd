"""Where the shared AutoTTS data lives and what it holds.

One definition for the test fixtures and the benchmark scripts: `../shared`
beside the repository, unless `TTS_DSL_SHARED` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SHARED_ENV = "TTS_DSL_SHARED"
MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
DATASETS = ("aime24", "aime25", "hmmt25")


def locate_shared() -> tuple[Path, str]:
    """The shared directory and how it was found (for messages)."""
    env = os.environ.get(SHARED_ENV)
    if env:
        return Path(env).expanduser().resolve(), f"${SHARED_ENV}={env}"
    return REPO_ROOT.parent / "shared", "../shared relative to the repository root"


def shared_dir() -> Path:
    return locate_shared()[0]
