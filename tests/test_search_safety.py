"""Nothing a proposal does can hang or crash the search: the caps gate, the
wall-clock budget with a diagnosis of where the time went, timeouts never
re-entered on --resume; and the LLM path's defences (lone surrogates,
bounded repairs, counting what arrives, outages that keep their slot and a
base URL that may change on resume, nearest-program credit, the rejecting
error in the summary)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from autotts_dsl.cli.main import main
from autotts_dsl.executor import ProcessExecutor
from autotts_dsl.interpreter import ProgramRunner
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR
from autotts_dsl.replay.store import load_store
from autotts_dsl.search.backends import Message, flatten, worst_output_tokens
from autotts_dsl.search.caps import Caps, check_caps
from autotts_dsl.search.evaluate import Job, evaluate, store_row
from autotts_dsl.search.history import History, clean
from autotts_dsl.search.verify import verify
from autotts_dsl.search.view import _first_error
from tests.test_search_fixtures import CMC, Step, cmc_variant, fenced, rows, serve, write_store

N_INIT = "n_init           : int   up   = max(2, round(2 + 6*beta))"

# The programs below pass the checker yet run for a long time on any engine:
# the language's caps (fuel <= 10,000,000 loop iterations, rounds and reads;
# max_rounds <= 100,000) bound them, but each iteration counts the opened
# branches, so an episode is ~10^8 operations (seconds on the VM, minutes on
# the reference). A search that allows them must raise its own caps.
HANG = """\
controller hang5 "nested loops over opened: slow without end"

limits { max_rounds = 1000  max_branches = 16  fuel = 10000000 }

state { n: int = 0 }

init { spawn 16 }

round {
  for a in opened {
    for b in opened {
      for c in opened {
        for d in opened {
          for e in opened {
            n = n + count(x in opened where x.reads > 0)
          }
        }
      }
    }
  }
}

finally { answer winner(completed) ?? winner(answers(b in alive where b.answer != none)) }
"""
HANG_LINE = 14  # the innermost loop; its body, on the next line, is as hot


def hot(line: int, fmt: str = ":{}:") -> tuple[str, str]:
    """The diagnosis may name the innermost loop or the statement in it (the
    sampler sees whichever started last; both hold most of the time)."""
    return fmt.format(line), fmt.format(line + 1)


BIG_FUEL = "10000000"

EXTREME = """\
controller extreme "as long as the language allows"

limits { max_rounds = 100000  max_branches = 8  fuel = 10000000 }

state { n: int = 0 }

init { spawn 8 }

round {
  for a in opened {
    for b in opened {
      n = n + count(x in opened where x.reads > 0)
    }
  }
}

finally { answer winner(completed) ?? winner(answers(b in alive where b.answer != none)) }
"""

EMPTY_ROUNDS = """\
controller idle "empty rounds, as many as the language allows"

limits { max_rounds = 100000  fuel = 10000000 }

init { spawn 2 }

round { }

finally { answer winner(completed) ?? winner(answers(b in alive where b.answer != none)) }
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("safety") / "ModelX" / "tiny.json", 4, 16, seed=3)


@pytest.fixture(scope="module")
def pool() -> ProcessExecutor:
    ex = ProcessExecutor(1)
    yield ex  # type: ignore[misc]
    ex.close()


def test_the_programs_here_pass_the_checker() -> None:
    for text in (HANG, EXTREME, EMPTY_ROUNDS):
        assert verify(text).ok, verify(text).diagnostics


# ---------------------------------------------------------------------------
# Caps


def test_caps_reject_limits_a_proposal_cannot_raise() -> None:
    runner = ProgramRunner(parse(EXTREME, "<x>"), EXTREME, "<x>")
    bad = check_caps(runner, (0.0, 1.0), Caps(), store_branches=16)
    assert bad is not None and bad.what == "max_rounds" and bad.value == 100_000
    text = bad.render("<x>", EXTREME)
    assert text.startswith("<x>:3:") and "error[S002]" in text and "max_rounds" in text
    # the stdlib stays within the default caps
    for name in ("cmc", "ibc", "asc", "esc", "sc", "parallel_probe"):
        src = (STDLIB_DIR / f"{name}.tts").read_text(encoding="utf-8")
        r = ProgramRunner(parse(src, name), src, name)
        assert check_caps(r, (0.0, 0.5, 1.0), Caps(), store_branches=128) is None, name
    fuel = Caps(max_rounds=100_000)
    assert check_caps(runner, (0.0,), fuel, 16).what == "fuel"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# The wall-clock budget


