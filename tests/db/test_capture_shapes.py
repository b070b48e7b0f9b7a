"""Table shapes: partitioned tables, inheritance, keys, names that need quoting, wide tables and tables whose
shape changes after enrolment. Every statement's events are asserted exactly (operation, table, relid,
partition, primary key, old and new images)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import enable

Conn = psycopg.Connection[Any]
Event = tuple[Any, ...]  # (operation, table_name, relid as regclass text, partition_name, pk, old_row, new_row)


@pytest.fixture
def db(cluster: Cluster) -> Iterator[Conn]:
    """A fresh kit database per test, copied from the installed template."""
    name = cluster.create_database(TEMPLATE_INSTALLED)
    try:
        with psycopg.connect(cluster.dsn(name), autocommit=True) as conn:
            yield conn
    finally:
        cluster.drop_database(name)


class Recorder:
    """Runs statements and returns the row events each one recorded (DDL and control events left out)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        conn.execute("RESET ALL")
        self.last = self._max_id()

    def _max_id(self) -> int:
        row = self.conn.execute("SELECT coalesce(max(id), 0) FROM pgaudit_kit.recorded_event").fetchone()
        assert row is not None
        return int(row[0])

    def run(self, statement: str) -> list[Event]:
        self.conn.execute(statement)
        got = self.conn.execute(
            "SELECT operation, table_name, relid::regclass::text, partition_name, pk, old_row, new_row FROM pgaudit_kit.change "
            "WHERE id > %s AND operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') ORDER BY id", (self.last,)).fetchall()
        self.last = self._max_id()
        return sorted(got, key=_key)

    def check(self, statement: str, expected: Sequence[Event]) -> None:
        """The events of *statement*, in any order (the order of rows within one statement is the server's)."""
        assert self.run(statement) == sorted(expected, key=_key)


def _key(event: Event) -> str:
    return json.dumps(event, sort_keys=True, default=str)


@pytest.fixture
def rec(db: Conn) -> Recorder:
    return Recorder(db)


def _create(conn: Conn, table: str, columns: str, mode: str, key: str = "id") -> str | None:
    """*table* as a plain table (statement mode) or partitioned by *key* with one DEFAULT partition (row mode), enrolled;
    returns the partition_name its rows are recorded with."""
    if mode == "statement":
        conn.execute(f"CREATE TABLE {table} ({columns})")
        partition = None
    else:
        conn.execute(f"CREATE TABLE {table} ({columns}) PARTITION BY LIST ({key})")
        conn.execute(f"CREATE TABLE {table}_p PARTITION OF {table} DEFAULT")
        partition = f"public.{table}_p"
    enable(conn, table)
    return partition


def _image(present: str | None, **columns: str | None) -> dict[str, str | None] | None:
    """The row image *columns*, or None (no image) when *present* is None."""
    return None if present is None else dict(columns)


MODES = ["statement", "row"]


# --- declarative partitioning ---------------------------------------------------------------------------------


