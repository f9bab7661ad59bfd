"""`tts-dsl infer`: a program drives generation on a live model.

Each (question, seed) is an episode of the replay protocol played against
the server: the reference interpreter runs the program on a `LiveEpisode`
(live_episode.py), whose branches are traces sampled and probed as the
program reads them (live_trace.py), so answers and charged tokens follow the
replay's definitions exactly. Before each batch a look-ahead puts the
batch's requests in flight together (speculate.py). Episodes run
concurrently (`parallel`), requests are bounded (`concurrency`), and every
request's result is journaled (infer_journal.py) before it is used: a killed
run resumes without asking again for anything it received.

Per episode: the answer, whether it is the gold answer, the replay's total
and sequential tokens, what was generated (including speculation never
read), requests and wall time; the same execution trace `run --trace`
writes; with `record`, the traces it paid for as a replay store
(infer_record.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import field
from typing import Any

from ..compiler import Compiled
from ..records import record
from ..reference import run_episode
from ..replay.store import NO_ANSWER
from ..runtime import EpisodeFault, RuntimeFault
from ..trace import TraceLevel, dumps, episode_record, with_answer_texts
from . import prompts, segments
from .client import ServerError
from .equivalence import Rule
from .infer_journal import InferJournal
from .interning import MainThread, OnlineInterner, same_answer
from .live_episode import EpisodeTraces, LiveEpisode
from .live_trace import Chunk, ProbeRecord, TraceSetup
from .model_api import ModelServer, Prompt, Sampling, TokenMode
from .questions import QuestionItem, questions_digest
from .speculate import lookahead


class InferError(Exception):
    """An inference run stopped; what arrived is in the journal (one line)."""


class Aborted(Exception):
    """Another episode failed: this one stops at its next request."""


@record
class InferSettings:
    model: str
    interval: int = 500
    sampling: Sampling = field(default_factory=Sampling)
    prompt_template: str = prompts.DEFAULT_PROMPT_TEMPLATE
    chat_template: str = prompts.CHAT_TEMPLATES[prompts.DEFAULT_CHAT_TEMPLATE]
    chat_template_name: str = prompts.DEFAULT_CHAT_TEMPLATE
    probe_suffix: str = prompts.DEFAULT_PROBE_SUFFIX
    probe_max_tokens: int = 32
    marker: str = segments.DEFAULT_MARKER
    branches: int = 128  # traces an episode may open per question (the replay's N)
    seed_base: int = 0  # opened branch i samples with seed_base + shuffle_order(seed, N)[i]
    concurrency: int = 64  # requests in flight, all episodes together
    parallel: int = 8  # episodes at once
    speculate: bool = True

    def journal_settings(
        self,
        *,
        program: str,
        beta: float,
        params: dict[str, Any],
        questions: Sequence[QuestionItem],
        mode: TokenMode,
        equivalence: str,
    ) -> dict[str, Any]:
        """What decides a journal's content (a resumed run must match it)."""
        return {
            "program": program,
            "beta": beta,
            "params": {k: params[k] for k in sorted(params)},
            "model": self.model,
            "interval": self.interval,
            "sampling": self.sampling.as_dict(),
            "prompt_template": self.prompt_template,
            "chat_template": self.chat_template,
            "probe_suffix": self.probe_suffix,
            "probe_max_tokens": self.probe_max_tokens,
            "marker": self.marker,
            "branches": self.branches,
            "seed_base": self.seed_base,
            "tokens": mode,
            "equivalence": equivalence,
            "questions": questions_digest(questions),
            "n_questions": len(questions),
        }


RESULT_KEYS = (
    "question",
    "id",
    "seed",
    "answer",
    "gold",
    "correct",
    "tokens",
    "seq_tokens",
    "opened",
    "reads",
    "generated_tokens",
    "trace_tokens",
    "unread_tokens",
    "probe_tokens",
    "probes",
    "unread_probes",
    "requests",
    "prompt_tokens",
    "wall_seconds",
    "resumed",
)
"""One line of the results file: `tokens` and `seq_tokens` are the replay's
charged total and sequential tokens (what `run` reports); `trace_tokens`
is what was sampled for traces, `unread_tokens` the part of it no read
consumed (speculation, and pieces past a pruned branch's last read);
`generated_tokens` adds the probes' completion tokens."""


