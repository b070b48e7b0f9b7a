"""The progress line: drawn only on a terminal, rewritten in place, erased before other output."""

from __future__ import annotations

import io
import itertools
import sys
import time

import pytest

from pgaudit_kit.core.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_written_where_nobody_watches() -> None:
    stream = io.StringIO()  # a pipe or a file: isatty() is False
    with Progress(stream) as progress:
        progress.show("sealed 10 events", force=True)
        progress.clear()
    assert stream.getvalue() == ""


def test_a_terminal_gets_one_line_redrawn_in_place_and_erased_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal()
    clock = itertools.chain([0.0, 0.0, 0.05, 0.5, 0.5], itertools.repeat(0.5))  # anything else reads 0.5 after
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    with Progress(stream) as progress:  # started at 0.0
        progress.show("a")  # 0.0: drawn
        progress.show("b")  # 0.05: too soon, skipped
        progress.show("c")  # 0.5: drawn
        progress.show("d", force=True)  # forced: drawn whatever the time
    assert stream.getvalue() == "\ra\x1b[K\rc\x1b[K\rd\x1b[K\r\x1b[K"


def test_clear_only_erases_a_line_that_was_drawn() -> None:
    stream = Terminal()
    progress = Progress(stream)
    progress.clear()
    assert stream.getvalue() == ""
    progress.show("x", force=True)
    progress.clear()
    progress.clear()
    assert stream.getvalue() == "\rx\x1b[K\r\x1b[K"


def test_output_written_in_pieces_to_the_same_terminal_gets_no_progress_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", Terminal())
    stream = Terminal()
    Progress(stream, unless_stdout_is_a_terminal=True).show("x", force=True)
    assert stream.getvalue() == ""
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # stdout redirected to a file: progress on stderr
    Progress(stream, unless_stdout_is_a_terminal=True).show("x", force=True)
    assert stream.getvalue() == "\rx\x1b[K"