def test_partitioned_rows_recorded_once_and_attributed_to_the_partitioned_table(rec: Recorder) -> None:
    c = rec.conn
    c.execute("""
        CREATE TABLE pm (id int, k text, v text, PRIMARY KEY (k, id)) PARTITION BY LIST (k);
        CREATE TABLE pm_a PARTITION OF pm FOR VALUES IN ('a');
        CREATE TABLE "pm B" PARTITION OF pm FOR VALUES IN ('b') PARTITION BY RANGE (id);
        CREATE TABLE pm_b1 PARTITION OF "pm B" FOR VALUES FROM (0) TO (10);""")
    enable(c, "pm")
    # created after enrolment: a sub-partition and a partition
    c.execute("CREATE TABLE pm_b2 PARTITION OF \"pm B\" FOR VALUES FROM (10) TO (20)")
    c.execute("CREATE TABLE pm_c PARTITION OF pm FOR VALUES IN ('c')")

    def ev(op: str, part: str, id_: int, k: str, old: str | None, new: str | None) -> Event:
        return (op, "pm", "pm", f"public.{part}", {"id": str(id_), "k": k},
                _image(old, id=str(id_), k=k, v=old), _image(new, id=str(id_), k=k, v=new))

    rec.check("INSERT INTO pm VALUES (1, 'a', 'x'), (2, 'b', 'y'), (15, 'b', 'z'), (3, 'c', 'w'), (4, 'b', 'q')", [
        ev("INSERT", "pm_a", 1, "a", None, "x"), ev("INSERT", "pm_b1", 2, "b", None, "y"),
        ev("INSERT", "pm_b2", 15, "b", None, "z"), ev("INSERT", "pm_c", 3, "c", None, "w"),
        ev("INSERT", "pm_b1", 4, "b", None, "q")])
    rec.check("UPDATE pm SET v = v || '!' WHERE id IN (1, 15)", [
        ("UPDATE", "pm", "pm", "public.pm_a", {"id": "1", "k": "a"}, {"id": "1", "k": "a", "v": "x"}, {"id": "1", "k": "a", "v": "x!"}),
        ("UPDATE", "pm", "pm", "public.pm_b2", {"id": "15", "k": "b"}, {"id": "15", "k": "b", "v": "z"},
         {"id": "15", "k": "b", "v": "z!"})])
    # A row moving to another partition: PostgreSQL performs the UPDATE as a DELETE from the old partition and an
    # INSERT into the new one (AFTER UPDATE row triggers do not fire), so that is what is on record: each image once.
    rec.check("UPDATE pm SET k = 'b' WHERE id = 1", [
        ev("DELETE", "pm_a", 1, "a", "x!", None), ev("INSERT", "pm_b1", 1, "b", None, "x!")])
    rec.check("UPDATE pm SET id = 12 WHERE id = 2", [  # between sub-partitions
        ("DELETE", "pm", "pm", "public.pm_b1", {"id": "2", "k": "b"}, {"id": "2", "k": "b", "v": "y"}, None),
        ("INSERT", "pm", "pm", "public.pm_b2", {"id": "12", "k": "b"}, None, {"id": "12", "k": "b", "v": "y"})])
    # writes addressed to a partition or a sub-partitioned partition directly
    rec.check("INSERT INTO pm_c VALUES (5, 'c', 'direct')", [ev("INSERT", "pm_c", 5, "c", None, "direct")])
    rec.check("UPDATE \"pm B\" SET v = 'via sub' WHERE id = 12", [ev("UPDATE", "pm_b2", 12, "b", "y", "via sub")])
    rec.check("DELETE FROM pm_b1 WHERE id = 1", [ev("DELETE", "pm_b1", 1, "b", "x!", None)])
    rec.check("UPDATE pm_c SET v = upper(v)", [ev("UPDATE", "pm_c", 3, "c", "w", "W"), ev("UPDATE", "pm_c", 5, "c", "direct", "DIRECT")])
    # TRUNCATE of one partition (created after enrolment), of a sub-partitioned partition, then of the whole table
    rec.check("TRUNCATE pm_c", [ev("TRUNCATE", "pm_c", 3, "c", "W", None), ev("TRUNCATE", "pm_c", 5, "c", "DIRECT", None)])
    rec.check("TRUNCATE \"pm B\"", [ev("TRUNCATE", "pm_b1", 4, "b", "q", None), ev("TRUNCATE", "pm_b2", 12, "b", "via sub", None),
                                    ev("TRUNCATE", "pm_b2", 15, "b", "z!", None)])
    rec.check("INSERT INTO pm VALUES (6, 'a', 'again'), (7, 'b', 'sub'), (16, 'b', 'sub2')", [
        ev("INSERT", "pm_a", 6, "a", None, "again"), ev("INSERT", "pm_b1", 7, "b", None, "sub"),
        ev("INSERT", "pm_b2", 16, "b", None, "sub2")])
    rec.check("TRUNCATE pm", [ev("TRUNCATE", "pm_a", 6, "a", "again", None), ev("TRUNCATE", "pm_b1", 7, "b", "sub", None),
                              ev("TRUNCATE", "pm_b2", 16, "b", "sub2", None)])


def test_row_moving_partitions_under_a_cascading_foreign_key(cluster: Cluster, rec: Recorder) -> None:
    """PostgreSQL 15+ also fires the partitioned table's AFTER UPDATE triggers for a row that moves between partitions
    when a foreign key references it (to cascade): the move must still be recorded once, as before."""
    c = rec.conn
    c.execute("""
        CREATE TABLE pf (id int, k text, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
        CREATE TABLE pf_a PARTITION OF pf FOR VALUES IN ('a');
        CREATE TABLE pf_b PARTITION OF pf FOR VALUES IN ('b');
        CREATE TABLE pf_ref (rid int PRIMARY KEY, id int, k text, FOREIGN KEY (id, k) REFERENCES pf ON UPDATE CASCADE);""")
    enable(c, "pf")
    enable(c, "pf_ref")
    rec.check("INSERT INTO pf VALUES (1, 'a', 'x'); INSERT INTO pf_ref VALUES (10, 1, 'a')", [
        ("INSERT", "pf", "pf", "public.pf_a", {"id": "1", "k": "a"}, None, {"id": "1", "k": "a", "v": "x"}),
        ("INSERT", "pf_ref", "pf_ref", None, {"rid": "10"}, None, {"rid": "10", "id": "1", "k": "a"})])
    if cluster.major < 15:
        # before 15 the move's DELETE part trips the foreign key instead of cascading
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            rec.run("UPDATE pf SET k = 'b' WHERE id = 1")
        assert rec.run("SELECT 1") == []
        return
    rec.check("UPDATE pf SET k = 'b' WHERE id = 1", [
        ("DELETE", "pf", "pf", "public.pf_a", {"id": "1", "k": "a"}, {"id": "1", "k": "a", "v": "x"}, None),
        ("INSERT", "pf", "pf", "public.pf_b", {"id": "1", "k": "b"}, None, {"id": "1", "k": "b", "v": "x"}),
        ("UPDATE", "pf_ref", "pf_ref", None, {"rid": "10"}, {"rid": "10", "id": "1", "k": "a"}, {"rid": "10", "id": "1", "k": "b"})])


