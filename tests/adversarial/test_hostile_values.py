"""Issue 14, item 7: verification survives any stored value.

A superuser with the guards off may set any column of any kit table to any value its type admits. Whatever
it is, `verify` must report findings naming the event, block or object (exit 0 or 1), never stop with an
error, and go on to report everything else; `status`, `doctor`, `reconcile`, `prove` and the review commands
report rather than crash (never exit 4, never a traceback).

One audited baseline (enrolled table, transactions, sealed, checkpointed twice, anchored, verified) is built
per module in a database that is then copied as a template; every example drops the working database and
copies it back under the same name, so the log's origin (which names the database) stays the same and the
baseline's checkpoints, anchors and trusted state apply unchanged. Hypothesis draws one to three edits (a
table, a column, a value of the column's type) and applies them with the guards off; a value a constraint of
the table refuses is not admitted, and the draw is rejected.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.adversarial.test_integrity_adversarial import Audited, build_history
from tests.support import reference_agreement
from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import cli, enable, guards_off

Conn = psycopg.Connection[Any]

I64 = 2**63 - 1
U64 = 2**64 - 1

# ---------------------------------------------------------------------------------------------------
# values, per PostgreSQL type, as SQL literals (text passed as a parameter and cast), None for NULL


def _ints(lo: int, hi: int) -> st.SearchStrategy[str]:
    edges = [lo, hi, 0, -1, 1, 2**31 - 1, -(2**31), 2**32, 2**53 + 1]
    return (st.sampled_from([e for e in edges if lo <= e <= hi]) | st.integers(lo, hi)).map(str)


ODD_TEXT = ["", " ", "NULL", "\\x00", "'; --", "\u202egnp.exe", "\U0001f600" * 3, "\ufeff", "a\nb\tc\r",
            "\u0301", "x" * 100000, "\U0010ffff", "{", "[1,2]", "infinity"]
TEXT = st.sampled_from(ODD_TEXT) | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                                           max_size=40)
TIMESTAMPS = st.sampled_from([
    "infinity", "-infinity", "epoch", "4713-01-01 00:00:00+00 BC", "294276-12-31 23:59:59.999999+00",
    "2000-01-01 00:00:00.000001+00", "1999-12-31 23:59:59.999999+14", "0001-01-01 00:00:00+00",
]) | st.datetimes().map(lambda d: d.isoformat() + "+00")
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False,
                                                                                    allow_infinity=False) | TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner,
                                                                                                   max_size=3),
                           max_leaves=8).map(json.dumps)
JSONB = st.sampled_from([
    "1e400", "-1e400", "1e-400", "-0", "0", "[]", "{}", "null", "true", '"x"', "[null]", '{"": null}',
    '{"id": 1e400}', '{"action": "enable", "old_relid": 1e400, "options": 7}', '{"action": []}',
    '{"a": {"b": [1, {"c": null}]}}', '[{"id": "1"}]', '{"old_relid": "x", "action": "rename"}',
    '"' + "y" * 50000 + '"',
]) | JSON_VALUES
BYTEA = st.sampled_from([b"", b"\x00" * 31, b"\x00" * 32, b"\xff" * 33, b"\x00" * 64]) | st.binary(max_size=70)


def _bytea_literal(value: bytes | None) -> str:
    return "NULL" if value is None else '"\\\\x' + value.hex() + '"'


BYTEA_ARRAYS = st.sampled_from(["{}", "{NULL}", '{{"\\\\x00"},{"\\\\x01"}}', "[0:0]={\"\\\\x\"}"]) | st.lists(
    st.none() | BYTEA, max_size=4).map(lambda items: "{" + ",".join(map(_bytea_literal, items)) + "}")
BIGINT_ARRAYS = st.sampled_from(["{}", "{NULL}", "{{1,2},{3,4}}", "[0:1]={1,2}", "[5:5]={1}",
                                 "{-9223372036854775808,9223372036854775807}"]) | st.lists(
    st.none() | st.integers(-(2**63), I64), max_size=12).map(
        lambda items: "{" + ",".join("NULL" if i is None else str(i) for i in items) + "}")
TEXT_ARRAYS = st.sampled_from(["{}", "{NULL}", '{"",""}', "{{a,b},{c,d}}", '{"x\\"y"}']) | st.lists(
    st.none() | TEXT.filter(lambda s: len(s) < 100), max_size=3).map(
        lambda items: "{" + ",".join("NULL" if i is None else json.dumps(i) for i in items) + "}")

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "bigint": _ints(-(2**63), I64),
    "integer": _ints(-(2**31), 2**31 - 1),
    "oid": _ints(0, 2**32 - 1),
    "xid8": _ints(0, U64) | st.sampled_from([str(U64), str(2**63), str(I64), "3"]),
    "timestamp with time zone": TIMESTAMPS,
    "text": TEXT,
    "jsonb": JSONB,
    "bytea": BYTEA,
    "bytea[]": BYTEA_ARRAYS,
    "bigint[]": BIGINT_ARRAYS,
    "text[]": TEXT_ARRAYS,
    '"char"': st.sampled_from(["", "X", "I", "R", "\u00e9", "\x01", "\\", "Z"]),
    "boolean": st.sampled_from(["true", "false"]),
    "uuid": st.uuids().map(str) | st.sampled_from(["00000000-0000-0000-0000-000000000000"]),
    "inet": st.sampled_from(["::1", "255.255.255.255/0", "10.0.0.1/8", "::ffff:1.2.3.4/128", "0.0.0.0"]),
}

# The tables a superuser might edit, and the column of each that orders its rows (to pick one).
TABLES = {"event": "id", "transaction": "xid", "block": "block_no", "checkpoint": "id", "install": "install_id",
          "enrolled_table": "relid", "maintenance": "xid", "lockdown_event": "id"}
# What verify must report when changed (a value sealed in a leaf or a block hash, or a signed note).
SEALED = {"event": None, "transaction": None, "checkpoint": {"note"},
          "block": {"block_no", "first_seq", "tree_size", "root", "last_xid", "last_event_id", "last_xid_events",
                    "last_xid_sealed", "event_ids", "leaves", "prev_hash", "block_hash", "sealed_at"}}


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    type: str
    nullable: bool


def _columns(conn: Conn) -> list[Column]:
    rows = conn.execute(
        """SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'pgaudit_kit'::regnamespace AND c.relname = ANY(%s)
              AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, a.attnum""", (list(TABLES),)).fetchall()
    return [Column(*r) for r in rows]


@dataclass(frozen=True)
class Edit:
    column: Column
    row: int  # which row (by TABLES' order column), modulo the table's row count
    value: Any  # SQL literal text, bytes for bytea, None for NULL

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        shown = self.value if not isinstance(self.value, str) or len(self.value) < 80 else self.value[:40] + "..."
        return f"Edit({self.column.table}.{self.column.name} row {self.row} := {shown!r}::{self.column.type})"


def edits(columns: list[Column]) -> st.SearchStrategy[list[Edit]]:
    def one(column: Column) -> st.SearchStrategy[Edit]:
        value = VALUES[column.type]
        if column.nullable:
            value = st.none() | value
        return st.builds(Edit, st.just(column), st.integers(0, 40), value)

    return st.lists(st.sampled_from(columns).flatmap(one), min_size=1, max_size=3)


# ---------------------------------------------------------------------------------------------------
# the baseline


@dataclass
class Baseline:
    cluster: Cluster
    template: str
    work: str
    tmp: Path
    state: str  # the trusted state the baseline's clean verification wrote
    columns: list[Column]

    @property
    def dsn(self) -> str:
        return self.cluster.dsn(self.work)

    def fresh(self) -> Audited:
        """The working database copied back from the template, under its own name (same origin)."""
        self.cluster.drop_database(self.work)
        with self.cluster.admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY" if self.cluster.major >= 15
                                  else "CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(self.work), sql.Identifier(self.template)))
        (self.tmp / "audit.state").write_text(self.state)
        conn = psycopg.connect(self.dsn, autocommit=True)
        return Audited(self.cluster, self.dsn, self.work, conn, self.tmp, key=self.tmp / "audit.key",
                       pub=self.tmp / "audit.pub", anchor_dir=self.tmp / "anchors", state=self.tmp / "audit.state")


@pytest.fixture(scope="module")
def baseline(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    tmp = tmp_path_factory.mktemp("hostile")
    work = cluster.create_database(TEMPLATE_INSTALLED)
    dsn = cluster.dsn(work)
    conn = psycopg.connect(dsn, autocommit=True)
    a = Audited(cluster, dsn, str(conninfo_to_dict(dsn)["dbname"]), conn, tmp, key=tmp / "audit.key",
                pub=tmp / "audit.pub", anchor_dir=tmp / "anchors", state=tmp / "audit.state")
    template = f"{work}_tpl"
    try:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
        enable(conn, "accounts")
        assert cli("keygen", "--name", "audit", "--out", str(tmp / "audit")).exit_code == 0
        build_history(a)
        code, report = a.verify()
        assert (code, report["findings"], report["state_written"]) == (0, [], True), report
        a.seal()  # every event is sealed: whatever an edit changes in the event table was sealed
        columns = _columns(conn)
        conn.close()
        with cluster.admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(template),
                                                                          sql.Identifier(work)))
        yield Baseline(cluster, template, work, tmp, a.state.read_text(), columns)
    finally:
        conn.close()
        cluster.drop_database(work)
        cluster.drop_database(template)
        shutil.rmtree(tmp, ignore_errors=True)


def test_every_column_has_a_strategy(baseline: Baseline) -> None:
    """A new column of a kit table must get its values here too."""
    assert {c.table for c in baseline.columns} == set(TABLES)
    assert {c.type for c in baseline.columns} <= set(VALUES), {c.type for c in baseline.columns} - set(VALUES)


# ---------------------------------------------------------------------------------------------------
# applying edits and running the commands


def apply(conn: Conn, edit: Edit, columns: list[Column]) -> bool:
    """Apply *edit*; returns whether it changed a sealed value. Rejects the draw when the table refuses it."""
    column, table = edit.column, edit.column.table
    count = conn.execute(sql.SQL("SELECT count(*) FROM pgaudit_kit.{}").format(sql.Identifier(table))).fetchone()
    assert count is not None
    if not count[0]:
        reject()
    value = sql.SQL("%s::bytea") if column.type == "bytea" else sql.SQL("%s::text::") + sql.SQL(column.type)
    names = [c.name for c in columns if c.table == table]
    # an identity column (GENERATED ALWAYS) takes no UPDATE: delete the row and insert it back, edited
    statement = sql.SQL(
        "WITH d AS (DELETE FROM pgaudit_kit.{table} WHERE ctid = (SELECT ctid FROM pgaudit_kit.{table} "
        "ORDER BY {order} OFFSET %s LIMIT 1) AND {col} IS DISTINCT FROM {value} RETURNING *) "
        "INSERT INTO pgaudit_kit.{table} ({cols}) OVERRIDING SYSTEM VALUE SELECT {edited} FROM d").format(
        table=sql.Identifier(table), col=sql.Identifier(column.name), value=value,
        order=sql.Identifier(TABLES[table]), cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        edited=sql.SQL(", ").join(value if n == column.name else sql.Identifier("d", n) for n in names))
    try:
        with conn.transaction():
            changed = conn.execute(statement, (edit.row % count[0], edit.value, edit.value)).rowcount
    except (psycopg.IntegrityError, psycopg.DataError):
        reject()  # not admitted: a constraint (or the type's input) refuses it
    sealed_columns = SEALED.get(table, set())
    sealed = table in SEALED and (sealed_columns is None or column.name in sealed_columns)
    return bool(changed) and sealed


def _sane(result: Result, what: str) -> None:
    """Reported, not crashed: never exit 4 (internal error), never a traceback."""
    assert result.exit_code != 4, (what, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (what, result.stderr)


def _verify(a: Audited, *extra: str) -> dict[str, Any]:
    reference = reference_agreement.reference_report(a.dsn, a.pub, a.anchor_dir)
    result = cli("verify", "--format", "json", "--anchor-dir", str(a.anchor_dir), "--public-key", str(a.pub),
                 *extra, dsn=a.dsn)
    _sane(result, f"verify {extra}")
    assert result.exit_code in (0, 1), (extra, result.exit_code, result.stdout[-2000:], result.stderr[-2000:])
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["clean"] == (result.exit_code == 0) == (not report["findings"])
    reference_agreement.assert_agrees(reference, report)
    for finding in report["findings"]:
        if finding["kind"] == "state_origin":  # about the state file the command was given as a whole
            continue
        assert any(finding.get(k) is not None for k in ("event_id", "seq", "block_no", "object")), finding
    return report


def check_commands(a: Audited, changed_sealed: bool, *, event_id: int, xid: str) -> None:
    full = _verify(a, "--full")
    if changed_sealed:
        assert full["findings"], "a sealed value was changed and verify --full found nothing"
    _verify(a, "--state", str(a.state))
    for args in (["status"], ["status", "--format", "json"], ["doctor", "--format", "json"],
                 ["reconcile", "--format", "json"], ["log", "--format", "json", "--limit", "5"],
                 ["log", "--op", "all", "--limit", "5"], ["history", "public.accounts", "1"],
                 ["history", "public.accounts", "1", "--format", "json"], ["tx", xid], ["prove", str(event_id)]):
        _sane(cli(*args, dsn=a.dsn), " ".join(args))


def _target(a: Audited) -> tuple[int, str]:
    """An event of alice's (sealed, checkpointed) and its transaction, read before any edit."""
    row = a.conn.execute("SELECT e.id, e.xid::text FROM pgaudit_kit.event e JOIN pgaudit_kit.transaction t "
                         "USING (xid) WHERE t.actor = 'alice' ORDER BY e.id LIMIT 1").fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def run_edits(baseline: Baseline, edits: list[Edit]) -> None:
    a = baseline.fresh()
    try:
        event_id, xid = _target(a)
        with guards_off(a.conn):
            changed = [apply(a.conn, edit, baseline.columns) for edit in edits]
        check_commands(a, any(changed), event_id=event_id, xid=xid)
    finally:
        a.conn.close()


