"""collect --dry-run, store inspect / merge / build, and the stores listing,
through the CLI, on the questions file shipped with the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autotts_dsl.cli.main import main
from autotts_dsl.live.answers import emittable, extract_boxed
from autotts_dsl.live.equivalence import make_rule
from autotts_dsl.live.replay_server import ReplayServer
from autotts_dsl.live.stats import pass_at_k
from autotts_dsl.replay.store import store_from_records
from tests.support.live import collect_from, tiny_records

QUESTIONS = Path(__file__).parent / "data" / "aime24_questions.jsonl"


def test_dry_run_on_the_shipped_questions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [
        "collect",
        "--questions",
        str(QUESTIONS),
        "--out",
        str(tmp_path / "s.json"),
        "--n",
        "4",
        "--max-tokens",
        "1000",
        "--interval",
        "500",
        "--dry-run",
        "--json",
        "--expect-tokens",
        "600",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["questions"] == 30 and doc["trace_requests"] == 120
    # at most 1000 tokens a trace: probes after 500 and 1000 tokens, one probe request each
    assert doc["at_most"]["probes"] == 240 and doc["at_most"]["probe_requests"] == 120
    assert doc["at_most"]["completion_tokens"] == 120 * (1000 + 2 * 32)
    assert doc["expected"]["probes"] == 240  # 600 tokens: probes at 500 and 600
    assert not (tmp_path / "s.json").exists()
    assert main(argv[:-3]) == 0  # the table form
    assert "trace requests" in capsys.readouterr().out


def test_bad_questions_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "x", "answer": 1}\n{"question": "y"\n')
    assert main(["collect", "--questions", str(bad), "--out", "o.json", "--dry-run"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and f"{bad}:2:" in err and "\n" not in err


def _collected(
    tmp_path: Path, seed: int = 0, name: str = "a.json"
) -> tuple[Path, list[dict[str, Any]]]:
    records = tiny_records(5, n_q=3, n_b=4, interval=8)
    server = ReplayServer(store_from_records(records, name="tiny")).start()
    try:
        collect_from(server, records, tmp_path / name, seed=seed, equivalence="math-verify")
    finally:
        server.stop()
    return tmp_path / name, records


def test_inspect_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, records = _collected(tmp_path)
    assert main(["store", "inspect", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["questions"]) == 3
    stored = json.loads(path.read_text())
    for q, rec in zip(doc["questions"], stored, strict=True):
        c = sum(1 for b in rec["each_branch"] if b[2] == rec["gold_answer"])
        assert q["correct"] == c and q["pass_at"]["1"] == pytest.approx(c / 4)
    assert doc["length_quantiles"]["max"] == max(b[1] for r in records for b in r["each_branch"])
    assert main(["store", "inspect", str(path), "--questions"]) == 0
    assert "probe answers by depth" in capsys.readouterr().out


def test_pass_at_k() -> None:
    assert pass_at_k(4, 0, 2) == 0.0 and pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)


def test_merge_refuses_repeated_seeds_and_merges_disjoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = _collected(tmp_path, seed=0, name="a.json")
    b, _ = _collected(tmp_path, seed=0, name="b.json")
    assert main(["store", "merge", str(a), str(b), "--out", str(tmp_path / "ab.json")]) == 1
    assert "would repeat" in capsys.readouterr().err
    meta = json.loads(Path(str(b) + ".meta").read_text())
    meta["seed"] = 4  # as if collected with --seed 4
    Path(str(b) + ".meta").write_text(json.dumps(meta))
    assert main(["store", "merge", str(a), str(b), "--out", str(tmp_path / "ab.json")]) == 0
    merged = json.loads((tmp_path / "ab.json").read_text())
    first = json.loads(a.read_text())
    assert [len(r["each_branch"]) for r in merged] == [8, 8, 8]
    assert [r["each_branch"][:4] for r in merged] == [r["each_branch"] for r in first]


def test_build_from_given_probes_and_from_token_ids(tmp_path: Path) -> None:
    records = tiny_records(9, n_q=2, n_b=3, interval=8)
    given = tmp_path / "given.jsonl"
    given.write_text(
        "".join(
            json.dumps(
                {
                    "question": r["question"],
                    "gold": r["gold_answer"],
                    "probe_answers": b[0],
                    "tokens": b[1],
                    "final_answer": b[2],
                }
            )
            + "\n"
            for r in records
            for b in r["each_branch"]
        )
    )
    assert (
        main(
            [
                "store",
                "build",
                str(given),
                "--out",
                str(tmp_path / "g.json"),
                "--interval",
                "8",
                "--equivalence",
                "exact",
            ]
        )
        == 0
    )
    assert (tmp_path / "g.json").read_text() == json.dumps(records, indent=2)
    # The same traces as token ids, probed against serve-replay.
    server = ReplayServer(store_from_records(records, name="tiny")).start()
    try:
        model = server.service.model
        lines = []
        for q, r in enumerate(records):
            for seed in range(len(r["each_branch"])):
                ids = model.stream(q, seed)
                lines.append(
                    {
                        "question": r["question"],
                        "gold": r["gold_answer"],
                        "token_ids": ids,
                        "text": model.detokenize(ids),
                    }
                )
        traces = tmp_path / "traces.jsonl"
        traces.write_text("".join(json.dumps(x) + "\n" for x in lines))
        assert (
            main(
                [
                    "store",
                    "build",
                    str(traces),
                    "--out",
                    str(tmp_path / "p.json"),
                    "--interval",
                    "8",
                    "--server",
                    server.url,
                    "--model",
                    server.model_name,
                    "--equivalence",
                    "exact",
                ]
            )
            == 0
        )
    finally:
        server.stop()
    assert (tmp_path / "p.json").read_text() == json.dumps(records, indent=2)


def test_stores_lists_a_collected_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    (data / "mine").mkdir(parents=True)
    monkeypatch.setenv("TTS_DSL_DATA", str(data))
    _collected(data / "mine", name="tiny.json")
    assert main(["stores", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["stores"]}
    assert (
        rows["mine/tiny"]["kind"] == "collected" and "replay/tiny" in rows["mine/tiny"]["collected"]
    )
    assert "mine/tiny.json" not in rows and not any(n.endswith(".meta") for n in rows)


def test_extraction_and_equivalence_rules() -> None:
    assert extract_boxed("so \\boxed{\\frac{1}{2}} done", stopped=False) == "\\frac{1}{2}"
    assert extract_boxed("\\boxed{3} then \\boxed{4}.", stopped=True) == "4"
    assert extract_boxed("\\boxed{1}^{20} k}", stopped=True) == "1}^{20} k"
    assert extract_boxed("\\boxed{1}^{20} k}", stopped=False) == "1"
    assert extract_boxed("\\boxed{5}. Hence $x^{2}$", stopped=True) == "5"
    assert (
        extract_boxed("no box", stopped=True) is None
        and extract_boxed("\\boxed{ }", stopped=True) is None
    )
    assert extract_boxed("\\boxed{\\frac{1}{2", stopped=False) is None
    rule = make_rule("math-verify")
    m = rule.intern(
        "\\frac{1}{2}", ["0.5", "1/2", "\\frac12", "ERR", "229 - g", "229", "2^{10}", "1024"]
    )
    assert m["0.5"] == m["1/2"] == m["\\frac12"] == "\\frac{1}{2}"
    assert m["ERR"] == "ERR" and m["229 - g"] == "229 - g" and m["1024"] == "2^{10}"
    assert make_rule("exact").intern("1", ["01", "1"]) == {"1": "1", "01": "01"}


@pytest.mark.shared
def test_every_shared_answer_can_be_served_and_read_back(shared_store: Any) -> None:
    from tests.support.shared import DATASETS, MODELS

    bad = [
        a for m in MODELS for d in DATASETS for a in shared_store(m, d).vocab if not emittable(a)
    ]
    assert bad == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1{}^_ .\\()[]", min_size=1, max_size=16))
def test_boxed_answers_read_back(s: str) -> None:
    """Whatever a model puts in a box at the end of its output comes back
    unchanged (no `$` or newline inside: those end the greedy reading)."""
    assume(s.strip() == s and "\\boxed{" not in s and s != "ERR")
    assert emittable(s)
    assert extract_boxed(f"reasoning... \\boxed{{{s}}}", stopped=True) == s


def test_missing_math_verify_fails_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain `pip install .` has no math-verify: the default rule says how to get it,
    before a request is sent or a journal is opened."""
    import sys

    monkeypatch.setitem(sys.modules, "math_verify", None)  # import fails as if not installed
    out = tmp_path / "s.json"
    argv = [
        "collect",
        "--server",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--questions",
        str(QUESTIONS),
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pip install 'tts-dsl[live]'" in err and "--equivalence exact" in err
    assert not Path(str(out) + ".journal").exists()
