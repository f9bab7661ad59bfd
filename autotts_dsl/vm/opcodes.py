"""The VM's instruction set: one table for the assembler, the C header and the
disassembler.

An instruction is its opcode followed by its operands, all int32. Operand
kinds: `i` an int64 register, `f` a float64 register, `r` an int64 row, `q` a
float64 row, `w` a window, `L` a jump target (an absolute code offset), `k`
an immediate int. `vm.c` implements each opcode; `opcodes.h` is generated
from this table (`python -m autotts_dsl.vm.opcodes > autotts_dsl/vm/opcodes.h`,
and a test keeps the two in step).

Every opcode either completes exactly as the reference interpreter would, or
ends the episode with RERUN, which hands it to the reference (faults, ints
leaving int64, conversions that would round, NaN sort keys, ...).
"""

from __future__ import annotations

from typing import NamedTuple


class Op(NamedTuple):
    name: str
    operands: str
    doc: str


OPS: tuple[Op, ...] = (
    # -- moves and conversions --
    Op("MOV_I", "ii", "I[a] = I[b]"),
    Op("MOV_F", "ff", "F[a] = F[b]"),
    Op("I2F", "fi", "F[a] = (double) I[b], rounded to nearest as Python's int + float"),
    Op("I2FX", "fi", "F[a] = I[b] when exact (|I[b]| <= 2^53), else RERUN (exact comparisons)"),
    Op("SETI", "ik", "I[a] = k"),
    Op("INC", "i", "I[a] += 1"),
    # -- int arithmetic (Python semantics; leaving int64 is RERUN) --
    Op("ADD_I", "iii", "I[a] = I[b] + I[c]"),
    Op("SUB_I", "iii", "I[a] = I[b] - I[c]"),
    Op("MUL_I", "iii", "I[a] = I[b] * I[c]"),
    Op("FLOORDIV_I", "iii", "I[a] = I[b] // I[c] (floor); division by zero is RERUN"),
    Op("MOD_I", "iii", "I[a] = I[b] % I[c] (sign of the divisor)"),
    Op("TDIV_I", "fii", "F[a] = I[b] / I[c], exact operands only (|x| <= 2^53)"),
    Op("NEG_I", "ii", "I[a] = -I[b]"),
    # -- float arithmetic (IEEE double, as Python's float) --
    Op("ADD_F", "fff", "F[a] = F[b] + F[c]"),
    Op("SUB_F", "fff", "F[a] = F[b] - F[c]"),
    Op("MUL_F", "fff", "F[a] = F[b] * F[c]"),
    Op("DIV_F", "fff", "F[a] = F[b] / F[c]; division by zero is RERUN"),
    Op("FLOORDIV_F", "fff", "F[a] = F[b] // F[c] (Python's float floor division)"),
    Op("MOD_F", "fff", "F[a] = F[b] % F[c] (Python's float modulo)"),
    Op("NEG_F", "ff", "F[a] = -F[b]"),
    # -- comparisons and logic (bools are ints 0/1) --
    Op("LT_I", "iii", "I[a] = I[b] < I[c]"),
    Op("LE_I", "iii", "I[a] = I[b] <= I[c]"),
    Op("EQ_I", "iii", "I[a] = I[b] == I[c]"),
    Op("NE_I", "iii", "I[a] = I[b] != I[c]"),
    Op("LT_F", "iff", "I[a] = F[b] < F[c]"),
    Op("LE_F", "iff", "I[a] = F[b] <= F[c]"),
    Op("EQ_F", "iff", "I[a] = F[b] == F[c]"),
    Op("NE_F", "iff", "I[a] = F[b] != F[c]"),
    Op("NOT", "ii", "I[a] = !I[b]"),
    # -- control --
    Op("JMP", "L", "jump"),
    Op("JZ", "iL", "jump when I[a] == 0"),
    Op("JNZ", "iL", "jump when I[a] != 0"),
    Op("JSOME", "iL", "jump when I[a] is an answer (not none)"),
    # fused compare-and-branch: JT_* jump when the comparison holds, JF_* when
    # it does not (not the same as the converse comparison once NaN is about)
    Op("JT_LT_I", "iiL", "jump when I[a] < I[b]"),
    Op("JT_LE_I", "iiL", "jump when I[a] <= I[b]"),
    Op("JT_EQ_I", "iiL", "jump when I[a] == I[b]"),
    Op("JT_NE_I", "iiL", "jump when I[a] != I[b]"),
    Op("JF_LT_I", "iiL", "jump unless I[a] < I[b]"),
    Op("JF_LE_I", "iiL", "jump unless I[a] <= I[b]"),
    Op("JF_EQ_I", "iiL", "jump unless I[a] == I[b]"),
    Op("JF_NE_I", "iiL", "jump unless I[a] != I[b]"),
    Op("JT_LT_F", "ffL", "jump when F[a] < F[b]"),
    Op("JT_LE_F", "ffL", "jump when F[a] <= F[b]"),
    Op("JT_EQ_F", "ffL", "jump when F[a] == F[b]"),
    Op("JT_NE_F", "ffL", "jump when F[a] != F[b]"),
    Op("JF_LT_F", "ffL", "jump unless F[a] < F[b]"),
    Op("JF_LE_F", "ffL", "jump unless F[a] <= F[b]"),
    Op("JF_EQ_F", "ffL", "jump unless F[a] == F[b]"),
    Op("JF_NE_F", "ffL", "jump unless F[a] != F[b]"),
    Op("RERUN", "", "hand the episode to the reference interpreter"),
    # -- numeric builtins --
    Op("ROUND", "if", "I[a] = round(F[b]) (ties to even)"),
    Op("FLOOR", "if", "I[a] = floor(F[b])"),
    Op("CEIL", "if", "I[a] = ceil(F[b])"),
    Op("ABS_I", "ii", "I[a] = abs(I[b])"),
    Op("ABS_F", "ff", "F[a] = abs(F[b])"),
    Op("EXP", "ff", "F[a] = exp(F[b]); overflow is RERUN"),
    Op("LOG", "ff", "F[a] = log(F[b]); x <= 0 is RERUN"),
    Op("SQRT", "ff", "F[a] = sqrt(F[b]); x < 0 is RERUN"),
    Op("SIGMOID", "ff", "F[a] = 1 / (1 + exp(-F[b])), computed as the builtins table does"),
    Op("POW", "fff", "F[a] = pow(F[b], F[c]) (libm, as math.pow)"),
    Op("MIN_I", "iii", "I[a] = min(I[b], I[c]) (the first of equals)"),
    Op("MAX_I", "iii", "I[a] = max(I[b], I[c])"),
    Op("MIN_F", "fff", "F[a] = min(F[b], F[c])"),
    Op("MAX_F", "fff", "F[a] = max(F[b], F[c])"),
    Op("CLAMP_I", "iiii", "I[a] = clamp(I[b], I[c], I[d])"),
    Op("CLAMP_F", "ffff", "F[a] = clamp(F[b], F[c], F[d])"),
    # -- branch sets and rows --
    Op("COLLECT", "kri", "row a = the branches of set kind k (opening order); I[c] = size"),
    Op("COPY_ROW", "rri", "row a[:I[c]] = row b[:I[c]]"),
    Op("LOOP", "riiiL", "I[idx] += 1; if I[idx] < I[len]: I[var] = row[I[idx]] and jump"),
    Op("LOOPB", "riiiL", "LOOP that uses one unit of fuel when it jumps (a `for` body's BURN)"),
    Op("LDR", "iri", "I[a] = row b[I[c]]"),
    Op("STR", "rii", "row a[I[b]] = I[c]"),
    Op("LDQ", "fqi", "F[a] = float row b[I[c]]"),
    Op("STQ", "qif", "float row a[I[b]] = F[c]"),
    Op("KEYI", "qii", "float row a[I[b]] = I[c] when exact (sort keys), else RERUN"),
    Op(
        "KEYR",
        "qrir",
        "float row a[k] = row d[row b[k]] for k < I[c], each when exact, else RERUN "
        "(`order by b.f` for an int field: the key loop in one instruction)",
    ),
    Op("KEYQ", "qriq", "float row a[k] = float row d[row b[k]] for k < I[c] (a float field)"),
    Op("LIMIT", "ii", "I[a] = min(I[a], max(0, I[b]))"),
    Op(
        "SORT",
        "rikkk",
        "stable sort of row a[:I[b]] by k2 float key rows from row k1; desc mask k3",
    ),
    Op("FUEL", "i", "I[a] more than the fuel left is RERUN (the reference's up-front check)"),
    Op("BURN", "", "use one unit of fuel"),
    # -- answer lists --
    Op("WINNER", "iri", "I[a] = winner(row b[:I[c]])"),
    Op("TOP1", "iri", "I[a] = top1(row b[:I[c]])"),
    Op("TOP2", "iri", "I[a] = top2(row b[:I[c]])"),
    Op("DISTINCT", "iri", "I[a] = distinct(row b[:I[c]])"),
    Op("CONF", "fri", "F[a] = conf(row b[:I[c]])"),
    Op("BETA_CONF", "fii", "F[a] = beta_conf(I[b], I[c]) (exact table; beyond it RERUN)"),
    Op("COUNT_OF", "irii", "I[a] = count_of(row b[:I[c]], I[d])"),
    Op("SHARE", "frii", "F[a] = share(row b[:I[c]], I[d])"),
    Op("RECENT", "ririi", "row a, I[b] = recent(row c[:I[d]], I[e])"),
    Op("ANSWERS", "riri", "row a, I[b] = latest answers of the branches in row c[:I[d]]"),
    # -- weighted votes: a tally is (answers row, weights row, size) --
    Op("VOTES_SET", "rqiri", "tally a, b, I[c] = votes of the branches in row d[:I[e]]"),
    Op("VOTES_LIST", "rqiri", "tally a, b, I[c] = votes(row d[:I[e]])"),
    Op("VOTES_PAIRS", "rqirqi", "tally a, b, I[c] = votes of answers row d with weights q[:I[f]]"),
    Op("VWINNER", "irqi", "I[a] = winner of tally b, c, I[d]"),
    Op("VTOP1", "frqi", "F[a] = top1 of tally"),
    Op("VTOP2", "frqi", "F[a] = top2 of tally"),
    Op("VTOTAL", "frqi", "F[a] = total of tally (compensated)"),
    Op("WEIGHT_OF", "frqii", "F[a] = weight of answer I[e] in tally b, c, I[d]"),
    # -- aggregates over generator values --
    Op("SUM_I", "iri", "I[a] = sum(row b[:I[c]]) (exact)"),
    Op("SUM_F", "fqi", "F[a] = compensated sum(float row b[:I[c]])"),
    Op("MEAN_I", "fri", "F[a] = mean of int row b[:I[c]] (0 if empty)"),
    Op("MEAN_F", "fqi", "F[a] = mean of float row b[:I[c]] (0 if empty)"),
    Op("GMIN_I", "iri", "I[a] = min(row b[:I[c]]) (0 if empty)"),
    Op("GMAX_I", "iri", "I[a] = max(row b[:I[c]]) (0 if empty)"),
    Op("GMIN_F", "fqi", "F[a] = min(float row b[:I[c]]) (0 if empty)"),
    Op("GMAX_F", "fqi", "F[a] = max(float row b[:I[c]]) (0 if empty)"),
    Op("ANY", "iri", "I[a] = any(row b[:I[c]])"),
    Op("ALL", "iri", "I[a] = all(row b[:I[c]])"),
    # -- windows (bounded FIFOs of floats) --
    Op("WCLEAR", "w", "empty window a"),
    Op("PUSH", "wf", "push(window a, F[b])"),
    Op("SET_LAST", "wf", "set_last(window a, F[b])"),
    Op("WFIRST", "fw", "F[a] = first(window b)"),
    Op("WLAST", "fw", "F[a] = last(window b)"),
    Op("WDELTA", "fw", "F[a] = delta(window b)"),
    Op("WLEN", "iw", "I[a] = len(window b)"),
    Op("WMEAN", "fw", "F[a] = mean(window b)"),
    # -- replay actions and episode structure --
    Op("SPAWN", "i", "open up to I[a] branches, reading each once"),
    Op("READ_FULL", "i", "full-read up to I[a] new branches"),
    Op("STEP", "ii", "read branch I[a] up to I[b] times (stops when it finishes)"),
    Op("PRUNE", "i", "prune branch I[a]"),
    Op("ANSWER", "i", "end the episode with answer I[a]"),
    Op("END_BATCH", "", "close the current parallel batch (sequential tokens)"),
    Op("ROUND_NEXT", "L", "start the next round; jump when max_rounds are done"),
)

