"""`tts-dsl store build`: a store from traces you already have.

Input: JSONL, one trace per line, with the question and gold answer (the
same keys as a questions file) and either

* `probe_answers` (list; null = no answer), `tokens` (the trace's length)
  and `final_answer` (or the trace `text` to extract it from) — taken as
  they are, no server needed; or
* the trace itself as `token_ids` or `text` (and optionally `final_answer`,
  `finish_reason`) — cut at every interval boundary in the model's tokens
  (ids given, or from the server's /tokenize) and probed against `--server`
  exactly as `collect` probes, with the same journal (resumable).

Traces of one question (same text and gold) keep their file order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..records import record
from . import answers, segments
from .answers import extract_boxed
from .collector import Collected, Collector, CollectSettings, journal_path_for, resolve_mode
from .equivalence import Rule
from .journal import Journal, TraceRow
from .model_api import ModelServer
from .questions import GOLD_KEYS, QUESTION_KEYS, QuestionItem, QuestionsError, _item
from .storefile import intern_record, question_record, write_store


class BuildError(Exception):
    pass


@record
class _Line:
    where: str
    q: int
    doc: dict[str, Any]


def _read(path: str | Path) -> tuple[list[QuestionItem], list[_Line]]:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise QuestionsError(f"{p}: cannot read: {exc.strerror or exc}") from None
    items: list[QuestionItem] = []
    index: dict[tuple[str, str], int] = {}
    lines = []
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BuildError(f"{where}:{exc.colno}: invalid JSON: {exc.msg}") from None
        item = _item(doc, where)
        key = (item.text, item.gold)
        if key not in index:
            index[key] = len(items)
            items.append(item)
        lines.append(_Line(where, index[key], doc))
    if not lines:
        raise BuildError(f"{p}: holds no traces")
    return items, lines


def _given(line: _Line) -> tuple[list[str], int, str]:
    d = line.doc
    probes = d["probe_answers"]
    if not isinstance(probes, list) or not all(a is None or isinstance(a, str) for a in probes):
        raise BuildError(f"{line.where}: probe_answers must be a list of strings or nulls")
    tokens = d.get("tokens")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise BuildError(
            f"{line.where}: 'tokens' (the trace's length) must be a non-negative integer"
        )
    final = d.get("final_answer")
    if final is None and isinstance(d.get("text"), str):
        final = extract_boxed(d["text"], stopped=d.get("finish_reason", "stop") == "stop")
    if final is not None and not isinstance(final, str):
        raise BuildError(f"{line.where}: final_answer must be a string")
    return [answers.answer_text(a) for a in probes], tokens, answers.answer_text(final)


def build_store(
    traces: str | Path,
    out: str,
    settings: CollectSettings,
    rule: Rule,
    *,
    server: ModelServer | None = None,
    tokens: str = "auto",
    journal_path: str | None = None,
) -> Collected:
    items, lines = _read(traces)
    with_probes = [ln for ln in lines if "probe_answers" in ln.doc]
    if with_probes and len(with_probes) != len(lines):
        raise BuildError(
            f"{traces}: some traces have probe_answers and some do not; split them into two "
            "files and merge the stores"
        )
    meta_base = {
        "tool": f"tts-dsl {__version__}",
        "built_from": str(traces),
        "model": settings.model or None,
        "interval": settings.interval,
        "extraction_rule": answers.RULE,
    }
    if with_probes:
        per_q: list[list[tuple[list[str], int, str]]] = [[] for _ in items]
        for ln in lines:
            per_q[ln.q].append(_given(ln))
        records = []
        merged = 0
        for q, item in enumerate(items):
            rec, m = intern_record(
                rule, question_record(item.text, item.gold, settings.interval, per_q[q])
            )
            records.append(rec)
            merged += m
        meta = {
            **meta_base,
            "probes": "given",
            "equivalence": {**rule.describe(), "merged_strings": merged},
        }
        return Collected(out, write_store(out, records, meta), "text")
    if server is None:
        raise BuildError(
            f"{traces}: the traces have no probe_answers; probing them needs --server and --model"
        )
    return _probe_given(items, lines, out, settings, rule, server, tokens, journal_path, meta_base)


def _probe_given(
    items: Sequence[QuestionItem],
    lines: Sequence[_Line],
    out: str,
    settings: CollectSettings,
    rule: Rule,
    server: ModelServer,
    tokens: str,
    journal_path: str | None,
    meta_base: dict[str, Any],
) -> Collected:
    server.check_model()
    mode = resolve_mode(server, tokens)
    if mode != "ids":
        raise BuildError("store build probes given traces in token ids: the server needs /tokenize")
    counts = [0] * len(items)
    collector = Collector(server, settings, items, mode=mode, counts=[0] * len(items))
    collector.prepare()
    journal_settings = {
        **settings.journal_settings(items, mode),
        "built_from": str(Path(traces_path(lines))),
    }
    journal = Journal(journal_path or journal_path_for(out), journal_settings)
    try:
        have = journal.trace_keys()
        for ln in lines:
            i = counts[ln.q]
            counts[ln.q] += 1
            if (ln.q, i) in have:
                continue
            journal.add_trace(_given_trace(ln, i, server, collector.marker_ids), prompt_tokens=0)
        collector.counts = counts
        collector.run(journal)
        records, merged = collector.records(journal, rule)
        meta = {
            **meta_base,
            "probes": "collected",
            "probe": {"suffix": settings.probe_suffix, "max_tokens": settings.probe_max_tokens},
            "collection_rule": segments.RULE,
            "equivalence": {**rule.describe(), "merged_strings": merged},
            "cost": journal.spend(),
        }
        written = write_store(out, records, meta)
    finally:
        journal.close()
    return Collected(out, written, mode)


def traces_path(lines: Sequence[_Line]) -> str:
    return lines[0].where.rsplit(":", 1)[0]


def _given_trace(line: _Line, i: int, server: ModelServer, marker: Sequence[int]) -> TraceRow:
    d = line.doc
    text = d.get("text")
    ids = d.get("token_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in ids
        ):
            raise BuildError(f"{line.where}: token_ids must be a list of non-negative integers")
    elif isinstance(text, str):
        ids = server.tokenize(text, add_special_tokens=False)
    else:
        raise BuildError(f"{line.where}: a trace needs token_ids or text (or probe_answers)")
    final = d.get("final_answer")
    if final is None:
        if not isinstance(text, str):
            raise BuildError(f"{line.where}: with token_ids only, give final_answer too")
        final = extract_boxed(text, stopped=d.get("finish_reason", "stop") == "stop")
    r = segments.reasoning_length_ids(ids, marker)
    return TraceRow(
        line.q, i, -1, len(ids), r, str(d.get("finish_reason", "stop")), final, tuple(ids)
    )


__all__ = ["GOLD_KEYS", "QUESTION_KEYS", "BuildError", "build_store"]