EXAMPLES = int(os.environ.get("PGAUDIT_KIT_HOSTILE_EXAMPLES", "40"))


def test_hostile_values_are_reported_never_a_crash(baseline: Baseline) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much])
    @given(edits(baseline.columns))
    def run(drawn: list[Edit]) -> None:
        run_edits(baseline, drawn)

    run()


# ---------------------------------------------------------------------------------------------------
# regressions: each crash the property test found, as a plain test


def edit_of(baseline: Baseline, table: str, column: str, value: Any, row: int = 0) -> Edit:
    (found,) = [c for c in baseline.columns if (c.table, c.name) == (table, column)]
    return Edit(found, row, value)


def _blocks(a: Audited) -> int:
    row = a.conn.execute("SELECT count(*) FROM pgaudit_kit.block").fetchone()
    assert row is not None
    return int(row[0])


def _full(a: Audited) -> list[tuple[Any, ...]]:
    report = _verify(a, "--full")
    return [(f["kind"], f.get("event_id"), f.get("block_no")) for f in report["findings"]]


@pytest.mark.parametrize("table, column", [("event", "statement_ts"), ("transaction", "xact_start"),
                                           ("block", "sealed_at")])
def test_timestamp_beyond_bigint_microseconds_is_a_finding(baseline: Baseline, table: str, column: str) -> None:
    """294276-12-31 23:59:59.999999+00 (the largest finite timestamptz) has more microseconds since 1970 than a
    bigint holds: verify stopped with "bigint out of range" (exit 4). Now the event's leaf or the block's hash
    no longer matches: event_modified / block_hash, and the run goes on."""
    edit = edit_of(baseline, table, column, "294276-12-31 23:59:59.999999+00")
    a = baseline.fresh()
    try:
        with guards_off(a.conn):
            assert apply(a.conn, edit, baseline.columns)
        kinds = {kind for kind, _, _ in _full(a)}
        assert kinds == ({"block_hash"} if table == "block" else {"event_modified"}), kinds
    finally:
        a.conn.close()
    run_edits(baseline, [edit])


