"""Every program in tests/broken/ is rejected (or warned about) with exactly
the diagnostics its `# expect: CODE LINE` header lines name — no more, no
fewer."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from autotts_dsl.checker import check_source

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.tts"))
EXPECT = re.compile(r"^# expect: ([EW]\d{3}) (\d+)\s*$")


def expectations(text: str) -> Counter[tuple[str, int]]:
    out: Counter[tuple[str, int]] = Counter()
    for line in text.splitlines():
        m = EXPECT.match(line)
        if m is None:
            break  # expectations come first
        out[(m.group(1), int(m.group(2)))] += 1
    return out


def test_the_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_program(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    want = expectations(text)
    assert want, f"{path.name} must start with `# expect: CODE LINE`"
    report = check_source(text, str(path))
    got = Counter((d.code, d.span.line) for d in report.diagnostics)
    assert got == want, report.render()


def test_the_corpus_covers_the_checker_codes() -> None:
    codes = {code for p in FILES for code, _ in expectations(p.read_text(encoding="utf-8"))}
    checker = {
        "E201", "E202", "E203", "E204", "E205", "E206", "E210", "E211", "E212", "E213",
        "E214", "W201", "W202", "W203", "W204", "W301", "W302", "W303", "W304", "W305", "W306",
        "W307", "W308", "W309", "W310",
    }  # fmt: skip
    assert checker <= codes, sorted(checker - codes)
