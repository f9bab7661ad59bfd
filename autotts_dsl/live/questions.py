"""Reading a questions file: JSONL, JSON (a list of objects) or CSV.

Each record needs a question and its gold answer. Accepted field names, the
first present wins: question — `question`, `problem`, `prompt`; gold —
`gold_answer`, `answer`, `gold`, `solution_answer`. An optional `id` is kept
for messages. Gold answers given as numbers are written as text (`33`).
Where the gold answer is optional (`tts-dsl infer` scores only when it has
one), a record without one gets the empty string.
Errors name the file and the line (JSONL, CSV) or record (JSON).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..records import record

QUESTION_KEYS = ("question", "problem", "prompt")
GOLD_KEYS = ("gold_answer", "answer", "gold", "solution_answer")


class QuestionsError(Exception):
    """A questions file is missing or malformed (one-line message)."""


@record
class QuestionItem:
    text: str
    gold: str
    ident: str = ""


def _field(rec: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in rec and rec[key] is not None:
            return rec[key]
    return None


def _item(rec: Any, where: str, require_gold: bool = True) -> QuestionItem:
    if not isinstance(rec, dict):
        raise QuestionsError(f"{where}: expected an object with a question and a gold answer")
    text = _field(rec, QUESTION_KEYS)
    gold = _field(rec, GOLD_KEYS)
    if not isinstance(text, str) or not text.strip():
        raise QuestionsError(f"{where}: no question text (keys tried: {', '.join(QUESTION_KEYS)})")
    if gold is None and not require_gold:
        gold = ""
    elif isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise QuestionsError(f"{where}: no gold answer (keys tried: {', '.join(GOLD_KEYS)})")
    gold_text = str(gold).strip()
    if not gold_text and require_gold:
        raise QuestionsError(f"{where}: empty gold answer")
    ident = rec.get("id", "")
    return QuestionItem(text, gold_text, str(ident) if ident is not None else "")


def parse_questions(raw: str, name: str, *, require_gold: bool = True) -> list[QuestionItem]:
    """Questions from file text; the format follows the suffix of `name`
    (`.jsonl`, `.json`, `.csv`), else the content."""
    lower = name.lower()
    stripped = raw.lstrip()
    if lower.endswith(".csv"):
        items = _from_csv(raw, name, require_gold)
    elif lower.endswith(".json") or (not lower.endswith(".jsonl") and stripped.startswith("[")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise QuestionsError(
                f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        if not isinstance(data, list):
            raise QuestionsError(f"{name}: expected a JSON list of question objects")
        items = [_item(rec, f"{name}: record {i}", require_gold) for i, rec in enumerate(data)]
    else:
        items = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QuestionsError(
                    f"{name}:{lineno}:{exc.colno}: invalid JSON: {exc.msg}"
                ) from None
            items.append(_item(rec, f"{name}:{lineno}", require_gold))
    if not items:
        raise QuestionsError(f"{name}: holds no questions")
    return items


def _from_csv(raw: str, name: str, require_gold: bool = True) -> list[QuestionItem]:
    reader = csv.DictReader(io.StringIO(raw))
    if not reader.fieldnames:
        raise QuestionsError(f"{name}: empty CSV (a header row with question and answer is needed)")
    out = []
    for rec in reader:
        out.append(_item(dict(rec), f"{name}:{reader.line_num}", require_gold))
    return out


def load_questions(path: str | Path, *, require_gold: bool = True) -> list[QuestionItem]:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuestionsError(f"{p}: no such file") from None
    except UnicodeDecodeError:
        raise QuestionsError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise QuestionsError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_questions(raw, str(p), require_gold=require_gold)


def questions_digest(items: Sequence[QuestionItem]) -> str:
    """A hash of the questions and gold answers (what a journal is tied to)."""
    blob = json.dumps([[q.text, q.gold] for q in items], ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
