"""The engines that evaluate programs, and how one is chosen.

* `vm` — the virtual machine (`autotts_dsl/vm/`): native speed, no
  per-program compile; episodes it does not reproduce exactly are replayed
  by the reference, so results are the reference's by construction.
* `reference` — the closure interpreter (`autotts_dsl/reference.py`): the
  semantics; the only engine that writes traces.
* `auto` (default) — the VM when it is built and covers the program, else
  the reference.

`--backend` on the command line or `$TTS_DSL_BACKEND` choose.
"""

from __future__ import annotations

import os

BACKENDS = ("auto", "vm", "reference")
BACKEND_ENV = "TTS_DSL_BACKEND"


class BackendError(Exception):
    """A backend was asked for explicitly and cannot run this program."""


def default_backend() -> str:
    name = os.environ.get(BACKEND_ENV, "auto")
    return name if name in BACKENDS else "auto"


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise BackendError(f"unknown backend `{name}` (choose from {', '.join(BACKENDS)})")
    return name
