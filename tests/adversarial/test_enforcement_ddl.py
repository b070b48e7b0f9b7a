"""Enforcement, part 2: DDL invariants. Every command that would switch capture off, drop an audited table
or change the kit's own objects is run for real, as each role that PostgreSQL would allow to run it, and
must be refused by the kit: an error naming pgaudit-kit, the object and the legitimate path, and nothing
changed (catalog, history, enrolment, rows), after which capture still works. What PostgreSQL does not
let an event trigger see (ALTER EVENT TRIGGER) must be detected by `verify` instead. The legitimate way
out, `disable`, works for an admin and is recorded with who and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import Cluster
from tests.support.enforcement import (
    KIT_EVENT_TRIGGERS,
    Roles,
    Who,
    assert_capture_works,
    assert_refused,
    assert_unchanged,
    connect,
    connect_app,
    invariant_problems,
    kit_triggers,
    module_roles,
    set_up_application,
    snapshot,
)
from tests.support.helpers import cli, events

Conn = psycopg.Connection[Any]

DISABLE = "pgaudit-kit disable"
INSTALL = "pgaudit-kit install"
UNINSTALL = "pgaudit-kit uninstall"


@pytest.fixture(scope="module")
def roles(cluster: Cluster) -> Iterator[Roles]:
    with module_roles(cluster) as r:
        yield r


@pytest.fixture
def app_db(kit_db: str, kit_conn: Conn, roles: Roles) -> str:
    """*kit_db* with the audited application schema (see enforcement_support.set_up_application)."""
    set_up_application(kit_conn, roles)
    return kit_db


def run_refused(kit_conn: Conn, app_db: str, roles: Roles, who: Who, statement: str, *needles: str) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn:
        assert_refused(conn, statement, *needles)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


# ---------------------------------------------------------------------------------------------------
# capture of an enrolled table: its triggers cannot be dropped, disabled or made replica/origin-only, and
# the table cannot be dropped while enrolled -- by its owner, a DBA acting through the owner, or a superuser

TABLE_REFUSALS = [
    pytest.param("DROP TRIGGER pgaudit_kit_capture_insert ON app.t",
                 ("pgaudit_kit_capture_insert", "app.t", DISABLE), id="drop-trigger"),
    pytest.param("DROP TRIGGER pgaudit_kit_capture_truncate ON app.t",
                 ("pgaudit_kit_capture_truncate", "app.t", DISABLE), id="drop-truncate-trigger"),
    pytest.param("ALTER TRIGGER pgaudit_kit_capture_delete ON app.t RENAME TO harmless",
                 ("pgaudit_kit_capture_delete", "app.t", DISABLE), id="rename-trigger"),
    pytest.param("ALTER TABLE app.t DISABLE TRIGGER pgaudit_kit_capture_update",
                 ("pgaudit_kit_capture_update", "app.t", "pgaudit-kit disable app.t"), id="disable-named"),
    pytest.param("ALTER TABLE app.t DISABLE TRIGGER USER", ("app.t", "pgaudit-kit disable app.t"), id="disable-user"),
    pytest.param("ALTER TABLE app.t DISABLE TRIGGER ALL", ("app.t", "pgaudit-kit disable app.t"), id="disable-all"),
    pytest.param("ALTER TABLE app.t ENABLE REPLICA TRIGGER pgaudit_kit_capture_delete",
                 ("pgaudit_kit_capture_delete", "app.t", "replica", "pgaudit-kit disable app.t"), id="enable-replica"),
    # plain ENABLE makes the trigger origin-only: skipped under session_replication_role = replica
    pytest.param("ALTER TABLE app.t ENABLE TRIGGER pgaudit_kit_capture_insert",
                 ("pgaudit_kit_capture_insert", "app.t", "ALWAYS", DISABLE), id="enable-origin-only"),
    pytest.param("DROP TABLE app.t", ("app.t", "pgaudit-kit disable app.t"), id="drop-table"),
    pytest.param("DROP TABLE app.t CASCADE", ("app.t", "pgaudit-kit disable app.t"), id="drop-table-cascade"),
    pytest.param("DROP TABLE app.pt", ("app.pt", "pgaudit-kit disable app.pt"), id="drop-partitioned-table"),
    pytest.param("DROP SCHEMA app CASCADE", ("app.", DISABLE), id="drop-schema-cascade"),
    # partitions of an enrolled partitioned table: the row-trigger clone and the partition's TRUNCATE trigger
    pytest.param("ALTER TABLE app.pt_1 DISABLE TRIGGER pgaudit_kit_capture_row",
                 ("pgaudit_kit_capture_row", "app.pt_1", "pgaudit-kit disable app.pt_1"), id="partition-disable-row"),
    pytest.param("ALTER TABLE app.pt_1 DISABLE TRIGGER pgaudit_kit_capture_truncate",
                 ("pgaudit_kit_capture_truncate", "app.pt_1", DISABLE), id="partition-disable-truncate"),
    pytest.param("ALTER TABLE app.pt_2 DISABLE TRIGGER USER", ("app.pt_2", DISABLE), id="partition-disable-user"),
    pytest.param("ALTER TABLE app.pt_1 ENABLE REPLICA TRIGGER pgaudit_kit_capture_row",
                 ("pgaudit_kit_capture_row", "app.pt_1", DISABLE), id="partition-enable-replica"),
    pytest.param("DROP TRIGGER pgaudit_kit_capture_truncate ON app.pt_2",
                 ("pgaudit_kit_capture_truncate", "app.pt_2", DISABLE), id="partition-drop-truncate-trigger"),
    pytest.param("ALTER TABLE app.pt DISABLE TRIGGER pgaudit_kit_capture_row",
                 ("pgaudit_kit_capture_row", "app.pt", "pgaudit-kit disable app.pt"), id="partitioned-disable-row"),
]


@pytest.mark.parametrize("who", ["owner", "dba", "superuser"])
@pytest.mark.parametrize(("statement", "needles"), TABLE_REFUSALS)
def test_weakening_capture_of_an_enrolled_table_is_refused(kit_conn: Conn, app_db: str, roles: Roles, who: Who,
                                                            statement: str, needles: tuple[str, ...]) -> None:
    run_refused(kit_conn, app_db, roles, who, statement, *needles)
    assert kit_triggers(kit_conn, "app.t") == [
        ("pgaudit_kit_capture_delete", "A"), ("pgaudit_kit_capture_insert", "A"),
        ("pgaudit_kit_capture_truncate", "A"), ("pgaudit_kit_capture_update", "A")]
    for partition in ("app.pt", "app.pt_1", "app.pt_2"):
        assert kit_triggers(kit_conn, partition) == [("pgaudit_kit_capture_row", "A"),
                                                     ("pgaudit_kit_capture_truncate", "A")]


def test_dropped_capture_trigger_is_refused_at_commit_with_the_writes_it_hid(kit_conn: Conn, app_db: str,
                                                                            roles: Roles) -> None:
    """Invariants are judged on the transaction's final state (the kit's own enrol and disable steps pass
    through incomplete ones): a dropped capture trigger is refused at commit, and the refusal rolls back
    everything the transaction did, including the write the missing trigger did not record."""
    before = snapshot(kit_conn)
    with connect(app_db, roles, "owner") as conn:
        conn.autocommit = False
        conn.execute("DROP TRIGGER pgaudit_kit_capture_insert ON app.t")
        conn.execute("UPDATE app.t SET note = 'unrecorded?' WHERE id = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.commit()
        assert "pgaudit_kit_capture_insert on app.t is missing" in str(caught.value.diag.message_primary)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


# A capture trigger dropped and created anew under its own name, in one transaction, by a superuser: with a WHEN
# condition, on fewer events or for one column, it would let writes through
# unrecorded while still existing, enabled ALWAYS and calling the table's capture function.
RESHAPED_TRIGGERS = [
    pytest.param("app.t", "pgaudit_kit_capture_update",
                 "AFTER UPDATE ON app.t REFERENCING OLD TABLE AS pgaudit_kit_old NEW TABLE AS pgaudit_kit_new "
                 "FOR EACH STATEMENT WHEN (false)", "UPDATE app.t SET note = 'hidden' WHERE id = 1", id="when-false"),
    pytest.param("app.pt", "pgaudit_kit_capture_row", "AFTER INSERT OR UPDATE OF k OR DELETE ON app.pt FOR EACH ROW",
                 "UPDATE app.pt SET note = 'hidden' WHERE id = 1", id="column-list"),
    pytest.param("app.pt", "pgaudit_kit_capture_row", "AFTER INSERT ON app.pt FOR EACH ROW",
                 "DELETE FROM app.pt WHERE id = 1", id="fewer-events"),
    pytest.param("app.t", "pgaudit_kit_capture_truncate", "BEFORE TRUNCATE ON app.t FOR EACH STATEMENT "
                 "WHEN (false)", "TRUNCATE app.t", id="truncate-when-false"),
]


@pytest.mark.parametrize(("table", "trigger", "definition", "write"), RESHAPED_TRIGGERS)
def test_capture_trigger_recreated_weaker_is_refused_at_commit(kit_conn: Conn, app_db: str, roles: Roles, table: str,
                                                               trigger: str, definition: str, write: str) -> None:
    row = kit_conn.execute("SELECT %s::regclass::oid", (table,)).fetchone()
    assert row is not None
    before = snapshot(kit_conn)
    with connect(app_db, roles, "superuser") as conn:
        conn.autocommit = False
        conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(trigger), sql.SQL(table)))
        conn.execute(sql.SQL("CREATE TRIGGER {} {} EXECUTE FUNCTION pgaudit_kit.{}()").format(
            sql.Identifier(trigger), sql.SQL(definition), sql.Identifier(f"capture_{row[0]}")))
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(sql.SQL(table), sql.Identifier(trigger)))
        conn.execute(write)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.commit()
        assert f"{trigger} on {table} is not the one the kit creates" in str(caught.value.diag.message_primary)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


# ---------------------------------------------------------------------------------------------------
# the kit's own schema, tables, functions and triggers: changed only by `pgaudit-kit install`

KIT_REFUSALS = [
    pytest.param("CREATE OR REPLACE FUNCTION pgaudit_kit.record_transaction() RETURNS void LANGUAGE plpgsql "
                 "SECURITY DEFINER SET search_path = '' AS $$ BEGIN END $$",
                 ("pgaudit_kit.record_transaction()", INSTALL), id="replace-function"),
    pytest.param("CREATE OR REPLACE FUNCTION pgaudit_kit.refuse_history_change() RETURNS trigger LANGUAGE plpgsql "
                 "SET search_path = '' AS $$ BEGIN RETURN NULL; END $$",
                 ("pgaudit_kit.refuse_history_change()", INSTALL), id="replace-guard-function"),
    pytest.param("ALTER FUNCTION pgaudit_kit.record_transaction() SECURITY INVOKER",
                 ("pgaudit_kit.record_transaction()", INSTALL), id="alter-function-security"),
    pytest.param("ALTER FUNCTION pgaudit_kit.invariant_problems() RENAME TO invariant_problems_old",
                 ("invariant_problems", INSTALL), id="rename-function"),
    pytest.param("ALTER FUNCTION pgaudit_kit.check_invariants() SET search_path = public",
                 ("pgaudit_kit.check_invariants()", INSTALL), id="alter-function-config"),
    pytest.param("CREATE FUNCTION pgaudit_kit.extra() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                 ("pgaudit_kit.extra()", INSTALL), id="create-function"),
    pytest.param("DROP FUNCTION pgaudit_kit.lockdown(text)", ("pgaudit_kit.lockdown(", UNINSTALL),
                 id="drop-function"),
    pytest.param("ALTER TABLE pgaudit_kit.event ADD COLUMN note text", ("pgaudit_kit.event", INSTALL),
                 id="alter-table-add-column"),
    pytest.param("ALTER TABLE pgaudit_kit.event RENAME TO event_old", ("pgaudit_kit.event", INSTALL),
                 id="rename-table"),
    pytest.param("ALTER TABLE pgaudit_kit.event DISABLE TRIGGER pgaudit_kit_guard", ("pgaudit_kit.event", INSTALL),
                 id="disable-guard-trigger"),
    pytest.param("ALTER TABLE pgaudit_kit.enrolled_table ENABLE REPLICA TRIGGER pgaudit_kit_guard",
                 ("pgaudit_kit.enrolled_table", INSTALL), id="replica-guard-trigger"),
    pytest.param("ALTER TABLE pgaudit_kit.transaction DISABLE TRIGGER pgaudit_kit_seal_at_commit",
                 ("pgaudit_kit.transaction", INSTALL), id="disable-sealing-trigger"),
    pytest.param("ALTER TABLE pgaudit_kit.pending_check DISABLE TRIGGER pgaudit_kit_check_invariants",
                 ("pgaudit_kit.pending_check", INSTALL), id="disable-commit-check"),
    # a rule or a BEFORE trigger on the history tables would make every recorded change vanish silently
    pytest.param("CREATE RULE discard AS ON INSERT TO pgaudit_kit.event DO INSTEAD NOTHING",
                 ("pgaudit_kit.event", INSTALL), id="create-rule"),
    pytest.param("CREATE TRIGGER blank BEFORE INSERT ON pgaudit_kit.event FOR EACH ROW "
                 "EXECUTE FUNCTION pgaudit_kit.refuse_history_change()", ("pgaudit_kit.event", INSTALL),
                 id="create-trigger"),
    pytest.param("ALTER TRIGGER pgaudit_kit_guard ON pgaudit_kit.event RENAME TO renamed",
                 ("pgaudit_kit_guard", "pgaudit_kit.event", INSTALL), id="rename-guard-trigger"),
    pytest.param("CREATE TABLE pgaudit_kit.extra (id int)", ("pgaudit_kit.extra", INSTALL), id="create-table"),
    pytest.param("DROP TRIGGER pgaudit_kit_guard ON pgaudit_kit.event", ("pgaudit_kit.event", UNINSTALL),
                 id="drop-guard-trigger"),
    pytest.param("DROP TABLE pgaudit_kit.lockdown_event", ("pgaudit_kit.lockdown_event", UNINSTALL), id="drop-table"),
    pytest.param("DROP TABLE pgaudit_kit.event CASCADE", ("pgaudit_kit.event", UNINSTALL), id="drop-table-cascade"),
    pytest.param("DROP VIEW pgaudit_kit.change", ("pgaudit_kit.change", UNINSTALL), id="drop-view"),
    pytest.param("DROP SCHEMA pgaudit_kit CASCADE", ("pgaudit_kit", UNINSTALL), id="drop-kit-schema"),
    pytest.param("DROP OWNED BY pgaudit_kit_owner CASCADE", ("pgaudit_kit", UNINSTALL), id="drop-owned"),
    pytest.param("GRANT INSERT ON pgaudit_kit.event TO PUBLIC", ("PUBLIC", "INSERT", "pgaudit_kit.event", INSTALL),
                 id="grant-insert-public"),
    pytest.param("GRANT SELECT ON pgaudit_kit.redaction_key TO pgaudit_kit_reader",
                 ("pgaudit_kit_reader", "SELECT", "pgaudit_kit.redaction_key", INSTALL), id="grant-redaction-key"),
]


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
@pytest.mark.parametrize(("statement", "needles"), KIT_REFUSALS)
def test_changing_the_kits_objects_is_refused(kit_conn: Conn, app_db: str, roles: Roles, who: Who, statement: str,
                                              needles: tuple[str, ...]) -> None:
    run_refused(kit_conn, app_db, roles, who, statement, *needles)


# only the superuser may run these at all (the guard schema is the installer's; renaming a schema needs
# CREATE on the database, moving an object needs CREATE on public)
SUPERUSER_KIT_REFUSALS = [
    pytest.param("ALTER SCHEMA pgaudit_kit RENAME TO pgaudit_kit_old", ("pgaudit_kit", INSTALL),
                 id="rename-kit-schema"),
    pytest.param("DROP SCHEMA pgaudit_kit_guard CASCADE", ("pgaudit_kit_guard", UNINSTALL), id="drop-guard-schema"),
    pytest.param("DROP FUNCTION pgaudit_kit_guard.refuse_drop() CASCADE", ("pgaudit_kit_guard.refuse_drop()", UNINSTALL),
                 id="drop-guard-function"),
    pytest.param("ALTER FUNCTION pgaudit_kit_guard.refuse_drop() SECURITY INVOKER",
                 ("pgaudit_kit_guard.refuse_drop()", INSTALL), id="alter-guard-function"),
    pytest.param("ALTER SCHEMA pgaudit_kit_guard RENAME TO elsewhere", ("pgaudit_kit_guard", INSTALL),
                 id="rename-guard-schema"),
    pytest.param("ALTER SCHEMA pgaudit_kit OWNER TO pgaudit_kit_reader", ("pgaudit_kit", INSTALL),
                 id="kit-schema-owner"),
    pytest.param("ALTER TABLE pgaudit_kit.event OWNER TO pgaudit_kit_admin", ("pgaudit_kit.event", INSTALL),
                 id="kit-table-owner"),
    pytest.param("ALTER FUNCTION pgaudit_kit.lockdown(text) SET SCHEMA public", ("pgaudit_kit.lockdown(text)", INSTALL),
                 id="function-set-schema"),
    pytest.param("ALTER TABLE pgaudit_kit.lockdown_event SET SCHEMA public", ("pgaudit_kit.lockdown_event", INSTALL),
                 id="table-set-schema"),
]


@pytest.mark.parametrize(("statement", "needles"), SUPERUSER_KIT_REFUSALS)
def test_changing_the_guards_is_refused_to_the_superuser(kit_conn: Conn, app_db: str, roles: Roles, statement: str,
                                                         needles: tuple[str, ...]) -> None:
    run_refused(kit_conn, app_db, roles, "superuser", statement, *needles)


@pytest.mark.parametrize("who", ["kit_owner", "superuser"])
@pytest.mark.parametrize("change", ["replace", "security-invoker", "drop-cascade"])
def test_generated_capture_function_cannot_be_replaced_or_dropped(kit_conn: Conn, app_db: str, roles: Roles, who: Who,
                                                                  change: str) -> None:
    relid = kit_conn.execute("SELECT 'app.t'::regclass::oid::int8").fetchone()
    assert relid is not None
    function = sql.Identifier("pgaudit_kit", f"capture_{relid[0]}")
    statement = {
        "replace": sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
                           "SET search_path = '' AS $$ BEGIN RETURN NULL; END $$").format(function),
        "security-invoker": sql.SQL("ALTER FUNCTION {}() SECURITY INVOKER").format(function),
        "drop-cascade": sql.SQL("DROP FUNCTION {}() CASCADE").format(function),
    }[change]
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn:
        # the kit regenerates these itself, so the refusal comes from the commit-time invariant check
        assert_refused(conn, statement, "capture function of app.t", DISABLE)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize(("grant", "problem"), [
    ("GRANT EXECUTE ON FUNCTION pgaudit_kit.begin_maintenance(text) TO {}",
     "{} may execute pgaudit_kit.begin_maintenance(text)"),
    ("GRANT CREATE ON SCHEMA pgaudit_kit TO {}", "{} holds CREATE on schema pgaudit_kit"),
])
def test_grant_on_the_kits_functions_or_schema_to_an_application_role_is_refused_at_commit(
        kit_conn: Conn, app_db: str, roles: Roles, grant: str, problem: str) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, "superuser") as conn:
        conn.autocommit = False
        conn.execute(sql.SQL(grant).format(sql.Identifier(roles.app)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.commit()
        assert problem.format(roles.app) in str(caught.value.diag.message_primary), caught.value.diag.message_primary
    assert_unchanged(kit_conn, before)
    assert kit_conn.execute("SELECT has_function_privilege(%s, 'pgaudit_kit.begin_maintenance(text)', 'EXECUTE'), "
                            "has_schema_privilege(%s, 'pgaudit_kit', 'CREATE')", (roles.app, roles.app)).fetchone() \
        == (False, False)


def test_grant_on_history_to_an_application_role_is_refused_at_commit(kit_conn: Conn, app_db: str,
                                                                      roles: Roles) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, "superuser") as conn:
        conn.autocommit = False
        conn.execute(sql.SQL("GRANT INSERT ON pgaudit_kit.event TO {}").format(sql.Identifier(roles.app)))
        problems = conn.execute("SELECT kind, object, problem FROM pgaudit_kit.invariant_problems()").fetchall()
        assert [(k, o) for k, o, _ in problems] == [("coverage_privilege", "pgaudit_kit.event")], problems
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
            conn.commit()
        text = f"{caught.value.diag.message_primary}\n{caught.value.diag.message_hint}"
        assert f"{roles.app} holds INSERT on pgaudit_kit.event" in text and INSTALL in text, text
    assert_unchanged(kit_conn, before)
    assert kit_conn.execute("SELECT has_table_privilege(%s, 'pgaudit_kit.event', 'INSERT')", (roles.app,)).fetchone() \
        == (False,)
    assert_capture_works(kit_conn, roles)


# ---------------------------------------------------------------------------------------------------
# the legitimate way out: disable (admin role, reason, recorded), then DROP TABLE works


@pytest.mark.parametrize("route", ["sql", "cli"])
def test_admin_disables_then_the_owner_drops_the_table(kit_conn: Conn, app_db: str, roles: Roles, route: str) -> None:
    reason = f"retired by change ticket CHG-{route}"
    if route == "sql":
        with connect(app_db, roles, "dba") as conn:
            conn.execute("SELECT pgaudit_kit.disable_table('app.t', %s)", (reason,))
    else:
        result = cli("disable", "app.t", "--reason", reason, dsn=roles.dsn(app_db, "dba"))
        assert result.exit_code == 0, (result.stdout, result.stderr)
    assert kit_triggers(kit_conn, "app.t") == []
    (control,) = events(kit_conn, "operation = 'CONTROL' AND details->>'action' = 'disable'")
    assert (control["schema_name"], control["table_name"]) == ("app", "t")
    assert control["details"]["reason"] == reason
    assert (control["session_role"], control["acting_role"]) == (roles.dba, roles.dba)
    with connect(app_db, roles, "owner") as conn:
        conn.execute("DROP TABLE app.t")
    assert kit_conn.execute("SELECT to_regclass('app.t')").fetchone() == (None,)
    assert invariant_problems(kit_conn) == []
    # the other audited table is untouched and still captured
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.pt VALUES (2, 150, 'still audited')")
    (last,) = events(kit_conn, "operation = 'INSERT' AND table_name = 'pt' AND pk->>'id' = '2'")
    assert last["partition_name"] == "app.pt_2"


@pytest.mark.parametrize("who", ["app", "owner"])
def test_disable_without_the_admin_role_is_refused(kit_conn: Conn, app_db: str, roles: Roles, who: Who) -> None:
    before = snapshot(kit_conn)
    with connect(app_db, roles, who) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        conn.execute("SELECT pgaudit_kit.disable_table('app.t', 'not mine to decide')")
    assert "permission denied" in str(caught.value.diag.message_primary)
    assert_unchanged(kit_conn, before)
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize("who", ["app", "owner"])
def test_disable_command_without_the_admin_role_exits_3(kit_conn: Conn, app_db: str, roles: Roles, who: Who) -> None:
    before = snapshot(kit_conn)
    result = cli("disable", "app.t", "--reason", "not mine to decide", dsn=roles.dsn(app_db, who))
    assert result.exit_code == 3 and "insufficient privilege" in result.stderr, (result.stdout, result.stderr)
    assert_unchanged(kit_conn, before)


# ---------------------------------------------------------------------------------------------------
# ALTER EVENT TRIGGER: PostgreSQL runs no event trigger for it, so it cannot be refused; verify detects it


def verify_json(dsn: str) -> tuple[int, dict[str, Any]]:
    result = cli("verify", "--format", "json", dsn=dsn)
    assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
    report: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, report


@pytest.mark.parametrize(("name", "change"), [
    *[pytest.param(name, "DISABLE", id=f"{name}-disable") for name in KIT_EVENT_TRIGGERS],
    pytest.param("pgaudit_kit_check_ddl", "ENABLE REPLICA", id="check_ddl-replica"),
    pytest.param("pgaudit_kit_check_ddl", "ENABLE", id="check_ddl-origin-only"),
])
def test_altered_kit_event_trigger_is_detected_by_verify(kit_conn: Conn, app_db: str, name: str, change: str) -> None:
    code, report = verify_json(app_db)
    assert (code, report["findings"]) == (0, []), report["findings"]
    # succeeds: no event trigger sees ALTER EVENT TRIGGER
    kit_conn.execute(sql.SQL("ALTER EVENT TRIGGER {} " + change).format(sql.Identifier(name)))
    assert kit_conn.execute("SELECT evtenabled::text FROM pg_event_trigger WHERE evtname = %s", (name,)).fetchone() \
        == ({"DISABLE": "D", "ENABLE REPLICA": "R", "ENABLE": "O"}[change],)
    code, report = verify_json(app_db)
    assert code == 1 and report["clean"] is False
    assert [(f["kind"], f.get("object")) for f in report["findings"]] == [("coverage_trigger", name)], report["findings"]
    assert name in report["findings"][0]["message"]


def test_dropped_kit_event_trigger_is_detected_by_verify(kit_conn: Conn, app_db: str) -> None:
    kit_conn.execute("DROP EVENT TRIGGER pgaudit_kit_check_ddl")
    code, report = verify_json(app_db)
    assert code == 1
    assert [(f["kind"], f.get("object")) for f in report["findings"]] == [("coverage_trigger", "pgaudit_kit_check_ddl")]
    assert "missing" in report["findings"][0]["message"]


def test_reassigned_kit_ownership_is_detected_by_verify(kit_conn: Conn, app_db: str) -> None:
    """REASSIGN OWNED, like ALTER EVENT TRIGGER, runs no event trigger: the kit cannot refuse it, so
    verify must report that capture no longer runs as the kit's owner."""
    kit_conn.execute("REASSIGN OWNED BY pgaudit_kit_owner TO CURRENT_USER")
    code, report = verify_json(app_db)
    assert code == 1
    capture = {f.get("object") for f in report["findings"] if f["kind"] == "coverage_capture_modified"}
    relids = [r[0] for r in kit_conn.execute("SELECT relid FROM pgaudit_kit.enrolled_table ORDER BY 1").fetchall()]
    assert capture == {f"pgaudit_kit.capture_{relid}" for relid in relids}, report["findings"]


