"""The search history: one SQLite file, `OUT/history.sqlite`.

Everything a search decides or learns is a row here, written in its own
transaction (WAL mode) at the moment it is known: the configuration, the
stores, every program (structural hash, source, parents, round, proposer,
rationale), every rejected proposal with its diagnostics, each round's
candidates (recorded before any of them is evaluated), every evaluated cell
(β × store), every LLM call (recorded as `pending` before it is sent, with
its reply, tokens, $ and latency once it returns), held-out results and the
final pick. Killing the process at any moment therefore loses at most the
work in flight, and `--resume` reads back exactly where it stopped.

Held-out results live in their own table; `view.py` (the only reader that
feeds prompts) never queries it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sweep.cache import CellMetrics
from .objective import CurvePoint

HISTORY_FILE = "history.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stores (
    role TEXT NOT NULL, spec TEXT NOT NULL, name TEXT NOT NULL, content_hash TEXT NOT NULL,
    n_questions INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, synthetic INTEGER NOT NULL,
    PRIMARY KEY (role, spec));
CREATE TABLE IF NOT EXISTS programs (
    id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, source TEXT NOT NULL,
    parents TEXT NOT NULL, round INTEGER NOT NULL, slot INTEGER NOT NULL,
    proposer TEXT NOT NULL, rationale TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    round INTEGER NOT NULL, slot INTEGER NOT NULL, status TEXT NOT NULL,
    program_id INTEGER, note TEXT NOT NULL, PRIMARY KEY (round, slot));
CREATE TABLE IF NOT EXISTS rejected (
    round INTEGER NOT NULL, slot INTEGER NOT NULL, attempt INTEGER NOT NULL,
    kind TEXT NOT NULL, source TEXT NOT NULL, diagnostics TEXT NOT NULL, codes TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (round, slot, attempt));
CREATE TABLE IF NOT EXISTS results (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    metrics TEXT NOT NULL, PRIMARY KEY (program_id, beta, store_hash));
CREATE TABLE IF NOT EXISTS failures (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (program_id, beta, store_hash));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, round INTEGER NOT NULL, slot INTEGER NOT NULL,
    attempt INTEGER NOT NULL, status TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL,
    messages TEXT NOT NULL, reply TEXT NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, estimated INTEGER NOT NULL, usd REAL NOT NULL,
    latency REAL NOT NULL, tries INTEGER NOT NULL, error TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, status TEXT NOT NULL, prompt TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, wall_seconds REAL NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heldout_results (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    metrics TEXT NOT NULL, PRIMARY KEY (program_id, beta, store_hash));
CREATE TABLE IF NOT EXISTS final (
    id INTEGER PRIMARY KEY CHECK (id = 1), program_id INTEGER NOT NULL,
    objective REAL NOT NULL, created REAL NOT NULL);
"""


class HistoryError(Exception):
    """The history file cannot be opened, or is not a search history."""


@dataclass(frozen=True)
class StoreRow:
    role: str
    spec: str
    name: str
    content_hash: str
    n_questions: int
    lo: float
    hi: float
    synthetic: bool


@dataclass(frozen=True)
class ProgramRow:
    id: int
    hash: str
    name: str
    source: str
    parents: tuple[int, ...]
    round: int
    slot: int
    proposer: str
    rationale: str

    @property
    def label(self) -> str:
        return f"p{self.id}"


@dataclass(frozen=True)
class CandidateRow:
    round: int
    slot: int
    status: str
    """new | duplicate | rejected | budget"""
    program_id: int | None
    note: str


@dataclass(frozen=True)
class RejectedRow:
    round: int
    slot: int
    attempt: int
    kind: str
    source: str
    diagnostics: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class CallRow:
    id: int
    round: int
    slot: int
    attempt: int
    status: str
    """pending (in flight) | ok | error (failed after retries) | lost (in flight
    when the process died; its reply never arrived)"""
    backend: str
    model: str
    messages: str
    reply: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    usd: float
    latency: float
    tries: int
    error: str


@dataclass(frozen=True)
class RoundRow:
    round: int
    status: str
    """proposing | evaluating | done"""
    prompt: str
    started: float
    finished: float | None
    wall_seconds: float
    summary: dict[str, Any]


Curves = dict[int, dict[str, list[CurvePoint]]]
"""program id -> store content hash -> points by rising β."""


def _point(beta: float, metrics: str) -> CurvePoint:
    m = CellMetrics.from_json(metrics)
    return CurvePoint(beta, m.accuracy, float(m.avg_tokens), float(m.avg_seq_tokens))


