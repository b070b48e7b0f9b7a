"""Long-running pgaudit-kit commands (watch, alerts) as real subprocesses, and waiting on what they do."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest


class KitProcess:
    """``python -m pgaudit_kit --dsn DSN COMMAND ARGS...`` with its stderr kept, line by line."""

    def __init__(self, dsn: str, command: str, *args: str, stdout: Any = subprocess.DEVNULL,
                 env: Mapping[str, str] | None = None) -> None:
        self.command = command
        self.proc = subprocess.Popen([sys.executable, "-m", "pgaudit_kit", "--dsn", dsn, command, *args],
                                     stdout=stdout, stderr=subprocess.PIPE, env=env)
        self.stderr: list[str] = []
        assert self.proc.stderr is not None
        stream = self.proc.stderr
        threading.Thread(target=lambda: self.stderr.extend(line.decode() for line in stream), daemon=True).start()

    def wait_for_note(self, needle: str, timeout: float = 30.0, count: int = 1) -> None:
        """Until the process has said *needle* (in *count* lines of stderr); a failure if it exits first."""
        deadline = time.monotonic() + timeout
        while sum(needle in line for line in self.stderr) < count:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"{self.command} did not say {needle!r} (exit {self.proc.poll()}): {''.join(self.stderr)}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