def test_attach_partition_of_existing_tables(rec: Recorder) -> None:
    c = rec.conn
    c.execute("""
        CREATE TABLE pa (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
        CREATE TABLE pa_1 PARTITION OF pa FOR VALUES FROM (0) TO (10);
        -- an existing table with its columns in another order, a dropped column, and a row already in it
        CREATE TABLE pa_ext (v text, junk int, id int PRIMARY KEY);
        ALTER TABLE pa_ext DROP COLUMN junk;
        INSERT INTO pa_ext VALUES ('before', 15);
        -- an existing table that is enrolled on its own
        CREATE TABLE pa_solo (id int PRIMARY KEY, v text);
        INSERT INTO pa_solo VALUES (25, 'solo');""")
    enable(c, "pa")
    enable(c, "pa_solo")
    c.execute("ALTER TABLE pa ATTACH PARTITION pa_ext FOR VALUES FROM (10) TO (20)")
    c.execute("ALTER TABLE pa ATTACH PARTITION pa_solo FOR VALUES FROM (20) TO (30)")

    def ev(op: str, part: str, id_: int, old: str | None, new: str | None) -> Event:
        return (op, "pa", "pa", f"public.{part}", {"id": str(id_)}, _image(old, id=str(id_), v=old), _image(new, id=str(id_), v=new))

    rec.check("INSERT INTO pa VALUES (1, 'a'), (11, 'b'), (21, 'c')", [
        ev("INSERT", "pa_1", 1, None, "a"), ev("INSERT", "pa_ext", 11, None, "b"), ev("INSERT", "pa_solo", 21, None, "c")])
    rec.check("UPDATE pa SET v = v || '!' WHERE id IN (15, 25)", [
        ev("UPDATE", "pa_ext", 15, "before", "before!"), ev("UPDATE", "pa_solo", 25, "solo", "solo!")])
    rec.check("UPDATE pa_solo SET v = 'direct' WHERE id = 21", [ev("UPDATE", "pa_solo", 21, "c", "direct")])
    rec.check("DELETE FROM pa_ext WHERE id = 11", [ev("DELETE", "pa_ext", 11, "b", None)])
    rec.check("TRUNCATE pa", [ev("TRUNCATE", "pa_1", 1, "a", None), ev("TRUNCATE", "pa_ext", 15, "before!", None),
                              ev("TRUNCATE", "pa_solo", 21, "direct", None), ev("TRUNCATE", "pa_solo", 25, "solo!", None)])


def test_detached_partition_is_no_longer_recorded_as_the_partitioned_table(rec: Recorder) -> None:
    c = rec.conn
    c.execute("""
        CREATE TABLE pd (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
        CREATE TABLE pd_1 PARTITION OF pd FOR VALUES FROM (0) TO (10);
        CREATE TABLE pd_2 PARTITION OF pd FOR VALUES FROM (10) TO (20);""")
    enable(c, "pd")
    rec.check("INSERT INTO pd VALUES (1, 'a'), (11, 'b')", [
        ("INSERT", "pd", "pd", "public.pd_1", {"id": "1"}, None, {"id": "1", "v": "a"}),
        ("INSERT", "pd", "pd", "public.pd_2", {"id": "11"}, None, {"id": "11", "v": "b"})])
    c.execute("ALTER TABLE pd DETACH PARTITION pd_2")
    # pd_2 is a table of its own now, not enrolled: none of its writes is pd's
    rec.check("INSERT INTO pd_2 VALUES (12, 'c')", [])
    rec.check("TRUNCATE pd_2", [])
    rec.check("TRUNCATE pd", [("TRUNCATE", "pd", "pd", "public.pd_1", {"id": "1"}, {"id": "1", "v": "a"}, None)])


# --- inheritance ------------------------------------------------------------------------------------------------


def test_inheritance_rows_recorded_once_by_the_table_holding_them(rec: Recorder) -> None:
    c = rec.conn
    c.execute("""
        CREATE TABLE animal (id int PRIMARY KEY, name text);
        CREATE TABLE dog (bark text) INHERITS (animal);
        ALTER TABLE dog ADD PRIMARY KEY (id);""")
    enable(c, "animal")
    assert c.execute("SELECT table_name, capture_mode, pk_columns FROM pgaudit_kit.enrolled_table "
                     "WHERE table_name IN ('animal', 'dog') ORDER BY 1").fetchall() == [
        ("animal", "row", ["id"]), ("dog", "row", ["id"])]

    def animal(op: str, id_: int, old: str | None, new: str | None) -> Event:
        return (op, "animal", "animal", None, {"id": str(id_)},
                _image(old, id=str(id_), name=old), _image(new, id=str(id_), name=new))

    def dog(op: str, id_: int, old: str | None, new: str | None) -> Event:
        return (op, "dog", "dog", None, {"id": str(id_)},
                _image(old, id=str(id_), name=old, bark="woof"), _image(new, id=str(id_), name=new, bark="woof"))

    rec.check("INSERT INTO animal VALUES (1, 'generic')", [animal("INSERT", 1, None, "generic")])
    rec.check("INSERT INTO dog VALUES (2, 'rex', 'woof'), (3, 'fido', 'woof')",
              [dog("INSERT", 2, None, "rex"), dog("INSERT", 3, None, "fido")])
    rec.check("UPDATE animal SET name = upper(name)", [
        animal("UPDATE", 1, "generic", "GENERIC"), dog("UPDATE", 2, "rex", "REX"), dog("UPDATE", 3, "fido", "FIDO")])
    rec.check("UPDATE ONLY animal SET name = 'only'", [animal("UPDATE", 1, "GENERIC", "only")])
    rec.check("UPDATE dog SET name = 'direct' WHERE id = 3", [dog("UPDATE", 3, "FIDO", "direct")])
    rec.check("DELETE FROM animal WHERE id = 2", [dog("DELETE", 2, "REX", None)])
    rec.check("TRUNCATE animal", [animal("TRUNCATE", 1, "only", None), dog("TRUNCATE", 3, "direct", None)])


def test_inheritance_child_added_later_is_enrolled(rec: Recorder) -> None:
    c = rec.conn
    c.execute("CREATE TABLE vehicle (id int PRIMARY KEY, name text); CREATE TABLE boat (id int PRIMARY KEY, name text, keel int)")
    enable(c, "vehicle")
    c.execute("CREATE TABLE car (wheels int) INHERITS (vehicle)")  # no primary key of its own
    c.execute("ALTER TABLE boat INHERIT vehicle")
    assert c.execute("SELECT table_name, capture_mode, pk_columns FROM pgaudit_kit.enrolled_table "
                     "WHERE table_name IN ('vehicle', 'car', 'boat') ORDER BY 1").fetchall() == [
        ("boat", "row", ["id"]), ("car", "row", None), ("vehicle", "row", ["id"])]
    car = {"id": "1", "name": "beetle", "wheels": "4"}
    boat = {"id": "2", "name": "ark", "keel": "1"}
    rec.check("INSERT INTO car VALUES (1, 'beetle', 4)", [("INSERT", "car", "car", None, None, None, car)])
    rec.check("INSERT INTO boat VALUES (2, 'ark', 1)", [("INSERT", "boat", "boat", None, {"id": "2"}, None, boat)])
    rec.check("UPDATE vehicle SET name = name || '!'", [
        ("UPDATE", "car", "car", None, None, car, {**car, "name": "beetle!"}),
        ("UPDATE", "boat", "boat", None, {"id": "2"}, boat, {**boat, "name": "ark!"})])
    rec.check("DELETE FROM vehicle", [
        ("DELETE", "car", "car", None, None, {**car, "name": "beetle!"}, None),
        ("DELETE", "boat", "boat", None, {"id": "2"}, {**boat, "name": "ark!"}, None)])


# --- keys -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_table_without_primary_key_records_duplicates(rec: Recorder, mode: str) -> None:
    t = f"nopk_{mode}"
    part = _create(rec.conn, t, "a int, b text", mode, key="a")
    row = {"a": "1", "b": "same"}
    rec.check(f"INSERT INTO {t} VALUES (1, 'same'), (1, 'same'), (2, NULL)", [
        ("INSERT", t, t, part, None, None, row), ("INSERT", t, t, part, None, None, row),
        ("INSERT", t, t, part, None, None, {"a": "2", "b": None})])
    rec.check(f"UPDATE {t} SET b = 'changed' WHERE a = 1", [
        ("UPDATE", t, t, part, None, row, {"a": "1", "b": "changed"}),
        ("UPDATE", t, t, part, None, row, {"a": "1", "b": "changed"})])
    rec.check(f"DELETE FROM {t} WHERE a = 1", [
        ("DELETE", t, t, part, None, {"a": "1", "b": "changed"}, None),
        ("DELETE", t, t, part, None, {"a": "1", "b": "changed"}, None)])
    rec.check(f"INSERT INTO {t} VALUES (3, 'x'), (3, 'x')", [
        ("INSERT", t, t, part, None, None, {"a": "3", "b": "x"}), ("INSERT", t, t, part, None, None, {"a": "3", "b": "x"})])
    rec.check(f"TRUNCATE {t}", [
        ("TRUNCATE", t, t, part, None, {"a": "2", "b": None}, None),
        ("TRUNCATE", t, t, part, None, {"a": "3", "b": "x"}, None), ("TRUNCATE", t, t, part, None, {"a": "3", "b": "x"}, None)])


