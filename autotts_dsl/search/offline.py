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
from collections.abc import Sequence
from dataclasses import dataclass

from .. import ast
from ..fmt import format_program
from ..parser import parse
from .archive import Scored, select_parents
from .mutate import mutate
from .verify import verify

MAX_TRIES_PER_SLOT = 30


@dataclass(frozen=True)
class Proposed:
    slot: int
    source: str
    hash: str
    name: str
    parents: tuple[int, ...]
    rationale: str


@dataclass(frozen=True)
class Rejection:
    slot: int
    attempt: int
    kind: str
    source: str
    diagnostics: str
    codes: tuple[str, ...]


class OfflineProposer:
    def __init__(self, random_seed: int) -> None:
        self.random_seed = random_seed
        self._parsed: dict[int, ast.Program] = {}

    def _program(self, s: Scored) -> ast.Program:
        if s.id not in self._parsed:
            self._parsed[s.id] = parse(s.program.source, s.program.label)
        return self._parsed[s.id]

    def propose(
        self, round_no: int, archive: Sequence[Scored], k: int, seen: set[str]
    ) -> tuple[list[Proposed], list[Rejection]]:
        """Up to `k` check-clean mutants none of whose hashes is in `seen`."""
        rng = random.Random(f"tts-dsl offline proposer:{self.random_seed}:{round_no}")
        seen = set(seen)
        accepted: list[Proposed] = []
        rejected: list[Rejection] = []
        if not archive:
            return accepted, rejected
        for slot in range(k):
            for attempt in range(MAX_TRIES_PER_SLOT):
                parent = select_parents(archive, 1, rng)[0]
                others = [s for s in archive if s.id != parent.id]
                donor = rng.choice(others) if others and rng.random() < 0.35 else None
                got = mutate(self._program(parent), rng, self._program(donor) if donor else None)
                if got is None:
                    continue
                child, change = got.program, got.change
                if rng.random() < 0.25:  # sometimes a second, independent step
                    again = mutate(child, rng, None)
                    if again is not None:
                        child, change = again.program, f"{change}; {again.change}"
                source = format_program(child)
                verdict = verify(source, f"<offline r{round_no}.{slot}>")
                if not verdict.ok:
                    rejected.append(
                        Rejection(
                            slot, attempt, "check", source, verdict.diagnostics, verdict.codes
                        )
                    )
                    continue
                if verdict.hash in seen:
                    continue
                seen.add(verdict.hash)
                parents = (parent.id,) + ((donor.id,) if donor and got.used_donor else ())
                accepted.append(Proposed(slot, source, verdict.hash, child.name, parents, change))
                break
        return accepted, rejected
