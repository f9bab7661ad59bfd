"""Progress of long commands (`run`, `sweep`), on stderr.

On a terminal: a rich bar (spinner, description, bar, count, elapsed, ETA,
a note such as the last finished cell), user text never read as markup.
On a pipe or a log: no bar and no control codes, but a plain line every
`every` seconds, so a long job in a log shows it is alive; short jobs print
nothing.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .console import rich_console

if TYPE_CHECKING:
    from .console import Console


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressReporter:
    """`with ProgressReporter(console, unit="cells") as p: p.start(desc, total); p.update(n)`."""

    def __init__(
        self, console: Console, *, unit: str, transient: bool = True, every: float = 10.0
    ) -> None:
        self.console = console
        self.unit = unit
        self.every = every
        self.terminal = console.is_terminal
        self._bar: Any = None
        self._task: Any = None
        self._transient = transient
        self._description = ""
        self._total = 0
        self._completed = 0
        self._started = time.monotonic()
        self._last_line = self._started

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    # -- reporting ---------------------------------------------------------

    def start(self, description: str, total: int) -> None:
        """Begin (or re-label) the job: `total` units in all."""
        self._description = description
        self._total = total
        if not self.terminal:
            return
        if self._bar is None:
            self._bar = self._make_bar()
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, note="")
        else:
            self._bar.update(self._task, description=description, total=total)

    def update(self, completed: int, *, note: str = "", description: str | None = None) -> None:
        self._completed = completed
        if description is not None:
            self._description = description
        if self.terminal:
            if self._bar is not None:
                self._bar.update(
                    self._task, completed=completed, note=note, description=self._description
                )
            return
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._plain_line(note)

    def _plain_line(self, note: str) -> None:
        elapsed = time.monotonic() - self._started
        total = max(self._total, 1)
        pct = 100.0 * self._completed / total
        eta = ""
        if 0 < self._completed < self._total:
            eta = f", ~{_clock(elapsed * (self._total - self._completed) / self._completed)} left"
        line = (
            f"{self._description}: {self._completed:,}/{self._total:,} {self.unit} "
            f"({pct:.0f} %), {_clock(elapsed)} elapsed{eta}"
        )
        if note:
            line += f" · {note}"
        self.console.file.write(line + "\n")
        self.console.file.flush()

    def _make_bar(self) -> Any:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn(self.unit, markup=False),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}", markup=False, style="dim"),
            console=rich_console(self.console),
            transient=self._transient,
        )
