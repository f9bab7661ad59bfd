"""The search loop.

Round 0 evaluates the seed programs. Each later round: build the prompt
(LLM proposers) → get proposals → apply edits → check → repair → record the
round's candidates → evaluate them on the β grid over the search stores →
record every cell → score and update the archive. After the last round the
best program by the objective is the final pick; with held-out stores it is
evaluated there (with CMC and SC@64 beside it), and only then.

Every step is recorded in the history as it completes, and every decision
is a function of what is recorded (the offline proposer's randomness is
seeded per round), so after a kill `--resume` continues the unfinished
round: recorded slots are not proposed again, recorded calls are not sent
again, recorded cells are not evaluated again.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..interpreter import ProgramRunner
from ..parser import parse
from ..replay.store import ReplayStore
from ..sweep.cache import CellMetrics, ResultCache
from .archive import select_parents
from .config import SearchConfig
from .evaluate import Candidate, evaluate, load_store
from .heldout import evaluate_heldout
from .history import History
from .llm import LLMProposer
from .objective import parse_objective
from .offline import OfflineProposer, Proposed, Rejection
from .prompt import build_prompt
from .sources import read_seed
from .traces import diagnostic_excerpts
from .verify import explain_text, verify
from .view import SearchState, search_state, search_view

CACHE_FILE = "cache.sqlite"
TRACE_SEEDS = 2
TRACE_STORES = 2


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


@dataclass
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
        head += f", {self.cells} cells"
        if self.runtime_errors:
            head += f", {self.runtime_errors} run-time error(s)"
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
    ) -> None:
        self.out = out_dir
        self.history = history
        self.config = config
        self.reporter: Reporter = reporter or SilentReporter()
        self.jobs = jobs
        self.objective = parse_objective(config.objective)
        self.llm = llm
        self.offline = OfflineProposer(config.random_seed)
        self._stores: dict[str, ReplayStore] = {}

    # -- shared helpers --------------------------------------------------------

    def state(self) -> SearchState:
        return search_state(self.history, self.objective, len(self.config.betas))

    def _store(self, spec: str) -> ReplayStore:
        if spec not in self._stores:
            self._stores[spec] = load_store(spec)
        return self._stores[spec]

    def _record_cell(
        self, pid: int, beta: float, store: str, m: CellMetrics | None, err: str
    ) -> None:
        if m is not None:
            self.history.add_result(pid, beta, store, m)
        else:
            self.history.add_failure(pid, beta, store, err)

    def _evaluate_round(self, round_no: int) -> int:
        cands = [
            Candidate(c.program_id, self.history.program(c.program_id).source, f"p{c.program_id}")
            for c in self.history.candidates(round_no)
            if c.status == "new" and c.program_id is not None
        ]
        skip = self.history.result_cells() | self.history.failure_cells()
        with ResultCache(self.out / CACHE_FILE) as cache:
            stats = evaluate(
                cands,
                self.config.betas,
                self.history.stores("search"),
                self.config.seeds,
                cache,
                self._record_cell,
                skip=skip,
                jobs=self.jobs,
                on_progress=self.reporter.progress,
            )
        return stats.total

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

    # -- round 0: the seeds ------------------------------------------------------

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
            for slot, spec in enumerate(self.config.seed_programs):
                if slot in have:
                    continue
                source, shown = read_seed(spec)
                verdict = verify(source, shown)
                if not verdict.ok:
                    raise SeedError(f"seed {spec} does not check:\n{verdict.diagnostics}")
                name = verdict.program.name if verdict.program else spec
                proposed = Proposed(slot, source, verdict.hash, name, (), f"seed: {shown}")
                self._record_slot(0, slot, "seed", proposed, [], "new")
            self.history.set_round_status(0, "evaluating")
        cells = self._evaluate_round(0)
        self._finish_round(0, started, cells)

    # -- later rounds --------------------------------------------------------------

    def _prompt(self, round_no: int, state: SearchState) -> str:
        """The round's prompt (built from search-store results only)."""
        view = search_view(self.history, state, self.config.betas)
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
        prompt = build_prompt(
            view,
            self.objective,
            parent,
            explain_text=explain,
            traces_text=traces,
            max_chars=self.config.max_prompt_chars,
            grammar=self.config.grammar,
        )
        return prompt

    def first_prompt(self) -> str:
        """The prompt of the next round to propose (for `--dry-run`)."""
        done = [r.round for r in self.history.rounds() if r.status == "done"]
        return self._prompt(max(done, default=0) + 1, self.state())

    def _propose_offline(self, round_no: int, state: SearchState) -> None:
        seen = {p.hash for p in self.history.programs()}
        accepted, rejected = self.offline.propose(
            round_no, state.archive, self.config.candidates, seen
        )
        by_slot = {p.slot: p for p in accepted}
        with self.history.tx():
            for slot in range(self.config.candidates):
                mine = [r for r in rejected if r.slot == slot]
                got = by_slot.get(slot)
                status = "new" if got else "rejected"
                note = "" if got else "no check-clean new mutant found"
                self._record_slot(round_no, slot, "offline", got, mine, status, note)

    def _propose_llm(self, round_no: int, state: SearchState, prompt: str) -> bool:
        """Run the round's open slots; False when the budget ran out."""
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
                    return False
                continue  # recorded before an interruption
            parent = picks[slot].program.label if picks else main
            if parent not in shown or f"## {parent}:" not in prompt:
                parent = main
            note = self._slot_note(round_no, slot, parent, state)
            self.reporter.phase(round_no, f"proposal {slot + 1}/{self.config.candidates}")
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
                return False
            status = "new" if res.status == "accepted" else "rejected"
            self._record_slot(
                round_no, slot, self.config.proposer, res.proposed, res.rejections, status, res.note
            )
        return True

    def _slot_note(self, round_no: int, slot: int, parent: str | None, state: SearchState) -> str:
        lines = [
            f"# This proposal\n\nProposal {slot + 1} of {self.config.candidates} "
            f"in round {round_no}."
        ]
        if parent:
            score = next((s.objective for s in state.archive if s.program.label == parent), None)
            tail = f" (score {score:.2f})" if score is not None else ""
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

    def _round(self, round_no: int) -> bool:
        """Run (or finish) one round; False when the search must stop."""
        row = self.history.round(round_no)
        if row is not None and row.status == "done":
            return True  # the next round's own budget check decides whether to go on
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
                self._propose_llm(round_no, state, row.prompt)
            self.history.set_round_status(round_no, "evaluating")
        self.reporter.phase(round_no, "evaluating")
        cells = self._evaluate_round(round_no)
        summary = self._finish_round(round_no, started, cells)
        return not summary.budget_hit

    def _finish_round(self, round_no: int, started: float, cells: int) -> RoundSummary:
        self.history.add_wall(round_no, time.perf_counter() - started)
        state = self.state()
        cands = self.history.candidates(round_no)
        rejected = self.history.rejected(round_no)
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
        s.runtime_errors = sum(1 for pid in new_ids if pid in state.failed)
        new_scored = [x for x in state.scored if x.id in new_ids]
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
        if self.llm is not None:
            lost = self.llm.recover_lost()
            if lost:
                self.reporter.note(f"{lost} call(s) were in flight when the search stopped")
        self.evaluate_seeds()
        for round_no in range(1, self.config.rounds + 1):
            if not self._round(round_no):
                break
        return self.finish()

    def finish(self) -> int | None:
        state = self.state()
        if state.best is None:
            return None
        self.history.set_final(state.best.id, state.best.objective)
        if self.history.stores("heldout"):
            self.reporter.phase(self.config.rounds, "evaluating the final pick on held-out stores")
            evaluate_heldout(
                self.history,
                self.config,
                self.out,
                state.best.id,
                jobs=self.jobs,
                on_progress=self.reporter.progress,
            )
        return state.best.id
