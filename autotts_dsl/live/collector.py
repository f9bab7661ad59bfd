"""Collecting a replay store from a live model.

For each question, N traces are sampled (trace i with seed `seed + i`), each
cut at interval boundaries in the model's own tokens and probed there
(`segments` has the rule); every finished trace and probe goes to the
journal at once, so a killed collection resumes without asking again for
anything it received. The store is written when everything is in.

Requests run on a bounded pool of threads. Probes of a finished trace go
first, in depth order and batched several prompts per request: they share
the trace's prefix, which vLLM's prefix cache still holds right after the
trace was generated. New traces fill the remaining slots.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import field
from typing import Any

from .. import __version__
from ..records import record
from . import answers, segments
from .answers import extract_boxed
from .client import ServerError, public_url
from .equivalence import Rule
from .journal import Journal, TraceRow
from .model_api import ModelServer, Prompt, Sampling, TokenMode
from .prompts import build_prompt
from .questions import QuestionItem, questions_digest
from .storefile import intern_record, question_record


class CollectError(Exception):
    """A collection stopped; what arrived is in the journal (one line)."""


@record
class CollectSettings:
    model: str
    n: int = 128
    interval: int = 500
    sampling: Sampling = field(default_factory=Sampling)
    seed: int = 0
    prompt_template: str = ""
    chat_template: str = ""
    chat_template_name: str = ""
    probe_suffix: str = ""
    probe_max_tokens: int = 32
    marker: str = segments.DEFAULT_MARKER
    concurrency: int = 32
    probe_batch: int = 8

    def journal_settings(
        self, questions: Sequence[QuestionItem], mode: TokenMode
    ) -> dict[str, Any]:
        """What decides a journal's content (a resumed run must match it)."""
        return {
            "model": self.model,
            "n": self.n,
            "interval": self.interval,
            "sampling": self.sampling.as_dict(),
            "seed": self.seed,
            "prompt_template": self.prompt_template,
            "chat_template": self.chat_template,
            "probe_suffix": self.probe_suffix,
            "probe_max_tokens": self.probe_max_tokens,
            "marker": self.marker,
            "tokens": mode,
            "questions": questions_digest(questions),
            "n_questions": len(questions),
        }


@record(frozen=False)
class Progress:
    traces_total: int = 0
    traces_done: int = 0
    probes_done: int = 0
    probes_known: int = 0  # probes of the traces received so far
    tokens: int = 0  # trace tokens received in this run
    started: float = field(default_factory=time.monotonic)


ProgressFn = Callable[[Progress], None]


@record
class _TraceJob:
    q: int
    i: int


@record
class _ProbeJob:
    q: int
    i: int
    probes: tuple[tuple[int, int], ...]  # (k, prefix length)


@record(frozen=False)
class _Open:
    """A received trace whose probes are not all in."""

    tokens: tuple[int, ...] | tuple[str, ...]
    remaining: int


