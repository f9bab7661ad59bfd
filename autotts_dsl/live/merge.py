"""`tts-dsl store merge`: add the traces of other stores to a store.

Questions are matched by question text and gold answer (first store's order;
questions only in later stores follow). Each question's traces are the
first store's, then the next store's, and so on. The probe interval must
agree. Two stores collected from one model with overlapping seed ranges are
refused: their traces would be the same samples twice. Answers are interned
again with the chosen rule, since equivalent answers may be spelled
differently in different stores.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..replay.store import ReplayStore
from .equivalence import Rule
from .storefile import intern_record, question_record, write_store


class MergeError(Exception):
    pass


def _seed_range(meta: dict[str, Any] | None) -> tuple[str, int, int] | None:
    if not meta or not isinstance(meta.get("seed"), int) or not isinstance(meta.get("n"), int):
        return None
    return str(meta.get("model")), meta["seed"], meta["seed"] + meta["n"]


def check_seeds(stores: Sequence[ReplayStore], metas: Sequence[dict[str, Any] | None]) -> None:
    ranges = [(s, _seed_range(m)) for s, m in zip(stores, metas, strict=True)]
    for a in range(len(ranges)):
        for b in range(a + 1, len(ranges)):
            ra, rb = ranges[a][1], ranges[b][1]
            if ra and rb and ra[0] == rb[0] and ra[1] < rb[2] and rb[1] < ra[2]:
                raise MergeError(
                    f"{ranges[a][0].source} and {ranges[b][0].source}: both sampled {ra[0]} "
                    "with seeds "
                    f"{max(ra[1], rb[1])}..{min(ra[2], rb[2]) - 1}; their traces would repeat "
                    f"(collect the second with --seed {ra[2]})"
                )


def merged_records(stores: Sequence[ReplayStore]) -> list[dict[str, Any]]:
    order: list[tuple[str, str]] = []
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for store in stores:
        v = store.vocab
        for q in store.questions:
            key = (q.text, v[q.gold])
            branches = [
                ([v[a] for a in p], t, v[f])
                for p, t, f in zip(q.probes, q.tokens, q.finals, strict=True)
            ]
            if key not in acc:
                order.append(key)
                acc[key] = {"interval": q.interval, "branches": branches}
                continue
            if acc[key]["interval"] != q.interval:
                raise MergeError(
                    f"{store.source}: question {q.index} has probe interval {q.interval}, "
                    f"the merged store {acc[key]['interval']}"
                )
            acc[key]["branches"].extend(branches)
    return [
        question_record(t, g, acc[(t, g)]["interval"], acc[(t, g)]["branches"]) for t, g in order
    ]


def _file_hash(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def merge_stores(
    stores: Sequence[ReplayStore],
    metas: Sequence[dict[str, Any] | None],
    rule: Rule,
    out: str | Path,
) -> dict[str, Any]:
    if len(stores) < 2:
        raise MergeError("merge needs at least two stores")
    check_seeds(stores, metas)
    records = []
    merged = 0
    for rec in merged_records(stores):
        interned, m = intern_record(rule, rec)
        records.append(interned)
        merged += m
    sources: list[dict[str, Any]] = []
    for s, meta_in in zip(stores, metas, strict=True):
        known: dict[str, Any] = meta_in or {}
        sources.append(
            {
                "source": s.source,
                "model": known.get("model"),
                "seed": known.get("seed"),
                "n": known.get("n"),
                "content_sha256": known.get("content_sha256") or _file_hash(s.source),
            }
        )
    meta = {
        "tool": f"tts-dsl {__version__}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": ", ".join(sorted({str(x["model"]) for x in sources if x["model"]})) or None,
        "merged_from": sources,
        "equivalence": {**rule.describe(), "merged_strings": merged},
    }
    return write_store(out, records, meta)
