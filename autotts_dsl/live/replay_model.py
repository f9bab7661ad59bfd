"""A replay store as a deterministic language model (what serve-replay serves).

The model's tokenizer has four kinds of tokens, each id a pure function of
its text (so ids stay valid across server restarts):

* characters: id = code point (any text tokenizes, nothing is lost);
* `</think>`: the end-of-reasoning marker;
* ` \\boxed{a}` for every final answer `a` of the store;
* filler ` w{seed}_{pos}`: position `pos` of the trace sampled with `seed`.

The trace sampled with seed s for question q is branch s of q (in file
order), as a stream of exactly `branch_tokens` tokens: fillers, the marker
ending the reasoning at R = min(branch_tokens, L·Δ) (no marker when R is
the whole trace), and the final answer's box as the last token (a filler
when the stored final answer is "no answer"). See `segments` for the rule
this inverts.

A prompt is read as: the question (the longest stored question text found
in it), then, if it holds one, a prefix of a trace (from the first filler
at position 0, as far as it matches that trace), then whatever follows. No
prefix → sample with the request's seed. A prefix and nothing after it →
continue that trace. Text after a prefix → a probe: the answer is the
stored probe answer of the interval the prefix reaches into (the final
answer past the reasoning), written as `<answer>}` when the text ends in an
open `\\boxed{`, else as ` \\boxed{<answer>}`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

from ..records import record
from ..replay.store import ReplayStore
from .answers import BOX, NO_ANSWER_TEXT, emittable
from .segments import DEFAULT_MARKER, marker_position, reproducible

CHAR_LIMIT = 0x110000
THINK_ID = 0x110000
BOXED_BASE = 0x110001
FILLER_BASE = 0x200000
POS_BITS = 17
MAX_POS = 1 << POS_BITS
MAX_SEED = ((1 << 32) - FILLER_BASE) >> POS_BITS
_FILLER = re.compile(r" w(0|[1-9]\d{0,5})_(0|[1-9]\d{0,6})")


class ReplayModelError(Exception):
    """The store cannot be served as a model (one line, with the location)."""


class RequestError(Exception):
    """A request the model cannot answer (HTTP 400 with this message)."""


@record
class Reading:
    """What a prompt holds (see the module docstring)."""

    question: int
    seed: int | None  # the trace whose prefix the prompt holds
    prefix: int  # tokens of that prefix
    tail: str  # text after the prefix


def filler_id(seed: int, pos: int) -> int:
    return FILLER_BASE + (seed << POS_BITS) + pos


class ReplayModel:
    def __init__(self, store: ReplayStore, *, marker: str = DEFAULT_MARKER) -> None:
        if marker != DEFAULT_MARKER:
            raise ReplayModelError(f"serve-replay writes {DEFAULT_MARKER!r} as its marker")
        self.store = store
        self.vocab = store.vocab
        finals = sorted(
            {store.vocab[f] for q in store.questions for f in q.finals} - {NO_ANSWER_TEXT}
        )
        self.boxed = finals
        self._boxed_id = {a: BOXED_BASE + j for j, a in enumerate(finals)}
        if len(finals) >= FILLER_BASE - BOXED_BASE:
            raise ReplayModelError(f"{store.source}: too many distinct final answers")
        self._validate()
        self._texts = [q.text for q in store.questions]
        self._streams: OrderedDict[tuple[int, int], list[int]] = OrderedDict()
        self._lock = threading.Lock()  # the stream cache is shared by the server's threads

    def _validate(self) -> None:
        s = self.store
        for qi, q in enumerate(s.questions):
            if not q.text.strip():
                raise ReplayModelError(
                    f"{s.source}: question {qi} has no text; serve-replay finds questions by text"
                )
            if q.n_branches > MAX_SEED:
                raise ReplayModelError(f"{s.source}: question {qi}: more than {MAX_SEED} branches")
            for b, (probes, t) in enumerate(zip(q.probes, q.tokens, strict=True)):
                where = f"{s.source}: question {qi}, branch {b}"
                if t >= MAX_POS:
                    raise ReplayModelError(f"{where}: {t} tokens, serve-replay serves < {MAX_POS}")
                if not reproducible(t, len(probes), q.interval):
                    raise ReplayModelError(
                        f"{where}: {len(probes)} probes cannot come from a {t}-token trace "
                        f"at interval {q.interval} (see docs/collect.md, the collection rule)"
                    )
                if marker_position(t, len(probes), q.interval) < 2:
                    raise ReplayModelError(f"{where}: serve-replay needs >= 2 reasoning tokens")
        for a in s.vocab:
            if not emittable(a):
                raise ReplayModelError(
                    f"{s.source}: answer {a!r} cannot be written as \\boxed{{...}} and read back"
                )
        texts = [q.text for q in s.questions]
        if len(set(texts)) != len(texts):
            raise ReplayModelError(
                f"{s.source}: two questions share a text; serve-replay cannot tell them apart"
            )

    # -- tokenizer -----------------------------------------------------------

    def token_text(self, tok: int) -> str:
        if 0 <= tok < CHAR_LIMIT:
            if 0xD800 <= tok <= 0xDFFF:
                raise RequestError(f"token id {tok} is not in the vocabulary")
            return chr(tok)
        if tok == THINK_ID:
            return DEFAULT_MARKER
        if BOXED_BASE <= tok < BOXED_BASE + len(self.boxed):
            return f" {BOX}{self.boxed[tok - BOXED_BASE]}}}"
        if FILLER_BASE <= tok < 1 << 32:
            rel = tok - FILLER_BASE
            return f" w{rel >> POS_BITS}_{rel & (MAX_POS - 1)}"
        raise RequestError(f"token id {tok} is not in the vocabulary")

    def detokenize(self, ids: Sequence[int]) -> str:
        return "".join(self.token_text(t) for t in ids)

    def tokenize(self, text: str) -> list[int]:
        out: list[int] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == "<" and text.startswith(DEFAULT_MARKER, i):
                out.append(THINK_ID)
                i += len(DEFAULT_MARKER)
                continue
            if ch == " " and i + 1 < n:
                nxt = text[i + 1]
                if nxt == "w":
                    m = _FILLER.match(text, i)
                    if m and int(m.group(1)) < MAX_SEED and int(m.group(2)) < MAX_POS:
                        out.append(filler_id(int(m.group(1)), int(m.group(2))))
                        i = m.end()
                        continue
                elif nxt == "\\" and text.startswith(BOX, i + 1):
                    tok, end = self._boxed_at(text, i)
                    if tok is not None:
                        out.append(tok)
                        i = end
                        continue
            out.append(ord(ch))
            i += 1
        return out

    def _boxed_at(self, text: str, i: int) -> tuple[int | None, int]:
        """The longest ` \\boxed{a}` token starting at i, for a known answer a."""
        start = i + 1 + len(BOX)
        best: tuple[int | None, int] = (None, i)
        j = text.find("}", start)
        while j >= 0 and j - start < 4096:
            tok = self._boxed_id.get(text[start:j])
            if tok is not None:
                best = (tok, j + 1)
            j = text.find("}", j + 1)
        return best

    # -- traces --------------------------------------------------------------

    def stream(self, q: int, seed: int) -> list[int]:
        key = (q, seed)
        with self._lock:
            got = self._streams.get(key)
            if got is not None:
                self._streams.move_to_end(key)
                return got
        question = self.store.questions[q]
        if not 0 <= seed < question.n_branches:
            raise RequestError(
                f"seed {seed}: question {q} has {question.n_branches} stored traces "
                f"(seeds 0..{question.n_branches - 1})"
            )
        total = question.tokens[seed]
        n_probes = len(question.probes[seed])
        r = marker_position(total, n_probes, question.interval)
        start = filler_id(seed, 0)
        ids = list(range(start, start + total))  # fillers are consecutive ids
        if r < total:
            ids[r - 1] = THINK_ID
        final = self.vocab[question.finals[seed]]
        if final != NO_ANSWER_TEXT:
            ids[-1] = self._boxed_id[final]
        with self._lock:
            self._streams[key] = ids
            if len(self._streams) > 512:
                self._streams.popitem(last=False)
        return ids

    def read_prompt(self, ids: Sequence[int]) -> Reading:
        start = next(
            (
                j
                for j, t in enumerate(ids)
                if t >= FILLER_BASE and (t - FILLER_BASE) & (MAX_POS - 1) == 0
            ),
            None,
        )
        head = self.detokenize(ids if start is None else ids[:start])
        q = self._find_question(head)
        if start is None:
            return Reading(q, None, 0, "")
        seed = (ids[start] - FILLER_BASE) >> POS_BITS
        stream = self.stream(q, seed)
        limit = min(len(stream), len(ids) - start)
        if list(ids[start : start + limit]) == stream[:limit]:
            n = limit  # the usual case, compared at C speed (prompts reach ~40k tokens)
        else:
            n = 0
            while n < limit and ids[start + n] == stream[n]:
                n += 1
        return Reading(q, seed, n, self.detokenize(ids[start + n :]))

    def _find_question(self, text: str) -> int:
        best = -1
        for qi, qt in enumerate(self._texts):
            if qt in text and (best < 0 or len(qt) > len(self._texts[best])):
                best = qi
        if best < 0:
            raise RequestError("the prompt holds none of the store's questions")
        return best

    def answer_at(self, q: int, seed: int, prefix: int) -> str:
        """The stored answer a probe after `prefix` tokens of trace `seed` gets."""
        question = self.store.questions[q]
        probes = question.probes[seed]
        r = marker_position(question.tokens[seed], len(probes), question.interval)
        if prefix <= 0:
            return NO_ANSWER_TEXT
        if prefix > r:
            return self.vocab[question.finals[seed]]
        return self.vocab[probes[-(-prefix // question.interval) - 1]]


def probe_reply(answer: str, tail: str) -> str:
    """The model's words after a probe (see the module docstring)."""
    open_box = tail.rfind(BOX) >= 0 and "}" not in tail[tail.rfind(BOX) :]
    if answer == NO_ANSWER_TEXT:
        return "}" if open_box else " I cannot tell yet."
    return f"{answer}}}" if open_box else f" {BOX}{answer}}}"