@pytest.mark.parametrize("mode", MODES)
def test_composite_primary_key(rec: Recorder, mode: str) -> None:
    t = f"cpk_{mode}"
    part = _create(rec.conn, t, "tenant text, seq int, v int, PRIMARY KEY (seq, tenant)", mode, key="tenant")

    def row(tenant: str, seq: int, v: int) -> dict[str, str]:
        return {"tenant": tenant, "seq": str(seq), "v": str(v)}

    rec.check(f"INSERT INTO {t} VALUES ('acme', 1, 10), ('acme', 2, 20), ('Größe', 1, 30)", [
        ("INSERT", t, t, part, {"tenant": "acme", "seq": "1"}, None, row("acme", 1, 10)),
        ("INSERT", t, t, part, {"tenant": "acme", "seq": "2"}, None, row("acme", 2, 20)),
        ("INSERT", t, t, part, {"tenant": "Größe", "seq": "1"}, None, row("Größe", 1, 30))])
    rec.check(f"UPDATE {t} SET seq = seq + 10, v = v + 1 WHERE tenant = 'acme' AND seq = 2", [
        ("UPDATE", t, t, part, {"tenant": "acme", "seq": "12"}, row("acme", 2, 20), row("acme", 12, 21))])
    rec.check(f"DELETE FROM {t} WHERE tenant = 'Größe'", [
        ("DELETE", t, t, part, {"tenant": "Größe", "seq": "1"}, row("Größe", 1, 30), None)])
    rec.check(f"TRUNCATE {t}", [
        ("TRUNCATE", t, t, part, {"tenant": "acme", "seq": "1"}, row("acme", 1, 10), None),
        ("TRUNCATE", t, t, part, {"tenant": "acme", "seq": "12"}, row("acme", 12, 21), None)])


@pytest.mark.parametrize("mode", MODES)
def test_identity_primary_key(rec: Recorder, mode: str) -> None:
    t = f"ident_{mode}"
    part = _create(rec.conn, t, "id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) PRIMARY KEY, "
                                "seq int GENERATED BY DEFAULT AS IDENTITY, v text", mode)
    rec.check(f"INSERT INTO {t} (v) VALUES ('a'), ('b')", [
        ("INSERT", t, t, part, {"id": "100"}, None, {"id": "100", "seq": "1", "v": "a"}),
        ("INSERT", t, t, part, {"id": "101"}, None, {"id": "101", "seq": "2", "v": "b"})])
    rec.check(f"INSERT INTO {t} (id, seq, v) OVERRIDING SYSTEM VALUE VALUES (-5, 0, 'c')", [
        ("INSERT", t, t, part, {"id": "-5"}, None, {"id": "-5", "seq": "0", "v": "c"})])
    rec.check(f"UPDATE {t} SET seq = DEFAULT WHERE id = -5", [
        ("UPDATE", t, t, part, {"id": "-5"}, {"id": "-5", "seq": "0", "v": "c"}, {"id": "-5", "seq": "3", "v": "c"})])
    rec.check(f"DELETE FROM {t} WHERE id = 100", [
        ("DELETE", t, t, part, {"id": "100"}, {"id": "100", "seq": "1", "v": "a"}, None)])


# --- names ------------------------------------------------------------------------------------------------------


QUOTED_COLUMNS = '"order" int, "Größe" text, "with space" text, "quo""te" text, "MixedCase" int, "select" text, "ÄÖÜ ß €" text'


def _quoted_row(order: int, size: str | None) -> dict[str, str | None]:
    return {"order": str(order), "Größe": size, "with space": "a b", 'quo"te': 'q"', "MixedCase": "7", "select": "s",
            "ÄÖÜ ß €": "€"}


