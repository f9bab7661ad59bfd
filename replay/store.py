"""Replay stores in AutoTTS's JSON format, loaded into a compact interned form.

A store is a list of questions; each question holds pre-sampled reasoning
traces ("branches"). Every answer string of a store is interned to a small
int (`NO_ANSWER` = -1 stands for "no answer"), so the replay engine compares
ints, and the whole store also exists as padded flat arrays (`flat()`, what
the VM reads, without numpy) and as numpy views of them (`arrays()`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from array import array
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import record

if TYPE_CHECKING:  # numpy loads with the first `arrays()`: the checker never needs it
    import numpy as np
    import numpy.typing as npt

NO_ANSWER = -1
"""Interned id of "no answer" (Python's None in AutoTTS controllers)."""


class StoreError(Exception):
    """A replay store is missing, unreadable or does not follow the format.

    `str(err)` is a single line naming the file and, where known, the
    question index and key at fault.
    """

    def __init__(
        self, path: str | Path, reason: str, *, question: int | None = None, key: str | None = None
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.question = question
        self.key = key
        where = self.path
        if question is not None:
            where += f": question {question}"
        if key is not None:
            where += f", key '{key}'"
        super().__init__(f"{where}: {reason}")


@record
class Question:
    """One question's traces, with answers interned to ints.

    `probes[b][k]` is the answer branch `b` would give after `(k+1)*interval`
    tokens; `tokens[b]` is the trace's full length; `finals[b]` its final answer.
    Branch order is the file order (episodes shuffle it).
    """

    index: int
    gold: int
    interval: int
    probes: tuple[tuple[int, ...], ...]
    tokens: tuple[int, ...]
    finals: tuple[int, ...]
    text: str = ""

    @property
    def n_branches(self) -> int:
        return len(self.tokens)


@record
class FlatArrays:
    """The store padded to Q questions × B branches × L probes, as flat
    C-contiguous `array.array`s (row-major): what the VM reads."""

    probes: array[int]  # [Q, B, L] int32, padded with NO_ANSWER
    n_probes: array[int]  # [Q, B] int64
    tokens: array[int]  # [Q, B] int64
    finals: array[int]  # [Q, B] int64, padded with NO_ANSWER
    n_branches: array[int]  # [Q] int64; branches beyond it are padding
    interval: array[int]  # [Q] int64
    gold: array[int]  # [Q] int64
    width: int  # B: the most branches of a question (0 for an empty store)
    depth: int  # L: the most probes of a branch, at least 1


@record
class StoreArrays:
    """The store as padded arrays (Q questions × B branches × L probes)."""

    probes: npt.NDArray[np.int32]  # [Q, B, L], padded with NO_ANSWER
    n_probes: npt.NDArray[np.int32]  # [Q, B]
    tokens: npt.NDArray[np.int64]  # [Q, B]
    finals: npt.NDArray[np.int32]  # [Q, B]
    n_branches: npt.NDArray[np.int32]  # [Q]; branches beyond it are padding
    gold: npt.NDArray[np.int32]  # [Q]
    interval: npt.NDArray[np.int64]  # [Q]


@record
class ReplayStore:
    """A loaded replay store: questions plus the answer vocabulary."""

    name: str
    questions: tuple[Question, ...]
    vocab: tuple[str, ...]
    content_hash: str
    source: str = ""
    synthetic: bool = False
    _ids: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _arrays: list[StoreArrays] = field(default_factory=list, repr=False, compare=False)
    _flat: list[FlatArrays] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._ids:
            self._ids.update((text, i) for i, text in enumerate(self.vocab))

    def __len__(self) -> int:
        return len(self.questions)

    def answer_text(self, answer: int) -> str | None:
        """The original string of an interned answer (None for NO_ANSWER)."""
        return None if answer == NO_ANSWER else self.vocab[answer]

    def answer_id(self, text: str | None) -> int:
        """The interned id of an answer string; NO_ANSWER when unseen or None."""
        if text is None:
            return NO_ANSWER
        return self._ids.get(text, NO_ANSWER)

    def flat(self) -> FlatArrays:
        """The padded flat arrays of the store (built once, on first use)."""
        if not self._flat:
            self._flat.append(_to_flat(self.questions))
        return self._flat[0]

    def arrays(self) -> StoreArrays:
        """Padded numpy arrays of the store, shaped (built once from `flat()`)."""
        if not self._arrays:
            self._arrays.append(_to_numpy(self.flat()))
        return self._arrays[0]

    @property
    def max_branches(self) -> int:
        return max((q.n_branches for q in self.questions), default=0)


def _to_flat(questions: Sequence[Question]) -> FlatArrays:
    n_q = len(questions)
    width = max((q.n_branches for q in questions), default=0)
    depth = max(1, max((len(p) for q in questions for p in q.probes), default=0))
    probes = array("i", [NO_ANSWER]) * (n_q * width * depth)
    n_probes = array("q", bytes(8 * n_q * width))
    tokens = array("q", bytes(8 * n_q * width))
    finals = array("q", [NO_ANSWER]) * (n_q * width)
    for qi, q in enumerate(questions):
        row = qi * width
        for b, seq in enumerate(q.probes):
            at = (row + b) * depth
            probes[at : at + len(seq)] = array("i", seq)
            n_probes[row + b] = len(seq)
        tokens[row : row + q.n_branches] = array("q", q.tokens)
        finals[row : row + q.n_branches] = array("q", q.finals)
    return FlatArrays(
        probes=probes,
        n_probes=n_probes,
        tokens=tokens,
        finals=finals,
        n_branches=array("q", [q.n_branches for q in questions]),
        interval=array("q", [q.interval for q in questions]),
        gold=array("q", [q.gold for q in questions]),
        width=width,
        depth=depth,
    )


def _to_numpy(f: FlatArrays) -> StoreArrays:
    import numpy as np

    n_q = len(f.gold)

    def shaped(col: array[int], dtype: Any, *shape: int) -> Any:
        return np.asarray(col, dtype=dtype).reshape(shape)

    return StoreArrays(
        probes=shaped(f.probes, np.int32, n_q, f.width, f.depth),
        n_probes=shaped(f.n_probes, np.int32, n_q, f.width),
        tokens=shaped(f.tokens, np.int64, n_q, f.width),
        finals=shaped(f.finals, np.int32, n_q, f.width),
        n_branches=shaped(f.n_branches, np.int32, n_q),
        gold=shaped(f.gold, np.int32, n_q),
        interval=shaped(f.interval, np.int64, n_q),
    )


# ---------------------------------------------------------------------------
# Loading and validation


def load_store(path: str | Path, *, name: str | None = None) -> ReplayStore:
    """Load and validate an AutoTTS replay store (`.json` or `.json.gz`).

    Raises `StoreError` with a one-line message on any problem.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise StoreError(p, "no such file") from None
    except IsADirectoryError:
        raise StoreError(p, "is a directory, expected a .json store file") from None
    except OSError as exc:
        raise StoreError(p, f"cannot read: {exc.strerror or exc}") from None
    if p.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise StoreError(p, f"corrupt gzip data ({exc})") from None
    from . import store_cache

    digest = hashlib.sha256(raw).hexdigest()
    store_name = name if name is not None else _default_name(p)
    cached = store_cache.get(digest)
    if cached is not None:
        questions, vocab = cached
        return ReplayStore(
            name=store_name,
            questions=questions,
            vocab=vocab,
            content_hash=digest[:16],
            source=str(p),
        )
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise StoreError(p, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        hint = " (file truncated?)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        raise StoreError(
            p, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}"
        ) from None
    store = store_from_records(data, name=store_name, source=str(p), content_hash=digest[:16])
    store_cache.put(digest, store.questions, store.vocab)
    return store


def _default_name(p: Path) -> str:
    stem = p.name
    for suffix in (".gz", ".json"):
        stem = stem.removesuffix(suffix)
    parent = p.parent.name
    return f"{parent}/{stem}" if parent else stem


def store_from_records(
    data: Any,
    *,
    name: str,
    source: str = "<memory>",
    content_hash: str | None = None,
    synthetic: bool = False,
) -> ReplayStore:
    """Validate AutoTTS-format records (already parsed JSON) and intern them."""
    if not isinstance(data, list):
        raise StoreError(source, f"top level must be a list of questions, got {_tname(data)}")
    if not data:
        raise StoreError(source, "store holds no questions")
    interner = _Interner()
    intern = interner.__getitem__  # C-speed lookups; only a new string runs Python
    questions = []
    for qi, rec in enumerate(data):
        questions.append(_question(rec, qi, source, intern))
    if content_hash is None:
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        content_hash = hashlib.sha256(blob).hexdigest()[:16]
    vocab = tuple(sorted(interner, key=interner.__getitem__))
    return ReplayStore(
        name=name,
        questions=tuple(questions),
        vocab=vocab,
        content_hash=content_hash,
        source=source,
        synthetic=synthetic,
    )


class _Interner(dict[str, int]):
    """Strings to dense ids in order of first sight."""

    def __missing__(self, key: str) -> int:
        got = self[key] = len(self)
        return got


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


_STR_ONLY = {str}


def _question(rec: Any, qi: int, source: str, intern: Any) -> Question:
    def bad(key: str | None, reason: str) -> StoreError:
        return StoreError(source, reason, question=qi, key=key)

    if not isinstance(rec, dict):
        raise bad(None, f"question record must be an object, got {_tname(rec)}")
    for key in ("gold_answer", "probe_freq", "each_branch"):
        if key not in rec:
            raise bad(key, "missing")
    gold = rec["gold_answer"]
    if not isinstance(gold, str):
        raise bad("gold_answer", f"must be a string, got {_tname(gold)}")
    interval = rec["probe_freq"]
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise bad("probe_freq", f"must be an integer, got {_tname(interval)}")
    if interval <= 0:
        raise bad("probe_freq", f"interval must be positive, got {interval}")
    branches = rec["each_branch"]
    if not isinstance(branches, list):
        raise bad("each_branch", f"must be a list, got {_tname(branches)}")
    if not branches:
        raise bad("each_branch", "empty: a question needs at least one branch")
    probes: list[tuple[int, ...]] = []
    tokens: list[int] = []
    finals: list[int] = []
    for bi, br in enumerate(branches):
        key = f"each_branch[{bi}]"
        if not isinstance(br, list) or len(br) != 3:
            raise bad(key, "must be [probe_answers, branch_tokens, final_answer]")
        pa, bt, fa = br
        # the type test at C speed first (a store holds ~10^5 probes)
        if not isinstance(pa, list) or (
            pa and set(map(type, pa)) != _STR_ONLY and not all(isinstance(a, str) for a in pa)
        ):
            raise bad(key, "probe_answers must be a list of strings")
        if isinstance(bt, bool) or not isinstance(bt, int):
            if isinstance(bt, float) and math.isfinite(bt) and bt == int(bt):
                bt = int(bt)
            else:
                raise bad(key, f"branch_tokens must be an integer, got {_tname(bt)}")
        if bt < 0:
            raise bad(key, f"branch_tokens must be >= 0, got {bt}")
        if not isinstance(fa, str):
            raise bad(key, f"final_answer must be a string, got {_tname(fa)}")
        probes.append(tuple(map(intern, pa)))
        tokens.append(bt)
        finals.append(intern(fa))
    text = rec.get("question", "")
    return Question(
        index=qi,
        gold=intern(gold),
        interval=interval,
        probes=tuple(probes),
        tokens=tuple(tokens),
        finals=tuple(finals),
        text=text if isinstance(text, str) else "",
    )


def store_to_records(store: ReplayStore) -> list[dict[str, Any]]:
    """The inverse of `store_from_records`: AutoTTS-format JSON records."""
    v = store.vocab
    out = []
    for q in store.questions:
        out.append(
            {
                "question": q.text,
                "gold_answer": v[q.gold],
                "probe_freq": q.interval,
                "final_answers_trace": [v[f] for f in q.finals],
                "each_branch": [
                    [[v[a] for a in p], t, v[f]]
                    for p, t, f in zip(q.probes, q.tokens, q.finals, strict=True)
                ],
            }
        )
    return out
