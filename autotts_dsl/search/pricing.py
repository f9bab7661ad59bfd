"""What an LLM call costs: a small price table, token estimates, the budget cap.

Prices are list prices in US$ per million tokens (input, output), approximate
and dated; `--price MODEL=IN,OUT` adds or overrides rows. A model is matched
by its exact name, else by the longest table name it starts with (so
`claude-sonnet-4-20250514` finds `claude-sonnet-4`). An unknown model costs
$0 with a warning: the budget cap then cannot protect you.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import field

from ..records import record

PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-opus-4": (15.00, 75.00),
}
"""Approximate list prices (2025), $ per 1M tokens (input, output)."""

CHARS_PER_TOKEN = 4.0
"""For estimating token counts when a backend reports none."""

WORST_CASE_CHARS_PER_TOKEN = 3.0
"""For the budget check before a call: overestimate the prompt's tokens."""


class PriceError(ValueError):
    """A malformed `--price` item."""


def estimate_tokens(text: str, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    return max(1, math.ceil(len(text) / chars_per_token)) if text else 0


def parse_price(item: str) -> tuple[str, tuple[float, float]]:
    """`MODEL=IN,OUT` ($ per 1M input and output tokens)."""
    model, sep, rest = item.partition("=")
    parts = rest.split(",")
    if not sep or not model.strip() or len(parts) != 2:
        raise PriceError(f"--price {item!r}: expected MODEL=IN,OUT ($ per 1M tokens)")
    try:
        pin, pout = (float(p) for p in parts)
    except ValueError:
        raise PriceError(f"--price {item!r}: prices must be numbers") from None
    if not (pin >= 0 and pout >= 0 and math.isfinite(pin) and math.isfinite(pout)):
        raise PriceError(f"--price {item!r}: prices must be finite and >= 0")
    return model.strip(), (pin, pout)


@record(frozen=False)
class PriceTable:
    rows: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES_PER_MTOK))

    @classmethod
    def with_overrides(cls, items: Iterable[str] | Mapping[str, tuple[float, float]]) -> PriceTable:
        table = cls()
        pairs = items.items() if isinstance(items, Mapping) else (parse_price(i) for i in items)
        for model, prices in pairs:
            table.rows[model] = (float(prices[0]), float(prices[1]))
        return table

    def lookup(self, model: str) -> tuple[float, float] | None:
        if model in self.rows:
            return self.rows[model]
        prefixes = [m for m in self.rows if model.startswith(m)]
        return self.rows[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """US$ for one call; 0 for an unknown model."""
        prices = self.lookup(model)
        if prices is None:
            return 0.0
        return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000


class BudgetExhausted(Exception):
    """The next call could exceed `--budget-usd`."""


@record(frozen=False)
class Budget:
    """A hard cap on estimated spend, checked before every call."""

    cap_usd: float | None
    spent_usd: float = 0.0

    def check(self, worst_case_usd: float) -> None:
        """Raise `BudgetExhausted` unless spend so far plus this call's worst
        case stays within the cap."""
        if self.cap_usd is None:
            return
        if self.spent_usd + worst_case_usd > self.cap_usd:
            raise BudgetExhausted(
                f"budget ${self.cap_usd:.4f}: spent ${self.spent_usd:.4f}, the next call could "
                f"cost up to ${worst_case_usd:.4f}"
            )

    def add(self, usd: float) -> None:
        self.spent_usd += usd
