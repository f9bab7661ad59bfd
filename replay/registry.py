"""Store names, the data directory, and fetching the public AutoTTS stores.

A *store spec* (what `--store` takes) is one of:

* `None` or `"default"` — the synthetic store embedded in the package;
* a path to a `.json` / `.json.gz` store file;
* a name under a store directory, e.g. `autotts/Qwen3-8B/aime24` for
  `<dir>/autotts/Qwen3-8B/aime24.json` (or `.json.gz`).

The store directories, searched in order: the data directory (`$TTS_DSL_DATA`,
else `$XDG_DATA_HOME/tts-dsl`, else `~/.local/share/tts-dsl`; `fetch_autotts`
fills `<data dir>/autotts/`), then every directory listed in the config file
(`config_file()`: `$TTS_DSL_CONFIG/stores.conf`, else
`$XDG_CONFIG_HOME/tts-dsl/stores.conf`, else `~/.config/tts-dsl/stores.conf`;
one directory per line, `#` comments), which `add_store_dir` (`tts-dsl
stores add DIR`) appends to. A directory named `autotts` serves the names
`autotts/...` itself, so both `stores add shared/replay` and `stores add
shared/replay/autotts` make `autotts/Qwen3-8B/aime24` work.

Errors are `StoreError`s with one-line messages; `StoreUnavailable` (a
subclass) marks "not there / not readable" as opposed to "there but invalid",
which the CLI maps to different exit codes.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import json
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import BinaryIO, Literal

from .. import __version__
from ..records import record
from .store import ReplayStore, StoreError, load_store
from .synthetic import DEFAULT_STORE_PATH, SYNTHETIC_MARKER, looks_synthetic
from .voting import winner

DATA_ENV = "TTS_DSL_DATA"
CONFIG_ENV = "TTS_DSL_CONFIG"
STORES_CONF = "stores.conf"
STORE_URL_ENV = "TTS_DSL_STORE_URL"
AUTOTTS_BASE_URL = (
    "https://raw.githubusercontent.com/zhengkid/AutoTTS/main/"
    "efficient_reasoning_controller/test_environment"
)
AUTOTTS_MODELS: tuple[str, ...] = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
AUTOTTS_DATASETS: tuple[str, ...] = ("aime24", "aime25", "hmmt25")

DEFAULT_SPEC = "default"
DEFAULT_STORE_NAME = "synthetic/default"
STORE_SUFFIXES: tuple[str, ...] = (".json", ".json.gz")

_FETCH_HINT = "`tts-dsl stores` lists known stores, `tts-dsl stores fetch autotts` downloads them"


class StoreUnavailable(StoreError):
    """The store is unknown, missing, a directory or unreadable (not: invalid)."""


def data_dir() -> Path:
    """Where named stores live (see the module docstring)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    # The XDG spec says to ignore relative values.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "tts-dsl"


def autotts_names() -> list[str]:
    """Names of the public AutoTTS catalogue, e.g. `autotts/Qwen3-8B/aime24`."""
    return [f"autotts/{m}/{d}" for m in AUTOTTS_MODELS for d in AUTOTTS_DATASETS]


def _strip_suffix(name: str) -> str:
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return name


def _is_store_file(p: Path) -> bool:
    return p.name.endswith(STORE_SUFFIXES) and not p.name.startswith(".") and p.is_file()


