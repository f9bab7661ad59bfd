"""Where tts-dsl keeps what it may recompute: `$TTS_DSL_CACHE` (`off`, `0`,
`no` or empty turn caching off), else `$XDG_CACHE_HOME/tts-dsl`, else
`~/.cache/tts-dsl`. Its users: parsed stores (`stores/`,
replay/store_cache.py) and the SC@64 column (`sc64/`, runs.py). Nothing in
it is a result; deleting it only costs time."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path | None:
    """The tool's cache directory, or None when caching is off."""
    env = os.environ.get("TTS_DSL_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "no") else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tts-dsl"
