"""The OpenAI-compatible calls a collection makes, and the checks on what
comes back (`/v1/models`, `/v1/completions`, vLLM's `/tokenize`).

Two ways to see the model's tokens:

* `ids` — vLLM-style: prompts go out as token ids (from `/tokenize`), and a
  trace's tokens come back as ids (`logprobs` with
  `return_tokens_as_token_ids`). Exact: probes see exactly the sampled tokens.
* `text` — any server that returns `logprobs.tokens` (token texts): a probe's
  prefix is the concatenation of the first n token texts.

A server that reports neither cannot be segmented in its own tokens and is
refused (never whitespace splitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..records import record
from .client import ServerClient, ServerError

TokenMode = Literal["ids", "text"]
TOKEN_ID_PREFIX = "token_id:"


@record
class Sampling:
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768
    extra: tuple[tuple[str, Any], ...] = ()  # further body fields (top_k, min_p, ...)

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            **dict(self.extra),
        }


@record
class TraceResult:
    ids: tuple[int, ...] | None  # token ids (ids mode)
    texts: tuple[str, ...] | None  # token texts (text mode)
    text: str
    finish_reason: str
    completion_tokens: int
    prompt_tokens: int = 0

    @property
    def n_tokens(self) -> int:
        return len(self.ids if self.ids is not None else self.texts or ())


@record
class ProbeResult:
    text: str
    finish_reason: str


@record
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _usage(doc: dict[str, Any]) -> Usage:
    u = doc.get("usage")
    if not isinstance(u, dict):
        return Usage()
    p, c = u.get("prompt_tokens"), u.get("completion_tokens")
    return Usage(p if isinstance(p, int) else 0, c if isinstance(c, int) else 0)


Prompt = str | list[int]


def _bad(what: str) -> ServerError:
    return ServerError(f"unexpected response: {what}", retryable=True)


def _choices(doc: Any, n: int) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
        raise _bad("no 'choices' list")
    choices = doc["choices"]
    if len(choices) != n or not all(isinstance(c, dict) for c in choices):
        raise _bad(f"{len(choices)} choices for {n} prompt(s)")
    if all(isinstance(c.get("index"), int) for c in choices):
        choices = sorted(choices, key=lambda c: c["index"])
        if [c["index"] for c in choices] != list(range(n)):
            raise _bad("choice indices do not match the prompts")
    for c in choices:
        if not isinstance(c.get("text"), str):
            raise _bad("a choice without 'text'")
    return list(choices)


class ModelServer:
    """One model on one server (see the module docstring)."""

    def __init__(self, client: ServerClient, model: str) -> None:
        self.client = client
        self.model = model

    def check_model(self) -> None:
        """Fail early, with the served names, when the model is not served."""
        try:
            # Few retries: a server that is not there at the start is most likely a wrong URL.
            doc = self.client.get("/v1/models", retries=min(2, self.client.retries))
        except ServerError as exc:
            if exc.status in (404, 405):
                return  # servers without a model list: nothing to check
            raise
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            return
        names = [d.get("id") for d in data if isinstance(d, dict)]
        if names and self.model not in names:
            raise ServerError(
                f"{self.client.api}: model {self.model!r} is not served; it serves: "
                + ", ".join(str(n) for n in names)
            )

    def has_tokenizer(self) -> bool:
        """Whether the server offers vLLM's `/tokenize` (ids mode)."""
        try:
            self.tokenize("probe", add_special_tokens=False)
        except ServerError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return False
            raise
        return True

    def tokenize(
        self, text: str, *, add_special_tokens: bool, retries: int | None = None
    ) -> list[int]:
        def check(doc: Any) -> list[int]:
            toks = doc.get("tokens") if isinstance(doc, dict) else None
            if not isinstance(toks, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in toks
            ):
                raise _bad("/tokenize returned no 'tokens' list of ints")
            return list(toks)

        payload = {"model": self.model, "prompt": text, "add_special_tokens": add_special_tokens}
        out: list[int] = self.client.post("/tokenize", payload, retries=retries, check=check)
        return out

    def trace(
        self, prompt: Prompt, *, seed: int, sampling: Sampling, mode: TokenMode
    ) -> TraceResult:
        """Sample one trace and report its tokens."""
        payload: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "n": 1,
            "seed": seed,
            "logprobs": 1,
            **sampling.as_dict(),
        }
        if mode == "ids":
            payload["return_tokens_as_token_ids"] = True

        def check(doc: Any) -> TraceResult:
            choice = _choices(doc, 1)[0]
            lp = choice.get("logprobs")
            tokens = lp.get("tokens") if isinstance(lp, dict) else None
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ServerError(
                    "the server returned no per-token output (logprobs.tokens); a trace cannot "
                    "be cut in the model's own tokens without it"
                )
            usage = doc.get("usage")
            reported = usage.get("completion_tokens") if isinstance(usage, dict) else None
            if isinstance(reported, int) and reported != len(tokens):
                raise _bad(f"usage says {reported} completion tokens, logprobs hold {len(tokens)}")
            finish = str(choice.get("finish_reason") or "")
            ids: tuple[int, ...] | None = None
            texts: tuple[str, ...] | None = None
            if mode == "ids":
                try:
                    ids = tuple(int(t.removeprefix(TOKEN_ID_PREFIX)) for t in tokens)
                except ValueError:
                    raise ServerError(
                        "the server returns token texts, not ids (no return_tokens_as_token_ids); "
                        "use --tokens text"
                    ) from None
                if tokens and not tokens[0].startswith(TOKEN_ID_PREFIX):
                    raise ServerError("the server returns token texts, not ids; use --tokens text")
            else:
                texts = tuple(tokens)
            return TraceResult(
                ids, texts, choice["text"], finish, len(tokens), _usage(doc).prompt_tokens
            )

        out: TraceResult = self.client.post("/v1/completions", payload, check=check)
        return out

    def probes(
        self, prompts: Sequence[Prompt], *, max_tokens: int
    ) -> tuple[list[ProbeResult], Usage]:
        """Greedy short completions of several prompts in one request."""
        payload: dict[str, Any] = {
            "model": self.model,
            "prompt": list(prompts) if len(prompts) > 1 else prompts[0],
            "n": 1,
            "temperature": 0.0,
            "max_tokens": max_tokens,
        }

        def check(doc: Any) -> tuple[list[ProbeResult], Usage]:
            results = [
                ProbeResult(c["text"], str(c.get("finish_reason") or ""))
                for c in _choices(doc, len(prompts))
            ]
            return results, _usage(doc)

        out: tuple[list[ProbeResult], Usage] = self.client.post(
            "/v1/completions", payload, check=check
        )
        return out
