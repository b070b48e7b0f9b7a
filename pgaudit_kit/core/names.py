"""The names the kit gives its objects in a database: schemas, roles, settings. Defined here once; the SQL
sources in sql/ spell the same names (PostgreSQL cannot take them as parameters in DDL).

Never the bare ``pgaudit`` prefix: the PGAudit extension owns it and often runs alongside."""

from __future__ import annotations

KIT_SCHEMA = "pgaudit_kit"  # every kit table, view and function; Alembic's version table too
GUARD_SCHEMA = "pgaudit_kit_guard"  # the guard against DROP SCHEMA pgaudit_kit CASCADE
VERSION_TABLE = "alembic_version"  # in KIT_SCHEMA, never the user's public.alembic_version

OWNER_ROLE = "pgaudit_kit_owner"  # NOLOGIN owner of the kit's objects; capture runs as it
ADMIN_ROLE = "pgaudit_kit_admin"  # enrols tables, seals, checkpoints, locks down
READER_ROLE = "pgaudit_kit_reader"  # reviews history
KIT_ROLES = (OWNER_ROLE, ADMIN_ROLE, READER_ROLE)
GRANTABLE_ROLES = {"admin": ADMIN_ROLE, "reader": READER_ROLE}  # what `pgaudit-kit grant` hands out

ACTOR_SETTING = "pgaudit_kit.actor"  # the application's claimed end user, per transaction
CONTEXT_SETTING = "pgaudit_kit.context"  # free JSON context (request id, trace id), per transaction

# Writers notify on it at their commit while a watch lease is valid (pgaudit_kit.seal_at_commit, at most once every
# 100 ms across all of them): `watch` and an idle `seal --follow` listen
NOTIFY_CHANNEL = "pgaudit_kit_events"

# An enrolment's options: what a TRUNCATE of the table does, and how its capture records a statement.
TRUNCATE_POLICIES = ("capture", "refuse")
CAPTURE_MODES = ("row", "statement")
