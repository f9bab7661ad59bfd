"""`tts-dsl run`: checks first, reports progress, saves results with their
provenance."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from autotts_dsl import __version__, runs
from autotts_dsl.ast import program_hash
from autotts_dsl.cli.progress import ProgressReporter
from autotts_dsl.programs import load_program
from autotts_dsl.replay import registry
from tests.support.cli import run_cli, write_store

DOWN_DECLARED_UP = (
    "controller bad\n"
    "schedule { n : int up = 10 - round(5*beta) }\n"
    "init { read_full n }\n"
    "finally { answer winner(completed) }\n"
)
UNBOUNDED_REPEAT = (
    "controller rep\n"
    "limits { max_rounds = 3 }\n"  # keeps the --no-check run short
    "state { k : int = 0 }\n"
    "init { spawn 2 }\n"
    "round {\n  k = k + 1\n  repeat k { spawn 1 }\n  for b in running { step b }\n}\n"
    "finally { answer winner(completed) }\n"
)


@pytest.mark.parametrize(("text", "code"), [(DOWN_DECLARED_UP, "E201"), (UNBOUNDED_REPEAT, "E213")])
def test_run_refuses_a_program_that_fails_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, code: str
) -> None:
    prog = tmp_path / "p.tts"
    prog.write_text(text)
    status, out, err = run_cli(capsys, "run", str(prog), "--seeds", "1")
    assert status == 1 and out == ""
    assert f"error[{code}]" in err
    assert "nothing was run (--no-check runs it anyway)" in err
    argv = ["run", str(prog), "--seeds", "1", "--no-check", "--json", "--no-baseline"]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert json.loads(out)["check"] == {"ok": None, "skipped": True}


def test_warnings_do_not_stop_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "run", "cmc", "--seeds", "1", "--no-baseline")
    assert status == 0
    assert "check: ok, 2 warnings (`tts-dsl check cmc` shows them)" in err
    status, out, err = run_cli(capsys, "run", "cmc", "--seeds", "1", "--no-baseline", "--json")
    check = json.loads(out)["check"]
    assert (check["ok"], check["errors"], check["warnings"]) == (True, 0, 2)
    assert check["codes"] == ["W201", "W202"]
    assert "check:" not in err  # --json: the verdict is in the document


def test_check_is_given_the_runs_params_when_the_checker_takes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The call passes params in one line, once `check_program` accepts them
    (the checker's range pass then sees `--param n_init=-3`)."""
    import inspect

    from autotts_dsl.checker import check_program

    runner = load_program("cmc")
    report = runs.check_before_run(runner, 0.5, {"n_init": "-3"})
    if "params" in inspect.signature(check_program).parameters:
        assert not report.ok and report.errors  # out of range for a count
        code, out, err = run_cli(capsys, "run", "cmc", "--param", "n_init=-3", "--seeds", "1")
        assert code == 1 and out == "" and "nothing was run" in err
    else:
        assert report.ok  # checked at the defaults: ranges of params wait for the checker


def test_check_before_run_is_cheap() -> None:
    """Provisional budget (the suite is not a benchmark): checking CMC again
    in a warm process takes tens of milliseconds, well under a run."""
    runner = load_program("cmc")
    runs.check_before_run(runner, 0.5, {})
    started = time.perf_counter()
    for _ in range(3):
        runs.check_before_run(runner, 0.5, {})
    assert (time.perf_counter() - started) / 3 < 1.0


# ---------------------------------------------------------------------------
# Evaluating in slices (progress) gives the same episodes


@pytest.mark.parametrize("backend", ["reference", pytest.param("vm", marks=pytest.mark.vm)])
def test_sliced_evaluation_equals_one_evaluation(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = registry.default_store()
    runner = load_program("cmc")
    seeds = tuple(range(3, 7))
    whole = runner.evaluate(store, 0.5, {}, seeds, backend=backend)
    monkeypatch.setattr(runs, "CHUNK_SECONDS", 1e-9)  # one seed per slice
    seen: list[int] = []
    sliced = runs.evaluate_store(
        runner, store, 0.5, {}, seeds, backend=backend, progress=seen.append
    )
    assert seen == [len(store) * k for k in range(1, len(seeds) + 1)]
    assert sliced.seeds == whole.seeds
    for field in ("answer", "correct", "cost", "seq_cost", "opened", "reads"):
        assert np.array_equal(getattr(sliced, field), getattr(whole, field)), field
    assert (sliced.accuracy, sliced.avg_tokens) == (whole.accuracy, whole.avg_tokens)


def test_sliced_evaluation_keeps_trace_order(monkeypatch: pytest.MonkeyPatch) -> None:
    store = registry.default_store()
    runner = load_program("asc")
    whole: list[list[dict[str, object]]] = []
    runner.evaluate(store, 0.5, {}, (0, 1, 2), traces=whole)
    monkeypatch.setattr(runs, "CHUNK_SECONDS", 1e-9)
    sliced: list[list[dict[str, object]]] = []
    runs.evaluate_store(runner, store, 0.5, {}, (0, 1, 2), traces=sliced, progress=lambda n: None)
    assert sliced == whole


def test_plain_progress_prints_lines_only_for_long_jobs() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, markup=False)
    with ProgressReporter(console, unit="episodes", every=0.0) as bar:
        bar.start("cmc β=0.5", 100)
        bar.update(50, note="a[/]b [bold]")
        bar.update(100, note="x")
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("cmc β=0.5: 50/100 episodes (50 %)")
    assert lines[0].endswith("· a[/]b [bold]") and "\x1b" not in buf.getvalue()
    quiet = io.StringIO()
    with ProgressReporter(Console(file=quiet), unit="cells", every=3600) as bar:
        bar.start("sweep", 10)
        bar.update(10)
    assert quiet.getvalue() == ""