@pytest.mark.parametrize(
    ("program", "where"),
    [(HANG, hot(HANG_LINE)), (EXTREME, hot(11))],
)
def test_an_overrun_is_killed_diagnosed_and_never_reentered(
    program: str, where: tuple[str, str], store: Path, pool: ProcessExecutor, tmp_path: Path
) -> None:
    row = store_row("search", str(store), load_store(store))
    with History(tmp_path / "h.sqlite", create=True) as h:
        pid, _ = h.add_program(verify(program).hash, "x", program, (), 1, 0, "offline", "")
        seen: list[str] = []
        stats = evaluate(
            h, pool, [Job(pid, program, f"p{pid}")], (0.5, 1.0), [row], (0, 1),
            budget=1.5, on_timeout=lambda _p, why: seen.append(why),
        )  # fmt: skip
        assert stats.timeouts == [pid] and stats.computed == 0
        assert stats.skipped == 1  # its other cell was never started
        [fail] = h.failure_rows()
        assert fail.kind == "timeout" and "error[S001]" in fail.message
        assert any(w in fail.message for w in where), fail.message
        assert seen == [fail.message]
        assert "round" in fail.message and "max_rounds" in fail.message
        # --resume: a failed program is never evaluated again
        again = evaluate(
            h, pool, [Job(pid, program, f"p{pid}")], (0.5, 1.0), [row], (0, 1), budget=1.5
        )
        assert again.total == 0


def test_empty_rounds_cannot_hang_the_search(
    store: Path, pool: ProcessExecutor, tmp_path: Path
) -> None:
    """Once a hang (2e9 empty rounds cost nothing): the language caps
    max_rounds at 100,000 and charges a unit of fuel per round, so the most
    an idle program can do finishes well inside the budget."""
    row = store_row("search", str(store), load_store(store))
    with History(tmp_path / "h.sqlite", create=True) as h:
        pid, _ = h.add_program(
            verify(EMPTY_ROUNDS).hash, "x", EMPTY_ROUNDS, (), 1, 0, "offline", ""
        )
        stats = evaluate(
            h, pool, [Job(pid, EMPTY_ROUNDS, f"p{pid}")], (0.5, 1.0), [row], (0, 1), budget=30
        )
        assert stats.timeouts == [] and stats.computed == 2


def command_script(tmp_path: Path, replies: list[str]) -> str:
    """A command proposer that answers the n-th call with replies[n] and
    keeps every conversation it was sent."""
    files = []
    for i, text in enumerate(replies):
        f = tmp_path / f"reply{i}.txt"
        f.write_text(text, encoding="utf-8")
        files.append(str(f))
    log = tmp_path / "sent"
    log.mkdir()
    script = tmp_path / "agent.py"
    script.write_text(
        "import pathlib, sys\n"
        "prompt = sys.stdin.read()\n"
        f"log = pathlib.Path({str(log)!r})\n"
        "n = len(list(log.glob('*.txt')))\n"
        "(log / f'{n:03d}.txt').write_text(prompt)\n"
        f"files = {files!r}\n"
        "print(pathlib.Path(files[min(n, len(files) - 1)]).read_text())\n",
        encoding="utf-8",
    )
    return f"{sys.executable} {script}"


def sent(tmp_path: Path) -> list[str]:
    return [p.read_text() for p in sorted((tmp_path / "sent").glob("*.txt"))]


def search_args(store: Path, out: Path, *extra: str) -> list[str]:
    return [
        "search", "--seed", "cmc", "--search-store", str(store), "--betas", "0,0.5,1",
        "--seeds", "2", "--rounds", "1", "--out", str(out), *extra,
    ]  # fmt: skip


