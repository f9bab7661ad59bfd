"""`tts-dsl run` end to end through `main([...])`: tables, JSON, params,
exit codes and error output, AutoTTS-style trace JSONL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_run_cmc_on_the_default_store(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "cmc", "--beta", "0.5", "--seeds", "3")
    assert code == 0, err
    assert "cmc at β = 0.5" in out
    assert "synthetic" in out
    assert "knobs: n_init=5" in out
    assert "Traceback" not in out + err


def test_run_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", "cmc", "--beta", "0.5", "--seeds", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["program"] == "stdlib/cmc.tts"
    assert data["beta"] == 0.5
    assert data["knobs"]["n_init"] == 5
    (row,) = data["results"]
    assert row["synthetic"] is True
    assert row["seeds"] == 3
    assert 0.0 <= row["accuracy"] <= 100.0
    assert row["avg_tokens"] > 0
    assert 0 < row["avg_seq_tokens"] <= row["avg_tokens"]
    assert row["sc64_tokens"] > row["avg_tokens"]
    total = data["total"]
    assert total["stores"] == 1
    assert (total["accuracy"], total["avg_tokens"]) == (row["accuracy"], row["avg_tokens"])


def test_run_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(run_cli(capsys, "run", "asc", "--seeds", "2", "--json", "--no-baseline")[1])
    second = json.loads(run_cli(capsys, "run", "asc", "--seeds", "2", "--json", "--no-baseline")[1])
    strip = [{k: v for k, v in r.items() if k != "wall_seconds"} for r in first["results"]]
    assert strip == [{k: v for k, v in r.items() if k != "wall_seconds"} for r in second["results"]]
    assert first["results"][0]["sc64_tokens"] is None


def test_param_override_pins_a_knob(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "run", "sc", "--param", "samples=4", "--seeds", "2", "--json", "--no-baseline"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["knobs"] == {"samples": 4}
    (row,) = data["results"]
    assert row["mean_opened"] == 4.0  # every question has more than 4 traces
    assert row["mean_depth"] == 1.0
    code, out8, _ = run_cli(capsys, "run", "sc", "--seeds", "2", "--json", "--no-baseline")
    assert json.loads(out8)["results"][0]["mean_opened"] == 8.0  # round(64 ** 0.5)


def test_seed_range_selects_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", "sc", "--seeds", "5:7", "--json", "--no-baseline")
    assert code == 0
    assert json.loads(out)["results"][0]["seeds"] == 2


def test_syntax_error_exits_1_with_caret_diagnostic(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prog = write(
        tmp_path,
        "bad.tts",
        "controller bad\nround {\n  if x > 1: stop\n}\nfinally { answer none }\n",
    )
    code, out, err = run_cli(capsys, "run", prog, "--seeds", "1")
    assert code == 1
    assert out == ""
    assert "error[E001]: unexpected `:`" in err
    assert f"{prog}:3:11" in err
    assert "3 |   if x > 1: stop" in err
    assert "|           ^ not expected here" in err
    assert "hint: blocks use braces" in err
    assert "nothing was run" in err
    assert "Traceback" not in err


def test_compile_error_exits_1_with_diagnostic(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prog = write(
        tmp_path, "bad.tts", "controller bad\nround {\n  answer gold\n}\nfinally { answer none }\n"
    )
    code, _, err = run_cli(capsys, "run", prog, "--seeds", "1")
    assert code == 1
    assert "error[E101]: unknown name `gold`" in err
    assert f"{prog}:3:10" in err


def test_missing_program_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "run", str(tmp_path / "nope.tts"), "--seeds", "1")
    assert code == 2
    assert out == ""
    assert "no such file" in err
    code, _, err = run_cli(capsys, "run", "cmx", "--seeds", "1")
    assert code == 2
    assert "did you mean `cmc`?" in err


@pytest.mark.parametrize("beta", ["2", "-0.1", "abc"])
def test_bad_beta_exits_2(capsys: pytest.CaptureFixture[str], beta: str) -> None:
    code, out, err = run_cli(capsys, "run", "sc", "--beta", beta, "--seeds", "1")
    assert code == 2
    assert out == ""
    assert "--beta" in err


@pytest.mark.parametrize("args", [["--seeds", "x"], ["--seeds", "0"], ["--param", "novalue"]])
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, _, _ = run_cli(capsys, "run", "sc", *args)
    assert code == 2


def test_missing_argument_is_an_argparse_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_unknown_param_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # A usage error, as in `sweep` (tests/test_cli_conventions.py checks both).
    code, out, err = run_cli(capsys, "run", "sc", "--param", "nosuch=1", "--seeds", "1")
    assert code == 2
    assert out == ""
    assert "error[E107]: --param nosuch: no param or knob of that name" in err


def test_bad_param_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "sc", "--param", "samples=many", "--seeds", "1")
    assert code == 2
    assert "E107" in err


def test_runtime_fault_exits_1_with_location_and_no_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prog = write(
        tmp_path,
        "div.tts",
        "controller div\nstate { z: int = 0 }\ninit { read_full 1 }\n"
        "round {\n  let q = 10 // z\n}\nfinally { answer winner(completed) }\n",
    )
    code, out, err = run_cli(capsys, "run", prog, "--seeds", "1")
    assert code == 1
    assert out == ""
    assert "run-time error" in err
    assert f"{prog}:5:11: division by zero in `//`" in " ".join(err.split())
    assert "question 0, seed 0" in err
    assert "Traceback" not in err


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_trace_file_has_autotts_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "out" / "trace.jsonl"
    code, out, err = run_cli(
        capsys, "run", "asc", "--seeds", "2", "--trace", str(trace), "--json", "--no-baseline"
    )
    assert code == 0, err
    summary = json.loads(out)["results"][0]
    records = _read_jsonl(trace)
    assert len(records) == 2 * summary["questions"]
    # evaluation order: seed-major, questions in file order
    assert [(r["shuffle_seed"], r["question_index"]) for r in records[:2]] == [(0, 0), (0, 1)]
    assert records[summary["questions"]]["shuffle_seed"] == 1
    accuracy = 100 * sum(r["is_correct"] for r in records) / len(records)
    assert round(accuracy, 2) == summary["accuracy"]
    assert int(sum(r["cost"] for r in records) / len(records)) == summary["avg_tokens"]
    for r in records:
        assert {"shuffle_seed", "question_index", "is_correct", "cost", "trace"} <= r.keys()
        assert isinstance(r["is_correct"], bool)
        assert r["trace"], "every episode has at least one action"
        for step in r["trace"]:
            assert {"event", "goal", "input", "output", "state", "decision"} <= step.keys()
            assert isinstance(step["line"], int) and step["line"] > 0
        actions = [s for s in r["trace"] if s["event"].startswith("action:")]
        assert sum(s["output"]["charged"] for s in actions) == r["cost"]
        assert actions[-1]["event"] == "action:answer"
    fired = [s for r in records for s in r["trace"] if s["event"] == "rule"]
    assert all(s["rule"] == "confident" and s["output"] == {"fired": True} for s in fired)


def test_trace_level_full_keeps_guards_that_did_not_fire(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "full.jsonl"
    code, _, _ = run_cli(
        capsys,
        "run",
        "asc",
        "--seeds",
        "1",
        "--trace",
        str(trace),
        "--trace-level",
        "full",
        "--no-baseline",
    )
    assert code == 0
    steps = [s for r in _read_jsonl(trace) for s in r["trace"]]
    assert any(s["output"] == {"fired": False} for s in steps)
    assert any(s["decision"] == "not fired" for s in steps)


def test_trace_answer_step_names_the_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "sc.jsonl"
    code, _, _ = run_cli(
        capsys, "run", "sc", "--seeds", "1", "--trace", str(trace), "--no-baseline"
    )
    assert code == 0
    for r in _read_jsonl(trace):
        (answer_step,) = [s for s in r["trace"] if s["event"] == "action:answer"]
        assert answer_step["input"]["answer"] == r["answer"]
