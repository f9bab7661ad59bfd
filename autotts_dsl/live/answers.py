"""Finding the answer a model gave: the content of its last `\\boxed{...}`.

The rule (also written into every collected store's metadata):

1. Take the text after the last `\\boxed{`. No `\\boxed{` → no answer.
2. The box closes at the first `}` that balances the braces opened after it.
3. Except when the completion stopped on its own (finish reason `stop`) and
   its text ends with a `}` followed only by closers (spaces, `$`, `\\]`,
   `\\)`, `.`): then the box closes at that last `}`, provided no `$` or
   newline lies between the balanced close and it. A model that ends its
   output by closing the box means that brace; this keeps answers whose
   braces do not balance (AutoTTS's stores hold such strings) intact.
4. The content is stripped of surrounding whitespace; empty → no answer.

"No answer" is stored as `NO_ANSWER_TEXT` ("ERR", AutoTTS's marker).
"""

from __future__ import annotations

BOX = "\\boxed{"
NO_ANSWER_TEXT = "ERR"
"""How a store spells "the model gave no answer" (AutoTTS's convention)."""

RULE = (
    "content of the last \\boxed{...}; braces balance, except that a completion which stopped "
    "on its own right after a closing brace (only spaces, $, \\], \\), . after it) closes the "
    "box at that last brace when no $ or newline lies between; stripped; empty or missing = "
    f"{NO_ANSWER_TEXT}"
)

_CLOSERS = ("\\]", "\\)", "$", ".")


def _balanced_close(body: str) -> int | None:
    """Index in `body` of the `}` closing a box opened just before it."""
    depth = 1
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _final_brace(body: str) -> int | None:
    """Index of the last `}` of `body` when only closers follow it."""
    end = len(body)
    while True:
        trimmed = body[:end].rstrip()
        for closer in _CLOSERS:
            if trimmed.endswith(closer):
                end = len(trimmed) - len(closer)
                break
        else:
            return len(trimmed) - 1 if trimmed.endswith("}") else None


def extract_boxed(text: str, *, stopped: bool) -> str | None:
    """The answer in `text` (see the module docstring), or None."""
    start = text.rfind(BOX)
    if start < 0:
        return None
    body = text[start + len(BOX) :]
    close = _balanced_close(body)
    if stopped:
        last = _final_brace(body)
        if last is not None and (
            close is None or (last > close and not any(c in body[close:last] for c in "$\n"))
        ):
            close = last
    if close is None:
        return None
    answer = body[:close].strip()
    return answer or None


def answer_text(answer: str | None) -> str:
    """The store spelling of an extracted answer."""
    return NO_ANSWER_TEXT if answer is None else answer


def emittable(answer: str) -> bool:
    """True when a model writing `\\boxed{answer}` at the end of its output is
    read back as exactly `answer` (what serve-replay relies on)."""
    if answer == NO_ANSWER_TEXT:
        return True
    return extract_boxed(f"{BOX}{answer}}}", stopped=True) == answer