# ---------------------------------------------------------------------------------------------------
# what is not refused: ordinary DDL on audited tables, and capture keeps up with it


@pytest.mark.parametrize("who", ["owner", "dba"])
def test_ordinary_ddl_on_an_enrolled_table_works_and_capture_follows(kit_conn: Conn, app_db: str, roles: Roles,
                                                                     who: Who) -> None:
    with connect(app_db, roles, who) as conn:
        conn.execute("ALTER TABLE app.t ADD COLUMN amount numeric")
        conn.execute("CREATE INDEX t_note_idx ON app.t (note)")
        conn.execute("COMMENT ON TABLE app.t IS 'orders'")
        conn.execute("ALTER TABLE app.pt ADD COLUMN region text")
    assert invariant_problems(kit_conn) == []
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.t VALUES (2, 'two', 2.50)")
        conn.execute("INSERT INTO app.pt VALUES (3, 150, 'three', 'eu')")
    (insert,) = events(kit_conn, "operation = 'INSERT' AND table_name = 't' AND pk->>'id' = '2'")
    assert insert["new_row"] == {"id": "2", "note": "two", "amount": "2.50"}
    (partitioned,) = events(kit_conn, "operation = 'INSERT' AND table_name = 'pt' AND pk->>'id' = '3'")
    assert (partitioned["partition_name"], partitioned["new_row"]["region"]) == ("app.pt_2", "eu")
    ddl = [e["details"]["command_tag"] for e in events(kit_conn, "operation = 'DDL' AND schema_name = 'app'")]
    assert {"ALTER TABLE", "CREATE INDEX", "COMMENT"} <= set(ddl), ddl