def test_terminal_progress_never_reads_markup() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, markup=False)
    with ProgressReporter(console, unit="cells", transient=False) as bar:
        bar.start("sweep [red]x[/]", 2)
        bar.update(2, note="a[/]b")
    text = buf.getvalue()
    assert "sweep [red]x[/]" in text and "a[/]b" in text


# ---------------------------------------------------------------------------
# Results you can find and reproduce


def test_run_out_writes_json_and_csv_with_provenance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = write_store(tmp_path / "stores" / "M" / "a.json", seed=1)
    b = write_store(tmp_path / "stores" / "M" / "b.json", seed=2)
    out_dir = tmp_path / "res"
    argv = ["run", "sc", "-p", "samples=4", "--seeds", "2:5", "-s", str(a), str(b)]
    status, out, err = run_cli(capsys, *argv, "--out", str(out_dir), "--json")
    assert status == 0, err
    printed = json.loads(out)
    saved = json.loads((out_dir / "run.json").read_text())
    assert saved == printed
    prov = saved["provenance"]
    assert (prov["tool"], prov["version"]) == ("tts-dsl", __version__)
    assert prov["command"] == ["tts-dsl", *argv, "--out", str(out_dir), "--json"]
    assert prov["programs"] == [
        {
            "name": "sc",
            "path": "stdlib/sc.tts",
            "program_hash": program_hash(load_program("sc").program),
        }
    ]
    hashes = [registry.resolve_store(str(p)).content_hash for p in (a, b)]
    assert [s["content_hash"] for s in prov["stores"]] == hashes
    assert (prov["seeds"], prov["n_seeds"], prov["backend"]) == ("2:5", 3, "auto")
    assert prov["engines"] and set(prov["engines"]) <= {"reference", "vm"}
    with (out_dir / "run.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["store_hash"] for r in rows] == hashes
    assert {r["seeds"] for r in rows} == {"2:5"} and {r["tool_version"] for r in rows} == {
        __version__
    }
    assert rows[0]["params"] == "samples=4"
    assert int(rows[0]["avg_tokens"]) == printed["results"][0]["avg_tokens"]


def test_run_out_alias_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run_cli(
        capsys, "run", "sc", "--seeds", "1", "--no-baseline", "--output-path", str(tmp_path / "r")
    )
    assert status == 0, err
    assert "results written to" in out and (tmp_path / "r" / "run.csv").is_file()


def test_run_out_into_a_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    status, out, err = run_cli(capsys, "run", "sc", "--seeds", "1", "--out", str(blocker / "x"))
    assert status == 2 and out == ""
    assert "cannot write results" in err and "before running" in err and "Traceback" not in err


def test_sweep_checks_first_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "bad.tts"
    prog.write_text(DOWN_DECLARED_UP)
    argv = ["sweep", "sc", str(prog), "--betas", "1", "--seeds", "1", "--jobs", "1", "--no-plot"]
    status, out, err = run_cli(capsys, *argv, "--out", str(tmp_path / "o"))
    assert status == 1 and out == ""
    assert "error[E201]" in err and "nothing was run" in err
    assert not (tmp_path / "o" / "results.csv").exists()
    status, _, err = run_cli(capsys, *argv, "--no-check", "--out", str(tmp_path / "o"))
    assert status == 0, err


def test_params_are_checked_before_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """A pinned param reaches the checker (issue 15 item 2): a negative count
    is the checker's located E203, and nothing runs."""
    status, _, err = run_cli(capsys, "run", "sc", "--param", "samples=-3")
    assert status == 1
    assert "error[E203]" in err and "sc.tts:13:" in err and "nothing was run" in err
    report = runs.check_before_run(load_program("sc"), 0.25, {"samples": 4})
    assert report.ok, report.render()
