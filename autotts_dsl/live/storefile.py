"""Writing a collected store: AutoTTS's JSON layout plus a metadata sidecar.

The store is exactly what AutoTTS's own code reads (a list of question
records, keys in AutoTTS's order, 2-space indented). Its sidecar
`<store>.meta` (JSON; the name keeps it out of store listings) says how it
was made: model, sampling, interval, probe suffix, the collection and
extraction rules, the equivalence rule, tool version, and the store file's
content hash. Both files are written atomically; the sidecar last, so a
sidecar always describes the store beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io_atomic import atomic_write_bytes, atomic_write_text
from .answers import NO_ANSWER_TEXT
from .equivalence import Rule

META_SUFFIX = ".meta"
META_FORMAT = "tts-dsl-store-meta/1"


def meta_path(store: str | Path) -> Path:
    return Path(str(store) + META_SUFFIX)


def question_record(
    text: str, gold: str, interval: int, branches: Sequence[tuple[Sequence[str], int, str]]
) -> dict[str, Any]:
    """One AutoTTS question record (keys in AutoTTS's order)."""
    return {
        "question": text,
        "final_answers_trace": [b[2] for b in branches],
        "each_branch": [[list(p), t, f] for p, t, f in branches],
        "gold_answer": gold,
        "probe_freq": interval,
    }


def intern_record(rule: Rule, rec: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The record with equivalent answers spelled as one; (record, strings merged)."""
    order: list[str] = []
    for probes, _, final in rec["each_branch"]:
        order.extend(probes)
        order.append(final)
    mapping = rule.intern(rec["gold_answer"], order)
    merged = sum(1 for s, r in mapping.items() if s != r)

    def m(s: str) -> str:
        return mapping.get(s, s)

    branches = [([m(a) for a in p], t, m(f)) for p, t, f in rec["each_branch"]]
    out = question_record(rec["question"], m(rec["gold_answer"]), rec["probe_freq"], branches)
    return out, merged


def store_text(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), indent=2)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_store(
    path: str | Path, records: Sequence[dict[str, Any]], meta: dict[str, Any]
) -> dict[str, Any]:
    """Write the store and its sidecar; returns the metadata written."""
    text = store_text(records)
    full = {
        "format": META_FORMAT,
        **meta,
        "questions": len(records),
        "branches": sum(len(r["each_branch"]) for r in records),
        "no_answer": NO_ANSWER_TEXT,
        "content_sha256": content_hash(text),
    }
    atomic_write_bytes(path, text.encode())
    atomic_write_text(meta_path(path), json.dumps(full, indent=2, ensure_ascii=False))
    return full


def read_meta(store: str | Path) -> dict[str, Any] | None:
    """The sidecar of a store, or None when it has none or it is unreadable."""
    p = meta_path(store)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == META_FORMAT else None


def meta_matches(store: str | Path, meta: dict[str, Any]) -> bool:
    """Whether the store file still has the content its sidecar describes."""
    try:
        raw = Path(store).read_bytes()
    except OSError:
        return False
    return hashlib.sha256(raw).hexdigest() == meta.get("content_sha256")