def test_names_needing_quoting(rec: Recorder) -> None:
    c = rec.conn
    c.execute(f'CREATE SCHEMA "My Schema"; CREATE TABLE "My Schema"."Order Items" ({QUOTED_COLUMNS}, PRIMARY KEY ("order", "MixedCase"))')
    enable(c, '"My Schema"."Order Items"')
    pk = {"order": "1", "MixedCase": "7"}
    rec.check("""INSERT INTO "My Schema"."Order Items" VALUES (1, 'XL', 'a b', 'q"', 7, 's', '€')""", [
        ("INSERT", "Order Items", '"My Schema"."Order Items"', None, pk, None, _quoted_row(1, "XL"))])
    rec.check("""UPDATE "My Schema"."Order Items" SET "Größe" = NULL""", [
        ("UPDATE", "Order Items", '"My Schema"."Order Items"', None, pk, _quoted_row(1, "XL"), _quoted_row(1, None))])
    rec.check("""DELETE FROM "My Schema"."Order Items\"""", [
        ("DELETE", "Order Items", '"My Schema"."Order Items"', None, pk, _quoted_row(1, None), None)])
    schema = c.execute("SELECT DISTINCT schema_name FROM pgaudit_kit.change WHERE table_name = 'Order Items' "
                       "AND operation IN ('INSERT', 'UPDATE', 'DELETE')").fetchall()
    assert schema == [("My Schema",)]

    # partitioned, with partitions whose names need quoting too (partition_name is the partition's qualified name)
    c.execute(f"""
        CREATE TABLE "Straße" ({QUOTED_COLUMNS}, PRIMARY KEY ("order", "MixedCase")) PARTITION BY RANGE ("order");
        CREATE TABLE "Teil 1" PARTITION OF "Straße" FOR VALUES FROM (0) TO (10);
        CREATE TABLE "teil.ä" PARTITION OF "Straße" FOR VALUES FROM (10) TO (20);""")
    enable(c, '"Straße"')
    c.execute("""CREATE TABLE "Select" PARTITION OF "Straße" FOR VALUES FROM (20) TO (30)""")
    rows = "(1, 'S', 'a b', 'q\"', 7, 's', '€'), (11, 'M', 'a b', 'q\"', 7, 's', '€'), (21, 'L', 'a b', 'q\"', 7, 's', '€')"
    expected = [("public.\"Teil 1\"", 1, "S"), ('public."teil.ä"', 11, "M"), ('public."Select"', 21, "L")]
    rec.check(f'INSERT INTO "Straße" VALUES {rows}', [
        ("INSERT", "Straße", '"Straße"', part, {"order": str(o), "MixedCase": "7"}, None, _quoted_row(o, size))
        for part, o, size in expected])
    rec.check('TRUNCATE "Straße"', [
        ("TRUNCATE", "Straße", '"Straße"', part, {"order": str(o), "MixedCase": "7"}, _quoted_row(o, size), None)
        for part, o, size in expected])


@pytest.mark.parametrize("mode", MODES)
def test_column_names_with_array_literal_syntax(rec: Recorder, mode: str) -> None:
    """Images list the column names as a text[] literal (revision 0006): names holding what that syntax
    quotes or escapes (commas, braces, quotes, backslashes, NULL, outer blanks) are keys as they are."""
    t = f"arraysyntax_{mode}"
    names = ["a,b", "{x}", "NULL", "null", "back\\slash", 'q"q', " lead", "trail ", "k"]
    columns = ", ".join('"' + n.replace('"', '""') + '" text' for n in names)
    part = _create(rec.conn, t, f"id int PRIMARY KEY, {columns}", mode)
    values = [f"v{i}" for i in range(len(names))]
    row = {"id": "1", **dict(zip(names, values, strict=True))}
    placeholders = ", ".join(f"'{v}'" for v in values)
    rec.check(f"INSERT INTO {t} VALUES (1, {placeholders})", [("INSERT", t, t, part, {"id": "1"}, None, row)])
    rec.check(f'UPDATE {t} SET "NULL" = NULL, "a,b" = \'z\'', [
        ("UPDATE", t, t, part, {"id": "1"}, row, {**row, "NULL": None, "a,b": "z"})])


@pytest.mark.parametrize("mode", MODES)
def test_truncate_in_a_schema_without_public_usage(rec: Recorder, mode: str) -> None:
    """A new schema grants PUBLIC no USAGE; TRUNCATE capture reads the table as the kit owner."""
    c = rec.conn
    c.execute(f"CREATE SCHEMA app_{mode}")
    t = f"app_{mode}.t"
    part = _create(c, t, "id int PRIMARY KEY", mode) and f"app_{mode}.t_p"
    rec.check(f"INSERT INTO {t} VALUES (1)", [("INSERT", "t", t, part, {"id": "1"}, None, {"id": "1"})])
    rec.check(f"TRUNCATE {t}", [("TRUNCATE", "t", t, part, {"id": "1"}, {"id": "1"}, None)])
    assert c.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)


