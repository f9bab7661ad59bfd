"""Store names, the data directory, directory expansion and listing."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.replay.registry import (
    StoreUnavailable,
    autotts_names,
    data_dir,
    default_store,
    expand_store_specs,
    list_stores,
    locate_store,
    resolve_store,
    summarize_store,
)
from autotts_dsl.replay.store import StoreError, store_from_records
from autotts_dsl.replay.synthetic import simulate_records


def _real_looking(n_q: int = 2, n_b: int = 4, seed: int = 0) -> list[dict[str, Any]]:
    """Small valid records without the synthetic marker."""
    recs = simulate_records(n_q, n_b, seed=seed)
    for i, r in enumerate(recs):
        r["question"] = f"problem {i}"
    return recs


def _write(path: Path, recs: Any, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(recs).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("TTS_DSL_DATA", str(root))
    return root


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


# -- data directory -------------------------------------------------------------------


def test_data_dir_env(data: Path) -> None:
    assert data_dir() == data


def test_data_dir_xdg_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTS_DSL_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "tts-dsl"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "tts-dsl"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "tts-dsl"


# -- resolving specs --------------------------------------------------------------------


def test_default_store_cached_and_synthetic(data: Path) -> None:
    a = resolve_store(None)
    assert a is resolve_store("default") is resolve_store("synthetic/default") is default_store()
    assert a.synthetic and a.name == "synthetic/default"
    assert len(a) == 30


def test_catalogue_names() -> None:
    names = autotts_names()
    assert len(names) == 12
    assert "autotts/Qwen3-0.6B/aime24" in names and "autotts/Qwen3-8B/hmmt25" in names


def test_resolve_name_under_data_dir(data: Path) -> None:
    _write(data / "autotts" / "Qwen3-8B" / "aime24.json", _real_looking())
    store = resolve_store("autotts/Qwen3-8B/aime24")
    assert store.name == "autotts/Qwen3-8B/aime24"
    assert not store.synthetic
    assert len(store) == 2
    # The suffix may be spelled out.
    assert resolve_store("autotts/Qwen3-8B/aime24.json").content_hash == store.content_hash


def test_resolve_gzipped_name(data: Path) -> None:
    _write(data / "mine" / "small.json.gz", _real_looking(3, 2), gz=True)
    store = resolve_store("mine/small")
    assert store.name == "mine/small" and len(store) == 3
    _, path = locate_store("mine/small")
    assert path == data / "mine" / "small.json.gz"


def test_resolve_file_path(data: Path, tmp_path: Path) -> None:
    f = _write(tmp_path / "elsewhere" / "x.json", _real_looking())
    store = resolve_store(str(f))
    assert store.source == str(f)
    assert store.name == "elsewhere/x"
    # A copy of the AutoTTS layout anywhere gets the catalogue name.
    g = _write(tmp_path / "mirror" / "autotts" / "Qwen3-4B" / "aime25.json", _real_looking())
    assert resolve_store(str(g)).name == "autotts/Qwen3-4B/aime25"


def test_synthetic_marker_flags_store_files(data: Path) -> None:
    _write(data / "sim.json", simulate_records(2, 3, seed=9))
    assert resolve_store("sim").synthetic


def test_directory_is_an_error(data: Path, tmp_path: Path) -> None:
    (data / "autotts" / "Qwen3-8B").mkdir(parents=True)
    for spec in (str(tmp_path), "autotts"):
        with pytest.raises(StoreUnavailable) as info:
            resolve_store(spec)
        msg = _one_line(info.value)
        assert "directory" in msg
    with pytest.raises(StoreUnavailable) as info:
        resolve_store(str(tmp_path))
    assert "expand_store_specs" in str(info.value)


def test_unknown_name_one_line_with_hint(data: Path) -> None:
    with pytest.raises(StoreUnavailable) as info:
        resolve_store("no/such/store")
    msg = _one_line(info.value)
    assert msg.startswith("no/such/store: unknown store")
    assert "tts-dsl stores" in msg and "tts-dsl stores fetch autotts" in msg


def test_missing_catalogue_store_suggests_fetch(data: Path) -> None:
    with pytest.raises(StoreUnavailable) as info:
        resolve_store("autotts/Qwen3-1.7B/hmmt25")
    msg = _one_line(info.value)
    assert "not downloaded" in msg and "tts-dsl stores fetch autotts" in msg


def test_missing_file_path(data: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as info:
        resolve_store(str(tmp_path / "gone.json"))
    assert "no such file" in _one_line(info.value)


def test_corrupt_store_is_invalid_not_unavailable(data: Path) -> None:
    (data / "bad.json").write_text('[{"gold_answer": "1"')
    with pytest.raises(StoreError) as info:
        resolve_store("bad")
    assert not isinstance(info.value, StoreUnavailable)
    assert "truncated" in _one_line(info.value)
    (data / "bad.json").write_text('[{"gold_answer": 1, "probe_freq": 500, "each_branch": []}]')
    with pytest.raises(StoreError) as info:
        resolve_store("bad")
    assert "gold_answer" in _one_line(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(data: Path) -> None:
    f = _write(data / "locked.json", _real_looking())
    f.chmod(0)
    try:
        with pytest.raises(StoreUnavailable) as info:
            resolve_store("locked")
        assert "cannot read" in _one_line(info.value)
    finally:
        f.chmod(0o644)


# -- expanding directories --------------------------------------------------------------


def test_expand_directory_recursive_sorted(data: Path, tmp_path: Path) -> None:
    root = tmp_path / "stores"
    for rel in ("b/z.json", "a/y.json.gz", "a/x.json", "top.json"):
        _write(root / rel, _real_looking(), gz=rel.endswith(".gz"))
    (root / "a" / ".x.json.123.part").write_text("partial")
    (root / "a" / "notes.txt").write_text("not a store")
    got = expand_store_specs([str(root)])
    assert got == [str(root / rel) for rel in ("a/x.json", "a/y.json.gz", "b/z.json", "top.json")]
    for spec in got:
        resolve_store(spec)


def test_expand_passes_other_specs_and_dedupes(data: Path, tmp_path: Path) -> None:
    f = _write(tmp_path / "s" / "one.json", _real_looking())
    got = expand_store_specs(["default", str(tmp_path / "s"), str(f), "autotts/Qwen3-8B/aime24"])
    assert got == ["default", str(f), "autotts/Qwen3-8B/aime24"]


def test_expand_name_of_data_subdir(data: Path) -> None:
    for d in ("aime24", "aime25"):
        _write(data / "autotts" / "Qwen3-8B" / f"{d}.json", _real_looking())
    got = expand_store_specs(["autotts/Qwen3-8B"])
    assert [Path(g).name for g in got] == ["aime24.json", "aime25.json"]
    assert [resolve_store(g).name for g in got] == [
        "autotts/Qwen3-8B/aime24",
        "autotts/Qwen3-8B/aime25",
    ]


def test_expand_empty_directory_is_an_error(data: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreUnavailable) as info:
        expand_store_specs([str(tmp_path / "empty")])
    assert "no .json" in _one_line(info.value)


@pytest.mark.shared
def test_expand_shared_autotts_dir(shared_dir: Path) -> None:
    got = expand_store_specs([str(shared_dir / "replay" / "autotts")])
    assert len(got) == 12
    assert [resolve_store(g).name for g in got][:3] == [
        "autotts/Qwen3-0.6B/aime24",
        "autotts/Qwen3-0.6B/aime25",
        "autotts/Qwen3-0.6B/hmmt25",
    ]


# -- listing ------------------------------------------------------------------------------


def test_list_stores(data: Path) -> None:
    _write(data / "autotts" / "Qwen3-8B" / "aime24.json", _real_looking(3, 5))
    _write(data / "autotts" / "Qwen3-4B" / "aime25.json.gz", _real_looking(2, 7), gz=True)
    _write(data / "mine" / "sim.json", simulate_records(2, 3))
    (data / "mine" / "broken.json").write_text("[{")
    infos = {i.name: i for i in list_stores()}

    default = infos["default"]
    assert default.kind == "embedded" and default.synthetic and default.present
    assert (default.n_questions, default.n_branches) == (30, 128)
    assert next(iter(infos)) == "default"

    assert all(n in infos for n in autotts_names())
    got = infos["autotts/Qwen3-8B/aime24"]
    assert got.status == "present" and (got.n_questions, got.n_branches) == (3, 5)
    assert not got.synthetic
    gz = infos["autotts/Qwen3-4B/aime25"]
    assert gz.present and gz.path.name == "aime25.json.gz" and gz.n_branches == 7
    missing = infos["autotts/Qwen3-0.6B/aime24"]
    assert missing.status == "missing" and missing.n_questions is None

    assert infos["mine/sim"].kind == "local" and infos["mine/sim"].synthetic
    broken = infos["mine/broken"]
    assert broken.status == "invalid" and broken.error and "\n" not in broken.error
    assert len(infos) == 1 + 12 + 2


def test_list_stores_without_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_DSL_DATA", str(tmp_path / "nowhere"))
    infos = list_stores()
    assert len(infos) == 13
    assert sum(i.present for i in infos) == 1


# -- summaries ---------------------------------------------------------------------------


def test_summarize_store() -> None:
    recs = [
        {
            "question": "q",
            "gold_answer": "7",
            "probe_freq": 500,
            "each_branch": [
                [["1", "7"], 900, "7"],  # probes past the end (1000 > 900)
                [["7"], 2600, "7"],  # 2100 tokens short
                [["3", "3"], 1200, "3"],  # neither
            ],
        }
    ]
    s = summarize_store(store_from_records(recs, name="hand"))
    assert s.n_questions == 1 and s.n_branches_min == s.n_branches_max == 3
    assert s.intervals == (500,)
    assert s.share_probes_over == pytest.approx(1 / 3)
    assert s.share_probes_short == pytest.approx(1 / 3)
    assert s.mean_branch_tokens == pytest.approx((900 + 2600 + 1200) / 3)
    assert s.trace_accuracy == pytest.approx(2 / 3)
    assert s.majority_accuracy == 1.0