@record(frozen=False)
class Progress:
    episodes_total: int = 0
    episodes_done: int = 0
    requests: int = 0
    started: float = field(default_factory=time.monotonic)


ProgressFn = Callable[[Progress], None]


@record
class InferRun:
    results: list[dict[str, Any]]  # in (seed, question) order
    events: list[list[dict[str, Any]]]  # per result, answers as strings
    resumed_episodes: int
    journal_spend: dict[str, int]
    wall_seconds: float

    def summary(self) -> dict[str, Any]:
        return summarize(self.results, self.wall_seconds)


def summarize(results: Sequence[dict[str, Any]], wall: float) -> dict[str, Any]:
    n = len(results)

    def mean(key: str) -> float:
        return sum(float(r[key]) for r in results) / n if n else 0.0

    scored = [r for r in results if r["correct"] is not None]
    return {
        "episodes": n,
        "accuracy": (
            round(100 * sum(bool(r["correct"]) for r in scored) / len(scored), 2)
            if scored
            else None
        ),
        "tokens": mean("tokens"),
        "seq_tokens": mean("seq_tokens"),
        "generated_tokens": mean("generated_tokens"),
        "unread_tokens": mean("unread_tokens"),
        "requests": mean("requests"),
        "wall_seconds": mean("wall_seconds"),
        "max_wall_seconds": max((float(r["wall_seconds"]) for r in results), default=0.0),
        "run_seconds": wall,
    }


class _Recorder:
    """The `TraceSink` of one episode: the journal, and the episode's clock
    (which a resumed episode starts where its last journaled request left it)."""

    def __init__(self, journal: InferJournal, q: int, seed: int, offset: float) -> None:
        self.journal = journal
        self.q = q
        self.seed = seed
        self._t0 = time.monotonic() - offset
        self.traces: EpisodeTraces | None = None

    def clock(self) -> float:
        return time.monotonic() - self._t0

    def chunk(self, branch: int, trace_seed: int, chunk: Chunk, seconds: float) -> None:
        self.journal.add_chunk(
            self.q, self.seed, branch, trace_seed, chunk, seconds=seconds, elapsed=self.clock()
        )

    def probe(self, branch: int, probe: ProbeRecord, seconds: float) -> None:
        self.journal.add_probe(
            self.q, self.seed, branch, probe, seconds=seconds, elapsed=self.clock()
        )

    def closed(self) -> bool:
        return self.traces is not None and self.traces.closed


class _AbortingServer(ModelServer):
    """The model, refusing new requests once the run is stopping."""

    def __init__(self, inner: ModelServer, abort: threading.Event) -> None:
        super().__init__(inner.client, inner.model)
        self._abort = abort

    def trace(self, *args: Any, **kwargs: Any) -> Any:
        if self._abort.is_set():
            raise Aborted
        return super().trace(*args, **kwargs)

    def probes(self, *args: Any, **kwargs: Any) -> Any:
        if self._abort.is_set():
            raise Aborted
        return super().probes(*args, **kwargs)


