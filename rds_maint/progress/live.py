"""The one status line a terminal shows while the engine waits, or the log line per look off a terminal.

On a terminal the line is redrawn in place: cleared first (carriage return, erase to end of line),
cut to the terminal's width so it never wraps (a wrapped line cannot be cleared and leaves fragments),
and cleared again before any other output. Off a terminal (a pipe, a CI log) nothing is redrawn:
each look is one line of its own.
"""

from __future__ import annotations

import shutil
import sys

import click

__all__ = ["CLEAR", "LiveLine", "stdout_is_terminal"]

CLEAR = "\r\033[K"


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


class LiveLine:
    def __init__(self, on_terminal: bool) -> None:
        self.on_terminal = on_terminal
        self._shown = False

    def show(self, text: str) -> None:
        """Redraw the status line (a terminal only)."""
        if not self.on_terminal:
            return
        # One column short of the width: some terminals wrap as soon as the last column is written.
        width = max(shutil.get_terminal_size().columns - 1, 10)
        if len(text) > width:
            text = text[: width - 3] + "..."
        click.echo(CLEAR + text, nl=False, color=True)  # keep the erase code: click strips it off a tty
        self._shown = True

    def log(self, text: str) -> None:
        """A look, as a line of its own off a terminal (on a terminal the status line says it)."""
        if not self.on_terminal:
            click.echo(text)

    def clear(self) -> None:
        """Before any other output: the status line goes, the next output starts at column 0."""
        if self._shown:
            click.echo(CLEAR, nl=False, color=True)
            self._shown = False
