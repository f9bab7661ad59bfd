"""Replay stores: finding, opening, describing and fetching them.

A store spec is what `--store` takes: `"default"` (the embedded synthetic
store), a registry name (`"autotts/Qwen3-8B/aime24"`, looked up in the data
directory and the directories `add_store_dir` recorded), a file, or a
directory (every store under it). Light at import: stores load on use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..replay.registry import (
    AUTOTTS_DATASETS,
    AUTOTTS_MODELS,
    FetchResult,
    StoreInfo,
    StoreSummary,
    StoreUnavailable,
    add_store_dir,
    config_file,
    data_dir,
    list_stores,
    remove_store_dir,
    store_base_url,
    store_dirs,
)
from ..replay.store import ReplayStore, StoreError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AUTOTTS_DATASETS",
    "AUTOTTS_MODELS",
    "FetchResult",
    "ReplayStore",
    "StoreError",
    "StoreInfo",
    "StoreSummary",
    "StoreUnavailable",
    "add_store_dir",
    "collection_note",
    "config_file",
    "data_dir",
    "describe_store",
    "fetch_autotts",
    "list_stores",
    "open_store",
    "open_stores",
    "remove_store_dir",
    "store_base_url",
    "store_dirs",
    "stores",
]


def open_store(spec: str | Path | None = None) -> ReplayStore:
    """One store by spec (`None` or `"default"`: the embedded one). Raises
    `StoreUnavailable` (not there: an unknown name, a missing file) or
    `StoreError` (there, but not a valid store)."""
    from ..replay.registry import resolve_store

    return resolve_store(None if spec is None else str(spec))


def open_stores(specs: Sequence[str | Path] | None = None) -> list[tuple[str, ReplayStore]]:
    """Stores by spec, directories expanded to the stores under them, as
    (spec, store) pairs: the spec is what a worker process opens the store
    by. No specs: the embedded default store. Raises as `open_store`."""
    from ..replay.registry import expand_store_specs, resolve_store

    if not specs:
        return [("default", resolve_store(None))]
    return [(s, resolve_store(s)) for s in expand_store_specs([str(s) for s in specs])]


def describe_store(store: ReplayStore | str | Path) -> StoreSummary:
    """Summary statistics of a store (what `tts-dsl stores show` prints):
    questions, branches, probe intervals, lengths, single-trace and
    majority accuracy."""
    from ..replay.registry import summarize_store

    return summarize_store(store if isinstance(store, ReplayStore) else open_store(store))


def collection_note(store: StoreSummary | StoreInfo) -> str | None:
    """One line on how a collected store was collected (its model, server,
    settings), None for a store that was not collected."""
    from ..replay.registry import collected_summary

    if isinstance(store, StoreInfo):
        return store.collected
    return collected_summary(Path(store.source)) if store.source else None


def fetch_autotts(
    dest: str | Path | None = None,
    *,
    base_url: str | None = None,
    models: Sequence[str] = AUTOTTS_MODELS,
    datasets: Sequence[str] = AUTOTTS_DATASETS,
    timeout: float = 60.0,
    progress: Callable[[str, int, int | None], None] | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Download the AutoTTS stores (models × datasets) into
    `dest/<model>/<dataset>.json` (default dest: `<data dir>/autotts`), each
    written atomically and checked; stores already present and valid are
    kept. `progress(name, bytes_done, bytes_total)`
    during a download, `on_result(result)` after each store. Never raises
    for one store's failure: each result says `downloaded`, `present`,
    `invalid` or `error`, with its message."""
    from ..replay.registry import fetch_autotts as _fetch

    return _fetch(
        dest,
        base_url=store_base_url(base_url),
        models=models,
        datasets=datasets,
        timeout=timeout,
        progress=progress,
        on_result=on_result,
    )


def stores() -> pd.DataFrame:
    """The replay stores tts-dsl knows (embedded, AutoTTS, added
    directories, collected), with whether each is present here: a table of
    `list_stores()`."""
    import pandas as pd

    rows = [
        {
            "name": s.name,
            "kind": s.kind,
            "present": s.present,
            "questions": s.n_questions,
            "branches": s.n_branches,
            "synthetic": s.synthetic,
            "path": str(s.path),
            "status": s.status,
        }
        for s in list_stores()
    ]
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame
