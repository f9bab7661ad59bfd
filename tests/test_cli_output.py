"""Output that reads in a terminal (80 columns), a pipe and a log; typed CSVs."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from autotts_dsl.cli.console import stdout_console
from autotts_dsl.cli.headline_view import print_headline
from autotts_dsl.sweeps.headline import SUMMARY_COLUMNS, ProgramHeadline, StoreHeadline
from tests.support.cli import run_cli, write_store

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = set("─│┃━┏┓┗┛┡┩├┤┼╇╈")
STORES = [f"Qwen3-{m}/{d}" for m in ("0.6B", "1.7B") for d in ("aime24", "hmmt25")]


@pytest.fixture(scope="module")
def autotts_like(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("replay") / "autotts"
    return [write_store(root / f"{s}.json", 3, 6, seed=i) for i, s in enumerate(STORES)]


def _terminal(monkeypatch: pytest.MonkeyPatch, columns: int = 80) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(columns))


def _lines(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


def test_run_table_fits_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], autotts_like: list[Path]
) -> None:
    _terminal(monkeypatch)
    argv = ["run", "cmc", "--seeds", "1", "-s", *map(str, autotts_like)]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    lines = _lines(out)
    table = [ln for ln in lines if not ln.startswith(("knobs:", "*", "engine:"))]
    assert max(len(ln) for ln in table) <= 80, "\n".join(lines)
    for store in STORES:  # each name whole, on one line
        assert sum(store in ln for ln in lines) == 1, store


def test_run_piped_is_plain_one_row_per_store(
    capsys: pytest.CaptureFixture[str], autotts_like: list[Path]
) -> None:
    code, out, err = run_cli(capsys, "run", "cmc", "--seeds", "1", "-s", *map(str, autotts_like))
    assert code == 0, err
    assert "\x1b" not in out and not BOX & set(out)
    rows = [ln for ln in out.splitlines() if ln.startswith("autotts/")]
    assert [r.split()[0] for r in rows] == [f"autotts/{s}" for s in STORES]
    assert all(ln == ln.rstrip() for ln in out.splitlines())  # no trailing blanks
    assert "\r" not in err and not BOX & set(err)  # no progress bar in a log


def _headlines() -> tuple[list[StoreHeadline], list[ProgramHeadline]]:
    per_store = [
        StoreHeadline(
            p, f"autotts/{s}", False, 84.27, 0.75, 255_293, 210_000, 83.9, 84.3, 1_070_000, m
        )
        for p in ("parallel_probe", "cmc")
        for s, m in zip(STORES, (None, 52_100.0, 310_000.0, 1_069_000.0), strict=True)
    ]
    per_program = [
        ProgramHeadline(p, 4, 3, 4, 84.27, 84.3, 0.512, 210_000.0, 83.9)
        for p in ("parallel_probe", "cmc")
    ]
    return per_store, per_program


def test_sweep_summary_fits_80_columns_without_truncation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch)
    per_store, per_program = _headlines()
    print_headline(stdout_console(), per_store, per_program, betas=[0, 0.5, 1], n_seeds=100)
    lines = _lines(capsys.readouterr().out)
    assert max(len(ln) for ln in lines) <= 80, "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text
    assert "parallel_probe" in text and "not reached" in text and "1.07M" in text
    for store in STORES:
        assert store in text


def test_sweep_summary_piped_is_one_plain_row_per_program_and_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    per_store, per_program = _headlines()
    print_headline(stdout_console(), per_store, per_program)
    out = capsys.readouterr().out
    assert "\x1b" not in out and not BOX & set(out)
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(("cmc ", "parallel_probe "))]
    assert len(rows) == 2 * (len(STORES) + 1)  # + a mean row each
    assert {r[1] for r in rows} == {*(f"autotts/{s}" for s in STORES), "mean"}


def test_summary_csv_columns_are_typed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, autotts_like: list[Path]
) -> None:
    never = tmp_path / "never.tts"  # never answers: never reaches SC@64's accuracy
    never.write_text("controller never\ninit { spawn 1 }\nfinally { answer none }\n")
    out_dir = tmp_path / "o"
    argv = ["sweep", "cmc", str(never), "--betas", "0,1", "--seeds", "1", "--jobs", "1"]
    argv += ["-s", *map(str, autotts_like[:2]), "--no-plot"]
    code, _, err = run_cli(capsys, *argv, "--out", str(out_dir))
    assert code == 0, err
    with (out_dir / "summary.csv").open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == SUMMARY_COLUMNS
        rows = list(reader)
    numeric = {
        "n_stores", "peak_accuracy", "peak_beta", "peak_tokens", "accuracy_at_beta_0.5",
        "tokens_at_beta_0.5", "sc64_accuracy", "sc64_tokens", "n_reached",
        "tokens_at_sc64_accuracy", "tokens_saved_vs_sc64",
    }  # fmt: skip
    for r in rows:
        for col in numeric:
            if r[col] != "":
                float(r[col])  # raises on "not reached" and any other text
        assert r["synthetic"] in ("true", "false", "")
        assert r["sc64_accuracy_reached"] in ("true", "false", "")
    nev = [r for r in rows if r["program"] == "never" and r["store"] != "mean"]
    assert len(nev) == 2 and {r["sc64_accuracy_reached"] for r in nev} == {"false"}
    assert all(r["tokens_saved_vs_sc64"] == "" for r in nev)
    mean = next(r for r in rows if r["program"] == "cmc" and r["store"] == "mean")
    assert mean["n_stores"] == "2" and mean["synthetic"] == ""
    assert all(r["program_hash"] and r["seeds"] == "0:1" and r["tool_version"] for r in rows)
    assert all(r["store_hash"] for r in rows if r["store"] != "mean")


def test_sweep_results_carry_their_provenance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, autotts_like: list[Path]
) -> None:
    import json

    from autotts_dsl import __version__
    from autotts_dsl.programs import load_program
    from autotts_dsl.sweeps.grid import program_spec

    out_dir = tmp_path / "o"
    argv = ["sweep", "sc", "--betas", "1", "--seeds", "2", "--jobs", "1", "--no-plot"]
    argv += ["-s", str(autotts_like[0]), "--out", str(out_dir)]
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    prov = json.loads((out_dir / "provenance.json").read_text())
    assert json.loads(out)["provenance"] == prov
    assert prov["command"] == ["tts-dsl", *argv, "--json"] and prov["version"] == __version__
    assert (
        prov["programs"][0]["program_hash"] == program_spec(load_program("sc"), "sc").program_hash
    )
    assert prov["stores"][0]["name"] == "autotts/Qwen3-0.6B/aime24"
    assert (prov["seeds"], prov["betas"]) == ("0:2", [1.0])
    assert prov["engines"] and prov["cells"]["total"] == 2
    with (out_dir / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["backend"] in prov["engines"] and r["tool_version"] == __version__ for r in rows)
    assert {r["store_hash"] for r in rows} == {prov["stores"][0]["content_hash"]}
    matrix = next(out_dir.glob("matrix_results_*/*_raw.csv")).read_text().splitlines()[0]
    assert matrix.endswith("Store_Hash,Backend,Tool_Version")
