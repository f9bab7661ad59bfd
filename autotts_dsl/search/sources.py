"""Reading seed and baseline programs (stdlib names or files)."""

from __future__ import annotations

from pathlib import Path

from ..programs import resolve_program_path


def read_seed(spec: str) -> tuple[str, str]:
    """(source, shown path) of a stdlib name or a file. Raises
    `ProgramNotFound` or `OSError`."""
    path = resolve_program_path(spec)
    shown = str(path) if Path(spec).is_file() else f"stdlib/{path.name}"
    return path.read_text(encoding="utf-8"), shown
