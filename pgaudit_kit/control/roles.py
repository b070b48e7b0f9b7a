"""Kit roles: grant and revoke pgaudit_kit_admin / pgaudit_kit_reader, each change recorded.

PostgreSQL's event triggers do not see GRANT of a role (roles are cluster-wide), so the grant and its
control event are written in one transaction: either both happen or neither does. The GRANT runs with
the caller's own rights (a superuser, or a role with ADMIN OPTION on the kit role).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..core.errors import UsageError
from ..core.names import GRANTABLE_ROLES, KIT_ROLES
from ..pg import db


def _kit_role(kind: str) -> str:
    try:
        return GRANTABLE_ROLES[kind]
    except KeyError:
        raise UsageError(f"kit role must be one of {', '.join(GRANTABLE_ROLES)}, not {kind!r}") from None


def change_membership(conn: psycopg.Connection[Any], kind: str, role: str, grant: bool) -> bool:
    """Grant (or revoke) the kit role *kind* to *role*. Returns False when it was already so."""
    kit_role = _kit_role(kind)
    with db.translated_errors():
        db.require_writable(conn)
        with conn.transaction():
            db.require_installed(conn)
            if conn.execute("SELECT to_regrole(%s)", (role,)).fetchone() == (None,):
                raise UsageError(f"role {role!r} does not exist")
            if role in KIT_ROLES:
                raise UsageError(f"{role} is one of the kit's own roles")
            member = conn.execute(
                "SELECT EXISTS (SELECT FROM pg_auth_members WHERE roleid = %s::regrole AND member = %s::regrole)",
                (kit_role, role)).fetchone()
            if member == (grant,):
                return False
            statement = "GRANT {} TO {}" if grant else "REVOKE {} FROM {}"
            conn.execute(sql.SQL(statement).format(sql.Identifier(kit_role), sql.Identifier(role)))
            conn.execute("SELECT pgaudit_kit.record_role_change(%s, %s, %s)",
                         ("grant" if grant else "revoke", kit_role, role))
    return True