class Collector:
    def __init__(
        self,
        server: ModelServer,
        settings: CollectSettings,
        questions: Sequence[QuestionItem],
        *,
        mode: TokenMode,
        counts: Sequence[int] | None = None,
    ) -> None:
        self.server = server
        self.s = settings
        self.questions = list(questions)
        # traces per question: N for a collection, what the file holds for `store build`
        self.counts = list(counts) if counts is not None else [settings.n] * len(self.questions)
        self.mode = mode
        self.prompt_texts = [
            build_prompt(
                q.text,
                prompt_template=settings.prompt_template,
                chat_template=settings.chat_template,
            )
            for q in self.questions
        ]
        self.prompt_ids: list[list[int]] = []
        self.suffix_ids: list[int] = []
        self.marker_ids: list[int] = []

    def prepare(self) -> None:
        """Tokenize prompts, suffix and marker (ids mode) — free requests."""
        if self.mode != "ids":
            return
        tok = self.server.tokenize
        self.prompt_ids = [tok(t, add_special_tokens=True) for t in self.prompt_texts]
        self.suffix_ids = tok(self.s.probe_suffix, add_special_tokens=False)
        self.marker_ids = tok(self.s.marker, add_special_tokens=False) if self.s.marker else []

    # -- requests (run on worker threads; they touch no shared state) ---------

    def _trace(self, job: _TraceJob) -> tuple[TraceRow, int]:
        prompt: Prompt = self.prompt_ids[job.q] if self.mode == "ids" else self.prompt_texts[job.q]
        seed = self.s.seed + job.i
        res = self.server.trace(prompt, seed=seed, sampling=self.s.sampling, mode=self.mode)
        tokens: tuple[int, ...] | tuple[str, ...]
        if res.ids is not None:
            tokens = res.ids
            r = segments.reasoning_length_ids(res.ids, self.marker_ids)
        else:
            texts = res.texts or ()
            tokens = texts
            r = segments.reasoning_length_texts(texts, self.s.marker)
        final = extract_boxed(res.text, stopped=res.finish_reason == "stop")
        row = TraceRow(job.q, job.i, seed, res.n_tokens, r, res.finish_reason, final, tokens)
        prompt_tokens = res.prompt_tokens or (len(prompt) if isinstance(prompt, list) else 0)
        return row, prompt_tokens

    def _probe(
        self, job: _ProbeJob, tokens: tuple[int, ...] | tuple[str, ...]
    ) -> tuple[list[tuple[int, int, str | None, str, str]], int, int]:
        prompts: list[Prompt] = []
        for _, prefix in job.probes:
            head = tokens[:prefix]
            if self.mode == "ids":
                ids = [t for t in head if isinstance(t, int)]
                prompts.append(self.prompt_ids[job.q] + ids + self.suffix_ids)
            else:
                text = "".join(t for t in head if isinstance(t, str))
                prompts.append(self.prompt_texts[job.q] + text + self.s.probe_suffix)
        results, usage = self.server.probes(prompts, max_tokens=self.s.probe_max_tokens)
        rows = []
        for (k, prefix), res in zip(job.probes, results, strict=True):
            answer = extract_boxed(
                self.s.probe_suffix + res.text, stopped=res.finish_reason == "stop"
            )
            rows.append((k, prefix, answer, res.finish_reason, res.text))
        prompt_tokens = usage.prompt_tokens or sum(len(p) for p in prompts if isinstance(p, list))
        return rows, prompt_tokens, usage.completion_tokens

    # -- the loop (main thread: the only one that writes the journal) ---------

    def _probe_jobs(self, q: int, i: int, todo: Sequence[tuple[int, int]]) -> list[_ProbeJob]:
        size = max(1, self.s.probe_batch)
        return [_ProbeJob(q, i, tuple(todo[j : j + size])) for j in range(0, len(todo), size)]

    def run(self, journal: Journal, progress: ProgressFn | None = None) -> None:
        """Collect everything the journal does not hold yet."""
        n_q = len(self.questions)
        done_probes = journal.probe_answers()
        open_traces: dict[tuple[int, int], _Open] = {}
        heap: list[tuple[tuple[int, ...], int, _TraceJob | _ProbeJob]] = []
        order = itertools.count()
        state = Progress(traces_total=sum(self.counts))
        have = set()
        for row in journal.traces():
            have.add((row.q, row.i))
            state.traces_done += 1
            prefixes = segments.probe_prefixes(row.reasoning, self.s.interval)
            got = done_probes.get((row.q, row.i), {})
            state.probes_known += len(prefixes)
            state.probes_done += len(got)
            todo = [(k, p) for k, p in enumerate(prefixes) if k not in got]
            if todo:
                if row.tokens is None:
                    raise CollectError(
                        f"{journal.path}: trace ({row.q}, {row.i}) lost its tokens "
                        "before its probes"
                    )
                open_traces[(row.q, row.i)] = _Open(row.tokens, len(todo))
                for pj in self._probe_jobs(row.q, row.i, todo):
                    heapq.heappush(heap, ((0, next(order)), next(order), pj))
        for q in range(n_q):
            for i in range(self.counts[q]):
                if (q, i) not in have:
                    heapq.heappush(heap, ((1, q, i), next(order), _TraceJob(q, i)))
        if progress:
            progress(state)
        failure: ServerError | None = None
        inflight: dict[Future[Any], _TraceJob | _ProbeJob] = {}
        pool = ThreadPoolExecutor(
            max_workers=max(1, self.s.concurrency), thread_name_prefix="collect"
        )
        clean = False
        try:
            while heap or inflight:
                while heap and failure is None and len(inflight) < self.s.concurrency:
                    _, _, next_job = heapq.heappop(heap)
                    if isinstance(next_job, _TraceJob):
                        inflight[pool.submit(self._trace, next_job)] = next_job
                    else:
                        tokens = open_traces[(next_job.q, next_job.i)].tokens
                        inflight[pool.submit(self._probe, next_job, tokens)] = next_job
                if not inflight:
                    break
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done_job = inflight.pop(fut)
                    try:
                        result = fut.result()
                    except ServerError as exc:
                        failure = failure or exc
                        continue
                    if isinstance(done_job, _TraceJob):
                        row, prompt_tokens = result
                        journal.add_trace(row, prompt_tokens=prompt_tokens)
                        state.traces_done += 1
                        state.tokens += row.n_tokens
                        prefixes = segments.probe_prefixes(row.reasoning, self.s.interval)
                        state.probes_known += len(prefixes)
                        if prefixes:
                            assert row.tokens is not None
                            open_traces[(row.q, row.i)] = _Open(row.tokens, len(prefixes))
                            todo = list(enumerate(prefixes))
                            for pj in self._probe_jobs(row.q, row.i, todo):
                                heapq.heappush(heap, ((0, next(order)), next(order), pj))
                    else:
                        rows, prompt_tokens, completion_tokens = result
                        entry = open_traces[(done_job.q, done_job.i)]
                        entry.remaining -= len(rows)
                        journal.add_probes(
                            done_job.q,
                            done_job.i,
                            rows,
                            prompt_tokens=prompt_tokens,
                            completion_tokens=completion_tokens,
                            finished=entry.remaining == 0,
                        )
                        if entry.remaining == 0:
                            del open_traces[(done_job.q, done_job.i)]
                        state.probes_done += len(rows)
                    if progress:
                        progress(state)
            clean = True
        finally:
            # Interrupted: do not wait for requests whose answers nobody will record.
            pool.shutdown(wait=clean, cancel_futures=True)
        if failure is not None:
            raise CollectError(
                f"{failure}; everything received so far is kept in {journal.path}, re-run to resume"
            )

    # -- the store --------------------------------------------------------------

    def records(self, journal: Journal, rule: Rule) -> tuple[list[dict[str, Any]], int]:
        """AutoTTS records from a complete journal; (records, answers merged)."""
        probes = journal.probe_answers()
        rows: dict[int, list[TraceRow]] = {}
        for row in journal.traces():
            rows.setdefault(row.q, []).append(row)
        out = []
        merged = 0
        for q, item in enumerate(self.questions):
            got = sorted(rows.get(q, []), key=lambda r: r.i)
            if [r.i for r in got] != list(range(self.counts[q])):
                raise CollectError(
                    f"{journal.path}: question {q} is incomplete "
                    f"({len(got)} of {self.counts[q]} traces)"
                )
            branches = []
            for r in got:
                n = len(segments.probe_prefixes(r.reasoning, self.s.interval))
                have = probes.get((q, r.i), {})
                if len(have) != n:
                    raise CollectError(
                        f"{journal.path}: trace ({q}, {r.i}) has {len(have)} of {n} probes"
                    )
                branch_probes = [answers.answer_text(have[k]) for k in range(n)]
                branches.append((branch_probes, r.n_tokens, answers.answer_text(r.final)))
            rec, m = intern_record(
                rule, question_record(item.text, item.gold, self.s.interval, branches)
            )
            merged += m
            out.append(rec)
        return out, merged

    def metadata(
        self, rule: Rule, journal: Journal, *, merged: int, server_url: str
    ) -> dict[str, Any]:
        return {
            "tool": f"tts-dsl {__version__}",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": self.s.model,
            "server": server_url,
            "n": self.s.n,
            "interval": self.s.interval,
            "seed": self.s.seed,
            "seeds": f"trace i uses seed {self.s.seed} + i",
            "sampling": self.s.sampling.as_dict(),
            "prompt_template": self.s.prompt_template,
            "chat_template": self.s.chat_template_name or self.s.chat_template,
            "probe": {
                "suffix": self.s.probe_suffix,
                "max_tokens": self.s.probe_max_tokens,
                "temperature": 0.0,
            },
            "tokens": self.mode,
            "reasoning_marker": self.s.marker,
            "collection_rule": segments.RULE,
            "extraction_rule": answers.RULE,
            "equivalence": {**rule.describe(), "merged_strings": merged},
            "cost": journal.spend(),
        }


