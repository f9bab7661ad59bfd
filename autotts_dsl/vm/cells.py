"""What a cell evaluation hands the VM besides the program: the store as flat
int64 arrays, the shuffled branch orders per seed, and the exact beta_conf
table. Each is built once and reused across programs and β."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from math import comb

import numpy as np
import numpy.typing as npt

from ..records import record
from ..replay.episode import shuffle_order
from ..replay.store import ReplayStore

I64 = npt.NDArray[np.int64]


@record
class StoreData:
    probes: npt.NDArray[np.int32]  # [Q, B, L]: int32 halves what a question keeps in cache
    n_probes: I64  # [Q, B]
    tokens: I64
    finals: I64
    n_branches: I64  # [Q]
    interval: I64
    gold: I64
    vocab: int

    @property
    def width(self) -> int:
        return int(self.tokens.shape[1]) if self.tokens.ndim == 2 else 0

    @property
    def depth(self) -> int:
        return int(self.probes.shape[2]) if self.probes.ndim == 3 else 0


_STORE_DATA: dict[int, tuple[ReplayStore, StoreData]] = {}


def store_data(store: ReplayStore) -> StoreData:
    """The store's padded arrays, contiguous: probes int32, the rest int64
    (cached per store object)."""
    got = _STORE_DATA.get(id(store))
    if got is not None and got[0] is store:
        return got[1]
    a = store.arrays()

    def i64(x: npt.NDArray[np.generic]) -> I64:
        return np.ascontiguousarray(x, dtype=np.int64)

    data = StoreData(
        probes=np.ascontiguousarray(a.probes, dtype=np.int32),
        n_probes=i64(a.n_probes),
        tokens=i64(a.tokens),
        finals=i64(a.finals),
        n_branches=i64(a.n_branches),
        interval=i64(a.interval),
        gold=i64(a.gold),
        vocab=len(store.vocab),
    )
    if len(_STORE_DATA) > 64:
        _STORE_DATA.clear()
    _STORE_DATA[id(store)] = (store, data)
    return data


@lru_cache(maxsize=256)
def orders(seeds: tuple[int, ...], sizes: tuple[int, ...]) -> tuple[I64, dict[int, int]]:
    """Shuffled orders per (seed, distinct branch count): `[S, U, width]`, and
    the row of each branch count."""
    distinct = sorted(set(sizes))
    width = max([1, *distinct])
    out = np.zeros((len(seeds), max(1, len(distinct)), width), dtype=np.int64)
    for si, seed in enumerate(seeds):
        for ui, n in enumerate(distinct):
            out[si, ui, :n] = shuffle_order(seed, n)
    out.setflags(write=False)
    return out, {n: ui for ui, n in enumerate(distinct)}


def order_rows(data: StoreData, seeds: Sequence[int]) -> tuple[I64, I64]:
    sizes = tuple(int(n) for n in data.n_branches)
    table, row = orders(tuple(seeds), sizes)
    return table, np.array([row[n] for n in sizes], dtype=np.int64)


@lru_cache(maxsize=16)
def beta_table(n_max: int) -> npt.NDArray[np.float64]:
    """`replay.voting.beta_conf(t1, t2)` for t1 + t2 < n_max + 1 (every pair a
    pool of at most n_max answers can give), from the same integers and the
    same single correctly rounded division; other entries stay -1 (the VM
    hands those episodes to the reference)."""
    size = n_max + 1
    table = np.full((size, size), -1.0, dtype=np.float64)
    for n in range(2, n_max + 2):
        prefix = 1  # comb(n, 0)
        for t1 in range(1, n):
            prefix += comb(n, t1)
            table[t1, n - 1 - t1] = prefix / (1 << n)
    table[0, :] = 0.0
    table.setflags(write=False)
    return table
