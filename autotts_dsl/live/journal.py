"""The durable record of a collection: every finished trace and probe.

A SQLite file (WAL, `synchronous=FULL`: each commit is on disk before the
next request is planned), written only by the collecting thread. A trace
row keeps the trace's tokens until all its probes are in, then drops them
(a 40k-token trace is ~100 KB; the store needs only lengths and answers).
Each answered request also adds a `spend` row in the same transaction, so
the cost of a collection that was killed and resumed adds up exactly.

The journal is tied to the settings that decide its content (model,
sampling, prompt, interval, probe suffix, questions): resuming with other
settings is refused instead of mixing two collections.
"""

from __future__ import annotations

import array
import json
import sqlite3
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..records import record

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS traces (
    q INTEGER NOT NULL, i INTEGER NOT NULL, seed INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, reasoning INTEGER NOT NULL, finish TEXT NOT NULL,
    final TEXT, tokens BLOB, PRIMARY KEY (q, i));
CREATE TABLE IF NOT EXISTS probes (
    q INTEGER NOT NULL, i INTEGER NOT NULL, k INTEGER NOT NULL, prefix INTEGER NOT NULL,
    answer TEXT, finish TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (q, i, k));
CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL);
"""

VERSION = "1"


class JournalError(Exception):
    """The journal is unreadable or belongs to a different collection."""


@record
class TraceRow:
    q: int
    i: int
    seed: int
    n_tokens: int
    reasoning: int
    finish: str
    final: str | None
    tokens: tuple[int, ...] | tuple[str, ...] | None


def pack_tokens(ids: Sequence[int] | None, texts: Sequence[str] | None) -> bytes:
    if ids is not None:
        arr = array.array("I", ids)
        if sys.byteorder != "little":
            arr.byteswap()
        return b"I" + zlib.compress(arr.tobytes(), 1)
    return b"T" + zlib.compress(json.dumps(list(texts or ())).encode(), 1)


def unpack_tokens(blob: bytes) -> tuple[int, ...] | tuple[str, ...]:
    raw = zlib.decompress(blob[1:])
    if blob[:1] == b"I":
        arr = array.array("I")
        arr.frombytes(raw)
        if sys.byteorder != "little":
            arr.byteswap()
        return tuple(arr)
    return tuple(json.loads(raw))


def open_journal_db(
    path: Path, schema: str, *, check_same_thread: bool = True
) -> tuple[sqlite3.Connection, dict[str, str]]:
    """A journal's database (WAL, synchronous writes, the schema applied) and
    its meta rows (empty for a new journal). Raises `JournalError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: not a usable journal ({exc})") from None
    except OSError as exc:
        raise JournalError(f"{path}: cannot open: {exc.strerror or exc}") from None
    return db, rows


def write_journal_meta(db: sqlite3.Connection, version: str, settings: dict[str, Any]) -> None:
    """A new journal's version and settings, in one transaction."""
    with db:
        db.execute("BEGIN")
        db.execute("INSERT INTO meta VALUES ('version', ?)", (version,))
        db.execute(
            "INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings, sort_keys=True),)
        )


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    parts = [f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in changed[:3]]
    return "; ".join(parts) + (" ..." if len(changed) > 3 else "")


class Journal:
    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.db, rows = open_journal_db(self.path, SCHEMA)
        if rows:
            if rows.get("version") != VERSION:
                raise JournalError(
                    f"{self.path}: journal version {rows.get('version')!r}, need {VERSION}"
                )
            old = json.loads(rows["settings"])
            if old != settings:
                raise JournalError(
                    f"{self.path}: this journal belongs to a collection with other settings "
                    f"({_diff(old, settings)}); pass the same settings or another --journal"
                )
        else:
            write_journal_meta(self.db, VERSION, settings)

    def close(self) -> None:
        self.db.close()

    # -- writes (each one transaction, durable on return) --------------------

    def add_trace(self, row: TraceRow, *, prompt_tokens: int) -> None:
        blob = None
        if row.tokens is not None:
            tokens = row.tokens
            ids = tokens if tokens and isinstance(tokens[0], int) else None
            blob = pack_tokens(ids, None if ids is not None else tokens)  # type: ignore[arg-type]
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO traces VALUES (?,?,?,?,?,?,?,?)",
                (row.q, row.i, row.seed, row.n_tokens, row.reasoning, row.finish, row.final, blob),
            )
            self.db.execute(
                "INSERT INTO spend (kind, prompt_tokens, completion_tokens) VALUES ('trace',?,?)",
                (prompt_tokens, row.n_tokens),
            )

    def add_probes(
        self,
        q: int,
        i: int,
        probes: Sequence[tuple[int, int, str | None, str, str]],
        *,
        prompt_tokens: int,
        completion_tokens: int,
        finished: bool,
    ) -> None:
        """Probes (k, prefix, answer, finish, text) of trace (q, i); with
        `finished`, the trace's tokens are dropped in the same transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO probes VALUES (?,?,?,?,?,?,?)",
                [
                    (q, i, k, prefix, answer, finish, text)
                    for k, prefix, answer, finish, text in probes
                ],
            )
            self.db.execute(
                "INSERT INTO spend (kind, prompt_tokens, completion_tokens) VALUES ('probe',?,?)",
                (prompt_tokens, completion_tokens),
            )
            if finished:
                self.db.execute("UPDATE traces SET tokens = NULL WHERE q = ? AND i = ?", (q, i))

    # -- reads -----------------------------------------------------------------

    def traces(self) -> Iterator[TraceRow]:
        for q, i, seed, n, r, finish, final, blob in self.db.execute(
            "SELECT q, i, seed, n_tokens, reasoning, finish, final, tokens "
            "FROM traces ORDER BY q, i"
        ):
            yield TraceRow(
                q, i, seed, n, r, finish, final, None if blob is None else unpack_tokens(blob)
            )

    def trace_keys(self) -> set[tuple[int, int]]:
        return {(q, i) for q, i in self.db.execute("SELECT q, i FROM traces")}

    def probe_answers(self) -> dict[tuple[int, int], dict[int, str | None]]:
        out: dict[tuple[int, int], dict[int, str | None]] = {}
        for q, i, k, answer in self.db.execute("SELECT q, i, k, answer FROM probes"):
            out.setdefault((q, i), {})[k] = answer
        return out

    def spend(self) -> dict[str, int]:
        out = {"trace_requests": 0, "probe_requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for kind, n, p, c in self.db.execute(
            "SELECT kind, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) "
            "FROM spend GROUP BY kind"
        ):
            out[f"{kind}_requests"] = n
            out["prompt_tokens"] += p or 0
            out["completion_tokens"] += c or 0
        return out
