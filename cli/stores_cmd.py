"""`tts-dsl stores`: list, inspect and fetch replay stores.

    tts-dsl stores [list] [--json]
    tts-dsl stores show NAME_OR_PATH [--json]
    tts-dsl stores add DIR          (and `remove DIR`, `dirs`)
    tts-dsl stores fetch autotts [--base-url URL] [--dest DIR] [--json]

Store names (`--store autotts/Qwen3-8B/aime24`) are looked up in the data
directory, then in each directory `stores add` recorded in the config file.

Exit codes follow the CLI rule: 0 ok; 1 the data is wrong (a store exists
but is invalid, a download completed but is not a valid store); 2 usage or
I/O (unknown name, missing or unreadable file, network failure). `fetch`
reports 2 when any file hit a network/I/O error, else 1 when any download
was invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .console import (
    new_table,
    print_error,
    print_table,
    rich_console,
    stderr_console,
    stdout_console,
    styled,
)
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..api.replay_stores import FetchResult, StoreInfo

# The registry's constants, spelt out so that `--help` loads no store code.
DATA_ENV = "TTS_DSL_DATA"
CONFIG_ENV = "TTS_DSL_CONFIG"
STORE_URL_ENV = "TTS_DSL_STORE_URL"
AUTOTTS_MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
AUTOTTS_DATASETS = ("aime24", "aime25", "hmmt25")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stores",
        help="list, inspect, add and fetch replay stores",
        description="List, inspect, add and fetch replay stores. Without an action: list. "
        "A store name such as autotts/Qwen3-8B/aime24 is looked up in the data directory "
        f"(${DATA_ENV}, else ~/.local/share/tts-dsl), then in every directory that "
        "`tts-dsl stores add DIR` recorded in the config file "
        f"(${CONFIG_ENV}/stores.conf, else ~/.config/tts-dsl/stores.conf; one directory "
        "per line, which you may also edit by hand).",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)
    actions = p.add_subparsers(dest="stores_action", metavar="ACTION")

    # `--json` is accepted before or after the action; SUPPRESS keeps the
    # action's parser from resetting a flag given before it.
    def json_flag(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
        )

    lp = actions.add_parser("list", help="known stores: the default, AutoTTS, local")
    json_flag(lp)

    sp = actions.add_parser("show", help="summary statistics of one store")
    sp.add_argument("store", metavar="NAME_OR_PATH", help="'default', a store name or a file")
    json_flag(sp)

    ap = actions.add_parser(
        "add",
        help="look up store names in DIR too (recorded in the config file)",
        description="Record DIR in the config file, so that the stores under it are listed "
        "and found by name: with DIR/autotts/Qwen3-8B/aime24.json (or DIR named autotts "
        "holding Qwen3-8B/aime24.json), `--store autotts/Qwen3-8B/aime24` works.",
    )
    ap.add_argument("directory", metavar="DIR", help="a directory holding .json / .json.gz stores")
    json_flag(ap)
    rp = actions.add_parser("remove", help="stop looking up store names in DIR")
    rp.add_argument("directory", metavar="DIR", help="a directory `stores add` recorded")
    json_flag(rp)
    dp = actions.add_parser("dirs", help="where store names are looked up, in order")
    json_flag(dp)

    fp = actions.add_parser(
        "fetch",
        help="download the public AutoTTS stores",
        description=(
            "Download the public AutoTTS stores (4 models x 3 benchmarks) into the data "
            f"directory (${DATA_ENV}). Each file is validated before it is moved into place; "
            "valid files already present are skipped."
        ),
    )
    fp.add_argument("source", choices=["autotts"], help="the catalogue to fetch")
    fp.add_argument(
        "--base-url",
        metavar="URL",
        help=f"where {{model}}/{{dataset}}.json live (default: ${STORE_URL_ENV} or AutoTTS's repo)",
    )
    fp.add_argument(
        "--dest",
        metavar="DIR",
        help="directory to fill as DIR/<model>/<dataset>.json (default: <data dir>/autotts)",
    )
    fp.add_argument(
        "--model", action="append", choices=AUTOTTS_MODELS, help="only this model (repeatable)"
    )
    fp.add_argument(
        "--dataset",
        action="append",
        choices=AUTOTTS_DATASETS,
        help="only this benchmark (repeatable)",
    )
    fp.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="network timeout in seconds"
    )
    json_flag(fp)


def run(args: argparse.Namespace) -> int:
    action: str = args.stores_action or "list"
    if action == "show":
        return _show(args.store, as_json=args.json)
    if action == "fetch":
        return _fetch(args)
    if action == "add":
        return _add(args.directory, as_json=args.json)
    if action == "remove":
        return _remove(args.directory, as_json=args.json)
    if action == "dirs":
        return _dirs(as_json=args.json)
    return _list(as_json=args.json)


def _stdout() -> Any:
    # Built per call so that output follows the current sys.stdout (tests).
    return stdout_console()


def _size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


# -- list ---------------------------------------------------------------------


def _info_json(info: StoreInfo) -> dict[str, Any]:
    d = asdict(info)
    d["path"] = str(info.path)
    d["status"] = info.status
    return d


def _list(*, as_json: bool) -> int:
    from ..api.replay_stores import config_file, data_dir, list_stores, store_dirs

    infos = list_stores()
    if as_json:
        _write_json(
            {
                "data_dir": str(data_dir()),
                "config_file": str(config_file()),
                "store_dirs": [str(d) for d in store_dirs()],
                "stores": [_info_json(i) for i in infos],
            }
        )
        return EXIT_OK
    out = _stdout()
    table = new_table(out, title="Replay stores", caption="Q×B: questions × branches")
    table.add_column("store", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("Q×B", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    styles = {"present": "green", "missing": "dim", "invalid": "bold red"}
    for info in infos:
        kinds = {"autotts": "AutoTTS", "collected": "collected"}
        kind = "synthetic" if info.synthetic else kinds.get(info.kind, "local")
        status = "embedded" if info.kind == "embedded" and info.present else info.status
        shape = "" if info.n_questions is None else f"{info.n_questions}×{info.n_branches}"
        table.add_row(
            info.name,
            kind,
            styled(status, styles.get(info.status, "")),
            shape,
            _size(info.size_bytes),
        )
    print_table(out, table)
    dirs = store_dirs()
    out.print(f"data dir: {data_dir()}  (set ${DATA_ENV} to change)", soft_wrap=True)
    for d in dirs[1:]:
        out.print(f"store dir: {d}  (from {config_file()})", soft_wrap=True)
    for info in infos:
        if info.collected:
            out.print(f"{info.name}: {info.collected}", markup=False, soft_wrap=True)
    for info in infos:
        if info.error:
            out.print(f"invalid: {info.path}: {info.error}", style="red", soft_wrap=True)
    missing = sum(1 for i in infos if i.kind == "autotts" and not i.present)
    if missing:
        out.print(
            f"{missing} AutoTTS store(s) missing: `tts-dsl stores fetch autotts` downloads them; "
            "if you have them already, `tts-dsl stores add DIR` (DIR/autotts/<model>/"
            "<dataset>.json). The default store is synthetic: its numbers are not comparable "
            "to AutoTTS's.",
            soft_wrap=True,
        )
    return EXIT_OK


# -- add / remove / dirs ------------------------------------------------------------


def _add(directory: str, *, as_json: bool) -> int:
    from ..api.replay_stores import StoreUnavailable, add_store_dir, config_file, list_stores

    try:
        path, added = add_store_dir(directory)
    except StoreUnavailable as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(
            f"{config_file()}: cannot write: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    under = [i.name for i in list_stores() if i.present and _is_under(i.path, path)]
    if as_json:
        _write_json(
            {
                "directory": str(path),
                "added": added,
                "config_file": str(config_file()),
                "stores": under,
            }
        )
        return EXIT_OK
    out = _stdout()
    verb = "added" if added else "already listed:"
    out.print(f"{verb} {path} (in {config_file()})", soft_wrap=True)
    shown = ", ".join(under[:6]) + (f", … ({len(under)} in all)" if len(under) > 6 else "")
    out.print(f"{len(under)} store(s) found by name there: {shown}", soft_wrap=True)
    return EXIT_OK


def _is_under(p: Any, root: Any) -> bool:
    try:
        p.resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def _remove(directory: str, *, as_json: bool) -> int:
    from ..api.replay_stores import config_file, remove_store_dir

    try:
        removed = remove_store_dir(directory)
    except OSError as exc:
        raise CliError(
            f"{config_file()}: cannot write: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    if as_json:
        _write_json({"directory": directory, "removed": removed})
        return EXIT_OK if removed else EXIT_USAGE
    if not removed:
        raise CliError(f"{directory}: not listed in {config_file()}", EXIT_USAGE)
    _stdout().print(f"removed {directory} (from {config_file()})", soft_wrap=True)
    return EXIT_OK


def _dirs(*, as_json: bool) -> int:
    from ..api.replay_stores import config_file, data_dir, store_dirs

    dirs = store_dirs()
    if as_json:
        _write_json({"config_file": str(config_file()), "store_dirs": [str(d) for d in dirs]})
        return EXIT_OK
    out = _stdout()
    for d in dirs:
        origin = f"data dir (${DATA_ENV})" if d == data_dir() else f"from {config_file()}"
        state = "" if d.is_dir() else " [missing]"
        out.print(f"{d}{state}  {origin}", soft_wrap=True)
    return EXIT_OK


# -- show ---------------------------------------------------------------------


def _show(spec: str, *, as_json: bool) -> int:
    from ..api.replay_stores import collection_note, describe_store
    from .common import store_errors

    with store_errors():
        s = describe_store(spec)
    if as_json:
        d = asdict(s)
        d["intervals"] = list(s.intervals)
        _write_json(d)
        return EXIT_OK
    out = _stdout()
    branches = (
        str(s.n_branches_max)
        if s.n_branches_min == s.n_branches_max
        else f"{s.n_branches_min}–{s.n_branches_max}"
    )
    table = new_table(out, title=s.name)
    table.show_header = False
    table.add_column("key", style="bold")
    table.add_column("value")
    rows = [
        ("source", s.source),
        ("synthetic", "yes — numbers are not comparable to AutoTTS's" if s.synthetic else "no"),
        ("content hash", s.content_hash),
        ("questions", str(s.n_questions)),
        ("branches / question", branches),
        ("probe interval", ", ".join(str(i) for i in s.intervals)),
        ("distinct answers", str(s.n_answers)),
        ("mean branch tokens", f"{s.mean_branch_tokens:,.0f}"),
        ("mean probes / branch", f"{s.mean_probes:.1f}"),
        ("probes past the trace end", f"{100 * s.share_probes_over:.1f} % of branches"),
        ("probes ≥ 1 interval short", f"{100 * s.share_probes_short:.1f} % of branches"),
        ("single-trace accuracy", f"{100 * s.trace_accuracy:.1f} %"),
        ("majority-of-all accuracy", f"{100 * s.majority_accuracy:.1f} %"),
    ]
    collected = collection_note(s)
    if collected:
        rows.append(("collected", collected))
    for key, value in rows:
        table.add_row(key, value)
    print_table(out, table)
    return EXIT_OK


# -- fetch --------------------------------------------------------------------


def fetch_exit_code(results: Sequence[FetchResult]) -> int:
    """2 if any file hit a network/I/O error, else 1 if any was invalid, else 0."""
    if any(r.status == "error" for r in results):
        return EXIT_USAGE
    if any(r.status == "invalid" for r in results):
        return EXIT_INVALID
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TransferSpeedColumn,
    )

    from ..api.replay_stores import fetch_autotts, store_base_url

    err = stderr_console()
    base = store_base_url(args.base_url)
    if not args.json:
        err.print(f"fetching AutoTTS stores from {base}", soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=rich_console(err),
        transient=True,
        disable=not err.is_terminal,
    )
    models = args.model or AUTOTTS_MODELS
    datasets = args.dataset or AUTOTTS_DATASETS
    n_files = len(models) * len(datasets)
    n_done = 0
    tasks: dict[str, TaskID] = {}

    def on_progress(name: str, done: int, total: int | None) -> None:
        task = tasks.get(name)
        if task is None:
            task = tasks[name] = progress.add_task(f"[{n_done + 1}/{n_files}] {name}", total=total)
        progress.update(task, completed=done, total=total)

    def on_result(result: FetchResult) -> None:
        nonlocal n_done
        n_done += 1
        task = tasks.pop(result.name, None)
        if task is not None:
            progress.remove_task(task)

    with progress:
        results = fetch_autotts(
            args.dest,
            base_url=base,
            models=models,
            datasets=datasets,
            timeout=args.timeout,
            progress=on_progress,
            on_result=on_result,
        )
    code = fetch_exit_code(results)
    if args.json:
        _write_json([{**asdict(r), "path": str(r.path), "ok": r.ok} for r in results])
        return code
    out = _stdout()
    marks = {
        "downloaded": styled("downloaded", "green"),
        "present": styled("present", "dim"),
        "invalid": styled("invalid", "bold red"),
        "error": styled("failed", "bold red"),
    }
    table = new_table(out)
    table.add_column("store", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for r in results:
        table.add_row(r.name, marks[r.status], _size(r.n_bytes or None))
    print_table(out, table)
    # Details on their own unwrapped lines: error messages stay greppable.
    for r in results:
        if r.message:
            out.print(f"{r.name}: {r.message}", soft_wrap=True)
    n_ok = sum(r.ok for r in results)
    dest = results[0].path.parent.parent if results else None
    out.print(f"{n_ok}/{len(results)} stores ok in {dest}", soft_wrap=True)
    if code:
        print_error(err, "some stores could not be fetched; nothing partial was written")
    return code
