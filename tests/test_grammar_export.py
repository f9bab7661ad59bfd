"""`tts-dsl grammar` and the translation itself (no decoder involved; the
matcher tests are in test_grammar_llguidance.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.grammar_export import (
    GrammarExportError,
    export_grammar,
    llguidance_grammar,
)
from autotts_dsl.grammar_keywords import NameSite, keyword_exclusions, keyword_terminals
from autotts_dsl.lark_front import _lark
from autotts_dsl.parser import GRAMMAR_PATH
from autotts_dsl.search.backends import Message, OpenAIBackend
from tests.test_search_fixtures import Step, serve

ROOT = Path(__file__).resolve().parent.parent
SOURCE = GRAMMAR_PATH.read_text(encoding="utf-8")
EXPORT = export_grammar("llguidance")


def test_the_lark_dialect_is_the_source_of_truth() -> None:
    assert export_grammar("lark") == SOURCE
    assert (ROOT / "grammar" / "tts.lark").read_text(encoding="utf-8") == SOURCE


def test_the_export_keeps_every_comment_string_and_directive_of_the_source() -> None:
    for line in SOURCE.splitlines():
        if line.startswith("//") or line.startswith("%"):
            assert line in EXPORT.splitlines()
    for literal in set(re.findall(r'"[^"\n]*"', SOURCE)):
        assert literal in EXPORT
    for regexp in set(re.findall(r"/[^/\n]+/", SOURCE)):
        assert regexp in EXPORT, regexp


def test_the_export_differs_only_by_the_documented_rewrites() -> None:
    assert "FLOAT.2" in SOURCE and "FLOAT.2" not in EXPORT
    assert "start: LEADING_IGNORED? header section*" in EXPORT
    assert "?expr: ternary _word_after_expression?" in EXPORT
    assert "NAME_1: NAME & ~(" in EXPORT
    rewritten = [n for n in re.findall(r"\bNAME(?:_\d+)?\b", EXPORT) if n != "NAME"]
    assert rewritten  # some occurrences carry an exclusion...
    assert 'postfix "." NAME' in EXPORT  # ...a field name never does (b.answer)


def test_keyword_sets_come_from_lark_tables() -> None:
    sets = keyword_exclusions(SOURCE)
    expression = sets[NameSite("atom", "name", 0)]
    assert expression == {"true", "false", "none", "not"}
    assert sets[NameSite("postfix", "field", 0)] == frozenset()
    assert sets[NameSite("let_stmt", None, 0)] == frozenset()
    assert {"let", "if", "stop", "elif", "else"} <= sets[NameSite("assign_stmt", "assign_var", 0)]
    assert "round" not in expression  # the round counter reads as a name
    words = set(keyword_terminals(_lark()).values())
    assert all(s <= words for s in sets.values())


def test_shapes_the_translation_cannot_map_are_refused() -> None:
    grouped = SOURCE.replace('let_stmt: "let" NAME "=" expr', 'let_stmt: "let" (NAME) "=" expr')
    with pytest.raises(GrammarExportError, match="inside a group"):
        llguidance_grammar(grouped)
    prioritized = SOURCE.replace("INT: /[0-9]+/", "INT.3: /[0-9]+/")
    with pytest.raises(GrammarExportError, match="priority on `INT`"):
        llguidance_grammar(prioritized)
    with pytest.raises(GrammarExportError, match="unknown dialect"):
        export_grammar("gbnf")


def test_cli_prints_and_writes_the_grammar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["grammar"]) == 0
    assert capsys.readouterr().out == EXPORT
    assert main(["grammar", "--dialect", "lark"]) == 0
    assert capsys.readouterr().out == SOURCE
    out = tmp_path / "tts.llguidance.lark"
    assert main(["grammar", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == EXPORT
    assert main(["grammar", "-o", str(out / "under-a-file.lark")]) == 2
    assert "cannot write" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["grammar", "--dialect", "gbnf"])
    assert exc.value.code == 2


def test_the_request_in_docs_is_the_one_the_backend_sends() -> None:
    doc = (ROOT / "docs" / "grammar.md").read_text(encoding="utf-8")
    body = json.loads(re.search(r"```json\n(.*?)```", doc, re.DOTALL).group(1))  # type: ignore[union-attr]
    for fake in serve([Step("controller x finally { answer 1 }")]):
        backend = OpenAIBackend(body["model"], fake.base + "/v1", None, grammar=EXPORT)
        backend.complete([Message(m["role"], m["content"]) for m in body["messages"]], 4000)
        sent = fake.requests[0]
    assert sent.keys() == body.keys()
    assert sent["structured_outputs"] == {"grammar": EXPORT}
    assert EXPORT.startswith(body["structured_outputs"]["grammar"].split(" ...")[0])
    assert {k: sent[k] for k in ("model", "max_tokens", "temperature")} == {
        k: body[k] for k in ("model", "max_tokens", "temperature")
    }
