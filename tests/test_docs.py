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
    from autotts_dsl.checker import check_source
    from autotts_dsl.programs import STDLIB_DIR

    for p in sorted(STDLIB_DIR.glob("*.tts")):
        report = check_source(p.read_text(encoding="utf-8"), str(p))
        assert report.ok, report.render()


# ---------------------------------------------- examples in the docs are real output


def _fenced_block_starting(doc: str, start: str) -> str:
    """The fenced code block of `doc` whose first line starts with `start`."""
    for block in re.findall(r"```\n(.*?)```", doc, flags=re.S):
        if block.startswith(start):
            return block.rstrip("\n")
    raise AssertionError(f"no example starting with {start!r}")


def _render_one(source: str, path: str, code: str) -> str:
    from autotts_dsl.checker import check_source
    from autotts_dsl.diagnostics import render_all

    report = check_source(source, path)
    found = [d for d in report.diagnostics if d.code == code]
    assert len(found) == 1, report.render()
    return render_all(found, source, path).rstrip("\n")


def test_checker_md_e201_example_is_what_check_prints() -> None:
    doc = (ROOT / "docs" / "checker.md").read_text(encoding="utf-8")
    shown = _fenced_block_starting(doc, "error[E201]")
    source = (
        "controller t\nschedule {\n  x : float up = 0.9 - 0.1*beta\n}\n"
        "init { spawn round(10 * x) }\nfinally { answer winner(completed) }\n"
    )
    assert _render_one(source, "t.tts", "E201") == shown


def test_language_md_e101_example_is_what_check_prints() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    shown = _fenced_block_starting(doc, "error[E101]")
    line, col = map(int, re.search(r"cmc\.tts:(\d+):(\d+)", shown).groups())  # type: ignore[union-attr]
    lines = (ROOT / "stdlib_controllers" / "cmc.tts").read_text(encoding="utf-8").split("\n")
    at = lines[line - 1].rindex("conf_thresh")
    assert at + 1 == col  # the example misspells the name the doc points at
    lines[line - 1] = lines[line - 1][:at] + "conf_thres" + lines[line - 1][at + 11 :]
    assert _render_one("\n".join(lines), "cmc.tts", "E101") == shown


def _stdlib_warning_rows() -> dict[str, tuple[set[tuple[str, str]], set[int]]]:
    """checker.md's table of stdlib warnings: per controller, the (code,
    name) pairs and the line numbers its explanation cites."""
    doc = (ROOT / "docs" / "checker.md").read_text(encoding="utf-8")
    section = doc.split("## Expected warnings of the stdlib controllers", 1)[1].split("\n## ")[0]
    rows: dict[str, tuple[set[tuple[str, str]], set[int]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        warnings = set(re.findall(r"(W\d{3}) `(\w+)`", cells[1]))
        cited = {int(n) for n in re.findall(r"line (\d+)", cells[2])}
        for name in re.findall(r"`(\w+)`", cells[0]):
            had = rows.get(name, (set(), set()))
            rows[name] = (had[0] | warnings, had[1] | cited)
    return rows


def test_checker_md_stdlib_warnings_are_what_check_prints() -> None:
    from autotts_dsl.checker import check_source
    from autotts_dsl.programs import STDLIB_DIR

    rows = _stdlib_warning_rows()
    assert set(rows) == set(stdlib_names())
    for name, (warnings, cited) in rows.items():
        report = check_source((STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8"), name)
        got = {(d.code, d.message.split("`")[1]) for d in report.warnings}
        assert got == warnings, (name, got)
        site_lines = {
            int(n)
            for d in report.warnings
            for text in (d.message, *d.notes)
            for n in re.findall(r"line (\d+)", text)
        }
        assert cited <= site_lines, f"{name}: the doc cites lines {sorted(cited - site_lines)}"


def test_checker_md_lists_every_checker_code() -> None:
    doc = (ROOT / "docs" / "checker.md").read_text(encoding="utf-8")
    source = "".join(
        f.read_text(encoding="utf-8")
        for f in sorted((ROOT / "autotts_dsl" / "checker").glob("*.py"))
    )
    codes = set(re.findall(r'"([EW][2-4]\d\d)"', source))
    assert {"E214", "W308", "W401", "W402"} <= codes
    missing = sorted(c for c in codes if f"| {c} |" not in doc)
    assert not missing, f"docs/checker.md does not document {missing}"
