"""Kit roles, review events and lockdown, end to end through the CLI, as the roles in question."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable, guards_off, with_params

Conn = psycopg.Connection[Any]


@dataclass
class Roles:
    """LOGIN roles for one test: an application writer, a kit admin, a kit reader and a role with no kit
    role at all. Roles are cluster-wide, so names are unique per test."""

    kit_db: str
    app: str
    admin: str
    reader: str
    nobody: str

    def dsn(self, role: str) -> str:
        return with_params(self.kit_db, user=role, password="pw")

    def connect(self, role: str) -> Conn:
        return psycopg.connect(self.dsn(role), autocommit=True)


@pytest.fixture
def roles(cluster: Cluster, kit_db: str, kit_conn: Conn) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    made = Roles(kit_db, f"app_{suffix}", f"admin_{suffix}", f"reader_{suffix}", f"nobody_{suffix}")
    kit_conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
    enable(kit_conn, "accounts")
    with cluster.admin() as admin:
        for role in (made.app, made.admin, made.reader, made.nobody):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(role)))
    kit_conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO {}").format(sql.Identifier(made.app)))
    assert cli("grant", "admin", made.admin, dsn=kit_db).exit_code == 0
    assert cli("grant", "reader", made.reader, dsn=kit_db).exit_code == 0
    try:
        yield made
    finally:
        kit_conn.execute("SELECT pgaudit_kit.unlock('end of test')")  # role removal is recorded DDL
        kit_conn.execute(sql.SQL("DROP OWNED BY {}, {}, {}, {}").format(
            *(sql.Identifier(r) for r in (made.app, made.admin, made.reader, made.nobody))))
        with cluster.admin() as admin:
            for role in (made.app, made.admin, made.reader, made.nobody):
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def kit_events(conn: Conn, op: str) -> list[tuple[Any, ...]]:
    """(row_data, session_role) of the events with *op*, oldest first."""
    return conn.execute(
        "SELECT e.row_data, t.session_role FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t USING (xid) "
        "WHERE e.op = %s ORDER BY e.id", (op,)).fetchall()


def balances(conn: Conn) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall()


# --- grant / revoke -------------------------------------------------------------------------------------


def test_grant_and_revoke_change_membership_and_are_recorded(roles: Roles, kit_conn: Conn) -> None:
    member = "SELECT pg_has_role(%s, 'pgaudit_kit_reader', 'MEMBER')"
    assert kit_conn.execute(member, (roles.reader,)).fetchone() == (True,)
    again = cli("grant", "reader", roles.reader, dsn=roles.kit_db)
    assert again.exit_code == 0 and "already" in again.stdout
    revoked = cli("revoke", "reader", roles.reader, dsn=roles.kit_db)
    assert revoked.exit_code == 0 and "no longer" in revoked.stdout
    assert kit_conn.execute(member, (roles.reader,)).fetchone() == (False,)
    grants = [(data["action"], data["kit_role"], data["role"]) for data, _ in kit_events(kit_conn, "K")
              if data["action"] in ("grant", "revoke")]
    assert grants == [("grant", "pgaudit_kit_admin", roles.admin), ("grant", "pgaudit_kit_reader", roles.reader),
                      ("revoke", "pgaudit_kit_reader", roles.reader)]


def test_grant_refuses_unknown_role_and_kit_roles(roles: Roles, kit_conn: Conn) -> None:
    before = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
    unknown = cli("grant", "reader", "no_such_role_x", dsn=roles.kit_db)
    assert unknown.exit_code == 2 and "no_such_role_x" in unknown.stderr
    own = cli("grant", "admin", "pgaudit_kit_reader", dsn=roles.kit_db)
    assert own.exit_code == 2 and "kit's own roles" in own.stderr
    bad_kind = cli("grant", "owner", roles.app, dsn=roles.kit_db)
    assert bad_kind.exit_code == 2
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone() == before


def test_grant_by_role_without_rights_exits_3_and_changes_nothing(roles: Roles, kit_conn: Conn) -> None:
    result = cli("grant", "admin", roles.app, dsn=roles.dsn(roles.reader))
    assert result.exit_code == 3, result.stderr
    assert kit_conn.execute("SELECT pg_has_role(%s, 'pgaudit_kit_admin', 'MEMBER')", (roles.app,)).fetchone() == (False,)


def test_recording_a_role_change_that_did_not_happen_is_refused(roles: Roles, kit_conn: Conn) -> None:
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        kit_conn.execute("SELECT pgaudit_kit.record_role_change('grant', 'pgaudit_kit_admin', %s)", (roles.app,))
    with roles.connect(roles.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT pgaudit_kit.record_role_change('revoke', 'pgaudit_kit_admin', %s)", (roles.app,))


# --- review events --------------------------------------------------------------------------------------


def test_verify_and_prove_are_recorded_as_review_events_of_the_reviewer(roles: Roles, kit_conn: Conn) -> None:
    kit_conn.execute("INSERT INTO accounts VALUES (1, 100)")
    verified = cli("verify", "--full", "--format", "json", dsn=roles.dsn(roles.reader))
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    status = cli("status", dsn=roles.dsn(roles.reader))  # a reviewer may read who seals (the seal lease)
    assert status.exit_code == 0 and "sealed by:          writers at their commit" in status.stdout, status.stderr
    target = kit_conn.execute("SELECT max(id) FROM pgaudit_kit.event WHERE op = 'I'").fetchone()
    assert target is not None
    cli("seal", dsn=roles.kit_db)
    proved = cli("prove", str(target[0]), dsn=roles.dsn(roles.reader))
    assert proved.exit_code == 2 and "checkpoint" in proved.stderr  # no checkpoint yet: still a recorded look
    reviews = [(data["command"], data["filter"], who) for data, who in kit_events(kit_conn, "R")]
    assert reviews[0] == ("verify", {"full": True, "state": None, "anchor_dir": None, "public_key": None},
                          roles.reader)
    assert reviews[1][0] == "verify-result" and reviews[1][1]["clean"] is True and reviews[1][2] == roles.reader
    assert reviews[2] == ("prove", {"event_id": target[0]}, roles.reader)


def test_reviews_need_a_kit_role(roles: Roles, kit_conn: Conn) -> None:
    before = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone()
    result = cli("verify", dsn=roles.dsn(roles.nobody))
    assert result.exit_code == 3 and "may not review" in result.stderr
    with roles.connect(roles.app) as app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT count(*) FROM pgaudit_kit.event")
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone() == before


# --- lockdown -------------------------------------------------------------------------------------------


def test_lockdown_refuses_audited_writes_until_an_admin_unlocks(roles: Roles, kit_conn: Conn) -> None:
    kit_conn.execute("INSERT INTO accounts VALUES (1, 100)")
    kit_conn.execute("CREATE TABLE later (id int PRIMARY KEY)")
    locked = cli("lockdown", "--reason", "INC-7: block 3 rewritten", dsn=roles.dsn(roles.admin))
    assert locked.exit_code == 0 and "locked down" in locked.stdout
    assert "already" in cli("lockdown", "--reason", "again", dsn=roles.dsn(roles.admin)).stdout

    with roles.connect(roles.app) as app:
        for statement in ("INSERT INTO accounts VALUES (2, 5)", "UPDATE accounts SET balance = 0",
                          "DELETE FROM accounts"):
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState) as refused:
                app.execute(statement)
            message = refused.value.diag.message_primary or ""
            assert "locked down" in message and "INC-7: block 3 rewritten" in message and roles.admin in message
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState), app.cursor().copy(
                "COPY accounts FROM STDIN") as copy:
            copy.write_row((3, 1))
    assert balances(kit_conn) == [(1, 100)]

    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        kit_conn.execute("ALTER TABLE accounts ADD COLUMN note text")  # DDL in audited schemas is recorded
    enrol = cli("enable", "later", dsn=roles.dsn(roles.admin))  # enrolment changes are audited writes too
    assert enrol.exit_code == 3 and "locked down" in enrol.stderr
    assert cli("verify", dsn=roles.dsn(roles.reader)).exit_code == 0  # reviewing still works
    assert cli("unlock", "--reason", "nope", dsn=roles.dsn(roles.reader)).exit_code == 3

    unlocked = cli("unlock", "--reason", "INC-7 closed: restored and verified", dsn=roles.dsn(roles.admin))
    assert unlocked.exit_code == 0 and "unlocked" in unlocked.stdout
    with roles.connect(roles.app) as app:
        app.execute("INSERT INTO accounts VALUES (2, 5)")
    assert balances(kit_conn) == [(1, 100), (2, 5)]
    actions = [(data["action"], data.get("reason"), who) for data, who in kit_events(kit_conn, "K")
               if data["action"] in ("lockdown", "unlock")]
    assert actions == [("lockdown", "INC-7: block 3 rewritten", roles.admin),
                       ("unlock", "INC-7 closed: restored and verified", roles.admin)]


def test_lockdown_needs_a_reason_and_the_admin_role(roles: Roles, kit_conn: Conn) -> None:
    assert cli("lockdown", "--reason", "  ", dsn=roles.dsn(roles.admin)).exit_code == 2
    assert cli("lockdown", "--reason", "x", dsn=roles.dsn(roles.reader)).exit_code == 3
    assert cli("lockdown", "--reason", "x", dsn=roles.dsn(roles.app)).exit_code == 3
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.lockdown_event").fetchone() == (0,)


def test_a_transaction_that_already_wrote_may_finish_but_new_ones_are_refused(roles: Roles, kit_conn: Conn) -> None:
    with roles.connect(roles.app) as app:
        with app.transaction():
            app.execute("INSERT INTO accounts VALUES (1, 1)")
            assert cli("lockdown", "--reason", "drill", dsn=roles.dsn(roles.admin)).exit_code == 0
            app.execute("INSERT INTO accounts VALUES (2, 2)")  # checked once per transaction: documented
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            app.execute("INSERT INTO accounts VALUES (3, 3)")
    assert balances(kit_conn) == [(1, 1), (2, 2)]


def test_nothing_rides_past_a_lockdown_on_a_review_transaction(roles: Roles, kit_conn: Conn) -> None:
    assert cli("lockdown", "--reason", "drill", dsn=roles.kit_db).exit_code == 0
    with psycopg.connect(roles.kit_db) as conn:  # superuser, holding every privilege
        conn.execute("SELECT pgaudit_kit.record_review('verify', '{}')")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO accounts VALUES (9, 9)")
    assert balances(kit_conn) == []


def test_verify_lockdown_on_failure_locks_down_after_a_rewrite(roles: Roles, kit_conn: Conn) -> None:
    kit_conn.execute("INSERT INTO accounts VALUES (1, 100)")
    assert cli("seal", dsn=roles.kit_db).exit_code == 0
    clean = cli("verify", "--lockdown-on-failure", dsn=roles.dsn(roles.admin))
    assert clean.exit_code == 0 and "locked down" not in clean.stdout
    with guards_off(kit_conn):
        kit_conn.execute("UPDATE pgaudit_kit.event SET row_data = '{\"id\": \"1\", \"balance\": \"1\"}' WHERE op = 'I'")
    result = cli("verify", "--full", "--lockdown-on-failure", "--format", "json", dsn=roles.dsn(roles.admin))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["locked_down"] is True and report["finding_counts"] == {"event_modified": 1}
    with roles.connect(roles.app) as app, pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState) as refused:
        app.execute("UPDATE accounts SET balance = 0")
    assert "verify found 1 findings (event_modified)" in (refused.value.diag.message_primary or "")
    assert balances(kit_conn) == [(1, 100)]


# --- predefined roles that bypass table privileges ------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "INSERT INTO pgaudit_kit.event (xid, statement_ts, op) VALUES (pg_current_xact_id(), now(), 'I')",
    # straight into a partition (each has row-level security of its own: the parent's is not checked)
    "INSERT INTO pgaudit_kit.event_p0 (id, xid, statement_ts, op) OVERRIDING SYSTEM VALUE "
    "VALUES (7, pg_current_xact_id(), now(), 'I')",
    "INSERT INTO pgaudit_kit.event_overflow (id, xid, statement_ts, op) OVERRIDING SYSTEM VALUE "
    "VALUES (4611686018427387904, pg_current_xact_id(), now(), 'I')",
    "INSERT INTO pgaudit_kit.transaction (xid, xact_start, session_role, acting_role, backend_pid) "
    "VALUES (pg_current_xact_id(), now(), 'alice', 'alice', 1)",
    "INSERT INTO pgaudit_kit.lockdown_event (locked, reason, acted_by) VALUES (false, 'forged unlock', 'x')",
    "INSERT INTO pgaudit_kit.maintenance (xid, reason) VALUES (pg_current_xact_id(), 'forged window')",
])
def test_pg_write_all_data_cannot_forge_history(roles: Roles, cluster: Cluster, kit_conn: Conn, statement: str) -> None:
    """pg_write_all_data bypasses table privileges but not row-level security, which has no INSERT policy."""
    with cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pg_write_all_data TO {}").format(sql.Identifier(roles.app)))
    before = kit_conn.execute("SELECT (SELECT count(*) FROM pgaudit_kit.event), "
                              "(SELECT count(*) FROM pgaudit_kit.transaction)").fetchone()
    with roles.connect(roles.app) as app:
        app.execute("SET search_path = ''")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            app.execute(statement)
    assert "row-level security" in str(refused.value)
    assert kit_conn.execute("SELECT (SELECT count(*) FROM pgaudit_kit.event), "
                            "(SELECT count(*) FROM pgaudit_kit.transaction)").fetchone() == before


def test_pg_read_all_data_reads_no_history_and_not_the_key(roles: Roles, cluster: Cluster, kit_conn: Conn) -> None:
    kit_conn.execute("INSERT INTO accounts VALUES (1, 100)")
    with cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(roles.nobody)))
    with roles.connect(roles.nobody) as conn:
        for table in ("event", "event_p0", "transaction", "redaction_key", "enrolled_table"):
            assert conn.execute(sql.SQL("SELECT count(*) FROM pgaudit_kit.{}").format(sql.Identifier(table))
                                ).fetchone() == (0,), table
    with roles.connect(roles.reader) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM pgaudit_kit.event").fetchone() == (True,)


def test_a_member_of_the_kit_owner_is_a_coverage_problem(roles: Roles, cluster: Cluster, kit_conn: Conn) -> None:
    with cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pgaudit_kit_owner TO {}").format(sql.Identifier(roles.app)))
    try:
        result = cli("verify", "--format", "json", dsn=roles.kit_db)
        assert result.exit_code == 1
        assert [(f["kind"], f["object"]) for f in json.loads(result.stdout)["findings"]] == [
            ("coverage_privilege", "pgaudit_kit_owner")]
    finally:
        with cluster.admin() as admin:
            admin.execute(sql.SQL("REVOKE pgaudit_kit_owner FROM {}").format(sql.Identifier(roles.app)))


def test_revoking_the_kit_owners_read_access_is_a_coverage_problem(roles: Roles, kit_conn: Conn) -> None:
    """Issue 14, attack 6: the owner of an audited table revokes the kit's read access (no superuser needed),
    blinding TRUNCATE capture and reconcile. verify names it; granting it back is clean again."""
    kit_conn.execute(sql.SQL("ALTER TABLE accounts OWNER TO {}").format(sql.Identifier(roles.app)))
    try:
        assert cli("verify", dsn=roles.kit_db).exit_code == 0
        with roles.connect(roles.app) as app:
            app.execute("REVOKE SELECT ON accounts FROM pgaudit_kit_owner")
        result = cli("verify", "--format", "json", dsn=roles.kit_db)
        assert result.exit_code == 1
        assert [(f["kind"], f["object"], f["message"]) for f in json.loads(result.stdout)["findings"]] == [
            ("coverage_privilege", "public.accounts", "pgaudit_kit_owner may no longer read public.accounts "
             "(SELECT revoked): TRUNCATE capture fails and reconcile cannot compare it")]
        with roles.connect(roles.app) as app:
            app.execute("GRANT SELECT ON accounts TO pgaudit_kit_owner")
        assert cli("verify", dsn=roles.kit_db).exit_code == 0
    finally:
        kit_conn.execute("ALTER TABLE accounts OWNER TO CURRENT_USER")  # DROP OWNED of the role must not reach it
