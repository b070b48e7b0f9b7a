"""pgaudit-kit: database-native, tamper-evident, fail-closed auditing for PostgreSQL.

The public Python API is what this package exports (below); the sub-packages are its implementation and
follow the data path, dependencies pointing one way:

    core (names, errors, encoding, Merkle, signing, anchors: no database)
      -> pg (connections, catalog reads, table names, recorded reviews)
      -> schema (sql/ sources, Alembic revisions, shipped records, install) · control (enrolment, roles,
         lockdown) · log (sealing, checkpoints, streams, proofs)
      -> verify (checks, coverage, reconcile) · review (queries, history, watch) · doctor
      -> cli (parse, call, render, map errors to exit codes; nothing imports it)

``pgaudit_kit.alembic_ops`` is public too: your own Alembic migrations enrol and disenrol tables with it.
Exports never share a name with a sub-package (hence ``verify_log``, ``diagnose``) and load on first use,
so importing the package (and ``pgaudit-kit --version``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .core.errors import EnvironmentProblem, KitError, NotInstalled, UsageError

# The distribution's version (pyproject.toml reads it from here).
__version__ = "0.1.0"

# Public name -> (module, attribute).
_LAZY = {
    "install": ("pgaudit_kit.schema.installer", "install"),
    "install_sql": ("pgaudit_kit.schema.installer", "install_sql"),
    "uninstall": ("pgaudit_kit.schema.installer", "uninstall"),
    "status": ("pgaudit_kit.schema.installer", "status"),
    "enable_tables": ("pgaudit_kit.control.enrolment", "enable_tables"),
    "disable_table": ("pgaudit_kit.control.enrolment", "disable_table"),
    "enable_schema": ("pgaudit_kit.control.enrolment", "enable_schema"),
    "disable_schema": ("pgaudit_kit.control.enrolment", "disable_schema"),
    "seal": ("pgaudit_kit.log.sealing", "seal"),
    "checkpoint": ("pgaudit_kit.log.sealing", "checkpoint"),
    "prove_inclusion": ("pgaudit_kit.log.proofs", "prove_inclusion"),
    "prove_consistency": ("pgaudit_kit.log.proofs", "prove_consistency"),
    "verify_proof": ("pgaudit_kit.log.proofs", "verify_proof"),
    "verify_log": ("pgaudit_kit.verify.runner", "verify"),
    "reconcile": ("pgaudit_kit.verify.reconcile", "reconcile"),
    "diagnose": ("pgaudit_kit.doctor", "run"),
    "connect": ("pgaudit_kit.pg.db", "connect"),
}

__all__ = ["__version__", "KitError", "UsageError", "EnvironmentProblem", "NotInstalled", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pgaudit_kit' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value
