"""`tts-dsl new`, `stdlib`, shell completion, and the LICENSE in the wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autotts_dsl.programs import STDLIB_DIR, stdlib_names
from tests.support.cli import REPO_ROOT, run_cli


def test_new_template_checks_formats_and_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "new", "mine")
    assert code == 0, err
    assert "wrote mine.tts (controller mine)" in out
    text = (tmp_path / "mine.tts").read_text()
    assert "controller mine " in text
    code, out, err = run_cli(capsys, "check", "mine.tts")
    assert code == 0 and err == "" and "3/3 knob directions proved" in out  # no warnings
    assert run_cli(capsys, "fmt", "--check", "mine.tts")[0] == 0
    code, out, err = run_cli(capsys, "run", "mine.tts", "--seeds", "2", "--json", "--no-baseline")
    assert code == 0, err
    assert json.loads(out)["results"][0]["accuracy"] > 0


def test_new_from_stdlib_is_the_same_controller_renamed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "sub" / "my_cmc.tts"
    target.parent.mkdir()
    code, _, err = run_cli(capsys, "new", str(target), "--from", "cmc")
    assert code == 0, err
    text = target.read_text()
    assert text.startswith("# Started from stdlib/cmc.tts")
    assert "controller my_cmc " in text and "controller cmc" not in text
    argv = ["--seeds", "2", "--json", "--no-baseline"]
    mine = json.loads(run_cli(capsys, "run", str(target), *argv)[1])["results"][0]
    ref = json.loads(run_cli(capsys, "run", "cmc", *argv)[1])["results"][0]
    for key in ("accuracy", "avg_tokens", "avg_seq_tokens", "mean_opened"):
        assert mine[key] == ref[key], key


def test_new_never_overwrites_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "x.tts"
    target.write_text("keep me")
    code, _, err = run_cli(capsys, "new", str(target))
    assert code == 2 and "--force" in err and target.read_text() == "keep me"
    assert run_cli(capsys, "new", str(target), "--force", "--from", "sc")[0] == 0
    assert "controller x " in target.read_text()


@pytest.mark.parametrize(
    ("name", "why"), [("1abc", "cannot be a controller name"), ("round", "reserved word")]
)
def test_new_rejects_bad_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, why: str
) -> None:
    code, out, err = run_cli(capsys, "new", str(tmp_path / f"{name}.tts"))
    assert code == 2 and out == "" and why in err
    assert not (tmp_path / f"{name}.tts").exists()
    code, _, err = run_cli(capsys, "new", "ok", "--from", "cmx", "--stdout")
    assert code == 2 and "did you mean `cmc`?" in err


def test_new_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "new", "abc", "--stdout", "--from", "sc")
    assert code == 0 and "controller abc " in out


def test_stdlib_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "stdlib")
    assert code == 0
    for name in stdlib_names():
        assert any(line.split()[:1] == [name] for line in out.splitlines()), name
    assert "Confidence Momentum Controller" in out
    code, out, _ = run_cli(capsys, "stdlib", "show", "cmc")
    assert code == 0 and out == (STDLIB_DIR / "cmc.tts").read_text()
    code, _, err = run_cli(capsys, "stdlib", "show", "nope")
    assert code == 2 and "no such file or stdlib controller" in err


# ---------------------------------------------------------------------------
# Shell completion


def _bash_complete(script: Path, *words: str) -> list[str]:
    """What bash offers for `tts-dsl WORDS...` (the last word being typed)."""
    quoted = " ".join(f"'{w}'" for w in ("tts-dsl", *words))
    program = (
        f"source {script}\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words)}\n"
        '_tts_dsl\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "completion", "bash")
    assert code == 0
    script = tmp_path / "tts-dsl.bash"
    script.write_text(out)
    assert "run" in _bash_complete(script, "")
    assert sorted(_bash_complete(script, "sto")) == ["store", "stores"]
    assert _bash_complete(script, "stores", "a") == ["add"]
    assert _bash_complete(script, "run", "cm") == ["cmc", "cmc_gated", "cmc_patient"]
    assert _bash_complete(script, "run", "cmc_") == ["cmc_gated", "cmc_patient"]
    assert _bash_complete(script, "run", "cmc", "--backend", "v") == ["vm"]
    assert set(_bash_complete(script, "run", "cmc", "--st")) == {"--store"}
    assert _bash_complete(script, "run", "cmc", "--seed") == ["--seeds"]  # only real options
    assert _bash_complete(script, "new", "x", "--from", "dg") == ["dgcc"]
    assert _bash_complete(script, "stores", "add", "") == []  # files, from bash itself


def test_zsh_and_fish_completion(capsys: pytest.CaptureFixture[str]) -> None:
    code, zsh, _ = run_cli(capsys, "completion", "zsh")
    assert code == 0 and "bashcompinit" in zsh and "complete -o default" in zsh
    code, fish, _ = run_cli(capsys, "completion", "fish")
    assert code == 0
    assert "complete -c tts-dsl -n '__fish_use_subcommand' -a run" in fish
    assert "-l backend -x -a 'auto vm reference'" in fish
    assert "-s b" in fish and "-l beta" in fish
    assert "'__fish_seen_subcommand_from stores; and not __fish_seen_subcommand_from" in fish


# ---------------------------------------------------------------------------
# The LICENSE


def test_license_is_mit_and_declared_for_the_wheel() -> None:
    text = (REPO_ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    project = (REPO_ROOT / "pyproject.toml").read_text().split("[project]")[1].split("\n[")[0]
    lines = [line.replace(" ", "") for line in project.splitlines()]
    assert 'license="MIT"' in lines and 'license-files=["LICENSE"]' in lines


@pytest.mark.slow
def test_the_wheel_ships_the_license(tmp_path: Path) -> None:
    """Builds the wheel (pip, isolated build: fetches setuptools>=77)."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO_ROOT,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "out", "build", "*.egg-info"),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "w"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "w").glob("tts_dsl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    licenses = [n for n in names if n.endswith("/licenses/LICENSE")]
    assert licenses, names
    assert zipfile.ZipFile(wheel).read(licenses[0]).decode().startswith("MIT License")
