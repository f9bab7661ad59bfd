"""What a worker must share with the driver to give the driver's results:
the same tts-dsl (version and source), the same VM build, the same Python.

Cluster workers run whatever is installed on their node. A node with
another checkout, or one where the VM extension was not built, would still
run cells, and differences would surface (if at all) as numbers that do not
match. So every worker compares its fingerprint with the driver's before its
first task, and a mismatch stops the run with one line saying which node
differs and how.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
from pathlib import Path

from ..records import record

_SOURCE_SUFFIXES = (".py", ".lark", ".tts")
"""What an installed wheel and a checkout both have (vm.c is not installed)."""


@record
class Fingerprint:
    version: str
    source: str
    """Hash of the package's source files (a checkout can change without
    its version string changing)."""
    vm: str
    """The VM extension's instruction-set digest, or `none` when it is not built."""
    python: str

    def mismatch(self, driver: Fingerprint, where: str) -> str | None:
        """One line on how this worker differs from `driver`, or None."""
        fix = "install the same tts-dsl, with its VM built, in the same Python on every node"
        if self.python != driver.python:
            return f"{where} runs Python {self.python}, the driver {driver.python}; {fix}"
        if self.vm != driver.vm:  # first: the likeliest cause (no compiler on that node)
            if self.vm == "none":
                return (
                    f"{where} lacks the VM extension autotts_dsl._vm (the driver has it, "
                    f"digest {driver.vm}); {fix}"
                )
            return f"{where} has VM digest {self.vm}, the driver {driver.vm}; {fix}"
        if self.version != driver.version or self.source != driver.source:
            return (
                f"{where} runs another tts-dsl (version {self.version}, source {self.source}; "
                f"the driver: {driver.version}, {driver.source}); {fix}"
            )
        return None


def _source_hash(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(_SOURCE_SUFFIXES):
                path = Path(dirpath) / name
                h.update(str(path.relative_to(root)).encode() + b"\0")
                h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.cache
def current() -> Fingerprint:
    """This process's fingerprint (computed once)."""
    from .. import __version__
    from ..vm.run import native

    vm = native()
    return Fingerprint(
        version=__version__,
        source=_source_hash(Path(__file__).resolve().parent.parent),
        vm=str(getattr(vm, "OPCODES_DIGEST", "none")) if vm is not None else "none",
        python=platform.python_version(),
    )


def where() -> str:
    """This worker, for messages: host and process id."""
    return f"the worker on {socket.gethostname()} (pid {os.getpid()})"
