"""A seeded simulator of AutoTTS replay stores (the embedded default store).

The real stores (Qwen3 models on AIME/HMMT, see replay protocol §1) cannot
ship with the package, so `tts-dsl` embeds a synthetic store produced here.
It has the same format and is calibrated to the real stores' statistics, so
controllers behave qualitatively alike on it — but its numbers are *not*
comparable to published AutoTTS figures, and stores built here are flagged
`synthetic=True`.

Generative model (one question at a time, then one trace at a time):

* **Difficulty.** Each question gets `p`, the probability that a trace's
  final answer is correct: stratified uniforms (one per 1/n slice of (0, 1))
  pushed towards both ends by an S-curve, so every store spans near 0 to near
  1 with the bimodal mass of the real stores (many questions almost always
  or almost never solved, some in between).
* **Answers.** Gold answers are AIME-style integers 0–999. Each question has
  1–3 wrong *attractor* answers sharing 35–90 % of the wrong mass (random
  exponential weights); the rest is a long tail of one-off wrong integers
  plus a little `ERR` (unparseable). Attractors can outvote gold when `p` is
  low, so majority voting helps on some questions and hurts on others.
* **Lengths.** A question's median trace length grows with difficulty (about
  5.6k tokens when `p` = 1, 15k when `p` = 0); a trace's length is lognormal
  around it (sigma 0.4), wrong traces running about 1.6x longer than correct
  ones (the real stores: 11k vs 20k on average). Traces beyond the
  40,960-token generation cap are truncated; their recorded length lands
  slightly above the cap, as in the real stores (41.0k–41.5k). Overall mean
  ~15k, 5th–95th percentile ~4k–38k.
* **Probe count.** The probe pass counts tokens a little differently from
  `branch_tokens`: a trace gets `ceil(branch_tokens * r / interval)` probes,
  `r ~ N(0.945, 0.02)` clipped to [0.88, 0.999], at most 40,000 / interval.
  That gives both length quirks of the real data: short traces often have
  `len(probes) * interval > branch_tokens` (by less than one interval, as
  `r < 1`; ~17 % of branches), long ones fall one or more intervals short
  (~40 %), so the final read charges up to a few thousand tokens.
* **Convergence.** A trace *locks in* after a fraction `f ~ Beta(1.8, 0.65)`
  of its probes (median ~0.75, as measured on the real stores): from there
  on every probe equals its final answer — in particular the last probe
  always does, as in the real data. Before that the probes form a sticky
  chain (repeat the previous answer with probability 0.6, else redraw) over
  placeholder answers (`0`, `1`, `ERR`, `100`, ...), the question's early
  guesses, its attractors, gold, the trace's own eventual answer, and fresh
  random integers.

Reproducibility: every number derives from `random.Random(seed).random()`,
the one stream Python guarantees stable across versions; normals are
Irwin–Hall sums of twelve uniforms, Beta draws use Jöhnk's method,
exponentials `-log(1 - u)`. A seed thus gives the same records on any
Python or numpy version.
"""

from __future__ import annotations

import json
import math
import random
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .store import ReplayStore, store_from_records

DEFAULT_SEED = 0
"""The seed of the embedded default store."""

DEFAULT_N_QUESTIONS = 30
DEFAULT_N_BRANCHES = 128
DEFAULT_INTERVAL = 500

SYNTHETIC_MARKER = "[synthetic]"
"""Every simulated question text starts with this, so a synthetic store
written to disk is still recognised as synthetic when loaded again."""

DEFAULT_STORE_PATH = Path(__file__).resolve().parent / "data" / "default.json.gz"

GEN_CAP = 40_960  # generation limit of the real traces (tokens)
PROBE_CAP = 40_000  # the real probe lists stop at 80 x 500 tokens
MIN_TOKENS = 1_000  # the shortest real traces are ~1.1k tokens

# Answers that early, unfinished reasoning tends to blurt out, with weights.
_PLACEHOLDERS: tuple[tuple[str, float], ...] = (
    ("0", 3.0),
    ("1", 2.5),
    ("ERR", 2.5),
    ("100", 2.0),
    ("2", 1.0),
    ("10", 1.0),
    ("12", 0.7),
    ("13", 0.7),
)


