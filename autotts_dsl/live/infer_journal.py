"""The durable record of `tts-dsl infer`: every request's result, every
finished episode.

A SQLite file (WAL, `synchronous=FULL`): each continuation and probe is
committed before any thread may use it, so a run killed at any moment
resumes by replaying each unfinished episode from its start — the program
makes the same reads, the journal answers the ones it holds — and asks the
server only for the rest. A finished episode's result (and trace) is a row;
a resumed run does not run it again.

Rows belong to an episode (question, seed) and one of its branches. The
journal is tied to what decides its content (program, β, params, model,
sampling, prompts, interval, seeds mapping, questions): resuming with other
settings is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

from ..records import record
from .journal import (
    JournalError,
    open_journal_db,
    pack_tokens,
    unpack_tokens,
    write_journal_meta,
)
from .live_trace import Chunk, ProbeRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, q INTEGER NOT NULL, seed INTEGER NOT NULL, branch INTEGER NOT NULL,
    kind TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL, elapsed REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    q INTEGER NOT NULL, seed INTEGER NOT NULL, branch INTEGER NOT NULL, start INTEGER NOT NULL,
    trace_seed INTEGER NOT NULL, n INTEGER NOT NULL, finish TEXT NOT NULL, ended INTEGER NOT NULL,
    text TEXT NOT NULL, tokens BLOB NOT NULL, PRIMARY KEY (q, seed, branch, start));
CREATE TABLE IF NOT EXISTS probes (
    q INTEGER NOT NULL, seed INTEGER NOT NULL, branch INTEGER NOT NULL, k INTEGER NOT NULL,
    prefix INTEGER NOT NULL, answer TEXT NOT NULL, finish TEXT NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (q, seed, branch, k));
CREATE TABLE IF NOT EXISTS episodes (
    q INTEGER NOT NULL, seed INTEGER NOT NULL, result TEXT NOT NULL, events TEXT NOT NULL,
    PRIMARY KEY (q, seed));
"""

VERSION = "infer/1"


@record(frozen=False)
class EpisodeRows:
    """What the journal holds for one unfinished episode."""

    chunks: dict[int, list[Chunk]] = field(default_factory=dict)  # branch -> pieces
    probes: dict[int, list[ProbeRecord]] = field(default_factory=dict)
    elapsed: float = 0.0  # the episode's clock at its last journaled request


@record
class Spend:
    requests: int = 0
    chunk_requests: int = 0
    probe_requests: int = 0
    prompt_tokens: int = 0
    trace_tokens: int = 0
    probe_tokens: int = 0


@record
class TraceRows:
    """A journaled trace (for `--record`)."""

    q: int
    seed: int
    branch: int
    trace_seed: int
    chunks: tuple[Chunk, ...]
    probes: dict[int, ProbeRecord]


