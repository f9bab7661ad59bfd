"""Replay engine: AutoTTS stores, episodes, the evaluation protocol.

The names below load on first use (PEP 562), so that importing one
submodule (`replay.store` for `NO_ANSWER`, as the checker does) does not
import the protocol and numpy with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .episode import Episode, InadmissibleAction, shuffle_order
    from .protocol import DEFAULT_SEEDS, Evaluation, Policy, evaluate
    from .store import (
        NO_ANSWER,
        Question,
        ReplayStore,
        StoreError,
        load_store,
        store_from_records,
    )

_HOME: dict[str, str] = {
    "Episode": "episode",
    "InadmissibleAction": "episode",
    "shuffle_order": "episode",
    "DEFAULT_SEEDS": "protocol",
    "Evaluation": "protocol",
    "Policy": "protocol",
    "evaluate": "protocol",
    "NO_ANSWER": "store",
    "Question": "store",
    "ReplayStore": "store",
    "StoreError": "store",
    "load_store": "store",
    "store_from_records": "store",
}

__all__ = [
    "DEFAULT_SEEDS",
    "NO_ANSWER",
    "Episode",
    "Evaluation",
    "InadmissibleAction",
    "Policy",
    "Question",
    "ReplayStore",
    "StoreError",
    "evaluate",
    "load_store",
    "shuffle_order",
    "store_from_records",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
