"""Argument parsing and loading shared by the subcommands.

Imports of the engine stay inside the functions that need them, so that a
command's `--help` (and `check`) loads no more than it uses.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..api.execution import BACKENDS, EXECUTORS
from .console import stderr_console, write_plain
from .errors import EXIT_INVALID, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..api.execution import Executor
    from ..api.programs import Diagnostic, Program, ProgramError
    from ..api.replay_stores import ReplayStore

BACKEND_CHOICES = BACKENDS
"""The engines `--backend` accepts (`autotts_dsl.api.execution`, which imports nothing heavy)."""

EXECUTOR_CHOICES = EXECUTORS
"""`--executor`: local or ray."""

USAGE_CODES = frozenset({"E107"})
"""Diagnostics about the command line rather than the program (`--param`
names and values): a usage error, exit 2, in every command."""

__all__ = [
    "BACKEND_CHOICES",
    "EXECUTOR_CHOICES",
    "add_backend_argument",
    "add_executor_arguments",
    "add_store_argument",
    "cluster_executor",
    "compile_or_exit",
    "diagnostics_exit_code",
    "int_at_least",
    "load_program_or_exit",
    "load_stores",
    "load_stores_with_specs",
    "parse_beta",
    "parse_params",
    "parse_seeds",
    "print_diagnostics",
    "stderr_console",
    "store_errors",
]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type` for an int >= minimum (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return n

    return parse


def parse_seeds(text: str | None) -> tuple[int, ...]:
    """`100` → seeds 0..99; `5:10` → 5..9; default: the protocol's 100."""
    if text is None:
        from ..api.evaluation import DEFAULT_SEEDS

        return DEFAULT_SEEDS
    try:
        if ":" in text:
            lo, hi = (int(x) for x in text.split(":", 1))
            seeds = tuple(range(lo, hi))
        else:
            seeds = tuple(range(int(text)))
    except ValueError:
        raise CliError(f"--seeds {text!r}: expected N or START:STOP", EXIT_USAGE) from None
    if not seeds:
        raise CliError(f"--seeds {text!r} selects no seed", EXIT_USAGE)
    return seeds


def parse_beta(text: str) -> float:
    try:
        beta = float(text)
    except ValueError:
        raise CliError(f"--beta {text!r} is not a number", EXIT_USAGE) from None
    if not 0.0 <= beta <= 1.0:
        raise CliError(f"--beta {beta} is outside [0, 1]", EXIT_USAGE)
    return beta


def parse_params(items: Sequence[str] | None) -> dict[str, str]:
    """`--param k=v` (repeatable) → {k: 'v'}; values are typed by the program."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param {item!r}: expected NAME=VALUE", EXIT_USAGE)
        out[key.strip()] = value.strip()
    return out


def diagnostics_exit_code(diagnostics: Iterable[Diagnostic]) -> int:
    """2 when every error is about the command line (`--param`), else 1."""
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors and all(d.code in USAGE_CODES for d in errors):
        return EXIT_USAGE
    return EXIT_INVALID


def load_program_or_exit(spec: str) -> Program:
    from ..api.programs import ProgramError, ProgramNotFound, load

    try:
        return load(spec)
    except ProgramNotFound as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"{spec}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    except ProgramError as exc:
        print_diagnostics(exc)
        raise CliError(f"{exc.path}: {len(exc.diagnostics)} error(s); nothing was run") from None


def print_diagnostics(exc: ProgramError) -> None:
    """Rendered diagnostics on stderr, the stream every command uses for them."""
    write_plain(stderr_console(), exc.render() + "\n")


def load_stores(specs: Sequence[str] | None) -> list[ReplayStore]:
    """Stores named on the command line (files, directories, registry names),
    or the embedded default store when none is given."""
    return [store for _, store in load_stores_with_specs(specs)]


def load_stores_with_specs(specs: Sequence[str] | None) -> list[tuple[str, ReplayStore]]:
    """`load_stores`, each with the spec a worker resolves it by."""
    from ..api.replay_stores import open_stores

    with store_errors():
        return open_stores(specs)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """A store that is not there is a usage error (exit 2); one that is
    there but invalid, a data error (exit 1)."""
    from ..api.replay_stores import StoreError, StoreUnavailable

    try:
        yield
    except StoreUnavailable as exc:
        raise CliError(str(exc), EXIT_USAGE) from None  # not there: usage or I/O
    except StoreError as exc:
        raise CliError(str(exc), EXIT_INVALID) from None  # there, but not a valid store


def compile_or_exit(program: Program, beta: float, params: dict[str, Any]) -> dict[str, Any]:
    """The program's param and knob values at β (what `Program.constants`
    gives), or its diagnostics on stderr and an exit."""
    from ..api.programs import ProgramError

    try:
        return program.constants(beta, params)
    except ProgramError as exc:
        print_diagnostics(exc)
        raise CliError(
            f"{program.path}: {len(exc.diagnostics)} error(s); nothing was run",
            diagnostics_exit_code(exc.diagnostics),
        ) from None


def add_store_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-s",
        "--store",
        action="extend",
        nargs="+",
        metavar="STORE",
        help="store files, directories of stores, or store names such as "
        "autotts/Qwen3-8B/aime24 (looked up in the data directory and the directories "
        "`tts-dsl stores add` registered; `tts-dsl stores` lists them); several after one "
        "--store, or --store repeated. Default: the embedded synthetic store",
    )


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default=None,
        help="engine (all give identical results): vm (the virtual machine, native speed), "
        "reference (the interpreter), auto (the VM when it covers the program, else the "
        "reference). Default: $TTS_DSL_BACKEND or auto. --trace always uses the reference",
    )


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--executor",
        choices=EXECUTOR_CHOICES,
        default="local",
        help="where the cells run: local (worker processes on this machine, the default) or "
        "ray (tasks on a Ray cluster; pip install 'tts-dsl[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="auto|HOST:PORT",
        help="with --executor ray: the cluster to join (auto: the one running on this "
        "machine). Default: $RAY_ADDRESS, else a new Ray instance here sized by --jobs",
    )


@contextlib.contextmanager
def cluster_executor(
    args: argparse.Namespace, jobs: int, *, initializer: Callable[[], None] | None = None
) -> Iterator[Executor | None]:
    """The Ray executor `--executor ray` asks for (closed on exit), or None
    for the local default (the command runs its own pool). Ray's failures —
    not installed, unreachable, a node with other code — become one-line
    errors with exit 2."""
    kind = getattr(args, "executor", "local")
    address = getattr(args, "ray_address", None)
    if kind == "local":
        if address is not None:
            raise CliError("--ray-address needs --executor ray", EXIT_USAGE)
        yield None
        return
    from ..api.execution import ExecutorError, open_executor  # multiprocessing: only here

    try:
        executor = open_executor(kind, jobs, address=address, initializer=initializer)
    except ExecutorError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        yield executor
    except ExecutorError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    finally:
        executor.close()
