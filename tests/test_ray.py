"""Sweeps, searches and runs on a real Ray cluster: a head and a second node
started here (tests/support/ray_cluster.py), stopped by the fixtures
whatever happens.

A cluster costs ten seconds or more to start on a loaded 2-core machine,
so the default suite runs one cheap test on it (stores reach the tasks
through the object store, once per worker), besides the checks that need no
cluster (the message without Ray, an unreachable address, fingerprints).
The slow suite (`pytest -m slow`, run by CI) does the rest on the same
two-node cluster: a sweep's files are the local run's (wall times apart)
with cells run on both nodes; budgets kill overrunning tasks; the engine
choice reaches the workers; the faults: a worker killed with SIGKILL
mid-sweep, a node that leaves mid-sweep, a driver killed mid-sweep and
resumed, a node running other code; and a search and a multi-store `run` on
the cluster, compared with their local runs.

Without Ray installed the cluster tests are skipped (under CI=true they
fail: the `test` extra installs Ray); the message for a missing Ray is
tested either way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.executor import EXECUTORS, ExecutorError
from autotts_dsl.executor import shared as shared_values
from autotts_dsl.executor.fingerprint import Fingerprint, current
from autotts_dsl.programs import load_program
from autotts_dsl.search.cells import CellTask, evaluate_cell_task
from tests.conftest import in_ci
from tests.support import tasks
from tests.support.cli import REPO_ROOT, write_store

try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False


def _need_ray() -> None:
    if HAVE_RAY:
        return
    if in_ci():
        pytest.fail("CI=true: Ray is not installed (the `test` extra pulls in tts-dsl[ray])")
    pytest.skip("Ray is not installed (pip install 'tts-dsl[ray]')")


# ---------------------------------------------------------------------------
# Fixtures: the cluster and the processes that use it


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head and one more node, one CPU each; stopped at the end, even on failure."""
    _need_ray()
    from tests.support.ray_cluster import HERMETIC_ENV, LocalCluster

    c = LocalCluster(cpus_per_node=1)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in HERMETIC_ENV.items():  # the drivers': no token auth, nothing in ~
            mp.setenv(key, value)
        try:
            c.start()
            c.add_node()
            c.wait_for_nodes(2)
            yield c
        finally:
            c.shutdown()


@pytest.fixture(scope="module")
def executor(cluster: Any) -> Iterator[Any]:
    """A `RayExecutor` in this process, connected to the cluster."""
    from autotts_dsl.executor.ray_executor import RayExecutor

    ex = RayExecutor(cluster.address)
    try:
        yield ex
    finally:
        ex.close()


