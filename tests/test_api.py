"""The public API: docs/api.md's worked example runs as written, and the
API's rows are the sweep's rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import autotts_dsl as tts
from autotts_dsl.sweeps.results import TIDY_COLUMNS

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.vm
def test_the_worked_example_runs_as_written() -> None:
    blocks = doc_blocks()
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for n, block in enumerate(blocks):
        try:
            exec(compile(block, f"{DOC}:block{n}", "exec"), namespace)
        except Exception as exc:  # the doc's block number makes a failure findable
            raise AssertionError(f"docs/api.md block {n} failed: {exc!r}\n{block}") from exc


def test_columns_are_the_sweep_csv_columns() -> None:
    assert tts.COLUMNS == TIDY_COLUMNS


def test_run_matches_the_cli_sweep_rows(tmp_path: Path) -> None:
    """`tts.run` gives what `tts-dsl sweep` writes to results.csv (the same
    cells, the same numbers), so the two cannot drift."""
    from autotts_dsl.cli.main import main
    from autotts_dsl.sweeps.results import read_tidy_csv

    got = tts.run(["cmc", "asc"], None, betas=[0.0, 1.0], seeds=5)
    code = main(["sweep", "cmc", "asc", "--betas", "0,1", "--seeds", "0:5", "--out", str(tmp_path)])
    assert code == 0
    want = [r for r in read_tidy_csv(tmp_path / "results.csv") if r["role"] == "sweep"]
    key = ("program", "beta", "store", "accuracy", "avg_tokens", "avg_seq_tokens")
    assert sorted(tuple(r[k] for k in key) for r in got.to_dict("records")) == sorted(
        tuple(r[k] for k in key) for r in want
    )


def test_load_errors_are_diagnostics() -> None:
    with pytest.raises(tts.ProgramError) as err:
        tts.load("controller x\nround { spawn }\nfinally { answer none }")
    assert err.value.diagnostics and err.value.diagnostics[0].code == "E001"
    with pytest.raises(FileNotFoundError, match="no such file or stdlib controller"):
        tts.load("no_such_program")


def test_check_reports_render_as_html() -> None:
    report = tts.check("cmc")
    html = report._repr_html_()
    assert "cmc" in html and "<table" in html
    assert "<table" in tts.load("cmc")._repr_html_()


def test_every_export_resolves_to_its_module() -> None:
    """The lazy table of `autotts_dsl.api` is each module's `__all__`, no
    more and no less, and every name loads (from the package too)."""
    import importlib
    import pkgutil

    import autotts_dsl.api as api

    modules = [m.name for m in pkgutil.iter_modules(api.__path__)]
    declared: dict[str, str] = {}
    for name in modules:
        module = importlib.import_module(f"autotts_dsl.api.{name}")
        for export in module.__all__:
            declared.setdefault(export, name)
    assert declared == api.EXPORTS
    for export in api.EXPORTS:
        assert getattr(api, export) is getattr(tts, export), export
    # A submodule named like a function would replace it once imported.
    assert not set(modules) & set(api.EXPORTS), set(modules) & set(api.EXPORTS)


def test_api_functions_are_documented() -> None:
    """docs/api.md names every public function and type of the API."""
    import autotts_dsl.api as api

    doc = DOC.read_text(encoding="utf-8")
    missing = [n for n in api.EXPORTS if f"`{n}" not in doc]
    assert not missing, missing
