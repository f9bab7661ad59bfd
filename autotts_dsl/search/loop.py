"""The search loop.

Round 0 evaluates the seed programs, the reference and the baselines with
every seed. Each later round: build the prompt (LLM proposers) → proposals
→ apply edits → check → caps → (LLM: a one-cell smoke run) → repair →
record the round's candidates → screen them on the first seeds → promote
the best share that is not clearly worse than its parent → evaluate the
promoted ones on the remaining seeds → admit to the archive only a gain over
the parent larger than its uncertainty. After the last round the final pick
is, of the programs whose gain over the reference is larger than its
uncertainty and not clearly below the surest such gain, the one that changes
the least structure against the reference (else the reference); with
held-out stores it is evaluated there (with CMC and SC@64 beside it), and
only then.

Every step is recorded in the history as it completes, and every decision
is a function of what is recorded (the offline proposer's randomness is
seeded per round), so after a kill `--resume` continues the unfinished
round: recorded slots are not proposed again, recorded calls are not sent
again, recorded cells are not evaluated again.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import Counter
from dataclasses import asdict, field
from pathlib import Path
from typing import Any, Protocol

from .. import ast
from ..executor import Executor, make_executor
from ..interpreter import ProgramRunner
from ..parser import parse
from ..records import record
from ..replay.store import ReplayStore
from .archive import Scored, select_parents
from .caps import Caps, check_caps
from .cells import CellData, warm_up
from .config import BASELINES, SearchConfig
from .evaluate import Job, evaluate, load_store
from .heldout import evaluate_heldout
from .history import History
from .llm import LLMProposer
from .objective import parse_objective
from .offline import OfflineProposer, Proposed, Rejection
from .pick import final_pick
from .prompt import build_prompt
from .sources import read_seed
from .stats import Gain, paired_gain
from .traces import diagnostic_excerpts
from .verify import explain_text, verify
from .view import SearchState, parent_of, search_state, search_view

TRACE_SEEDS = 2
TRACE_STORES = 2
EVAL_ATTEMPT = 99
"""`rejected.attempt` of a rejection found by the evaluation (a timeout)."""


class SeedError(Exception):
    """A seed program cannot be read or does not check."""


class Reporter(Protocol):
    def note(self, text: str) -> None: ...

    def phase(self, round_no: int, text: str) -> None: ...

    def progress(self, done: int, total: int) -> None: ...

    def round_done(self, summary: RoundSummary) -> None: ...


class SilentReporter:
    def note(self, text: str) -> None:
        pass

    def phase(self, round_no: int, text: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass

    def round_done(self, summary: RoundSummary) -> None:
        pass


@record(frozen=False)
class RoundSummary:
    round: int
    rounds: int
    proposer: str
    slots: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed_slots: int = 0
    rejected: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    cells: int = 0
    runtime_errors: int = 0
    timeouts: int = 0
    screened: int = 0
    promoted: int = 0
    archived: int = 0
    degenerate: int = 0
    best_new: str = ""
    best_new_score: float | None = None
    best: str = ""
    best_score: float | None = None
    previous_best: float | None = None
    usd: float = 0.0
    usd_total: float = 0.0
    wall_seconds: float = 0.0
    budget_hit: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one-line round summary the CLI prints."""
        head = f"round {self.round}/{self.rounds}"
        if self.round == 0:
            head += f" (seeds): {self.accepted} programs"
        else:
            head += f" ({self.proposer}): {self.accepted}/{self.slots} accepted"
            extra = []
            if self.rejected:
                codes = ", ".join(f"{c}×{n}" for c, n in sorted(self.codes.items()))
                extra.append(f"{self.rejected} rejected" + (f" [{codes}]" if codes else ""))
            if self.duplicates:
                extra.append(f"{self.duplicates} duplicate")
            if extra:
                head += " (" + "; ".join(extra) + ")"
        if self.round > 0 and self.screened:
            head += f", {self.promoted}/{self.screened} promoted, {self.archived} archived"
        head += f", {self.cells} cells"
        if self.runtime_errors:
            head += f", {self.runtime_errors} run-time error(s)"
        if self.timeouts:
            head += f", {self.timeouts} timeout(s)"
        if self.degenerate:
            head += f", {self.degenerate} degenerate"
        if self.best_new and self.best_new_score is not None:
            head += f" · best new {self.best_new} {self.best_new_score:.2f}"
        if self.best and self.best_score is not None:
            gain = ""
            if self.previous_best is not None:
                gain = f" ({self.best_score - self.previous_best:+.2f})"
            head += f" · best {self.best} {self.best_score:.2f}{gain}"
        head += f" · ${self.usd:.4f} (total ${self.usd_total:.4f}) · {self.wall_seconds:.1f} s"
        if self.budget_hit:
            head += " · budget exhausted"
        return head


