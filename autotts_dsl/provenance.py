"""What a results file needs to be found and reproduced.

Every results document the CLI writes (`run --json`, `run --out`, a sweep's
`provenance.json` and `--json`) carries one `provenance` record: the tool and
its version, the command line, the programs (by structural hash), the stores
(by content hash), the seeds and the engine. CSV files carry the per-row part
of it as columns (program and store hashes, seeds, backend, tool version);
the command line lives in the JSON beside them, because a cached sweep cell
may have been computed by an earlier command.
"""

from __future__ import annotations

import platform
import shlex
import time
from collections.abc import Iterable, Sequence
from typing import Any

from . import __version__
from .records import record

TOOL = "tts-dsl"


def seeds_text(seeds: Sequence[int]) -> str:
    """`A:B` for a contiguous range (as `--seeds` takes it), else a comma list."""
    s = tuple(seeds)
    if s and s == tuple(range(s[0], s[0] + len(s))):
        return f"{s[0]}:{s[0] + len(s)}"
    return ",".join(str(x) for x in s)


@record
class ProgramRef:
    name: str
    """The `controller NAME` (or a sweep's label)."""
    path: str
    program_hash: str


@record
class StoreRef:
    name: str
    content_hash: str
    synthetic: bool = False


def provenance(
    argv: Sequence[str] | None,
    *,
    programs: Iterable[ProgramRef],
    stores: Iterable[StoreRef],
    seeds: Sequence[int],
    backend: str,
    engines: Iterable[str] = (),
) -> dict[str, Any]:
    """The provenance record (JSON-ready). `backend` is what was asked for
    (`auto` when nothing was), `engines` what actually ran."""
    words = list(argv or ())
    return {
        "tool": TOOL,
        "version": __version__,
        "python": platform.python_version(),
        "command": words,
        "command_line": shlex.join(words),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "programs": [
            {"name": p.name, "path": p.path, "program_hash": p.program_hash} for p in programs
        ],
        "stores": [
            {"name": s.name, "content_hash": s.content_hash, "synthetic": s.synthetic}
            for s in stores
        ],
        "seeds": seeds_text(seeds),
        "n_seeds": len(seeds),
        "backend": backend,
        "engines": sorted(set(engines)),
    }
