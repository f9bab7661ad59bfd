"""Wiring and presentation for `collect`, `store` and `serve-replay`: argument
values become library calls (autotts_dsl/live), library errors become
one-line CLI errors, results become tables. Imported only when one of those
commands runs."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..api import live
from ..api.live import (
    CollectError,
    CollectSettings,
    EquivalenceUnavailable,
    JournalError,
    ModelServer,
    PromptError,
    QuestionItem,
    QuestionsError,
    Rule,
    Sampling,
    ServerError,
)
from .console import Console, rich_console, stderr_console, stdout_console
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..api.live import Collected, CollectProgress


def _out() -> Console:
    return stdout_console()  # no markup: names and paths print as written


def _err() -> Console:
    return stderr_console()


@contextmanager
def library_errors() -> Iterator[None]:
    """Library failures as one-line CLI errors (I/O and servers: 2; data: 1).
    The CLI prints messages without markup, so `[live]` in `pip install
    'tts-dsl[live]'` stays as written."""
    try:
        yield
    except QuestionsError as exc:
        text = str(exc)
        code = EXIT_USAGE if "no such file" in text or "cannot read" in text else EXIT_INVALID
        raise CliError(text, code) from None
    except (
        ServerError,
        CollectError,
        JournalError,
        PromptError,
        EquivalenceUnavailable,
        ValueError,
    ) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _positive(name: str, value: int) -> int:
    if value < 1:
        raise CliError(f"{name} must be at least 1, got {value}", EXIT_USAGE)
    return value


def settings_from_args(
    args: argparse.Namespace, *, load: bool = True
) -> tuple[CollectSettings, list[QuestionItem]]:
    extra: dict[str, Any] = {}
    if getattr(args, "extra", None):
        try:
            extra = json.loads(args.extra)
        except json.JSONDecodeError as exc:
            raise CliError(f"--extra: not JSON ({exc.msg})", EXIT_USAGE) from None
        if not isinstance(extra, dict):
            raise CliError("--extra must be a JSON object", EXIT_USAGE)
    with library_errors():
        template = live.chat_template(args.chat_template)
        questions = live.load_questions(args.questions) if load else []
    probe_suffix = live.DEFAULT_PROBE_SUFFIX if args.probe_suffix is None else args.probe_suffix
    if not probe_suffix:
        raise CliError(
            "--probe-suffix must not be empty (it tells a probe from a continuation)", EXIT_USAGE
        )
    settings = CollectSettings(
        model=args.model or "",
        n=_positive("--n", getattr(args, "n", 1)),
        interval=_positive("--interval", args.interval),
        sampling=Sampling(
            temperature=getattr(args, "temperature", 0.6),
            top_p=getattr(args, "top_p", 0.95),
            max_tokens=_positive("--max-tokens", getattr(args, "max_tokens", 32768)),
            extra=tuple(sorted(extra.items())),
        ),
        seed=getattr(args, "seed", 0),
        prompt_template=args.prompt_template or live.DEFAULT_PROMPT_TEMPLATE,
        chat_template=template,
        chat_template_name=args.chat_template,
        probe_suffix=probe_suffix,
        probe_max_tokens=_positive("--probe-max-tokens", args.probe_max_tokens),
        marker=args.reasoning_marker,
        concurrency=_positive("--concurrency", args.concurrency),
        probe_batch=_positive("--probe-batch", getattr(args, "probe_batch", 8)),
    )
    if "{question}" not in settings.prompt_template:
        raise CliError("--prompt-template needs a {question} placeholder", EXIT_USAGE)
    return settings, questions


# -- dry run --------------------------------------------------------------------


def dry_run(
    settings: CollectSettings, questions: list[QuestionItem], args: argparse.Namespace
) -> dict[str, Any]:
    with library_errors():
        return live.collection_plan(
            settings, questions, args.out, journal=args.journal, expect_tokens=args.expect_tokens
        )


def print_plan(doc: dict[str, Any]) -> None:
    from rich.table import Table

    out = _out()
    out.print(
        f"dry run: {doc['questions']} questions × {doc['traces_per_question']} traces, interval "
        f"{doc['interval']} tokens, max {doc['max_tokens']:,} tokens per trace; nothing is sent",
        markup=False,
    )
    table = Table(box=None)
    table.add_column("")
    table.add_column("at most", justify="right")
    has_exp = "expected" in doc
    if has_exp:
        table.add_column(
            f"traces of {doc['expected']['mean_trace_tokens']:,} tokens", justify="right"
        )
    most = doc["at_most"]
    exp = doc.get("expected", {})
    rows = [
        ("trace requests", doc["trace_requests"], doc["trace_requests"]),
        ("probes", most["probes"], exp.get("probes")),
        (
            f"probe requests ({doc['probe_batch']} per request)",
            most["probe_requests"],
            exp.get("probe_requests"),
        ),
        ("requests", most["requests"], exp.get("requests")),
        ("completion tokens", most["completion_tokens"], exp.get("completion_tokens")),
        (
            "probe prompt tokens"
            + (" (≈, 4 chars/token)" if doc["prompt_tokens_estimated"] else ""),
            most["probe_prompt_tokens"],
            exp.get("probe_prompt_tokens"),
        ),
    ]
    for name, a, b in rows:
        cells = [name, f"{a:,}"]
        if has_exp:
            cells.append(f"{b:,}" if b is not None else "")
        table.add_row(*cells)
    out.print(table)
    if doc["already_in_journal"]:
        out.print(
            f"{doc['already_in_journal']} traces are already in the journal and are not counted",
            markup=False,
        )
    out.print(
        "probe prompt tokens repeat each trace's prefix; with vLLM's prefix cache only the new "
        "interval and the suffix are computed per probe",
        markup=False,
    )


# -- collect -------------------------------------------------------------------


class _Bar:
    """A rich progress display fed by the collector's Progress snapshots."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=rich_console(console),
            transient=False,
            disable=not console.is_terminal,
        )
        self.traces = self.progress.add_task("traces", total=None, rate="")
        self.probes = self.progress.add_task("probes", total=None, rate="")

    def __call__(self, state: CollectProgress) -> None:
        elapsed = max(1e-9, time.monotonic() - state.started)
        rate = f"{state.tokens / elapsed:,.0f} tok/s"
        self.progress.update(
            self.traces, completed=state.traces_done, total=state.traces_total, rate=rate
        )
        # Probes of traces not received yet are unknown: estimate them at the mean so far.
        per = state.probes_known / state.traces_done if state.traces_done else 0
        total = max(state.probes_known, round(per * state.traces_total))
        self.progress.update(self.probes, completed=state.probes_done, total=total or None, rate="")