@pytest.mark.parametrize("who", ["owner", "dba"])
@pytest.mark.parametrize("how", ["create", "attach"])
def test_new_partition_of_an_enrolled_table_is_captured(kit_conn: Conn, app_db: str, roles: Roles, who: Who,
                                                        how: str) -> None:
    """Adding a partition is routine DDL for whoever owns the partitioned table; the new partition gets the
    kit's triggers (the row-trigger clone and its own TRUNCATE trigger), enabled ALWAYS."""
    with connect(app_db, roles, who) as conn:
        if how == "create":
            conn.execute("CREATE TABLE app.pt_3 PARTITION OF app.pt FOR VALUES FROM (200) TO (300)")
        else:
            conn.execute("CREATE TABLE app.pt_3 (LIKE app.pt INCLUDING ALL)")
            conn.execute("ALTER TABLE app.pt ATTACH PARTITION app.pt_3 FOR VALUES FROM (200) TO (300)")
    assert invariant_problems(kit_conn) == []
    assert kit_triggers(kit_conn, "app.pt_3") == [("pgaudit_kit_capture_row", "A"), ("pgaudit_kit_capture_truncate", "A")]
    with connect_app(kit_conn, roles) as conn:
        conn.execute("INSERT INTO app.pt VALUES (3, 250, 'new partition')")
    (partitioned,) = events(kit_conn, "operation = 'INSERT' AND table_name = 'pt' AND pk->>'id' = '3'")
    assert partitioned["partition_name"] == "app.pt_3"