def test_hanging_proposals_are_sent_back_like_checker_errors(store: Path, tmp_path: Path) -> None:
    good = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "7*beta")))
    command = command_script(tmp_path, [fenced(EXTREME), fenced(HANG), good])
    out = tmp_path / "run"
    argv = search_args(store, out, "--proposer", "command", "--command", command)
    argv += ["--candidates", "1", "--smoke-timeout", "1.5", "--cap-fuel", BIG_FUEL]
    assert main(argv) == 0  # caps still refuse EXTREME's rounds; HANG's fuel is allowed
    db = out / "history.sqlite"
    got = rows(db, "SELECT attempt, kind, codes, diagnostics FROM rejected ORDER BY attempt")
    assert [(a, k, json.loads(c)) for a, k, c, _ in got] == [
        (0, "caps", ["S002"]),
        (1, "timeout", ["S001"]),
    ]
    assert any(w in got[1][3] for w in hot(HANG_LINE)), got[1][3]
    convo = sent(tmp_path)
    assert "error[S002]" in convo[1] and "max_rounds" in convo[1]
    assert "error[S001]" in convo[2]
    assert any(w in convo[2] for w in hot(HANG_LINE, "line {}")), convo[2]
    assert rows(db, "SELECT status FROM rounds ORDER BY round") == [("done",), ("done",)]
    assert rows(db, "SELECT status FROM candidates WHERE round = 1") == [("new",)]


HEAVY = (
    "  if heavy > 0 {\n    spawn 16\n"
    "    for a in opened { for b in opened { for c in opened { for d in opened {\n"
    "      for e in opened { for f in opened { for g in opened {\n"
    "        ema = ema + 0.0 * count(x in opened where x.reads > 0) } } }\n"
    "    } } } }\n  }"
)
SLOW_AT_ONE = (
    CMC.replace(
        "  n_init           : int   up   = max(2, round(2 + 6*beta))",
        "  n_init           : int   up   = max(2, round(2 + 6*beta))\n"
        "  heavy            : int   up   = round(beta)",
    )
    .replace("init { spawn n_init }", "init {\n  spawn n_init\n" + HEAVY + "\n}")
    .replace("max_rounds = 500 }", "max_rounds = 500  fuel = 5000000 }")
)
SLOW_LINE = 1 + next(  # the innermost loops
    i for i, ln in enumerate(SLOW_AT_ONE.splitlines()) if "for e in opened" in ln
)


def test_a_candidate_that_hangs_in_the_evaluation_is_rejected_and_the_round_finishes(
    store: Path, tmp_path: Path
) -> None:
    assert verify(SLOW_AT_ONE).ok, verify(SLOW_AT_ONE).diagnostics
    command = command_script(tmp_path, [fenced(SLOW_AT_ONE)])
    out = tmp_path / "slow"
    argv = search_args(store, out, "--proposer", "command", "--command", command)
    argv += ["--candidates", "1", "--cell-timeout", "1.5", "--cap-fuel", BIG_FUEL]
    assert main(argv) == 0  # the smoke run at β = 0.5 is fast; β = 1 is not
    db = out / "history.sqlite"
    [(pid,)] = rows(db, "SELECT program_id FROM candidates WHERE round = 1")
    fails = rows(db, "SELECT beta, kind, message FROM failures WHERE program_id = ?", (pid,))
    assert [(b, k) for b, k, _ in fails] == [(1.0, "timeout")]
    why = fails[0][2]
    assert "error[S001]" in why and "in `init`" in why, why
    assert any(w in why for w in hot(SLOW_LINE, "line {}")), why
    [(kind,)] = rows(db, "SELECT kind FROM rejected WHERE round = 1")
    assert kind == "timeout"
    assert rows(db, "SELECT status FROM rounds ORDER BY round") == [("done",), ("done",)]
    cells = rows(db, "SELECT count(*) FROM cells WHERE program_id = ?", (pid,))
    # resume for another round: the timed-out cell is not entered again, and
    # the next prompt shows the rejection like a checker error
    assert main(["search", "--out", str(out), "--resume", "--rounds", "2"]) == 0
    assert rows(db, "SELECT count(*) FROM failures WHERE program_id = ?", (pid,)) == [(1,)]
    assert rows(db, "SELECT count(*) FROM cells WHERE program_id = ?", (pid,)) == cells
    [(prompt,)] = rows(db, "SELECT prompt FROM rounds WHERE round = 2")
    assert "timeout: " in prompt and "error[S001]" in prompt