# -- the dry run --------------------------------------------------------------


@record
class Plan:
    """What a collection will spend (upper bounds; none of it sent yet)."""

    traces: int
    traces_done: int
    max_probes: int
    max_probe_requests: int
    max_completion_tokens: int
    max_probe_prompt_tokens: int
    prompt_tokens_estimated: bool
    expected: dict[str, int] | None = None


def _probe_prompt_tokens(prompt: int, suffix: int, reasoning: int, interval: int) -> int:
    prefixes = segments.probe_prefixes(reasoning, interval)
    return sum(prompt + suffix + p for p in prefixes)


def plan(
    settings: CollectSettings,
    questions: Sequence[QuestionItem],
    *,
    done: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    prompt_tokens: Sequence[int] | None = None,
    suffix_tokens: int | None = None,
    expect_tokens: int | None = None,
) -> Plan:
    """Requests and tokens a collection needs, at most (every trace runs to
    max_tokens and is all reasoning). Prompt sizes are estimated at 4
    characters a token unless given."""
    estimated = prompt_tokens is None or suffix_tokens is None
    texts = [
        build_prompt(
            q.text, prompt_template=settings.prompt_template, chat_template=settings.chat_template
        )
        for q in questions
    ]
    p_tokens = (
        list(prompt_tokens) if prompt_tokens is not None else [-(-len(t) // 4) for t in texts]
    )
    s_tokens = suffix_tokens if suffix_tokens is not None else -(-len(settings.probe_suffix) // 4)
    cap = settings.sampling.max_tokens
    per_trace = len(segments.probe_prefixes(cap, settings.interval))
    batches = -(-per_trace // max(1, settings.probe_batch))
    todo = [(q, i) for q in range(len(questions)) for i in range(settings.n) if (q, i) not in done]
    max_prompt = sum(
        _probe_prompt_tokens(p_tokens[q], s_tokens, cap, settings.interval) for q, _ in todo
    )
    expected = None
    if expect_tokens is not None:
        e = min(expect_tokens, cap)
        e_probes = len(segments.probe_prefixes(e, settings.interval))
        expected = {
            "probes": len(todo) * e_probes,
            "probe_requests": len(todo) * -(-e_probes // max(1, settings.probe_batch)),
            "completion_tokens": len(todo) * (e + e_probes * settings.probe_max_tokens),
            "probe_prompt_tokens": sum(
                _probe_prompt_tokens(p_tokens[q], s_tokens, e, settings.interval) for q, _ in todo
            ),
        }
    return Plan(
        traces=len(todo),
        traces_done=len(questions) * settings.n - len(todo),
        max_probes=len(todo) * per_trace,
        max_probe_requests=len(todo) * batches,
        max_completion_tokens=len(todo) * (cap + per_trace * settings.probe_max_tokens),
        max_probe_prompt_tokens=max_prompt,
        prompt_tokens_estimated=estimated,
        expected=expected,
    )


# -- one call: what `tts-dsl collect` does --------------------------------------


def journal_path_for(out: str) -> str:
    return str(out) + ".journal"


@record
class Collected:
    path: str
    meta: dict[str, Any]
    mode: TokenMode


def resolve_mode(server: ModelServer, wanted: str) -> TokenMode:
    """`auto` → ids when the server has /tokenize, else text."""
    if wanted == "ids":
        if not server.has_tokenizer():
            raise CollectError(f"{server.client.root}/tokenize is not available; use --tokens text")
        return "ids"
    if wanted == "text":
        return "text"
    return "ids" if server.has_tokenizer() else "text"


def collect_store(
    server: ModelServer,
    settings: CollectSettings,
    questions: Sequence[QuestionItem],
    out: str,
    rule: Rule,
    *,
    tokens: str = "auto",
    journal_path: str | None = None,
    progress: ProgressFn | None = None,
) -> Collected:
    """Collect (or resume) and write the store at `out` with its sidecar."""
    from .storefile import write_store

    server.check_model()
    mode = resolve_mode(server, tokens)
    collector = Collector(server, settings, questions, mode=mode)
    collector.prepare()
    journal = Journal(
        journal_path or journal_path_for(out), settings.journal_settings(questions, mode)
    )
    try:
        collector.run(journal, progress)
        records, merged = collector.records(journal, rule)
        meta = collector.metadata(
            rule, journal, merged=merged, server_url=public_url(server.client.api)
        )
        written = write_store(out, records, meta)
    finally:
        journal.close()
    return Collected(out, written, mode)
