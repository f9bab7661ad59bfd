"""Hand-assembled VM code for the kernel tests: a few instructions on given
values, run by the real interpreter loop (`_vm.run_snippet`), registers read
back afterwards.

Register file: the fixed episode registers, then `N_CONST` int constants,
then int temporaries; floats: `N_CONST` constants, then temporaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autotts_dsl.vm import cells
from autotts_dsl.vm.opcodes import HEADER_FIELDS, OPCODE, OPERANDS, SPECIAL_REGS, SPECIAL_ROWS
from autotts_dsl.vm.run import native

N_CONST = 512
N_SPECIAL = len(SPECIAL_REGS)


class Snippet:
    def __init__(self, width: int = 48, vocab: int = 8, table_n: int | None = None) -> None:
        self.width = width
        self.vocab = vocab
        self.table_n = table_n if table_n is not None else width
        self.table = cells.beta_table(self.table_n)
        self.ci: list[int] = []
        self.cf: list[float] = []
        self.code: list[int] = []
        self.n_itemp = 0
        self.n_ftemp = 0
        self.n_irows = len(SPECIAL_ROWS)
        self.n_frows = 0
        self.window_caps: list[int] = []

    # -- registers -----------------------------------------------------------------

    def iconst(self, value: int) -> int:
        if value in self.ci:
            return N_SPECIAL + self.ci.index(value)
        assert len(self.ci) < N_CONST
        self.ci.append(int(value))
        return N_SPECIAL + len(self.ci) - 1

    def fconst(self, value: float) -> int:
        assert len(self.cf) < N_CONST
        self.cf.append(float(value))
        return len(self.cf) - 1

    def itemp(self) -> int:
        self.n_itemp += 1
        return N_SPECIAL + N_CONST + self.n_itemp - 1

    def ftemp(self) -> int:
        self.n_ftemp += 1
        return N_CONST + self.n_ftemp - 1

    def irow(self, values: Sequence[int] = ()) -> tuple[int, int]:
        """A fresh int row holding `values`; returns (row, length register)."""
        row = self.n_irows
        self.n_irows += 1
        for k, v in enumerate(values):
            self.op("STR", row, self.iconst(k), self.iconst(v))
        return row, self.iconst(len(values))

    def frow(self, values: Sequence[float] = ()) -> tuple[int, int]:
        row = self.n_frows
        self.n_frows += 1
        for k, v in enumerate(values):
            self.op("STQ", row, self.iconst(k), self.fconst(v))
        return row, self.iconst(len(values))

    def window(self, capacity: int) -> int:
        self.window_caps.append(capacity)
        w = len(self.window_caps) - 1
        self.op("WCLEAR", w)
        return w

    # -- code ----------------------------------------------------------------------

    def op(self, name: str, *operands: int) -> None:
        assert len(operands) == len(OPERANDS[name]), (name, operands)
        self.code += [OPCODE[name], *operands]

    def run(self) -> tuple[str, np.ndarray, np.ndarray]:
        """Runs the code (ended by ANSWER); returns ("done" | "rerun", I, F)."""
        vm = native()
        assert vm is not None, "the VM extension is not built"
        code = [*self.code, OPCODE["ANSWER"], 0]
        cap_regs = [self.iconst(c) for c in self.window_caps]
        n_iregs = N_SPECIAL + N_CONST + self.n_itemp
        n_fregs = N_CONST + self.n_ftemp
        values = {
            "N_IREGS": n_iregs,
            "N_FREGS": n_fregs,
            "N_IROWS": self.n_irows,
            "N_FROWS": self.n_frows,
            "N_WINDOWS": len(cap_regs),
            "REG_MAXB": self.iconst(0),
            "REG_MAXR": self.iconst(0),
            "REG_FUEL": self.iconst(0),
            "N_IFIELDS": 0,
            "N_FFIELDS": 0,
            "HAS_ROUND": 0,
        }
        header = np.array([values[f] for f in HEADER_FIELDS] + cap_regs, dtype=np.int64)
        ci = np.array(self.ci + [0] * (N_CONST - len(self.ci)), dtype=np.int64)
        cf = np.array(self.cf + [0.0] * (N_CONST - len(self.cf)), dtype=np.float64)
        out_i = np.zeros(n_iregs, dtype=np.int64)
        out_f = np.zeros(n_fregs, dtype=np.float64)
        code_arr = np.array(code, dtype=np.int32)
        status = vm.run_snippet(
            code_arr,
            header,
            ci,
            cf,
            self.table,
            out_i,
            out_f,
            len(code_arr),
            self.width,
            self.vocab,
            self.table_n + 1,
        )
        return ("done" if status == 0 else "rerun"), out_i, out_f
