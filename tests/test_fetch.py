"""`fetch_autotts` against a local HTTP server (loopback only).

Whatever the server does — serve a valid store, garbage, a truncated file,
a 404, hang up mid-body, stall — the destination must only ever hold
complete valid stores, and no temp file may be left behind.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from autotts_dsl.replay.registry import (
    AUTOTTS_BASE_URL,
    FetchResult,
    fetch_autotts,
    resolve_store,
    store_base_url,
)
from autotts_dsl.replay.store import load_store
from autotts_dsl.replay.synthetic import simulate_records


def _good_bytes() -> bytes:
    recs = simulate_records(3, 6, seed=11)
    for i, r in enumerate(recs):
        r["question"] = f"problem {i}"
    return json.dumps(recs).encode()


GOOD = _good_bytes()
GARBAGE = b"<html><body>rate limited</body></html>"
WRONG_SHAPE = json.dumps({"each_branch": []}).encode()
MODEL = ("Qwen3-8B",)
ONE = ("aime24",)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def _send(self, body: bytes, *, length: int | None = None, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        mode, _, rest = self.path.lstrip("/").partition("/")
        if mode == "mixed":  # one outcome per dataset
            mode = {"aime24.json": "good", "aime25.json": "truncated"}.get(
                rest.rpartition("/")[2], "missing"
            )
        if mode == "good":
            self._send(GOOD)
        elif mode == "garbage":
            self._send(GARBAGE)
        elif mode == "wrongshape":
            self._send(WRONG_SHAPE)
        elif mode == "truncated":  # a well-formed response carrying half a file
            self._send(GOOD[: len(GOOD) // 2])
        elif mode == "hangup":  # promise the whole file, send half, drop the line
            self._send(GOOD[: len(GOOD) // 2], length=len(GOOD))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif mode == "slow":
            time.sleep(1.5)
            self._send(GOOD)
        else:
            self.send_error(404, "Not Found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out makes the slow handler hit a broken pipe

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _assert_clean(dest: Path) -> None:
    """No temp/hidden files; every store file is complete and valid."""
    for f in dest.rglob("*"):
        assert not f.name.startswith("."), f"left behind: {f}"
        assert not f.name.endswith(".part"), f"left behind: {f}"
        if f.is_file():
            assert f.read_bytes() == GOOD, f"{f} is not the complete store"
            load_store(f)


def _statuses(results: list[FetchResult]) -> list[str]:
    return [r.status for r in results]


def test_downloads_and_skips_present(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    seen: list[tuple[str, int, int | None]] = []
    results = fetch_autotts(
        dest,
        base_url=server.url("good"),
        models=("Qwen3-8B", "Qwen3-4B"),
        datasets=("aime24", "hmmt25"),
        progress=lambda n, done, total: seen.append((n, done, total)),
    )
    assert _statuses(results) == ["downloaded"] * 4
    assert all(r.ok and r.n_bytes == len(GOOD) for r in results)
    assert [r.name for r in results] == [
        "autotts/Qwen3-8B/aime24",
        "autotts/Qwen3-8B/hmmt25",
        "autotts/Qwen3-4B/aime24",
        "autotts/Qwen3-4B/hmmt25",
    ]
    for r in results:
        _, model, dataset = r.name.split("/")
        assert r.path == dest / model / f"{dataset}.json"
    assert (dest / "Qwen3-8B" / "aime24.json").read_bytes() == GOOD
    assert (dest / "Qwen3-8B" / "aime24.json").stat().st_mode & 0o777 == 0o644
    _assert_clean(dest)
    # Progress: starts at 0, ends at the full size, total from Content-Length.
    mine = [(d, t) for n, d, t in seen if n == "autotts/Qwen3-8B/aime24"]
    assert mine[0] == (0, len(GOOD)) and mine[-1] == (len(GOOD), len(GOOD))

    before = len(server.requests)
    again = fetch_autotts(
        dest, base_url=server.url("good"), models=("Qwen3-8B", "Qwen3-4B"), datasets=("aime24",)
    )
    assert _statuses(again) == ["present", "present"]
    assert len(server.requests) == before  # nothing downloaded again


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("garbage", "invalid JSON"),
        ("wrongshape", "top level must be a list"),
        ("truncated", "truncated"),
    ],
)
def test_invalid_download_never_lands(
    server: _Server, tmp_path: Path, mode: str, expect: str
) -> None:
    dest = tmp_path / "autotts"
    (result,) = fetch_autotts(dest, base_url=server.url(mode), models=MODEL, datasets=ONE)
    assert result.status == "invalid" and not result.ok
    assert expect in result.message and "\n" not in result.message
    assert ".part" not in result.message  # reported against the store, not the temp file
    assert not result.path.exists()
    _assert_clean(dest)


def test_http_404(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    results = fetch_autotts(dest, base_url=server.url("missing"), models=MODEL)
    assert _statuses(results) == ["error"] * 3
    assert all(r.message == "HTTP 404 Not Found" for r in results)
    assert len([p for p in server.requests if p.startswith("/missing/")]) >= 3
    _assert_clean(dest)


def test_connection_dropped_mid_body(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    (result,) = fetch_autotts(dest, base_url=server.url("hangup"), models=MODEL, datasets=ONE)
    assert result.status == "error"
    assert "connection" in result.message or "closed" in result.message
    assert not result.path.exists()
    _assert_clean(dest)


def test_mixed_outcomes(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    results = fetch_autotts(dest, base_url=server.url("mixed"), models=MODEL)
    assert _statuses(results) == ["downloaded", "invalid", "error"]
    assert sorted(p.name for p in (dest / "Qwen3-8B").iterdir()) == ["aime24.json"]
    _assert_clean(dest)


def test_present_valid_file_kept_even_if_server_fails(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    final = dest / "Qwen3-8B" / "aime24.json"
    final.parent.mkdir(parents=True)
    final.write_bytes(GOOD)
    (result,) = fetch_autotts(dest, base_url=server.url("garbage"), models=MODEL, datasets=ONE)
    assert result.status == "present"
    assert final.read_bytes() == GOOD


def test_corrupt_file_replaced_by_valid_download(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    final = dest / "Qwen3-8B" / "aime24.json"
    final.parent.mkdir(parents=True)
    final.write_bytes(GOOD[:100])
    (result,) = fetch_autotts(dest, base_url=server.url("good"), models=MODEL, datasets=ONE)
    assert result.status == "downloaded"
    _assert_clean(dest)


def test_failed_download_leaves_existing_file_alone(server: _Server, tmp_path: Path) -> None:
    # A corrupt file the user already had is not ours to delete; it is not
    # overwritten by anything but a valid store.
    dest = tmp_path / "autotts"
    final = dest / "Qwen3-8B" / "aime24.json"
    final.parent.mkdir(parents=True)
    final.write_bytes(b"[")
    (result,) = fetch_autotts(dest, base_url=server.url("truncated"), models=MODEL, datasets=ONE)
    assert result.status == "invalid"
    assert final.read_bytes() == b"["
    assert [p.name for p in final.parent.iterdir()] == ["aime24.json"]


def test_unreachable_host_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "autotts"
    results = fetch_autotts(dest, base_url=f"http://127.0.0.1:{port}", models=MODEL, timeout=5)
    assert _statuses(results) == ["error"] * 3
    assert results[0].message.startswith("cannot connect")
    assert all(r.message.startswith("skipped: cannot connect") for r in results[1:])
    _assert_clean(dest)


def test_timeout(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"
    started = time.monotonic()
    results = fetch_autotts(dest, base_url=server.url("slow"), models=MODEL, timeout=0.3)
    assert time.monotonic() - started < 1.4  # the other two files are not waited for
    assert _statuses(results) == ["error"] * 3
    assert "timed out" in results[0].message
    _assert_clean(dest)


def test_interrupt_mid_download_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "autotts"

    def interrupt(name: str, done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_autotts(
            dest, base_url=server.url("good"), models=MODEL, datasets=ONE, progress=interrupt
        )
    assert list((dest / "Qwen3-8B").iterdir()) == []


def test_unwritable_destination(server: _Server, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    (result,) = fetch_autotts(blocker, base_url=server.url("good"), models=MODEL, datasets=ONE)
    assert result.status == "error" and result.message.startswith("cannot write")


def test_base_url_precedence(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTS_DSL_STORE_URL", raising=False)
    assert store_base_url() == AUTOTTS_BASE_URL
    monkeypatch.setenv("TTS_DSL_STORE_URL", server.url("good") + "/")
    assert store_base_url() == server.url("good")
    assert store_base_url("http://example.invalid/x") == "http://example.invalid/x"


def test_env_url_and_default_destination(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTS_DSL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TTS_DSL_STORE_URL", server.url("good"))
    (result,) = fetch_autotts(models=MODEL, datasets=ONE)
    assert result.status == "downloaded"
    assert result.path == tmp_path / "data" / "autotts" / "Qwen3-8B" / "aime24.json"
    assert resolve_store("autotts/Qwen3-8B/aime24").name == "autotts/Qwen3-8B/aime24"