def rule_named(name: str) -> Rule:
    with library_errors():
        return live.equivalence(name)


def model_server(args: argparse.Namespace, api_key: str | None) -> ModelServer:
    with library_errors():
        return live.connect(
            args.server,
            args.model,
            api_key=api_key,
            timeout=args.timeout,
            retries=args.retries,
            backoff=args.backoff,
        )


def run_collect(
    args: argparse.Namespace,
    settings: CollectSettings,
    questions: list[QuestionItem],
    *,
    api_key: str | None,
) -> Collected:
    # Before any request: a missing extra fails now, not at the end.
    rule = rule_named(args.equivalence)
    server = model_server(args, api_key)
    err = _err()
    bar = _Bar(err)
    try:
        with bar.progress, library_errors():
            result = live.collect(
                server,
                settings,
                questions,
                args.out,
                rule=rule,
                tokens=args.tokens,
                journal=args.journal,
                progress=bar,
            )
    except KeyboardInterrupt:
        # Everything received is committed; requests still in flight would only
        # keep the process alive (their worker threads are joined at exit).
        journal = args.journal or live.collect_journal_path(args.out)
        err.print(f"interrupted: what arrived is in {journal}; re-run to resume", markup=False)
        sys.stderr.flush()
        os._exit(130)
    stats = server.client.stats
    if stats.retries:
        kinds = ", ".join(f"{k} ×{v}" for k, v in sorted(stats.failures.items()))
        err.print(f"{stats.retries} request(s) retried ({kinds})", markup=False)
    return result


def print_collected(result: Collected) -> None:
    meta = result.meta
    cost = meta["cost"]
    out = _out()
    out.print(
        f"wrote {result.path}: {meta['questions']} questions × {meta['n']} traces, "
        f"{cost['completion_tokens']:,} completion tokens and {cost['prompt_tokens']:,} prompt "
        "tokens "
        f"in {cost['trace_requests'] + cost['probe_requests']:,} requests ({result.mode} mode); "
        f"{meta['equivalence']['merged_strings']} answer strings interned as equivalent "
        f"({meta['equivalence']['rule']})",
        markup=False,
    )
    out.print(f"metadata: {result.path}.meta", markup=False)


# -- serve-replay ----------------------------------------------------------------