@pytest.mark.parametrize("mode", MODES)
def test_column_names_that_collide_with_the_capture_sql_aliases(rec: Recorder, mode: str) -> None:
    """Columns named like the table aliases of the generated capture statements (o, n, r, rn)."""
    t = f"alias_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, o int, n int, r int, rn int", mode)
    row = {"id": "1", "o": "2", "n": "3", "r": "4", "rn": "5"}
    rec.check(f"INSERT INTO {t} VALUES (1, 2, 3, 4, 5)", [("INSERT", t, t, part, {"id": "1"}, None, row)])
    rec.check(f"UPDATE {t} SET o = 20, n = 30", [("UPDATE", t, t, part, {"id": "1"}, row, {**row, "o": "20", "n": "30"})])
    rec.check(f"DELETE FROM {t}", [("DELETE", t, t, part, {"id": "1"}, {**row, "o": "20", "n": "30"}, None)])


@pytest.mark.parametrize("mode", MODES)
def test_column_names_that_collide_with_the_capture_function_variables(rec: Recorder, mode: str) -> None:
    """Columns named like the generated capture function's variables (v_xid, v_ts, v_ipad, v_opad) or tg_op."""
    t = f"var_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, v_xid int, v_ts text, v_ipad bytea, v_opad bytea, tg_op text", mode)
    row = {"id": "1", "v_xid": "6", "v_ts": "ts", "v_ipad": "\\x01", "v_opad": None, "tg_op": "x"}
    rec.check(f"INSERT INTO {t} VALUES (1, 6, 'ts', '\\x01', NULL, 'x')", [("INSERT", t, t, part, {"id": "1"}, None, row)])
    rec.check(f"UPDATE {t} SET v_xid = 7", [("UPDATE", t, t, part, {"id": "1"}, row, {**row, "v_xid": "7"})])
    rec.check(f"DELETE FROM {t}", [("DELETE", t, t, part, {"id": "1"}, {**row, "v_xid": "7"}, None)])
    rec.check(f"INSERT INTO {t} (id) VALUES (2)", [("INSERT", t, t, part, {"id": "2"}, None, {
        "id": "2", "v_xid": None, "v_ts": None, "v_ipad": None, "v_opad": None, "tg_op": None})])
    rec.check(f"TRUNCATE {t}", [("TRUNCATE", t, t, part, {"id": "2"}, {
        "id": "2", "v_xid": None, "v_ts": None, "v_ipad": None, "v_opad": None, "tg_op": None}, None)])


# --- wide tables ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [51, 120, 1600])
@pytest.mark.parametrize("mode", MODES)
def test_wide_tables(rec: Recorder, mode: str, width: int) -> None:
    """jsonb_build_object takes at most 100 arguments: the generator chunks images by 50 columns."""
    t = f"wide_{width}_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, " + ", ".join(f"c{i} int" for i in range(2, width + 1)), mode)
    assert rec.conn.execute(f"SELECT count(*) FROM pg_attribute WHERE attrelid = '{t}'::regclass AND attnum > 0").fetchone() == (width,)
    full = {"id": "1", **{f"c{i}": str(i) for i in range(2, width + 1)}}
    values = ", ".join(str(i) for i in range(1, width + 1))
    rec.check(f"INSERT INTO {t} VALUES ({values}), (2{', NULL' * (width - 1)})", [
        ("INSERT", t, t, part, {"id": "1"}, None, full),
        ("INSERT", t, t, part, {"id": "2"}, None, {"id": "2", **{f"c{i}": None for i in range(2, width + 1)}})])
    changed = {**full, "c2": "-2", f"c{width}": "0"}
    rec.check(f"UPDATE {t} SET c2 = -2, c{width} = 0 WHERE id = 1", [("UPDATE", t, t, part, {"id": "1"}, full, changed)])
    changed_columns = rec.conn.execute(f"SELECT changed_columns FROM pgaudit_kit.change WHERE relid = '{t}'::regclass "
                                       "AND operation = 'UPDATE'").fetchall()
    assert [sorted(c) for (c,) in changed_columns] == [sorted(["c2", f"c{width}"])]
    rec.check(f"DELETE FROM {t} WHERE id = 1", [("DELETE", t, t, part, {"id": "1"}, changed, None)])
    rec.check(f"TRUNCATE {t}", [("TRUNCATE", t, t, part, {"id": "2"}, {"id": "2", **{f"c{i}": None for i in range(2, width + 1)}}, None)])


# --- shape changes after enrolment: capture is regenerated by the DDL event trigger --------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_add_column(rec: Recorder, mode: str) -> None:
    t = f"addcol_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, a text", mode)
    rec.check(f"INSERT INTO {t} VALUES (1, 'x')", [("INSERT", t, t, part, {"id": "1"}, None, {"id": "1", "a": "x"})])
    rec.conn.execute(f"ALTER TABLE {t} ADD COLUMN b int DEFAULT 7, ADD COLUMN \"C c\" text")
    rec.check(f"INSERT INTO {t} VALUES (2, 'y', 8, 'z')", [
        ("INSERT", t, t, part, {"id": "2"}, None, {"id": "2", "a": "y", "b": "8", "C c": "z"})])
    rec.check(f"UPDATE {t} SET a = 'x!' WHERE id = 1", [
        ("UPDATE", t, t, part, {"id": "1"}, {"id": "1", "a": "x", "b": "7", "C c": None}, {"id": "1", "a": "x!", "b": "7", "C c": None})])
    rec.check(f"DELETE FROM {t} WHERE id = 2", [
        ("DELETE", t, t, part, {"id": "2"}, {"id": "2", "a": "y", "b": "8", "C c": "z"}, None)])


