"""The ASTs of program files, kept between processes.

Every command parses its program again, and parsing is most of what a
short command does before it evaluates: importing Lark, loading its tables,
building the contextual lexer and transforming the tree cost ~0.1 s for
CMC; reading the pickled AST back costs ~1 ms. An entry is keyed by the
SHA-256 of the program text together with the code that turns text into an
AST (the grammar, the parser modules, `ast.py` and Lark's own version), so
an edited program or an upgraded parser is a new entry, never a stale one.
Only successful parses are kept: syntax errors are always found afresh.
This caches parsing, not results: every check and evaluation still runs.

Entries live in `programs/` of the tool's cache directory (cache_dir.py:
`$TTS_DSL_CACHE`, `off` disables it), at most `MAX_ENTRIES` of them (the
oldest go first). A missing, unreadable or corrupt entry is a miss; a cache
that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import ast
from .cache_dir import cache_root

FORMAT = 1
"""Bumped whenever the pickled form changes shape."""

MAX_ENTRIES = 256
"""Entries kept; writing one more drops the oldest quarter."""

_HERE = Path(__file__).resolve().parent
_PARSER_CODE = ("grammar/tts.lark", "parser.py", "lark_front.py", "ast.py")


@lru_cache(maxsize=1)
def parser_digest() -> str | None:
    """A digest of everything that decides the AST of a text, or None when
    the code cannot be read (then nothing is cached)."""
    h = hashlib.sha256(f"format {FORMAT}\n".encode())
    try:
        for name in _PARSER_CODE:
            h.update((_HERE / name).read_bytes())
        spec = importlib.util.find_spec("lark")  # its version, without importing it
        origin = spec.origin if spec else None
        if origin is None:
            return None
        h.update(Path(origin).read_bytes())
    except (OSError, ImportError, ValueError):
        return None
    return h.hexdigest()


def _key(source: str) -> str | None:
    code = parser_digest()
    if code is None:
        return None
    return hashlib.sha256(f"{code}\n{source}".encode("utf-8", "surrogatepass")).hexdigest()


def _dir() -> Path | None:
    root = cache_root()
    return None if root is None else root / "programs"


def get(source: str) -> ast.Program | None:
    """The AST of `source` (newlines normalised), if cached."""
    folder, key = _dir(), _key(source)
    if folder is None or key is None:
        return None
    try:
        data = (folder / f"{key}.pickle").read_bytes()
    except OSError:
        return None
    try:
        got: Any = pickle.loads(data)
    except Exception:  # a corrupt or foreign entry is a miss, never an error
        return None
    if not (isinstance(got, tuple) and len(got) == 2 and got[0] == key):
        return None
    program = got[1]
    return program if isinstance(program, ast.Program) else None


def put(source: str, program: ast.Program) -> None:
    """Keep the AST of `source` (best effort: a read-only cache is skipped)."""
    folder, key = _dir(), _key(source)
    if folder is None or key is None:
        return
    from .io_atomic import atomic_write_bytes

    try:
        folder.mkdir(parents=True, exist_ok=True)
        _make_room(folder)
        atomic_write_bytes(folder / f"{key}.pickle", pickle.dumps((key, program), protocol=5))
    except (OSError, pickle.PicklingError, RecursionError):
        pass


def _make_room(folder: Path) -> None:
    entries = [e for e in os.scandir(folder) if e.name.endswith(".pickle")]
    if len(entries) < MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for old in entries[: MAX_ENTRIES // 4]:
        with contextlib.suppress(OSError):
            os.unlink(old.path)