class _Rng:
    """Distributions built only on `random.Random.random()` (see module doc)."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def uniform(self, lo: float = 0.0, hi: float = 1.0) -> float:
        return lo + (hi - lo) * self._r.random()

    def below(self, n: int) -> int:
        """Uniform int in [0, n)."""
        return min(n - 1, int(self._r.random() * n))

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        # Irwin–Hall: sum of 12 uniforms minus 6 has mean 0, variance 1.
        return mu + sigma * (sum(self._r.random() for _ in range(12)) - 6.0)

    def exponential(self) -> float:
        return -math.log(1.0 - self._r.random())

    def beta(self, a: float, b: float) -> float:
        """Beta(a, b) via Jöhnk's method (exact for any a, b > 0)."""
        while True:
            x = float(self._r.random() ** (1.0 / a))
            y = float(self._r.random() ** (1.0 / b))
            if 0.0 < x + y <= 1.0:
                return x / (x + y)

    def choice(self, items: Sequence[tuple[str, float]]) -> str:
        total = sum(w for _, w in items)
        u = self._r.random() * total
        for item, w in items:
            u -= w
            if u < 0:
                return item
        return items[-1][0]

    def shuffle(self, xs: list[Any]) -> None:
        for i in range(len(xs) - 1, 0, -1):
            j = self.below(i + 1)
            xs[i], xs[j] = xs[j], xs[i]


def _difficulties(rng: _Rng, n: int) -> list[float]:
    """Per-question P(final answer correct), spread over (0, 1), bimodal."""
    slots = list(range(n))
    rng.shuffle(slots)
    out = []
    for s in slots:
        u = (s + rng.uniform()) / n  # stratified: every 1/n-slice gets one question
        a = 1.8  # > 1 pushes mass to both ends, like the real stores
        p = u**a / (u**a + (1.0 - u) ** a)
        out.append(min(0.995, max(0.002, p)))
    return out


def _fresh_int(rng: _Rng, taken: set[str]) -> str:
    while True:
        s = str(rng.below(1000))
        if s not in taken:
            taken.add(s)
            return s


