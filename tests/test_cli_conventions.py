"""CLI conventions: no abbreviations, `--store A B`, short flags, bare
`tts-dsl`, exit codes that agree across commands, lazy imports."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autotts_dsl.cli.common import BACKEND_CHOICES
from autotts_dsl.cli.main import COMMANDS, build_parser
from autotts_dsl.engines import BACKENDS
from autotts_dsl.trace import TRACE_LEVELS
from tests.support.cli import REPO_ROOT, run_cli, write_store

HEAVY = ("numba", "pandas", "matplotlib")


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                out += _all_parsers(child)
    return out


def test_no_parser_accepts_abbreviations() -> None:
    parsers = _all_parsers(build_parser(full=True))
    assert len(parsers) > len(COMMANDS)  # nested actions (stores add, search report) too
    assert [p.prog for p in parsers if p.allow_abbrev] == []


def test_seed_is_not_taken_for_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "sc", "--seed", "5")
    assert code == 2 and out == ""
    assert "unrecognized arguments: --seed 5" in err
    assert "usage: tts-dsl run" in err  # the command's own usage line
    code, _, err = run_cli(capsys, "sweep", "sc", "--out", "x", "--bet", "1")
    assert code == 2 and "--bet" in err


def test_store_takes_several_values_and_repeats(tmp_path: Path) -> None:
    parser = build_parser(full=True)
    a = parser.parse_args(["run", "cmc", "--store", "A", "B", "-s", "C"])
    assert a.store == ["A", "B", "C"]
    b = parser.parse_args(["sweep", "cmc", "asc", "-s", "A", "B", "-o", "out", "-b", "1"])
    assert (b.programs, b.store, b.out, b.betas) == (["cmc", "asc"], ["A", "B"], "out", "1")


def test_short_flags_for_common_options() -> None:
    parser = build_parser(full=True)
    a = parser.parse_args(["run", "cmc", "-b", "0.3", "-p", "n_init=3", "-o", "d", "-s", "x"])
    assert (a.beta, a.param, a.out, a.store) == ("0.3", ["n_init=3"], "d", ["x"])
    assert parser.parse_args(["run", "cmc", "--output-path", "d"]).out == "d"
    assert parser.parse_args(["sweep", "cmc", "-o", "d", "-j", "2"]).jobs == 2
    assert parser.parse_args(["explain", "cmc", "-b", "1"]).beta == "1"


def test_bare_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys)
    assert code == 0 and err == ""
    assert "usage: tts-dsl" in out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_suggests_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "chek", "cmc")
    assert code == 2 and out == ""
    assert "did you mean `check`?" in err


def test_choices_spelt_out_in_the_cli_match_the_library() -> None:
    from autotts_dsl.cli.run_cmd import TRACE_LEVELS as RUN_LEVELS
    from autotts_dsl.cli.sweep_cmd import TRACE_LEVELS as SWEEP_LEVELS

    assert BACKEND_CHOICES == BACKENDS
    assert RUN_LEVELS == SWEEP_LEVELS == TRACE_LEVELS


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--param", "nosuch=1"], 2),  # names a param the program lacks: usage
        (["--param", "n_init=two"], 2),  # a value of the wrong type: usage
        (["--store", "no/such/store"], 2),
        (["--seeds", "0"], 2),
    ],
)
def test_exit_codes_agree_between_run_and_sweep(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], code: int
) -> None:
    run_code, run_out, run_err = run_cli(capsys, "run", "cmc", "--seeds", "1", *args)
    sweep_code, _, sweep_err = run_cli(
        capsys, "sweep", "cmc", "--betas", "1", "--seeds", "1", "--out", str(tmp_path), *args
    )
    assert (run_code, sweep_code) == (code, code), (run_err, sweep_err)
    assert run_out == ""
    assert "Traceback" not in run_err + sweep_err


def test_a_program_error_is_1_and_on_stderr_in_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tts"
    bad.write_text("controller bad\ninit { spawn 2 }\nfinally { answer gold }\n")
    for argv in (
        ["run", str(bad), "--seeds", "1"],
        ["check", str(bad)],
        ["explain", str(bad)],
        ["sweep", str(bad), "--betas", "1", "--seeds", "1", "--out", str(tmp_path / "o")],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 1, argv
        assert "error[E101]: unknown name `gold`" in err, argv
        assert "E101" not in out, argv


def test_fmt_accepts_stdlib_names_and_never_writes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from autotts_dsl.programs import STDLIB_DIR

    before = (STDLIB_DIR / "cmc.tts").read_bytes()
    code, out, _ = run_cli(capsys, "fmt", "--check", "cmc", "asc")
    assert code == 0 and out == ""
    code, out, _ = run_cli(capsys, "fmt", "cmc")
    assert code == 0 and out == before.decode("utf-8")
    assert (STDLIB_DIR / "cmc.tts").read_bytes() == before
    code, _, err = run_cli(capsys, "fmt", "cmx")
    assert code == 2 and "did you mean `cmc`?" in err


def test_fmt_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr(
        sys, "stdin", io.StringIO("controller p\ninit{spawn 2}\nfinally{answer none}\n")
    )
    code, out, _ = run_cli(capsys, "fmt", "-")
    assert code == 0 and "init { spawn 2 }" in out


def _modules_after(argv: list[str]) -> dict[str, object]:
    """Run `tts-dsl ARGV` in a fresh interpreter; report what it imported."""
    script = (
        "import io, json, sys, contextlib\n"
        "from autotts_dsl.cli.main import main\n"
        "buf = io.StringIO()\n"
        "try:\n"
        "    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):\n"
        f"        code = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "roots = sorted({m.split('.')[0] for m in sys.modules})\n"
        "print(json.dumps({'code': code, 'roots': roots, 'out': buf.getvalue()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "argv", [["--help"], ["check", "cmc"], ["check", "cmc", "--json"], ["run", "--help"], []]
)
def test_help_and_check_import_nothing_heavy(argv: list[str]) -> None:
    """`tts-dsl --help` and `tts-dsl check` stay light (issue 17): a test that
    fails as soon as their path imports numba, pandas or matplotlib (or
    numpy, which check does not need either)."""
    got = _modules_after(argv)
    roots = set(got["roots"])  # type: ignore[arg-type]
    assert got["code"] == 0, got["out"]
    assert not roots & {*HEAVY, "numpy"}, sorted(roots & {*HEAVY, "numpy"})


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_run_does_not_import_numpy_plotting_or_tables(backend: str) -> None:
    """A one-store run (with its SC@64 column) evaluates on `array.array`s:
    numpy's import was a quarter of the whole process (issue 17)."""
    argv = ["run", "cmc", "--beta", "0.5", "--seeds", "2", "--json", "--backend", backend]
    got = _modules_after(argv)
    assert got["code"] == 0, got["out"]
    assert not set(got["roots"]) & {"numpy", "pandas", "matplotlib"}  # type: ignore[arg-type]