@pytest.mark.parametrize("mode", MODES)
def test_drop_column(rec: Recorder, mode: str) -> None:
    t = f"dropcol_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, a text, b text, c text", mode)

    def row(id_: int, b: str, c: str) -> dict[str, str]:
        return {"id": str(id_), "b": b, "c": c}

    rec.check(f"INSERT INTO {t} VALUES (1, 'a', 'b', 'c'), (2, 'a', 'b', 'c')", [
        ("INSERT", t, t, part, {"id": "1"}, None, {**row(1, "b", "c"), "a": "a"}),
        ("INSERT", t, t, part, {"id": "2"}, None, {**row(2, "b", "c"), "a": "a"})])
    rec.conn.execute(f"ALTER TABLE {t} DROP COLUMN a")
    rec.check(f"INSERT INTO {t} VALUES (3, 'b3', 'c3')", [("INSERT", t, t, part, {"id": "3"}, None, row(3, "b3", "c3"))])
    rec.check(f"UPDATE {t} SET b = 'bb' WHERE id = 1", [("UPDATE", t, t, part, {"id": "1"}, row(1, "b", "c"), row(1, "bb", "c"))])
    rec.check(f"UPDATE {t} SET c = 'cc' WHERE id = 2", [("UPDATE", t, t, part, {"id": "2"}, row(2, "b", "c"), row(2, "b", "cc"))])
    rec.check(f"DELETE FROM {t} WHERE id = 3", [("DELETE", t, t, part, {"id": "3"}, row(3, "b3", "c3"), None)])
    rec.check(f"TRUNCATE {t}", [("TRUNCATE", t, t, part, {"id": "1"}, row(1, "bb", "c"), None),
                                ("TRUNCATE", t, t, part, {"id": "2"}, row(2, "b", "cc"), None)])


@pytest.mark.parametrize("mode", MODES)
def test_rename_column(rec: Recorder, mode: str) -> None:
    t = f"rencol_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, a text", mode)
    rec.check(f"INSERT INTO {t} VALUES (1, 'x')", [("INSERT", t, t, part, {"id": "1"}, None, {"id": "1", "a": "x"})])
    rec.conn.execute(f"ALTER TABLE {t} RENAME COLUMN a TO \"Größe\"")
    rec.check(f"INSERT INTO {t} VALUES (2, 'y')", [("INSERT", t, t, part, {"id": "2"}, None, {"id": "2", "Größe": "y"})])
    rec.check(f"UPDATE {t} SET \"Größe\" = 'x!' WHERE id = 1", [
        ("UPDATE", t, t, part, {"id": "1"}, {"id": "1", "Größe": "x"}, {"id": "1", "Größe": "x!"})])
    rec.conn.execute(f"ALTER TABLE {t} RENAME COLUMN id TO key")  # a primary key column
    rec.check(f"DELETE FROM {t} WHERE key = 2", [("DELETE", t, t, part, {"key": "2"}, {"key": "2", "Größe": "y"}, None)])


@pytest.mark.parametrize("mode", MODES)
def test_rename_table(rec: Recorder, mode: str) -> None:
    t = f"rentab_{mode}"
    part = _create(rec.conn, t, "id int PRIMARY KEY, a text", mode)
    rec.check(f"INSERT INTO {t} VALUES (1, 'x')", [("INSERT", t, t, part, {"id": "1"}, None, {"id": "1", "a": "x"})])
    rec.conn.execute(f"ALTER TABLE {t} RENAME TO {t}_new")
    n = f"{t}_new"
    assert rec.conn.execute("SELECT schema_name, table_name FROM pgaudit_kit.enrolled_table WHERE relid = %s::regclass",
                            (n,)).fetchall() == [("public", n)]
    rec.check(f"INSERT INTO {n} VALUES (2, 'y')", [("INSERT", n, n, part, {"id": "2"}, None, {"id": "2", "a": "y"})])
    rec.check(f"UPDATE {n} SET a = 'x!' WHERE id = 1", [("UPDATE", n, n, part, {"id": "1"}, {"id": "1", "a": "x"}, {"id": "1", "a": "x!"})])
    rec.check(f"TRUNCATE {n}", [("TRUNCATE", n, n, part, {"id": "1"}, {"id": "1", "a": "x!"}, None),
                                ("TRUNCATE", n, n, part, {"id": "2"}, {"id": "2", "a": "y"}, None)])
