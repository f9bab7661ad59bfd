"""The sweep's result cache: one SQLite file under the output directory.

Every finished cell is committed in its own transaction, in WAL mode, by the
parent process only (workers return results; they never write). SQLite's
journal makes each commit atomic, so killing the sweep at any moment (Ctrl-C,
`kill -9`) loses at most the cells still being computed and never leaves a
corrupt or half-written row. (`synchronous=NORMAL` in WAL mode is durable
against a crash of the process; only a power cut could roll back the last
few commits, again without corruption.)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import record

if TYPE_CHECKING:
    from ..replay.protocol import Evaluation

CACHE_FILE = "cache.sqlite"
SCHEMA_VERSION = 1
KEY_VERSION = "tts-dsl-sweep/1"
"""Part of every key: bump it when evaluation semantics change on purpose,
so results of the old semantics are never served again."""


class CacheError(Exception):
    """The cache file cannot be opened or is not a sweep cache."""


@record
class CellMetrics:
    """What one cell's evaluation produces (the replay protocol's summary)."""

    accuracy: float
    """Percent, rounded to 2 decimals as AutoTTS reports it."""
    avg_tokens: int
    avg_seq_tokens: int
    mean_opened: float
    mean_depth: float
    wall_seconds: float
    n_questions: int
    n_seeds: int
    backend: str = ""
    """The engine that computed the cell (empty: cached by an older version)."""
    tool_version: str = ""
    """The tts-dsl version that computed it (empty: an older version)."""

    @classmethod
    def of(cls, ev: Evaluation, wall_seconds: float | None = None) -> CellMetrics:
        """The summary of an evaluation, by this version (`wall_seconds`
        defaults to the evaluation's own)."""
        from .. import __version__

        return cls(
            accuracy=float(ev.accuracy),
            avg_tokens=int(ev.avg_tokens),
            avg_seq_tokens=int(ev.avg_seq_tokens),
            mean_opened=float(ev.mean_opened),
            mean_depth=float(ev.mean_depth),
            wall_seconds=ev.wall_seconds if wall_seconds is None else wall_seconds,
            n_questions=int(ev.n_questions),
            n_seeds=len(ev.seeds),
            backend=ev.backend,
            tool_version=__version__,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CellMetrics:
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def cell_key(
    program_hash: str,
    beta: float,
    params: Iterable[tuple[str, Any]],
    store_hash: str,
    seeds: str,
) -> str:
    """The cache key of a cell: a hash of everything that determines its result.

    `params` are typed values (ints, floats, bools), sorted by name here;
    `seeds` is the canonical seed text (`grid.seeds_spec`).
    """
    payload = json.dumps(
        [KEY_VERSION, program_hash, repr(float(beta)), sorted(params), store_hash, seeds],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key          TEXT PRIMARY KEY,
    program_hash TEXT NOT NULL,
    beta         REAL NOT NULL,
    params       TEXT NOT NULL,
    store_hash   TEXT NOT NULL,
    seeds        TEXT NOT NULL,
    metrics      TEXT NOT NULL,
    created      REAL NOT NULL
)
"""


class ResultCache:
    """Finished cells by key. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"{self.path}: cannot open the sweep cache: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise CacheError(
                    f"{self.path}: cache schema {version}, expected {SCHEMA_VERSION}; "
                    "delete the file to start afresh"
                )
            self._db.execute(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CacheError(f"{self.path}: not a usable sweep cache: {exc}") from None

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM cells").fetchone()[0])

    def get(self, key: str) -> CellMetrics | None:
        row = self._db.execute("SELECT metrics FROM cells WHERE key = ?", (key,)).fetchone()
        return None if row is None else CellMetrics.from_json(row[0])

    def get_many(self, keys: Sequence[str]) -> dict[str, CellMetrics]:
        out: dict[str, CellMetrics] = {}
        chunk = 500  # stay below SQLite's bound-parameter limit
        for i in range(0, len(keys), chunk):
            part = list(keys[i : i + chunk])
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, metrics FROM cells WHERE key IN ({marks})", part
            ).fetchall()
            out.update((k, CellMetrics.from_json(m)) for k, m in rows)
        return out

    def put(
        self,
        key: str,
        metrics: CellMetrics,
        *,
        program_hash: str = "",
        beta: float = 0.0,
        params: str = "",
        store_hash: str = "",
        seeds: str = "",
    ) -> None:
        """Store one cell in its own transaction (committed on return)."""
        with self._db:  # BEGIN ... COMMIT, or ROLLBACK on error
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    program_hash,
                    float(beta),
                    params,
                    store_hash,
                    seeds,
                    metrics.to_json(),
                    time.time(),
                ),
            )

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
