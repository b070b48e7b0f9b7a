"""pgaudit-kit: database-native, tamper-evident, fail-closed auditing for PostgreSQL."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import EnvironmentProblem, KitError, NotInstalled, UsageError

try:
    __version__ = version("pgaudit-kit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__", "KitError", "UsageError", "EnvironmentProblem", "NotInstalled"]
