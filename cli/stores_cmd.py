"""`tts-dsl stores`: list, inspect and fetch replay stores.

    tts-dsl stores [list] [--json]
    tts-dsl stores show NAME_OR_PATH [--json]
    tts-dsl stores fetch autotts [--base-url URL] [--dest DIR] [--json]

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
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..replay.registry import (
    AUTOTTS_DATASETS,
    AUTOTTS_MODELS,
    DATA_ENV,
    STORE_URL_ENV,
    FetchResult,
    StoreInfo,
    StoreUnavailable,
    collected_summary,
    data_dir,
    fetch_autotts,
    list_stores,
    resolve_store,
    store_base_url,
    summarize_store,
)
from ..replay.store import StoreError
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stores",
        help="list, inspect and fetch replay stores",
        description="List, inspect and fetch replay stores. Without an action: list.",
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
    return _list(as_json=args.json)


def _stdout() -> Console:
    # Built per call so that output follows the current sys.stdout (tests).
    return Console(file=sys.stdout, highlight=False)


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
    infos = list_stores()
    if as_json:
        _write_json({"data_dir": str(data_dir()), "stores": [_info_json(i) for i in infos]})
        return EXIT_OK
    out = _stdout()
    table = Table(
        title="Replay stores",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption="Q×B: questions × branches",
    )
    table.add_column("store", no_wrap=True)
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
            escape(info.name),
            kind,
            f"[{styles.get(info.status, '')}]{status}[/]",
            shape,
            _size(info.size_bytes),
        )
    out.print(table)
    out.print(f"data dir: {data_dir()}  (set ${DATA_ENV} to change)", markup=False, soft_wrap=True)
    for info in infos:
        if info.collected:
            out.print(f"{info.name}: {info.collected}", markup=False, soft_wrap=True)
    for info in infos:
        if info.error:
            out.print(
                f"invalid: {info.path}: {info.error}", markup=False, style="red", soft_wrap=True
            )
    missing = sum(1 for i in infos if i.kind == "autotts" and not i.present)
    if missing:
        out.print(
            f"{missing} AutoTTS store(s) missing: run `tts-dsl stores fetch autotts`. "
            "The default store is synthetic: its numbers are not comparable to AutoTTS's.",
            markup=False,
        )
    return EXIT_OK


# -- show ---------------------------------------------------------------------


def _show(spec: str, *, as_json: bool) -> int:
    try:
        store = resolve_store(spec)
    except StoreUnavailable as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except StoreError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    s = summarize_store(store)
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
    table = Table(show_header=False, box=None, title=f"{s.name}", title_justify="left")
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
    collected = collected_summary(Path(s.source)) if s.source else None
    if collected:
        rows.append(("collected", collected))
    for key, value in rows:
        table.add_row(key, value)
    out.print(table, markup=False)
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
    err = Console(stderr=True, highlight=False)
    base = store_base_url(args.base_url)
    if not args.json:
        err.print(f"fetching AutoTTS stores from {base}", markup=False, soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
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
            label = escape(f"[{n_done + 1}/{n_files}] {name}")
            task = tasks[name] = progress.add_task(label, total=total)
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
        "downloaded": "[green]downloaded[/]",
        "present": "[dim]present[/]",
        "invalid": "[bold red]invalid[/]",
        "error": "[bold red]failed[/]",
    }
    table = Table(title_justify="left")
    table.add_column("store", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for r in results:
        table.add_row(escape(r.name), marks[r.status], _size(r.n_bytes or None))
    out.print(table)
    # Details on their own unwrapped lines: error messages stay greppable.
    for r in results:
        if r.message:
            out.print(f"{r.name}: {r.message}", markup=False, soft_wrap=True)
    n_ok = sum(r.ok for r in results)
    dest = results[0].path.parent.parent if results else None
    out.print(f"{n_ok}/{len(results)} stores ok in {dest}", markup=False, soft_wrap=True)
    if code:
        err.print(
            "[bold red]error:[/] some stores could not be fetched; nothing partial was written",
            markup=True,
        )
    return code
