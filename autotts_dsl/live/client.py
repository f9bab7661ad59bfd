"""A small client for OpenAI-compatible servers (vLLM, SGLang, llama.cpp, hosted).

Standard library only (`http.client`), safe to share between threads: each
thread keeps its own keep-alive connection. Every request is retried with
exponential backoff on what a healthy server can recover from — refused or
dropped connections, timeouts (a hang), HTTP 429 and 5xx, a body that is
truncated or not JSON — and fails with one clear `ServerError` line once
the attempts are spent. Other 4xx answers are the caller's fault and are
not retried. The client counts what it sent and what arrived.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import field
from typing import Any

from .. import __version__
from ..records import record

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ServerError(Exception):
    """The server could not be used: one line, with the URL and the reason."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@record(frozen=False)
class ClientStats:
    requests: int = 0  # attempts sent
    ok: int = 0  # responses that arrived whole and parsed
    retries: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # kind of failed attempt -> count
    prompt_tokens: int = 0
    completion_tokens: int = 0
    bytes_received: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "retries": self.retries,
            "failures": dict(self.failures),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "bytes_received": self.bytes_received,
        }


def split_base_url(url: str) -> tuple[str, str]:
    """(root, api base) of a server URL given with or without `/v1`."""
    u = url.strip().rstrip("/")
    if not u.startswith(("http://", "https://")):
        raise ValueError(f"server URL {url!r} must start with http:// or https://")
    parts = urllib.parse.urlsplit(u)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"server URL {url!r} has a malformed port") from None
    if not parts.hostname or parts.netloc.endswith(":"):
        raise ValueError(f"server URL {url!r} has no host or port")
    root = u.removesuffix("/v1")
    return root, root + "/v1"


def public_url(url: str) -> str:
    """The URL without credentials (for metadata and messages)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class ServerClient:
    """JSON over HTTP to one server, with retries; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.root, self.api = split_base_url(url)
        parsed = urllib.parse.urlsplit(self.root)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or "localhost"
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- connections -------------------------------------------------------

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        self._drop_conn()

    # -- requests ----------------------------------------------------------

    def _count_failure(self, kind: str) -> None:
        with self._lock:
            self.stats.failures[kind] = self.stats.failures.get(kind, 0) + 1

    def _once(self, method: str, path: str, body: bytes | None) -> Any:
        headers = {"Accept": "application/json", "User-Agent": f"tts-dsl/{__version__}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with self._lock:
            self.stats.requests += 1
        conn = self._conn()
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except TimeoutError:
            self._drop_conn()
            raise ServerError("timed out", retryable=True) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self._drop_conn()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            kind = type(exc).__name__
            raise ServerError(
                f"connection failed ({kind}: {reason or 'closed'})", retryable=True
            ) from None
        if resp.getheader("Connection", "").lower() == "close":
            self._drop_conn()
        with self._lock:
            self.stats.bytes_received += len(raw)
        if resp.status >= 400:
            message = _error_message(raw) or resp.reason
            err = ServerError(
                f"HTTP {resp.status}: {message}",
                status=resp.status,
                retryable=resp.status in RETRYABLE_STATUS,
            )
            err.retry_after = _retry_after(resp.getheader("Retry-After"))  # type: ignore[attr-defined]
            raise err
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) != len(raw):
            self._drop_conn()
            raise ServerError(f"truncated body ({len(raw)} of {declared} bytes)", retryable=True)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._drop_conn()
            raise ServerError(f"malformed JSON in the response ({exc})", retryable=True) from None

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        retries: int | None = None,
        check: Callable[[Any], Any] | None = None,
    ) -> Any:
        """One JSON request, retried as the module docstring says. `check`
        turns the parsed body into the result and raises a retryable
        `ServerError` when the body has the wrong shape (a lying server)."""
        body = None if payload is None else json.dumps(payload).encode()
        budget = self.retries if retries is None else retries
        url = self.root + path
        delay = self.backoff
        attempt = 0
        while True:
            try:
                out = self._once(method, path, body)
                result = out if check is None else check(out)
            except ServerError as exc:
                self._count_failure(_failure_kind(exc))
                if not exc.retryable or attempt >= budget:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise ServerError(
                        f"{method} {url}: {exc}{tries}", status=exc.status, retryable=exc.retryable
                    ) from None
                wait = getattr(exc, "retry_after", None) or delay * (0.5 + random.random())
                time.sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
                attempt += 1
                with self._lock:
                    self.stats.retries += 1
                continue
            with self._lock:
                self.stats.ok += 1
                usage = out.get("usage") if isinstance(out, dict) else None
                if isinstance(usage, dict):
                    self.stats.prompt_tokens += _int(usage.get("prompt_tokens"))
                    self.stats.completion_tokens += _int(usage.get("completion_tokens"))
            return result

    def post(
        self,
        path: str,
        payload: Any,
        *,
        retries: int | None = None,
        check: Callable[[Any], Any] | None = None,
    ) -> Any:
        return self.request("POST", path, payload, retries=retries, check=check)

    def get(self, path: str, *, retries: int | None = None) -> Any:
        return self.request("GET", path, retries=retries)


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _failure_kind(exc: ServerError) -> str:
    if exc.status is not None:
        return f"http_{exc.status}"
    text = str(exc)
    for kind in ("timed out", "truncated", "malformed"):
        if text.startswith(kind):
            return kind.replace(" ", "_")
    return "connection"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_message(raw: bytes) -> str:
    """The `error.message` of an OpenAI-style error body, else its first line."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace").strip().splitlines()[0][:200] if raw.strip() else ""
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
        if isinstance(doc.get("detail"), str):
            return str(doc["detail"])[:300]
    return ""
