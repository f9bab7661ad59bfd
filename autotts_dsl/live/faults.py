"""Faults serve-replay can inject, to test clients against a server that
misbehaves: `--faults 500=0.1,drop=0.05,...` gives each kind a probability
per request (drawn from a seeded generator, at most one fault per request).

* `500`, `429` (with `Retry-After: 0`): an error status;
* `drop`: the connection closes before any response;
* `hang`: no response for `hang_seconds`, then the connection closes;
* `truncate`: a 200 whose body stops halfway (the declared length is not met);
* `malformed`: a 200 whose body is not JSON;
* `shape`: a 200 with JSON of the wrong shape (no choices).
"""

from __future__ import annotations

import random
import threading
from dataclasses import field

from ..records import record

KINDS = ("500", "429", "drop", "hang", "truncate", "malformed", "shape")


class FaultSpecError(ValueError):
    pass


@record(frozen=False)
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    hang_seconds: float = 30.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        total = sum(self.rates.values())
        if total > 1.0 + 1e-9:
            raise FaultSpecError(f"fault probabilities add up to {total:g} > 1")

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        if not self.rates:
            return None
        with self._lock:
            x = self._rng.random()
            acc = 0.0
            for kind in KINDS:
                acc += self.rates.get(kind, 0.0)
                if x < acc:
                    self.injected[kind] = self.injected.get(kind, 0) + 1
                    return kind
        return None


def parse_faults(spec: str | None, *, seed: int = 0, hang_seconds: float = 30.0) -> FaultPlan:
    rates: dict[str, float] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        kind, sep, value = part.partition("=")
        kind = kind.strip()
        if kind not in KINDS:
            raise FaultSpecError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        try:
            rate = float(value) if sep else 0.1
        except ValueError:
            raise FaultSpecError(f"fault {kind}: {value!r} is not a probability") from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"fault {kind}: probability {rate} outside [0, 1]")
        rates[kind] = rate
    return FaultPlan(rates, seed=seed, hang_seconds=hang_seconds)
