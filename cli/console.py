"""Consoles, styled text and tables for the CLI.

Two rules hold for every byte the CLI prints:

* user text is text: nothing is read as markup or emoji codes, so a path
  like `a[/]b.tts` or a name like `:x:` prints as written; styles come only
  from `Text` objects built here (`styled`, `error_text`, `dim`);
* a terminal gets rich tables laid out for its width (80 columns at least
  fit); a pipe or a log gets plain text: no box drawing, no wrapping, no
  trailing blanks, one row per line.

A pipe never needs rich, and importing it costs more than a whole `check`,
so plain output is written here: `Text` and `Table` are this module's own
and become rich objects (`__rich__`) only when a terminal prints them. A
`PlainConsole` hands anything else (progress bars, rich renderables) to a
rich console built on first use.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from typing import IO, TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from rich.console import Console as RichConsole
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

PLAIN_WIDTH = 10_000
"""The width a console without a terminal lays out for: nothing wraps."""

# What rich drops from text (bell, backspace, vertical tab, form feed, CR):
# plain output drops the same, so a pipe and a terminal show the same text.
_CONTROL = str.maketrans("", "", "\x07\x08\x0b\x0c\r")


def _clean(text: str) -> str:
    return text.translate(_CONTROL).expandtabs(8)


def cell_len(text: str) -> int:
    """Columns `text` takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    n = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


# -- styled text -------------------------------------------------------------


