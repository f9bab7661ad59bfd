"""`tts-dsl serve-replay`: a replay store served as an OpenAI-compatible model.

Endpoints (vLLM's shapes): `GET /v1/models`, `POST /v1/completions` (prompt
as text, token ids, or a list of either; `seed`, `max_tokens`, `logprobs`,
`return_tokens_as_token_ids`), `POST /tokenize`, `POST /detokenize`, and
`GET /stats` (what it answered, per request, for tests). The model is
`replay_model.ReplayModel`; faults come from `faults.FaultPlan`;
`token_latency` (seconds per generated token) simulates decode time.

Every answered request is counted under a key (kind, question, seed,
prefix length, and for probes a hash of the text after the prefix), only
once its whole response was written — so a test can see whether a client
asked for something it had already received.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..replay.store import ReplayStore
from .faults import FaultPlan
from .model_api import TOKEN_ID_PREFIX
from .replay_model import ReplayModel, RequestError, probe_reply


class ReplayService:
    """The HTTP-independent part: requests in, response documents out."""

    def __init__(
        self,
        model: ReplayModel,
        *,
        model_name: str,
        token_latency: float = 0.0,
        tokenize_endpoint: bool = True,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.token_latency = token_latency
        self.tokenize_endpoint = tokenize_endpoint
        self.answered: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _ids(self, prompt: Any) -> list[int]:
        if isinstance(prompt, str):
            return self.model.tokenize(prompt)
        if isinstance(prompt, list) and set(map(type, prompt)) <= {int}:  # no bools; C speed
            return list(prompt)
        raise RequestError("prompt must be a string or a list of token ids")

    def completions(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[str], float]:
        """(response, request keys, simulated seconds)."""
        if body.get("model") != self.model_name:
            raise RequestError(
                f"model {body.get('model')!r} is not served (serving {self.model_name!r})"
            )
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(p, (str, list)) for p in prompt):
            prompts: Sequence[Any] = prompt
        else:
            prompts = [prompt]
        max_tokens = body.get("max_tokens", 16)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise RequestError("max_tokens must be a positive integer")
        seed = body.get("seed")
        want_ids = bool(body.get("return_tokens_as_token_ids")) and self.tokenize_endpoint
        with_logprobs = body.get("logprobs") is not None
        choices = []
        keys = []
        prompt_tokens = completion_tokens = 0
        for index, p in enumerate(prompts):
            ids = self._ids(p)
            prompt_tokens += len(ids)
            reading = self.model.read_prompt(ids)
            if reading.seed is not None and reading.tail:
                answer = self.model.answer_at(reading.question, reading.seed, reading.prefix)
                text = probe_reply(answer, reading.tail)
                n_out = 2  # the answer and the closing brace
                finish = "stop"
                digest = hashlib.sha256(reading.tail.encode()).hexdigest()[:12]
                keys.append(f"probe:{reading.question}:{reading.seed}:{reading.prefix}:{digest}")
                logprobs = None
            else:
                if reading.seed is None:
                    if not isinstance(seed, int) or isinstance(seed, bool):
                        raise RequestError(
                            "a new trace needs an integer 'seed' (it names the trace)"
                        )
                    trace_seed = seed
                else:
                    trace_seed = reading.seed
                stream = self.model.stream(reading.question, trace_seed)
                out = stream[reading.prefix : reading.prefix + max_tokens]
                finish = "stop" if reading.prefix + len(out) >= len(stream) else "length"
                pieces = [self.model.token_text(t) for t in out]
                text = "".join(pieces)
                n_out = len(out)
                keys.append(f"trace:{reading.question}:{trace_seed}:{reading.prefix}")
                logprobs = None
                if with_logprobs:
                    tokens = [f"{TOKEN_ID_PREFIX}{t}" for t in out] if want_ids else pieces
                    logprobs = {
                        "tokens": tokens,
                        "token_logprobs": [0.0] * len(out),
                        "top_logprobs": None,
                    }
            completion_tokens += n_out
            choices.append(
                {"index": index, "text": text, "finish_reason": finish, "logprobs": logprobs}
            )
        doc = {
            "id": "cmpl-replay",
            "object": "text_completion",
            "created": 0,
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return doc, keys, completion_tokens * self.token_latency

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise RequestError("/tokenize needs a 'prompt' string")
        ids = self.model.tokenize(prompt)
        return {"tokens": ids, "count": len(ids), "max_model_len": 1 << 20}

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": self.model.detokenize(self._ids(body.get("tokens")))}

    def record(self, keys: Sequence[str]) -> None:
        with self._lock:
            self.answered.update(keys)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"answered": dict(self.answered)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's
        # algorithm holds the body until the client's delayed ACK (~40 ms a
        # request), which would swamp any --token-latency. Servers like
        # vLLM's (uvicorn) set it too.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and progress bars share the terminal

    def _send(
        self,
        status: int,
        doc: Any,
        *,
        extra: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        body = raw if raw is not None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, *, extra: dict[str, str] | None = None) -> None:
        self._send(
            status,
            {"error": {"message": message, "type": "invalid_request_error", "code": status}},
            extra=extra,
        )

    def _fault(self) -> bool:
        """Inject the next fault, if any; True when the request is consumed."""
        kind = self.server.faults.draw()
        if kind is None:
            return False
        if kind == "500":
            self._error(500, "injected fault: internal error")
        elif kind == "429":
            self._error(429, "injected fault: rate limited", extra={"Retry-After": "0"})
        elif kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "hang":
            time.sleep(self.server.faults.hang_seconds)
            self.close_connection = True
        elif kind == "truncate":
            body = b'{"choices": [{"index": 0, "text": "' + b"x" * 64 + b'"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "malformed":
            self._send(200, None, raw=b'{"choices": [{"index": 0, "text": ')
        elif kind == "shape":
            self._send(200, {"object": "text_completion", "result": "no choices here"})
        return True

    def _body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            doc = json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._error(400, "request body is not JSON")
            return None
        if not isinstance(doc, dict):
            self._error(400, "request body must be a JSON object")
            return None
        return doc

    def do_GET(self) -> None:
        service = self.server.service
        if self.path == "/stats":
            self._send(200, service.stats())
        elif self.path in ("/v1/models", "/models"):
            if self._fault():
                return
            self._send(
                200, {"object": "list", "data": [{"id": service.model_name, "object": "model"}]}
            )
        elif self.path == "/health":
            self._send(200, {})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        service = self.server.service
        body = self._body()
        if body is None:
            return
        if self.path in ("/tokenize", "/detokenize") and not service.tokenize_endpoint:
            self._error(404, f"no route {self.path}")
            return
        if self.path not in ("/v1/completions", "/tokenize", "/detokenize"):
            self._error(404, f"no route {self.path}")
            return
        if self._fault():
            return
        try:
            if self.path == "/v1/completions":
                doc, keys, delay = service.completions(body)
                if delay > 0:
                    time.sleep(delay)
                self._send(200, doc)
                service.record(keys)
            elif self.path == "/tokenize":
                self._send(200, service.tokenize(body))
            else:
                self._send(200, service.detokenize(body))
        except RequestError as exc:
            self._error(400, str(exc))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    service: ReplayService
    faults: FaultPlan

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-response (killed, timed out) is not the
        # server's error: no traceback for it. Anything else is reported.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ReplayServer:
    """serve-replay in this process: `start()`, `url`, `stop()`."""

    def __init__(
        self,
        store: ReplayStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str | None = None,
        faults: FaultPlan | None = None,
        token_latency: float = 0.0,
        tokenize_endpoint: bool = True,
    ) -> None:
        name = model_name or f"replay/{store.name}"
        self.store = store
        self.service = ReplayService(
            ReplayModel(store),
            model_name=name,
            token_latency=token_latency,
            tokenize_endpoint=tokenize_endpoint,
        )
        self.httpd = _Server((host, port), _Handler)
        self.httpd.service = self.service
        self.httpd.faults = faults or FaultPlan()
        self._thread: threading.Thread | None = None

    @property
    def model_name(self) -> str:
        return self.service.model_name

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}/v1"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="serve-replay", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
