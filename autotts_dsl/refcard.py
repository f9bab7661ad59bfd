"""The builtins reference, generated from the one builtins table.

Feeds `docs/builtins.md` (a test keeps the file equal to this output) and,
later, the proposer's prompt.
"""

from __future__ import annotations

from .builtins import BRANCH_FIELDS, BUILTIN_VALUES, BUILTINS


def _esc(text: str) -> str:
    return text.replace("|", "\\|")


def builtins_markdown() -> str:
    out = [
        "# Builtins reference",
        "",
        "Generated from `autotts_dsl/builtins.py` by `python -m autotts_dsl.refcard`;",
        "do not edit by hand (a test checks this file against the table).",
        "",
        "## State reads",
        "",
        "| name | type | meaning |",
        "| --- | --- | --- |",
    ]
    for v in BUILTIN_VALUES:
        where = " (also in `schedule`)" if v.schedule else ""
        out.append(f"| `{v.name}` | {v.type} | {_esc(v.doc)}{where} |")
    out += [
        "",
        "## Branch fields (`b.NAME` for a branch `b`)",
        "",
        "| field | type | meaning |",
        "| --- | --- | --- |",
    ]
    for f in BRANCH_FIELDS:
        out.append(f"| `{f.name}` | {f.type} | {_esc(f.doc)} |")
    out += [
        "",
        "## Functions",
        "",
        "`mono` gives the monotonicity in each argument, used by the schedule",
        "checker; `schedule` marks functions allowed in `schedule`, `params` and",
        "`limits`; `effect` marks statements; `vm` names the VM instruction that",
        "computes it (`autotts_dsl/vm/opcodes.py`, see docs/engines.md).",
        "",
        "| signature | meaning | example | mono | schedule | cost | vm |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in BUILTINS:
        mono = ", ".join(b.mono) if b.mono else "-"
        flags = "yes" if b.schedule else ("effect" if b.effect else "")
        domain = f" ({b.domain})" if b.domain else ""
        out.append(
            f"| `{_esc(b.signature)}` | {_esc(b.doc)}{_esc(domain)} | `{_esc(b.example)}` "
            f"| {mono} | {flags} | {b.cost} | `{b.vm}` |"
        )
    return "\n".join(out) + "\n"


def reference_card() -> str:
    """A compact plain-text card (for prompts and `--help`-style output)."""
    lines = ["State: " + ", ".join(f"{v.name}:{v.type}" for v in BUILTIN_VALUES)]
    lines.append("Branch fields: " + ", ".join(f"b.{f.name}:{f.type}" for f in BRANCH_FIELDS))
    lines.append("Functions:")
    lines += [f"  {b.signature}  -- {b.doc}" for b in BUILTINS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(builtins_markdown())
