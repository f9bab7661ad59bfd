"""LLM backends on the standard library alone: OpenAI-compatible chat
completions, the Anthropic Messages API, and a command (prompt on stdin,
reply on stdout).

Each backend turns a conversation into one `Completion` (text, token counts,
latency) or raises `BackendError`, flagged retryable for 429, 5xx, 408,
timeouts and refused connections. `complete_with_retries` retries those with
exponential backoff (honouring a `Retry-After` header, capped).
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .pricing import estimate_tokens

Role = Literal["system", "user", "assistant"]

MAX_RETRY_AFTER = 60.0
"""Longest wait a server's Retry-After may impose (seconds)."""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    """True when the backend reported no usage and the counts are estimates."""
    latency: float
    tries: int = 1


class BackendError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Backend(Protocol):
    name: str
    model: str

    def complete(self, messages: Sequence[Message], max_tokens: int) -> Completion: ...


def flatten(messages: Sequence[Message]) -> str:
    """A conversation as one text (for the command backend and estimates)."""
    if len(messages) == 2 and messages[0].role == "system":
        return messages[0].content + "\n\n" + messages[1].content
    return "\n\n".join(f"### {m.role}\n{m.content}" for m in messages)


# ---------------------------------------------------------------------------
# HTTP


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> Any:
    """POST JSON, return the decoded JSON reply; errors become `BackendError`."""
    body = json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        code = exc.code
        retryable = code in (408, 409, 429) or code >= 500
        raise BackendError(
            f"HTTP {code} from {url}: {detail.strip()}",
            retryable=retryable,
            retry_after=_retry_after(exc.headers),
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        timed_out = isinstance(reason, TimeoutError | socket.timeout)
        what = "timed out" if timed_out else f"cannot connect: {reason}"
        raise BackendError(f"{url}: {what}", retryable=True) from None
    except TimeoutError:
        raise BackendError(f"{url}: timed out after {timeout:g} s", retryable=True) from None
    except (ConnectionError, OSError) as exc:
        raise BackendError(f"{url}: connection failed: {exc}", retryable=True) from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BackendError(f"{url}: reply is not JSON: {raw[:200]!r}", retryable=False) from None


def _usage_int(usage: Any, key: str) -> int | None:
    if isinstance(usage, dict) and isinstance(usage.get(key), int):
        return int(usage[key])
    return None


def _counts(
    usage: Any, in_key: str, out_key: str, messages: Sequence[Message], text: str
) -> tuple[int, int, bool]:
    pin, pout = _usage_int(usage, in_key), _usage_int(usage, out_key)
    if pin is not None and pout is not None:
        return pin, pout, False
    return estimate_tokens(flatten(messages)), estimate_tokens(text), True


def put_field(payload: dict[str, Any], dotted: str, value: Any) -> None:
    """`payload["a"]["b"] = value` for `dotted` = "a.b" (objects made as needed)."""
    *parents, last = dotted.split(".")
    for key in parents:
        child = payload.setdefault(key, {})
        if not isinstance(child, dict):
            message = f"request field {key!r} is not an object: cannot set {dotted}"
            raise BackendError(message, retryable=False)
        payload = child
    payload[last] = value


@dataclass
class OpenAIBackend:
    """`POST {base_url}/chat/completions` (OpenAI, vLLM, llama.cpp, Ollama, ...).

    With `grammar` set, the request also carries the grammar in the field
    `grammar_field`, a dotted path into the body: the default
    `structured_outputs.grammar` is vLLM's (>= 0.10.2; its older top-level
    `guided_grammar` was removed in 0.12.0 and is silently ignored since),
    llama.cpp's server takes `grammar`. docs/grammar.md has the request."""

    model: str
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    timeout: float = 120.0
    temperature: float = 0.8
    grammar: str | None = None
    grammar_field: str = "structured_outputs.grammar"
    name: str = "openai"

    def complete(self, messages: Sequence[Message], max_tokens: int) -> Completion:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }
        if self.grammar is not None:
            put_field(payload, self.grammar_field, self.grammar)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        started = time.perf_counter()
        data = post_json(
            self.base_url.rstrip("/") + "/chat/completions", payload, headers, self.timeout
        )
        latency = time.perf_counter() - started
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise BackendError(
                f"unexpected reply shape: {json.dumps(data)[:200]}", retryable=False
            ) from None
        text = text if isinstance(text, str) else ""
        usage = data.get("usage") if isinstance(data, dict) else None
        pin, pout, est = _counts(usage, "prompt_tokens", "completion_tokens", messages, text)
        return Completion(text, pin, pout, est, latency)


@dataclass
class AnthropicBackend:
    """`POST {base_url}/v1/messages` (Anthropic Messages API)."""

    model: str
    base_url: str = "https://api.anthropic.com"
    api_key: str | None = None
    timeout: float = 120.0
    temperature: float = 0.8
    version: str = "2023-06-01"
    name: str = "anthropic"

    def complete(self, messages: Sequence[Message], max_tokens: int) -> Completion:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
        }
        if system:
            payload["system"] = system
        headers = {"anthropic-version": self.version}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        base = self.base_url.rstrip("/")
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        started = time.perf_counter()
        data = post_json(url, payload, headers, self.timeout)
        latency = time.perf_counter() - started
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise BackendError(f"unexpected reply shape: {json.dumps(data)[:200]}", retryable=False)
        text = "".join(
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        )
        pin, pout, est = _counts(data.get("usage"), "input_tokens", "output_tokens", messages, text)
        return Completion(text, pin, pout, est, latency)


@dataclass
class CommandBackend:
    """Runs a command per call: the conversation on stdin (`flatten`), the
    reply on stdout. Token counts are estimated from characters."""

    command: str
    model: str = "command"
    timeout: float = 120.0
    name: str = "command"

    def complete(self, messages: Sequence[Message], max_tokens: int) -> Completion:
        argv = shlex.split(self.command)
        if not argv:
            raise BackendError("--command is empty", retryable=False)
        prompt = flatten(messages)
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                argv,
                input=prompt,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"command timed out after {self.timeout:g} s", retryable=True
            ) from None
        except OSError as exc:
            raise BackendError(f"cannot run {argv[0]!r}: {exc}", retryable=False) from None
        latency = time.perf_counter() - started
        if proc.returncode != 0:
            tail = proc.stderr.strip()[-300:]
            raise BackendError(
                f"command exited with status {proc.returncode}: {tail}", retryable=False
            )
        text = proc.stdout
        return Completion(text, estimate_tokens(prompt), estimate_tokens(text), True, latency)


# ---------------------------------------------------------------------------
# Retries


def complete_with_retries(
    backend: Backend,
    messages: Sequence[Message],
    max_tokens: int,
    *,
    retries: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BackendError, float], None] | None = None,
) -> Completion:
    """Call `backend`, retrying retryable errors up to `retries` times with
    waits of backoff, 2·backoff, 4·backoff, ... (or the server's Retry-After)."""
    attempt = 0
    while True:
        try:
            got = backend.complete(messages, max_tokens)
        except BackendError as exc:
            if not exc.retryable or attempt >= retries:
                raise
            wait = exc.retry_after if exc.retry_after is not None else backoff * (2**attempt)
            attempt += 1
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            sleep(wait)
            continue
        if attempt:
            return Completion(
                got.text,
                got.input_tokens,
                got.output_tokens,
                got.estimated,
                got.latency,
                attempt + 1,
            )
        return got
