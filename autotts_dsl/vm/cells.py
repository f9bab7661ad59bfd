"""What a cell evaluation hands the VM besides the program: the store as flat
arrays, the shuffled branch orders per seed, and the exact beta_conf table.
Each is built once and reused across programs and β.

They are `array.array`s (the VM reads any contiguous buffer), so evaluating
on the VM does not import numpy: a one-store `run` is ~25 % numpy's import
otherwise."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from functools import lru_cache
from math import comb

from ..records import record
from ..replay.episode import shuffle_order
from ..replay.store import NO_ANSWER, ReplayStore


@record
class StoreData:
    probes: array[int]  # [Q, B, L] int32: int32 halves what a question keeps in cache
    n_probes: array[int]  # [Q, B] int64
    tokens: array[int]  # [Q, B] int64
    finals: array[int]  # [Q, B] int64
    n_branches: array[int]  # [Q] int64
    interval: array[int]  # [Q] int64
    gold: array[int]  # [Q] int64
    vocab: int
    width: int  # B: the most branches of a question (0 for an empty store)
    depth: int  # L: the most probes of a branch, at least 1


_STORE_DATA: dict[int, tuple[ReplayStore, StoreData]] = {}


def store_data(store: ReplayStore) -> StoreData:
    """The store's padded arrays, contiguous (cached per store object)."""
    got = _STORE_DATA.get(id(store))
    if got is not None and got[0] is store:
        return got[1]
    data = _build(store)
    if len(_STORE_DATA) > 64:
        _STORE_DATA.clear()
    _STORE_DATA[id(store)] = (store, data)
    return data


def _build(store: ReplayStore) -> StoreData:
    questions = store.questions
    n_q = len(questions)
    width = max((q.n_branches for q in questions), default=0)
    depth = max(1, max((len(p) for q in questions for p in q.probes), default=0))
    probes = array("i", [NO_ANSWER]) * (n_q * width * depth)
    n_probes = array("q", bytes(8 * n_q * width))
    tokens = array("q", bytes(8 * n_q * width))
    finals = array("q", [NO_ANSWER]) * (n_q * width)
    for qi, q in enumerate(questions):
        for b, seq in enumerate(q.probes):
            at = (qi * width + b) * depth
            probes[at : at + len(seq)] = array("i", seq)
            n_probes[qi * width + b] = len(seq)
        row = qi * width
        tokens[row : row + q.n_branches] = array("q", q.tokens)
        finals[row : row + q.n_branches] = array("q", q.finals)
    return StoreData(
        probes=probes,
        n_probes=n_probes,
        tokens=tokens,
        finals=finals,
        n_branches=array("q", [q.n_branches for q in questions]),
        interval=array("q", [q.interval for q in questions]),
        gold=array("q", [q.gold for q in questions]),
        vocab=len(store.vocab),
        width=width,
        depth=depth,
    )


@record
class Orders:
    """Shuffled orders per (seed, distinct branch count), flat `[S, U, width]`,
    and the row (in U) of each branch count."""

    table: array[int]
    n_sets: int  # U
    width: int
    row_of: dict[int, int]


@lru_cache(maxsize=256)
def orders(seeds: tuple[int, ...], sizes: tuple[int, ...]) -> Orders:
    distinct = sorted(set(sizes))
    width = max([1, *distinct])
    n_sets = max(1, len(distinct))
    out = array("q", bytes(8 * len(seeds) * n_sets * width))
    for si, seed in enumerate(seeds):
        for ui, n in enumerate(distinct):
            at = (si * n_sets + ui) * width
            out[at : at + n] = array("q", shuffle_order(seed, n))
    return Orders(out, n_sets, width, {n: ui for ui, n in enumerate(distinct)})


def order_rows(data: StoreData, seeds: Sequence[int]) -> tuple[Orders, array[int]]:
    sizes = tuple(data.n_branches)
    got = orders(tuple(seeds), sizes)
    return got, array("q", [got.row_of[n] for n in sizes])


@lru_cache(maxsize=16)
def beta_table(n_max: int) -> array[float]:
    """`replay.voting.beta_conf(t1, t2)` for t1 + t2 < n_max + 1 (every pair a
    pool of at most n_max answers can give), from the same integers and the
    same single correctly rounded division; other entries stay -1 (the VM
    hands those episodes to the reference). Flat `[n_max + 1, n_max + 1]`."""
    size = n_max + 1
    table = array("d", [-1.0]) * (size * size)
    for n in range(2, n_max + 2):
        prefix = 1  # comb(n, 0)
        for t1 in range(1, n):
            prefix += comb(n, t1)
            table[t1 * size + n - 1 - t1] = prefix / (1 << n)
    table[0:size] = array("d", [0.0]) * size
    return table


def table_size(table: array[float]) -> int:
    """The side of a square beta table."""
    side = math.isqrt(len(table))
    assert side * side == len(table)
    return side
