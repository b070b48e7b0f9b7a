"""Alembic environment for the kit's own schema.

The version table lives in ``pgaudit_kit`` (never the user's ``public.alembic_version``), so the
schema is created first. Online runs reuse the connection the installer hands over in
``config.attributes["connection"]``: it already holds the install lock and its transaction.

The installer says what it does in ``config.attributes["pgaudit_kit_mode"]``: a fresh install stamps the
newest revision and applies every source of ``sql/``; an upgrade runs the pending revisions' deltas and then
applies the idempotent sources again (pgaudit_kit.schema.migration_support).
"""

from __future__ import annotations

from alembic import context

from pgaudit_kit.core.names import KIT_SCHEMA as VERSION_SCHEMA
from pgaudit_kit.core.names import VERSION_TABLE
from pgaudit_kit.schema.migration_support import REFUSE_SQL_ASCII, apply_sources

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        dialect_name="postgresql",
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_SCHEMA,
        transactional_ddl=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        # inside the transaction, after the encoding check: psql running the script leaves nothing behind
        context.get_context().impl.static_output(REFUSE_SQL_ASCII + f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA};\n")
        context.run_migrations()
        apply_sources(_mode(), config.attributes.get("pgaudit_kit_from_revision"))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("pgaudit-kit migrations run through `pgaudit-kit install`, which supplies the connection")
    connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}")
    context.configure(
        connection=connection,
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_SCHEMA,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
        apply_sources(_mode(), config.attributes.get("pgaudit_kit_from_revision"))


def _mode() -> str:
    mode = config.attributes.get("pgaudit_kit_mode")
    if mode is None:
        raise RuntimeError("pgaudit-kit migrations run through `pgaudit-kit install`, which says what to do")
    return str(mode)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
