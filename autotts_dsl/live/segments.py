"""Where a trace is cut and probed: the collection rule, in the model's tokens.

A trace is the list of tokens the server reports for one completion (token
ids, or token texts when the server offers no ids). Its *reasoning part* is
the tokens up to and including the first end-of-reasoning marker
(`</think>` for Qwen3 and DeepSeek-R1 style models), or the whole trace when
there is no marker. With interval Δ:

* one probe per started interval of the reasoning part: probe k (k = 1, 2,
  …, ceil(R/Δ)) reads the prefix of min(k·Δ, R) tokens — so the last probe
  may come after a partial interval;
* `branch_tokens` is the length of the whole trace (what the server reports
  as `usage.completion_tokens`; the two must agree).

Hence `len(probe_answers)·Δ` can exceed `branch_tokens` by less than Δ (the
last interval is partial) or fall far below it (a long answer after the
marker), as in AutoTTS's stores. `serve-replay` inverts the rule: a stored
branch with L probes and T tokens is served as a trace whose marker ends
the reasoning at R = min(T, L·Δ) (no marker when R = T).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MARKER = "</think>"

RULE = (
    "probe k = 1..ceil(R/interval) reads the first min(k*interval, R) tokens, R = tokens up to "
    "and including the first reasoning-end marker (whole trace without one); branch_tokens = "
    "completion tokens reported by the server"
)


def probe_prefixes(reasoning_tokens: int, interval: int) -> list[int]:
    """Prefix lengths (in tokens) at which a trace is probed."""
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    n = -(-reasoning_tokens // interval)
    return [min(k * interval, reasoning_tokens) for k in range(1, n + 1)]


def reasoning_length_ids(ids: Sequence[int], marker: Sequence[int]) -> int:
    """R for a trace given as token ids; `marker` is the marker's ids (empty: none)."""
    m = len(marker)
    if m == 0:
        return len(ids)
    first = marker[0]
    seq = list(ids)
    want = list(marker)
    i = -1
    while True:
        try:
            i = seq.index(first, i + 1)  # C-speed scan: traces run to ~40k tokens
        except ValueError:
            return len(seq)
        if seq[i : i + m] == want:
            return i + m


def reasoning_length_texts(texts: Sequence[str], marker: str) -> int:
    """R for a trace given as token texts: the token that completes the first
    occurrence of `marker` in their concatenation ends the reasoning."""
    if not marker:
        return len(texts)
    joined = ""
    for i, piece in enumerate(texts):
        joined += piece
        if marker in joined[-(len(marker) + len(piece)) :]:
            return i + 1
    return len(texts)


def marker_position(branch_tokens: int, n_probes: int, interval: int) -> int:
    """R that reproduces a stored branch (serve-replay's inverse of the rule)."""
    return min(branch_tokens, n_probes * interval)


def reproducible(branch_tokens: int, n_probes: int, interval: int) -> bool:
    """Whether the rule can yield `n_probes` probes for a trace of this length."""
    r = marker_position(branch_tokens, n_probes, interval)
    return len(probe_prefixes(r, interval)) == n_probes