def tts_dsl(
    *argv: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autotts_dsl.cli.main", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        # As from a terminal: a test run started in the background ignores
        # SIGINT, and the driver would inherit that (the Ctrl-C test).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(proc: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"timed out: {err[-2000:]}")
    return proc.returncode, out, err


def rows_without(path: Path, columns: tuple[str, ...] = ("wall_seconds",)) -> list[list[str]]:
    """A CSV's rows (header included) with `columns` cut out, field by field."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    keep = [i for i, name in enumerate(rows[0]) if name not in columns]
    return [[row[i] for i in keep] for row in rows]


def same_outputs(local: Path, remote: Path) -> None:
    """results.csv equal but for wall times; summary and matrix files byte for byte."""
    assert rows_without(local / "results.csv") == rows_without(remote / "results.csv")
    assert (local / "summary.csv").read_bytes() == (remote / "summary.csv").read_bytes()
    matrices = sorted(p.relative_to(local) for p in local.glob("matrix_results_*/*.csv"))
    assert matrices
    assert matrices == sorted(p.relative_to(remote) for p in remote.glob("matrix_results_*/*.csv"))
    for rel in matrices:
        assert (local / rel).read_bytes() == (remote / rel).read_bytes(), rel


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The default store and two tiny ones (laid out as AutoTTS's)."""
    root = tmp_path_factory.mktemp("raystores")
    return [
        "default",
        str(write_store(root / "ModelR" / "setx.json", 8, 16, seed=3)),
        str(write_store(root / "ModelR" / "sety.json", 8, 16, seed=4)),
    ]


def sweep_args(out: Path, stores: list[str], *extra: str) -> list[str]:
    # The reference engine: cells of a second or so, long enough for both
    # nodes to take some and for a kill to land mid-cell.
    return [
        "sweep",
        "cmc",
        "--betas",
        "0,0.5,1",
        "--seeds",
        "10",
        "--store",
        *stores,
        "--backend",
        "reference",
        "--no-plot",
        "--out",
        str(out),
        "--json",
        *extra,
    ]


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory, stores: list[str]) -> Path:
    """The reference: the same sweep on the local pool."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    code, stdout, err = finish(tts_dsl(*sweep_args(out, stores, "-j", "2")))
    assert code == 0, err
    assert json.loads(stdout)["computed"] == CELLS
    return out


CELLS = 12
"""cmc at 3 β on 3 stores, and SC@64 on each store."""


def busy_workers(cluster: Any) -> dict[int, int]:
    """pid -> node index of the workers running a task right now."""
    out: dict[int, int] = {}
    for i, node in enumerate(cluster.nodes):
        if node.proc.poll() is not None:
            continue
        for pid, title in node.worker_pids().items():
            if title == "ray::_run_in_worker":
                out[pid] = i
    return out


def watch(proc: subprocess.Popen[str], cluster: Any, on_busy: Any = None) -> set[int]:
    """Poll the nodes while `proc` runs; the nodes seen running cells.
    `on_busy(pid, node)` is called for each busy worker until it returns True."""
    seen: set[int] = set()
    acted = on_busy is None
    while proc.poll() is None:
        for pid, node in busy_workers(cluster).items():
            seen.add(node)
            if not acted:
                acted = bool(on_busy(pid, node))
        time.sleep(0.05)
    return seen


# ---------------------------------------------------------------------------
# Without a cluster


def test_executor_choices_agree_with_the_cli() -> None:
    from autotts_dsl.cli.common import EXECUTOR_CHOICES

    assert EXECUTOR_CHOICES == EXECUTORS


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "cmc", "--betas", "0.5", "--seeds", "2", "--no-plot", "--out", "{out}"],
        ["run", "cmc", "--seeds", "2"],
        ["search", "--out", "{out}", "--rounds", "0", "--seeds", "2"],
    ],
    ids=["sweep", "run", "search"],
)
def test_without_ray_the_flag_fails_in_one_line(tmp_path: Path, argv: list[str]) -> None:
    """Ray hidden from the process (as if not installed): exit 2, one line."""
    args = [a.replace("{out}", str(tmp_path / "o")) for a in argv] + ["--executor", "ray"]
    code = (
        "import sys; sys.modules['ray'] = None; "
        "from autotts_dsl.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    got = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert got.returncode == 2, got.stderr
    lines = [line for line in got.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "pip install 'tts-dsl[ray]'" in lines[0], got.stderr
    assert "Traceback" not in got.stderr


def test_ray_address_without_ray_executor_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = finish(
        tts_dsl("run", "cmc", "--seeds", "1", "--ray-address", "auto", "--no-baseline")
    )
    assert code == 2 and "--ray-address needs --executor ray" in err


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    _need_ray()
    from tests.support.ray_cluster import free_ports

    (port,) = free_ports(1)  # nothing listens there
    code, _, err = finish(
        tts_dsl(
            "run", "cmc", "--seeds", "1", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}"
        ),
        timeout=300,
    )
    assert code == 2, err
    assert "cannot start or reach Ray at 127.0.0.1" in err and "Traceback" not in err


def test_fingerprints_name_what_differs() -> None:
    me = current()
    assert me.mismatch(me, "w") is None
    other = Fingerprint(me.version, "0" * 16, me.vm, me.python)
    assert "another tts-dsl" in (other.mismatch(me, "the worker on h") or "")
    no_vm = Fingerprint(me.version, me.source, "none", me.python)
    assert "lacks the VM extension" in (no_vm.mismatch(me, "w") or "")
    py = Fingerprint(me.version, me.source, me.vm, "2.7.18")
    assert "Python 2.7.18" in (py.mismatch(me, "w") or "")


def test_shared_values_are_fetched_once_per_version() -> None:
    calls: list[str] = []
    try:
        shared_values.offer("k", "v1", lambda: calls.append("v1") or "one")
        assert shared_values.lookup("k") == "one" and shared_values.lookup("k") == "one"
        shared_values.offer("k", "v2", lambda: calls.append("v2") or "two")
        assert shared_values.lookup("k") == "two"
        assert calls == ["v1", "v2"]
        assert shared_values.lookup("absent") is None
    finally:
        shared_values.forget()


# ---------------------------------------------------------------------------
# On the two-node cluster


@pytest.mark.slow
def test_sweep_on_ray_writes_the_local_results(
    cluster: Any, local_sweep: Path, stores: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    proc = tts_dsl(*sweep_args(out, stores, "--executor", "ray", "--ray-address", cluster.address))
    nodes = watch(proc, cluster)
    code, stdout, err = finish(proc)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["computed"] == CELLS and doc["failed"] == 0
    same_outputs(local_sweep, out)
    assert nodes == {0, 1}, f"cells ran on nodes {nodes} only"


def test_stores_come_from_the_object_store_once_per_worker(executor: Any, tmp_path: Path) -> None:
    """The store file is gone before any task runs: the tasks still read it
    (from the object store), and each worker holds one copy."""
    from autotts_dsl.executor.stores import share_stores
    from autotts_dsl.replay import registry

    path = write_store(tmp_path / "ModelS" / "gone.json", 4, 8, seed=9)
    spec = str(path)
    expected = registry.resolve_store(spec).content_hash
    share_stores(executor, [spec], registry.resolve_store)
    path.unlink()
    got = [r.value for r in executor.map_unordered(tasks.store_seen, [spec] * 12)]
    assert all(v is not None and v[2] == expected for v in got), got
    copies: dict[int, set[int]] = {}
    for pid, obj, _ in got:  # type: ignore[misc]
        copies.setdefault(pid, set()).add(obj)
    assert all(len(ids) == 1 for ids in copies.values()), copies
    # ... and the search's evaluator reads it the same way
    cell = CellTask(load_program("cmc").source, "cmc", 0.5, spec, expected, (0, 1))
    (res,) = executor.map_unordered(evaluate_cell_task, [cell])
    assert res.status == "ok" and res.value.n_questions == 4, res.error


@pytest.mark.slow
def test_an_overrunning_task_is_killed_and_the_rest_finish(executor: Any) -> None:
    before = executor.cancelled
    started = time.perf_counter()
    results = list(executor.map_unordered(tasks.spin_or_square, [0, 1, 2, 3], timeout=2.0))
    by = {r.arg: r for r in results}
    assert by[0].status == "timeout" and "wall-clock budget (2 s)" in by[0].error
    assert all(by[k].status == "ok" and by[k].value == k * k for k in (1, 2, 3))
    assert executor.cancelled == before + 1
    assert time.perf_counter() - started < 60
    # errors are values, and the executor still works at full strength
    assert next(iter(executor.map_unordered(tasks.fail, [3]))).status == "error"
    assert sorted(r.value for r in executor.map_unordered(tasks.square, [2, 3])) == [4, 9]


@pytest.mark.slow
def test_skip_and_environment_reach_the_workers(executor: Any) -> None:
    got = list(executor.map_unordered(tasks.square, [1, 2, 3, 4], skip=lambda x: x % 2 == 0))
    assert {r.arg: r.status for r in got} == {1: "ok", 2: "skipped", 3: "ok", 4: "skipped"}
    os.environ["TTS_DSL_BACKEND"] = "reference"
    try:
        assert {r.value for r in executor.map_unordered(tasks.backend_env, [0, 1])} == {"reference"}
    finally:
        del os.environ["TTS_DSL_BACKEND"]
    assert {r.value for r in executor.map_unordered(tasks.backend_env, [0, 1])} == {""}


# ---------------------------------------------------------------------------
# Faults (slow suite)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_is_retried(
    cluster: Any, local_sweep: Path, stores: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    proc = tts_dsl(
        *sweep_args(out, stores, "--executor", "ray", "--ray-address", cluster.address, "--fresh")
    )
    killed: list[int] = []

    def kill(pid: int, node: int) -> bool:
        time.sleep(0.2)  # well inside the cell
        if busy_workers(cluster).get(pid) != node:
            return False  # it finished meanwhile: the next one
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        return True

    watch(proc, cluster, kill)
    code, stdout, err = finish(proc)
    assert killed, "no worker was caught running a cell"
    assert code == 0, err
    doc = json.loads(stdout)  # stdout is still clean JSON (Ray's notices go to stderr)
    assert doc["computed"] == CELLS and doc["failed"] == 0
    same_outputs(local_sweep, out)


@pytest.mark.slow
def test_a_node_that_leaves_has_its_cells_run_elsewhere(
    cluster: Any, local_sweep: Path, stores: list[str], tmp_path: Path
) -> None:
    extra = cluster.add_node()
    cluster.wait_for_nodes(3)
    index = cluster.nodes.index(extra)
    out = tmp_path / "ray"
    proc = tts_dsl(*sweep_args(out, stores, "--executor", "ray", "--ray-address", cluster.address))
    left: list[int] = []

    def leave(pid: int, node: int) -> bool:
        if node != index:
            return False
        extra.stop(hard=True)  # the whole node vanishes, mid-cell
        left.append(pid)
        return True

    try:
        watch(proc, cluster, leave)
    finally:
        extra.stop()
    code, stdout, err = finish(proc)
    assert left, "the extra node never ran a cell"
    assert code == 0, err
    assert json.loads(stdout)["failed"] == 0
    same_outputs(local_sweep, out)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_a_lost_driver_loses_nothing_and_resumes(
    cluster: Any, local_sweep: Path, stores: list[str], tmp_path: Path, sig: signal.Signals
) -> None:
    from autotts_dsl.sweeps.cache import ResultCache

    out = tmp_path / "ray"
    args = sweep_args(out, stores, "--executor", "ray", "--ray-address", cluster.address)
    proc = tts_dsl(*args)
    cache = out / "cache.sqlite"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if cache.exists():
            with ResultCache(cache) as c:
                if len(c) >= 3:
                    break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)  # SIGKILL: the driver is gone; SIGINT: Ctrl-C, mid-sweep
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err and "Traceback" not in err
    assert not (out / "results.csv").exists()
    with ResultCache(cache) as c:
        kept = len(c)
        assert c.integrity_ok()
    assert 3 <= kept < CELLS
    code, stdout, err = finish(tts_dsl(*args))
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["cached"] == kept and doc["computed"] == CELLS - kept
    same_outputs(local_sweep, out)


@pytest.mark.slow
def test_a_node_without_the_vm_stops_the_run_in_one_line(
    cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A node whose Python finds a copy of tts-dsl where the VM extension
    does not import (as where it was not built)."""
    import autotts_dsl

    root = tmp_path_factory.mktemp("novm")
    shutil.copytree(
        Path(autotts_dsl.__file__).resolve().parent,
        root / "autotts_dsl",
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__", "_vm*.so", "_vm*.pyd"),
    )
    # Found before the editable install's extension: the import fails there.
    (root / "autotts_dsl" / "_vm.py").write_text('raise ImportError("not built here")\n')
    odd = cluster.add_node(env={"PYTHONPATH": str(root)})
    try:
        cluster.wait_for_nodes(len([n for n in cluster.nodes if n.proc.poll() is None]))
        code, _, err = finish(
            tts_dsl(
                "run",
                "cmc",
                "--seeds",
                "2",
                "--executor",
                "ray",
                "--ray-address",
                cluster.address,
                # Not from the checkout: Ray puts the driver's directory on
                # every worker's path, where it would hide the copy.
                cwd=tmp_path_factory.mktemp("elsewhere"),
            )
        )
    finally:
        odd.stop()
    assert code == 2, err
    assert "lacks the VM extension autotts_dsl._vm" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_mismatch_raises_from_the_executor(executor: Any) -> None:
    """A worker that finds another fingerprint than the driver's refuses its task."""
    real = executor._fingerprint
    executor._fingerprint = Fingerprint(real.version, "f" * 16, real.vm, real.python)
    try:
        with pytest.raises(ExecutorError, match="runs another tts-dsl"):
            list(executor.map_unordered(tasks.square, [1, 2]))
    finally:
        executor._fingerprint = real