@pytest.mark.parametrize("value", ["infinity", "-infinity", "294276-12-31 23:59:59.999999+00"])
def test_newest_block_sealed_at_out_of_datetime_range_is_shown_by_status(baseline: Baseline, value: str) -> None:
    """The newest block's sealed_at beyond Python's datetime stopped `status` and `doctor` (psycopg: "timestamp
    too large (after year 10K)", exit 4); they now show the stored value."""
    a = baseline.fresh()
    try:
        with guards_off(a.conn):
            a.conn.execute("UPDATE pgaudit_kit.block SET sealed_at = %s::timestamptz WHERE block_no = "
                           "(SELECT max(block_no) FROM pgaudit_kit.block)", (value,))
        result = cli("status", "--format", "json", dsn=a.dsn)
        _sane(result, "status")
        assert result.exit_code in (0, 1)
        if value.endswith("infinity"):
            assert json.dumps(value) in result.stdout
        _sane(cli("doctor", "--format", "json", dsn=a.dsn), "doctor")
    finally:
        a.conn.close()


@pytest.mark.parametrize("table, column", [("checkpoint", "created_at"), ("lockdown_event", "acted_at")])
@pytest.mark.parametrize("value", ["-infinity", "infinity", "294276-12-31 23:59:59.999999+00"])
def test_infinite_ages_are_reported_by_doctor(baseline: Baseline, table: str, column: str, value: str) -> None:
    """checkpoint.created_at = '-infinity' stopped `doctor` (OverflowError: cannot convert float infinity to
    integer, exit 4); an age is now bounded to a finite number of seconds, and the JSON stays JSON."""
    a = baseline.fresh()
    try:
        with guards_off(a.conn):
            if table == "lockdown_event":
                a.conn.execute("INSERT INTO pgaudit_kit.lockdown_event (locked, reason, acted_by, acted_at) "
                               "VALUES (false, 'x', 'x', %s::timestamptz)", (value,))
            else:
                a.conn.execute(f"UPDATE pgaudit_kit.{table} SET {column} = %s::timestamptz", (value,))
        result = cli("doctor", "--format", "json", dsn=a.dsn)
        _sane(result, "doctor")
        json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    finally:
        a.conn.close()