class Text:
    """Text in pieces, each with a rich style name used only on a terminal."""

    __slots__ = ("parts",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, style)] if text else []

    @classmethod
    def assemble(cls, *pieces: str | Text | tuple[str, str]) -> Text:
        out = cls()
        for piece in pieces:
            out.append(piece)
        return out

    def append(self, piece: str | Text | tuple[str, str], style: str = "") -> Text:
        if isinstance(piece, Text):
            self.parts.extend(piece.parts)
        elif isinstance(piece, tuple):
            self.parts.append(piece)
        elif piece:
            self.parts.append((piece, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)

    def __str__(self) -> str:
        return self.plain

    def __repr__(self) -> str:
        return f"Text({self.plain!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and self.parts == other.parts

    __hash__ = None  # type: ignore[assignment]  # mutable, like rich's

    def __rich__(self) -> RichText:
        from rich.text import Text as RichText

        return RichText.assemble(*self.parts)


Cell: TypeAlias = "str | Text"


def _plain(obj: object) -> str:
    return obj.plain if isinstance(obj, Text) else str(obj)


# -- tables ------------------------------------------------------------------


class _Column:
    __slots__ = ("header", "justify", "options")

    def __init__(self, header: str, justify: str, options: dict[str, Any]) -> None:
        self.header = header
        self.justify = justify
        self.options = options


class Table:
    """Rows of cells under column headers. Plain consoles lay it out here
    (two spaces between columns, nothing wraps); a terminal gets it as a
    rich table (`__rich__`) with the options given to `add_column`."""

    def __init__(
        self, *, title: str | None = None, caption: str | None = None, terminal: bool = False
    ) -> None:
        self.title = title
        self.caption = caption
        self.terminal = terminal
        self.show_header = True
        self.columns: list[_Column] = []
        self.rows: list[list[Cell]] = []
        self._sections: set[int] = set()  # row indices that end a section

    def add_column(self, header: str = "", *, justify: str = "left", **options: Any) -> None:
        self.columns.append(_Column(header, justify, options))

    def add_row(self, *cells: Cell) -> None:
        self.rows.append(list(cells))

    def add_section(self) -> None:
        if self.rows:
            self._sections.add(len(self.rows) - 1)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def plain_lines(self) -> list[str]:
        """The table as plain text lines, without trailing blanks."""
        grid: list[list[list[str]]] = []  # row -> column -> lines
        if self.show_header:
            grid.append([_clean(c.header).split("\n") for c in self.columns])
        for row in self.rows:
            cells = [_clean(_plain(c)).split("\n") for c in row]
            cells += [[""]] * (len(self.columns) - len(cells))
            grid.append(cells)
        widths = [
            max((cell_len(line) for r in grid for line in r[i]), default=0)
            for i in range(len(self.columns))
        ]
        lines: list[str] = []
        if self.title:
            lines.append(_clean(self.title))
        for r in grid:
            for k in range(max((len(c) for c in r), default=1)):
                out = []
                for i, col in enumerate(self.columns):
                    text = r[i][k] if k < len(r[i]) else ""
                    out.append(_justify(text, widths[i], col.justify))
                lines.append("  ".join(out).rstrip())
        if self.caption:
            lines.append(_clean(self.caption))
        return lines

    def __rich__(self) -> RichTable:
        from rich import box
        from rich.table import Table as RichTable

        common: dict[str, Any] = {
            "title": self.title,
            "caption": self.caption,
            "title_justify": "left",
            "caption_justify": "left",
            "pad_edge": False,
            "show_edge": False,
            "show_header": self.show_header,
        }
        if self.terminal:
            table = RichTable(
                **common,
                box=box.SIMPLE_HEAD,
                padding=(0, 1, 0, 0),  # with the box's blank divider: two spaces between columns
            )
        else:
            table = RichTable(
                **common,
                box=None,
                header_style="",
                title_style="",
                caption_style="",
                padding=(0, 1),
            )
        for col in self.columns:
            table.add_column(col.header, justify=col.justify, **col.options)  # type: ignore[arg-type]
        for i, row in enumerate(self.rows):
            table.add_row(*(c.__rich__() if isinstance(c, Text) else c for c in row))
            if i in self._sections:
                table.add_section()
        return table


def _justify(text: str, width: int, how: str) -> str:
    pad = width - cell_len(text)
    if pad <= 0:
        return text
    if how == "right":
        return " " * pad + text
    if how == "center":
        return " " * (pad // 2) + text + " " * (pad - pad // 2)
    return text + " " * pad


# -- consoles ----------------------------------------------------------------


class PlainConsole:
    """A console for a pipe or a log: writes plain text to `sys.stdout` or
    `sys.stderr` as they are at each write (so redirection and test capture
    work). Anything it does not know goes to a plain rich console."""

    is_terminal = False
    width = PLAIN_WIDTH

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr
        self._rich: RichConsole | None = None

    @property
    def file(self) -> IO[str]:
        return sys.stderr if self.stderr else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **_options: Any) -> None:
        if not all(isinstance(o, (str, Text, Table, int, float)) for o in objects):
            self.rich().print(*objects, sep=sep, end=end, **_options)
            return
        pieces = []
        for o in objects:
            if isinstance(o, Table):
                pieces.append("\n".join(o.plain_lines()))
            else:
                pieces.append(_clean(_plain(o)))
        f = self.file
        f.write(sep.join(pieces) + end)
        f.flush()

    def rich(self) -> RichConsole:
        """The rich console this one stands for (built on first use)."""
        if self._rich is None:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(
                file=self.file,
                markup=False,
                emoji=False,
                highlight=False,
                width=PLAIN_WIDTH,
                soft_wrap=True,
            )
        self._rich.file = self.file
        return self._rich

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich(), name)


Console: TypeAlias = "RichConsole | PlainConsole"


def rich_console(console: Console) -> RichConsole:
    """A rich console for what needs one (progress bars)."""
    return console.rich() if isinstance(console, PlainConsole) else console


def _is_terminal(stream: IO[str]) -> bool:
    # The same tests rich makes, so both agree on where styles go.
    if "ipykernel" in sys.modules:
        return False
    tty = os.environ.get("TTY_COMPATIBLE", "")
    if tty in ("0", "1"):
        return tty == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stderr: bool) -> Console:
    if not _is_terminal(sys.stderr if stderr else sys.stdout):
        return PlainConsole(stderr)
    from rich.console import Console as RichConsole

    return RichConsole(stderr=stderr, markup=False, emoji=False, highlight=False)


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
    return Table(title=title, caption=caption, terminal=console.is_terminal)


def print_table(console: Console, table: Table) -> None:
    """Print a table; plain consoles get no trailing blanks."""
    if isinstance(console, PlainConsole) or console.is_terminal:
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