# --- triggers, rules and policies of audited tables (issue 14, attack 3) ---------------------------------

def ddl_events(kit_conn: Conn) -> list[tuple[Any, ...]]:
    """(command tag, object type, schema, object, table) of recorded DDL on tables and what hangs on them."""
    return [(e["details"]["command_tag"], e["details"]["object_type"], e["schema_name"],
             e["details"]["object_identity"], e["table_name"])
            for e in events(kit_conn, "operation = 'DDL'")
            if e["details"]["object_type"] in ("trigger", "rule", "policy", "table")]


def test_ddl_on_triggers_rules_and_policies_of_an_audited_table_is_recorded(
        kit_conn: Conn, app_db: str, roles: Roles) -> None:
    """PostgreSQL reports no schema for triggers, rules and policies, so the kit recorded none of them: a
    BEFORE trigger rewriting NEW, a policy hiding rows, their drops. Each is now an op S event on its table,
    done as the table's owner, who needs no superuser for any of it."""
    before = len(ddl_events(kit_conn))
    with connect(app_db, roles, "owner") as owner:
        owner.execute("CREATE FUNCTION app.halve() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN NEW.note := 'rewritten'; RETURN NEW; END $$")
        owner.execute("CREATE TRIGGER rewrite BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.halve()")
        owner.execute("ALTER TRIGGER rewrite ON app.t RENAME TO rewrite2")
        owner.execute("CREATE POLICY hide ON app.t USING (id > 0)")
        owner.execute("ALTER POLICY hide ON app.t USING (id > 1)")
        owner.execute("CREATE RULE also_note AS ON INSERT TO app.t DO ALSO NOTIFY app_t")
        owner.execute("DROP RULE also_note ON app.t")
        owner.execute("DROP POLICY hide ON app.t")
        owner.execute("DROP TRIGGER rewrite2 ON app.t")
    assert ddl_events(kit_conn)[before:] == [
        ("CREATE TRIGGER", "trigger", "app", "rewrite on app.t", "t"),
        ("ALTER TRIGGER", "trigger", "app", "rewrite2 on app.t", "t"),
        ("CREATE POLICY", "policy", "app", "hide on app.t", "t"),
        ("ALTER POLICY", "policy", "app", "hide on app.t", "t"),
        ("CREATE RULE", "rule", "app", "also_note on app.t", "t"),
        ("DROP RULE", "rule", "app", "also_note on app.t", "t"),
        ("DROP POLICY", "policy", "app", "hide on app.t", "t"),
        ("DROP TRIGGER", "trigger", "app", "rewrite2 on app.t", "t"),
    ]
    assert_capture_works(kit_conn, roles)