def serve_replay(args: argparse.Namespace) -> int:
    from .common import store_errors

    try:
        with store_errors():
            server = live.serve_replay(
                args.store,
                host=args.host,
                port=args.port,
                model_name=args.model,
                faults=args.faults,
                fault_seed=args.fault_seed,
                hang_seconds=args.hang_seconds,
                token_latency=args.token_latency / 1000.0,
                tokenize_endpoint=not args.no_tokenize,
            )
    except live.FaultSpecError as exc:
        raise CliError(f"--faults: {exc}", EXIT_USAGE) from None
    except live.ReplayModelError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    except OSError as exc:
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    store = server.store
    if args.port_file:
        from ..io_atomic import atomic_write_text

        atomic_write_text(args.port_file, str(server.httpd.server_address[1]))
    _err().print(
        f"serving {store.name} as model {server.model_name!r} at {server.url}", markup=False
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return EXIT_OK


# -- store build / inspect / merge ---------------------------------------------------


def store_action(args: argparse.Namespace) -> int:
    if args.store_action == "inspect":
        return _inspect(args)
    if args.store_action == "merge":
        return _merge(args)
    return _build(args)


def _load(spec: str) -> Any:
    from ..api.replay_stores import open_store
    from .common import store_errors

    with store_errors():
        return open_store(spec)


def _inspect(args: argparse.Namespace) -> int:
    from rich.table import Table

    store = _load(args.store)
    report = live.inspect_store(store)
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
        return EXIT_OK
    out = _out()
    q = report.length_quantiles
    passes = "  ".join(f"pass@{k} {100 * v:.1f} %" for k, v in report.pass_at.items())
    out.print(f"{store.name}: {len(report.questions)} questions", markup=False)
    out.print(
        f"majority of all traces {100 * report.majority_accuracy:.1f} %   {passes}", markup=False
    )
    out.print(
        f"trace tokens: mean {report.mean_tokens:,.0f}, min {q['min']:,}, p10 {q['p10']:,}, "
        f"median {q['p50']:,}, p90 {q['p90']:,}, max {q['max']:,}; no final answer in "
        f"{100 * report.none_final_share:.1f} % of traces",
        markup=False,
    )
    out.print(
        f"probes: {report.mean_probes:.1f} per trace; past the trace end in "
        f"{100 * report.share_probes_over:.1f} %, ≥ 1 interval short in "
        f"{100 * report.share_probes_short:.1f} %",
        markup=False,
    )
    table = Table(title="probe answers by depth", title_justify="left", box=None)
    for col_name in ("depth", "traces", "= final answer", "= gold", "no answer"):
        table.add_column(col_name, justify="right")
    for d in report.convergence:
        table.add_row(
            str(d.depth),
            str(d.branches),
            f"{100 * d.final_share:.1f} %",
            f"{100 * d.gold_share:.1f} %",
            f"{100 * d.none_share:.1f} %",
        )
    out.print(table)
    if args.questions:
        qt = Table(title="questions", title_justify="left", box=None)
        for col_name in (
            "#",
            "traces",
            "correct",
            "majority",
            "ok",
            *[f"pass@{k}" for k in report.pass_at],
            "mean tokens",
        ):
            qt.add_column(col_name, justify="right")
        for s in report.questions:
            qt.add_row(
                str(s.index),
                str(s.branches),
                str(s.correct),
                (s.majority or "")[:20],
                "yes" if s.majority_correct else "no",
                *[f"{100 * s.pass_at[k]:.0f} %" for k in report.pass_at],
                f"{s.mean_tokens:,.0f}",
            )
        out.print(qt)
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    stores = [_load(s) for s in args.stores]
    try:
        with library_errors():
            merged = live.merge_stores(stores, args.out, rule=args.equivalence)
    except live.MergeError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    written, name = merged.written, merged.rule
    if args.json:
        sys.stdout.write(json.dumps(written, indent=2) + "\n")
    else:
        _out().print(
            f"wrote {args.out}: {written['questions']} questions, {written['branches']} traces "
            f"from {len(stores)} stores ({name})",
            markup=False,
        )
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    import os

    settings, _ = settings_from_args(args, load=False)
    rule = rule_named(args.equivalence)
    server = None
    if args.server:
        if not args.model:
            raise CliError("--server needs --model", EXIT_USAGE)
        server = model_server(args, os.environ.get(args.api_key_env))
    try:
        with library_errors():
            result = live.build_store(
                args.traces,
                args.out,
                settings,
                rule=rule,
                server=server,
                tokens=args.tokens,
                journal=args.journal,
            )
    except live.BuildError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None
    if args.json:
        sys.stdout.write(json.dumps({"store": result.path, "meta": result.meta}, indent=2) + "\n")
    else:
        m = result.meta
        _out().print(
            f"wrote {result.path}: {m['questions']} questions, {m['branches']} traces", markup=False
        )
    return EXIT_OK