@pytest.mark.parametrize("xid", [str(2**63), str(U64)])
def test_xid_beyond_bigint_is_a_finding(baseline: Baseline, xid: str) -> None:
    """An event's xid (or a block's last_xid) at or past 2^63 overflowed `xid::text::int8` (exit 4)."""
    a = baseline.fresh()
    try:
        event_id, _ = _target(a)
        with guards_off(a.conn):
            a.conn.execute("UPDATE pgaudit_kit.event SET xid = %s::xid8 WHERE id = %s", (xid, event_id))
            a.conn.execute("UPDATE pgaudit_kit.block SET last_xid = %s::xid8 WHERE block_no = 0", (xid,))
        found = _full(a)
        assert ("block_hash", None, 0) in found and any(k == "event_missing" and e == event_id for k, e, _ in found)
    finally:
        a.conn.close()
    run_edits(baseline, [edit_of(baseline, "block", "last_xid", xid, row=2)])


@pytest.mark.parametrize("shaped", ["ARRAY[event_ids]",  # the same ids, one row of a two-dimensional array
                                    "('[0:' || cardinality(event_ids) - 1 || ']=' || event_ids::text)::bigint[]"])
def test_event_ids_of_another_shape_are_block_malformed(baseline: Baseline, shaped: str) -> None:
    """A block's event_ids made two-dimensional stopped verify (TypeError: unhashable type: 'list', exit 4),
    and `prove` (array_position on a multidimensional array). Now block_malformed; the ids are checked as
    the flat list they hold."""
    a = baseline.fresh()
    try:
        event_id, xid = _target(a)
        with guards_off(a.conn):
            a.conn.execute(f"UPDATE pgaudit_kit.block SET event_ids = {shaped}")
            edited = _blocks(a)
        assert sorted(set(_full(a))) == [("block_malformed", None, b) for b in range(edited)]
        check_commands(a, True, event_id=event_id, xid=xid)
    finally:
        a.conn.close()


