"""The offline proposer: no LLM, $0, deterministic per `--random-seed`.

Per slot it draws a parent from the archive (binary tournament), applies a
random typed mutation (`mutate.py`; crossover takes a second archive member
as donor), prints the result with the canonical formatter and sends it
through the same checker as an LLM proposal. Mutants with errors are
returned as rejections (with their diagnostics); mutants identical to a
program already seen are skipped silently. The random stream is a function
of (random seed, round) only, so a round proposes the same candidates
whether it runs straight through or after a `--resume`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .. import ast
from ..fmt import format_program
from ..parser import parse
from ..programs import STDLIB_DIR, stdlib_names
from ..records import record
from .archive import Scored, select_parents
from .mutate import mutate
from .tuner import TunerContext, apply, next_vectors
from .verify import verify

Gate = Callable[[str, str, ast.Program | None], "tuple[str, str, tuple[str, ...]] | None"]
"""The search's gate after the checker (caps): (source, path, parsed program)
-> None, or (kind, diagnostics, codes)."""

MAX_TRIES_PER_SLOT = 30


@record
class Proposed:
    slot: int
    source: str
    hash: str
    name: str
    parents: tuple[int, ...]
    rationale: str
    tuned: tuple[int, tuple[float, ...]] | None = None
    """(target id, z) when the schedule tuner proposed it."""


@record
class Rejection:
    slot: int
    attempt: int
    kind: str
    source: str
    diagnostics: str
    codes: tuple[str, ...]


def _stdlib_programs() -> list[ast.Program]:
    """Rule templates: every stdlib controller, a donor for crossover."""
    out = []
    for name in stdlib_names():
        path = STDLIB_DIR / f"{name}.tts"
        out.append(parse(path.read_text(encoding="utf-8"), str(path)))
    return out


class OfflineProposer:
    def __init__(self, random_seed: int) -> None:
        self.random_seed = random_seed
        self._parsed: dict[int, ast.Program] = {}
        self._stdlib: list[ast.Program] | None = None
        self.tuned_slots: list[tuple[int, tuple[float, ...]]] = []
        """(slot, z) of the last `propose`'s tuner slots, accepted or not."""

    def _templates(self) -> list[ast.Program]:
        if self._stdlib is None:
            self._stdlib = _stdlib_programs()
        return self._stdlib

    def _check(
        self, source: str, path: str, slot: int, attempt: int, gate: Gate | None
    ) -> tuple[str | None, Rejection | None]:
        """(hash, None) when the mutant passes the checker and the gate."""
        verdict = verify(source, path)
        if not verdict.ok:
            return None, Rejection(
                slot, attempt, "check", source, verdict.diagnostics, verdict.codes
            )
        if gate is not None:
            bad = gate(source, path, verdict.program)
            if bad is not None:
                return None, Rejection(slot, attempt, bad[0], source, bad[1], bad[2])
        return verdict.hash, None

    def _tuned(
        self, round_no: int, tuner: TunerContext, seen: set[str], gate: Gate | None
    ) -> tuple[list[Proposed], list[Rejection], list[tuple[int, tuple[float, ...]]]]:
        target = tuner.target
        base = self._program(target)
        seed = (self.random_seed * 1_000_003 + target.id) % (2**31)
        accepted: list[Proposed] = []
        rejected: list[Rejection] = []
        used: list[tuple[int, tuple[float, ...]]] = []
        for slot, z in enumerate(next_vectors(tuner, seed)):
            used.append((slot, z))
            child = apply(base, z)
            source = format_program(child)
            digest, why = self._check(source, f"<tuner r{round_no}.{slot}>", slot, 0, gate)
            if why is not None:
                rejected.append(why)
                continue
            if digest is None or digest in seen:
                continue
            seen.add(digest)
            change = "schedule tuned by CMA-ES: " + ", ".join(f"{v:+.2f}" for v in z)
            accepted.append(
                Proposed(slot, source, digest, child.name, (target.id,), change, (target.id, z))
            )
        return accepted, rejected, used

    def _program(self, s: Scored) -> ast.Program:
        if s.id not in self._parsed:
            self._parsed[s.id] = parse(s.program.source, s.program.label)
        return self._parsed[s.id]

    def propose(
        self,
        round_no: int,
        archive: Sequence[Scored],
        k: int,
        seen: set[str],
        *,
        gate: Gate | None = None,
        tuner: TunerContext | None = None,
    ) -> tuple[list[Proposed], list[Rejection]]:
        """Up to `k` check-clean mutants none of whose hashes is in `seen`:
        the first slots from the schedule tuner (`tuner`), the rest typed
        mutations and crossovers (donors: the archive and the stdlib)."""
        rng = random.Random(f"tts-dsl offline proposer:{self.random_seed}:{round_no}")
        seen = set(seen)
        accepted: list[Proposed] = []
        rejected: list[Rejection] = []
        if not archive:
            return accepted, rejected
        first = 0
        self.tuned_slots = []
        if tuner is not None and tuner.slots > 0:
            tuned, bad, used = self._tuned(round_no, tuner, seen, gate)
            accepted += tuned
            rejected += bad
            self.tuned_slots = used
            first = len(used)
        for slot in range(first, k):
            for attempt in range(MAX_TRIES_PER_SLOT):
                parent = select_parents(archive, 1, rng)[0]
                others = [s for s in archive if s.id != parent.id]
                donor: Scored | None = None
                template: ast.Program | None = None
                roll = rng.random()
                if others and roll < 0.25:
                    donor = rng.choice(others)
                elif roll < 0.4:
                    template = rng.choice(self._templates())
                donor_ast = self._program(donor) if donor else template
                got = mutate(self._program(parent), rng, donor_ast)
                if got is None:
                    continue
                child, change = got.program, got.change
                if rng.random() < 0.25:  # sometimes a second, independent step
                    again = mutate(child, rng, None)
                    if again is not None:
                        child, change = again.program, f"{change}; {again.change}"
                source = format_program(child)
                digest, why = self._check(
                    source, f"<offline r{round_no}.{slot}>", slot, attempt, gate
                )
                if why is not None:
                    rejected.append(why)
                    continue
                if digest is None or digest in seen:
                    continue
                seen.add(digest)
                if template is not None and got.used_donor:
                    change += f" (stdlib template {template.name})"
                parents = (parent.id,) + ((donor.id,) if donor and got.used_donor else ())
                accepted.append(Proposed(slot, source, digest, child.name, parents, change))
                break
        return accepted, rejected