class History:
    """Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise HistoryError(f"{self.path}: no search history here")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)  # idempotent: CREATE ... IF NOT EXISTS
            with self.tx():
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif row[0] != SCHEMA_VERSION:
                    raise HistoryError(
                        f"{self.path}: history schema {row[0]}, expected {SCHEMA_VERSION}"
                    )
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{self.path}: not a usable search history: {exc}") from None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside commits together or not at all."""
        if self._db.in_transaction:
            yield self._db  # nested: the outer transaction commits
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta / config -------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- stores --------------------------------------------------------------

    def add_store(self, row: StoreRow) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO stores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.role,
                    row.spec,
                    row.name,
                    row.content_hash,
                    row.n_questions,
                    row.lo,
                    row.hi,
                    int(row.synthetic),
                ),
            )

    def stores(self, role: str) -> list[StoreRow]:
        rows = self._db.execute(
            "SELECT * FROM stores WHERE role=? ORDER BY rowid", (role,)
        ).fetchall()
        return [StoreRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]

    # -- programs ------------------------------------------------------------

    def program_by_hash(self, digest: str) -> ProgramRow | None:
        row = self._db.execute("SELECT * FROM programs WHERE hash=?", (digest,)).fetchone()
        return None if row is None else self._program(row)

    def add_program(
        self,
        digest: str,
        name: str,
        source: str,
        parents: Sequence[int],
        round_no: int,
        slot: int,
        proposer: str,
        rationale: str,
    ) -> tuple[int, bool]:
        """(id, True) for a new program; (id of the existing one, False) when
        a program with the same structural hash is already recorded."""
        with self.tx() as db:
            got = db.execute("SELECT id FROM programs WHERE hash=?", (digest,)).fetchone()
            if got is not None:
                return int(got[0]), False
            cur = db.execute(
                "INSERT INTO programs (hash, name, source, parents, round, slot, proposer, "
                "rationale, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    name,
                    source,
                    json.dumps(list(parents)),
                    round_no,
                    slot,
                    proposer,
                    rationale,
                    time.time(),
                ),
            )
            return int(cur.lastrowid or 0), True

    @staticmethod
    def _program(r: Sequence[Any]) -> ProgramRow:
        return ProgramRow(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7], r[8])

    def program(self, pid: int) -> ProgramRow:
        row = self._db.execute("SELECT * FROM programs WHERE id=?", (pid,)).fetchone()
        if row is None:
            raise KeyError(pid)
        return self._program(row)

    def programs(self) -> list[ProgramRow]:
        rows = self._db.execute("SELECT * FROM programs ORDER BY id").fetchall()
        return [self._program(r) for r in rows]

    # -- candidates and rejections --------------------------------------------

    def set_candidate(
        self, round_no: int, slot: int, status: str, program_id: int | None, note: str = ""
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO candidates VALUES (?, ?, ?, ?, ?)",
                (round_no, slot, status, program_id, note),
            )

    def candidates(self, round_no: int | None = None) -> list[CandidateRow]:
        if round_no is None:
            rows = self._db.execute("SELECT * FROM candidates ORDER BY round, slot").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM candidates WHERE round=? ORDER BY slot", (round_no,)
            ).fetchall()
        return [CandidateRow(*r) for r in rows]

    def add_rejected(
        self,
        round_no: int,
        slot: int,
        attempt: int,
        kind: str,
        source: str,
        diagnostics: str,
        codes: Sequence[str] = (),
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO rejected VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    round_no,
                    slot,
                    attempt,
                    kind,
                    source,
                    diagnostics,
                    json.dumps(list(codes)),
                    time.time(),
                ),
            )

    def rejected(self, round_no: int | None = None) -> list[RejectedRow]:
        where, args = ("WHERE round=?", (round_no,)) if round_no is not None else ("", ())
        rows = self._db.execute(
            f"SELECT round, slot, attempt, kind, source, diagnostics, codes FROM rejected {where} "
            "ORDER BY round, slot, attempt",
            args,
        ).fetchall()
        return [
            RejectedRow(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6]))) for r in rows
        ]

    # -- search results ------------------------------------------------------

    def add_result(self, pid: int, beta: float, store_hash: str, metrics: CellMetrics) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)",
                (pid, float(beta), store_hash, metrics.to_json()),
            )

    def result_cells(self) -> set[tuple[int, float, str]]:
        rows = self._db.execute("SELECT program_id, beta, store_hash FROM results").fetchall()
        return {(int(r[0]), float(r[1]), str(r[2])) for r in rows}

    def curves(self, table: str = "results") -> Curves:
        if table not in ("results", "heldout_results"):
            raise ValueError(table)
        rows = self._db.execute(
            f"SELECT program_id, beta, store_hash, metrics FROM {table} "
            "ORDER BY program_id, store_hash, beta"
        ).fetchall()
        out: Curves = {}
        for pid, beta, store, metrics in rows:
            out.setdefault(int(pid), {}).setdefault(str(store), []).append(
                _point(float(beta), metrics)
            )
        return out

    def add_failure(self, pid: int, beta: float, store_hash: str, message: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO failures VALUES (?, ?, ?, ?)",
                (pid, float(beta), store_hash, message),
            )

    def failures(self) -> dict[int, str]:
        """program id -> the first failure message."""
        rows = self._db.execute(
            "SELECT program_id, message FROM failures ORDER BY program_id, beta"
        ).fetchall()
        out: dict[int, str] = {}
        for pid, msg in rows:
            out.setdefault(int(pid), str(msg))
        return out

    def failure_cells(self) -> set[tuple[int, float, str]]:
        rows = self._db.execute("SELECT program_id, beta, store_hash FROM failures").fetchall()
        return {(int(r[0]), float(r[1]), str(r[2])) for r in rows}

    # -- held-out results (never read by view.py) ------------------------------

    def add_heldout_result(
        self, pid: int, beta: float, store_hash: str, metrics: CellMetrics
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO heldout_results VALUES (?, ?, ?, ?)",
                (pid, float(beta), store_hash, metrics.to_json()),
            )

    def heldout_cells(self) -> set[tuple[int, float, str]]:
        rows = self._db.execute(
            "SELECT program_id, beta, store_hash FROM heldout_results"
        ).fetchall()
        return {(int(r[0]), float(r[1]), str(r[2])) for r in rows}

    # -- LLM calls -------------------------------------------------------------

    @staticmethod
    def _call(r: Sequence[Any]) -> CallRow:
        return CallRow(
            id=r[0],
            round=r[1],
            slot=r[2],
            attempt=r[3],
            status=r[4],
            backend=r[5],
            model=r[6],
            messages=r[7],
            reply=r[8],
            input_tokens=r[9],
            output_tokens=r[10],
            estimated=bool(r[11]),
            usd=r[12],
            latency=r[13],
            tries=r[14],
            error=r[15],
        )

    def answered_call(self, round_no: int, slot: int, attempt: int) -> CallRow | None:
        """The recorded outcome (`ok` or `error`) of a call, if any."""
        row = self._db.execute(
            "SELECT * FROM calls WHERE round=? AND slot=? AND attempt=? "
            "AND status IN ('ok', 'error') ORDER BY id DESC LIMIT 1",
            (round_no, slot, attempt),
        ).fetchone()
        return None if row is None else self._call(row)

    def calls(self, status: str | None = None) -> list[CallRow]:
        where, args = ("WHERE status=?", (status,)) if status else ("", ())
        rows = self._db.execute(f"SELECT * FROM calls {where} ORDER BY id", args).fetchall()
        return [self._call(r) for r in rows]

    def begin_call(
        self, round_no: int, slot: int, attempt: int, backend: str, model: str, messages: str
    ) -> int:
        """Record a call as `pending` before it is sent; returns its id."""
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO calls (round, slot, attempt, status, backend, model, messages, reply, "
                "input_tokens, output_tokens, estimated, usd, latency, tries, error, created) "
                "VALUES (?, ?, ?, 'pending', ?, ?, ?, '', 0, 0, 0, 0, 0, 0, '', ?)",
                (round_no, slot, attempt, backend, model, messages, time.time()),
            )
            return int(cur.lastrowid or 0)

    def finish_call(
        self,
        call_id: int,
        status: str,
        *,
        reply: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        estimated: bool = False,
        usd: float = 0.0,
        latency: float = 0.0,
        tries: int = 1,
        error: str = "",
    ) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE calls SET status=?, reply=?, input_tokens=?, output_tokens=?, "
                "estimated=?, usd=?, latency=?, tries=?, error=? WHERE id=?",
                (
                    status,
                    reply,
                    input_tokens,
                    output_tokens,
                    int(estimated),
                    usd,
                    latency,
                    tries,
                    error,
                    call_id,
                ),
            )

    def spent_usd(self, round_no: int | None = None) -> float:
        where, args = ("WHERE round=?", (round_no,)) if round_no is not None else ("", ())
        row = self._db.execute(f"SELECT coalesce(sum(usd), 0) FROM calls {where}", args).fetchone()
        return float(row[0])

    # -- rounds ----------------------------------------------------------------

    def start_round(self, round_no: int, prompt: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO rounds VALUES (?, 'proposing', ?, ?, NULL, 0, '{}')",
                (round_no, prompt, time.time()),
            )

    def set_round_status(
        self, round_no: int, status: str, summary: dict[str, Any] | None = None
    ) -> None:
        with self.tx() as db:
            if summary is None:
                db.execute("UPDATE rounds SET status=? WHERE round=?", (status, round_no))
            else:
                db.execute(
                    "UPDATE rounds SET status=?, summary=?, finished=? WHERE round=?",
                    (status, json.dumps(summary), time.time(), round_no),
                )

    def add_wall(self, round_no: int, seconds: float) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE rounds SET wall_seconds = wall_seconds + ? WHERE round=?",
                (seconds, round_no),
            )

    def rounds(self) -> list[RoundRow]:
        rows = self._db.execute("SELECT * FROM rounds ORDER BY round").fetchall()
        return [RoundRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def round(self, round_no: int) -> RoundRow | None:
        return next((r for r in self.rounds() if r.round == round_no), None)

    # -- final pick --------------------------------------------------------------

    def set_final(self, pid: int, objective: float) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO final VALUES (1, ?, ?, ?)", (pid, objective, time.time())
            )

    def final(self) -> tuple[int, float] | None:
        row = self._db.execute("SELECT program_id, objective FROM final").fetchone()
        return None if row is None else (int(row[0]), float(row[1]))
