"""`pgaudit-kit doctor`: every item is made to fail for real on the server under test, then to pass again;
the JSON shape, the text table and the exit codes.

Roles are cluster-wide, so each test names its roles uniquely and drops them after its database. File
permission checks look at mode bits (not access()), so they hold when the suite runs as root.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit import doctor
from pgaudit_kit.core.errors import UsageError
from pgaudit_kit.schema import shipped
from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import cli, enable, guards_off, with_params

Conn = psycopg.Connection[Any]


@dataclass
class Env:
    """A fresh kit database with one enrolled table, a signing key pair and a scratch directory."""

    cluster: Cluster
    dbname: str
    dsn: str
    conn: Conn
    tmp: Path
    roles: list[str] = field(default_factory=list)

    @property
    def key(self) -> Path:
        return self.tmp / "audit.key"

    @property
    def pub(self) -> Path:
        return self.tmp / "audit.pub"

    @property
    def anchors(self) -> Path:
        return self.tmp / "anchors"

    def role(self, label: str, attributes: str = "") -> str:
        """A new LOGIN role (password 'pw') with *attributes*, dropped at the end of the test."""
        name = f"doc_{label}_{uuid.uuid4().hex[:6]}"
        with self.cluster.admin() as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw' " + attributes).format(sql.Identifier(name)))
        self.roles.append(name)
        return name

    def connect_as(self, role: str) -> Conn:
        return psycopg.connect(with_params(self.dsn, user=role, password="pw"), autocommit=True)

    def doctor(self, *args: str, dsn: str | None = None) -> tuple[int, dict[str, Any]]:
        result = cli("doctor", "--format", "json", *args, dsn=dsn or self.dsn)
        assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
        report: dict[str, Any] = json.loads(result.stdout)
        assert report["exit_code"] == result.exit_code
        return result.exit_code, report

    def item(self, item_id: str, *args: str, dsn: str | None = None) -> dict[str, Any]:
        _, report = self.doctor(*args, dsn=dsn)
        return item_of(report, item_id)

    def checkpoint(self, anchored: bool = True) -> None:
        args = ["checkpoint", "--key", str(self.key)] + (["--anchor-dir", str(self.anchors)] if anchored else [])
        result = cli(*args, dsn=self.dsn)
        assert result.exit_code == 0, (result.stdout, result.stderr)

    def verify(self, expect: int) -> None:
        result = cli("verify", "--anchor-dir", str(self.anchors), "--public-key", str(self.pub), dsn=self.dsn)
        assert result.exit_code == expect, (result.stdout, result.stderr)


def item_of(report: dict[str, Any], item_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [i for i in report["items"] if i["id"] == item_id]
    assert len(found) == 1, item_id
    return found[0]


@pytest.fixture
def env(cluster: Cluster, tmp_path: Path) -> Iterator[Env]:
    name = cluster.create_database(TEMPLATE_INSTALLED)
    dsn = cluster.dsn(name)
    conn = psycopg.connect(dsn, autocommit=True)
    e = Env(cluster, name, dsn, conn, tmp_path)
    try:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
        enable(conn, "accounts")
        conn.execute("INSERT INTO accounts VALUES (1, 'ada', 10), (2, 'bob', 20)")
        assert cli("keygen", "--name", "audit", "--out", str(tmp_path / "audit")).exit_code == 0
        yield e
    finally:
        conn.close()
        cluster.drop_database(name)
        with cluster.admin() as admin:
            for role in e.roles:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@contextmanager
def system_setting(cluster: Cluster, name: str, value: str) -> Iterator[None]:
    """ALTER SYSTEM SET *name* = *value* for the duration (reloaded, and waited for), then RESET."""
    with cluster.admin() as admin:
        before = admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
        admin.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        admin.execute("SELECT pg_reload_conf()")
    _wait_for_setting(cluster, name, lambda seen: seen != (before[0] if before else None) or seen == value)
    try:
        yield
    finally:
        with cluster.admin() as admin:
            admin.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
            admin.execute("SELECT pg_reload_conf()")
        _wait_for_setting(cluster, name, lambda seen: seen == (before[0] if before else None))


def _wait_for_setting(cluster: Cluster, name: str, done: Any) -> None:
    deadline = time.monotonic() + 10
    while True:
        with cluster.admin() as admin:  # a new session reads the reloaded configuration
            row = admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
        if done(row[0] if row else None) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def make_all_clear(env: Env) -> None:
    """Everything doctor asks for: DDL logged, a fresh anchored checkpoint, a clean verify."""
    env.conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'ddl'").format(sql.Identifier(env.dbname)))
    env.checkpoint()
    # the per-database folder is made with the process umask; the test must not depend on it
    for folder in env.anchors.iterdir():
        folder.chmod(0o755)
    env.verify(expect=0)


# ---------------------------------------------------------------------------------------------------
# shape, text output, exit codes


def test_json_lists_every_item_once_with_a_known_severity(env: Env) -> None:
    code, report = env.doctor()
    assert [i["id"] for i in report["items"]] == list(doctor.ITEM_IDS)
    assert set(report) == {"database", "server_version", "origin", "thresholds", "summary", "exit_code", "items"}
    for item in report["items"]:
        assert set(item) == {"id", "severity", "finding", "advice", "accepted", "details"}
        assert item["severity"] in doctor.SEVERITIES and item["finding"]
        assert item["advice"] or item["severity"] == "ok", item
    assert report["summary"] == {s: sum(i["severity"] == s for i in report["items"]) for s in doctor.SEVERITIES}
    assert report["thresholds"] == {"max_backlog_age_seconds": 300.0, "max_checkpoint_age_seconds": 3600.0,
                                    "max_verify_age_seconds": 86400.0}
    assert report["origin"].startswith("pgaudit-kit/") and env.dbname in report["database"]
    # a fresh install has never been checkpointed nor verified, and no anchor directory was given
    assert code == 1
    for item_id in ("last_checkpoint", "last_verify", "anchor_dir"):
        assert item_of(report, item_id)["severity"] == "warning"
    assert item_of(report, "key_file")["severity"] == "info"


def test_text_output_is_a_table_problems_first_with_advice_and_a_summary(env: Env) -> None:
    result = cli("doctor", dsn=env.dsn)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pgaudit-kit doctor: ") and "PostgreSQL" in lines[0]
    assert lines[2].split() == ["severity", "item", "finding", "/", "advice"]
    rows = [line.split()[0] for line in lines[4:] if line and not line.startswith(" ")][:-1]
    order = {"critical": 0, "warning": 1, "info": 2, "ok": 3}
    assert rows == sorted(rows, key=order.__getitem__) and "warning" in rows and "ok" in rows
    assert any(line.strip().startswith("advice: Schedule pgaudit-kit checkpoint") for line in lines)
    assert all(len(line) <= 100 for line in lines[4:])
    assert lines[-1].endswith("exit 1: fix the warnings and critical items") and "0 critical" in lines[-1]


def test_all_clear_exits_0_and_any_warning_exits_1(env: Env) -> None:
    with system_setting(env.cluster, "log_connections", "on"):
        make_all_clear(env)
        code, report = env.doctor("--anchor-dir", str(env.anchors), "--key", str(env.key))
        failing = [i for i in report["items"] if i["severity"] in ("warning", "critical")]
        assert (code, failing) == (0, []), json.dumps(failing, indent=1)
        text = cli("doctor", "--anchor-dir", str(env.anchors), "--key", str(env.key), dsn=env.dsn)
        assert text.exit_code == 0 and text.stdout.splitlines()[-1].endswith("; nothing to fix")
        code, report = env.doctor("--anchor-dir", str(env.anchors), "--key", str(env.key),
                                  "--max-checkpoint-age", "0s")
        assert code == 1 and item_of(report, "last_checkpoint")["severity"] == "warning"


def test_accept_turns_a_warning_into_accepted_info_but_never_a_critical(env: Env) -> None:
    code, report = env.doctor("--accept", "anchor_dir", "--accept", "last_verify")
    for item_id in ("anchor_dir", "last_verify"):
        assert (item_of(report, item_id)["severity"], item_of(report, item_id)["accepted"]) == ("info", True)
    assert item_of(report, "last_checkpoint")["severity"] == "warning" and code == 1
    env.conn.execute("ALTER EVENT TRIGGER pgaudit_kit_check_ddl DISABLE")
    try:
        item = env.item("event_triggers", "--accept", "event_triggers")
        assert (item["severity"], item["accepted"]) == ("critical", False)
    finally:
        env.conn.execute("ALTER EVENT TRIGGER pgaudit_kit_check_ddl ENABLE ALWAYS")


@pytest.mark.parametrize("args", [["--max-verify-age", "soon"], ["--max-backlog-age", "5 minutes"],
                                  ["--accept", "no_such_item"], ["--format", "yaml"]])
def test_bad_options_exit_2(env: Env, args: list[str]) -> None:
    result = cli("doctor", *args, dsn=env.dsn)
    assert result.exit_code == 2, (result.stdout, result.stderr)


def test_not_installed_and_no_kit_role_exit_3(env: Env, empty_db: str) -> None:
    result = cli("doctor", dsn=empty_db)
    assert result.exit_code == 3 and "not installed" in result.stderr
    nobody = env.role("nobody")
    result = cli("doctor", dsn=with_params(env.dsn, user=nobody, password="pw"))
    assert result.exit_code == 3 and "grant it a kit role" in result.stderr


def test_runs_as_a_reader_and_is_recorded_as_a_review(env: Env) -> None:
    reader = env.role("reader")
    assert cli("grant", "reader", reader, dsn=env.dsn).exit_code == 0
    code, report = env.doctor("--max-backlog-age", "90s", dsn=with_params(env.dsn, user=reader, password="pw"))
    assert code == 1 and item_of(report, "kit_roles")["severity"] == "info"
    assert reader in item_of(report, "kit_roles")["finding"]
    row = env.conn.execute(
        "SELECT e.row_data, t.session_role FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t USING (xid) "
        "WHERE e.op = 'R' AND e.row_data->>'command' = 'doctor' ORDER BY e.id DESC LIMIT 1").fetchone()
    assert row is not None and row[1] == reader
    assert row[0]["filter"]["max_backlog_age_seconds"] == 90.0 and row[0]["filter"]["anchor_dir"] is None


def test_durations_and_ages() -> None:
    assert [doctor.parse_duration(t) for t in ("90", "90s", "15m", "1h", "2d", "1h30m", "0.5m")] == [
        90, 90, 900, 3600, 172800, 5400, 30]
    for bad in ("", "h", "1 h", "1w", "-5m", "1h 30m"):
        with pytest.raises(UsageError):
            doctor.parse_duration(bad)
    assert [doctor.format_age(s) for s in (0, 59, 61, 3725, 93600)] == ["0s", "59s", "1m", "1h 2m", "1d 2h"]


# ---------------------------------------------------------------------------------------------------
# the kit itself


def test_outdated_revision_is_a_warning(env: Env) -> None:
    assert env.item("kit_installed")["severity"] == "ok"
    with guards_off(env.conn):
        env.conn.execute("ALTER TABLE pgaudit_kit.alembic_version DISABLE TRIGGER ALL")
        env.conn.execute("UPDATE pgaudit_kit.alembic_version SET version_num = '0002'")
    item = env.item("kit_installed")
    assert item["severity"] == "warning" and "0002" in item["finding"] and "pgaudit-kit install" in item["advice"]


def test_disabled_capture_trigger_is_critical_until_re_enabled(env: Env) -> None:
    with guards_off(env.conn):
        env.conn.execute("ALTER TABLE accounts DISABLE TRIGGER pgaudit_kit_capture_update")
    code, report = env.doctor()
    item = item_of(report, "invariants")
    assert code == 1 and item["severity"] == "critical"
    assert "pgaudit_kit_capture_update on public.accounts is not enabled ALWAYS" in item["finding"]
    assert item["details"]["problems"][0]["kind"] == "coverage_trigger"
    with guards_off(env.conn):
        env.conn.execute("ALTER TABLE accounts ENABLE ALWAYS TRIGGER pgaudit_kit_capture_update")
    assert env.item("invariants")["severity"] == "ok"


def test_kit_function_replaced_behind_the_kits_back_is_critical(env: Env) -> None:
    """doctor compares each kit function with what its revision shipped (pgaudit_kit/shipped_functions)."""
    assert env.item("kit_functions")["severity"] == "ok"
    with guards_off(env.conn):
        env.conn.execute("CREATE OR REPLACE FUNCTION pgaudit_kit.in_maintenance() RETURNS boolean LANGUAGE sql "
                         "STABLE SECURITY DEFINER SET search_path = '' AS $$ SELECT true $$")
        env.conn.execute("GRANT EXECUTE ON FUNCTION pgaudit_kit.seal(integer, boolean) TO PUBLIC")
    code, report = env.doctor()
    item = item_of(report, "kit_functions")
    assert code == 1 and item["severity"] == "critical"
    newest = shipped.newest_revision()
    assert item["details"]["drift"] == [
        f"pgaudit_kit.in_maintenance differs from what revision {newest} shipped (source)",
        f"pgaudit_kit.seal differs from what revision {newest} shipped (grantees)"]
    assert "--overwrite-drift" in item["advice"]


def test_disabled_event_trigger_is_critical_until_enabled_always_again(env: Env) -> None:
    assert env.item("event_triggers")["severity"] == "ok"
    env.conn.execute("ALTER EVENT TRIGGER pgaudit_kit_guard_drop DISABLE")
    try:
        _, report = env.doctor()
        item = item_of(report, "event_triggers")
        assert item["severity"] == "critical" and "pgaudit_kit_guard_drop is not enabled ALWAYS (state D)" in item["finding"]
        assert item_of(report, "invariants")["severity"] == "critical"
        env.conn.execute("ALTER EVENT TRIGGER pgaudit_kit_guard_drop ENABLE")  # enabled, but not ALWAYS
        assert "(state O)" in env.item("event_triggers")["finding"]
    finally:
        env.conn.execute("ALTER EVENT TRIGGER pgaudit_kit_guard_drop ENABLE ALWAYS")
    assert env.item("event_triggers")["severity"] == "ok"


def test_event_triggers_setting_off_is_critical_and_grants_on_it_a_warning(env: Env) -> None:
    item = env.item("event_trigger_control")
    assert item["severity"] == "ok"
    if env.cluster.major < 17:
        assert "has no event_triggers setting" in item["finding"]
        with pytest.raises(psycopg.errors.UndefinedObject):
            env.conn.execute("SET event_triggers = off")
        return
    # what it protects against, for real: with the setting off, a superuser's DDL passes no guard at all
    with env.conn.transaction():
        env.conn.execute("SET LOCAL event_triggers = off")
        env.conn.execute("ALTER TABLE accounts DISABLE TRIGGER pgaudit_kit_capture_insert")
    assert env.item("invariants")["severity"] == "critical"
    with env.conn.transaction():
        env.conn.execute("SET LOCAL event_triggers = off")
        env.conn.execute("ALTER TABLE accounts ENABLE ALWAYS TRIGGER pgaudit_kit_capture_insert")
    db = sql.Identifier(env.dbname)
    env.conn.execute(sql.SQL("ALTER DATABASE {} SET event_triggers = off").format(db))
    try:
        item = env.item("event_trigger_control")
        assert item["severity"] == "critical"
        assert f"set to off for database {env.dbname}" in item["finding"]
    finally:
        env.conn.execute(sql.SQL("ALTER DATABASE {} RESET event_triggers").format(db))
    assert env.item("event_trigger_control")["severity"] == "ok"
    dba = env.role("dba")
    env.conn.execute(sql.SQL("GRANT SET ON PARAMETER event_triggers TO {}").format(sql.Identifier(dba)))
    try:
        item = env.item("event_trigger_control")
        assert item["severity"] == "warning" and f"{dba} (SET)" in item["finding"]
    finally:
        env.conn.execute(sql.SQL("REVOKE SET ON PARAMETER event_triggers FROM {}").format(sql.Identifier(dba)))
    assert env.item("event_trigger_control")["severity"] == "ok"


def test_lockdown_is_a_warning_until_unlocked(env: Env) -> None:
    assert env.item("lockdown")["finding"] == "not locked down (never was)"
    assert cli("lockdown", "--reason", "INC-1: investigating", dsn=env.dsn).exit_code == 0
    item = env.item("lockdown")
    assert item["severity"] == "warning" and "INC-1: investigating" in item["finding"]
    assert item["details"]["locked"] is True and "unlock" in item["advice"]
    assert cli("unlock", "--reason", "INC-1 closed", dsn=env.dsn).exit_code == 0
    item = env.item("lockdown")
    assert item["severity"] == "ok" and "last unlocked" in item["finding"]


def test_lockdown_changed_behind_the_kits_back_is_critical(env: Env) -> None:
    assert cli("lockdown", "--reason", "INC-2", dsn=env.dsn).exit_code == 0
    # an unlock written straight into the table, as any role that may INSERT there can: no control event
    env.conn.execute("INSERT INTO pgaudit_kit.lockdown_event (locked, reason, acted_by) VALUES (false, 'x', 'admin')")
    env.conn.execute("INSERT INTO accounts VALUES (3, 'cy', 30)")  # the lockdown no longer holds
    item = env.item("lockdown")
    assert item["severity"] == "critical" and "without the kit's function" in item["finding"]
    assert [(r["locked"], r["reason"]) for r in item["details"]["unrecorded"]] == [(False, "x")]
    assert cli("lockdown", "--reason", "INC-2 again", dsn=env.dsn).exit_code == 0
    assert env.item("lockdown")["severity"] == "critical"  # append-only: the forged row stays on record


# ---------------------------------------------------------------------------------------------------
# roles


def test_second_login_superuser_is_a_warning_and_so_is_membership_in_one(env: Env) -> None:
    item = env.item("superusers")
    assert item["severity"] == "info", item  # the installing superuser
    extra = env.role("super", "SUPERUSER")
    item = env.item("superusers")
    assert item["severity"] == "warning" and extra in item["finding"]
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(extra)))
    assert env.item("superusers")["severity"] == "info"
    member = env.role("member")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(extra), sql.Identifier(member)))
    _, report = env.doctor()
    assert item_of(report, "superusers")["severity"] == "warning"
    assert f"{member} (member of {extra})" in item_of(report, "superusers")["finding"]
    writers = item_of(report, "kit_table_writers")
    assert writers["severity"] == "critical" and f"{member} (via {extra})" in writers["finding"]


def test_bypassrls_role_is_listed(env: Env) -> None:
    assert env.item("bypassrls")["severity"] == "ok"
    role = env.role("rls", "BYPASSRLS")
    item = env.item("bypassrls")
    assert item["severity"] == "info" and role in item["finding"] and "pgaudit_kit_owner" not in item["finding"]
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(role)))
    assert env.item("bypassrls")["severity"] == "ok"


def test_createrole_is_critical_before_postgresql_16(env: Env) -> None:
    assert env.item("createrole")["severity"] == "ok"
    dba = env.role("dba", "CREATEROLE")
    item = env.item("createrole")
    assert dba in item["finding"]
    # the reason, on this very server: can CREATEROLE make itself a member of the kit's owner?
    with env.connect_as(dba) as conn:
        try:
            conn.execute(sql.SQL("GRANT pgaudit_kit_owner TO {}").format(sql.Identifier(dba)))
            granted = True
        except psycopg.errors.InsufficientPrivilege:
            granted = False
    assert granted == (env.cluster.major <= 15)
    if granted:
        assert item["severity"] == "critical"
        _, report = env.doctor()
        assert item_of(report, "kit_roles")["severity"] == "critical"
        assert dba in item_of(report, "kit_table_writers")["finding"]
        with env.cluster.admin() as admin:
            admin.execute(sql.SQL("REVOKE pgaudit_kit_owner FROM {}").format(sql.Identifier(dba)))
    else:
        assert item["severity"] == "info" and "ADMIN OPTION" in item["advice"]
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} NOCREATEROLE").format(sql.Identifier(dba)))
    assert env.item("createrole")["severity"] == "ok"


def test_kit_owner_membership_or_login_is_critical(env: Env) -> None:
    assert env.item("kit_roles")["severity"] == "ok"
    member = env.role("owner")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pgaudit_kit_owner TO {}").format(sql.Identifier(member)))
    try:
        _, report = env.doctor()
        item = item_of(report, "kit_roles")
        assert item["severity"] == "critical" and member in item["finding"]
        assert f"{member} (via pgaudit_kit_owner)" in item_of(report, "kit_table_writers")["finding"]
    finally:
        with env.cluster.admin() as admin:
            admin.execute(sql.SQL("REVOKE pgaudit_kit_owner FROM {}").format(sql.Identifier(member)))
    assert env.item("kit_roles")["severity"] == "ok"
    with env.cluster.admin() as admin:
        admin.execute("ALTER ROLE pgaudit_kit_owner LOGIN")
    try:
        item = env.item("kit_roles")
        assert item["severity"] == "critical" and "pgaudit_kit_owner can log in" in item["finding"]
    finally:
        with env.cluster.admin() as admin:
            admin.execute("ALTER ROLE pgaudit_kit_owner NOLOGIN")
    assert env.item("kit_roles")["severity"] == "ok"


def test_admin_and_reader_members_are_listed_with_admin_option(env: Env) -> None:
    admin_role, reader_role = env.role("admin"), env.role("reader")
    assert cli("grant", "admin", admin_role, dsn=env.dsn).exit_code == 0
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pgaudit_kit_reader TO {} WITH ADMIN OPTION").format(sql.Identifier(reader_role)))
    item = env.item("kit_roles")
    assert item["severity"] == "info"
    assert f"pgaudit_kit_admin: {admin_role};" in item["finding"]
    assert f"{reader_role} (ADMIN OPTION)" in item["finding"] and "not recorded" in item["advice"]


def test_pg_write_all_data_is_refused_by_row_level_security_but_reaches_the_sequences(env: Env) -> None:
    assert env.item("kit_table_writers")["severity"] == "ok"
    writer = env.role("writer")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pg_write_all_data TO {}").format(sql.Identifier(writer)))
    item = env.item("kit_table_writers")
    assert item["severity"] == "warning" and f"{writer} (via pg_write_all_data)" in item["finding"]
    assert item["details"]["writers"] == []
    (refused,) = item["details"]["refused_by_row_security"]
    assert refused["role"] == writer and "INSERT ON pgaudit_kit.event" in refused["privileges"]
    (other,) = item["details"]["sequence_or_version_writers"]
    assert "UPDATE ON pgaudit_kit.event_id_seq" in other["privileges"]
    assert "UPDATE ON pgaudit_kit.lockdown_event_id_seq" in other["privileges"]
    # the reasons, for real: INSERT into history is refused (no INSERT policy), setval is not
    with env.connect_as(writer) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO pgaudit_kit.maintenance (xid, reason) VALUES (pg_current_xact_id(), 'forged')")
        conn.execute("SELECT setval('pgaudit_kit.event_id_seq', 1)")
    with pytest.raises(psycopg.errors.UniqueViolation):  # every audited write now fails (fail-closed)
        env.conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
    env.conn.execute("SELECT setval('pgaudit_kit.event_id_seq', (SELECT max(id) FROM pgaudit_kit.event))")
    env.conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")

    # with row-level security switched off on one table (a superuser with the guards off), the role writes it
    with guards_off(env.conn):
        env.conn.execute("ALTER TABLE pgaudit_kit.lockdown_event DISABLE ROW LEVEL SECURITY")
    _, report = env.doctor()
    item = item_of(report, "kit_table_writers")
    assert item["severity"] == "critical" and f"{writer} (via pg_write_all_data)" in item["finding"]
    assert "switched off on pgaudit_kit.lockdown_event" in item["finding"]
    assert item["details"]["writers"][0]["privileges"] == [
        "DELETE ON pgaudit_kit.lockdown_event", "INSERT ON pgaudit_kit.lockdown_event",
        "UPDATE ON pgaudit_kit.lockdown_event"]
    assert item_of(report, "invariants")["severity"] == "critical"
    with env.connect_as(writer) as conn:
        conn.execute("INSERT INTO pgaudit_kit.lockdown_event (locked, reason, acted_by) VALUES (false, 'x', 'y')")
    # switched back on the way the advice says: in a recorded maintenance window
    with env.conn.transaction():
        env.conn.execute("SELECT pgaudit_kit.begin_maintenance('restore row-level security')")
        env.conn.execute("ALTER TABLE pgaudit_kit.lockdown_event ENABLE ROW LEVEL SECURITY")
    _, report = env.doctor()
    assert item_of(report, "kit_table_writers")["severity"] == "warning"
    assert item_of(report, "invariants")["severity"] == "ok"

    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("REVOKE pg_write_all_data FROM {}").format(sql.Identifier(writer)))
    item = env.item("kit_table_writers")
    assert item["severity"] == "ok" and item["details"]["refused_by_row_security"] == []


def test_row_level_security_refusal_is_reported_in_the_ok_finding(env: Env) -> None:
    writer = env.role("writer")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # refused while the guards run
        env.conn.execute(sql.SQL("GRANT INSERT ON pgaudit_kit.checkpoint TO {}").format(sql.Identifier(writer)))
    with guards_off(env.conn):
        env.conn.execute(sql.SQL("GRANT INSERT ON pgaudit_kit.checkpoint TO {}").format(sql.Identifier(writer)))
    _, report = env.doctor()
    item = item_of(report, "kit_table_writers")
    assert item["severity"] == "ok"
    assert item["finding"].endswith(f"; row-level security refuses the write privileges of {writer}")
    assert item_of(report, "invariants")["severity"] == "critical"  # the explicit grant: coverage_privilege


def test_bypassrls_with_pg_write_all_data_may_write_the_kit_tables_and_is_critical(env: Env) -> None:
    writer = env.role("bypass", "BYPASSRLS IN ROLE pg_write_all_data")
    _, report = env.doctor()
    item = item_of(report, "kit_table_writers")
    assert item["severity"] == "critical" and f"{writer} (BYPASSRLS, via pg_write_all_data)" in item["finding"]
    assert "INSERT ON pgaudit_kit.event" in item["details"]["writers"][0]["privileges"]
    assert item_of(report, "bypassrls")["severity"] == "info"
    with env.connect_as(writer) as conn:  # the reason, for real: BYPASSRLS skips row-level security
        conn.execute("INSERT INTO pgaudit_kit.lockdown_event (locked, reason, acted_by) VALUES (false, 'x', 'y')")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(writer)))
    assert env.item("kit_table_writers")["severity"] == "warning"  # the sequences remain


def test_pg_read_all_data_reads_history_through_the_view_but_not_the_key(env: Env) -> None:
    assert env.item("redaction_key_readers")["severity"] == "ok"
    reader = env.role("readall")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(reader)))
    item = env.item("redaction_key_readers")
    assert item["severity"] == "info" and item["details"]["readers"] == []
    assert f"through the kit's views: {reader} (via pg_read_all_data)" in item["finding"]
    assert item["details"]["refused_by_row_security"][0]["privileges"] == ["SELECT ON pgaudit_kit.redaction_key"]
    with env.connect_as(reader) as conn:  # the reasons, for real
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.redaction_key").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pgaudit_kit.event").fetchone() == (0,)
        row = conn.execute("SELECT count(*) FROM pgaudit_kit.change WHERE operation = 'INSERT'").fetchone()
        assert row is not None and row[0] >= 2
    # a policy that opens the key (a superuser with the guards off): the role reads it
    with guards_off(env.conn):
        env.conn.execute("CREATE POLICY pgaudit_kit_review ON pgaudit_kit.redaction_key FOR SELECT USING (true)")
    item = env.item("redaction_key_readers")
    assert item["severity"] == "warning" and f"{reader} (via pg_read_all_data)" in item["finding"]
    with env.connect_as(reader) as conn:
        assert conn.execute("SELECT length(ipad) FROM pgaudit_kit.redaction_key").fetchone() == (64,)
    with guards_off(env.conn):
        env.conn.execute("DROP POLICY pgaudit_kit_review ON pgaudit_kit.redaction_key")
    assert env.item("redaction_key_readers")["severity"] == "info"
    # a kit reader with pg_read_all_data is a reviewer: not listed, and the key stays hidden
    assert cli("grant", "reader", reader, dsn=env.dsn).exit_code == 0
    item = env.item("redaction_key_readers")
    assert item["severity"] == "ok" and item["finding"].endswith(f"hides it from {reader} (via pg_read_all_data)")


def test_bypassrls_with_pg_read_all_data_reads_the_key_and_replication_roles_are_info(env: Env) -> None:
    reader = env.role("readall", "BYPASSRLS IN ROLE pg_read_all_data")
    item = env.item("redaction_key_readers")
    assert item["severity"] == "warning" and f"{reader} (BYPASSRLS, via pg_read_all_data)" in item["finding"]
    with env.connect_as(reader) as conn:  # the reason, for real
        assert conn.execute("SELECT length(ipad) FROM pgaudit_kit.redaction_key").fetchone() == (64,)
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("REVOKE pg_read_all_data FROM {}").format(sql.Identifier(reader)))
        admin.execute(sql.SQL("ALTER ROLE {} REPLICATION").format(sql.Identifier(reader)))
    item = env.item("redaction_key_readers")
    assert item["severity"] == "info" and f"REPLICATION (can copy the whole cluster, key included): {reader}" in \
        item["finding"]
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} NOREPLICATION").format(sql.Identifier(reader)))
    assert env.item("redaction_key_readers")["severity"] == "ok"


def test_owners_of_enrolled_tables_and_partitions_are_listed(env: Env) -> None:
    assert env.item("table_owners")["finding"] == "enrolled tables are owned by superusers only"
    owner, migrator = env.role("owner"), env.role("migrator")
    nologin = f"doc_nologin_{uuid.uuid4().hex[:6]}"
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(nologin)))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(nologin), sql.Identifier(migrator)))
    env.roles.append(nologin)
    env.conn.execute("CREATE TABLE ledger (id int, amount int) PARTITION BY RANGE (id)")
    env.conn.execute("CREATE TABLE ledger_1 PARTITION OF ledger FOR VALUES FROM (0) TO (100)")
    enable(env.conn, "ledger")
    env.conn.execute(sql.SQL("ALTER TABLE accounts OWNER TO {}").format(sql.Identifier(owner)))
    env.conn.execute(sql.SQL("ALTER TABLE ledger_1 OWNER TO {}").format(sql.Identifier(nologin)))
    item = env.item("table_owners")
    assert item["severity"] == "info"
    assert item["finding"] == (f"owners of enrolled tables: {', '.join(sorted([owner, nologin]))}; login roles "
                               f"with owner rights: {', '.join(sorted([owner, migrator]))}")
    assert {o["owner"]: o["tables"] for o in item["details"]["owners"]}[nologin] == ["public.ledger_1"]
    # what an owner cannot do while the guards run, for real
    env.conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(owner)))
    with env.connect_as(owner) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("ALTER TABLE accounts DISABLE TRIGGER ALL")
    env.conn.execute("ALTER TABLE accounts OWNER TO CURRENT_USER")
    env.conn.execute("ALTER TABLE ledger_1 OWNER TO CURRENT_USER")
    env.conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(sql.Identifier(owner)))
    assert env.item("table_owners")["severity"] == "ok"


# ---------------------------------------------------------------------------------------------------
# settings


def test_log_statement_none_is_a_warning_also_per_role(env: Env) -> None:
    db = sql.Identifier(env.dbname)
    env.conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'none'").format(db))
    item = env.item("log_statement")
    assert item["severity"] == "warning" and "log_statement = none" in item["finding"]
    env.conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'ddl'").format(db))
    item = env.item("log_statement")
    assert (item["severity"], item["finding"]) == ("ok", "log_statement = ddl")
    quiet = env.role("quiet")
    with env.cluster.admin() as admin:
        admin.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'none'").format(sql.Identifier(quiet)))
    item = env.item("log_statement")
    assert item["severity"] == "warning" and f"set to none for role {quiet}" in item["finding"]


def test_log_connections_off_is_a_warning_and_disconnections_info(env: Env) -> None:
    with system_setting(env.cluster, "log_connections", "off"), \
            system_setting(env.cluster, "log_disconnections", "off"):
        _, report = env.doctor()
        assert item_of(report, "log_connections")["severity"] == "warning"
        assert item_of(report, "log_disconnections")["severity"] == "info"
    with system_setting(env.cluster, "log_connections", "on"), \
            system_setting(env.cluster, "log_disconnections", "on"):
        _, report = env.doctor()
        assert item_of(report, "log_connections")["severity"] == "ok"
        assert item_of(report, "log_disconnections")["severity"] == "ok"


# ---------------------------------------------------------------------------------------------------
# backlog, checkpoint, verify


def test_backlog_older_than_the_limit_is_a_warning_until_sealed(env: Env) -> None:
    assert cli("seal", dsn=env.dsn).exit_code == 0
    assert env.item("backlog", "--max-backlog-age", "1s")["severity"] == "ok"
    with psycopg.connect(env.dsn) as blocker:  # an open transaction with an xid holds sealing back
        blocker.execute("SELECT pg_current_xact_id()")
        env.conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
        time.sleep(1.2)
        item = env.item("backlog", "--max-backlog-age", "1s")
        assert item["severity"] == "warning" and "not yet sealed" in item["finding"]
        assert item["details"]["unsealed_events"] >= 1 and item["details"]["oldest_unsealed_age_seconds"] > 1
        blocker.rollback()
    assert cli("seal", dsn=env.dsn).exit_code == 0
    assert env.item("backlog", "--max-backlog-age", "1s")["severity"] == "ok"


def test_last_checkpoint_missing_then_fresh_then_late(env: Env) -> None:
    item = env.item("last_checkpoint")
    assert item["severity"] == "warning" and item["finding"] == "no checkpoint has ever been made"
    env.checkpoint()
    item = env.item("last_checkpoint")
    assert item["severity"] == "ok" and item["finding"].startswith("newest checkpoint #1 (log size ")
    time.sleep(0.05)
    item = env.item("last_checkpoint", "--max-checkpoint-age", "0s")
    assert item["severity"] == "warning" and "(more than 0s)" in item["finding"]


def test_last_clean_verify_is_reported_as_self_reported_and_a_failed_one_is_critical(env: Env) -> None:
    item = env.item("last_verify")
    assert item["severity"] == "warning" and item["finding"] == "verify has never recorded an outcome"
    env.checkpoint()
    env.verify(expect=0)
    item = env.item("last_verify")
    assert item["severity"] == "ok" and item["finding"].startswith("last clean verify (full) recorded ")
    assert item["finding"].endswith(" ago by postgres") and "self-reported" in item["advice"].lower()
    assert item["details"]["last"]["event_id"] == item["details"]["last_clean"]["event_id"]
    time.sleep(0.05)
    assert env.item("last_verify", "--max-verify-age", "0s")["severity"] == "warning"
    # rewrite sealed history as a superuser would; the next verify records its findings
    with guards_off(env.conn):
        env.conn.execute("UPDATE pgaudit_kit.event SET row_data = row_data || '{\"balance\": \"99\"}' "
                         "WHERE id = (SELECT min(id) FROM pgaudit_kit.event WHERE op = 'I')")
    env.verify(expect=1)
    item = env.item("last_verify")
    assert item["severity"] == "critical" and "event_modified: 1" in item["finding"]
    assert "; last clean verify recorded " in item["finding"]


# ---------------------------------------------------------------------------------------------------
# files: the anchor directory and the key


def test_anchor_dir_missing_empty_loose_then_anchored(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    item = env.item("anchor_dir")
    assert item["severity"] == "warning" and "no anchor directory given" in item["finding"]
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "warning" and "does not exist" in item["finding"]
    env.anchors.mkdir(mode=0o700)
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "warning" and "no checkpoint of this database" in item["finding"]
    env.checkpoint()
    (folder,) = env.anchors.iterdir()
    folder.chmod(0o755)
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "ok" and item["details"]["anchored"] == 1
    env.anchors.chmod(0o777)
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "warning" and f"{env.anchors} (mode 0777)" in item["finding"]
    env.anchors.chmod(0o700)
    # a checkpoint made without --anchor-dir never reaches the anchor store
    env.conn.execute("UPDATE accounts SET balance = 0 WHERE id = 2")
    env.checkpoint(anchored=False)
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "warning" and "is not anchored here" in item["finding"]
    env.checkpoint()
    monkeypatch.setenv("PGAUDIT_KIT_ANCHOR_DIR", str(env.anchors))
    assert env.item("anchor_dir")["severity"] == "ok"


def test_anchor_beyond_the_log_is_critical(env: Env) -> None:
    env.checkpoint()
    (folder,) = env.anchors.iterdir()
    folder.chmod(0o755)
    (note,) = folder.glob("*.note")
    beyond = folder / f"{10 ** 6:020d}-{'0' * 16}.note"  # as left by checkpoints of a longer log
    beyond.write_text(note.read_text())
    beyond.chmod(0o444)
    item = env.item("anchor_dir", "--anchor-dir", str(env.anchors))
    assert item["severity"] == "critical" and "an older backup restored" in item["finding"]


def test_key_file_mode_and_signer(env: Env) -> None:
    assert env.item("key_file")["severity"] == "info"
    env.checkpoint()
    assert env.key.stat().st_mode & 0o777 == 0o600  # as keygen wrote it
    item = env.item("key_file", "--key", str(env.key))
    assert item["severity"] == "ok" and item["finding"] == "private key audit is mode 0600 and signed the newest checkpoint"
    env.key.chmod(0o644)
    item = env.item("key_file", "--key", str(env.key))
    assert item["severity"] == "critical" and "(mode 0644)" in item["finding"] and "chmod 600" in item["advice"]
    env.key.chmod(0o600)
    assert env.item("key_file", "--key", str(env.key))["severity"] == "ok"
    assert cli("keygen", "--name", "other", "--out", str(env.tmp / "other")).exit_code == 0
    item = env.item("key_file", "--key", str(env.tmp / "other.key"))
    assert item["severity"] == "warning" and "is not signed by other" in item["finding"]
    item = env.item("key_file", "--key", str(env.tmp / "missing.key"))
    assert item["severity"] == "warning" and "cannot read private key" in item["finding"]
