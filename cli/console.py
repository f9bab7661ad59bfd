"""Consoles and tables for the CLI.

Two rules hold for every byte the CLI prints:

* user text is text: consoles are built with markup and emoji codes off, so
  a path like `a[/]b.tts` or a name like `:x:` prints as written; styles
  come only from `Text` objects built here (`styled`, `error_text`);
* a terminal gets rich tables laid out for its width (80 columns at least
  fit); a pipe or a log gets plain text: no box drawing, no wrapping, no
  trailing blanks, one row per line.

Only rich's console and text are imported here; tables load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import Table

PLAIN_WIDTH = 10_000
"""The width a console without a terminal lays out for: nothing wraps."""


def _console(stderr: bool) -> Console:
    probe = Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(
        stderr=stderr, markup=False, emoji=False, highlight=False, width=PLAIN_WIDTH, soft_wrap=True
    )


def stdout_console() -> Console:
    """Results: tables, summaries (follows `sys.stdout` as it is at the call)."""
    return _console(stderr=False)


def stderr_console() -> Console:
    """Diagnostics, errors, progress."""
    return _console(stderr=True)


def styled(text: str, style: str = "") -> Text:
    """`text` exactly as given, in `style` (on a terminal)."""
    return Text(text, style=style)


def error_text(message: str) -> Text:
    return Text.assemble(("error:", "bold red"), " ", message)


def print_error(console: Console, message: str) -> None:
    console.print(error_text(message), soft_wrap=True)


def dim(text: str) -> Text:
    return Text(text, style="dim")


def new_table(console: Console, *, title: str | None = None, caption: str | None = None) -> Table:
    """A table styled for where it is going (see the module doc)."""
    from rich import box
    from rich.table import Table

    if console.is_terminal:
        return Table(
            title=title,
            caption=caption,
            title_justify="left",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            padding=(0, 1, 0, 0),  # with the box's blank divider: two spaces between columns
        )
    return Table(
        title=title,
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=None,
        pad_edge=False,
        show_edge=False,
        header_style="",
        title_style="",
        caption_style="",
        padding=(0, 1),
    )


def print_table(console: Console, table: Any) -> None:
    """Print a table (or any renderable); plain consoles get no trailing blanks."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as capture:
        console.print(table)
    lines = [line.rstrip() for line in capture.get().split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def write_plain(console: Console, text: str) -> None:
    """Pre-rendered text (diagnostics) written as it is, never re-wrapped."""
    console.file.write(text if text.endswith("\n") else text + "\n")
    console.file.flush()
