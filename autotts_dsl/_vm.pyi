# The VM's C extension (autotts_dsl/vm/vm.c).
from typing import Any

N_OPS: int
OPCODES_DIGEST: str

def run_cell(*args: Any) -> None: ...
def run_snippet(*args: Any) -> Any: ...
