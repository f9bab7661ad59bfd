"""`tts-dsl stores`: list / show / fetch, exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.replay.synthetic import simulate_records


def _records() -> list[dict[str, Any]]:
    recs = simulate_records(2, 5, seed=4)
    for i, r in enumerate(recs):
        r["question"] = f"problem {i}"
    return recs


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("TTS_DSL_DATA", str(root))
    monkeypatch.delenv("TTS_DSL_STORE_URL", raising=False)
    return root


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A local catalogue mirror, fetched through file:// URLs (no network)."""
    root = tmp_path / "mirror"
    good = json.dumps(_records())
    for model in ("Qwen3-8B", "Qwen3-4B"):
        (root / model).mkdir(parents=True)
        for dataset in ("aime24", "aime25", "hmmt25"):
            (root / model / f"{dataset}.json").write_text(good)
    (root / "Qwen3-4B" / "aime25.json").write_text(good[: len(good) // 3])  # truncated
    (root / "Qwen3-4B" / "hmmt25.json").unlink()  # missing
    return root


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith("error:")
    assert "Traceback" not in err
    return err


# -- list -----------------------------------------------------------------------------------


def test_list_table(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "autotts" / "Qwen3-8B").mkdir(parents=True)
    (data / "autotts" / "Qwen3-8B" / "aime24.json").write_text(json.dumps(_records()))
    assert main(["stores"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "synthetic" in out and "embedded" in out
    assert "autotts/Qwen3-0.6B/aime24" in out and "missing" in out
    assert "2×5" in out  # the present store's shape
    assert "30×128" in out
    assert "tts-dsl stores fetch autotts" in out
    assert str(data) in out


def test_list_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "x.json").write_text("[")
    assert main(["stores", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["data_dir"] == str(data)
    rows = {r["name"]: r for r in doc["stores"]}
    assert rows["default"]["synthetic"] is True and rows["default"]["status"] == "present"
    assert rows["autotts/Qwen3-8B/hmmt25"]["status"] == "missing"
    assert rows["x"]["status"] == "invalid" and rows["x"]["error"]
    assert len(rows) == 14
    # `--json` also works before the action, and with no action at all.
    assert main(["stores", "--json", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    assert main(["stores", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc


# -- show -------------------------------------------------------------------------------------


def test_show_default(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stores", "show", "default"]) == 0
    out = capsys.readouterr().out
    assert "synthetic/default" in out
    assert "yes" in out and "not comparable" in out
    assert "questions" in out and "30" in out and "128" in out and "500" in out


def test_show_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = data / "mine.json"
    f.write_text(json.dumps(_records()))
    assert main(["stores", "show", str(f), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["synthetic"] is False
    assert (doc["n_questions"], doc["n_branches_max"], doc["intervals"]) == (2, 5, [500])
    assert doc["mean_branch_tokens"] > 0
    assert main(["stores", "show", "mine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "mine"


@pytest.mark.parametrize(
    ("content", "expect"),
    [("[{", "truncated"), ("{}", "top level must be a list"), ('[{"gold_answer": 3}]', "key")],
)
def test_show_invalid_store_exit_1(
    data: Path, capsys: pytest.CaptureFixture[str], content: str, expect: str
) -> None:
    (data / "bad.json").write_text(content)
    assert main(["stores", "show", "bad"]) == 1
    err = _err_line(capsys)
    assert "bad.json" in err and expect in err


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("no/such/store", "tts-dsl stores"),
        ("autotts/Qwen3-8B/aime24", "tts-dsl stores fetch autotts"),
        ("missing-file.json", "no such file"),
    ],
)
def test_show_unavailable_exit_2(
    data: Path, capsys: pytest.CaptureFixture[str], spec: str, expect: str
) -> None:
    assert main(["stores", "show", spec]) == 2
    assert expect in _err_line(capsys)


def test_show_directory_exit_2(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stores", "show", str(tmp_path)]) == 2
    assert "directory" in _err_line(capsys)


# -- fetch ---------------------------------------------------------------------------------


def test_fetch_ok_then_present(
    data: Path, mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["stores", "fetch", "autotts", "--base-url", mirror.as_uri(), "--model", "Qwen3-8B"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("downloaded") == 3 and "3/3 stores ok" in out
    for dataset in ("aime24", "aime25", "hmmt25"):
        assert (data / "autotts" / "Qwen3-8B" / f"{dataset}.json").is_file()
    assert main(argv) == 0
    assert capsys.readouterr().out.count(" present ") == 3
    # Now resolvable by name, and listed as present.
    assert main(["stores", "show", "autotts/Qwen3-8B/aime25", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_questions"] == 2


def test_fetch_invalid_exit_1(
    data: Path, mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    argv = ["stores", "fetch", "autotts", "--base-url", mirror.as_uri(), "--dest", str(dest)]
    code = main([*argv, "--model", "Qwen3-4B", "--dataset", "aime24", "--dataset", "aime25"])
    assert code == 1
    captured = capsys.readouterr()
    assert "invalid" in captured.out
    assert "autotts/Qwen3-4B/aime25: not a valid store: invalid JSON" in captured.out
    assert "nothing partial was written" in captured.err
    assert sorted(p.name for p in (dest / "Qwen3-4B").iterdir()) == ["aime24.json"]
    assert not (data / "autotts").exists()  # --dest was honoured


def test_fetch_error_exit_2(data: Path, mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["stores", "fetch", "autotts", "--base-url", mirror.as_uri(), "--model", "Qwen3-4B"]
    assert main([*argv, "--json"]) == 2  # one missing (I/O) beats one invalid
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["downloaded", "invalid", "error"]
    assert rows[0]["ok"] is True and rows[2]["ok"] is False
    files = sorted(p.name for p in (data / "autotts" / "Qwen3-4B").iterdir())
    assert files == ["aime24.json"]


def test_fetch_env_base_url(
    data: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTS_DSL_STORE_URL", mirror.as_uri())
    assert main(["stores", "fetch", "autotts", "--model", "Qwen3-8B", "--dataset", "aime24"]) == 0
    assert "downloaded" in capsys.readouterr().out


def test_fetch_usage_errors(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stores", "fetch", "huggingface"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["stores", "fetch", "autotts", "--model", "Qwen3-70B"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["stores", "show"])
    assert info.value.code == 2
