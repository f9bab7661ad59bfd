"""The llguidance export drives a real decoder's matcher, offline.

Every check walks llguidance's `LLMatcher` the way a decoder does: compute
the token mask, check that the next token is allowed, consume it; at the
end, EOS must be allowed. Two offline tokenizers: llguidance's byte-level
one (one token per byte, so a rejection has an exact byte offset) and a
tiny vocabulary built here whose pieces straddle lexeme boundaries the way
BPE pieces do (`count(`, `b.`, `.answer`, `1e`). The grammar goes through
`llguidance.grammar_from("grammar", ...)`, the call vLLM's guidance backend
makes on `structured_outputs.grammar`.

Lark (grammar/tts.lark) is the reference: programs it parses must pass,
and the matcher must reject garbage within the first token Lark cannot
take. The deviations docs/grammar.md documents are recognised by
`documented_deviation`; any other difference fails.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import llguidance as llg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from autotts_dsl.fmt import fmt, format_program
from autotts_dsl.grammar_export import export_grammar
from autotts_dsl.grammar_keywords import keyword_terminals
from autotts_dsl.lark_front import _lark
from autotts_dsl.parser import parse
from autotts_dsl.programs import STDLIB_DIR
from autotts_dsl.search.mutate import mutate

STDLIB = sorted(STDLIB_DIR.glob("*.tts"))
GRAMMAR = llg.grammar_from("grammar", export_grammar("llguidance"))
KEYWORD_TERMINALS = keyword_terminals(_lark())
KEYWORDS = frozenset(KEYWORD_TERMINALS.values())
IGNORABLE = re.compile(r"(?:[ \t\f\r\n]+|#[^\n]*)*")


# ------------------------------------------------------------------ tokenizers

# Pieces a BPE vocabulary for code would have, chosen to cross lexeme
# boundaries: a keyword with its space, a call with its parenthesis, a field
# access with its dot, a number with the start of an exponent.
PIECES = sorted(
    {
        *KEYWORDS,
        *(" " + k for k in KEYWORDS),
        *(k + " " for k in KEYWORDS),
        " {",
        "{\n",
        " }",
        "}\n",
        "\n}",
        " = ",
        " == ",
        " != ",
        " >= ",
        " <= ",
        " < ",
        " > ",
        "(",
        ")",
        "()",
        "(b",
        "b.",
        ".answer",
        ".reads",
        ", ",
        " ? ",
        " : ",
        " ?? ",
        " // ",
        " * ",
        " + ",
        " - ",
        "*beta",
        "\n  ",
        "\n    ",
        "  ",
        "    ",
        "# ",
        " #",
        "\n#",
        "\n\n",
        "completed",
        "running",
        "alive",
        "count(",
        "winner(",
        "conf(",
        "max(",
        "min(",
        "round(",
        "beta",
        " b ",
        "b in ",
        "0.",
        ".5",
        "1.",
        "1e",
        "e-",
        '"',
        ' "',
        ": int",
        ": float",
        " up",
        " down",
        "_thresh",
        "max_",
        "n_init",
        "spawned",
    }
)


class TinyVocab:
    """256 byte tokens, the pieces above, then EOS; greedy longest match."""

    def __init__(self) -> None:
        self.tokens: list[bytes] = [bytes([i]) for i in range(256)]
        self.tokens += [p.encode() for p in PIECES] + [b"<eos>"]
        self.eos_token_id = len(self.tokens) - 1
        self.bos_token_id = None
        self.special_token_ids: list[int] = []
        self._ids = {t: i for i, t in enumerate(self.tokens[:-1])}
        self._longest = max(len(t) for t in self.tokens[:-1])

    def __call__(self, text: str | bytes) -> list[int]:
        data = text.encode() if isinstance(text, str) else text
        out, i = [], 0
        while i < len(data):
            for n in range(min(self._longest, len(data) - i), 0, -1):
                got = self._ids.get(data[i : i + n])
                if got is not None:
                    out.append(got)
                    i += n
                    break
        return out


BYTES = llg.LLTokenizer("byte")
TINY = llg.LLTokenizer(llg.TokenizerWrapper(TinyVocab()))
TOKENIZERS = {"bytes": BYTES, "tiny": TINY}


def test_the_tiny_vocabulary_round_trips_and_crosses_lexemes() -> None:
    text = STDLIB[1].read_text(encoding="utf-8")
    ids = TINY.tokenize_str(text)
    assert TINY.decode_bytes(ids) == text.encode()
    assert len(ids) < 0.6 * len(text.encode())  # real multi-byte pieces in use
    pieces = {TINY.decode_bytes([i]) for i in ids}
    assert {b"count(", b"b."} <= pieces


# ------------------------------------------------------------------- walking


@dataclass(frozen=True)
class Walk:
    consumed: int
    """tokens the mask allowed, in order, before the first one it refused"""
    total: int
    eos_allowed: bool
    """after all tokens: the mask allows EOS and the matcher is accepting"""
    at: int
    """the character offset of the first refused token (the text's length if none)"""

    @property
    def accepted(self) -> bool:
        return self.consumed == self.total and self.eos_allowed


def allowed(mask: bytes, token: int) -> bool:
    return bool((mask[token >> 3] >> (token & 7)) & 1)


def walk(text: str, tokenizer: llg.LLTokenizer = BYTES) -> Walk:
    """Decode `text` token by token under the grammar's masks."""
    ids = tokenizer.tokenize_bytes(text.encode())
    matcher = llg.LLMatcher(tokenizer, GRAMMAR, log_level=0)
    assert not matcher.is_error(), matcher.get_error()
    for i, token in enumerate(ids):
        if not allowed(matcher.compute_bitmask(), token):
            done = tokenizer.decode_bytes(ids[:i]).decode("utf-8", errors="ignore")
            return Walk(i, len(ids), False, len(done))
        assert matcher.consume_token(token), matcher.get_error()
    eos = allowed(matcher.compute_bitmask(), tokenizer.eos_token) and matcher.is_accepting()
    return Walk(len(ids), len(ids), eos, len(text))


def refusal(text: str) -> int | None:
    """The character at which the matcher refuses `text` (its length when
    only EOS is refused), or None when it accepts. The fast path, without
    masks, for properties with many examples."""
    data = text.encode()
    matcher = llg.LLMatcher(BYTES, GRAMMAR, log_level=0)
    taken = matcher.try_consume_tokens(BYTES.tokenize_bytes(data))
    if taken == len(data) and matcher.is_accepting():
        return None
    return len(data[:taken].decode("utf-8", errors="ignore"))


# ------------------------------------------------------------ Lark reference


def lark_accepts(text: str) -> bool:
    try:
        _lark().parse(text)
    except UnexpectedInput:
        return False
    return True


def lark_tokens(text: str) -> list[Token]:
    """The tokens Lark's contextual lexer read, up to and including a failing one."""
    read: list[Token] = []
    try:
        for tok in _lark().parse_interactive(text).iter_parse():
            read.append(tok)
    except UnexpectedInput:
        pass
    return read


def lark_error_span(text: str) -> tuple[int, int] | None:
    """Where Lark stops: the failing token's [start, end), or (len, len) at EOF."""
    try:
        _lark().parse(text)
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            return len(text), len(text)
        return exc.token.start_pos, exc.token.end_pos
    except UnexpectedCharacters as exc:
        return exc.pos_in_stream, exc.pos_in_stream
    except UnexpectedEOF:
        return len(text), len(text)
    return None


def _after_ignorable(text: str, at: int) -> int:
    found = IGNORABLE.match(text, at)
    return found.end() if found else at


def documented_deviation(text: str, refused: int) -> str | None:
    """The docs/grammar.md deviation that explains the matcher refusing
    `text` at character `refused` although Lark reads on, if any. Each is
    recognised in Lark's own tokens, at the place the matcher stops."""
    toks = [t for t in lark_tokens(text) if t.type != "$END"]
    for tok, nxt in zip(toks, [*toks[1:], None], strict=True):
        glued = nxt is not None and nxt.start_pos == tok.end_pos
        # The matcher may take a keyword's letters and refuse at the next byte
        # (`step b limits (`: it waits for the `{` of a `limits` section).
        if (
            tok.type == "NAME"
            and tok.value in KEYWORDS
            and tok.start_pos <= refused <= _after_ignorable(text, tok.end_pos)
        ):
            return "keyword spelled as a name"
        if (
            glued
            and tok.type in KEYWORD_TERMINALS
            and nxt.type in ("NAME", "INT", "FLOAT")
            and tok.start_pos <= refused <= _after_ignorable(text, nxt.end_pos)
        ):
            return "keyword glued to the next word"
        if (
            glued
            and tok.type in ("INT", "FLOAT")
            and nxt.type == "NAME"
            and nxt.value[0] in "eE"
            and nxt.start_pos <= refused <= nxt.end_pos
        ):
            return "number glued to a name starting with e"
    return None


# ------------------------------------------------------------ the test cases


def test_the_export_is_a_valid_llguidance_grammar_without_warnings() -> None:
    assert llg.LLMatcher.validate_grammar_with_warnings(GRAMMAR, BYTES) == (False, [])
    assert llg.LLMatcher.validate_grammar_with_warnings(GRAMMAR, TINY) == (False, [])


def with_comments(text: str) -> str:
    """Comments everywhere the language allows them: a header block, the end
    of every line, lines of their own, and a last one with no newline."""
    lines = [
        f"{line}  # note {i}" if line.strip() else line for i, line in enumerate(text.split("\n"))
    ]
    for at in range(len(lines) - 1, 0, -7):
        lines.insert(at, "    # a comment line of its own")
    return "# rationale first, as the search prompt asks\n#\n\n" + "\n".join(lines) + "# end"


VARIANTS = {"as-is": lambda t: t, "fmt": fmt, "comments": with_comments}


def _sweep(tokenizer: str, variant: str, path: Path) -> None:
    text = VARIANTS[variant](path.read_text(encoding="utf-8"))
    assert lark_accepts(text)
    got = walk(text, TOKENIZERS[tokenizer])
    assert got.consumed == got.total, f"refused token {got.consumed}: {text[:200]!r}"
    assert got.eos_allowed


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", STDLIB, ids=[p.stem for p in STDLIB])
def test_every_stdlib_program_is_decodable_byte_by_byte(path: Path, variant: str) -> None:
    _sweep("bytes", variant, path)


FAST = [p for p in STDLIB if p.stem in ("cmc", "sc")]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", FAST, ids=[p.stem for p in FAST])
def test_stdlib_programs_are_decodable_in_multibyte_pieces(path: Path, variant: str) -> None:
    _sweep("tiny", variant, path)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("path", STDLIB, ids=[p.stem for p in STDLIB])
def test_every_stdlib_program_is_decodable_in_multibyte_pieces(path: Path, variant: str) -> None:
    _sweep("tiny", variant, path)


def refused_within_first_bad_token(text: str) -> tuple[int, tuple[int, int]]:
    """(character the matcher refused, Lark's failing token span). The
    refusal must lie in that token or on the first significant character
    after it (a glued word is read whole first); anywhere else only where a
    documented deviation sits."""
    span = lark_error_span(text)
    assert span is not None, "the text is a valid program"
    got = walk(text)
    start, end = span
    if not start <= got.at <= _after_ignorable(text, end):
        assert documented_deviation(text, got.at), (got.at, span, text)
    if start == len(text):  # a viable prefix: every byte taken, EOS refused
        assert got.consumed == got.total and not got.eos_allowed
    return got.at, span


CMC = (STDLIB_DIR / "cmc.tts").read_text(encoding="utf-8")
PYTHON = 'import os\n\ndef main(argv):\n    print("hello", argv)\n    return 0\n'


def _cut(text: str, marker: str) -> str:
    return text[: text.index(marker) + len(marker)]


@pytest.mark.parametrize(
    ("text", "refused_at"),
    [
        (PYTHON, 0),  # nothing but `controller` (or a comment) can start a program
        ("controller cmc\nfinally { answer 1 }\ndef f(x): return x", None),
        (_cut(CMC, "push(hist, ema)\n") + "  @@ junk", None),
        (_cut(CMC, "push(hist, ema)\n") + "  ) ) ]", None),
        (_cut(CMC, "let warm = round >= warm_up") + " >= >= 3 }", None),
        (_cut(CMC, "schedule {\n") + "  n_init : int up = max(2, round(2 + 6*beta)))", None),
        (CMC.rstrip().removesuffix("}"), None),  # unclosed block, then EOF
        (_cut(CMC, "init { spawn n_init"), None),  # truncated mid-block, then EOF
    ],
    ids=[
        "python",
        "program-then-python",
        "junk",
        "parens",
        "operators",
        "extra-paren",
        "unclosed-block",
        "truncated",
    ],
)
def test_garbage_is_refused_at_the_first_token_that_cannot_continue(
    text: str, refused_at: int | None
) -> None:
    got, (start, _end) = refused_within_first_bad_token(text)
    if refused_at is not None:
        assert got == refused_at
    elif start < len(text) and not text[start].isalpha():
        assert got == start  # punctuation: refused on its first byte, exactly where Lark fails


SOUP = [
    *sorted(KEYWORDS),
    "{",
    "}",
    "(",
    ")",
    "=",
    ":",
    ";",
    ",",
    ".",
    "?",
    "??",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "==",
    "<",
    ">=",
    "0",
    "12",
    "2.5",
    ".5",
    "1e3",
    '"desc"',
    "x",
    "b",
    "count",
    "conf",
    "ema",
    "beta",
    "alive",
    "total",
    "hist",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(st.sampled_from(SOUP), min_size=1, max_size=25))
def test_token_soups_are_refused_within_the_first_bad_token(header: bool, soup: list[str]) -> None:
    text = ("controller x " if header else "") + " ".join(soup)
    if lark_accepts(text):  # a soup that is a program: it must decode, or deviate as documented
        at = refusal(text)
        assert at is None or documented_deviation(text, at), text
        return
    refused_within_first_bad_token(text)


# Each rewrite of the export, pinned with the Lark verdict it reproduces, and
# each documented deviation (Lark accepts, the matcher refuses).
H = "controller x "
CASES = [
    # comments and whitespace
    ("# why\n\n  # more\n" + H + "finally { answer 1 }", True),
    (H + "finally { answer 1 } # last line, no newline", True),
    (H + '"a # is no comment in a string" finally { answer 1 }', True),
    (H + '"no\nnewline in strings" finally { answer 1 }', False),
    (H + "finally{answer 1;answer 2}", True),
    # numbers (the dropped FLOAT priority)
    (H + "finally { answer 1.5e3 + .5 + 2. + 1e5 + 1E-3 + 7 }", True),
    (H + "finally { answer 1.5.x }", True),
    (H + "finally { answer 1..5 }", False),
    # contextual keywords: where Lark reads a keyword, the matcher does too
    (H + "finally { if = 3 answer 1 }", False),
    (H + "finally { x = not + 1 answer 1 }", False),
    (H + "finally { answer x times = 3 }", False),
    (H + "state { a: int = 1 step: int } finally { answer 1 }", False),
    (H + "finally { answer true(1) }", False),
    # ... and where Lark reads a name, so does the matcher
    (H + "finally { let if = 3 answer if }", True),
    (H + "round { x = round(round) } finally { answer b.answer }", True),
    (H + "state { up: int } finally { answer count(b in alive where b.up) }", True),
    # glued words: Lark's lexer keeps an identifier-shaped word whole
    (H + "finally { if a orb { stop } answer 1 }", False),
    (H + "finally { for b in alive wherea { stop } answer 1 }", False),
    (H + "finally { answer winner(answers(b in alive whereb.x)) }", False),
    (H + "finally { for b inalive { stop } answer 1 }", True),  # no name can follow `b`
]
DEVIATIONS = [
    (H + "finally { for b in alive { finally = 1 } answer 1 }", "keyword spelled as a name"),
    (H + "schedule { rule: int up = 1 } finally { answer 1 }", "keyword spelled as a name"),
    (H + "finally { answer count(b orc) }", "keyword glued to the next word"),
    (H + "finally { answer count(b inalive) }", "keyword glued to the next word"),
    (H + "finally { x = 1e = 2 answer x }", "number glued to a name starting with e"),
]


@pytest.mark.parametrize(("text", "valid"), CASES)
def test_the_matcher_agrees_with_lark_on_each_rewrite(text: str, valid: bool) -> None:
    assert lark_accepts(text) is valid
    assert walk(text).accepted is valid


@pytest.mark.parametrize(("text", "why"), DEVIATIONS)
def test_each_documented_deviation_is_stricter_than_lark(text: str, why: str) -> None:
    assert lark_accepts(text)
    at = refusal(text)
    assert at is not None and not walk(text).accepted
    assert documented_deviation(text, at) == why


# ---------------------------------------------------------------- properties

PROGRAMS = [parse(p.read_text(encoding="utf-8")) for p in STDLIB]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_mutants_that_parse_are_decodable(seed: int, steps: int) -> None:
    """Programs from the offline search mutator, as the search formats them."""
    rng = random.Random(seed)
    program = rng.choice(PROGRAMS)
    for _ in range(steps):
        got = mutate(program, rng, rng.choice(PROGRAMS) if rng.random() < 0.35 else None)
        if got is not None:
            program = got.program
    text = format_program(program)
    assert lark_accepts(text)
    assert refusal(text) is None, text


LEXEME = re.compile(
    r'\s+|#[^\n]*|[A-Za-z_][A-Za-z_0-9]*|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?\.?|"[^"\n]*"'
    r"|\?\?|//|==|!=|<=|>=|."
)
EDIT_WORDS = [*sorted(KEYWORDS), "{", "}", "(", ")", "=", ":", ",", ".", "?", "1", "2.5", "b"]


def near_program(text: str, rng: random.Random, edits: int) -> str:
    """`text` with a few lexeme-level edits: delete, insert, replace, swap,
    or squeeze out whitespace (which glues words together)."""
    pieces = LEXEME.findall(text)
    for _ in range(edits):
        i = rng.randrange(len(pieces))
        op = rng.randrange(5)
        if op == 0:
            del pieces[i]
        elif op == 1:
            pieces.insert(i, rng.choice(EDIT_WORDS) + rng.choice(["", " "]))
        elif op == 2:
            pieces[i] = rng.choice(EDIT_WORDS)
        elif op == 3 and pieces[i].isspace():
            pieces[i] = ""
        elif op == 4 and i + 1 < len(pieces):
            pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
    return "".join(pieces)


SOURCES = [p.read_text(encoding="utf-8") for p in STDLIB]


def _near_programs_agree(seed: int, edits: int) -> None:
    rng = random.Random(seed)
    text = near_program(rng.choice(SOURCES), rng, edits)
    at = refusal(text)
    if at is None:
        assert lark_accepts(text), f"the matcher accepts what Lark rejects: {text!r}"
    elif lark_accepts(text):
        assert documented_deviation(text, at), f"undocumented deviation at {at}: {text!r}"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_what_the_matcher_accepts_lark_parses(seed: int, edits: int) -> None:
    _near_programs_agree(seed, edits)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_what_the_matcher_accepts_lark_parses_long_run(seed: int, edits: int) -> None:
    _near_programs_agree(seed, edits)
