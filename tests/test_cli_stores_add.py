"""Local stores are found: `tts-dsl stores add DIR` and the config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts_dsl.replay import registry
from tests.support.cli import run_cli, write_store


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory and config directory; returns the latter."""
    monkeypatch.setenv("TTS_DSL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TTS_DSL_CONFIG", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    """A directory laid out like ../shared/replay (two AutoTTS stores)."""
    root = tmp_path / "shared" / "replay"
    write_store(root / "autotts" / "Qwen3-8B" / "aime24.json", seed=1)
    write_store(root / "autotts" / "Qwen3-8B" / "aime25.json", seed=2)
    return root


def test_add_makes_names_resolve(
    env: Path, replay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "run", "sc", "--seeds", "1", "-s", "autotts/Qwen3-8B/aime24")
    assert code == 2 and "stores add DIR" in err  # the error says how to make it work
    code, out, err = run_cli(capsys, "stores", "add", str(replay))
    assert code == 0, err
    assert f"added {replay}" in out and "2 store(s) found by name there" in out
    assert (env / "stores.conf").read_text().splitlines()[-1] == str(replay)
    code, out, err = run_cli(
        capsys,
        "run",
        "sc",
        "--seeds",
        "1",
        "--json",
        "--no-baseline",
        "-s",
        "autotts/Qwen3-8B/aime24",
    )
    assert code == 0, err
    assert json.loads(out)["results"][0]["store"] == "autotts/Qwen3-8B/aime24"
    # A directory name expands to the stores under it, as with the data dir.
    assert registry.expand_store_specs(["autotts/Qwen3-8B"]) == [
        str(replay / "autotts" / "Qwen3-8B" / f"{d}.json") for d in ("aime24", "aime25")
    ]


def test_listing_shows_added_stores_present(
    env: Path, replay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "stores", "add", str(replay))
    code, out, _ = run_cli(capsys, "stores", "--json")
    doc = json.loads(out)
    rows = {r["name"]: r for r in doc["stores"]}
    assert rows["autotts/Qwen3-8B/aime24"]["status"] == "present"
    assert rows["autotts/Qwen3-8B/hmmt25"]["status"] == "missing"
    assert doc["store_dirs"][1:] == [str(replay)]
    code, out, _ = run_cli(capsys, "stores")
    assert code == 0 and f"store dir: {replay}" in out
    assert sum("autotts/Qwen3-8B/aime24" in line for line in out.splitlines()) == 1


def test_the_autotts_directory_itself_serves_autotts_names(
    env: Path, replay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "stores", "add", str(replay / "autotts"))[0] == 0
    name, path = registry.locate_store("autotts/Qwen3-8B/aime25")
    assert (name, path) == (
        "autotts/Qwen3-8B/aime25",
        replay / "autotts" / "Qwen3-8B" / "aime25.json",
    )
    names = {i.name for i in registry.list_stores() if i.present}
    assert {"autotts/Qwen3-8B/aime24", "autotts/Qwen3-8B/aime25"} <= names


def test_data_dir_comes_first(env: Path, replay: Path, tmp_path: Path) -> None:
    write_store(tmp_path / "data" / "autotts" / "Qwen3-8B" / "aime24.json", seed=9)
    registry.add_store_dir(replay)
    _, path = registry.locate_store("autotts/Qwen3-8B/aime24")
    assert path == tmp_path / "data" / "autotts" / "Qwen3-8B" / "aime24.json"


def test_add_twice_remove_and_dirs(
    env: Path, replay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "stores", "add", str(replay))
    code, out, _ = run_cli(capsys, "stores", "add", str(replay))
    assert code == 0 and "already listed" in out
    assert registry.configured_dirs() == [replay]
    code, out, _ = run_cli(capsys, "stores", "dirs", "--json")
    assert json.loads(out)["store_dirs"][1:] == [str(replay)]
    code, out, _ = run_cli(capsys, "stores", "remove", str(replay))
    assert code == 0 and registry.configured_dirs() == []
    code, _, err = run_cli(capsys, "stores", "remove", str(replay))
    assert code == 2 and "not listed" in err


def test_config_file_is_plain_text_with_comments(env: Path, replay: Path) -> None:
    env.mkdir()
    (env / "stores.conf").write_text(f"# my stores\n\n  {replay}   # shared copy\n")
    assert registry.configured_dirs() == [replay]
    assert registry.locate_store("autotts/Qwen3-8B/aime24")[1].is_file()


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_add_rejects_what_holds_no_stores(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = tmp_path / kind
    if kind == "file":
        target.write_text("{}")
    elif kind == "empty":
        target.mkdir()
    code, out, err = run_cli(capsys, "stores", "add", str(target))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {target}: ") and "Traceback" not in err
    assert not (env / "stores.conf").exists()


def test_help_says_where_names_are_looked_up(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "stores", "--help")
    text = " ".join(out.split())
    assert code == 0 and "stores add DIR" in text and "stores.conf" in text
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "stores add" in " ".join(out.split())


@pytest.mark.shared
def test_the_shared_replay_directory(
    env: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "stores", "add", str(shared_dir / "replay"))
    assert code == 0, err
    assert "12 store(s) found by name there" in out
    infos = [i for i in registry.list_stores() if i.kind == "autotts"]
    assert len(infos) == 12 and all(i.present for i in infos)
