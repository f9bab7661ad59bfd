"""The configuration of one search, stored in its history so `--resume`
continues under exactly the settings it started with."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import field
from typing import Any

from ..records import record

DEFAULT_SEEDS = ("cmc", "ibc", "scr", "dgcc", "asc", "esc")
DEFAULT_BETAS = "0,0.25,0.5,0.75,1"
DEFAULT_N_SEEDS = 100
"""Shuffle seeds of every reported number: the replay protocol's 100."""
DEFAULT_SCREEN_SEEDS = 10
"""Seeds of the cheap screen (the first ones of the full list)."""
BASELINES = ("sc",)
"""Evaluated on the search stores beside the seeds, for the prompt's context
(SC@k over the β grid); never parents."""
RESUMABLE = (
    "rounds",
    "budget_usd",
    "max_minutes",
    "base_url",
    "api_key_env",
    "timeout",
    "retries",
    "backoff",
)
"""Settings `--resume` may change: how long to go on, and how to reach the
LLM backend (an outage may need another URL). Everything that decides what
is evaluated stays as stored."""

PROPOSERS = ("offline", "openai", "anthropic", "command")
MIN_CELL_TIMEOUT = 20.0


@record
class SearchConfig:
    seed_programs: tuple[str, ...] = DEFAULT_SEEDS
    search_stores: tuple[str, ...] = ("default",)
    heldout_stores: tuple[str, ...] = ()
    betas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    seeds: tuple[int, ...] = tuple(range(DEFAULT_N_SEEDS))
    heldout_seeds: tuple[int, ...] = tuple(range(DEFAULT_N_SEEDS))
    screen_seeds: int = DEFAULT_SCREEN_SEEDS
    """0: no screen, every candidate gets the full evaluation."""
    promote: float = 0.5
    """Share of a round's screened candidates promoted to the full evaluation."""
    bootstrap: int = 500
    cell_timeout: float = 60.0
    """Wall-clock budget of a 100-seed cell in seconds (scaled by its seeds,
    at least `MIN_CELL_TIMEOUT`)."""
    smoke_timeout: float = 10.0
    """LLM proposals: budget of the one-cell smoke run inside the repair loop."""
    cap_rounds: int = 1000
    cap_branches: int = 128
    cap_fuel: int = 1_000_000
    cap_window: int = 256
    max_minutes: float | None = None
    """Stop starting rounds after this much search wall time."""
    workspace: bool = False
    """`--proposer command`: run the command in a fresh workspace per call
    (`workspace.py`)."""
    tune_share: float = 0.25
    """Offline: share of each round's slots given to the CMA-ES schedule tuner."""
    rounds: int = 5
    candidates: int = 4
    repairs: int = 2
    proposer: str = "offline"
    model: str = ""
    base_url: str = ""
    api_key_env: str = ""
    command: str = ""
    budget_usd: float | None = None
    random_seed: int = 0
    objective: str = "ref:cmc"
    max_prompt_chars: int = 24_000
    max_tokens: int = 4_000
    temperature: float = 0.8
    timeout: float = 120.0
    retries: int = 3
    backoff: float = 2.0
    grammar: bool = False
    grammar_field: str = "structured_outputs.grammar"
    grammar_file: str = ""
    """A grammar to send instead of the llguidance export of grammar/tts.lark."""
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SearchConfig:
        data: dict[str, Any] = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        for key in ("seed_programs", "search_stores", "heldout_stores", "betas", "seeds"):
            if key in kept:
                kept[key] = tuple(kept[key])
        if "heldout_seeds" in kept:
            kept["heldout_seeds"] = tuple(kept["heldout_seeds"])
        if "prices" in kept:
            kept["prices"] = {k: (float(v[0]), float(v[1])) for k, v in kept["prices"].items()}
        return cls(**kept)

    @property
    def uses_llm(self) -> bool:
        return self.proposer != "offline"

    @property
    def screen(self) -> tuple[int, ...]:
        """The screen's seeds (empty: no screen)."""
        n = self.screen_seeds
        return self.seeds[:n] if 0 < n < len(self.seeds) else ()

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        """The seed chunks a full evaluation is made of: the screen's, then the rest."""
        head = self.screen
        return (head, self.seeds[len(head) :]) if head else (self.seeds,)

    def cell_budget(self, n_seeds: int) -> float:
        """A cell's wall-clock budget: `cell_timeout` scaled by its seeds, at
        least `MIN_CELL_TIMEOUT` (start-up, numba's compile of a new program)
        unless `cell_timeout` itself is smaller."""
        floor = min(MIN_CELL_TIMEOUT, self.cell_timeout)
        return max(floor, self.cell_timeout * n_seeds / DEFAULT_N_SEEDS)

    @property
    def reference(self) -> str:
        """The reference program: the objective's, else CMC (for held-out)."""
        kind, _, name = self.objective.partition(":")
        return name if kind in ("ref", "ref-tokens") and name else "cmc"