OPCODE: dict[str, int] = {op.name: n for n, op in enumerate(OPS)}
OPERANDS: dict[str, str] = {op.name: op.operands for op in OPS}

# Fixed int registers: episode counters the VM and the program share.
SPECIAL_REGS = ("OPENED", "COST", "RND", "NCOMP", "FUEL", "NB", "RCOUNT")
# Fixed int rows: per-branch arrays, then the completed-answer pool.
SPECIAL_ROWS = ("READS", "SPENT", "FIN", "PRU", "LATEST", "BATCH", "COMP")
# Set kinds of COLLECT.
SET_KINDS = ("opened", "running", "alive", "finished", "pruned")
# Layout of the program header (an int64 array) read by the VM.
HEADER_FIELDS = (
    "N_IREGS",
    "N_FREGS",
    "N_IROWS",
    "N_FROWS",
    "N_WINDOWS",
    "REG_MAXB",
    "REG_MAXR",
    "REG_FUEL",
    "N_IFIELDS",
    "N_FFIELDS",
    "HAS_ROUND",
)


ABI = 2
"""run_cell's calling convention (buffer types): 2 = probes as int32."""


def digest() -> str:
    """A fingerprint of the instruction set: the extension carries the one it was
    built from, so a stale build is noticed instead of misread."""
    import hashlib

    text = "\n".join(f"{op.name}:{op.operands}" for op in OPS)
    text += "|" + ",".join(SPECIAL_REGS) + "|" + ",".join(SPECIAL_ROWS)
    text += "|" + ",".join(SET_KINDS) + "|" + ",".join(HEADER_FIELDS)
    text += f"|abi {ABI}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def header_text() -> str:
    """The C header `vm.c` includes: opcode numbers and fixed indices."""
    lines = [
        "/* Generated by `python -m autotts_dsl.vm.opcodes`; do not edit. */",
        "#ifndef TTS_VM_OPCODES_H",
        "#define TTS_VM_OPCODES_H",
        "",
        f'#define OPCODES_DIGEST "{digest()}"',
        "",
    ]
    lines += [f"#define OP_{op.name} {n}" for n, op in enumerate(OPS)]
    lines.append(f"#define N_OPS {len(OPS)}")
    lines.append("#define FOR_EACH_OP(X) " + " ".join(f"X({op.name})" for op in OPS))
    kinds = ", ".join(f'"{op.operands}"' for op in OPS)
    lines.append(f"static const char *const OP_OPERANDS[N_OPS] = {{{kinds}}};")
    lines.append("")
    lines += [f"#define R_{name} {n}" for n, name in enumerate(SPECIAL_REGS)]
    lines.append(f"#define N_SPECIAL_REGS {len(SPECIAL_REGS)}")
    lines += [f"#define ROW_{name} {n}" for n, name in enumerate(SPECIAL_ROWS)]
    lines.append(f"#define N_SPECIAL_ROWS {len(SPECIAL_ROWS)}")
    lines += [f"#define SET_{name.upper()} {n}" for n, name in enumerate(SET_KINDS)]
    lines += [f"#define H_{name} {n}" for n, name in enumerate(HEADER_FIELDS)]
    lines.append(f"#define N_HEADER {len(HEADER_FIELDS)}")
    lines += ["", "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(header_text(), end="")
