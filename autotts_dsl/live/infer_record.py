"""`tts-dsl infer --record STORE`: the traces an inference run paid for, as
replay data in `collect`'s layout (storefile.py), so later sweeps and
searches can replay them.

A store branch is a whole trace with every probe of the collection rule:
its probe answers, its length and its final answer. So the store holds the
journaled traces that were sampled to their end, one per (question, trace
seed) — two episodes of a question can open the same trace seed, and on a
deterministic server sample the same trace. A trace read to its end by
probe reads already has all its probes; one opened by `read_full` has none,
and recording asks for them (journaled like every request, counted apart
from the episodes' costs). Traces cut short (pruned, or still running when
the episode answered) have no length or final answer and stay in the
journal only. Branches are in trace-seed order; the metadata lists each
question's trace seeds.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import __version__
from ..records import record
from . import answers, segments
from .infer import Inference
from .infer_journal import TraceRows
from .live_trace import Chunk, LiveTrace, ProbeRecord
from .storefile import intern_record, question_record, write_store


class _RecordSink:
    """Probes asked while recording: journaled, attributed to no read."""

    def __init__(self, inference: Inference, q: int, seed: int) -> None:
        self.journal = inference.journal
        self.q = q
        self.seed = seed

    def chunk(self, branch: int, trace_seed: int, chunk: Chunk, seconds: float) -> None:
        raise AssertionError("recording never samples")  # pragma: no cover

    def probe(self, branch: int, probe: ProbeRecord, seconds: float) -> None:
        self.journal.add_probe(
            self.q, self.seed, branch, probe, seconds=seconds, elapsed=0.0, kind="record_probe"
        )

    def closed(self) -> bool:
        return False


@record
class Recorded:
    path: str
    meta: dict[str, Any]
    traces: int
    probe_requests: int  # asked while recording (traces opened by read_full)
    skipped_questions: tuple[int, ...]  # no trace of theirs was sampled to its end


def _complete(rows: TraceRows) -> bool:
    start = 0
    for c in rows.chunks:
        if c.start != start:
            return False
        start += len(c.tokens)
    return bool(rows.chunks) and rows.chunks[-1].ended


def record_store(inference: Inference, out: str, *, server_url: str) -> Recorded:
    """Write the store (and its `.meta`) from the inference's journal."""
    if not inference.setups:
        inference.prepare()
    s = inference.settings
    chosen: dict[int, dict[int, TraceRows]] = {}
    for rows in inference.journal.traces():
        if _complete(rows):
            chosen.setdefault(rows.q, {}).setdefault(rows.trace_seed, rows)
    live: list[tuple[int, int, LiveTrace]] = []
    todo: list[tuple[LiveTrace, int, int]] = []
    for q in sorted(chosen):
        for ts in sorted(chosen[q]):
            rows = chosen[q][ts]
            trace = LiveTrace(
                inference.setups[q], rows.branch, ts, _RecordSink(inference, q, rows.seed)
            )
            trace.restore(rows.chunks, list(rows.probes.values()))
            r = trace.reasoning if trace.reasoning is not None else trace.length
            for k, prefix in enumerate(segments.probe_prefixes(r, s.interval)):
                have = trace.probes.get(k)
                if have is None:
                    todo.append((trace, k, prefix))
                elif have.prefix != prefix:
                    raise ValueError(
                        f"{inference.journal.path}: question {q}, trace seed {ts}: probe {k} "
                        f"was asked after {have.prefix} tokens, the rule says {prefix}"
                    )
            live.append((q, ts, trace))
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, s.concurrency)) as pool:
            for fut in [pool.submit(t.probe, k, prefix) for t, k, prefix in todo]:
                fut.result()
    records: list[dict[str, Any]] = []
    merged = 0
    seeds: dict[str, list[int]] = {}
    for q in sorted(chosen):
        item = inference.questions[q]
        branches = []
        for qq, _, trace in live:
            if qq != q:
                continue
            r = trace.reasoning if trace.reasoning is not None else trace.length
            n = len(segments.probe_prefixes(r, s.interval))
            probes = [trace.probes[k].answer for k in range(n)]
            branches.append((probes, trace.length, trace.final_answer()))
        rec, m = intern_record(
            inference.rule, question_record(item.text, item.gold, s.interval, branches)
        )  # math-verify: this runs on the main thread
        merged += m
        records.append(rec)
        seeds[str(q)] = sorted(chosen[q])
    skipped = tuple(q for q in range(len(inference.questions)) if q not in chosen)
    if not records:
        raise ValueError(
            f"--record {out}: no trace was sampled to its end; nothing to record "
            "(the journal keeps the partial traces)"
        )
    meta = {
        "tool": f"tts-dsl {__version__}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": "tts-dsl infer --record",
        "program": inference.program.path,
        "beta": inference.program.beta,
        "model": s.model,
        "server": server_url,
        "interval": s.interval,
        "seeds": "branches in trace-seed order; trace_seeds lists them per question",
        "trace_seeds": seeds,
        "question_index": [q for q in sorted(chosen)],
        "generation": f"continuations of up to {s.interval}-token pieces as the program read them",
        "sampling": s.sampling.as_dict(),
        "prompt_template": s.prompt_template,
        "chat_template": s.chat_template_name or s.chat_template,
        "probe": {"suffix": s.probe_suffix, "max_tokens": s.probe_max_tokens, "temperature": 0.0},
        "tokens": inference.mode,
        "reasoning_marker": s.marker,
        "collection_rule": segments.RULE,
        "extraction_rule": answers.RULE,
        "equivalence": {**inference.rule.describe(), "merged_strings": merged},
        "cost": inference.journal.total_spend(),
    }
    written = write_store(out, records, meta)
    return Recorded(out, written, len(live), len(todo), skipped)
