"""The README's figures on the length signal (the votes of shorter traces
count more) are what `benchmarks/discovery_limits.py` measures on the eight
held-out stores."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import autotts_dsl as tts
from tests.conftest import StoreLoader
from tests.support.shared import MODELS

ROOT = Path(__file__).parent.parent


def _limits() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "discovery_limits", ROOT / "benchmarks" / "discovery_limits.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme() -> str:
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


@pytest.mark.shared
@pytest.mark.slow
def test_readme_length_signal_figures_are_measured(shared_store: StoreLoader) -> None:
    limits = _limits()
    stores = [shared_store(m, d) for m in MODELS for d in ("aime25", "hmmt25")]
    text = _readme()

    full = re.search(r"votes weighted by 1/length are \+([\d.]+) and \+([\d.]+) points", text)
    assert full, "README: full-read figures"
    acc = limits.full_read_votes(stores, [16, 32], 100)
    for n, stated in zip((16, 32), full.groups(), strict=True):
        gain = 100 * (acc[("1/length", n)] - acc[("plain", n)])
        assert f"{gain:.1f}" == stated, (n, gain)

    cmc = re.search(r"CMC's answers weighted the same way gain only \+([\d.]+) to \+([\d.]+)", text)
    assert cmc, "README: CMC figures"
    variants = limits.pool_vote_variants()
    rows = tts.run(list(variants.values()), stores, betas=list(limits.BETAS), seeds=100)
    mean = rows.groupby(["program", "beta"])["accuracy"].mean()
    plain = variants["plain vote (CMC)"].name
    gains = [
        mean[(p.name, b)] - mean[(plain, b)]
        for p in variants.values()
        if p.name != plain
        for b in limits.BETAS
    ]
    assert (f"{np.min(gains):.2f}", f"{np.max(gains):.2f}") == cmc.groups(), gains