# ---------------------------------------------------------------------------
# A search and a run on the cluster (slow suite)


def _strip_walls(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip_walls(v) for k, v in doc.items() if "wall" not in k}
    if isinstance(doc, list):
        return [_strip_walls(v) for v in doc]
    return doc


@pytest.mark.slow
def test_a_search_on_ray_finds_what_the_local_one_finds(cluster: Any, tmp_path: Path) -> None:
    args = ["search", "--rounds", "1", "--candidates", "2", "--seeds", "10"]
    args += ["--betas", "0,0.5,1", "--json"]
    code, local, err = finish(tts_dsl(*args, "--out", str(tmp_path / "local"), "--jobs", "2"))
    assert code == 0, err
    proc = tts_dsl(
        *args, "--out", str(tmp_path / "ray"), "--executor", "ray", "--ray-address", cluster.address
    )
    code, remote, err = finish(proc)
    assert code == 0, err
    assert _strip_walls(json.loads(local)) == _strip_walls(json.loads(remote))
    assert json.loads(remote)["programs"]  # it did evaluate programs


@pytest.mark.slow
def test_run_over_many_stores_on_ray_gives_the_local_rows(cluster: Any, stores: list[str]) -> None:
    args = ["run", "cmc", "--beta", "0.5", "--seeds", "10", "--store", *stores, "--json"]
    code, local, err = finish(tts_dsl(*args))
    assert code == 0, err
    code, remote, err = finish(
        tts_dsl(*args, "--executor", "ray", "--ray-address", cluster.address)
    )
    assert code == 0, err
    a, b = json.loads(local), json.loads(remote)
    assert len(b["results"]) == len(stores)
    assert _strip_walls(a["results"]) == _strip_walls(b["results"])
    assert _strip_walls(a["total"]) == _strip_walls(b["total"])