@pytest.mark.parametrize("action", ["INSERT", "UPDATE", "DELETE"])
@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_do_instead_rule_on_an_audited_table_is_refused(
        kit_conn: Conn, app_db: str, roles: Roles, action: str, who: Who) -> None:
    """A DO INSTEAD rule diverts (or, with NOTHING, drops) writes before they reach the table, so capture
    never sees them: refused, for the table's owner and a superuser alike, and nothing changes."""
    if action == "INSERT":
        statement = "CREATE RULE divert AS ON INSERT TO app.t DO INSTEAD INSERT INTO app.elsewhere VALUES (NEW.id)"
    else:
        statement = f"CREATE RULE divert AS ON {action} TO app.t DO INSTEAD NOTHING"
    with connect(app_db, roles, "owner") as owner:
        owner.execute("CREATE TABLE app.elsewhere (id int)")
    run_refused(kit_conn, app_db, roles, who, statement, "divert on app.t", "DO INSTEAD rule", "audited table")
    assert kit_conn.execute("SELECT count(*) FROM pg_rewrite WHERE ev_class = 'app.t'::regclass").fetchone() == (0,)


@pytest.mark.parametrize("statement", [
    pytest.param("CREATE TEMPORARY TABLE shadow () INHERITS (app.t)", id="temporary-child"),
    pytest.param("CREATE FOREIGN TABLE app.shadow () INHERITS (app.t) SERVER nowhere", id="foreign-child"),
    pytest.param("ALTER FOREIGN TABLE app.loose INHERIT app.t", id="foreign-inherit"),
])
def test_foreign_or_temporary_child_of_an_audited_table_is_refused(
        kit_conn: Conn, app_db: str, roles: Roles, statement: str) -> None:
    """Issue 14, attack 4: a child whose rows appear in the audited parent but whose writes are never
    captured (a foreign table writes elsewhere; a temporary one is never enrolled) is refused."""
    kit_conn.execute("CREATE FOREIGN DATA WRAPPER nowhere_fdw")  # no handler: enough to create, not to query
    kit_conn.execute("CREATE SERVER nowhere FOREIGN DATA WRAPPER nowhere_fdw")
    kit_conn.execute("CREATE FOREIGN TABLE app.loose (id int NOT NULL, note text) SERVER nowhere")
    run_refused(kit_conn, app_db, roles, "superuser", statement, "foreign or temporary table",
                "inheritance child of an audited table")
    assert kit_conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'app.t'::regclass").fetchone() == (0,)


