"""The configuration of one search, stored in its history so `--resume`
continues under exactly the settings it started with."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SEEDS = ("cmc", "ibc", "scr", "dgcc", "asc", "esc")
DEFAULT_BETAS = "0,0.25,0.5,0.75,1"
DEFAULT_N_SEEDS = 10
"""Shuffle seeds per evaluation. The replay protocol uses 100; a search only
needs to rank candidates, and ten seeds make each cell ten times cheaper."""

PROPOSERS = ("offline", "openai", "anthropic", "command")


@dataclass(frozen=True)
class SearchConfig:
    seed_programs: tuple[str, ...] = DEFAULT_SEEDS
    search_stores: tuple[str, ...] = ("default",)
    heldout_stores: tuple[str, ...] = ()
    betas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    seeds: tuple[int, ...] = tuple(range(DEFAULT_N_SEEDS))
    heldout_seeds: tuple[int, ...] = tuple(range(DEFAULT_N_SEEDS))
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
    objective: str = "auc"
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