class Inference:
    def __init__(
        self,
        server: ModelServer,
        settings: InferSettings,
        questions: Sequence[QuestionItem],
        program: Compiled,
        rule: Rule,
        journal: InferJournal,
        *,
        mode: TokenMode,
        label: str = "",
    ) -> None:
        self.settings = settings
        self.questions = list(questions)
        self.program = program
        self.rule = rule
        self.journal = journal
        self.mode = mode
        self.label = label or f"live/{settings.model}"
        self.abort = threading.Event()
        self.server = _AbortingServer(server, self.abort)
        self.main = MainThread()
        self.interners = [OnlineInterner(rule, self.main.call) for _ in self.questions]
        self.gate = threading.BoundedSemaphore(max(1, settings.concurrency))
        self.setups: list[TraceSetup] = []

    # -- preparation ------------------------------------------------------------

    def prepare(self) -> None:
        """Prompts, probe suffix and marker in the model's tokens (ids mode)."""
        s = self.settings
        texts = [
            prompts.build_prompt(
                q.text, prompt_template=s.prompt_template, chat_template=s.chat_template
            )
            for q in self.questions
        ]
        suffix: Prompt
        marker: list[int] | str
        if self.mode == "ids":
            tok = self.server.tokenize
            prompt_list: list[Prompt] = [tok(t, add_special_tokens=True) for t in texts]
            suffix = tok(s.probe_suffix, add_special_tokens=False)
            marker = tok(s.marker, add_special_tokens=False) if s.marker else []
        else:
            prompt_list = list(texts)
            suffix = s.probe_suffix
            marker = s.marker
        self.setups = [
            TraceSetup(
                server=self.server,
                mode=self.mode,
                prompt=p,
                suffix=suffix,
                suffix_text=s.probe_suffix,
                marker=marker,
                interval=s.interval,
                sampling=s.sampling,
                probe_max_tokens=s.probe_max_tokens,
                gate=self.gate,
            )
            for p in prompt_list
        ]

    # -- one episode (on an episode thread) --------------------------------------

    def _episode(
        self, q: int, seed: int, pool: ThreadPoolExecutor | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        s = self.settings
        rows = self.journal.episode(q, seed)
        resumed = bool(rows.chunks or rows.probes)
        rec = _Recorder(self.journal, q, seed, rows.elapsed)
        traces = EpisodeTraces(self.setups[q], seed, s.branches, s.seed_base, rec, pool)
        rec.traces = traces
        for branch in sorted(set(rows.chunks) | set(rows.probes)):
            try:
                traces.trace(branch).restore(
                    rows.chunks.get(branch, []), rows.probes.get(branch, [])
                )
            except ValueError as exc:
                raise InferError(f"{self.journal.path}: question {q}, seed {seed}: {exc}") from None
        interner = self.interners[q]
        ep = LiveEpisode(traces, interval=s.interval, intern=interner, clock=rec.clock)
        events: list[dict[str, Any]] = []
        try:
            run_episode(self.program, ep, events, lookahead(ep) if s.speculate else None)
        except RuntimeFault as fault:
            raise EpisodeFault(
                fault.message, fault.span, self.program.path, self.label, q, seed
            ) from None
        finally:
            traces.close()
        texts = [*interner.texts]  # ids -> strings, for the events
        result = self._result(q, seed, ep, traces, resumed, interner)
        plain = [with_answer_texts(e, texts) for e in events]
        self.journal.finish_episode(q, seed, result, plain)
        return result, plain

    def _result(
        self,
        q: int,
        seed: int,
        ep: LiveEpisode,
        traces: EpisodeTraces,
        resumed: bool,
        interner: OnlineInterner,
    ) -> dict[str, Any]:
        item = self.questions[q]
        answer = None if ep.answer == NO_ANSWER else interner.text(ep.answer)
        correct = same_answer(self.rule, item.gold, answer, self.main.call) if item.gold else None
        spend = self.journal.spend(q, seed)
        read = sum(traces.trace(i).covered(ep.reads[i], ep.finished[i]) for i in range(ep.opened))
        wall = ep.answered_at if ep.answered_at is not None else 0.0
        return {
            "question": q,
            "id": item.ident,
            "seed": seed,
            "answer": answer,
            "gold": item.gold or None,
            "correct": correct,
            "tokens": ep.cost,
            "seq_tokens": ep.seq_cost,
            "opened": ep.opened,
            "reads": ep.total_reads,
            "generated_tokens": spend.trace_tokens + spend.probe_tokens,
            "trace_tokens": spend.trace_tokens,
            "unread_tokens": spend.trace_tokens - read,
            "probe_tokens": spend.probe_tokens,
            "probes": spend.probe_requests,
            "unread_probes": spend.probe_requests - ep.probe_reads,
            "requests": spend.requests,
            "prompt_tokens": spend.prompt_tokens,
            "wall_seconds": round(wall, 3),
            "resumed": resumed,
        }

    # -- the run (main thread) ----------------------------------------------------

    def run(self, seeds: Sequence[int], progress: ProgressFn | None = None) -> InferRun:
        if len(set(seeds)) != len(seeds):
            # one journal row per (question, seed): a repeated seed would be the same episode
            raise ValueError(f"repeated seeds: {list(seeds)}")
        if not self.setups:
            self.prepare()
        started = time.monotonic()
        n_q = len(self.questions)
        done = self.journal.finished()
        order = [(q, s) for s in seeds for q in range(n_q)]
        todo = [key for key in order if key not in done]
        state = Progress(episodes_total=len(order), episodes_done=len(order) - len(todo))
        if progress:
            progress(state)
        s = self.settings
        episodes = ThreadPoolExecutor(max_workers=max(1, s.parallel), thread_name_prefix="episode")
        pool = (
            ThreadPoolExecutor(max_workers=max(1, s.concurrency), thread_name_prefix="prefetch")
            if s.speculate
            else None
        )
        pending: dict[Future[Any], tuple[int, int]] = {
            episodes.submit(self._episode, q, seed, pool): (q, seed) for q, seed in todo
        }
        fresh: dict[tuple[int, int], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        failure: BaseException | None = None
        clean = False
        try:
            while pending:
                self.main.serve(0.02)
                finished, _ = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
                for fut in finished:
                    key = pending.pop(fut)
                    try:
                        fresh[key] = fut.result()
                    except Aborted:
                        continue
                    except BaseException as exc:  # reported below; the first one wins
                        if failure is None:
                            failure = exc
                            self.abort.set()
                            for other in pending:
                                other.cancel()
                        continue
                    state.episodes_done += 1
                if progress:
                    state.requests = self.server.client.stats.ok
                    progress(state)
                pending = {f: k for f, k in pending.items() if not f.cancelled()}
            clean = True
        finally:
            if not clean:  # interrupted: stop every episode at its next request
                self.abort.set()
            episodes.shutdown(wait=clean, cancel_futures=True)
            if pool is not None:
                pool.shutdown(wait=clean, cancel_futures=True)
        if failure is not None:
            if isinstance(failure, EpisodeFault):
                raise failure
            if isinstance(failure, ServerError | InferError):
                raise InferError(
                    f"{failure}; everything received so far is kept in {self.journal.path}, "
                    "re-run to resume"
                ) from None
            raise failure
        merged = {**done, **fresh}
        results = [merged[key][0] for key in order]
        events = [merged[key][1] for key in order]
        return InferRun(
            results=results,
            events=events,
            resumed_episodes=sum(1 for r in results if r["resumed"]),
            journal_spend=self.journal.total_spend(),
            wall_seconds=time.monotonic() - started,
        )

    # -- output ---------------------------------------------------------------------

    def trace_lines(self, run: InferRun, level: TraceLevel) -> list[str]:
        """The execution traces in `run --trace`'s layout, one line per episode."""
        return [
            dumps(
                episode_record(
                    store=self.label,
                    seed=r["seed"],
                    question=r["question"],
                    answer=r["answer"],
                    correct=bool(r["correct"]) if r["correct"] is not None else None,  # type: ignore[arg-type]
                    cost=r["tokens"],
                    seq_cost=r["seq_tokens"],
                    events=ev,
                    level=level,
                    vocab=(),
                )
            )
            for r, ev in zip(run.results, run.events, strict=True)
        ]


# -- one call: what `tts-dsl infer` does ------------------------------------------


def journal_path_for(out: str) -> str:
    return str(out) + ".journal"


def result_lines(run: InferRun) -> list[str]:
    return [dumps({k: r[k] for k in RESULT_KEYS}) for r in run.results]


def infer_questions(
    server: ModelServer,
    settings: InferSettings,
    questions: Sequence[QuestionItem],
    program: Compiled,
    rule: Rule,
    *,
    seeds: Sequence[int],
    journal_path: str,
    program_id: str,
    tokens: str = "auto",
    progress: ProgressFn | None = None,
) -> tuple[Inference, InferRun]:
    """Check the model, pick the token mode, open (or resume) the journal and
    run every episode. The journal stays open on the returned `Inference`
    (for `record_store`); close it with `inference.journal.close()`."""
    from .collector import resolve_mode

    server.check_model()
    mode = resolve_mode(server, tokens)
    journal = InferJournal(
        journal_path,
        settings.journal_settings(
            program=program_id,
            beta=program.beta,
            params=program.params,
            questions=questions,
            mode=mode,
            equivalence=rule.name,
        ),
    )
    inference = Inference(server, settings, questions, program, rule, journal, mode=mode)
    try:
        inference.prepare()
        run = inference.run(seeds, progress)
    except BaseException:
        journal.close()
        raise
    return inference, run