def test_unaudited_table_in_the_place_of_a_renamed_audited_one_is_a_finding(
        kit_conn: Conn, app_db: str, roles: Roles) -> None:
    """Issue 14, attack 4: the owner renames the audited table away and creates an unaudited one under its
    name; the application's writes go there. Only two DDL events showed it; verify now names it."""
    assert cli("verify", dsn=app_db).exit_code == 0
    with connect(app_db, roles, "owner") as owner:
        owner.execute("ALTER TABLE app.t RENAME TO t_old")
        owner.execute("CREATE TABLE app.t (id int PRIMARY KEY, note text)")
    result = cli("verify", "--format", "json", dsn=app_db)
    assert result.exit_code == 1
    assert [(f["kind"], f["object"], f["message"]) for f in json.loads(result.stdout)["findings"]] == [
        ("coverage_enrolment", "app.t", "app.t is not audited, but the audited table app.t_old was enrolled under "
         "that name: writes meant for it may land here unrecorded (enrol it, or rename it)")]
    kit_conn.execute("SELECT pgaudit_kit.enable_table('app.t')")
    assert cli("verify", dsn=app_db).exit_code == 0


# --- casts: code of a type's owner run as the kit's owner (issue 14, attack 2) ----------------------------

# run as the kit's owner, it reads the redaction key the application may not (plpgsql: checked when it runs)
LEAK = ("CREATE FUNCTION app.leak(app.mood) RETURNS text LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN 'forged: ' || (SELECT count(*) FROM pgaudit_kit.redaction_key); END $$")


