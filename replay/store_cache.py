"""The parsed form of store files, kept between processes.

Validating and interning a 2 MB AutoTTS store takes ~70 ms; reading it back
pickled takes ~8. Entries are keyed by the SHA-256 of the file's bytes (so
an edited file is a new entry, never a stale one), the entry format and the
tool version. Only the questions and the vocabulary are kept: a store's name
and source come from how it is opened. This caches parsing, not results:
every evaluation still runs.

Entries live in `stores/` of the tool's cache directory (cache_dir.py:
`$TTS_DSL_CACHE`, `off` disables it). A missing, unreadable
or corrupt entry is a miss; a cache that cannot be written is skipped.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..cache_dir import cache_root

if TYPE_CHECKING:
    from .store import Question

FORMAT = 1
"""Bumped whenever the pickled form changes shape."""


def _entry(digest: str) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    return root / "stores" / f"{digest}.v{FORMAT}-{__version__}.pickle"


def get(digest: str) -> tuple[tuple[Question, ...], tuple[str, ...]] | None:
    """(questions, vocab) of the store file whose bytes hash to `digest`, if cached."""
    path = _entry(digest)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        got: Any = pickle.loads(data)
    except Exception:  # a corrupt or foreign entry is a miss, never an error
        return None
    if not (isinstance(got, tuple) and len(got) == 3 and got[0] == digest):
        return None
    return got[1], got[2]


def put(digest: str, questions: tuple[Question, ...], vocab: tuple[str, ...]) -> None:
    """Keep the parsed store (best effort: a read-only cache is skipped)."""
    path = _entry(digest)
    if path is None:
        return
    from ..io_atomic import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, pickle.dumps((digest, questions, vocab), protocol=5))
    except OSError:
        pass
