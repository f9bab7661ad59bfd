"""User text is text: paths, program and store names, descriptions print
exactly as given, never as rich markup (`[/]`, `[bold]`, `:smile:`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotts_dsl.cli.console import print_error, stderr_console
from autotts_dsl.programs import STDLIB_DIR
from tests.support.cli import run_cli, write_store

# Pieces rich would read as markup, emoji codes, escapes or path syntax.
PIECES = [
    *("[", "]", "[/]", "[b]", "[red]", "[/red]", "[link=x]", "\\", ":smile:", ":x:"),
    *("a", "1", " ", "=", "%", "#", "{", "}", "'", '"', "$", "*", "@", "/"),
]

names = (
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6)
    .map("".join)
    .map(lambda s: s.strip(" /"))  # no leading/trailing separators or blanks
    .filter(lambda s: s and "//" not in s and not any(p in (".", "..") for p in s.split("/")))
)

FAST = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _fresh(tmp_path: Path) -> Path:
    d = tmp_path / "case"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    return d


@FAST
@given(name=names)
def test_check_prints_a_program_path_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = _fresh(tmp_path) / f"{name}.tts"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(STDLIB_DIR / "sc.tts", path)
    code, out, err = run_cli(capsys, "check", str(path))
    assert code == 0, err
    assert f"{path}: ok" in out
    assert "Traceback" not in out + err


@FAST
@given(name=names)
def test_missing_program_is_named_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    spec = str(tmp_path / f"{name}.tts")
    for argv in (["run", spec, "--seeds", "1"], ["check", spec], ["fmt", spec]):
        code, out, err = run_cli(capsys, *argv)
        assert out == ""
        assert code == 2, (argv, err)
        assert f"error: {spec}" in err, err
        assert "Traceback" not in err


@FAST
@given(name=names)
def test_run_prints_store_names_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    store = write_store(_fresh(tmp_path) / "models" / f"{name}.json", 3, 6)
    code, out, err = run_cli(capsys, "run", "sc", "--seeds", "1", "--no-baseline", "-s", str(store))
    assert code == 0, err
    shown = f"{store.parent.name}/{store.name.removesuffix('.json')}"  # the last two parts
    assert shown in out, out
    code, out, _ = run_cli(
        capsys, "run", "sc", "--seeds", "1", "--no-baseline", "-s", str(store), "--json"
    )
    assert json.loads(out)["results"][0]["store"] == shown


def test_the_reported_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The two cases of the issue: a traceback, and a file reported as `.tts`."""
    code, _, err = run_cli(capsys, "run", "a[/]b.tts")
    assert code == 2 and "error: a[/]b.tts: no such file" in err
    prog = tmp_path / "[x].tts"
    shutil.copy(STDLIB_DIR / "sc.tts", prog)
    code, out, _ = run_cli(capsys, "check", str(prog))
    assert code == 0 and f"{prog}: ok" in out


def test_descriptions_and_names_in_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prog = tmp_path / "p.tts"
    prog.write_text(
        'controller p "[bold]not bold[/bold] :smile:"\n'
        "schedule { n : int up = 2 + round(2*beta) }\n"
        "init { read_full n }\nfinally { answer winner(completed) }\n"
    )
    target = tmp_path / "[red]" / "q.tts"
    target.parent.mkdir()
    code, out, err = run_cli(capsys, "new", str(target), "--from", str(prog))
    assert code == 0, err
    assert f"wrote {target} (controller q)" in out
    copied = target.read_text()
    assert 'controller q "[bold]not bold[/bold] :smile:"' in copied
    assert f"# Started from {prog}" in copied


def test_error_lines_never_read_markup(capsys: pytest.CaptureFixture[str]) -> None:
    print_error(stderr_console(), "x [/] y [bold]z :smile:")
    assert capsys.readouterr().err == "error: x [/] y [bold]z :smile:\n"


def test_sweep_labels_and_failures_print_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prog = tmp_path / "[b]x[:smile:].tts"
    shutil.copy(STDLIB_DIR / "sc.tts", prog)
    out_dir = tmp_path / "o"
    argv = ["sweep", str(prog), "--betas", "0,1", "--seeds", "1", "--jobs", "1"]
    code, out, err = run_cli(capsys, *argv, "--no-plot", "--out", str(out_dir))
    assert code == 0, err
    assert "[b]x[:smile:]" in out