# ---------------------------------------------------------------------------
# The LLM path


def openai_args(store: Path, out: Path, base: str, *extra: str) -> list[str]:
    return search_args(
        store, out, "--proposer", "openai", "--model", "gpt-4o-mini", "--base-url",
        base + "/v1", "--retries", "0", "--backoff", "0.01", "--candidates", "1", *extra,
    )  # fmt: skip


def test_a_lone_surrogate_is_a_rejected_proposal_not_a_crash(store: Path, tmp_path: Path) -> None:
    broken = cmc_variant("ema_alpha * conf(completed)", "ema_alpha\ud800 * conf(completed)")
    good = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "8*beta")))
    out = tmp_path / "sur"
    for fake in serve([Step("idea \udc00 here\n" + fenced(broken)), Step(good)]):
        assert main(openai_args(store, out, fake.base)) == 0
        assert "\ufffd" in json.dumps(fake.requests[1], ensure_ascii=False)
    db = out / "history.sqlite"
    [(kind, source)] = rows(db, "SELECT kind, source FROM rejected")
    assert kind == "syntax" and "\ufffd" in source
    assert rows(db, "SELECT status FROM candidates WHERE round = 1") == [("new",)]
    assert main(["search", "--out", str(out), "--resume"]) == 0  # no crash loop
    assert clean("a\ud800b") == "a\ufffdb"


def test_repairs_stay_within_the_prompt_bound_and_what_arrives_is_counted(
    store: Path, tmp_path: Path
) -> None:
    huge = "x" * 2_000_000  # far past --max-tokens: reading stops at the limit
    big = "no program here " * 1500  # 24,000 characters, within the limit
    good = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "9*beta")))
    out = tmp_path / "rep"
    limit = 12_000
    script = [
        Step(huge, usage={"in": 10, "out": 1}),
        Step(big, usage={"in": 10, "out": 1}),
        Step(good),
    ]
    for fake in serve(script):
        argv = openai_args(
            store, out, fake.base, "--repairs", "3", "--max-prompt-chars", str(limit)
        )
        assert main([*argv, "--price", "gpt-4o-mini=1000,1000"]) == 0
        sizes = [len(flatten([Message(**m) for m in r["messages"]])) for r in fake.requests]
    assert len(sizes) == 3 and max(sizes) <= limit, sizes
    db = out / "history.sqlite"
    kinds = [k for (k,) in rows(db, "SELECT kind FROM rejected ORDER BY attempt")]
    assert kinds == ["too-long", "no-program"]
    calls = rows(db, "SELECT output_tokens, usd FROM calls ORDER BY id")
    assert calls[0][0] <= worst_output_tokens(4000)  # charged what could arrive, not 2 MB
    assert calls[1][0] >= len(big) // 4  # counted, although the server claimed 1 token


