"""What a cell evaluation hands the VM besides the program and the store's
flat arrays (`ReplayStore.flat()`): the shuffled branch orders per seed and
the exact beta_conf table. Each is built once and reused across programs
and β.

They are `array.array`s (the VM reads any contiguous buffer), so evaluating
on the VM does not import numpy: a one-store `run` is ~25 % numpy's import
otherwise."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from functools import lru_cache
from math import comb

from ..records import record
from ..replay.episode import shuffle_order
from ..replay.store import FlatArrays


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


def order_rows(data: FlatArrays, seeds: Sequence[int]) -> tuple[Orders, array[int]]:
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
