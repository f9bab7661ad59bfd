"""`tts-dsl sweep` / `tts-dsl plot` and the autotts_dsl.sweep package:
β grids, cache keys, caching and resume (including after kill -9), result
files, plots, headline summary and CLI exit codes.

Everything runs on the embedded default store or tiny simulated stores with a
few seeds, so the whole module stays fast.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.ast import program_hash
from autotts_dsl.cli.main import main
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR, load_program
from autotts_dsl.replay.store import store_to_records
from autotts_dsl.replay.synthetic import simulate_store
from autotts_dsl.sweep.cache import CACHE_FILE, CellMetrics, ResultCache, cell_key
from autotts_dsl.sweep.grid import (
    Cell,
    GridError,
    StoreSpec,
    parse_betas,
    parse_seeds_spec,
    program_cells,
    program_spec,
    seeds_spec,
)
from autotts_dsl.sweep.plot import Point, headline, pareto_front, png_text, tokens_at_accuracy
from autotts_dsl.sweep.results import (
    MATRIX_HEAD,
    TIDY_COLUMNS,
    ResultsError,
    read_tidy_csv,
    tidy_rows,
)
from autotts_dsl.sweep.runner import evaluate_cell, run_sweep

REPO_ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ---------------------------------------------------------------------------
# Helpers


def write_store(path: Path, n_questions: int, n_branches: int, seed: int) -> Path:
    store = simulate_store(n_questions, n_branches, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(store_to_records(store)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two tiny stores laid out like AutoTTS's (`<model>/<dataset>.json`)."""
    root = tmp_path_factory.mktemp("stores")
    return [
        write_store(root / "ModelA" / "setx.json", 6, 16, seed=1),
        write_store(root / "ModelA" / "sety.json", 6, 16, seed=2),
    ]


