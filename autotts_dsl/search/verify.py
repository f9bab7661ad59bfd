"""The gate every proposal passes before it is evaluated: parse, then the full
checker (`check_source`). A program with any error is rejected with the
rendered diagnostics; warnings are kept but do not block."""

from __future__ import annotations

from ..ast import Program, program_hash
from ..checker import check_source, explain
from ..parser import parse
from ..records import record


@record
class Verdict:
    ok: bool
    source: str
    program: Program | None
    hash: str
    """Structural hash (`program_hash`), empty when the text does not parse."""
    diagnostics: str
    """Rendered errors (and warnings) as the checker prints them."""
    codes: tuple[str, ...]
    """Codes of the errors, e.g. ("E101",)."""
    n_warnings: int = 0


def verify(source: str, path: str = "<proposal>") -> Verdict:
    report = check_source(source, path)
    program = report.program
    digest = program_hash(program) if program is not None else ""
    return Verdict(
        ok=report.ok and program is not None,
        source=source,
        program=program,
        hash=digest,
        diagnostics=report.render(),
        codes=tuple(d.code for d in report.errors),
        n_warnings=len(report.warnings),
    )


def explain_text(source: str, path: str = "<parent>") -> str:
    """The checker's explanation as plain text: per knob its type, declared
    and proved direction, range over β ∈ [0, 1] and budget polarity, then
    the warnings (one line each)."""
    report = explain(*_parsed(source, path))
    lines = ["knob | type | declared | proved | range over β∈[0,1] | larger β spends"]
    for k in report.knobs:
        lo, hi = k.range.lo, k.range.hi
        lines.append(
            f"{k.name} | {k.type} | {k.declared} | {k.proved} | [{lo:g}, {hi:g}] | "
            f"{k.polarity.verdict}"
        )
    for d in report.warnings:
        lines.append(f"warning[{d.code}]: {d.message}")
    return "\n".join(lines)


def _parsed(source: str, path: str) -> tuple[Program, str, str]:
    return parse(source, path), source, path
