"""The search history: one SQLite file, `OUT/history.sqlite`.

Everything a search decides or learns is a row here, written in its own
transaction (WAL mode) at the moment it is known: the configuration, the
stores, every program (structural hash, source, parents, round, proposer,
rationale), every rejected proposal with its diagnostics, each round's
candidates (recorded before any of them is evaluated), every evaluated cell
(β × store × seed chunk, with per-seed and per-question sums), every
timeout or run-time failure, every screening and promotion decision with
the paired gain and its interval, every LLM call (recorded as `pending` before it is sent, with
its reply, tokens, $ and latency once it returns), held-out results and the
final pick. Killing the process at any moment therefore loses at most the
work in flight, and `--resume` reads back exactly where it stopped.

Held-out results live in their own table; `view.py` (the only reader that
feeds prompts) never queries it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..records import record
from .cells import CellData
from .curves import Floor
from .stats import Gain

HISTORY_FILE = "history.sqlite"
SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stores (
    role TEXT NOT NULL, spec TEXT NOT NULL, name TEXT NOT NULL, content_hash TEXT NOT NULL,
    n_questions INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, synthetic INTEGER NOT NULL,
    floor_accuracy REAL NOT NULL, n_branches INTEGER NOT NULL, PRIMARY KEY (role, spec));
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
CREATE TABLE IF NOT EXISTS cells (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    seeds TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (program_id, beta, store_hash, seeds));
CREATE TABLE IF NOT EXISTS failures (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    seeds TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (program_id, beta, store_hash, seeds));
CREATE TABLE IF NOT EXISTS decisions (
    program_id INTEGER NOT NULL, stage TEXT NOT NULL, verdict TEXT NOT NULL,
    detail TEXT NOT NULL, PRIMARY KEY (program_id, stage));
CREATE TABLE IF NOT EXISTS stats (
    program_id INTEGER NOT NULL, other_id INTEGER NOT NULL, level TEXT NOT NULL,
    gain REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, n_boot INTEGER NOT NULL,
    PRIMARY KEY (program_id, other_id, level));
CREATE TABLE IF NOT EXISTS tuner (
    round INTEGER NOT NULL, slot INTEGER NOT NULL, target_id INTEGER NOT NULL,
    x TEXT NOT NULL, PRIMARY KEY (round, slot));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, round INTEGER NOT NULL, slot INTEGER NOT NULL,
    attempt INTEGER NOT NULL, status TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL,
    messages TEXT NOT NULL, reply TEXT NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, estimated INTEGER NOT NULL, usd REAL NOT NULL,
    latency REAL NOT NULL, tries INTEGER NOT NULL, error TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, status TEXT NOT NULL, prompt TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, wall_seconds REAL NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heldout_cells (
    program_id INTEGER NOT NULL, beta REAL NOT NULL, store_hash TEXT NOT NULL,
    seeds TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (program_id, beta, store_hash, seeds));
CREATE TABLE IF NOT EXISTS final (
    id INTEGER PRIMARY KEY CHECK (id = 1), program_id INTEGER NOT NULL,
    objective REAL NOT NULL, created REAL NOT NULL, note TEXT NOT NULL);
"""


class HistoryError(Exception):
    """The history file cannot be opened, or is not a search history."""