def config_file() -> Path:
    """The file listing extra store directories (see the module docstring)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser() / STORES_CONF
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "tts-dsl" / STORES_CONF


def configured_dirs() -> list[Path]:
    """The directories of the config file, in order (missing file: none)."""
    try:
        text = config_file().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    out: list[Path] = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(Path(entry).expanduser())
    return list(dict.fromkeys(out))


def store_dirs() -> list[Path]:
    """Where store names are looked up: the data directory, then the
    configured directories (each once)."""
    return list(dict.fromkeys([data_dir(), *configured_dirs()]))


def _write_config(dirs: Sequence[Path]) -> None:
    from ..io_atomic import atomic_write_text

    head = (
        "# Store directories for tts-dsl, searched after the data directory, in order.\n"
        "# One per line; `tts-dsl stores add DIR` / `tts-dsl stores remove DIR` edit it.\n"
    )
    atomic_write_text(config_file(), head + "".join(f"{d}\n" for d in dirs))


def add_store_dir(directory: str | Path) -> tuple[Path, bool]:
    """Append a directory of stores to the config file; returns (its absolute
    path, whether it was added rather than already listed). Raises
    `StoreUnavailable` when it is not a directory holding stores, `OSError`
    when the config file cannot be written."""
    path = Path(directory).expanduser().resolve()
    if not path.is_dir():
        raise StoreUnavailable(directory, "no such directory")
    if not any(_is_store_file(f) for f in path.rglob("*")):
        raise StoreUnavailable(directory, "directory holds no .json or .json.gz stores")
    dirs = configured_dirs()
    if path in dirs or path == data_dir().expanduser().resolve():
        return path, False
    _write_config([*dirs, path])
    return path, True


def remove_store_dir(directory: str | Path) -> bool:
    """Drop a directory from the config file; False when it was not listed."""
    target = Path(directory).expanduser()
    dirs = configured_dirs()
    keep = [d for d in dirs if d not in (target, target.resolve())]
    if len(keep) == len(dirs):
        return False
    _write_config(keep)
    return True


def _root_prefix(root: Path) -> str:
    """Names a directory serves without spelling it: `autotts/` for a
    directory named `autotts` (a copy of the AutoTTS catalogue's layout)."""
    return "autotts/" if root.name == "autotts" else ""


def _name_under(root: Path, f: Path) -> str:
    return _root_prefix(root) + _strip_suffix(f.relative_to(root).as_posix())


def _candidates(name: str) -> list[tuple[Path, Path]]:
    """(root, path without suffix) where a store name may live, in search order."""
    out = []
    for root in store_dirs():
        prefix = _root_prefix(root)
        if prefix and name.startswith(prefix):
            out.append((root, root / name.removeprefix(prefix)))
        out.append((root, root / name))
    return out


def _name_for_path(p: Path) -> str:
    """A readable store name for a file: relative to a store directory, or
    `autotts/<model>/<dataset>` for any copy of the AutoTTS layout."""
    stem = _strip_suffix(p.name)
    for root in store_dirs():
        try:
            return _name_under(root.resolve(), p.resolve())
        except (ValueError, OSError):
            pass
    if p.parent.parent.name == "autotts":
        return f"autotts/{p.parent.name}/{stem}"
    return f"{p.parent.name}/{stem}" if p.parent.name else stem


def _is_default(spec: str | None) -> bool:
    return spec is None or spec in (DEFAULT_SPEC, DEFAULT_STORE_NAME)


def locate_store(spec: str | None) -> tuple[str, Path]:
    """`(name, path)` of the store a spec refers to, without loading it.

    An existing file path wins over a data-dir name of the same spelling.
    Raises `StoreUnavailable` for directories and unknown names.
    """
    if spec is None or _is_default(spec):
        return DEFAULT_STORE_NAME, DEFAULT_STORE_PATH
    p = Path(spec).expanduser()
    if p.is_dir():
        raise StoreUnavailable(
            spec,
            "is a directory, not a store file; name one of its files "
            "(e.g. DIR/aime24.json) or expand it with expand_store_specs()",
        )
    if p.exists():
        return _name_for_path(p), p
    looked = ", ".join(str(d) for d in store_dirs())
    if not p.is_absolute():
        name = _strip_suffix(spec)
        for _root, base in _candidates(name):
            for suffix in STORE_SUFFIXES:
                candidate = base.parent / (base.name + suffix)
                if candidate.is_file():
                    return name, candidate
        for root, base in _candidates(name):
            if base.is_dir():
                raise StoreUnavailable(
                    spec, f"is a directory under {root}; pass one store of it (or expand it)"
                )
        if name in autotts_names():
            raise StoreUnavailable(
                spec,
                f"not downloaded yet (looked in {looked}); run `tts-dsl stores fetch autotts`, "
                "or `tts-dsl stores add DIR` for a directory that holds it",
            )
    if spec.endswith(STORE_SUFFIXES) or p.is_absolute():
        raise StoreUnavailable(spec, f"no such file; {_FETCH_HINT}")
    raise StoreUnavailable(
        spec, f"unknown store (no such file, nor a name under {looked}); {_FETCH_HINT}"
    )


@cache
def default_store() -> ReplayStore:
    """The embedded synthetic store (loaded once per process)."""
    if not DEFAULT_STORE_PATH.is_file():
        raise StoreUnavailable(
            DEFAULT_STORE_PATH, "embedded default store missing; reinstall tts-dsl"
        )
    store = load_store(DEFAULT_STORE_PATH, name=DEFAULT_STORE_NAME)
    return dataclasses.replace(store, synthetic=True)


def resolve_store(spec: str | None) -> ReplayStore:
    """Load the store a spec refers to.

    Raises `StoreUnavailable` when it cannot be found or read, and
    `StoreError` when it is there but invalid.
    """
    if _is_default(spec):
        return default_store()
    name, path = locate_store(spec)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise StoreUnavailable(path, f"cannot read: {exc.strerror or exc}") from None
    store = load_store(path, name=name)
    if looks_synthetic(store):
        store = dataclasses.replace(store, synthetic=True)
    return store


def expand_store_specs(specs: Sequence[str]) -> list[str]:
    """Replace every directory among `specs` by the store files under it.

    A directory (a path, or a name under the data dir such as `autotts`)
    becomes all `*.json` / `*.json.gz` files below it, recursively, sorted by
    relative path; other specs pass through unchanged. Duplicates are
    dropped, first occurrence kept.
    """
    out: list[str] = []
    for spec in specs:
        directory: Path | None = None
        p = Path(spec).expanduser()
        if p.is_dir():
            directory = p
        elif not p.exists() and not p.is_absolute():
            directory = next((b for _, b in _candidates(spec.rstrip("/")) if b.is_dir()), None)
        if directory is None:
            out.append(spec)
            continue
        files = sorted(
            (f for f in directory.rglob("*") if _is_store_file(f)),
            key=lambda f: f.relative_to(directory).parts,
        )
        if not files:
            raise StoreUnavailable(spec, "directory holds no .json or .json.gz stores")
        out.extend(str(f) for f in files)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------
# Listing


StoreKind = Literal["embedded", "autotts", "local", "collected"]


@record
class StoreInfo:
    """One row of `list_stores()`."""

    name: str
    path: Path
    kind: StoreKind
    synthetic: bool
    present: bool
    n_questions: int | None = None
    n_branches: int | None = None
    size_bytes: int | None = None
    error: str | None = None
    collected: str | None = None
    """For a store with a `tts-dsl collect` sidecar: model, N, interval (one line)."""

    @property
    def status(self) -> str:
        if not self.present:
            return "missing"
        return "invalid" if self.error else "present"


def _peek(path: Path) -> tuple[int, int, bool]:
    """(questions, most branches per question, synthetic) from the raw JSON,
    without building the interned store."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("not a list of question records")
    n_b = max((len(r.get("each_branch") or ()) for r in data), default=0)
    synthetic = bool(data) and all(
        str(r.get("question", "")).startswith(SYNTHETIC_MARKER) for r in data
    )
    return len(data), n_b, synthetic


def _info(name: str, path: Path, kind: StoreKind, synthetic: bool) -> StoreInfo:
    if not path.is_file():
        return StoreInfo(name, path, kind, synthetic, present=False)
    size = path.stat().st_size
    try:
        n_q, n_b, marked = _peek(path)
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        # Reuse the loader's precise one-line diagnosis when it has one.
        try:
            load_store(path)
            reason = str(exc)
        except StoreError as err:
            reason = err.reason
        return StoreInfo(name, path, kind, synthetic, True, size_bytes=size, error=reason)
    collected = collected_summary(path)
    if collected is not None and kind == "local":
        kind = "collected"
    return StoreInfo(name, path, kind, synthetic or marked, True, n_q, n_b, size, None, collected)


def collected_summary(path: Path) -> str | None:
    """One line from a collected store's sidecar (`<store>.meta`), if it has one."""
    try:
        doc = json.loads(Path(str(path) + ".meta").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    fmt = doc.get("format", "") if isinstance(doc, dict) else ""
    if not str(fmt).startswith("tts-dsl-store-meta/"):
        return None
    parts = [f"model {doc.get('model')}"]
    if doc.get("n") is not None:
        parts.append(f"N={doc.get('n')}")
    if doc.get("interval") is not None:
        parts.append(f"interval {doc.get('interval')}")
    eq = doc.get("equivalence")
    if isinstance(eq, dict) and eq.get("rule"):
        parts.append(f"answers: {eq['rule']}")
    return ", ".join(parts)


def _catalogue_path(name: str) -> tuple[Path, set[Path]]:
    """Where an AutoTTS catalogue name is found (the first store directory
    that has it; else where `fetch_autotts` would put it), and every path
    that spelling could take (so the listing does not show them twice)."""
    found: Path | None = None
    spellings: set[Path] = set()
    for _, base in _candidates(name):
        for suffix in STORE_SUFFIXES:
            candidate = base.parent / (base.name + suffix)
            spellings.add(candidate)
            if found is None and candidate.is_file():
                found = candidate
    return found or data_dir() / f"{name}.json", spellings


def list_stores() -> list[StoreInfo]:
    """The default store, the AutoTTS catalogue (present or not), and any
    other store files under the store directories (`store_dirs()`)."""
    infos = [_info(DEFAULT_SPEC, DEFAULT_STORE_PATH, "embedded", True)]
    seen: set[Path] = set()
    names: set[str] = set()
    for name in autotts_names():
        path, spellings = _catalogue_path(name)
        seen.update(spellings)
        names.add(name)
        infos.append(_info(name, path, "autotts", False))
    for root in store_dirs():
        if not root.is_dir():
            continue
        others = sorted(
            (f for f in root.rglob("*") if _is_store_file(f) and f not in seen),
            key=lambda f: f.relative_to(root).parts,
        )
        for f in others:
            name = _name_under(root, f)
            if name in names:  # shadowed by an earlier directory
                continue
            names.add(name)
            infos.append(_info(name, f, "local", False))
    return infos


# ---------------------------------------------------------------------------
# Fetching


FetchStatus = Literal["downloaded", "present", "invalid", "error"]


@record
class FetchResult:
    """Outcome for one catalogue file.

    `present`: a valid copy was already there (skipped); `invalid`: the
    download completed but is not a valid store; `error`: network or I/O
    failure. In the last two cases nothing was written at `path`.
    """

    name: str
    url: str
    path: Path
    status: FetchStatus
    message: str = ""
    n_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("downloaded", "present")


ProgressFn = Callable[[str, int, int | None], None]
"""`progress(name, bytes_so_far, total_or_None)`, called per received chunk."""


class _Truncated(Exception):
    pass


def store_base_url(base_url: str | None = None) -> str:
    """The catalogue URL: argument, else `$TTS_DSL_STORE_URL`, else AutoTTS's."""
    return (base_url or os.environ.get(STORE_URL_ENV) or AUTOTTS_BASE_URL).rstrip("/")


def fetch_autotts(
    dest_dir: str | Path | None = None,
    *,
    base_url: str | None = None,
    models: Sequence[str] = AUTOTTS_MODELS,
    datasets: Sequence[str] = AUTOTTS_DATASETS,
    timeout: float = 60.0,
    progress: ProgressFn | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Download `{base_url}/{model}/{dataset}.json` into `dest_dir/model/`.

    `dest_dir` defaults to `<data dir>/autotts`. Each file goes to a temp file
    beside its final path, is validated with `load_store`, and only then
    renamed into place, so the final path only ever holds a complete valid
    store. Valid files already present are skipped. Never raises for
    network, HTTP or data problems: they are reported per file.
    """
    dest = Path(dest_dir).expanduser() if dest_dir is not None else data_dir() / "autotts"
    base = store_base_url(base_url)
    results = []
    unreachable: str | None = None
    for model in models:
        for dataset in datasets:
            name = f"autotts/{model}/{dataset}"
            url = f"{base}/{model}/{dataset}.json"
            final = dest / model / f"{dataset}.json"
            if unreachable is not None:
                # Don't wait out one timeout per file against a dead host.
                result = FetchResult(name, url, final, "error", f"skipped: {unreachable}")
            else:
                result, reached = _fetch_one(
                    name=name, url=url, final=final, timeout=timeout, progress=progress
                )
                if not reached:
                    unreachable = result.message
            if on_result is not None:
                on_result(result)
            results.append(result)
    return results


def _fetch_one(
    *, name: str, url: str, final: Path, timeout: float, progress: ProgressFn | None
) -> tuple[FetchResult, bool]:
    """The result, and whether the server could be reached at all."""

    def result(
        status: FetchStatus, message: str = "", n_bytes: int = 0, reached: bool = True
    ) -> tuple[FetchResult, bool]:
        return FetchResult(name, url, final, status, message, n_bytes), reached

    # The network stack loads only when something is fetched (start-up of every
    # other command: http.client and email cost ~80 ms).
    import http.client
    import urllib.error

    if final.is_file():
        try:
            load_store(final, name=name)
            return result("present", "", final.stat().st_size)
        except StoreError:
            pass  # a corrupt copy: download again over it
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    except OSError as exc:
        return result("error", f"cannot write to {final.parent}: {exc.strerror or exc}")
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                n_bytes = _download(url, fh, timeout, name, progress)
                fh.flush()
                os.fsync(fh.fileno())  # the rename must not expose unflushed data
        except urllib.error.HTTPError as exc:
            return result("error", f"HTTP {exc.code} {exc.reason}")
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            if _host_unreachable(reason):
                return result("error", f"cannot connect: {text}", reached=False)
            return result("error", f"cannot fetch: {text}")
        except TimeoutError:
            return result("error", f"timed out after {timeout:g}s", reached=False)
        except _Truncated as exc:
            return result("error", str(exc))
        except (http.client.HTTPException, ConnectionError) as exc:
            detail = str(exc) or type(exc).__name__
            return result("error", f"connection broken: {detail}")
        except OSError as exc:
            return result("error", f"I/O error: {exc.strerror or exc}")
        try:
            load_store(tmp, name=name)
        except StoreError as exc:
            return result("invalid", f"not a valid store: {_where(exc)}{exc.reason}", n_bytes)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, final)
        return result("downloaded", "", n_bytes)
    finally:
        # No-op after a successful rename; removes the partial file otherwise,
        # including on KeyboardInterrupt.
        tmp.unlink(missing_ok=True)


def _host_unreachable(reason: object) -> bool:
    """Whether a URLError reason means no later request can succeed either."""
    if isinstance(reason, (ConnectionError, TimeoutError, socket.gaierror)):
        return True
    return isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)


def _where(exc: StoreError) -> str:
    if exc.question is None:
        return ""
    key = f", key '{exc.key}'" if exc.key else ""
    return f"question {exc.question}{key}: "


def _download(
    url: str, fh: BinaryIO, timeout: float, name: str, progress: ProgressFn | None
) -> int:
    import urllib.request

    req = urllib.request.Request(url, headers={"User-Agent": f"tts-dsl/{__version__}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        if progress is not None:
            progress(name, 0, total)
        while chunk := resp.read(1 << 16):
            fh.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(name, done, total)
    # urllib does not always raise when the server hangs up early.
    if total is not None and done < total:
        raise _Truncated(f"connection closed after {done} of {total} bytes")
    return done


# ---------------------------------------------------------------------------
# Summaries


@record
class StoreSummary:
    """Descriptive statistics of a store (`tts-dsl stores show`)."""

    name: str
    source: str
    synthetic: bool
    content_hash: str
    n_questions: int
    n_branches_min: int
    n_branches_max: int
    intervals: tuple[int, ...]
    n_answers: int
    mean_branch_tokens: float
    mean_probes: float
    share_probes_over: float
    """Branches with `len(probes) * interval > branch_tokens`."""
    share_probes_short: float
    """Branches whose probes fall at least one interval short of `branch_tokens`."""
    trace_accuracy: float
    """Mean over questions of the share of branches whose final answer is gold."""
    majority_accuracy: float
    """Share of questions where the plurality of all final answers is gold."""


def summarize_store(store: ReplayStore) -> StoreSummary:
    """Compute a `StoreSummary` (reads the gold answers: not for controllers)."""
    qs = store.questions
    n_br = [q.n_branches for q in qs]
    tokens = [t for q in qs for t in q.tokens]
    over = short = 0
    n_probes = 0
    for q in qs:
        for probes, t in zip(q.probes, q.tokens, strict=True):
            span = len(probes) * q.interval
            n_probes += len(probes)
            over += span > t
            short += t - span >= q.interval
    n = max(1, len(tokens))
    return StoreSummary(
        name=store.name,
        source=store.source,
        synthetic=store.synthetic,
        content_hash=store.content_hash,
        n_questions=len(qs),
        n_branches_min=min(n_br, default=0),
        n_branches_max=max(n_br, default=0),
        intervals=tuple(sorted({q.interval for q in qs})),
        n_answers=len(store.vocab),
        mean_branch_tokens=sum(tokens) / n,
        mean_probes=n_probes / n,
        share_probes_over=over / n,
        share_probes_short=short / n,
        trace_accuracy=sum(q.finals.count(q.gold) / q.n_branches for q in qs) / max(1, len(qs)),
        majority_accuracy=sum(winner(q.finals) == q.gold for q in qs) / max(1, len(qs)),
    )