def test_store_names_and_files_in_one_store_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = write_store(tmp_path / "m" / "a.json", seed=1)
    b = write_store(tmp_path / "m" / "b.json", seed=2)
    code, out, err = run_cli(
        capsys, "run", "sc", "--seeds", "1", "--json", "--no-baseline", "--store", str(a), str(b)
    )
    assert code == 0, err
    assert [r["store"] for r in json.loads(out)["results"]] == ["m/a", "m/b"]


def _readme_commands() -> list[list[str]]:
    """Every `tts-dsl ...` command in the README's code blocks."""
    import re
    import shlex

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    # fenced blocks with their language tag: only untagged (shell) ones hold commands
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)
    commands = []
    for lang, block in blocks:
        if lang not in ("", "sh", "bash", "console"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                part = part.split(" #")[0].split(">")[0].strip()
                if part.startswith("tts-dsl "):
                    commands.append(shlex.split(part)[1:])
    return commands


def test_every_readme_command_parses() -> None:
    commands = _readme_commands()
    assert len(commands) >= 15
    parser = build_parser(full=True)
    for argv in commands:
        argv = [a for a in argv if not (a.startswith("[") and a.endswith("]"))]  # [--check]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"README: tts-dsl {' '.join(argv)}") from exc


def test_readme_examples_write_under_out() -> None:
    """No example leaves files in the repository root (issue 15, item 5)."""
    for argv in _readme_commands():
        for flag in ("--out", "-o", "--trace", "--output-path"):
            if flag in argv:
                value = argv[argv.index(flag) + 1]
                assert value.startswith("out/"), (flag, value, argv)