def test_a_user_cast_to_text_of_an_audited_column_type_is_refused(kit_conn: Conn, app_db: str, roles: Roles) -> None:
    """Capture renders columns with their ::text cast, as the kit's owner. The owner of a type may create a
    cast for it with a function of its own, which capture would then run with the kit's rights. Refused at
    commit while a column of an audited table has that type (directly or through a domain), whether the cast
    or the column comes first; a cast on another type is allowed and recorded."""
    with connect(app_db, roles, "owner") as owner:
        owner.execute("CREATE TYPE app.mood AS ENUM ('calm', 'glad')")
        owner.execute("CREATE DOMAIN app.mood_d AS app.mood")
        owner.execute(LEAK)
        owner.execute("ALTER TABLE app.t ADD COLUMN mood app.mood_d")
        owner.execute("INSERT INTO app.t VALUES (2, 'two', 'glad')")
    run_refused(kit_conn, app_db, roles, "owner", "CREATE CAST (app.mood AS text) WITH FUNCTION app.leak(app.mood)",
                "which a non-superuser owns", "app.leak(app.mood)", "column mood of app.t")
    (inserted,) = events(kit_conn, "operation = 'INSERT' AND table_name = 't' AND pk->>'id' = '2'")
    assert inserted["new_row"]["mood"] == "glad"  # as the type's own output renders it


def test_an_audited_column_of_a_type_with_a_user_cast_is_refused(kit_conn: Conn, app_db: str, roles: Roles) -> None:
    with connect(app_db, roles, "owner") as owner:
        owner.execute("CREATE TYPE app.mood AS ENUM ('calm', 'glad')")
        owner.execute(LEAK)
        owner.execute("CREATE CAST (app.mood AS text) WITH FUNCTION app.leak(app.mood)")  # no audited column yet
    cast_events = [e for e in events(kit_conn, "operation = 'DDL'") if e["details"]["object_type"] == "cast"]
    assert [e["details"]["command_tag"] for e in cast_events] == ["CREATE CAST"]  # recorded, though unscoped
    run_refused(kit_conn, app_db, roles, "owner", "ALTER TABLE app.t ADD COLUMN mood app.mood", "which a non-superuser owns")
    with connect(app_db, roles, "owner") as owner:
        owner.execute("DROP CAST (app.mood AS text)")
        owner.execute("ALTER TABLE app.t ADD COLUMN mood app.mood")
    assert [e["details"]["command_tag"] for e in events(kit_conn, "operation = 'DDL'")
            if e["details"]["object_type"] == "cast"] == ["CREATE CAST", "DROP CAST"]