class InferJournal:
    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.db, rows = open_journal_db(self.path, SCHEMA, check_same_thread=False)
        if rows:
            if rows.get("version") != VERSION:
                raise JournalError(
                    f"{self.path}: not an infer journal of this version "
                    f"({rows.get('version')!r}, need {VERSION!r})"
                )
            old = json.loads(rows["settings"])
            if old != settings:
                changed = sorted(
                    k for k in set(old) | set(settings) if old.get(k) != settings.get(k)
                )
                raise JournalError(
                    f"{self.path}: this journal belongs to a run with other settings "
                    f"({', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''} differ); "
                    "pass the same settings or another --journal"
                )
        else:
            write_journal_meta(self.db, VERSION, settings)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # -- writes (one transaction each, durable on return) ---------------------

    def _request(
        self, q: int, seed: int, branch: int, kind: str, p: int, c: int, s: float, e: float
    ) -> None:
        self.db.execute(
            "INSERT INTO requests (q, seed, branch, kind, prompt_tokens, completion_tokens, "
            "seconds, elapsed) VALUES (?,?,?,?,?,?,?,?)",
            (q, seed, branch, kind, p, c, s, e),
        )

    def add_chunk(
        self,
        q: int,
        seed: int,
        branch: int,
        trace_seed: int,
        chunk: Chunk,
        *,
        seconds: float,
        elapsed: float,
    ) -> None:
        toks = chunk.tokens
        ids = toks if toks and isinstance(toks[0], int) else None
        blob = pack_tokens(ids, None if ids is not None else toks)  # type: ignore[arg-type]
        with self._lock, self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    q,
                    seed,
                    branch,
                    chunk.start,
                    trace_seed,
                    len(toks),
                    chunk.finish,
                    int(chunk.ended),
                    chunk.text,
                    blob,
                ),
            )
            self._request(
                q, seed, branch, "chunk", chunk.prompt_tokens, len(toks), seconds, elapsed
            )

    def add_probe(
        self,
        q: int,
        seed: int,
        branch: int,
        probe: ProbeRecord,
        *,
        seconds: float,
        elapsed: float,
        kind: str = "probe",
    ) -> None:
        with self._lock, self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO probes VALUES (?,?,?,?,?,?,?,?)",
                (q, seed, branch, probe.k, probe.prefix, probe.answer, probe.finish, probe.text),
            )
            self._request(
                q,
                seed,
                branch,
                kind,
                probe.prompt_tokens,
                probe.completion_tokens,
                seconds,
                elapsed,
            )

    def finish_episode(
        self, q: int, seed: int, result: dict[str, Any], events: list[dict[str, Any]]
    ) -> None:
        with self._lock, self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO episodes VALUES (?,?,?,?)",
                (q, seed, json.dumps(result), json.dumps(events, separators=(",", ":"))),
            )

    # -- reads ---------------------------------------------------------------------

    def finished(self) -> dict[tuple[int, int], tuple[dict[str, Any], list[dict[str, Any]]]]:
        with self._lock:
            rows = self.db.execute("SELECT q, seed, result, events FROM episodes").fetchall()
        return {(q, s): (json.loads(r), json.loads(e)) for q, s, r, e in rows}

    def episode(self, q: int, seed: int) -> EpisodeRows:
        out = EpisodeRows()
        with self._lock:
            chunks = self.db.execute(
                "SELECT branch, start, n, finish, ended, text, tokens FROM chunks "
                "WHERE q = ? AND seed = ? ORDER BY branch, start",
                (q, seed),
            ).fetchall()
            probes = self.db.execute(
                "SELECT branch, k, prefix, answer, finish, text FROM probes "
                "WHERE q = ? AND seed = ? ORDER BY branch, k",
                (q, seed),
            ).fetchall()
            (elapsed,) = self.db.execute(
                "SELECT MAX(elapsed) FROM requests WHERE q = ? AND seed = ?", (q, seed)
            ).fetchone()
        for branch, start, n, finish, ended, text, blob in chunks:
            toks = unpack_tokens(blob)
            if len(toks) != n:
                raise JournalError(f"{self.path}: a piece of ({q}, {seed}, {branch}) is damaged")
            out.chunks.setdefault(branch, []).append(Chunk(start, toks, text, finish, bool(ended)))
        for branch, k, prefix, answer, finish, text in probes:
            out.probes.setdefault(branch, []).append(ProbeRecord(k, prefix, answer, finish, text))
        out.elapsed = float(elapsed or 0.0)
        return out

    def spend(self, q: int, seed: int, *, kinds: tuple[str, ...] = ("chunk", "probe")) -> Spend:
        marks = ",".join("?" * len(kinds))
        with self._lock:
            rows = self.db.execute(
                "SELECT kind, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM requests "
                f"WHERE q = ? AND seed = ? AND kind IN ({marks}) GROUP BY kind",
                (q, seed, *kinds),
            ).fetchall()
        got = {kind: (n, p or 0, c or 0) for kind, n, p, c in rows}
        ch = got.get("chunk", (0, 0, 0))
        pr = got.get("probe", (0, 0, 0))
        return Spend(
            requests=ch[0] + pr[0],
            chunk_requests=ch[0],
            probe_requests=pr[0],
            prompt_tokens=ch[1] + pr[1],
            trace_tokens=ch[2],
            probe_tokens=pr[2],
        )

    def total_spend(self) -> dict[str, int]:
        out = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        with self._lock:
            rows = self.db.execute(
                "SELECT kind, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) "
                "FROM requests GROUP BY kind"
            ).fetchall()
        for kind, n, p, c in rows:
            out[f"{kind}_requests"] = n
            out["requests"] += n
            out["prompt_tokens"] += p or 0
            out["completion_tokens"] += c or 0
        return out

    def traces(self) -> Iterator[TraceRows]:
        """Every journaled trace, in (question, seed, branch) order."""
        with self._lock:
            chunks = self.db.execute(
                "SELECT q, seed, branch, trace_seed, start, finish, ended, text, tokens "
                "FROM chunks ORDER BY q, seed, branch, start"
            ).fetchall()
            probes = self.db.execute(
                "SELECT q, seed, branch, k, prefix, answer, finish, text FROM probes"
            ).fetchall()
        by_trace: dict[tuple[int, int, int], dict[int, ProbeRecord]] = {}
        for q, seed, branch, k, prefix, answer, finish, text in probes:
            by_trace.setdefault((q, seed, branch), {})[k] = ProbeRecord(
                k, prefix, answer, finish, text
            )
        current: list[Chunk] = []
        key: tuple[int, int, int, int] | None = None
        for q, seed, branch, ts, start, finish, ended, text, blob in chunks:
            if key is not None and key[:3] != (q, seed, branch):
                yield TraceRows(*key, tuple(current), by_trace.get(key[:3], {}))
                current = []
            key = (q, seed, branch, ts)
            current.append(Chunk(start, unpack_tokens(blob), text, finish, bool(ended)))
        if key is not None:
            yield TraceRows(*key, tuple(current), by_trace.get(key[:3], {}))
