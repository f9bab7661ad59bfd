"""The seed's CMC controller, taken from ../shared/seeds/autotts-readme.txt at run time.

The class source is not copied into the repository: it is cut out of the
document each time and executed against the small shims below, which supply
what AutoTTS's `method.py` provides around it (base class, trace recorder,
safe probe wrappers, voting helpers). The shims are written here from the
replay protocol §4 / §5.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from autotts_dsl.replay.voting import beta_conf, tally, vote_stats

SEED_README = "seeds/autotts-readme.txt"


class LLMDesignedMethod:
    NAME = "llm_designed"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})

    def description(self) -> str:
        return self.NAME


class MethodTraceRecorder:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def add_step(self, **kw: Any) -> None:
        self.steps.append(kw)

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.steps)


def _safe_probe_new(question: Any) -> Any:
    try:
        return question.probe_new()
    except ValueError:
        return None


def _safe_probe_more(question: Any, index: int) -> Any:
    try:
        return question.probe_more(index)
    except ValueError:
        return None


def _vote_stats(answers: list[Any]) -> tuple[Any, int, int, int]:
    w, t1, t2 = vote_stats(answers)
    return w, t1, t2, len(tally(answers))


def _beta_majority_confidence(top1: int, top2: int) -> float:
    return beta_conf(top1, top2)


def _majority_answer(answers: list[Any]) -> Any:
    return vote_stats(answers)[0]


def extract_class_source(text: str, class_line: str = "class OptimalController(") -> str:
    """Cut one class out of the rendered README: from its header to the first
    non-empty line at column 0 after it."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(class_line))
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][:1].isspace()):
        end += 1
    return "\n".join(lines[start:end]) + "\n"


def load_seed_cmc(shared: Path) -> type:
    """The seed's `OptimalController` class (CMC), ready to instantiate with
    `{"beta": b}`."""
    source = extract_class_source((shared / SEED_README).read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {
        "LLMDesignedMethod": LLMDesignedMethod,
        "MethodTraceRecorder": MethodTraceRecorder,
        "_safe_probe_new": _safe_probe_new,
        "_safe_probe_more": _safe_probe_more,
        "_vote_stats": _vote_stats,
        "_beta_majority_confidence": _beta_majority_confidence,
        "_majority_answer": _majority_answer,
        **{name: getattr(typing, name) for name in ("Any", "Dict", "List", "Optional", "Tuple")},
    }
    exec(compile(source, str(shared / SEED_README) + "::OptimalController", "exec"), namespace)
    cls = namespace["OptimalController"]
    assert isinstance(cls, type)
    return cls
