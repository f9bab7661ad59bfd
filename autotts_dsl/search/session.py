"""Setting a search up: its configuration from options, the stores, the seed
check, a new or resumed history, the LLM proposer. The CLI only wires
arguments to these and turns `SetupError` into an exit code."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..programs import ProgramNotFound
from ..replay import registry
from ..replay.store import StoreError
from ..sweep.grid import GridError, parse_betas
from .config import RESUMABLE, SearchConfig
from .evaluate import expand_specs, load_store, store_row
from .history import History, HistoryError, StoreRow
from .llm import BackendSetupError, LLMProposer, make_backend
from .objective import ObjectiveError, parse_objective
from .pricing import PriceError, PriceTable, parse_price
from .sources import read_seed
from .verify import verify

OPTION_FIELDS = (
    "rounds", "candidates", "repairs", "proposer", "model", "base_url", "api_key_env",
    "command", "budget_usd", "random_seed", "max_prompt_chars", "max_tokens", "temperature",
    "timeout", "retries", "backoff", "grammar_field", "screen_seeds", "promote", "bootstrap",
    "cell_timeout", "smoke_timeout", "cap_rounds", "cap_branches", "cap_fuel", "cap_window",
    "max_minutes", "tune_share",
)  # fmt: skip
"""Options that map one to one onto `SearchConfig` fields (None: default)."""


class SetupError(Exception):
    """A search cannot start: `kind` is "usage" (bad options, I/O) or
    "invalid" (a seed or store is wrong)."""

    def __init__(self, message: str, kind: str = "usage", details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


def build_config(
    opts: Mapping[str, Any], parse_seeds: Callable[[str], tuple[int, ...]]
) -> SearchConfig:
    base = SearchConfig()
    try:
        betas = parse_betas(opts["betas"]) if opts.get("betas") else base.betas
        objective = opts.get("objective") or base.objective
        parse_objective(objective)
        prices = dict(parse_price(i) for i in opts.get("price") or ())
    except (GridError, ObjectiveError, PriceError) as exc:
        raise SetupError(str(exc)) from None
    seeds = parse_seeds(opts["seeds"]) if opts.get("seeds") else base.seeds
    heldout = parse_seeds(opts["heldout_seeds"]) if opts.get("heldout_seeds") else seeds
    kept = {k: opts[k] for k in OPTION_FIELDS if opts.get(k) is not None}
    if opts.get("grammar_file"):
        kept["grammar_file"] = str(Path(opts["grammar_file"]).resolve())
    return SearchConfig(
        seed_programs=tuple(opts.get("seed_programs") or base.seed_programs),
        search_stores=tuple(opts.get("search_store") or base.search_stores),
        heldout_stores=tuple(opts.get("heldout_store") or ()),
        betas=betas,
        seeds=seeds,
        heldout_seeds=heldout,
        objective=objective,
        grammar=bool(opts.get("grammar")),
        workspace=bool(opts.get("workspace")),
        prices=prices,
        **kept,
    )


def store_rows(role: str, specs: Sequence[str]) -> list[StoreRow]:
    try:
        return [store_row(role, s, load_store(s)) for s in expand_specs(specs)]
    except registry.StoreUnavailable as exc:
        raise SetupError(str(exc)) from None
    except StoreError as exc:
        raise SetupError(str(exc), "invalid") from None


def check_seeds(specs: Sequence[str]) -> None:
    for spec in specs:
        try:
            source, shown = read_seed(spec)
        except ProgramNotFound as exc:
            raise SetupError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SetupError(f"{spec}: cannot read: {exc}") from None
        verdict = verify(source, shown)
        if not verdict.ok:
            raise SetupError(
                f"seed {spec} does not check; nothing was run", "invalid", verdict.diagnostics
            )


def disjoint(search: Sequence[StoreRow], heldout: Sequence[StoreRow]) -> None:
    same = {s.content_hash for s in search} & {h.content_hash for h in heldout}
    if same:
        names = ", ".join(h.name for h in heldout if h.content_hash in same)
        raise SetupError(f"held-out store(s) {names} are also search stores")


def probe_stores(config: SearchConfig) -> None:
    """Fail on bad stores before anything is written."""
    disjoint(
        store_rows("search", config.search_stores), store_rows("heldout", config.heldout_stores)
    )


def open_history(path: Path, create: bool = False) -> History:
    try:
        return History(path, create=create)
    except HistoryError as exc:
        raise SetupError(str(exc)) from None


def init_history(history: History, config: SearchConfig) -> None:
    search = store_rows("search", config.search_stores)
    heldout = store_rows("heldout", config.heldout_stores)
    disjoint(search, heldout)
    with history.tx():
        history.set_meta("config", config.to_json())
        for row in [*search, *heldout]:
            history.add_store(row)


def add_heldout_stores(history: History, specs: Sequence[str]) -> None:
    rows = store_rows("heldout", specs)
    disjoint(history.stores("search"), rows)
    for row in rows:
        history.add_store(row)


def stored_config(history: History) -> SearchConfig:
    stored = history.get_meta("config")
    if stored is None:
        raise SetupError(f"{history.path}: holds no search configuration")
    return SearchConfig.from_json(stored)


def resumed_config(history: History, opts: Mapping[str, Any]) -> SearchConfig:
    """The stored configuration with the settings `--resume` may change."""
    config = stored_config(history)
    changes = {k: opts[k] for k in RESUMABLE if opts.get(k) is not None}
    if changes:
        config = dataclasses.replace(config, **changes)
        history.set_meta("config", config.to_json())
    return config


def make_llm(
    config: SearchConfig, history: History, say: Callable[[str], None]
) -> LLMProposer | None:
    if not config.uses_llm:
        return None
    grammar = None
    if config.grammar and config.grammar_file:
        source = Path(config.grammar_file)
        try:
            grammar = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SetupError(f"{source}: cannot read the grammar: {exc}") from None
    elif config.grammar:
        from ..grammar_export import export_grammar

        grammar = export_grammar("llguidance")  # what vLLM's guidance backend accepts
    try:
        backend = make_backend(config, grammar)
    except BackendSetupError as exc:
        raise SetupError(str(exc)) from None
    prices = PriceTable.with_overrides(config.prices)
    return LLMProposer(backend, history, config, prices, on_event=say)


def config_json(config: SearchConfig) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(config.to_json())
    return data
