"""Store loading (protocol §1): validation messages, round trip, interning, arrays."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts_dsl.replay.store import (
    NO_ANSWER,
    ReplayStore,
    StoreError,
    load_store,
    store_from_records,
    store_to_records,
)

Record = dict[str, Any]


def record(gold: str = "7", interval: int = 500, text: str = "q") -> Record:
    return {
        "question": text,
        "gold_answer": gold,
        "probe_freq": interval,
        "final_answers_trace": ["7", "3"],
        "each_branch": [
            [["3", "7"], 1200, "7"],
            [[], 300, "3"],
            [["x", "x", "7"], 1400, "7"],
        ],
    }


def records() -> list[Record]:
    return [record(), record(gold="3", interval=250, text="second"), record(text="third")]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def assert_one_line(err: StoreError, *fragments: str) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.strip() == msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    return msg


# -- validation ------------------------------------------------------------------------

Mutation = Callable[[Record], None]


def _set(key: str, value: Any) -> Mutation:
    def mutate(rec: Record) -> None:
        rec[key] = value

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(rec: Record) -> None:
        del rec[key]

    return mutate


def _branch(i: int, value: Any) -> Mutation:
    def mutate(rec: Record) -> None:
        rec["each_branch"][i] = value

    return mutate


BAD_QUESTIONS: list[tuple[str, Mutation, str, str]] = [
    # (id, mutation of question 1, key expected in the message, reason fragment)
    ("missing-gold", _drop("gold_answer"), "gold_answer", "missing"),
    ("missing-freq", _drop("probe_freq"), "probe_freq", "missing"),
    ("missing-branches", _drop("each_branch"), "each_branch", "missing"),
    ("gold-int", _set("gold_answer", 7), "gold_answer", "must be a string, got int"),
    ("gold-null", _set("gold_answer", None), "gold_answer", "got null"),
    ("freq-str", _set("probe_freq", "500"), "probe_freq", "must be an integer, got str"),
    ("freq-float", _set("probe_freq", 500.0), "probe_freq", "must be an integer, got float"),
    ("freq-bool", _set("probe_freq", True), "probe_freq", "must be an integer, got bool"),
    ("freq-zero", _set("probe_freq", 0), "probe_freq", "must be positive, got 0"),
    ("freq-negative", _set("probe_freq", -500), "probe_freq", "must be positive, got -500"),
    ("branches-dict", _set("each_branch", {}), "each_branch", "must be a list, got dict"),
    ("branches-empty", _set("each_branch", []), "each_branch", "empty"),
    ("triple-not-list", _branch(2, "x"), "each_branch[2]", "[probe_answers, branch_tokens"),
    ("triple-short", _branch(2, [[], 100]), "each_branch[2]", "[probe_answers, branch_tokens"),
    ("triple-long", _branch(0, [[], 100, "a", 1]), "each_branch[0]", "[probe_answers"),
    ("probes-str", _branch(1, ["a", 100, "a"]), "each_branch[1]", "probe_answers"),
    ("probes-int-item", _branch(1, [["a", 3], 100, "a"]), "each_branch[1]", "list of strings"),
    ("tokens-str", _branch(1, [[], "100", "a"]), "each_branch[1]", "branch_tokens"),
    ("tokens-fraction", _branch(1, [[], 100.5, "a"]), "each_branch[1]", "got float"),
    ("tokens-bool", _branch(1, [[], True, "a"]), "each_branch[1]", "got bool"),
    ("tokens-negative", _branch(1, [[], -1, "a"]), "each_branch[1]", ">= 0, got -1"),
    ("final-null", _branch(2, [[], 100, None]), "each_branch[2]", "final_answer"),
    ("final-int", _branch(2, [[], 100, 7]), "each_branch[2]", "final_answer"),
]


@pytest.mark.parametrize(
    ("mutate", "key", "reason"),
    [case[1:] for case in BAD_QUESTIONS],
    ids=[case[0] for case in BAD_QUESTIONS],
)
def test_bad_question_message_names_file_question_and_key(
    tmp_path: Path, mutate: Mutation, key: str, reason: str
) -> None:
    data = records()
    mutate(data[1])
    path = write_json(tmp_path / "broken.json", data)
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "question 1", f"key '{key}'", reason)
    assert info.value.question == 1 and info.value.key == key
    assert info.value.path == str(path)


@pytest.mark.parametrize("value", [5, "q", None, [1, 2]])
def test_question_record_not_an_object(tmp_path: Path, value: Any) -> None:
    data: list[Any] = records()
    data[2] = value
    path = write_json(tmp_path / "s.json", data)
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "question 2", "must be an object")
    assert info.value.key is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [({"a": 1}, "got dict"), ("text", "got str"), (None, "got null"), (3, "got int")],
)
def test_top_level_not_a_list(tmp_path: Path, data: Any, reason: str) -> None:
    path = write_json(tmp_path / "s.json", data)
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "must be a list of questions", reason)
    assert info.value.question is None


def test_empty_list(tmp_path: Path) -> None:
    path = write_json(tmp_path / "s.json", [])
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "no questions")


def test_validation_from_records_names_the_source() -> None:
    data = records()
    data[0]["probe_freq"] = -3
    with pytest.raises(StoreError) as info:
        store_from_records(data, name="x", source="<inline test data>")
    assert_one_line(info.value, "<inline test data>", "question 0", "key 'probe_freq'")


def test_integral_float_tokens_are_accepted_as_int() -> None:
    data = records()
    data[0]["each_branch"][0][1] = 1200.0
    store = store_from_records(data, name="x")
    assert store.questions[0].tokens[0] == 1200
    assert type(store.questions[0].tokens[0]) is int


def test_first_error_wins_in_file_order(tmp_path: Path) -> None:
    data = records()
    del data[2]["gold_answer"]
    data[1]["probe_freq"] = 0
    with pytest.raises(StoreError) as info:
        store_from_records(data, name="x", source="s")
    assert info.value.question == 1 and info.value.key == "probe_freq"


# -- unreadable files -----------------------------------------------------------------


def test_truncated_json(tmp_path: Path) -> None:
    raw = json.dumps(records(), indent=1).encode()
    for cut in (len(raw) // 2, len(raw) // 3, len(raw) - 2):
        path = tmp_path / f"cut{cut}.json"
        path.write_bytes(raw[:cut])
        with pytest.raises(StoreError) as info:
            load_store(path)
        assert_one_line(info.value, str(path), "invalid JSON at line", "column")


def test_truncated_json_at_structure_boundary_hints_truncation(tmp_path: Path) -> None:
    raw = json.dumps(records()).encode()
    cut = raw.index(b"}") + 1  # end of the first record: "[{...}"
    path = tmp_path / "cut.json"
    path.write_bytes(raw[:cut])
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "invalid JSON", "(file truncated?)")


def test_invalid_gzip(tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "corrupt gzip")


def test_truncated_gzip_detected_by_magic_bytes(tmp_path: Path) -> None:
    packed = gzip.compress(json.dumps(records()).encode())
    path = tmp_path / "s.json"  # no .gz suffix: recognised by its magic bytes
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "corrupt gzip")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(json.dumps(records()).encode().replace(b'"second"', b'"sec\xe9nd"'))
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "not UTF-8")


def test_directory_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        load_store(tmp_path)
    assert_one_line(info.value, str(tmp_path), "is a directory")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(StoreError) as info:
        load_store(path)
    assert_one_line(info.value, str(path), "no such file")


# -- loading, round trip ------------------------------------------------------------


def test_load_json_and_gzip_give_the_same_store(tmp_path: Path) -> None:
    d = tmp_path / "Qwen3-X"
    d.mkdir()
    raw = json.dumps(records()).encode()
    plain = d / "aime24.json"
    plain.write_bytes(raw)
    packed = d / "aime24.json.gz"
    packed.write_bytes(gzip.compress(raw))
    a, b = load_store(plain), load_store(packed)
    assert a.name == b.name == "Qwen3-X/aime24"
    assert a.questions == b.questions and a.vocab == b.vocab
    assert a.source == str(plain) and b.source == str(packed)
    assert load_store(plain, name="custom").name == "custom"


def test_loaded_question_contents(tmp_path: Path) -> None:
    store = load_store(write_json(tmp_path / "s.json", records()))
    assert len(store) == 3 and store.max_branches == 3
    q = store.questions[1]
    assert q.index == 1 and q.text == "second" and q.interval == 250 and q.n_branches == 3
    assert store.answer_text(q.gold) == "3"
    assert [[store.answer_text(a) for a in p] for p in q.probes] == [
        ["3", "7"],
        [],
        ["x", "x", "7"],
    ]
    assert q.tokens == (1200, 300, 1400)
    assert [store.answer_text(a) for a in q.finals] == ["7", "3", "7"]


def test_content_hash_tracks_content(tmp_path: Path) -> None:
    a = load_store(write_json(tmp_path / "a.json", records()))
    b = load_store(write_json(tmp_path / "b.json", records()))
    changed = records()
    changed[2]["each_branch"][0][1] = 1201
    c = load_store(write_json(tmp_path / "c.json", changed))
    assert a.content_hash == b.content_hash != c.content_hash
    assert len(a.content_hash) == 16
    assert store_from_records(records(), name="m").content_hash == (
        store_from_records(copy.deepcopy(records()), name="n").content_hash
    )
    assert store_from_records(changed, name="m").content_hash != (
        store_from_records(records(), name="m").content_hash
    )


def test_round_trip_records(tmp_path: Path) -> None:
    original = records()
    store = store_from_records(original, name="rt")
    back = store_to_records(store)
    for rec_in, rec_out in zip(original, back, strict=True):
        for key in ("question", "gold_answer", "probe_freq", "each_branch"):
            assert rec_out[key] == rec_in[key]
        assert rec_out["final_answers_trace"] == [b[2] for b in rec_in["each_branch"]]
    again = store_from_records(back, name="rt")
    assert again.questions == store.questions and again.vocab == store.vocab
    # and through a file
    reloaded = load_store(write_json(tmp_path / "rt.json", back))
    assert reloaded.questions == store.questions and reloaded.vocab == store.vocab


# -- interning ---------------------------------------------------------------------------


def test_interning_in_first_occurrence_order() -> None:
    store = store_from_records(records(), name="i")
    # every string once, ids dense, in order of first occurrence: a question's
    # branch answers (file order), then its gold answer
    assert store.vocab == ("3", "7", "x")
    assert store_from_records(records(), name="j").vocab == store.vocab
    for i, text in enumerate(store.vocab):
        assert store.answer_id(text) == i
        assert store.answer_text(i) == text
    assert store.answer_id(None) == NO_ANSWER
    assert store.answer_id("never seen") == NO_ANSWER
    assert store.answer_text(NO_ANSWER) is None
    # the same string is one id across questions
    q0, q1 = store.questions[0], store.questions[1]
    assert q1.gold == q0.finals[1] == store.answer_id("3")


def test_equal_strings_only_share_ids() -> None:
    data = [record()]
    data[0]["each_branch"] = [[["07", "7", " 7"], 100, "7.0"]]
    store = store_from_records(data, name="i")
    assert store.vocab == ("07", "7", " 7", "7.0")
    assert len(set(store.questions[0].probes[0])) == 3


# -- arrays ----------------------------------------------------------------------------------


def test_arrays_shapes_and_padding() -> None:
    a = record()
    b = record(gold="3", interval=250)
    b["each_branch"] = [[["3", "3", "3", "x", "7"], 2600, "3"]]
    store = store_from_records([a, b], name="arr")
    arr = store.arrays()
    assert arr.probes.shape == (2, 3, 5)
    assert arr.n_probes.tolist() == [[2, 0, 3], [5, 0, 0]]
    assert arr.tokens.tolist() == [[1200, 300, 1400], [2600, 0, 0]]
    i7, i3, ix = store.answer_id("7"), store.answer_id("3"), store.answer_id("x")
    assert arr.finals.tolist() == [[i7, i3, i7], [i3, NO_ANSWER, NO_ANSWER]]
    assert arr.n_branches.tolist() == [3, 1]
    assert arr.gold.tolist() == [i7, i3]
    assert arr.interval.tolist() == [500, 250]
    assert arr.probes[0, 0].tolist() == [i3, i7, NO_ANSWER, NO_ANSWER, NO_ANSWER]
    assert arr.probes[0, 1].tolist() == [NO_ANSWER] * 5
    assert arr.probes[1, 0].tolist() == [i3, i3, i3, ix, i7]
    assert (arr.probes[1, 1:] == NO_ANSWER).all()
    assert arr.probes.dtype == np.int32 and arr.tokens.dtype == np.int64
    assert store.arrays() is arr  # built once


def test_arrays_without_any_probe_keep_a_probe_axis() -> None:
    rec = record()
    rec["each_branch"] = [[[], 10, "7"], [[], 20, "3"]]
    arr = store_from_records([rec], name="p").arrays()
    assert arr.probes.shape == (1, 2, 1)
    assert (arr.probes == NO_ANSWER).all() and arr.n_probes.tolist() == [[0, 0]]


def test_store_is_immutable() -> None:
    store: ReplayStore = store_from_records(records(), name="f")
    with pytest.raises(AttributeError):
        store.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        store.questions[0].interval = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------
# The parsed-store cache


def _write(path: Path, records: list[Record]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def _entries(root: Path) -> list[Path]:
    return sorted((root / "stores").glob("*.pickle")) if (root / "stores").is_dir() else []


def test_a_cached_store_equals_the_parsed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    path = _write(tmp_path / "s.json", [record(), record(gold="3", text="q2")])
    monkeypatch.setenv("TTS_DSL_CACHE", "off")
    uncached = load_store(path)
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    assert _entries(root) == []
    first = load_store(path)
    assert first.questions == uncached.questions and first.vocab == uncached.vocab
    assert len(_entries(root)) == 1

    def no_parsing(*_: Any, **__: Any) -> None:
        raise AssertionError("parsed again: the cache was not used")

    monkeypatch.setattr("autotts_dsl.replay.store.store_from_records", no_parsing)
    second = load_store(path, name="other")
    assert second.questions == first.questions and second.vocab == first.vocab
    assert second.content_hash == first.content_hash and second.name == "other"
    assert second.answer_id("7") == first.answer_id("7")


def test_an_edited_store_is_a_new_entry_never_a_stale_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    path = _write(tmp_path / "s.json", [record()])
    before = load_store(path)
    _write(path, [record(gold="3")])
    after = load_store(path)
    assert after.questions[0].gold != before.questions[0].gold
    assert after.content_hash != before.content_hash
    assert len(_entries(root)) == 2


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_a_corrupt_cache_entry_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, garbage: bytes
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    path = _write(tmp_path / "s.json", [record()])
    expected = load_store(path)
    (entry,) = _entries(root)
    entry.write_bytes(garbage)
    assert load_store(path).questions == expected.questions
    assert entry.read_bytes() != garbage  # re-written from the file


def test_an_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("TTS_DSL_CACHE", str(blocker / "cache"))
    path = _write(tmp_path / "s.json", [record()])
    assert load_store(path).questions[0].gold == load_store(path).questions[0].gold


def test_invalid_stores_are_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    bad = record()
    del bad["gold_answer"]
    path = _write(tmp_path / "s.json", [bad])
    for _ in range(2):
        with pytest.raises(StoreError, match="gold_answer"):
            load_store(path)
    assert _entries(root) == []


def test_the_sc64_column_is_kept_per_store_contents_and_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autotts_dsl import runs

    root = tmp_path / "cache"
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    monkeypatch.setattr(runs, "_SC64", {})
    path = _write(tmp_path / "s.json", [record(), record(gold="3", text="q2")])
    store = load_store(path)
    first = runs.sc64_tokens(store, (0, 1, 2))
    assert len(list((root / "sc64").glob("*.txt"))) == 1
    monkeypatch.setattr(runs, "_SC64", {})

    def no_evaluation(*_: Any, **__: Any) -> None:
        raise AssertionError("evaluated again: the kept figure was not used")

    monkeypatch.setattr(runs._sc_program(), "evaluate", no_evaluation)
    assert runs.sc64_tokens(store, (0, 1, 2)) == first
    monkeypatch.undo()
    monkeypatch.setenv("TTS_DSL_CACHE", str(root))
    monkeypatch.setattr(runs, "_SC64", {})
    runs.sc64_tokens(store, (0, 1))  # other seeds: another entry
    assert len(list((root / "sc64").glob("*.txt"))) == 2
    entry = runs._sc64_file((store.content_hash, (0, 1, 2)))
    assert entry is not None and entry.read_text().strip() == str(first)
    entry.write_text("garbage")  # a corrupt entry is computed again
    monkeypatch.setattr(runs, "_SC64", {})
    assert runs.sc64_tokens(store, (0, 1, 2)) == first
    assert entry.read_text().strip() == str(first)