def clean(text: str) -> str:
    """`text` as valid UTF-8: a lone UTF-16 surrogate (which a JSON reply can
    carry) becomes U+FFFD instead of failing the SQLite write."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


@record
class StoreRow:
    role: str
    spec: str
    name: str
    content_hash: str
    n_questions: int
    lo: float
    hi: float
    synthetic: bool
    floor_accuracy: float = 0.0
    """SC@1 accuracy (percent): the mean share of correct final answers."""
    n_branches: int = 0
    """The most traces any question has."""

    @property
    def floor(self) -> Floor:
        return Floor(self.lo, self.floor_accuracy)


@record
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


@record
class CandidateRow:
    round: int
    slot: int
    status: str
    """new | duplicate | rejected | budget"""
    program_id: int | None
    note: str


@record
class RejectedRow:
    round: int
    slot: int
    attempt: int
    kind: str
    source: str
    diagnostics: str
    codes: tuple[str, ...]


@record
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


@record
class RoundRow:
    round: int
    status: str
    """proposing | evaluating | done"""
    prompt: str
    started: float
    finished: float | None
    wall_seconds: float
    summary: dict[str, Any]


ProgramCells = dict[str, dict[float, dict[str, CellData]]]
"""store content hash -> β -> seeds text -> the cell."""


@record
class FailureRow:
    program_id: int
    beta: float
    store_hash: str
    seeds: str
    kind: str
    """error (a run-time fault) | timeout (the cell overran its budget) |
    died (its worker crashed) | gate (it could not be compiled at this β)"""
    message: str


@record
class Decision:
    program_id: int
    stage: str
    """screen | full"""
    verdict: str
    """screen: promoted | dropped | degenerate; full: kept | degenerate"""
    detail: str


class History:
    """Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self._cells_cache: dict[bool, dict[int, ProgramCells]] = {}
        self._stats_cache: dict[tuple[int, int, str], Gain] | None = None
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
                "INSERT OR REPLACE INTO stores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.role,
                    row.spec,
                    row.name,
                    row.content_hash,
                    row.n_questions,
                    row.lo,
                    row.hi,
                    int(row.synthetic),
                    row.floor_accuracy,
                    row.n_branches,
                ),
            )

    def stores(self, role: str) -> list[StoreRow]:
        rows = self._db.execute(
            "SELECT * FROM stores WHERE role=? ORDER BY rowid", (role,)
        ).fetchall()
        return [
            StoreRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9]) for r in rows
        ]

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
                    clean(name),
                    clean(source),
                    json.dumps(list(parents)),
                    round_no,
                    slot,
                    proposer,
                    clean(rationale),
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
                (round_no, slot, status, program_id, clean(note)),
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
                    clean(source),
                    clean(diagnostics),
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

    # -- evaluated cells ---------------------------------------------------------

    def add_cell(
        self,
        pid: int,
        beta: float,
        store_hash: str,
        seeds: str,
        data: CellData,
        *,
        heldout: bool = False,
    ) -> None:
        table = "heldout_cells" if heldout else "cells"
        with self.tx() as db:
            db.execute(
                f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?, ?, ?)",
                (pid, float(beta), store_hash, seeds, data.to_json()),
            )
        cached = self._cells_cache.get(heldout)
        if cached is not None:
            row = cached.setdefault(pid, {}).setdefault(store_hash, {}).setdefault(float(beta), {})
            row.setdefault(seeds, data)

    def cell_keys(self, *, heldout: bool = False) -> set[tuple[int, float, str, str]]:
        table = "heldout_cells" if heldout else "cells"
        rows = self._db.execute(f"SELECT program_id, beta, store_hash, seeds FROM {table}")
        return {(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in rows.fetchall()}

    def cells(self, *, heldout: bool = False) -> dict[int, ProgramCells]:
        """program id -> store -> β -> seeds text -> cell. Read once, then kept
        up to date by `add_cell` (this process is the only writer); callers
        must not modify it."""
        cached = self._cells_cache.get(heldout)
        if cached is not None:
            return cached
        table = "heldout_cells" if heldout else "cells"
        rows = self._db.execute(
            f"SELECT program_id, beta, store_hash, seeds, data FROM {table} "
            "ORDER BY program_id, store_hash, beta, seeds"
        ).fetchall()
        out: dict[int, ProgramCells] = {}
        for pid, beta, store, seeds, data in rows:
            out.setdefault(int(pid), {}).setdefault(str(store), {}).setdefault(float(beta), {})[
                str(seeds)
            ] = CellData.from_json(data)
        self._cells_cache[heldout] = out
        return out

    def add_failure(
        self,
        pid: int,
        beta: float,
        store_hash: str,
        seeds: str,
        kind: str,
        message: str,
        *,
        replace: bool = False,
    ) -> None:
        verb = "REPLACE" if replace else "IGNORE"
        with self.tx() as db:
            db.execute(
                f"INSERT OR {verb} INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                (pid, float(beta), store_hash, seeds, kind, clean(message)),
            )

    def remove_failure(self, pid: int, beta: float, store_hash: str, seeds: str) -> None:
        with self.tx() as db:
            db.execute(
                "DELETE FROM failures WHERE program_id=? AND beta=? AND store_hash=? AND seeds=?",
                (pid, float(beta), store_hash, seeds),
            )

    def failure_rows(self) -> list[FailureRow]:
        rows = self._db.execute(
            "SELECT * FROM failures ORDER BY program_id, beta, store_hash, seeds"
        ).fetchall()
        return [FailureRow(int(r[0]), float(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def failures(self) -> dict[int, str]:
        """program id -> the first failure message (timeouts first)."""
        out: dict[int, str] = {}
        for f in sorted(self.failure_rows(), key=lambda f: (f.kind != "timeout", f.beta)):
            out.setdefault(f.program_id, f.message)
        return out

    # -- decisions and statistics ------------------------------------------------

    def set_decision(self, pid: int, stage: str, verdict: str, detail: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)",
                (pid, stage, verdict, clean(detail)),
            )

    def decisions(self) -> dict[tuple[int, str], Decision]:
        rows = self._db.execute("SELECT * FROM decisions").fetchall()
        return {(int(r[0]), str(r[1])): Decision(int(r[0]), r[1], r[2], r[3]) for r in rows}

    def set_stat(self, pid: int, other: int, level: str, gain: Gain) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pid, other, level, gain.gain, gain.lo, gain.hi, gain.n_boot),
            )
        if self._stats_cache is not None:
            self._stats_cache[(pid, other, level)] = gain

    def stats(self) -> dict[tuple[int, int, str], Gain]:
        """(program, other, level) -> the paired gain. Read once, then kept up
        to date by `set_stat` like the cells (a search reads it every round)."""
        if self._stats_cache is None:
            rows = self._db.execute("SELECT * FROM stats").fetchall()
            self._stats_cache = {
                (int(r[0]), int(r[1]), str(r[2])): Gain(r[3], r[4], r[5], r[6]) for r in rows
            }
        return dict(self._stats_cache)

    # -- the schedule tuner's trail ------------------------------------------------

    def add_tuner_point(self, round_no: int, slot: int, target: int, x: Sequence[float]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO tuner VALUES (?, ?, ?, ?)",
                (round_no, slot, target, json.dumps([float(v) for v in x])),
            )

    def tuner_points(self) -> list[tuple[int, int, int, tuple[float, ...]]]:
        rows = self._db.execute("SELECT * FROM tuner ORDER BY round, slot").fetchall()
        return [(int(r[0]), int(r[1]), int(r[2]), tuple(json.loads(r[3]))) for r in rows]

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
        """The recorded reply of a call, if one arrived (`ok`). A call that
        failed (`error`) is sent again: an outage must not cost a slot."""
        row = self._db.execute(
            "SELECT * FROM calls WHERE round=? AND slot=? AND attempt=? "
            "AND status = 'ok' ORDER BY id DESC LIMIT 1",
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
                (round_no, slot, attempt, backend, model, clean(messages), time.time()),
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
                    clean(reply),
                    input_tokens,
                    output_tokens,
                    int(estimated),
                    usd,
                    latency,
                    tries,
                    clean(error),
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
                (round_no, clean(prompt), time.time()),
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

    def set_final(self, pid: int, objective: float, note: str = "") -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO final VALUES (1, ?, ?, ?, ?)",
                (pid, objective, time.time(), clean(note)),
            )

    def final(self) -> tuple[int, float] | None:
        row = self._db.execute("SELECT program_id, objective FROM final").fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def final_note(self) -> str:
        row = self._db.execute("SELECT note FROM final").fetchone()
        return "" if row is None else str(row[0])