def _question(
    rng: _Rng, qi: int, p: float, n_branches: int, interval: int, seed: int
) -> dict[str, Any]:
    taken: set[str] = {a for a, _ in _PLACEHOLDERS}
    gold = _fresh_int(rng, taken)
    n_attr = 1 + rng.below(3)
    attractors = [_fresh_int(rng, taken) for _ in range(n_attr)]
    raw_w = [rng.exponential() for _ in attractors]
    attr_share = rng.uniform(0.35, 0.9)
    attr_w = [attr_share * w / sum(raw_w) for w in raw_w]
    guesses = [_fresh_int(rng, taken) for _ in range(3)]
    # Final-answer distribution of a wrong trace: attractors, then the tail.
    wrong_dist = [
        *zip(attractors, attr_w, strict=True),
        ("ERR", 0.04),
        ("<tail>", 1.0 - attr_share),
    ]
    # Harder questions produce longer traces.
    log_median = math.log(5_600) + 1.0 * (1.0 - p) + rng.normal(0.0, 0.2)

    branches: list[list[Any]] = []
    for _ in range(n_branches):
        correct = rng.uniform() < p
        if correct:
            final = gold
        else:
            final = rng.choice(wrong_dist)
            if final == "<tail>":
                final = str(rng.below(1000))
                if final == gold:  # the tail is wrong by construction
                    final = str(1000 + rng.below(9000))
        length = math.exp(log_median + (0.0 if correct else 0.45) + rng.normal(0.0, 0.4))
        tokens = max(MIN_TOKENS, int(length))
        truncated = tokens > GEN_CAP
        if truncated:
            tokens = GEN_CAP + 40 + rng.below(520)
            # Cut-off reasoning rarely yields a parseable answer it believes in.
            if not correct and rng.uniform() < 0.1:
                final = "ERR"
        ratio = min(0.999, max(0.88, rng.normal(0.945, 0.02)))
        n_probes = min(math.ceil(tokens * ratio / interval), max(1, PROBE_CAP // interval))
        probes = _probes(rng, n_probes, final, gold, attractors, guesses)
        branches.append([probes, tokens, final])

    return {
        "question": f"{SYNTHETIC_MARKER} question {qi + 1} of seed {seed}",
        "gold_answer": gold,
        "probe_freq": interval,
        "final_answers_trace": [b[2] for b in branches],
        "each_branch": branches,
    }


def _probes(
    rng: _Rng, n: int, final: str, gold: str, attractors: list[str], guesses: list[str]
) -> list[str]:
    lock = rng.beta(1.8, 0.65)
    # Number of trailing probes that already equal the final answer (>= 1).
    locked = max(1, n - int(lock * n))
    early: list[tuple[str, float]] = [
        *_PLACEHOLDERS,  # weights sum to 13.4
        *((g, 3.0) for g in guesses),
        *((a, 1.5) for a in attractors),
        (gold, 1.0),
        (final, 1.0),
        ("<fresh>", 2.0),
    ]
    out: list[str] = []
    for _ in range(n - locked):
        if out and rng.uniform() < 0.6:
            out.append(out[-1])
            continue
        a = rng.choice(early)
        out.append(str(rng.below(1000)) if a == "<fresh>" else a)
    out.extend([final] * locked)
    return out


def simulate_records(
    n_questions: int = DEFAULT_N_QUESTIONS,
    n_branches: int = DEFAULT_N_BRANCHES,
    seed: int = DEFAULT_SEED,
    interval: int = DEFAULT_INTERVAL,
) -> list[dict[str, Any]]:
    """AutoTTS-format question records drawn from the model above.

    Deterministic per `(n_questions, n_branches, seed, interval)`.
    """
    if n_questions < 1 or n_branches < 1:
        raise ValueError("need at least one question and one branch")
    if interval < 1:
        raise ValueError(f"interval must be positive, got {interval}")
    rng = _Rng(seed)
    return [
        _question(rng, qi, p, n_branches, interval, seed)
        for qi, p in enumerate(_difficulties(rng, n_questions))
    ]


def simulate_store(
    n_questions: int = DEFAULT_N_QUESTIONS,
    n_branches: int = DEFAULT_N_BRANCHES,
    seed: int = DEFAULT_SEED,
    interval: int = DEFAULT_INTERVAL,
    *,
    name: str | None = None,
) -> ReplayStore:
    """`simulate_records` loaded as a `ReplayStore` flagged synthetic."""
    records = simulate_records(n_questions, n_branches, seed, interval)
    if name is None:
        default = (n_questions, n_branches, seed, interval) == (
            DEFAULT_N_QUESTIONS,
            DEFAULT_N_BRANCHES,
            DEFAULT_SEED,
            DEFAULT_INTERVAL,
        )
        name = "synthetic/default" if default else f"synthetic/seed{seed}"
    return store_from_records(records, name=name, source="<synthetic>", synthetic=True)


# gzip member header: magic, deflate, no flags, mtime 0, "max compression",
# OS "unknown". Written by hand because gzip.compress fills in the OS byte
# (and, from Python 3.12, lets zlib write the header), so its bytes vary
# with the Python version and the platform.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def encode_records(records: list[dict[str, Any]]) -> bytes:
    """Canonical gzip-compressed JSON of a store: same records → same bytes.

    The header carries no time, name or OS, so on a given zlib the output
    depends on the data alone.
    """
    payload = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate stream
    body = deflate.compress(payload) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return _GZIP_HEADER + body + trailer


def default_store_bytes() -> bytes:
    """What `replay/data/default.json.gz` must contain."""
    return encode_records(simulate_records())


def looks_synthetic(store: ReplayStore) -> bool:
    """True if every question text carries the simulator's marker."""
    return bool(store.questions) and all(
        q.text.startswith(SYNTHETIC_MARKER) for q in store.questions
    )
