"""Exit codes and the one exception type the CLI turns into them."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1  # the program or the data is wrong
EXIT_USAGE = 2  # bad usage, or an I/O problem


class CliError(Exception):
    """A failure the user can act on: printed as one line, never a traceback."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code
