"""The parse cache (autotts_dsl/parse_cache.py): a program file's AST is read
back instead of parsed again, and only when it is exactly what parsing the
same text with the same parser would give."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from autotts_dsl import parse_cache
from autotts_dsl.diagnostics import DiagnosticError
from autotts_dsl.parser import parse, parse_file

REPO_ROOT = Path(__file__).resolve().parent.parent
CMC = (REPO_ROOT / "stdlib_controllers" / "cmc.tts").read_text(encoding="utf-8")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TTS_DSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "programs"


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle")) if folder.exists() else []


def test_a_cached_parse_is_the_parse(cache: Path) -> None:
    first = parse(CMC, "cmc.tts", cached=True)
    assert len(entries(cache)) == 1
    again = parse(CMC, "cmc.tts", cached=True)
    assert again == first == parse(CMC, "cmc.tts")
    assert repr(again) == repr(first)  # spans and all
    assert len(entries(cache)) == 1


def test_text_parsed_in_process_is_not_kept(cache: Path) -> None:
    parse(CMC, "cmc.tts")
    assert entries(cache) == []


def test_an_edit_is_a_new_entry_and_a_syntax_error_is_never_kept(cache: Path) -> None:
    parse(CMC, cached=True)
    edited = CMC.replace("controller cmc", "controller cmc2", 1)
    assert parse(edited, cached=True).name == "cmc2"
    assert len(entries(cache)) == 2
    with pytest.raises(DiagnosticError):
        parse(CMC + "\n}", cached=True)
    with pytest.raises(DiagnosticError):  # and the error is found again, from the text
        parse(CMC + "\n}", cached=True)
    assert len(entries(cache)) == 2


def test_a_corrupt_or_foreign_entry_is_a_miss(cache: Path) -> None:
    want = parse(CMC, cached=True)
    (entry,) = entries(cache)
    for junk in (b"", b"not a pickle", b"\x80\x05N."):  # the last: a valid pickle of None
        entry.write_bytes(junk)
        assert parse(CMC, cached=True) == want
    other = parse(CMC.replace("controller cmc", "controller other", 1))
    entry.write_bytes(pickle.dumps(("wrong key", other)))
    assert parse(CMC, cached=True) == want


def test_changing_the_parser_code_changes_every_key(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parse(CMC, cached=True)
    parse_cache.parser_digest.cache_clear()
    monkeypatch.setattr(parse_cache, "FORMAT", parse_cache.FORMAT + 1)
    try:
        parse(CMC, cached=True)
        assert len(entries(cache)) == 2
    finally:
        parse_cache.parser_digest.cache_clear()


def test_off_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_DSL_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert parse(CMC, cached=True) == parse(CMC)
    assert list(tmp_path.rglob("*.pickle")) == []


def test_the_cache_keeps_at_most_max_entries(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_cache, "MAX_ENTRIES", 8)
    for i in range(20):
        parse(CMC.replace("controller cmc", f"controller c{i}", 1), cached=True)
    assert 0 < len(entries(cache)) <= 8
    assert parse(CMC.replace("controller cmc", "controller c19", 1), cached=True).name == "c19"


def test_an_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TTS_DSL_CACHE", str(blocker))  # a file where a directory should be
    assert parse(CMC, cached=True) == parse(CMC)


def test_parse_file_goes_through_the_cache(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.tts"
    path.write_text(CMC.replace("\n", "\r\n"), encoding="utf-8")
    program, source = parse_file(path)
    assert "\r" not in source and program == parse(CMC)
    assert len(entries(cache)) == 1


def test_a_warm_check_does_not_import_lark(tmp_path: Path) -> None:
    """What the cache is for: the second `tts-dsl check cmc` parses nothing."""
    script = (
        "import io, json, sys, contextlib\n"
        "from autotts_dsl.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
        "    code = main(['check', 'cmc'])\n"
        "print(json.dumps({'code': code, 'lark': 'lark' in sys.modules}))\n"
    )
    env = {"TTS_DSL_CACHE": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"}
    seen = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        seen.append(json.loads(done.stdout.splitlines()[-1]))
    assert seen == [{"code": 0, "lark": True}, {"code": 0, "lark": False}]