def sweep_json(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["sweep", *argv, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def csv_rows(path: Path, drop: Sequence[str] = ("wall_seconds",)) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def tiny_cells(stores: Sequence[Path], betas: Sequence[float], seeds: Sequence[int]) -> list[Cell]:
    from autotts_dsl.replay import registry
    from autotts_dsl.sweep.grid import store_spec

    runner = load_program("cmc")
    specs = [store_spec(registry.resolve_store(str(p)), str(p)) for p in stores]
    return program_cells(runner, program_spec(runner, "cmc"), betas, {}, specs, seeds)


# ---------------------------------------------------------------------------
# Grids


def test_beta_range_gives_exact_literals() -> None:
    assert parse_betas("0:1:0.1") == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert parse_betas("0:1:0.25") == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert parse_betas("0.2:0.6:0.2") == (0.2, 0.4, 0.6)
    assert parse_betas("0:1:0.3") == (0.0, 0.3, 0.6, 0.9)  # STOP need not be on the grid


def test_beta_lists_and_single_values() -> None:
    assert parse_betas("0,0.5,1") == (0.0, 0.5, 1.0)
    assert parse_betas(" 1, 0 ,0.5,1 ") == (0.0, 0.5, 1.0)  # sorted, deduplicated
    assert parse_betas("0.5") == (0.5,)
    assert parse_betas("-0") == (0.0,)


@pytest.mark.parametrize(
    "bad", ["", "0:1", "0:1:0", "0:1:-0.1", "1:0:0.1", "0:2:0.5", "0,x", "0,,1", "nan", "1.5"]
)
def test_bad_beta_grids(bad: str) -> None:
    with pytest.raises(GridError):
        parse_betas(bad)


def test_seeds_spec_round_trip() -> None:
    assert seeds_spec(range(100)) == "0:100"
    assert seeds_spec((5, 6, 7)) == "5:8"
    assert seeds_spec((1, 3)) == "1,3"
    for seeds in ((0, 1, 2), (4, 9, 2), (7,)):
        assert parse_seeds_spec(seeds_spec(seeds)) == seeds


# ---------------------------------------------------------------------------
# Cache keys


CMC_SOURCE = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")


def test_program_hash_ignores_layout_and_comments() -> None:
    base = program_hash(parse(CMC_SOURCE, "cmc.tts"))
    relaid = "# a new comment\n\n" + "\n".join(
        "   " + line.replace(" = ", "   =   ") + "   # trailing" if "=" in line else line
        for line in CMC_SOURCE.splitlines()
        if not line.lstrip().startswith("#")
    )
    assert program_hash(parse(relaid, "cmc2.tts")) == base
    changed = CMC_SOURCE.replace("0.85 + 0.12*beta", "0.86 + 0.12*beta")
    assert changed != CMC_SOURCE
    assert program_hash(parse(changed, "cmc3.tts")) != base


def test_cell_key_depends_on_every_part() -> None:
    base = ("p" * 16, 0.5, (("samples", 64),), "s" * 16, "0:100")
    key = cell_key(*base)
    assert cell_key(*base) == key
    variants = [
        ("q" * 16, 0.5, (("samples", 64),), "s" * 16, "0:100"),
        ("p" * 16, 0.6, (("samples", 64),), "s" * 16, "0:100"),
        ("p" * 16, 0.5, (("samples", 32),), "s" * 16, "0:100"),
        ("p" * 16, 0.5, (), "s" * 16, "0:100"),
        ("p" * 16, 0.5, (("samples", 64),), "t" * 16, "0:100"),
        ("p" * 16, 0.5, (("samples", 64),), "s" * 16, "0:10"),
    ]
    assert len({cell_key(*v) for v in variants} | {key}) == len(variants) + 1
    # Params are keyed sorted; β 1 and 1.0 are the same cell.
    two = (("a", 1), ("b", 2.0))
    assert cell_key("p", 1, two, "s", "0:1") == cell_key("p", 1.0, two[::-1], "s", "0:1")


def test_cell_keys_follow_program_structure_not_text(tiny_stores: list[Path]) -> None:
    from autotts_dsl.interpreter import ProgramRunner

    cells = tiny_cells(tiny_stores[:1], [0.5], (0, 1))
    relaid = "# reformatted\n" + CMC_SOURCE.replace("\n", "\n\n")
    twin = ProgramRunner(parse(relaid, "twin.tts"), relaid, "twin.tts")
    twin_cells = program_cells(
        twin, program_spec(twin, "twin"), [0.5], {}, [cells[0].store], (0, 1)
    )
    assert twin_cells[0].key == cells[0].key
    other_seeds = tiny_cells(tiny_stores[:1], [0.5], (0, 2))
    other_store = tiny_cells(tiny_stores[1:], [0.5], (0, 1))
    pinned = program_cells(
        twin, program_spec(twin, "twin"), [0.5], {"n_init": "3"}, [cells[0].store], (0, 1)
    )
    keys = {cells[0].key, other_seeds[0].key, other_store[0].key, pinned[0].key}
    assert len(keys) == 4
    # A param given as text is keyed by its typed value.
    pinned_again = program_cells(
        twin, program_spec(twin, "twin"), [0.5], {"n_init": "03"}, [cells[0].store], (0, 1)
    )
    assert pinned_again[0].key == pinned[0].key


# ---------------------------------------------------------------------------
# Cache file


def test_cache_round_trip_and_wal(tmp_path: Path) -> None:
    m = CellMetrics(84.27, 255293, 15610, 26.4, 19.1, 1.5, 30, 100)
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        cache.put("k1", m, program_hash="p", beta=0.5, params="", store_hash="s", seeds="0:100")
        assert cache.get("k1") == m
        assert cache.get("nope") is None
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        assert len(cache) == 1 and cache.get_many(["k1", "k2"]) == {"k1": m}
        assert cache.integrity_ok()
    db = sqlite3.connect(tmp_path / CACHE_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


# ---------------------------------------------------------------------------
# Running: caching, evaluator swap, pool


class CountingEvaluator:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(
        self,
        program_source: str,
        beta: float,
        params: Mapping[str, Any],
        store_path: str,
        seeds: Sequence[int],
    ) -> CellMetrics:
        self.calls.append((beta, store_path))
        return evaluate_cell(program_source, beta, params, store_path, seeds)


def test_rerun_computes_nothing(tmp_path: Path, tiny_stores: list[Path]) -> None:
    cells = tiny_cells(tiny_stores, [0.0, 0.5, 1.0], (0, 1, 2))
    counter = CountingEvaluator()
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        first, stats = run_sweep(cells, cache, jobs=1, evaluator=counter)
    assert (stats.computed, stats.cached, stats.failed) == (6, 0, 0)
    assert len(counter.calls) == 6
    again = CountingEvaluator()
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        second, stats = run_sweep(cells, cache, jobs=1, evaluator=again)
    assert (stats.computed, stats.cached) == (0, 6)
    assert again.calls == []
    assert second == first
    # --fresh recomputes everything.
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        _, stats = run_sweep(cells, cache, jobs=1, evaluator=again, fresh=True)
    assert stats.computed == 6 and len(again.calls) == 6


def test_results_match_direct_evaluation(tmp_path: Path, tiny_stores: list[Path]) -> None:
    from autotts_dsl.replay.store import load_store

    cells = tiny_cells(tiny_stores[:1], [0.3], (0, 1, 2, 3))
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        got, _ = run_sweep(cells, cache, jobs=1)
    ev = load_program("cmc").evaluate(load_store(tiny_stores[0]), 0.3, {}, (0, 1, 2, 3))
    m = got[cells[0].key]
    assert (m.accuracy, m.avg_tokens, m.avg_seq_tokens) == (
        ev.accuracy,
        ev.avg_tokens,
        ev.avg_seq_tokens,
    )
    assert (m.n_questions, m.n_seeds) == (6, 4)


def test_process_pool_matches_in_process(tmp_path: Path, tiny_stores: list[Path]) -> None:
    cells = tiny_cells(tiny_stores, [0.0, 1.0], (0, 1))
    with ResultCache(tmp_path / "a.sqlite") as cache:
        serial, _ = run_sweep(cells, cache, jobs=1)
    with ResultCache(tmp_path / "b.sqlite") as cache:
        pooled, stats = run_sweep(cells, cache, jobs=2)
    assert stats.computed == 4 and not stats.errors

    def strip(m: CellMetrics) -> tuple[Any, ...]:
        return (m.accuracy, m.avg_tokens, m.avg_seq_tokens, m.mean_opened, m.mean_depth)

    assert {k: strip(v) for k, v in pooled.items()} == {k: strip(v) for k, v in serial.items()}


def test_failing_cell_is_reported_not_cached(tmp_path: Path, tiny_stores: list[Path]) -> None:
    source = (
        'controller boom "always fails"\n'
        "limits { fuel = 1 }\n"
        "round { read_full 1 }\n"
        "finally { answer winner(completed) }\n"
    )
    from autotts_dsl.interpreter import ProgramRunner

    runner = ProgramRunner(parse(source, "boom.tts"), source, "boom.tts")
    from autotts_dsl.replay import registry
    from autotts_dsl.sweep.grid import store_spec

    store = store_spec(registry.resolve_store(str(tiny_stores[0])), str(tiny_stores[0]))
    cells = program_cells(runner, program_spec(runner, "boom"), [0.5], {}, [store], (0,))
    with ResultCache(tmp_path / CACHE_FILE) as cache:
        got, stats = run_sweep(cells, cache, jobs=1)
        assert len(cache) == 0
    assert got == {} and stats.failed == 1
    (message,) = stats.errors.values()
    assert message.startswith("boom.tts:") and "run-time error" in message


# ---------------------------------------------------------------------------
# Results files and plots through the CLI


def test_sweep_cli_writes_csvs_matrix_and_plots(
    tmp_path: Path, tiny_stores: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["cmc", "asc", "--betas", "0,0.5,1", "--seeds", "3", "--jobs", "1"]
    argv += ["--store", str(tiny_stores[0].parent), "--out", str(out)]
    report = sweep_json(capsys, argv)
    # 2 programs × 3 β × 2 stores + SC@64 per store
    assert (report["cells"], report["computed"], report["cached"]) == (14, 14, 0)

    rows = read_tidy_csv(out / "results.csv")
    with (out / "results.csv").open(encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == TIDY_COLUMNS
    assert len(rows) == 14
    cmc = [r for r in rows if r["program"] == "cmc"]
    assert [r["beta"] for r in cmc] == [0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    assert {r["store"] for r in rows} == {"ModelA/setx", "ModelA/sety"}
    assert {(r["model"], r["dataset"]) for r in rows} == {("ModelA", "setx"), ("ModelA", "sety")}
    ref = [r for r in rows if r["role"] == "reference"]
    assert [(r["program"], r["params"], r["beta"]) for r in ref] == [("sc", "samples=64", 1.0)] * 2
    r0 = cmc[1]
    direct = evaluate_cell(CMC_SOURCE, 0.5, {}, str(tiny_stores[0]), (0, 1, 2))
    assert (r0["accuracy"], r0["avg_tokens"], r0["avg_seq_tokens"]) == (
        direct.accuracy,
        direct.avg_tokens,
        direct.avg_seq_tokens,
    )
    assert r0["seeds"] == "0:3" and r0["synthetic"] is True and r0["n_questions"] == 6
    assert r0["program_hash"] == program_hash(parse(CMC_SOURCE, "x"))

    # AutoTTS matrix layout: one file per model/dataset, all rows of that store.
    matrix = out / "matrix_results_ModelA" / "setx_raw.csv"
    assert sorted(p.name for p in (out / "matrix_results_ModelA").iterdir()) == [
        "setx_raw.csv",
        "sety_raw.csv",
    ]
    with matrix.open(encoding="utf-8") as fh:
        mrows = list(csv.DictReader(fh))
        fh.seek(0)
        header = next(csv.reader(fh))
    assert tuple(header[:6]) == MATRIX_HEAD and "Seq_Cost" in header and "n_init" in header
    assert len(mrows) == 7
    half = next(m for m in mrows if m["Method"] == "cmc" and m["beta"] == "0.5")
    assert (float(half["Acc"]), int(half["Cost"])) == (direct.accuracy, direct.avg_tokens)
    assert half["config"] == "{'beta': 0.5}" and half["n_init"] == "5"
    sc = next(m for m in mrows if m["Method"] == "sc")
    assert sc["config"] == "{'beta': 1.0, 'samples': 64}"

    summary = csv_rows(out / "summary.csv", drop=())
    assert [s["program"] for s in summary] == ["cmc", "cmc", "asc", "asc", "cmc", "asc"]
    for name in ("accuracy_tokens.png", "accuracy_seq_tokens.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert not list(out.rglob("*.tmp"))

    # Re-running is served entirely from the cache and writes the same files.
    before = csv_rows(out / "results.csv")
    png_mtime = (out / "accuracy_tokens.png").stat().st_mtime_ns
    again = sweep_json(capsys, argv)
    assert (again["computed"], again["cached"]) == (0, 14)
    assert csv_rows(out / "results.csv") == before
    assert (out / "accuracy_tokens.png").stat().st_mtime_ns == png_mtime  # plot reused

    # `tts-dsl plot` re-draws from the CSV.
    fig = tmp_path / "fig.png"
    assert main(["plot", str(out / "results.csv"), "--out", str(fig), "--metric", "seq"]) == 0
    assert fig.read_bytes().startswith(PNG_MAGIC)
    assert "tts-dsl-fingerprint" in png_text(fig)
    assert "saved" in capsys.readouterr().out


def test_sweep_on_default_store_with_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = ["sc", "--betas", "0,1", "--seeds", "2", "--jobs", "1", "--out", str(out)]
    report = sweep_json(capsys, [*argv, "--baselines", "--no-plot"])
    # sc × 2 β (== the SC baseline over the grid, deduplicated) + SC@64
    # + ASC 6 + ESC 3 + Parallel-Probe 6
    assert report["cells"] == 2 + 1 + 6 + 3 + 6
    rows = read_tidy_csv(out / "results.csv")
    assert {r["role"] for r in rows} == {"sweep", "baseline", "reference"}
    assert {r["store"] for r in rows} == {"synthetic/default"}
    assert not list(out.glob("*.png"))
    asc = sorted(r["params"] for r in rows if r["program"] == "asc")
    assert "max_samples=16;threshold=0.95" in asc and len(asc) == 6


# ---------------------------------------------------------------------------
# Resume after kill -9


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM cells").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0  # the table does not exist yet


def test_kill_9_then_resume_loses_and_recomputes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = write_store(tmp_path / "stores" / "ModelK" / "killme.json", 10, 64, seed=7)
    out = tmp_path / "out"
    argv = ["cmc", "--betas", "0:1:0.1", "--seeds", "40", "--jobs", "1", "--store", str(store)]
    # On the interpreter and with seconds of work left after the first cells, so
    # the sweep is still running when the signal comes, even on a loaded machine
    # (compiled code cached by earlier tests could finish it in milliseconds).
    argv += ["--backend", "reference"]
    total = 11 + 1
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autotts_dsl.cli.main", "sweep", *argv, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group: the kill reaches any worker
    )
    cache_file = out / CACHE_FILE
    deadline = time.monotonic() + 60
    try:
        while _cache_rows(cache_file) < 3:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "sweep made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    done = _cache_rows(cache_file)
    assert 3 <= done < total, "the sweep finished before it could be killed"
    assert not (out / "results.csv").exists()  # results are only ever written whole
    assert not list(out.rglob("*.tmp"))
    with ResultCache(cache_file) as cache:
        assert cache.integrity_ok()

    # The rest on the default engine: results (and cache keys) do not depend on
    # the engine, so the resumed run keeps the interpreter's cells as they are.
    fast = [*argv[:-2], "--backend", "auto"]
    resumed = sweep_json(capsys, [*fast, "--out", str(out), "--no-plot"])
    assert (resumed["cached"], resumed["computed"]) == (done, total - done)

    fresh_out = tmp_path / "fresh"
    fresh = sweep_json(capsys, [*fast, "--out", str(fresh_out), "--no-plot"])
    assert (fresh["cached"], fresh["computed"]) == (0, total)
    engine_free = ("wall_seconds", "backend")  # the resumed file mixes two engines' cells
    assert csv_rows(out / "results.csv", engine_free) == csv_rows(
        fresh_out / "results.csv", engine_free
    )
    assert len(csv_rows(out / "results.csv")) == total


def test_ctrl_c_stops_a_parallel_sweep_cleanly(tmp_path: Path) -> None:
    store = write_store(tmp_path / "stores" / "ModelK" / "ctrlc.json", 10, 64, seed=8)
    out = tmp_path / "out"
    argv = ["cmc", "--betas", "0:1:0.1", "--seeds", "40", "--jobs", "2", "--store", str(store)]
    # On the interpreter and with seconds of work left after the first cells, so
    # the sweep is still running when the signal comes, even on a loaded machine
    # (compiled code cached by earlier tests could finish it in milliseconds).
    argv += ["--backend", "reference"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autotts_dsl.cli.main", "sweep", *argv, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        # As from a terminal: a test run started in the background (`cmd &` in a
        # script) ignores SIGINT, and the sweep would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    try:
        while _cache_rows(out / CACHE_FILE) < 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "sweep made no progress"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    assert b"run the same command again to resume" in err
    assert _cache_rows(out / CACHE_FILE) >= 2
    assert not (out / "results.csv").exists()


# ---------------------------------------------------------------------------
# Headline summary


def test_pareto_front_and_matched_tokens() -> None:
    pts = [
        Point(0.0, "", 50.0, 1000.0),
        Point(0.5, "", 60.0, 10000.0),
        Point(0.7, "", 55.0, 20000.0),  # dominated
        Point(1.0, "", 70.0, 100000.0),
    ]
    assert [p.beta for p in pareto_front(pts)] == [0.0, 0.5, 1.0]
    assert tokens_at_accuracy(pts, 45.0) == 1000.0  # already there at the cheapest point
    assert tokens_at_accuracy(pts, 60.0) == 10000.0
    # halfway in accuracy between 60 % @ 10k and 70 % @ 100k → ~31.6k (log scale)
    assert tokens_at_accuracy(pts, 65.0) == pytest.approx(10000 * 10**0.5)
    assert tokens_at_accuracy(pts, 70.5) is None


def _row(program: str, beta: float, acc: float, tokens: int, role: str = "sweep") -> dict[str, Any]:
    return {
        "program": program,
        "beta": beta,
        "params": "samples=64" if role == "reference" else "",
        "store": "m/d",
        "model": "m",
        "dataset": "d",
        "synthetic": False,
        "accuracy": acc,
        "avg_tokens": tokens,
        "avg_seq_tokens": tokens // 10,
        "role": role,
        "seeds": "0:100",
    }


def test_headline_savings_and_not_reached() -> None:
    rows = [
        _row("good", 0.0, 60.0, 10_000),
        _row("good", 0.5, 80.0, 100_000),
        _row("good", 1.0, 82.0, 300_000),
        _row("weak", 0.0, 50.0, 20_000),
        _row("weak", 1.0, 70.0, 200_000),
        _row("sc", 1.0, 80.0, 1_000_000, role="reference"),
    ]
    per_store, per_program = headline(rows)
    good = next(h for h in per_store if h.program == "good")
    assert good.matched_tokens == pytest.approx(100_000)
    assert good.savings == pytest.approx(0.9)
    assert (good.peak_accuracy, good.peak_beta, good.tokens_at_half) == (82.0, 1.0, 100_000)
    weak = next(h for h in per_store if h.program == "weak")
    assert weak.savings is None and not weak.reached and weak.tokens_at_half is None
    means = {p.program: p for p in per_program}
    assert means["good"].mean_savings == pytest.approx(0.9)
    assert (means["weak"].n_reached, means["weak"].mean_savings) == (0, None)


# ---------------------------------------------------------------------------
# CLI errors


def test_cli_exit_codes(
    tmp_path: Path, tiny_stores: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o")
    base = ["--store", str(tiny_stores[0]), "--seeds", "1", "--jobs", "1", "--out", out]
    assert main(["sweep", "cmc", "--betas", "0:2:0.5", *base]) == 2
    assert "outside [0, 1]" in capsys.readouterr().err
    assert main(["sweep", "cmc", "--betas", "zero", *base]) == 2
    assert main(["sweep", "no_such_controller", *base]) == 2
    assert "no such file or stdlib controller" in capsys.readouterr().err
    broken = tmp_path / "broken.tts"
    broken.write_text("controller broken\nfinally { answer winner(completed) \n", encoding="utf-8")
    assert main(["sweep", str(broken), *base]) == 1
    unknown_name = tmp_path / "typo.tts"
    unknown_name.write_text(
        "controller typo\nfinally { answer winner(compleetd) }\n", encoding="utf-8"
    )
    assert main(["sweep", str(unknown_name), *base]) == 1
    assert "compleetd" in capsys.readouterr().err
    assert main(["sweep", "cmc", "--param", "no_such_knob=1", *base]) == 2
    assert main(["sweep", "cmc", "--param", "asc:threshold=0.9", *base]) == 2
    assert main(["sweep", "cmc", "--param", "n_init=two", *base]) == 2  # usage, as in `run`
    missing_store = ["--store", str(tmp_path / "nope.json"), "--out", out]
    assert main(["sweep", "cmc", "--betas", "0", *missing_store]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "cmc", "--jobs", "0", "--out", out])
    assert exc.value.code == 2
    assert not Path(out, "results.csv").exists()


def test_plot_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fig = str(tmp_path / "f.png")
    assert main(["plot", str(tmp_path / "missing.csv"), "--out", fig]) == 2
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["plot", str(other), "--out", fig]) == 1
    assert "not a sweep results table" in capsys.readouterr().err
    with pytest.raises(ResultsError):
        read_tidy_csv(other)


def test_store_spec_names() -> None:
    s = StoreSpec("x", "autotts/Qwen3-8B/aime24", "h", False, 30)
    assert (s.model, s.dataset) == ("Qwen3-8B", "aime24")
    rows = tidy_rows([], {})
    assert rows == []