class Search:
    def __init__(
        self,
        out_dir: Path,
        history: History,
        config: SearchConfig,
        *,
        reporter: Reporter | None = None,
        jobs: int = 1,
        llm: LLMProposer | None = None,
        executor: Executor | None = None,
        backend: str | None = None,
    ) -> None:
        self.out = out_dir
        self.history = history
        self.config = config
        self.reporter: Reporter = reporter or SilentReporter()
        self.jobs = jobs
        self.objective = parse_objective(config.objective)
        self.llm = llm
        self.offline = OfflineProposer(config.random_seed)
        self.backend = backend
        self.caps = Caps(config.cap_rounds, config.cap_branches, config.cap_fuel, config.cap_window)
        self._executor = executor
        self._own_executor = executor is None
        self._stores: dict[str, ReplayStore] = {}
        self._started = time.perf_counter()
        if llm is not None:
            llm.gate = self.gate_llm

    # -- shared helpers --------------------------------------------------------

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(self.jobs, initializer=warm_up)
        return self._executor

    def close(self) -> None:
        if self._own_executor and self._executor is not None:
            self._executor.close()
            self._executor = None

    def state(self) -> SearchState:
        return search_state(self.history, self.config, self.objective)

    def _store(self, spec: str) -> ReplayStore:
        if spec not in self._stores:
            self._stores[spec] = load_store(spec)
        return self._stores[spec]

    def _store_branches(self) -> int:
        return max((s.n_branches for s in self.history.stores("search")), default=0)

    def gate(
        self, source: str, path: str, program: ast.Program | None = None
    ) -> tuple[str, str, tuple[str, ...]] | None:
        """The search's own gate after the checker: caps at every β.
        None when the program passes; else (kind, diagnostics, codes).
        `program`: the parsed text, when the caller has it already."""
        runner = ProgramRunner(program or parse(source, path), source, path)
        bad = check_caps(runner, self.config.betas, self.caps, self._store_branches())
        if bad is None:
            return None
        return "caps", bad.render(path, source), ("S002",)

    def gate_llm(
        self, source: str, path: str, program: ast.Program | None = None
    ) -> tuple[str, str, tuple[str, ...]] | None:
        """Caps, then one cheap cell (first store, middle β, one seed) under
        the smoke budget: an LLM proposal that hangs or faults is sent back
        with the diagnosis, like a checker error."""
        got = self.gate(source, path, program)
        if got is not None:
            return got
        stores = self.history.stores("search")
        if not stores:
            return None
        from .cells import CellTask, share_search_stores
        from .evaluate import Job, diagnose, evaluate_or_error
        from .watchdog import TIMEOUT_CODE

        mid = self.config.betas[len(self.config.betas) // 2]
        task = CellTask(
            source,
            path,
            mid,
            stores[0].spec,
            stores[0].content_hash,
            self.config.seeds[:1],
            self.backend,
        )
        budget = self.config.smoke_timeout
        share_search_stores(self.executor, [stores[0].spec])
        for res in self.executor.map_unordered(evaluate_or_error, [task], timeout=budget):
            if res.status == "ok" and isinstance(res.value, CellData):
                return None
            if res.status == "timeout":
                why = diagnose(self.executor, Job(0, source, path), task, budget)
                return "timeout", why.text, (TIMEOUT_CODE,)
            msg = res.value if isinstance(res.value, str) else res.error
            return "runtime", msg, ()
        return None

    def _jobs(self, pids: list[int]) -> list[Job]:
        return [Job(pid, self.history.program(pid).source, f"p{pid}") for pid in pids]

    def _eval(self, round_no: int, pids: list[int], seeds: tuple[int, ...]) -> int:
        if not pids or not seeds:
            return 0
        cands = {c.program_id: c for c in self.history.candidates(round_no)}

        def on_timeout(pid: int, why: str) -> None:
            c = cands.get(pid)
            if c is not None:
                prog = self.history.program(pid)
                self.history.add_rejected(
                    round_no, c.slot, EVAL_ATTEMPT, "timeout", prog.source, why, ("S001",)
                )
            self.reporter.note(f"p{pid} overran its budget: rejected\n{why}")

        stats = evaluate(
            self.history,
            self.executor,
            self._jobs(pids),
            self.config.betas,
            self.history.stores("search"),
            seeds,
            budget=self.config.cell_budget(len(seeds)),
            backend=self.backend,
            on_progress=self.reporter.progress,
            on_timeout=on_timeout,
        )
        return stats.computed

    def _record_slot(
        self,
        round_no: int,
        slot: int,
        proposer: str,
        proposed: Proposed | None,
        rejections: list[Rejection],
        status: str,
        note: str = "",
    ) -> None:
        """One transaction: the slot's rejections, its program and its candidate row."""
        with self.history.tx():
            for r in rejections:
                self.history.add_rejected(
                    round_no, r.slot, r.attempt, r.kind, r.source, r.diagnostics, r.codes
                )
            pid = None
            if proposed is not None:
                pid, new = self.history.add_program(
                    proposed.hash,
                    proposed.name,
                    proposed.source,
                    proposed.parents,
                    round_no,
                    slot,
                    proposer,
                    proposed.rationale,
                )
                status = "new" if new else "duplicate"
            self.history.set_candidate(round_no, slot, status, pid, note)

    # -- statistics --------------------------------------------------------------

    def _cells_of(self, pid: int, chunks: list[str]) -> dict[str, dict[float, CellData]] | None:
        from .archive import program_cells

        hashes = [s.content_hash for s in self.history.stores("search")]
        return program_cells(self.history.cells().get(pid, {}), hashes, self.config.betas, chunks)

    def gain(self, pid: int, other: int, level: str, state: SearchState) -> Gain | None:
        """`pid` against `other` (paired, bootstrap), recorded; None when
        either lacks the cells of that level."""
        have = self.history.stats().get((pid, other, level))
        if have is not None:
            return have
        from ..sweeps.grid import seeds_spec

        chunks = (
            [seeds_spec(self.config.chunks[0])]
            if level == "screen"
            else [seeds_spec(c) for c in self.config.chunks]
        )
        a, b = self._cells_of(pid, chunks), self._cells_of(other, chunks)
        if a is None or b is None:
            return None
        digest = hashlib.sha256(f"{self.config.random_seed}:{pid}:{other}:{level}".encode())
        g = paired_gain(
            a,
            b,
            self.objective,
            state.ctx,
            n_boot=self.config.bootstrap,
            seed=int.from_bytes(digest.digest()[:4], "little"),
            reference_is_b=other == state.reference_id,
        )
        self.history.set_stat(pid, other, level, g)
        return g

    # -- round 0: the seeds ------------------------------------------------------

    def _round0_programs(self) -> list[tuple[str, str]]:
        """(spec, role) of round 0: the seeds, the reference, the baselines."""
        out = [(spec, "seed") for spec in self.config.seed_programs]
        names = {s for s, _ in out}
        ref = self.config.reference
        if self.objective.needs_reference and ref not in names:
            out.append((ref, "reference"))
        out += [(b, "baseline") for b in BASELINES if b not in names and b != ref]
        return out

    def evaluate_seeds(self) -> None:
        """Round 0: record and evaluate the seed programs (once)."""
        row = self.history.round(0)
        if row is not None and row.status == "done":
            return
        started = time.perf_counter()
        self.reporter.phase(0, "evaluating the seed programs")
        if row is None:
            self.history.start_round(0, "")
        if row is None or row.status == "proposing":
            have = {c.slot for c in self.history.candidates(0)}
            for slot, (spec, role) in enumerate(self._round0_programs()):
                if slot in have:
                    continue
                source, shown = read_seed(spec)
                verdict = verify(source, shown)
                if not verdict.ok:
                    raise SeedError(f"seed {spec} does not check:\n{verdict.diagnostics}")
                name = verdict.program.name if verdict.program else spec
                proposed = Proposed(slot, source, verdict.hash, name, (), f"{role}: {shown}")
                self._record_slot(0, slot, role, proposed, [], "new")
                if spec == self.config.reference:
                    pid = self.history.program_by_hash(verdict.hash)
                    if pid is not None:
                        self.history.set_meta("reference_id", str(pid.id))
            self.history.set_round_status(0, "evaluating")
        pids = self._new_ids(0)
        cells = sum(self._eval(0, pids, chunk) for chunk in self.config.chunks)
        self._admit(0)
        self._finish_round(0, started, cells)

    def _new_ids(self, round_no: int) -> list[int]:
        return [
            c.program_id
            for c in self.history.candidates(round_no)
            if c.status == "new" and c.program_id is not None
        ]

    # -- later rounds --------------------------------------------------------------

    def _prompt(self, round_no: int, state: SearchState) -> str:
        """The round's prompt (built from search-store results only)."""
        view = search_view(self.history, state, self.config.betas, self.objective)
        parent = view.ranked[0] if view.ranked else None
        explain = traces = ""
        if parent is not None:
            explain = explain_text(parent.source, parent.label)
            runner = ProgramRunner(parse(parent.source, parent.label), parent.source, parent.label)
            stores = [self._store(s.spec) for s in state.stores[:TRACE_STORES]]
            mid = self.config.betas[len(self.config.betas) // 2]
            try:
                traces = diagnostic_excerpts(runner, stores, mid, self.config.seeds[:TRACE_SEEDS])
            except Exception as exc:  # traces are a hint; never let them stop a search
                traces = f"(no trace excerpts: {type(exc).__name__}: {exc})"
        return build_prompt(
            view,
            self.objective,
            parent,
            explain_text=explain,
            traces_text=traces,
            max_chars=self.config.max_prompt_chars,
            grammar=self.config.grammar,
            context=self._context_text(state, parent.label if parent else None),
        )

    def _context_text(self, state: SearchState, parent: str | None) -> str:
        from .context import context_text

        try:
            return context_text(
                self.history,
                state,
                self.config,
                self.objective,
                parent,
                [self._store(s.spec) for s in state.stores],
            )
        except Exception as exc:  # context is a hint; never let it stop a search
            return f"(no context: {type(exc).__name__}: {exc})"

    def first_prompt(self) -> str:
        """The prompt of the next round to propose (for `--dry-run`)."""
        done = [r.round for r in self.history.rounds() if r.status == "done"]
        return self._prompt(max(done, default=0) + 1, self.state())

    def _propose_offline(self, round_no: int, state: SearchState) -> None:
        seen = {p.hash for p in self.history.programs()}
        accepted, rejected = self.offline.propose(
            round_no,
            state.archive,
            self.config.candidates,
            seen,
            gate=self.gate,
            tuner=self._tuner_context(state),
        )
        by_slot = {p.slot: p for p in accepted}
        target = state.best.id if state.best is not None else 0
        with self.history.tx():
            for slot in range(self.config.candidates):
                mine = [r for r in rejected if r.slot == slot]
                got = by_slot.get(slot)
                status = "new" if got else "rejected"
                note = "" if got else "no check-clean new mutant found"
                self._record_slot(round_no, slot, "offline", got, mine, status, note)
            for slot, z in self.offline.tuned_slots:
                self.history.add_tuner_point(round_no, slot, target, z)

    def _tuner_context(self, state: SearchState) -> Any:
        from .tuner import TunerContext

        share = self.config.tune_share
        n = math.floor(self.config.candidates * share + 1e-9)
        target = state.best
        if n <= 0 or target is None:
            return None
        points = self.history.tuner_points()
        programs = self._tuned_ids()
        scores: dict[int, float] = {}
        for rnd, slot, tid, _z in points:
            pid = programs.get((rnd, slot))
            g = state.gains.get((pid, tid, "screen")) if pid is not None else None
            if g is not None and pid is not None:
                scores[pid] = g.gain
        return TunerContext(target, n, points, programs, scores)

    def _tuned_ids(self) -> dict[tuple[int, int], int | None]:
        """(round, slot) -> program id of each tuner proposal."""
        out: dict[tuple[int, int], int | None] = {}
        for c in self.history.candidates():
            out[(c.round, c.slot)] = c.program_id
        return out

    def _propose_llm(self, round_no: int, state: SearchState, prompt: str) -> str:
        """Run the round's open slots: "ok", "budget" or "backend" (the
        backend failed: the slot stays open for `--resume`)."""
        if self.llm is None:
            raise RuntimeError("no LLM proposer configured")
        shown = {s.program.label: s.program for s in state.archive}
        main = state.archive[0].program.label if state.archive else None
        rng = random.Random(f"tts-dsl llm parents:{self.config.random_seed}:{round_no}")
        picks = select_parents(state.archive, self.config.candidates, rng)
        done = {c.slot: c for c in self.history.candidates(round_no)}
        for slot in range(self.config.candidates):
            if slot in done:
                if done[slot].status == "budget":
                    return "budget"
                continue  # recorded before an interruption
            parent = picks[slot].program.label if picks else main
            if parent not in shown or f"## {parent}:" not in prompt:
                parent = main
            note = self._slot_note(round_no, slot, parent, state)
            self.reporter.phase(round_no, f"proposal {slot + 1}/{self.config.candidates}")
            self._workspace(round_no, slot, state, prompt + "\n" + note, parent)
            res = self.llm.run_slot(
                round_no,
                slot,
                prompt + "\n" + note,
                shown,
                parent,
                self.history.program_by_hash,
            )
            if res.status == "budget":
                self.reporter.note(f"round {round_no}: {res.note}")
                with self.history.tx():
                    for rest in range(slot, self.config.candidates):
                        self._record_slot(
                            round_no, rest, self.config.proposer, None, [], "budget", res.note
                        )
                return "budget"
            if res.status == "backend-error":
                self.reporter.note(
                    f"round {round_no}, proposal {slot + 1}: the backend failed ({res.note}); "
                    "the slot stays open: fix the backend and continue with --resume "
                    "(--base-url may change)"
                )
                return "backend"
            status = "new" if res.status == "accepted" else "rejected"
            self._record_slot(
                round_no, slot, self.config.proposer, res.proposed, res.rejections, status, res.note
            )
        return "ok"

    def _workspace(
        self, round_no: int, slot: int, state: SearchState, prompt: str, parent: str | None
    ) -> None:
        """`--workspace`: a fresh directory for the command of this slot."""
        if not self.config.workspace or self.llm is None:
            return
        from .backends import CommandBackend
        from .workspace import prepare

        backend = self.llm.backend
        if isinstance(backend, CommandBackend):
            root = self.out / "workspaces" / f"r{round_no}-s{slot}"
            backend.cwd = str(prepare(root, self.history, state, self.config, prompt, parent))

    def _slot_note(self, round_no: int, slot: int, parent: str | None, state: SearchState) -> str:
        lines = [
            f"# This proposal\n\nProposal {slot + 1} of {self.config.candidates} "
            f"in round {round_no}."
        ]
        if parent:
            score = next((s.objective for s in state.archive if s.program.label == parent), None)
            tail = f" (score {score:+.2f})" if score is not None else ""
            how = "" if self.config.grammar else f": `PARENT: {parent}` for edits"
            lines.append(f"Start from {parent}{tail}{how}.")
        earlier = [
            self.history.program(c.program_id)
            for c in self.history.candidates(round_no)
            if c.slot < slot and c.program_id is not None
        ]
        if earlier:
            lines.append("Earlier proposals of this round (take a different direction):")
            lines += [f"- {p.label}: {p.rationale[:200]}" for p in earlier]
        return "\n".join(lines)

    def _screen_and_promote(self, round_no: int) -> int:
        """Screen the round's new programs, decide who is promoted, evaluate
        those on the remaining seeds. Returns the cells computed."""
        pids = self._new_ids(round_no)
        chunks = self.config.chunks
        if len(chunks) == 1:
            return self._eval(round_no, pids, chunks[0])
        cells = self._eval(round_no, pids, chunks[0])
        promoted = self._promote(round_no, pids)
        return cells + self._eval(round_no, promoted, chunks[1])

    def _promote(self, round_no: int, pids: list[int]) -> list[int]:
        """Successive halving: the best `promote` share by screened gain over
        the parent, none clearly worse than it; decisions are recorded."""
        decisions = self.history.decisions()
        state = self.state()
        failed = self.history.failures()
        ranked: list[tuple[float, int, Gain]] = []
        for pid in pids:
            if pid in failed:
                continue
            known = decisions.get((pid, "screen"))
            prog = self.history.program(pid)
            parent = parent_of(prog, state)
            g = self.gain(pid, parent, "screen", state) if parent is not None else None
            if g is None:
                continue
            if known is not None:
                ranked.append((g.gain, pid, g))
                continue
            ranked.append((g.gain, pid, g))
        ranked.sort(key=lambda t: (-t[0], t[1]))
        quota = max(1, math.ceil(self.config.promote * len(ranked))) if ranked else 0
        promoted: list[int] = []
        for rank, (_gain, pid, g) in enumerate(ranked):
            known = decisions.get((pid, "screen"))
            if known is not None:
                if known.verdict == "promoted":
                    promoted.append(pid)
                continue
            parent = parent_of(self.history.program(pid), state)
            why = f"screen gain over p{parent}: {g.text(self.objective.unit)}"
            screen_cells = self._cells_of(pid, [self._screen_spec()])
            from .archive import degenerate_reason, protocol_curves

            bad = degenerate_reason(protocol_curves(screen_cells or {}), state.ctx.floors)
            if bad:
                self.history.set_decision(pid, "screen", "degenerate", bad)
            elif g.clearly_worse:
                self.history.set_decision(pid, "screen", "dropped", why + " (clearly worse)")
            elif rank >= quota:
                self.history.set_decision(pid, "screen", "dropped", why + " (not in the top share)")
            else:
                self.history.set_decision(pid, "screen", "promoted", why)
                promoted.append(pid)
        return promoted

    def _screen_spec(self) -> str:
        from ..sweeps.grid import seeds_spec

        return seeds_spec(self.config.chunks[0])

    def _admit(self, round_no: int) -> None:
        """Archive decisions for the round's fully evaluated programs: a gain
        over the parent larger than its uncertainty, and over the niche's
        elite when the niche is taken (MAP-Elites)."""
        state = self.state()
        decisions = self.history.decisions()
        niches = {f"{k[0]},{k[1]}": v for k, v in state.niches.items()}
        ref = state.reference_id
        verdicts: list[tuple[int, str, str]] = []
        for s in sorted(state.scored, key=lambda s: s.id):
            if s.program.round != round_no or (s.id, "archive") in decisions:
                continue
            if s.id in state.baselines:
                continue
            if ref is not None and s.id != ref:
                self.gain(s.id, ref, "full", state)
            key = f"{s.niche[0]},{s.niche[1]}"
            if s.program.round == 0:
                inc = niches.get(key)
                if inc is None or (state.score_of(inc) or -1e9) < s.objective:
                    niches[key] = s.id
                verdicts.append((s.id, "seed", f"niche {key}"))
                continue
            parent = parent_of(s.program, state)
            g = self.gain(s.id, parent, "full", state) if parent is not None else None
            if g is None or not g.significant:
                what = g.text(self.objective.unit) if g is not None else "unknown"
                verdicts.append(
                    (s.id, "out", f"gain over p{parent} {what} is not larger than its uncertainty")
                )
                continue
            inc = niches.get(key)
            if inc is None or inc == parent:
                niches[key] = s.id
                verdicts.append(
                    (s.id, "in", f"gain over p{parent} {g.text(self.objective.unit)}; niche {key}")
                )
                continue
            gi = self.gain(s.id, inc, "full", state)
            if gi is not None and gi.significant:
                niches[key] = s.id
                verdicts.append(
                    (
                        s.id,
                        "in",
                        f"gain over p{parent} {g.text(self.objective.unit)}; replaces p{inc} "
                        f"in niche {key} ({gi.text()})",
                    )
                )
            else:
                verdicts.append(
                    (
                        s.id,
                        "out",
                        f"gain over p{parent} {g.text(self.objective.unit)}, but not over "
                        f"p{inc}, the elite of niche {key}",
                    )
                )
        with self.history.tx():
            for pid, verdict, detail in verdicts:
                self.history.set_decision(pid, "archive", verdict, detail)
            self.history.set_meta("archive", json.dumps(niches, sort_keys=True))

    def _out_of_time(self) -> bool:
        limit = self.config.max_minutes
        if limit is None:
            return False
        spent = sum(r.wall_seconds for r in self.history.rounds())
        return spent >= limit * 60

    def _round(self, round_no: int) -> bool:
        """Run (or finish) one round; False when the search must stop."""
        row = self.history.round(round_no)
        if row is not None and row.status == "done":
            return True  # the next round's own checks decide whether to go on
        if row is None and self._out_of_time():
            self.reporter.note(f"time limit ({self.config.max_minutes:g} min) reached")
            return False
        started = time.perf_counter()
        state = self.state()
        if not state.archive:
            self.reporter.note("no program has complete results: nothing to mutate")
            return False
        if row is None:
            prompt = ""
            if self.llm is not None:
                self.reporter.phase(round_no, "building the prompt")
                prompt = self._prompt(round_no, state)
                if not self.llm.affordable(prompt):
                    self.reporter.note(
                        f"budget exhausted before round {round_no} (spent "
                        f"${self.llm.budget.spent_usd:.4f} of ${self.llm.budget.cap_usd})"
                    )
                    return False
            self.history.start_round(round_no, prompt)
            row = self.history.round(round_no)
        if row is not None and row.status == "proposing":
            self.reporter.phase(round_no, "proposing")
            if self.llm is None:
                self._propose_offline(round_no, state)
            else:
                got = self._propose_llm(round_no, state, row.prompt)
                if got == "backend":
                    self.history.add_wall(round_no, time.perf_counter() - started)
                    raise BackendDown(
                        f"round {round_no}: the LLM backend failed; nothing was lost: "
                        "continue with --resume (optionally with another --base-url)"
                    )
            self.history.set_round_status(round_no, "evaluating")
        self.reporter.phase(round_no, "evaluating")
        cells = self._screen_and_promote(round_no)
        self._admit(round_no)
        summary = self._finish_round(round_no, started, cells)
        return not summary.budget_hit

    def _finish_round(self, round_no: int, started: float, cells: int) -> RoundSummary:
        self.history.add_wall(round_no, time.perf_counter() - started)
        state = self.state()
        cands = self.history.candidates(round_no)
        rejected = self.history.rejected(round_no)
        decisions = self.history.decisions()
        prev = self.history.round(round_no - 1) if round_no > 0 else None
        s = RoundSummary(round_no, self.config.rounds, self.config.proposer)
        s.slots = len(cands)
        s.accepted = sum(1 for c in cands if c.status == "new")
        s.duplicates = sum(1 for c in cands if c.status == "duplicate")
        s.failed_slots = sum(1 for c in cands if c.status in ("rejected", "budget"))
        s.budget_hit = any(c.status == "budget" for c in cands)
        s.rejected = len(rejected)
        s.codes = dict(Counter(code for r in rejected for code in (r.codes[:1] or (r.kind,))))
        s.cells = cells
        new_ids = {c.program_id for c in cands if c.status == "new"}
        failures = self.history.failure_rows()
        s.runtime_errors = len(
            {f.program_id for f in failures if f.program_id in new_ids and f.kind == "error"}
        )
        s.timeouts = len(
            {
                f.program_id
                for f in failures
                if f.program_id in new_ids and f.kind in ("timeout", "died")
            }
        )
        ids = {pid for pid in new_ids if pid is not None}

        def verdict(pid: int, stage: str) -> str:
            d = decisions.get((pid, stage))
            return d.verdict if d is not None else ""

        s.screened = sum(1 for pid in ids if verdict(pid, "screen"))
        s.promoted = sum(1 for pid in ids if verdict(pid, "screen") == "promoted")
        s.archived = sum(1 for pid in ids if verdict(pid, "archive") in ("in", "seed"))
        s.degenerate = sum(
            1 for pid in ids if pid in state.degenerate or verdict(pid, "screen") == "degenerate"
        )
        new_scored = [x for x in state.scored if x.id in new_ids and x.id not in state.baselines]
        if new_scored:
            s.best_new, s.best_new_score = new_scored[0].program.label, new_scored[0].objective
        if state.best is not None:
            s.best, s.best_score = state.best.program.label, state.best.objective
        if prev is not None:
            s.previous_best = prev.summary.get("best_score")
        s.usd = self.history.spent_usd(round_no)
        s.usd_total = self.history.spent_usd()
        row = self.history.round(round_no)
        s.wall_seconds = row.wall_seconds if row else 0.0
        self.history.set_round_status(round_no, "done", s.to_json())
        self.reporter.round_done(s)
        return s

    # -- the whole search ------------------------------------------------------------

    def run(self) -> int | None:
        """Run every round not yet done, then the final pick (and held-out).
        Returns the final pick's program id (None when nothing scored)."""
        try:
            if self.llm is not None:
                lost = self.llm.recover_lost()
                if lost:
                    self.reporter.note(f"{lost} call(s) were in flight when the search stopped")
            self.evaluate_seeds()
            for round_no in range(1, self.config.rounds + 1):
                if not self._round(round_no):
                    break
            return self.finish()
        finally:
            self.close()

    def pick(self, state: SearchState) -> tuple[Scored | None, str]:
        """The final pick (`pick.final_pick`)."""
        return final_pick(state, self.history, self.objective.unit)

    def finish(self) -> int | None:
        state = self.state()
        # building the state reads every evaluated cell: seconds on a long run
        self.reporter.phase(self.config.rounds, "choosing the final pick")
        chosen, note = self.pick(state)
        if chosen is None:
            return None
        self.history.set_final(chosen.id, chosen.objective, note)
        if self.history.stores("heldout"):
            self.reporter.phase(self.config.rounds, "evaluating the final pick on held-out stores")
            evaluate_heldout(
                self.history,
                self.config,
                self.executor,
                chosen.id,
                on_progress=self.reporter.progress,
                backend=self.backend,
            )
        return chosen.id


class BackendDown(Exception):
    """The LLM backend failed after its retries; the round stays open."""