def test_null_pk_column_name_is_a_malformed_enrolment(baseline: Baseline) -> None:
    """enrolled_table.pk_columns = '{NULL}' stopped pgaudit_kit.invariant_problems() (format('%I', NULL) while
    generating the capture function to compare with: verify and status exited 4); it is now reported as a
    malformed enrolment (revision 0007)."""
    run_edits(baseline, [edit_of(baseline, "enrolled_table", "pk_columns", "{NULL}")])


@pytest.mark.parametrize("column", ["pk_columns", "excluded_columns", "redacted_columns"])
@pytest.mark.parametrize("value", ["{{a,b},{c,d}}", "{NULL}"])
def test_column_lists_of_another_shape_are_shown_by_status(baseline: Baseline, column: str, value: str) -> None:
    """enrolled_table's column lists made two-dimensional or holding a NULL stopped `status` (TypeError:
    sequence item 0: expected str instance, list found; exit 4); status now lists them flattened, a NULL
    as "(null)". verify reports the enrolment (coverage_enrolment / coverage_capture_modified)."""
    run_edits(baseline, [edit_of(baseline, "enrolled_table", column, value)])


def test_maintenance_window_with_an_xid_past_bigint_is_a_finding(baseline: Baseline) -> None:
    """A maintenance window row whose xid is past 2^63 overflowed `xid::text::bigint` in coverage (exit 4);
    it is a window nobody recorded opening: coverage_guard."""
    a = baseline.fresh()
    try:
        with guards_off(a.conn):
            a.conn.execute("INSERT INTO pgaudit_kit.maintenance (xid, reason) VALUES (%s::xid8, 'forged')", (str(U64),))
        result = cli("verify", "--full", "--format", "json", dsn=a.dsn)
        assert result.exit_code == 1, result.stderr
        assert [f["kind"] for f in json.loads(result.stdout)["findings"]] == ["coverage_guard"]
    finally:
        a.conn.close()


def test_rebind_event_with_a_relid_that_is_no_oid_is_not_a_crash(baseline: Baseline) -> None:
    """A `rebind` control event whose old_relid is not a number stopped coverage's (int8 cast, exit 4)."""
    a = baseline.fresh()
    try:
        with guards_off(a.conn):
            a.conn.execute("UPDATE pgaudit_kit.event SET row_data = '{\"action\": \"rebind\", \"old_relid\": \"x\"}' "
                           "WHERE id = (SELECT min(id) FROM pgaudit_kit.event WHERE op = 'K')")
        result = cli("verify", "--full", "--format", "json", dsn=a.dsn)
        assert result.exit_code == 1, result.stderr
    finally:
        a.conn.close()
