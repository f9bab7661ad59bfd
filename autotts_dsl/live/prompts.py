"""How a question becomes the text the model continues.

The user message is `--prompt-template` with `{question}` replaced; the chat
template wraps it (`{prompt}` replaced): `chatml` (Qwen, the AutoTTS
models), `raw` (the message as it is), or a file holding a template.
The probe suffix is appended to a trace prefix to ask for the answer there;
the default is the cue of Dynasor / Parallel-Probe probing, which ends in an
open `\\boxed{` so the model's next tokens are the answer.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_PROMPT_TEMPLATE = (
    "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
)
CHAT_TEMPLATES = {
    "chatml": "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
    "raw": "{prompt}",
}
DEFAULT_CHAT_TEMPLATE = "chatml"
DEFAULT_PROBE_SUFFIX = (
    "\n\n... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{"
)


class PromptError(ValueError):
    pass


def resolve_chat_template(spec: str) -> str:
    """A template by name, or the contents of a file holding `{prompt}`."""
    if spec in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[spec]
    p = Path(spec)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(
            f"--chat-template {spec!r}: neither {', '.join(CHAT_TEMPLATES)} nor a readable file "
            f"({exc.strerror or exc})"
        ) from None
    if "{prompt}" not in text:
        raise PromptError(f"--chat-template {spec}: the file has no {{prompt}} placeholder")
    return text


def build_prompt(question: str, *, prompt_template: str, chat_template: str) -> str:
    if "{question}" not in prompt_template:
        raise PromptError("--prompt-template needs a {question} placeholder")
    message = prompt_template.replace("{question}", question)
    return chat_template.replace("{prompt}", message)
