"""Shared fixtures: locating ../shared, cached replay stores, reference tables.

`../shared` (next to the repository root, or wherever `TTS_DSL_SHARED` points)
holds the real AutoTTS replay stores and the published reference numbers.
Tests that need it are marked `@pytest.mark.shared`; when it is missing they
are skipped on a developer machine and fail loudly under CI (`CI=true`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    # `tests.support` must import the same way under `pytest` and `python -m pytest`.
    sys.path.insert(0, str(REPO_ROOT))

from autotts_dsl.replay.store import ReplayStore, load_store  # noqa: E402
from tests.support.seed_cmc import load_seed_cmc  # noqa: E402
from tests.support.shared import SHARED_ENV, locate_shared  # noqa: E402

# The suite keeps parsed stores in a cache of its own, never the user's (and
# fresh per run, so a test never sees another run's entries).
_CACHE = tempfile.mkdtemp(prefix="tts-dsl-test-cache-")
os.environ["TTS_DSL_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

PUBLISHED_CSV = "reference/aime24_published.csv"
DISCOVERY_CSV = "reference/discovery_aime24.csv"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared`; skips (or, under CI=true, fails) when it is not there."""
    path, how = locate_shared()
    missing = [rel for rel in ("replay/autotts", "reference") if not (path / rel).is_dir()]
    if missing:
        msg = (
            f"shared data not found at {path} ({how}); missing {', '.join(missing)}. "
            f"Put the project's shared/ folder beside the repository or set {SHARED_ENV}."
        )
        if in_ci():
            pytest.fail(f"CI=true: {msg}", pytrace=False)
        pytest.skip(msg)
    return path


StoreLoader = Callable[[str, str], ReplayStore]


@pytest.fixture(scope="session")
def shared_store(shared_dir: Path) -> StoreLoader:
    """`shared_store(model, dataset)` -> the loaded store, each loaded once per session."""
    cache: dict[tuple[str, str], ReplayStore] = {}

    def get(model: str, dataset: str) -> ReplayStore:
        key = (model, dataset)
        if key not in cache:
            cache[key] = load_store(shared_dir / "replay" / "autotts" / model / f"{dataset}.json")
        return cache[key]

    return get


@pytest.fixture(scope="session")
def published_aime24(shared_dir: Path) -> pd.DataFrame:
    """`reference/aime24_published.csv` (model, dataset, controller, params,
    accuracy, avg_tokens)."""
    return pd.read_csv(shared_dir / PUBLISHED_CSV, dtype={"params": str})


@pytest.fixture(scope="session")
def discovery_aime24(shared_dir: Path) -> pd.DataFrame:
    """`reference/discovery_aime24.csv` (round, controller, model, dataset, beta,
    accuracy, avg_tokens)."""
    return pd.read_csv(shared_dir / DISCOVERY_CSV)


@pytest.fixture(scope="session")
def seed_cmc_class(shared_dir: Path) -> type:
    """The seed's CMC class, cut out of the shared README at run time."""
    return load_seed_cmc(shared_dir)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `vm` need the VM extension: without it (no C compiler at
    install) they are skipped, and `test_vm_is_built` fails under CI=true."""
    from autotts_dsl import vm

    if vm.available():
        return
    skip = pytest.mark.skip(reason="the VM extension autotts_dsl._vm is not built")
    for item in items:
        if "vm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_user_store_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read the user's `stores.conf` (`tts-dsl stores add`): the
    config directory points at an empty one unless a test sets its own."""
    if "TTS_DSL_CONFIG" in os.environ:
        yield
        return
    os.environ["TTS_DSL_CONFIG"] = str(tmp_path_factory.mktemp("config"))
    try:
        yield
    finally:
        os.environ.pop("TTS_DSL_CONFIG", None)
