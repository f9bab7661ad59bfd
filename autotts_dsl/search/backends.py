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
from typing import Any, Literal, Protocol

from ..records import record
from .pricing import WORST_CASE_CHARS_PER_TOKEN as WORST_CHARS_PER_TOKEN
from .pricing import estimate_tokens

Role = Literal["system", "user", "assistant"]

MAX_RETRY_AFTER = 60.0
"""Longest wait a server's Retry-After may impose (seconds)."""
BYTES_PER_TOKEN = 8
"""Reading a reply stops after `max_tokens` × this many bytes (plus the JSON
envelope): twice the 4 characters a token we count with, room for JSON
escaping, and a hard bound on what a server that ignores `max_tokens` can
make us pay for (`worst_output_tokens`)."""
ENVELOPE_BYTES = 4096


def reply_limit(max_tokens: int) -> int:
    return max_tokens * BYTES_PER_TOKEN + ENVELOPE_BYTES


def worst_output_tokens(max_tokens: int) -> int:
    """The most output tokens a call can be charged: what the read limit lets
    arrive, counted at 4 characters a token."""
    return estimate_tokens("x" * reply_limit(max_tokens))


@record
class Message:
    role: Role
    content: str


@record
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    """True when the backend reported no usage and the counts are estimates."""
    latency: float
    tries: int = 1


class BackendError(Exception):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        too_long: bool = False,
        output_tokens: int = 0,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.too_long = too_long
        """The reply outgrew the output limit: the model's fault, not an outage."""
        self.output_tokens = output_tokens
        """Output tokens counted from what arrived before reading stopped."""


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


def post_json(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    timeout: float,
    max_bytes: int | None = None,
) -> Any:
    """POST JSON, return the decoded JSON reply; errors become `BackendError`.
    At most `max_bytes` of the reply are read: a longer reply is an error
    (`too_long`), whatever the server claims about it."""
    body = json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read(max_bytes + 1) if max_bytes is not None else resp.read()
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
    if max_bytes is not None and len(raw) > max_bytes:
        raise BackendError(
            f"{url}: the reply is longer than the output limit allows; stopped reading after "
            f"{max_bytes:,} bytes",
            retryable=False,
            too_long=True,
            output_tokens=estimate_tokens(raw[:max_bytes].decode("utf-8", "replace")),
        )
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
    """Token counts to charge: what the server reports, but never less than
    what we count ourselves from the characters sent and received (a server
    that under-reports cannot get round the budget cap)."""
    pin, pout = _usage_int(usage, in_key), _usage_int(usage, out_key)
    counted_in, counted_out = estimate_tokens(flatten(messages)), estimate_tokens(text)
    if pin is not None and pout is not None:
        return max(pin, counted_in), max(pout, counted_out), False
    return counted_in, counted_out, True


def charged(
    tokens_in: int, tokens_out: int, messages: Sequence[Message], max_tokens: int
) -> tuple[int, int]:
    """Counts clamped to the worst case the budget check assumed, so the cap
    holds even against a server that over-reports its usage."""
    worst_in = estimate_tokens(flatten(messages), WORST_CHARS_PER_TOKEN)
    return min(tokens_in, max(worst_in, 1)), min(tokens_out, worst_output_tokens(max_tokens))


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


@record(frozen=False)
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
            self.base_url.rstrip("/") + "/chat/completions",
            payload,
            headers,
            self.timeout,
            reply_limit(max_tokens),
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


@record(frozen=False)
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
        data = post_json(url, payload, headers, self.timeout, reply_limit(max_tokens))
        latency = time.perf_counter() - started
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise BackendError(f"unexpected reply shape: {json.dumps(data)[:200]}", retryable=False)
        text = "".join(
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        )
        pin, pout, est = _counts(data.get("usage"), "input_tokens", "output_tokens", messages, text)
        return Completion(text, pin, pout, est, latency)


@record(frozen=False)
class CommandBackend:
    """Runs a command per call: the conversation on stdin (`flatten`), the
    reply on stdout. Token counts are estimated from characters."""

    command: str
    model: str = "command"
    timeout: float = 120.0
    name: str = "command"
    cwd: str | None = None
    """The working directory of the next call (a workspace), if any."""

    def complete(self, messages: Sequence[Message], max_tokens: int) -> Completion:
        argv = shlex.split(self.command)
        if not argv:
            raise BackendError("--command is empty", retryable=False)
        prompt = flatten(messages)
        started = time.perf_counter()
        env = None
        if self.cwd is not None:
            import os

            env = {**os.environ, "TTS_DSL_WORKSPACE": self.cwd}
        try:
            proc = subprocess.run(
                argv,
                input=prompt,
                cwd=self.cwd,
                env=env,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",  # a reply that is not UTF-8 is the reply's problem
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
        limit = reply_limit(max_tokens)
        if len(text) > limit:
            raise BackendError(
                f"the command's reply is longer than the output limit allows ({len(text):,} "
                f"characters, limit {limit:,})",
                retryable=False,
                too_long=True,
                output_tokens=estimate_tokens(text[:limit]),
            )
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