@pytest.mark.slow
def test_without_an_address_a_run_starts_and_stops_its_own_instance(cluster: Any) -> None:
    """No --ray-address, no $RAY_ADDRESS: a new one-CPU instance here, not
    the cluster whose address `ray start` left behind (Ray's own default
    would join that one), the local rows, and nothing of it left after."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))  # short: Ray's socket paths
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = str(root)
    env["RAY_AUTH_MODE"] = "disabled"  # else Ray writes a token to ~/.ray for a local instance
    (root / "ray").mkdir()
    (root / "ray" / "ray_current_cluster").write_text(cluster.address)  # as `ray start` does
    args = ["run", "cmc", "--beta", "0.5", "--seeds", "4", "--json"]
    try:
        code, local, err = finish(tts_dsl(*args))
        assert code == 0, err
        proc = subprocess.Popen(
            [sys.executable, "-m", "autotts_dsl.cli.main", *args, "--executor", "ray", "-j", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=env,
        )
        code, remote, err = finish(proc)
        assert code == 0, err
        a, b = json.loads(local), json.loads(remote)
        assert _strip_walls(a["results"]) == _strip_walls(b["results"])
        assert any(root.glob("ray/session_*")), "the run did not start its own instance"
        left = [
            pid
            for pid in os.listdir("/proc")
            if pid.isdigit() and str(root).encode() in _cmdline(int(pid))
        ]
        assert not left, f"processes of the run's Ray instance still alive: {left}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
