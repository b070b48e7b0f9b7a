"""Typed errors and the exit codes they map to.

Every expected failure is one of these; the CLI prints ``str(error)`` as a single line and exits with
``error.exit_code``. Anything else is a bug and exits 4.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4


class KitError(Exception):
    """Base of all expected pgaudit-kit errors."""

    exit_code = EXIT_INTERNAL


class UsageError(KitError):
    """The request itself is wrong: unknown table, bad option value, unsupported relation."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(KitError):
    """The database cannot serve the request: cannot connect, no privilege, not installed, standby."""

    exit_code = EXIT_ENVIRONMENT


class NotInstalled(EnvironmentProblem):
    """The kit's schema is missing from the target database."""


class InsufficientPrivilege(EnvironmentProblem):
    """The connected role lacks a privilege the command needs."""


class ReadOnlyServer(EnvironmentProblem):
    """The server is a hot standby or the session is read-only."""


class ServerStartError(EnvironmentProblem):
    """A throwaway PostgreSQL server could not be started."""


class DriftFound(KitError):
    """An upgrade refused because it would overwrite kit functions that were changed behind its back."""

    exit_code = EXIT_FINDINGS


class HistoryDamaged(KitError):
    """The kit refused to go on because stored history is not what it writes (a malformed chunk stops
    sealing): a finding, which verify reports too."""

    exit_code = EXIT_FINDINGS


class HistoryExists(UsageError):
    """Uninstall refused because recorded audit history would be destroyed."""