def test_an_outage_keeps_its_slot_and_resume_may_use_another_url(
    store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "down"
    for dead in serve([Step(status=503), Step(status=503)]):
        assert main(openai_args(store, out, dead.base)) == 3
    db = out / "history.sqlite"
    assert rows(db, "SELECT status FROM rounds WHERE round = 1") == [("proposing",)]
    assert rows(db, "SELECT count(*) FROM candidates WHERE round = 1") == [(0,)]
    assert rows(db, "SELECT count(*) FROM rejected") == [(0,)]
    good = fenced(cmc_variant(N_INIT, N_INIT.replace("6*beta", "5*beta")))
    for live in serve([Step(good)]):
        argv = ["search", "--out", str(out), "--resume", "--base-url", live.base + "/v1"]
        assert main(argv) == 0
        assert len(live.requests) == 1
    assert rows(db, "SELECT status FROM rounds WHERE round = 1") == [("done",)]
    assert rows(db, "SELECT status FROM candidates WHERE round = 1") == [("new",)]
    assert [s for (s,) in rows(db, "SELECT status FROM calls ORDER BY id")] == ["error", "ok"]


def test_a_full_program_without_parent_is_credited_to_its_nearest_program(
    store: Path, tmp_path: Path
) -> None:
    ibc = (STDLIB_DIR / "ibc.tts").read_text(encoding="utf-8")
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import re, sys\n"
        "prompt = sys.stdin.read()\n"
        "start = re.findall(r'Start from (p\\d+)', prompt)[-1]\n"
        f"src = {{'p1': {ibc!r}, 'p2': {CMC!r}}}[start]\n"  # the program NOT suggested
        "src = src.replace('round(2 + 6*beta)', 'round(2 + 7*beta)', 1)\n"
        "print('A variant.\\n\\n```tts\\n' + src + '```')\n",
        encoding="utf-8",
    )
    out = tmp_path / "near"
    argv = ["search", "--seed", "cmc", "ibc", "--search-store", str(store), "--betas", "0,1"]
    argv += ["--seeds", "2", "--rounds", "1", "--candidates", "1", "--out", str(out)]
    argv += ["--proposer", "command", "--command", f"{sys.executable} {agent}"]
    assert main(argv) == 0
    db = out / "history.sqlite"
    [(parents, source)] = rows(db, "SELECT parents, source FROM programs WHERE round = 1")
    nearest = 2 if source.startswith(ibc.split("\n", 1)[0]) else 1
    assert json.loads(parents) == [nearest]
    [(prompt,)] = rows(db, "SELECT prompt FROM rounds WHERE round = 1")
    assert f"p{nearest}" in prompt


def test_the_rejection_summary_shows_the_error_not_the_parents_warning() -> None:
    ibc = (STDLIB_DIR / "ibc.tts").read_text(encoding="utf-8")
    bad = ibc.replace(
        "abandon_patience : int   up = max(4, round(5 + 7*beta))",
        "abandon_patience : int   up = max(4, round(12 - 7*beta))",
    )
    verdict = verify(bad, "<p>")
    assert not verdict.ok and verdict.codes[0] == "E201"
    lines = [ln for ln in verdict.diagnostics.splitlines() if ln.strip()]
    assert "W201" in lines[0]  # the parent's own warning comes first in the rendering
    assert "error[E201]" in _first_error(verdict.diagnostics)


def test_a_command_agent_gets_a_workspace_without_held_out_data(
    store: Path, tmp_path: Path
) -> None:
    held = write_store(tmp_path / "stores" / "ModelX" / "secretheld.json", 4, 16, seed=9)
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import os, pathlib, subprocess, sys\n"
        "sys.stdin.read()\n"
        "ws = pathlib.Path(os.environ['TTS_DSL_WORKSPACE'])\n"
        "assert ws == pathlib.Path.cwd()\n"
        "out = subprocess.run(['./evaluate', 'parent.tts'], capture_output=True, text=True)\n"
        "(ws / 'evaluated.txt').write_text(out.stdout + out.stderr)\n"
        "src = (ws / 'parent.tts').read_text()\n"
        "src = src.replace('round(2 + 6*beta)', 'round(2 + 7*beta)', 1)\n"
        "print('Tried it.\\n\\n```tts\\n' + src + '```')\n",
        encoding="utf-8",
    )
    out = tmp_path / "ws"
    argv = search_args(store, out, "--proposer", "command", "--workspace", "--candidates", "1")
    argv += ["--command", f"{sys.executable} {agent}", "--heldout-store", str(held)]
    assert main(argv) == 0
    ws = out / "workspaces" / "r1-s0"
    listing = {p.relative_to(ws).as_posix() for p in ws.rglob("*") if p.is_file()}
    assert {"prompt.md", "parent.tts", "config.json", "evaluate", "stdlib/cmc.tts"} <= listing
    assert any(name.startswith("docs/") for name in listing)
    evaluated = (ws / "evaluated.txt").read_text()
    assert "score (ref:cmc" in evaluated and "tiny" in evaluated
    for path in ws.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "secretheld" not in text and str(held) not in text, path
