"""A progress line for long operations: on a terminal only, on stderr, rewritten in place.

Long operations (`seal` of a backlog, `reconcile`, `verify`) show how far they are when a person watches them,
and stay silent where nobody does (pipes, files, cron mail, CI logs), so their output there is exactly the
report. Hand-written rather than a progress-bar library: one status line needs a carriage return and an
erase-to-end-of-line, and the core install stays lean.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

# seconds between redraws: often enough to look alive, rarely enough to cost nothing
REDRAW_EVERY = 0.2


class Progress:
    """``show(text)`` redraws the line (at most every REDRAW_EVERY s unless *force*), ``clear()`` erases it
    before other output goes to the terminal; as a context manager it erases the line at the end."""

    def __init__(self, stream: TextIO | None = None, *, unless_stdout_is_a_terminal: bool = False) -> None:
        """*unless_stdout_is_a_terminal*: for output written in pieces (a JSON document), which a progress line on
        the same terminal would break up; shown then only when stdout goes elsewhere (a file, a pipe)."""
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() and not (unless_stdout_is_a_terminal and sys.stdout.isatty())
        self.started = time.monotonic()
        self._drawn_at: float | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self, done: int) -> float:
        """Per second, since the start."""
        return done / max(self.elapsed, 1e-6)

    def show(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_EVERY:
            return
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self._drawn_at = now

    def clear(self) -> None:
        if self._drawn_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn_at = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.clear()
