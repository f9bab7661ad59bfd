"""Replay engine: AutoTTS stores, episodes, the evaluation protocol."""

from .episode import Episode, InadmissibleAction, shuffle_order
from .protocol import DEFAULT_SEEDS, Evaluation, Policy, evaluate
from .store import NO_ANSWER, Question, ReplayStore, StoreError, load_store, store_from_records

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
