"""The ``pgaudit-kit`` command line: parse, call the library, render, map errors to exit codes.

:mod:`.group` defines the group (:data:`main`) and what its commands share; each command family is a
module of its own that imports the group and registers its commands on it, which importing it here does.
Nothing in the library imports this package.
"""

from __future__ import annotations

from . import alerts, demo, doctor, enrol, install, integrity, lockdown, metrics, reconcile, retention, review  # noqa: F401 -- registers commands
from .group import main

__all__ = ["main"]
