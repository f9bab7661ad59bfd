"""Helpers shared by the `tts-dsl search` tests: tiny synthetic stores, a
scripted OpenAI-/Anthropic-compatible HTTP server on 127.0.0.1, reading the
search history. (No tests here; the other test_search_* modules import it.)"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from autotts_dsl.programs import STDLIB_DIR
from autotts_dsl.replay.store import store_to_records
from autotts_dsl.replay.synthetic import simulate_store

CMC = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")


def write_store(path: Path, n_questions: int, n_branches: int, seed: int) -> Path:
    store = simulate_store(n_questions, n_branches, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(store_to_records(store)), encoding="utf-8")
    return path


def cmc_variant(old: str, new: str) -> str:
    """CMC with one text replaced (the replacement must occur)."""
    assert old in CMC, old
    return CMC.replace(old, new, 1)


def fenced(program: str, note: str = "A change.") -> str:
    return f"{note}\n\n```tts\n{program}```\n"


def rows(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the history (or a cache) while another process may write it."""
    if not db.is_file():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return []
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        con.close()


# ---------------------------------------------------------------------------
# A scripted LLM server


@dataclass
class Step:
    """What the server does for one request."""

    content: str = ""
    status: int = 200
    delay: float = 0.0
    usage: dict[str, int] | None = field(default_factory=lambda: {"in": 1000, "out": 200})


@dataclass
class FakeLLM:
    """Serves OpenAI chat completions (`/v1/chat/completions`) and Anthropic
    messages (`/v1/messages`) from a script; records every request."""

    script: list[Step]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    base: str = ""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self) -> Step:
        with self._lock:
            return self.script.pop(0) if self.script else Step("no more scripted replies")

    def start(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                step = fake._next()
                if step.delay:
                    time.sleep(step.delay)
                if step.status != 200:
                    self._send(step.status, {"error": {"message": "scripted failure"}})
                    return
                if self.path.endswith("/messages"):
                    reply: dict[str, Any] = {
                        "content": [{"type": "text", "text": step.content}],
                        "role": "assistant",
                    }
                    if step.usage:
                        reply["usage"] = {
                            "input_tokens": step.usage["in"],
                            "output_tokens": step.usage["out"],
                        }
                else:
                    reply = {
                        "choices": [{"message": {"role": "assistant", "content": step.content}}]
                    }
                    if step.usage:
                        reply["usage"] = {
                            "prompt_tokens": step.usage["in"],
                            "completion_tokens": step.usage["out"],
                        }
                self._send(200, reply)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def serve(script: list[Step]) -> Iterator[FakeLLM]:
    fake = FakeLLM(list(script)).start()
    try:
        yield fake
    finally:
        fake.stop()
