"""The tts-dsl virtual machine: every program runs natively with no
per-program compile.

A program is lowered once (`lower.py`) to code for a register machine whose
interpreter (`vm.c`) is a C extension built when tts-dsl is installed; the
per-β constants come from the reference compiler (`consts.py`). Episodes the
VM cannot reproduce exactly are replayed by the reference interpreter, so
results and error messages are the reference's.
"""

from .lower import Unsupported
from .run import available, disassemble, evaluate

__all__ = ["Unsupported", "available", "disassemble", "evaluate"]
