"""The LLM proposer: one conversation per candidate slot.

A slot sends the round's prompt, reads the reply (`edits.read_reply`: a
full program, or SEARCH/REPLACE edits against a named parent), and checks
the result (`verify`). Whatever goes wrong — no program in the reply, an
edit that does not apply, a checker error, a copy of a known program — is
sent back as the next user message, up to `repairs` times. Only a
check-clean, new program leaves the slot.

Every call is recorded in the history before it is sent (`pending`) and
again when its reply arrives, with tokens and $. On `--resume` a slot
replays the recorded replies instead of calling again, so nothing is paid
twice; only a call that was in flight when the process died is re-sent
(it is kept as `lost`, with its prompt's estimated cost counted against the
budget, since the provider may have billed it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import field

from ..records import record
from .backends import (
    AnthropicBackend,
    Backend,
    BackendError,
    CommandBackend,
    Message,
    OpenAIBackend,
    charged,
    complete_with_retries,
    flatten,
    worst_output_tokens,
)
from .config import SearchConfig
from .edits import read_reply
from .history import History, ProgramRow, clean
from .offline import Proposed, Rejection
from .pricing import (
    WORST_CASE_CHARS_PER_TOKEN,
    Budget,
    BudgetExhausted,
    PriceTable,
    estimate_tokens,
)
from .verify import verify

SYSTEM = (
    "You design test-time-scaling controllers in tts-dsl, a small checked language. "
    "You read evaluation tables and traces, find what a controller does badly, and "
    "propose one focused improvement per reply, in exactly the reply format asked for."
)

REPAIR_CHECK = (
    "Your program does not pass the checker, so it was not evaluated. The checker says:\n\n"
    "{diagnostics}\n\nFix every error and reply with the corrected complete program in one "
    "```tts fenced block."
)
REPAIR_GATE = (
    "Your program passes the checker but not the search's own gate, so it was not evaluated:\n\n"
    "{diagnostics}\n\nFix it and reply with the corrected complete program in one ```tts "
    "fenced block."
)
TOO_LONG_REPLY = "\x00too-long"
"""Recorded as the reply of a call whose reply outgrew the output limit."""
REPAIR_TOO_LONG = (
    "Your reply was longer than the output limit allows, so it was cut off unread. Reply "
    "again, shorter: a few sentences and one program (or SEARCH/REPLACE edits)."
)
REPAIR_DUPLICATE = (
    "That program is identical (up to layout and comments) to {label}, which is already "
    "evaluated. Propose a different change; reply with the complete program in one ```tts block."
)

DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DEFAULT_BASE_URL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class BackendSetupError(ValueError):
    """The proposer options do not make a usable backend."""


def make_backend(config: SearchConfig, grammar_text: str | None = None) -> Backend:
    kind = config.proposer
    if kind == "command":
        if not config.command.strip():
            raise BackendSetupError("--proposer command needs --command 'PROGRAM ARGS'")
        return CommandBackend(
            config.command, model=config.model or "command", timeout=config.timeout
        )
    if kind not in DEFAULT_KEY_ENV:
        raise BackendSetupError(f"--proposer {kind!r} is not an LLM backend")
    if not config.model:
        raise BackendSetupError(f"--proposer {kind} needs --model")
    base = config.base_url or DEFAULT_BASE_URL[kind]
    env = config.api_key_env or DEFAULT_KEY_ENV[kind]
    key = os.environ.get(env)
    hosted = base == DEFAULT_BASE_URL[kind]
    if not key and (config.api_key_env or hosted):
        raise BackendSetupError(f"the API key variable ${env} is not set")
    if kind == "anthropic":
        return AnthropicBackend(
            config.model, base, key, timeout=config.timeout, temperature=config.temperature
        )
    return OpenAIBackend(
        config.model,
        base,
        key,
        timeout=config.timeout,
        temperature=config.temperature,
        grammar=grammar_text if config.grammar else None,
        grammar_field=config.grammar_field,
    )


REPLY_EXCERPT_NOTE = "\n[... the rest of the reply is not repeated here]"


def repair_messages(
    first: list[Message], reply: str, feedback: str, max_chars: int
) -> list[Message]:
    """The conversation of a repair: the first turn, the failed reply and the
    feedback — only the latest attempt, cut so the whole request (as
    `flatten` counts it) stays within `max_chars`: a 2 MB reply is not sent
    back."""

    def build(excerpt: str, fb: str) -> list[Message]:
        return [*first, Message("assistant", excerpt), Message("user", fb)]

    def cut(text: str, room: int) -> str:
        if len(text) <= room:
            return text
        return text[: max(0, room - len(REPLY_EXCERPT_NOTE))] + REPLY_EXCERPT_NOTE

    over = len(flatten(build(reply, feedback))) - max_chars
    if over <= 0:
        return build(reply, feedback)
    fb = (
        cut(feedback, max(400, len(feedback) - over // 2 - 1)) if len(feedback) > 2000 else feedback
    )
    over = len(flatten(build(reply, fb))) - max_chars
    excerpt = cut(reply, max(200, len(reply) - over))
    return build(excerpt, fb)


@record(frozen=False)
class SlotResult:
    status: str
    """accepted | rejected | budget | backend-error"""
    proposed: Proposed | None = None
    rejections: list[Rejection] = field(default_factory=list)
    note: str = ""


@record
class _Failure:
    error: str
    too_long: bool = False


class LLMProposer:
    def __init__(
        self,
        backend: Backend,
        history: History,
        config: SearchConfig,
        prices: PriceTable,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.history = history
        self.config = config
        self.prices = prices
        self.budget = Budget(config.budget_usd, history.spent_usd())
        self.gate: Callable[..., tuple[str, str, tuple[str, ...]] | None] | None = None
        """The search's gate after the checker (caps, smoke run); set by the loop."""
        self._sleep = sleep
        self._say = on_event or (lambda _msg: None)
        if prices.lookup(backend.model) is None:
            self._say(
                f"warning: no price known for model {backend.model!r}: calls are counted as $0 "
                "and --budget-usd cannot cap them (add one with --price MODEL=IN,OUT)"
            )

    def recover_lost(self) -> int:
        """Mark calls left `pending` by a killed process as `lost`, charging
        their prompt's estimated input cost."""
        pending = self.history.calls("pending")
        for row in pending:
            text = flatten([Message(**m) for m in json.loads(row.messages)])
            tokens = estimate_tokens(text)
            usd = self.prices.cost(row.model, tokens, 0)
            self.history.finish_call(
                row.id, "lost", input_tokens=tokens, estimated=True, usd=usd, error="in flight"
            )
            self.budget.add(usd)
        return len(pending)

    def worst_case(self, messages: list[Message]) -> float:
        tokens = estimate_tokens(flatten(messages), WORST_CASE_CHARS_PER_TOKEN)
        out = worst_output_tokens(self.config.max_tokens)
        return self.prices.cost(self.backend.model, tokens, out)

    def affordable(self, prompt: str) -> bool:
        try:
            self.budget.check(self.worst_case([Message("system", SYSTEM), Message("user", prompt)]))
        except BudgetExhausted:
            return False
        return True

    def _call(
        self, round_no: int, slot: int, attempt: int, messages: list[Message]
    ) -> str | _Failure:
        done = self.history.answered_call(round_no, slot, attempt)
        if done is not None:  # replay after --resume: never pay twice
            return done.reply
        self.budget.check(self.worst_case(messages))
        call_id = self.history.begin_call(
            round_no,
            slot,
            attempt,
            self.backend.name,
            self.backend.model,
            json.dumps([{"role": m.role, "content": m.content} for m in messages]),
        )
        tries = 0

        def on_retry(n: int, exc: BackendError, wait: float) -> None:
            nonlocal tries
            tries = n
            self._say(f"round {round_no} slot {slot + 1}: retry {n} in {wait:.1f} s ({exc})")

        try:
            got = complete_with_retries(
                self.backend,
                messages,
                self.config.max_tokens,
                retries=self.config.retries,
                backoff=self.config.backoff,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except BackendError as exc:
            # Charge what may have been billed: the prompt, and what arrived.
            tokens_in = estimate_tokens(flatten(messages))
            usd = self.prices.cost(self.backend.model, tokens_in, exc.output_tokens)
            self.budget.add(usd)
            # A reply that outgrew the limit is the model's doing: it counts as
            # answered (never sent again); any other failure is sent again on
            # --resume.
            self.history.finish_call(
                call_id,
                "ok" if exc.too_long else "error",
                error=str(exc),
                tries=tries + 1,
                usd=usd,
                input_tokens=tokens_in,
                output_tokens=exc.output_tokens,
                estimated=True,
                reply=TOO_LONG_REPLY if exc.too_long else "",
            )
            return TOO_LONG_REPLY if exc.too_long else _Failure(str(exc))
        tin, tout = charged(got.input_tokens, got.output_tokens, messages, self.config.max_tokens)
        usd = self.prices.cost(self.backend.model, tin, tout)
        self.budget.add(usd)
        self.history.finish_call(
            call_id,
            "ok",
            reply=got.text,
            input_tokens=tin,
            output_tokens=tout,
            estimated=got.estimated,
            usd=usd,
            latency=got.latency,
            tries=got.tries,
        )
        return clean(got.text)

    def run_slot(
        self,
        round_no: int,
        slot: int,
        prompt: str,
        parents: Mapping[str, ProgramRow],
        default_parent: str | None,
        known: Callable[[str], ProgramRow | None],
    ) -> SlotResult:
        """One candidate: propose, then repair up to `repairs` times."""
        messages = [Message("system", SYSTEM), Message("user", prompt)]
        result = SlotResult("rejected")
        sources = {label: row.source for label, row in parents.items()}
        for attempt in range(1 + self.config.repairs):
            try:
                text = self._call(round_no, slot, attempt, messages)
            except BudgetExhausted as exc:
                result.status, result.note = "budget", str(exc)
                return result
            if isinstance(text, _Failure):
                # An outage is not the proposal's fault: the slot stays open.
                result.status, result.note = "backend-error", text.error
                return result
            if text == TOO_LONG_REPLY:
                result.rejections.append(
                    Rejection(
                        slot, attempt, "too-long", "", "the reply outgrew the output limit", ()
                    )
                )
                messages = repair_messages(
                    messages[:2], "(reply cut off)", REPAIR_TOO_LONG, self.config.max_prompt_chars
                )
                continue
            reply = read_reply(text, sources, default_parent)
            if reply.source is None:
                feedback = reply.message
                result.rejections.append(
                    Rejection(slot, attempt, reply.kind, text[:20_000], reply.message, ())
                )
            else:
                path = f"<round {round_no} proposal {slot + 1}>"
                verdict = verify(reply.source, path)
                twin = known(verdict.hash) if verdict.ok else None
                gated = None
                if verdict.ok and twin is None and self.gate is not None:
                    gated = self.gate(reply.source, path, verdict.program)
                if verdict.ok and twin is None and gated is None:
                    row = parents.get(reply.parent) if reply.parent is not None else None
                    parent_ids = (row.id,) if row is not None else ()
                    name = verdict.program.name if verdict.program else "?"
                    change = reply.rationale or f"{reply.kind} from {reply.parent or 'scratch'}"
                    result.status = "accepted"
                    result.proposed = Proposed(
                        slot, reply.source, verdict.hash, name, parent_ids, change
                    )
                    return result
                codes: tuple[str, ...] = ()
                if gated is not None:
                    kind, diag, codes = gated
                    feedback = REPAIR_GATE.format(diagnostics=diag)
                elif twin is not None:
                    feedback = REPAIR_DUPLICATE.format(label=twin.label)
                    kind, diag = "duplicate", f"identical to {twin.label}"
                else:
                    feedback = REPAIR_CHECK.format(diagnostics=verdict.diagnostics)
                    kind = "check" if verdict.program is not None else "syntax"
                    diag, codes = verdict.diagnostics, verdict.codes
                result.rejections.append(Rejection(slot, attempt, kind, reply.source, diag, codes))
            messages = repair_messages(messages[:2], text, feedback, self.config.max_prompt_chars)
        result.note = f"no acceptable program after {1 + self.config.repairs} tries"
        return result
