"""The stdlib controllers `tts-dsl search` found are the programs the search
picked. `cmc_gated`'s copy drops the search's duplicate gates and renames
its knobs, and must not change a single episode for it; `cmc_patient`'s is
the pick itself with a name and comments.

`tests/data/<name>_found.tts` is a final pick exactly as the search wrote it
(`final_pick.tts` of the run named in the stdlib file's header).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from autotts_dsl.fmt import format_program
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, load_program
from autotts_dsl.replay.registry import default_store
from autotts_dsl.replay.store import ReplayStore
from tests.conftest import StoreLoader
from tests.support.shared import DATASETS, MODELS

DATA = Path(__file__).parent / "data"
FOUND = DATA / "cmc_gated_found.tts"
CMC_SOURCE = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")
ARRAYS = ("answer", "correct", "cost", "seq_cost", "opened", "reads")


def same_episodes(store: ReplayStore, betas: tuple[float, ...], seeds: range) -> None:
    found, shipped = load_program(str(FOUND)), load_program("cmc_gated")
    for beta in betas:
        a = found.evaluate(store, beta, {}, seeds)
        b = shipped.evaluate(store, beta, {}, seeds)
        for name in ARRAYS:
            assert list(getattr(a, name)) == list(getattr(b, name)), (store.name, beta, name)


def test_found_and_shipped_agree_on_the_default_store() -> None:
    same_episodes(default_store(), (0.0, 0.25, 0.5, 0.75, 1.0), range(20))


def test_shipped_differs_from_cmc() -> None:
    # guards the test above against comparing CMC with itself
    cmc, shipped = load_program("cmc"), load_program("cmc_gated")
    a = cmc.evaluate(default_store(), 1.0, {}, range(20))
    b = shipped.evaluate(default_store(), 1.0, {}, range(20))
    assert list(a.cost) != list(b.cost)


def test_cmc_patient_is_the_pick_with_a_name() -> None:
    found = parse((DATA / "cmc_patient_found.tts").read_text(encoding="utf-8"))
    shipped = parse((STDLIB_DIR / "cmc_patient.tts").read_text(encoding="utf-8"))
    renamed = dataclasses.replace(found, name=shipped.name, description=shipped.description)
    assert format_program(renamed) == format_program(shipped)
    assert format_program(found) != format_program(parse(CMC_SOURCE))


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_found_and_shipped_agree_on_every_shared_store(
    model: str, dataset: str, shared_store: StoreLoader
) -> None:
    same_episodes(shared_store(model, dataset), (0.0, 0.25, 0.5, 0.75, 1.0), range(100))


def _readme_rows(name: str) -> dict[float, tuple[float, int]]:
    """β -> (accuracy, tokens) of `name` in the README's held-out table."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    header = f"| β | {name} acc % | {name} tokens |"
    table = readme[readme.index(header) :].split("\n\n", 1)[0].splitlines()[2:]
    rows = {}
    for line in table:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[float(cells[0])] = (float(cells[1]), int(cells[2].replace(",", "")))
    return rows


@pytest.mark.shared
@pytest.mark.slow
def test_readme_heldout_table_is_what_cmc_patient_does(shared_store: StoreLoader) -> None:
    # the README's figures for the found controller, re-measured: mean over
    # the eight held-out stores, 100 seeds, as `search report --heldout` prints
    program = load_program("cmc_patient")
    rows = _readme_rows("cmc_patient")
    assert sorted(rows) == [0.0, 0.25, 0.5, 0.75, 1.0]
    stores = [shared_store(m, d) for m in MODELS for d in ("aime25", "hmmt25")]
    for beta, (acc, tokens) in rows.items():
        evals = [program.evaluate(s, beta, {}, range(100)) for s in stores]
        mean_acc = sum(e.accuracy for e in evals) / len(evals)
        mean_tokens = sum(e.avg_tokens for e in evals) / len(evals)
        assert abs(mean_acc - acc) < 0.006, (beta, mean_acc, acc)
        assert abs(mean_tokens - tokens) <= 1, (beta, mean_tokens, tokens)
