"""The LLM path of `tts-dsl search`, against scripted servers on 127.0.0.1
(OpenAI-compatible and Anthropic) and a command backend: every kind of reply
handled as specified, token and $ accounting, retries, the budget cap,
`--dry-run` calling nothing, and no held-out number in any prompt."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.search.backends import (
    AnthropicBackend,
    BackendError,
    Completion,
    Message,
    OpenAIBackend,
    complete_with_retries,
    flatten,
)
from autotts_dsl.search.config import SearchConfig
from autotts_dsl.search.history import History
from autotts_dsl.search.llm import SYSTEM, LLMProposer
from autotts_dsl.search.pricing import PriceTable, estimate_tokens
from tests.test_search_fixtures import (
    CMC,
    FakeLLM,
    Step,
    cmc_variant,
    fenced,
    serve,
    write_store,
)

N_INIT = "n_init           : int   up   = max(2, round(2 + 6*beta))"
CONF = "conf_thresh      : float up   = round(0.85 + 0.12*beta, 4)"
WIDEN = "widen_burst      : int   up   = max(1, round(1 + 3*beta))"
MINC = "min_complete     : int   up   = max(2, round(2 + 3*beta))"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm-stores")
    return {
        "search": write_store(root / "ModelS" / "searchset.json", 5, 16, seed=11),
        "heldout": write_store(root / "ModelS" / "holdoutset.json", 5, 16, seed=12),
    }


def base_args(store: Path, out: Path, *extra: str) -> list[str]:
    return [
        "search",
        "--seed",
        "cmc",
        "--search-store",
        str(store),
        "--betas",
        "0,1",
        "--seeds",
        "2",
        "--rounds",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def history_rows(out: Path, sql: str) -> list[tuple[object, ...]]:
    with History(out / "history.sqlite") as h:
        return h._db.execute(sql).fetchall()


# ---------------------------------------------------------------------------
# The OpenAI-compatible path, reply by reply


@pytest.fixture
def scripted() -> Iterator[FakeLLM]:
    edit = (
        "Raise the stopping threshold a little.\n\nPARENT: p1\n<<<<<<< SEARCH\n"
        "  conf_thresh : float  up = round(0.85 +   0.12*beta, 4)\n"  # spacing differs
        "=======\n  conf_thresh      : float up   = round(0.88 + 0.10*beta, 4)\n"
        ">>>>>>> REPLACE\n"
    )
    no_apply = (
        "PARENT: p1\n<<<<<<< SEARCH\n  patience : int up = 7\n=======\n"
        "  patience : int up = 9\n>>>>>>> REPLACE\n"
    )
    script = [
        # slot 1: a valid complete program
        Step(fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "7*beta")), "More branches.")),
        # slot 2: a valid SEARCH/REPLACE edit
        Step(edit),
        # slot 3: garbage, then a program the checker rejects, then the repair
        Step("I would make the controller smarter, but I am not sure how."),
        Step(fenced(cmc_variant("and ema >= conf_thresh", "and ema >= conf_thres"))),
        Step(fenced(cmc_variant(WIDEN, WIDEN.replace("3*beta", "4*beta"))), usage=None),
        # slot 4: an edit that does not apply, then a timeout, then the program
        Step(no_apply),
        Step(fenced(CMC), delay=5.0),
        Step(fenced(cmc_variant(MINC, MINC.replace("3*beta", "5*beta")))),
    ]
    yield from serve(script)


def test_scripted_openai_round(
    scripted: FakeLLM, stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "llm"
    argv = base_args(
        stores["search"],
        out,
        "--proposer",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--base-url",
        scripted.base + "/v1",
        "--candidates",
        "4",
        "--repairs",
        "2",
        "--timeout",
        "2",  # generous: only the scripted stall may time out
        "--retries",
        "1",
        "--backoff",
        "0.01",
    )
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "round 1/1 (openai): 4/4 accepted" in stdout

    # 8 requests: 1 + 1 + 3 + 3, one of which timed out and was retried.
    assert len(scripted.requests) == 8
    assert all(r["model"] == "gpt-4o-mini" for r in scripted.requests)

    def last_user(i: int) -> str:
        return str(scripted.requests[i]["messages"][-1]["content"])

    assert "holds no program" in last_user(3)  # garbage → asked for a program
    assert "error[E101]" in last_user(4) and "conf_thres" in last_user(4)  # diagnostics fed back
    assert "does not apply to parent p1" in last_user(6)
    assert "complete program" in last_user(6)  # the fallback request
    assert scripted.requests[6] == scripted.requests[7]  # the retry after the timeout

    with History(out / "history.sqlite") as h:
        cands = h.candidates(1)
        assert [c.status for c in cands] == ["new"] * 4
        progs = {c.slot: h.program(c.program_id) for c in cands if c.program_id}
        assert "7*beta" in progs[0].source and progs[0].parents == (1,)
        assert "0.88 + 0.10*beta" in progs[1].source and progs[1].parents == (1,)
        assert "Raise the stopping threshold" in progs[1].rationale
        assert "4*beta" in progs[2].source and "5*beta" in progs[3].source
        kinds = [(r.slot, r.attempt, r.kind, r.codes) for r in h.rejected(1)]
        assert kinds == [
            (2, 0, "no-program", ()),
            (2, 1, "check", ("E101",)),
            (3, 0, "edit-failed", ()),
        ]
        calls = h.calls()
        assert [c.status for c in calls] == ["ok"] * 7
        assert [c.tries for c in calls] == [1, 1, 1, 1, 1, 1, 2]
        prices = PriceTable()
        for c in calls:
            assert c.usd == pytest.approx(
                prices.cost("gpt-4o-mini", c.input_tokens, c.output_tokens)
            )
        reported = [c for c in calls if not c.estimated]
        for c in reported:  # what the server reports, never less than what we count
            sent = flatten([Message(**m) for m in json.loads(c.messages)])
            assert c.input_tokens == max(1000, estimate_tokens(sent))
            assert c.output_tokens == max(200, estimate_tokens(c.reply))
        guessed = [c for c in calls if c.estimated]
        assert len(guessed) == 1  # the reply without usage: counted from characters
        msgs = [Message(**m) for m in json.loads(guessed[0].messages)]
        assert guessed[0].input_tokens == estimate_tokens(flatten(msgs))
        assert guessed[0].output_tokens == estimate_tokens(guessed[0].reply)
        assert h.spent_usd() == pytest.approx(sum(c.usd for c in calls))
        assert len(reported) == 6
        # the seed, the SC baseline and the round's four programs, on the grid
        assert len({k[:3] for k in h.cell_keys()}) == (1 + 1 + 4) * 2


def test_budget_cap_stops_the_search(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variants = [
        fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", f"{k}*beta"))) for k in range(7, 13)
    ]
    out = tmp_path / "budget"
    # A call's input is charged at the server's 3000 tokens ($0.001 each), but
    # never above the ~2,000 the budget check assumed (chars / 3): ~$2; plus the
    # output counted from what arrives (the server claims 0; a ~2,900-character
    # program is ~$0.73). A call's worst case is its prompt at 3 characters a
    # token (~$2.1) plus the most output the read limit lets in (1,224 tokens:
    # $1.22). So the second call fits under $8 (2.9 + 3.3) and the third does
    # not (5.7 + 3.3).
    for fake in serve([Step(v, usage={"in": 3000, "out": 0}) for v in variants]):
        argv = base_args(
            stores["search"],
            out,
            "--proposer",
            "openai",
            "--model",
            "pricey",
            "--price",
            "pricey=1000,1000",
            "--base-url",
            fake.base + "/v1",
            "--candidates",
            "4",
            "--max-tokens",
            "100",
            "--max-prompt-chars",
            "9000",
            "--budget-usd",
            "8",
        )
        assert main(argv) == 0
        made = len(fake.requests)
        assert "budget exhausted" in capsys.readouterr().out
        assert made == 2
        with History(out / "history.sqlite") as h:
            calls = h.calls()
            assert h.spent_usd() == pytest.approx(sum(c.usd for c in calls))
            assert 5 < h.spent_usd() <= 8
            assert all(c.output_tokens > 500 for c in calls)  # counted, not the claimed 0
            assert [c.status for c in h.candidates(1)] == ["new", "new", "budget", "budget"]
            for c in h.calls():
                text = flatten([Message(**m) for m in json.loads(c.messages)])
                assert 5_500 < len(text) <= 9_000  # within --max-prompt-chars, as relied on

        # more money: the search goes on with round 2 (round 1 stays as it was)
        more = ["search", "--out", str(out), "--resume", "--rounds", "2", "--budget-usd", "20"]
        assert main(more) == 0
        assert len(fake.requests) == 2 + 4
        with History(out / "history.sqlite") as h:
            assert [c.status for c in h.candidates(2)] == ["new"] * 4
            assert 14 < h.spent_usd() <= 20


class _Fixed:
    name = "fake"
    model = "m"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, messages: list[Message], max_tokens: int) -> Completion:
        self.calls += 1
        return Completion("no program here", 100, 50, False, 0.0)


@pytest.mark.parametrize("allowed", [0, 1])
def test_budget_is_checked_before_every_call(tmp_path: Path, allowed: int) -> None:
    prices = PriceTable.with_overrides({"m": (1000.0, 1000.0)})
    prompt = "x" * 600
    with History(tmp_path / "h.sqlite", create=True) as h:
        probe = LLMProposer(_Fixed(), h, SearchConfig(max_tokens=100), prices)
        first = probe.worst_case([Message("system", SYSTEM), Message("user", prompt)])
        cap = first - 0.001 if allowed == 0 else first + 0.001
        backend = _Fixed()
        config = SearchConfig(max_tokens=100, repairs=5, budget_usd=cap)
        llm = LLMProposer(backend, h, config, prices)
        res = llm.run_slot(1, 0, prompt, {}, None, lambda _h: None)
        assert res.status == "budget"
        assert backend.calls == allowed
        assert h.spent_usd() == pytest.approx(0.15 * allowed)
        assert h.spent_usd() <= cap


# ---------------------------------------------------------------------------
# Backends


def test_retries_on_429_and_5xx_then_gives_up() -> None:
    for fake in serve([Step(status=429), Step(status=503), Step("ok")]):
        backend = OpenAIBackend("m", fake.base + "/v1", "k", timeout=5)
        got = complete_with_retries(backend, [Message("user", "hi")], 10, retries=3, backoff=0.0)
        assert (got.text, got.tries) == ("ok", 3)
        assert fake.headers[0]["authorization"] == "Bearer k"
    for fake in serve([Step(status=500)] * 3):
        backend = OpenAIBackend("m", fake.base + "/v1", None, timeout=5)
        with pytest.raises(BackendError, match="HTTP 500"):
            complete_with_retries(backend, [Message("user", "hi")], 10, retries=2, backoff=0.0)
        assert len(fake.requests) == 3
    for fake in serve([Step(status=400)]):
        backend = OpenAIBackend("m", fake.base + "/v1", None, timeout=5)
        with pytest.raises(BackendError, match="HTTP 400"):  # not retryable
            complete_with_retries(backend, [Message("user", "hi")], 10, retries=3, backoff=0.0)
        assert len(fake.requests) == 1


def test_grammar_is_offered_behind_the_flag() -> None:
    for fake in serve([Step("a"), Step("b"), Step("c")]):
        plain = OpenAIBackend("m", fake.base + "/v1", None)
        plain.complete([Message("user", "hi")], 10)
        constrained = OpenAIBackend("m", fake.base + "/v1", None, grammar="start: x")
        constrained.complete([Message("user", "hi")], 10)
        assert "structured_outputs" not in fake.requests[0]
        assert fake.requests[1]["structured_outputs"] == {"grammar": "start: x"}
        flat = OpenAIBackend("m", fake.base + "/v1", None, grammar="g", grammar_field="grammar")
        flat.complete([Message("user", "hi")], 10)
        assert fake.requests[2]["grammar"] == "g"


def test_anthropic_backend_against_a_local_fake() -> None:
    for fake in serve([Step("the reply", usage={"in": 321, "out": 45})]):
        backend = AnthropicBackend("claude-sonnet-4-x", fake.base, "secret", timeout=5)
        got = backend.complete(
            [Message("system", "be brief"), Message("user", "hi"), Message("assistant", "yes?")],
            64,
        )
        assert (got.text, got.input_tokens, got.output_tokens, got.estimated) == (
            "the reply",
            321,
            45,
            False,
        )
        req, head = fake.requests[0], fake.headers[0]
        assert req["system"] == "be brief" and req["max_tokens"] == 64
        assert [m["role"] for m in req["messages"]] == ["user", "assistant"]
        assert head["x-api-key"] == "secret" and head["anthropic-version"] == "2023-06-01"
    assert PriceTable().cost("claude-sonnet-4-x", 1_000_000, 0) == pytest.approx(3.0)


def test_anthropic_proposer_end_to_end(
    stores: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "k")
    program = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "5*beta")))
    for fake in serve([Step(program)]):
        out = tmp_path / "anthropic"
        argv = base_args(stores["search"], out, "--proposer", "anthropic", "--model")
        argv += ["claude-3-5-haiku", "--base-url", fake.base, "--api-key-env", "MY_KEY"]
        assert main([*argv, "--candidates", "1"]) == 0
        assert fake.headers[0]["x-api-key"] == "k"
    [(status, usd, tin, tout)] = history_rows(
        out, "SELECT status, usd, input_tokens, output_tokens FROM calls"
    )
    assert status == "ok" and tin >= 1000 and tout >= 200  # never below the server's usage
    assert usd == pytest.approx((tin * 0.8 + tout * 4.0) / 1e6)


SCRIPT = """\
import hashlib, pathlib, sys
prompt = sys.stdin.read()
log = pathlib.Path(sys.argv[1])
log.mkdir(exist_ok=True)
n = len(list(log.glob("prompt-*.txt")))
(log / f"prompt-{n:03d}.txt").write_text(prompt)
cmc = pathlib.Path(sys.argv[2]).read_text()
new = cmc.replace("2 + 6*beta", f"2 + {7 + n}*beta", 1)
print("Try more initial branches.\\n\\n```tts\\n" + new + "```")
"""


def test_command_backend_and_no_heldout_number_in_any_prompt(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autotts_dsl.programs import STDLIB_DIR

    script = tmp_path / "proposer.py"
    script.write_text(SCRIPT, encoding="utf-8")
    log = tmp_path / "prompts"
    command = f"{sys.executable} {script} {log} {STDLIB_DIR / 'cmc.tts'}"
    out = tmp_path / "cmd"
    argv = base_args(stores["search"], out, "--proposer", "command", "--command", command)
    argv += ["--candidates", "2", "--heldout-store", str(stores["heldout"])]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "round 1/1 (command): 2/2 accepted" in first.out
    assert "no price known" in first.err  # a command costs $0, with a warning
    assert "held-out (ModelS/holdoutset;" in first.out
    # the report evaluates nothing new; then two more rounds run after held-out exists
    assert main(["search", "report", str(out), "--heldout", "--no-plot"]) == 0
    assert main(["search", "--out", str(out), "--resume", "--rounds", "3"]) == 0
    capsys.readouterr()

    with History(out / "history.sqlite") as h:
        calls = h.calls()
        assert len(calls) == 6 and all(c.status == "ok" and c.estimated for c in calls)
        assert h.spent_usd() == 0.0
        held = h.cells(heldout=True)
        search = h.cells()
        prompts = [p.read_text() for p in sorted(log.glob("prompt-*.txt"))]
        prompts += [r.prompt for r in h.rounds()]
        prompts += [json.loads(c.messages)[-1]["content"] for c in calls]
    assert held and len(prompts) == 6 + 4 + 6
    assert any("[95% CI" in p for p in prompts)  # gains are shown with their uncertainty

    def cells_of(tree: dict) -> list:  # type: ignore[type-arg]
        return [
            c for per in tree.values() for b in per.values() for x in b.values() for c in x.values()
        ]

    held_points = cells_of(held)
    search_acc = {f"{c.accuracy:.2f}" for c in cells_of(search)}
    numbers = set()
    for c in held_points:
        for tok in (c.avg_tokens, c.avg_seq_tokens):
            numbers |= {f"{tok:,.0f}", f"{tok:.0f}"}
        if f"{c.accuracy:.2f}" not in search_acc:
            numbers.add(f"{c.accuracy:.2f}")
    for text in prompts:
        assert "holdoutset" not in text
        found = set(re.findall(r"[\d][\d,.]*", text))
        assert not (found & numbers), found & numbers


def test_dry_run_calls_nothing(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fake in serve([Step("never")]):
        out = tmp_path / "dry"
        argv = base_args(stores["search"], out, "--proposer", "openai", "--model", "gpt-4o")
        argv += ["--base-url", fake.base + "/v1", "--dry-run"]
        assert main(argv) == 0
        assert fake.requests == []
    printed = capsys.readouterr().out
    assert printed.startswith("# Task: propose a better test-time-scaling controller")
    assert "# Suggested parent" in printed and "## p1: cmc (seed)" in printed
    for section in ("# The target", "# Reference and baselines", "# Ceilings of the search stores"):
        assert section in printed, section
    assert "SC@k with k = round(64^β)" in printed and "pass@64" in printed
    assert not out.exists()  # nothing written to --out


def test_missing_api_key_is_a_usage_error(
    stores: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    argv = base_args(stores["search"], tmp_path / "k", "--proposer", "openai", "--model", "m")
    assert main(argv) == 2


def test_recorded_calls_are_replayed_not_resent(tmp_path: Path) -> None:
    """A slot whose calls are already in the history replays them for free."""
    program = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "9*beta")))

    class Once(_Fixed):
        def complete(self, messages: list[Message], max_tokens: int) -> Completion:
            self.calls += 1
            return Completion(program, 10, 10, False, 0.0)

    with History(tmp_path / "h.sqlite", create=True) as h:
        backend = Once()
        llm = LLMProposer(backend, h, SearchConfig(), PriceTable())
        first = llm.run_slot(1, 0, "prompt", {}, None, lambda _h: None)
        again = llm.run_slot(1, 0, "prompt", {}, None, lambda _h: None)
        assert backend.calls == 1
        assert first.proposed == again.proposed and first.status == "accepted"


def test_grammar_mode_end_to_end(stores: dict[str, Path], tmp_path: Path) -> None:
    from autotts_dsl.grammar_export import export_grammar

    bare = "# one more initial branch\n#\n" + cmc_variant(
        N_INIT, N_INIT.replace("6*beta", "8*beta")
    )
    for fake in serve([Step(bare)]):
        out = tmp_path / "grammar"
        argv = base_args(stores["search"], out, "--proposer", "openai", "--model", "local")
        argv += ["--base-url", fake.base + "/v1", "--grammar", "--candidates", "1"]
        assert main(argv) == 0
        sent = fake.requests[0]
        assert sent["structured_outputs"] == {"grammar": export_grammar("llguidance")}
        assert "guided_grammar" not in sent  # removed in vLLM 0.12, silently ignored since
        prompt = sent["messages"][1]["content"]
        assert "constrained to the tts-dsl grammar" in prompt and "SEARCH/REPLACE" not in prompt
    with History(out / "history.sqlite") as h:
        [cand] = h.candidates(1)
        prog = h.program(cand.program_id or 0)
        assert cand.status == "new" and prog.rationale == "one more initial branch"
