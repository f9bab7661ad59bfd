"""The docs cannot drift from the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from autotts_dsl.builtins import BRANCH_FIELDS, BUILTIN_VALUES, BUILTINS
from autotts_dsl.programs import load_program, stdlib_names
from autotts_dsl.refcard import builtins_markdown, reference_card

ROOT = Path(__file__).resolve().parent.parent


def test_builtins_md_is_generated_from_the_table() -> None:
    on_disk = (ROOT / "docs" / "builtins.md").read_text(encoding="utf-8")
    assert on_disk == builtins_markdown(), (
        "docs/builtins.md is stale: run `python -m autotts_dsl.refcard > docs/builtins.md`"
    )


def test_reference_card_names_every_builtin() -> None:
    card = reference_card()
    for row in BUILTINS:
        assert row.signature in card
    for value in BUILTIN_VALUES:
        assert value.name in card
    for field in BRANCH_FIELDS:
        assert f"b.{field.name}" in card


def test_language_doc_lists_every_compiler_diagnostic_code() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    files = [
        *sorted((ROOT / "autotts_dsl" / "compiler").glob("*.py")),
        ROOT / "autotts_dsl" / "parser.py",
    ]
    source = "".join(f.read_text(encoding="utf-8") for f in files)
    codes = set(re.findall(r'"(E[01]\d\d)"', source))
    assert codes, "no diagnostic codes found in the compiler"
    missing = sorted(c for c in codes if f"| {c} |" not in doc)
    assert not missing, f"docs/language.md does not document {missing}"


def test_readme_lists_every_stdlib_controller_that_it_documents() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("sc", "asc", "esc", "parallel_probe", "cmc"):
        assert name in stdlib_names()
        assert f"`{name}`" in readme


def test_cmc_is_short() -> None:
    # The point of the language: CMC in well under 100 lines (the Python is ~500).
    runner = load_program("cmc")
    assert len(runner.source.splitlines()) < 100


def test_stdlib_programs_are_canonically_formatted() -> None:
    from autotts_dsl.fmt import fmt
    from autotts_dsl.programs import STDLIB_DIR

    stale = [
        p.name
        for p in sorted(STDLIB_DIR.glob("*.tts"))
        if fmt(p.read_text(encoding="utf-8"), str(p)) != p.read_text(encoding="utf-8")
    ]
    assert not stale, f"run `tts-dsl fmt stdlib_controllers/*.tts`: {stale}"


def test_stdlib_programs_check_clean() -> None:
    from autotts_dsl.check import check_source
    from autotts_dsl.programs import STDLIB_DIR

    for p in sorted(STDLIB_DIR.glob("*.tts")):
        report = check_source(p.read_text(encoding="utf-8"), str(p))
        assert report.ok, report.render()
