"""Regenerate the embedded default store, `replay/data/default.json.gz`.

    python -m autotts_dsl.replay.make_default_store            # rewrite it
    python -m autotts_dsl.replay.make_default_store --check    # verify only

The file is `synthetic.default_store_bytes()`: the simulator's records for
the default parameters, as compact JSON, gzip-compressed with `mtime=0`, so
regenerating it on the same zlib gives the same bytes. `--check` compares
the decompressed JSON, which stays stable even where another zlib build
would compress differently.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .synthetic import DEFAULT_STORE_PATH, default_store_bytes


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file + rename (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; package data must be world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autotts_dsl.replay.make_default_store",
        description="Regenerate (or --check) the embedded synthetic default store.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_STORE_PATH, help="output file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a regeneration"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    data = default_store_bytes()
    if args.check:
        try:
            current = gzip.decompress(out.read_bytes())
        except (OSError, EOFError) as exc:
            print(f"{out}: cannot read: {exc}", file=sys.stderr)
            return 1
        if current != gzip.decompress(data):
            print(f"{out}: differs from a regeneration", file=sys.stderr)
            return 1
        print(f"{out}: up to date ({out.stat().st_size} bytes)")
        return 0
    write_atomically(out, data)
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
