"""Data fidelity: every recorded value, fed back through its column type's input function, reproduces the
stored value exactly -- whatever the type and whatever the writer's session settings.

Each case writes tricky values of one type (INSERT, an UPDATE that rotates them between rows, DELETE) into
an enrolled table, once captured set-based (plain table, statement mode) and once row by row (partitioned
table, row mode). Two assertions per case:

* the exact events, with the recorded text of every value spelled out (where several spellings re-parse to
  the very same value, e.g. ``10.0.0.1`` and ``10.0.0.1/32`` for inet, the test accepts each of them);
* exactness against the live rows, checked in SQL: each recorded text is re-parsed as the column's type and
  compared with the row as it was at that moment through the type's binary send function (bit-exact: it tells
  -0 from 0, 1.5 from 1.500, trailing blanks of bpchar, json whitespace), its output function and its text
  cast, all under the same settings; and JSON null must stand for SQL NULL and nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.support.cluster import TEMPLATE_INSTALLED, Cluster
from tests.support.helpers import enable, events

Conn = psycopg.Connection[Any]
# One accepted recorded text, several equivalent ones (a tuple; the first is the type's output), or None (SQL NULL).
Expected = str | tuple[str, ...] | None

# The settings the capture function records under; re-parsing uses them too (money depends on lc_monetary).
CAPTURE_SETTINGS = ("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
                    "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET lc_monetary = 'C'")

USER_TYPES = """
CREATE TYPE inner_t AS (a int, b text);
CREATE TYPE outer_t AS (i inner_t, t timestamptz, f float8, arr text[]);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN dcomp AS inner_t CHECK ((VALUE).a IS DISTINCT FROM 0);
CREATE DOMAIN dtexts AS text[] CHECK (cardinality(VALUE) < 10);
CREATE TYPE mood AS ENUM ('sad', 'with space', 'Größe', 'quo"te', 'x,y');
CREATE TYPE floatrange AS RANGE (subtype = float8);
"""

BYTES_0_255 = "\\x" + bytes(range(256)).hex()
LONG_TEXT = "é" * 50_000 + "\\ end"


@dataclass(frozen=True)
class Case:
    type_sql: str
    values: Sequence[tuple[str, Expected]]  # (SQL expression, recorded text)
    min_major: int = 0  # older servers must reject the first value's type or literal instead
    sample: int = 0  # the value test_nulls_in_every_column writes


CASES: dict[str, Case] = {
    "numeric": Case("numeric", [
        ("'0'", "0"), ("'1.500'", "1.500"), ("'-0.000001'", "-0.000001"),
        ("'123456789012345678901234567890.123456789012345678901234567890'",
         "123456789012345678901234567890.123456789012345678901234567890"),
        ("'NaN'", "NaN"), ("'1e1000'", "1" + "0" * 1000), ("'1e-300'", "0." + "0" * 299 + "1"), ("NULL", None),
    ]),
    "numeric_infinities": Case("numeric", [("'Infinity'", "Infinity"), ("'-Infinity'", "-Infinity"), ("'-0.0'", "0.0")],
                               min_major=14),
    "numeric_typmod": Case("numeric(10,3)", [("'1.5'", "1.500"), ("'-9999999.9994'", "-9999999.999"), ("'0'", "0.000")]),
    "float8": Case("float8", [
        ("'NaN'", "NaN"), ("'Infinity'", "Infinity"), ("'-Infinity'", "-Infinity"), ("'-0'", "-0"), ("'0'", "0"),
        ("'1e-310'", "1e-310"), ("'0.1'", "0.1"), ("0.1::float8 + 0.2::float8", "0.30000000000000004"),
        ("'1.7976931348623157e308'", "1.7976931348623157e+308"), ("'5e-324'", "5e-324"), ("'-1.5e-7'", "-1.5e-07"),
        ("'123456789.125'", "123456789.125"),
    ]),
    "float4": Case("float4", [
        ("'NaN'", "NaN"), ("'Infinity'", "Infinity"), ("'-Infinity'", "-Infinity"), ("'-0'", "-0"),
        ("'1e-40'", "1e-40"), ("'0.1'", "0.1"), ("'3.4028235e38'", "3.4028235e+38"), ("'1e-45'", "1e-45"),
        ("'16777217'", "1.6777216e+07"),
    ]),
    "timestamptz": Case("timestamptz", [
        ("'2024-02-29 23:30:00.123456+00'", "2024-02-29 23:30:00.123456+00"), ("'infinity'", "infinity"),
        ("'-infinity'", "-infinity"), ("'4714-11-24 00:00:00+00 BC'", "4714-11-24 00:00:00+00 BC"),
        ("'294276-12-31 23:59:59.999999+00'", "294276-12-31 23:59:59.999999+00"),
        ("'1900-01-01 00:00:00+05:53:28'", "1899-12-31 18:06:32+00"), ("'2000-01-01 00:00:00.5-14'", "2000-01-01 14:00:00.5+00"),
    ]),
    "timestamp": Case("timestamp", [
        ("'2024-02-29 12:34:56.789012'", "2024-02-29 12:34:56.789012"), ("'infinity'", "infinity"),
        ("'-infinity'", "-infinity"), ("'0001-01-01 00:00:00 BC'", "0001-01-01 00:00:00 BC"),
        ("'294276-12-31 23:59:59.999999'", "294276-12-31 23:59:59.999999"), ("'1999-12-31 23:59:59.5'", "1999-12-31 23:59:59.5"),
    ]),
    "timestamp_typmod": Case("timestamp(0)", [("'2024-01-01 10:00:00.6'", "2024-01-01 10:00:01"), ("'epoch'", "1970-01-01 00:00:00")]),
    "date": Case("date", [
        ("'2000-02-29'", "2000-02-29"), ("'infinity'", "infinity"), ("'-infinity'", "-infinity"),
        ("'4714-11-24 BC'", "4714-11-24 BC"), ("'5874897-12-31'", "5874897-12-31"), ("'0001-01-01'", "0001-01-01"),
    ]),
    "time": Case("time", [("'00:00:00'", "00:00:00"), ("'23:59:59.999999'", "23:59:59.999999"), ("'24:00:00'", "24:00:00"),
                          ("'12:34:56.5'", "12:34:56.5")]),
    "timetz": Case("timetz", [
        ("'12:34:56.789-03:17:45'", "12:34:56.789-03:17:45"), ("'24:00:00+15:59'", "24:00:00+15:59"),
        ("'00:00:00-15:59'", "00:00:00-15:59"), ("'12:00:00+00'", "12:00:00+00"),
    ]),
    "interval": Case("interval", [
        ("'1 year 2 months 3 days 04:05:06.789'", "1 year 2 mons 3 days 04:05:06.789"),
        ("'-1 years -2 mons +3 days -04:05:06'", "-1 years -2 mons +3 days -04:05:06"),
        ("'1 mon -30 days -1 microsecond'", "1 mon -30 days -00:00:00.000001"),
        ("'-178000000 years'", "-178000000 years"), ("'0.000001 seconds'", "00:00:00.000001"), ("'0'", "00:00:00"),
        ("'P1Y2M3DT4H5M6.5S'", "1 year 2 mons 3 days 04:05:06.5"),
        ("'178000000 years -2147483648 days 1234567:59:59.999999'", "178000000 years -2147483648 days +1234567:59:59.999999"),
    ]),
    "interval_infinity": Case("interval", [("'infinity'", "infinity"), ("'-infinity'", "-infinity")], min_major=17),
    "bytea": Case("bytea", [
        ("'\\x'", "\\x"), ("'\\x00'", "\\x00"), ("'\\x0000ff00'", "\\x0000ff00"),
        (f"'{BYTES_0_255}'", BYTES_0_255), ("'\\\\ escape'::bytea", "\\x5c20657363617065"),
    ]),
    "int_array": Case("int[]", [
        ("'{{1,2},{3,4}}'", "{{1,2},{3,4}}"), ("'[0:1][-1:0]={{1,2},{3,4}}'", "[0:1][-1:0]={{1,2},{3,4}}"),
        ("'{NULL,1}'", "{NULL,1}"), ("'{}'", "{}"), ("'{{NULL}}'", "{{NULL}}"), ("'[5:5]={7}'", "[5:5]={7}"),
    ]),
    "text_array": Case("text[]", [
        ("'[2:3]={a,b}'", "[2:3]={a,b}"),
        ("'{\"a\\\"b\",\"c,d\",\"e\\\\f\",\"NULL\",\"\",NULL,\" sp \"}'", '{"a\\"b","c,d","e\\\\f","NULL","",NULL," sp "}'),
        ("ARRAY['{x}', 'Größe', E'tab\\there', 'quo''te']", '{"{x}",Größe,"tab\there",quo\'te}'),
        ("ARRAY[ARRAY['a', NULL], ARRAY['', 'b c']]", '{{a,NULL},{"","b c"}}'),
    ]),
    "timestamptz_array": Case("timestamptz[]", [
        ("ARRAY['2024-01-01 00:00:00+01'::timestamptz, NULL, 'infinity']", '{"2023-12-31 23:00:00+00",NULL,infinity}'),
    ]),
    "composite": Case("outer_t", [
        ("ROW(ROW(1, 'x,y \"q\" \\'), '2024-01-01 00:00:00+00', '-0', '{\"a b\",NULL,\"NULL\"}')",
         '("(1,""x,y """"q"""" \\\\\\\\"")","2024-01-01 00:00:00+00",-0,"{""a b"",NULL,""NULL""}")'),
        ("ROW(NULL, NULL, NULL, NULL)", "(,,,)"),
        ("ROW(ROW(NULL, ''), NULL, 'NaN', '{}')", '("(,"""")",,NaN,{})'),
        ("NULL", None),
    ]),
    "composite_array": Case("inner_t[]", [("ARRAY[ROW(1, 'a'), NULL, ROW(NULL, NULL)]::inner_t[]", '{"(1,a)",NULL,"(,)"}')]),
    "domain_int": Case("posint", [("1", "1"), ("2147483647", "2147483647"), ("NULL", None)]),
    "domain_composite": Case("dcomp", [("'(1,x)'", "(1,x)"), ("'(,)'", "(,)"), ("ROW(-5, ' \" ')", '(-5," "" ")')]),
    "domain_array": Case("dtexts", [("'[3:4]={a,NULL}'", "[3:4]={a,NULL}"), ("'{}'", "{}")]),
    "enum": Case("mood", [("'sad'", "sad"), ("'with space'", "with space"), ("'Größe'", "Größe"), ("'quo\"te'", 'quo"te'),
                          ("'x,y'", "x,y")]),
    "int4range": Case("int4range", [("'[1,5)'", "[1,5)"), ("'empty'", "empty"), ("'(,)'", "(,)"), ("'(1,5]'", "[2,6)")]),
    "numrange": Case("numrange", [("'[1.50,2.5]'", "[1.50,2.5]"), ("'(,0.000)'", "(,0.000)")]),
    "tstzrange": Case("tstzrange", [("'[-infinity,2024-01-01 00:00+01)'", '[-infinity,"2023-12-31 23:00:00+00")'),
                                    ("'(2024-01-01,)'", '("2024-01-01 00:00:00+00",)')]),
    "daterange": Case("daterange", [("'[2024-01-01,infinity)'", "[2024-01-01,infinity)"), ("'(2024-01-01,2024-01-05]'", "[2024-01-02,2024-01-06)")]),
    "floatrange": Case("floatrange", [("'[-0,1e-310]'", "[-0,1e-310]"), ("'(0.1,Infinity)'", "(0.1,Infinity)")]),
    "int4multirange": Case("int4multirange", [("'{[1,3),[5,7)}'", "{[1,3),[5,7)}"), ("'{}'", "{}"), ("'{empty,[1,2]}'", "{[1,3)}")],
                           min_major=14),
    "nummultirange": Case("nummultirange", [("'{[1.50,2.5], (3,)}'", "{[1.50,2.5],(3,)}")], min_major=14),
    "tstzmultirange": Case("tstzmultirange", [("'{[2024-01-01 00:00+02,infinity)}'", '{["2023-12-31 22:00:00+00",infinity)}')],
                           min_major=14),
    "json": Case("json", [
        ("' {\"b\" : 1, \"a\":[1, 2 ],\"b\":2}\n'", ' {"b" : 1, "a":[1, 2 ],"b":2}\n'),
        ("'\"\\u0000\\u00e9\"'", '"\\u0000\\u00e9"'), ("'null'", "null"), ("'[]'", "[]"),
        ("'{\"Größe\": \"😀\", \"esc\": \"\\ud83d\\ude00\", \"e\": 1.500E+3}'", '{"Größe": "😀", "esc": "\\ud83d\\ude00", "e": 1.500E+3}'),
        ("'\t 1.50 \r\n'", "\t 1.50 \r\n"), ("NULL", None),
    ]),
    "jsonb": Case("jsonb", [
        ("'{\"b\": 1, \"a\": [1.50, 1e3], \"n\": null, \"b\": 2}'", '{"a": [1.50, 1000], "b": 2, "n": null}'),
        ("'null'", "null"), ("'\"x\"'", '"x"'), ("'{}'", "{}"), ("'[1, \"2\", {\"a\": {\"b\": []}}]'", '[1, "2", {"a": {"b": []}}]'),
        ("'\"\\u00e9\\n\"'", '"é\\n"'),
    ]),
    "xml": Case("xml", [
        ("'<a b=\"1\">x &amp; y</a>'", '<a b="1">x &amp; y</a>'),
        ("'<?xml version=\"1.0\" encoding=\"UTF-8\"?><r/>'", '<?xml version="1.0" encoding="UTF-8"?><r/>'),
        ("'text <b/> tail'", "text <b/> tail"), ("'<!-- c --><x>Größe</x>'", "<!-- c --><x>Größe</x>"),
    ]),
    "tsvector": Case("tsvector", [("'a:1A b:2,3 c ''quo''''te'':4'", "'a':1A 'b':2,3 'c' 'quo''te':4"), ("''", ""),
                                  ("'Größe:1'", "'Größe':1")]),
    "tsquery": Case("tsquery", [("'Größe & !x | (y <-> z)'", "'Größe' & !'x' | 'y' <-> 'z'")]),
    "uuid": Case("uuid", [("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                          ("'00000000-0000-0000-0000-000000000000'", "00000000-0000-0000-0000-000000000000")]),
    "inet": Case("inet", [("'10.0.0.1'", ("10.0.0.1", "10.0.0.1/32")), ("'10.0.0.1/8'", "10.0.0.1/8"),
                          ("'::ffff:1.2.3.4'", ("::ffff:1.2.3.4", "::ffff:1.2.3.4/128")), ("'fe80::1/64'", "fe80::1/64")]),
    "cidr": Case("cidr", [("'10.0.0.0/8'", "10.0.0.0/8"), ("'::/0'", "::/0"), ("'192.168.1'", "192.168.1.0/24")]),
    "macaddr": Case("macaddr", [("'08002B010203'", "08:00:2b:01:02:03"), ("'ff-ff-ff-ff-ff-ff'", "ff:ff:ff:ff:ff:ff")]),
    "macaddr8": Case("macaddr8", [("'08:00:2b:01:02:03:04:05'", "08:00:2b:01:02:03:04:05"), ("'08:00:2b:01:02:03'", "08:00:2b:ff:fe:01:02:03")]),
    "money": Case("money", [("'12.34'", "$12.34"), ("'-0.01'", "-$0.01"), ("'92233720368547758.07'", "$92,233,720,368,547,758.07"),
                            ("'-92233720368547758.08'", "-$92,233,720,368,547,758.08"), ("'0'", "$0.00")]),
    "bit": Case("bit(4)", [("B'1010'", "1010"), ("B'0000'", "0000")]),
    "varbit": Case("varbit", [("B''", ""), ("B'1'", "1"), ("B'101010101'", "101010101")]),
    "boolean": Case("boolean", [("true", ("t", "true")), ("false", ("f", "false"))]),
    "point": Case("point", [("'(1.5,-0)'", "(1.5,-0)"), ("'(NaN,Infinity)'", "(NaN,Infinity)"), ("'(1e-310,0.1)'", "(1e-310,0.1)")]),
    "line": Case("line", [("'{1,-1,0}'", "{1,-1,0}"), ("'{0.1,-0,1e-310}'", "{0.1,-0,1e-310}")]),
    "lseg": Case("lseg", [("'[(0,0),(1.5,2)]'", "[(0,0),(1.5,2)]"), ("'((0.1,-0),(1,1))'", "[(0.1,-0),(1,1)]")]),
    "box": Case("box", [("'(0,0),(1,1)'", "(1,1),(0,0)"), ("'(0.1,0.2),(-0,-0)'", "(0.1,0.2),(-0,-0)")]),
    "path": Case("path", [("'[(0,0),(1,1)]'", "[(0,0),(1,1)]"), ("'((0,0),(1,1),(1,0))'", "((0,0),(1,1),(1,0))")]),
    "polygon": Case("polygon", [("'((0,0),(1,1),(1,0))'", "((0,0),(1,1),(1,0))"), ("'(0.1,-0)'", "((0.1,-0))")]),
    "circle": Case("circle", [("'<(0,0),1.5>'", "<(0,0),1.5>"), ("'((0.1,-0),1e-310)'", "<(0.1,-0),1e-310>")]),
    "char_n": Case("char(5)", [("'ab'", ("ab   ", "ab")), ("''", ("     ", "")), ("'abcde'", "abcde"), ("'é'", ("é    ", "é"))]),
    # bpchar without a length keeps the blanks it was given: nothing re-pads them on input.
    # (the UPDATE of row 1, 'ab  ' to 'ab', is a change of the value and must be recorded as one)
    "bpchar": Case("bpchar", [("'ab  '", "ab  "), ("'ab'", "ab"), ("' '", " "), ("'x'", "x")], sample=3),
    "varchar": Case("varchar(5)", [("'ab  '", "ab  "), ("''", ""), ("'Größe'", "Größe")]),
    "text": Case("text", [
        ("'Größe 🚀 日本語'", "Größe 🚀 日本語"), ("E'tab\\there\\nnew line \\\\ \"q\" ''s'", "tab\there\nnew line \\ \"q\" 's"),
        ("E'\\x01ctrl\\x7f'", "\x01ctrl\x7f"), ("''", ""), ("'NULL'", "NULL"),
        ("repeat('é', 50000) || '\\ end'", LONG_TEXT),
    ]),
}


# --- harness ----------------------------------------------------------------------------------------------------


@pytest.fixture
def db(cluster: Cluster) -> Iterator[Conn]:
    """A fresh kit database per case (copied from the installed template), with the user types."""
    name = cluster.create_database(TEMPLATE_INSTALLED)
    try:
        with psycopg.connect(cluster.dsn(name), autocommit=True) as conn:
            conn.execute(USER_TYPES)
            yield conn
    finally:
        cluster.drop_database(name)


@pytest.fixture
def conn(db: Conn) -> Conn:
    db.execute("RESET ALL")
    return db


def _create_enrolled(conn: Conn, table: str, columns: str, mode: str) -> str | None:
    """Creates and enrols *table*; returns the partition_name its rows are recorded with."""
    if mode == "statement":
        conn.execute(f"CREATE TABLE {table} ({columns})")
        enable(conn, table)
        return None
    conn.execute(f"CREATE TABLE {table} ({columns}) PARTITION BY RANGE (id)")
    conn.execute(f"CREATE TABLE {table}_p PARTITION OF {table} DEFAULT")
    enable(conn, table)
    return f"public.{table}_p"


def _snapshot(conn: Conn, table: str) -> None:
    """Keeps the rows as they are now, after the events recorded so far, to compare images with later: a new image
    with the first snapshot taken after its event, an old image with the last one taken before it."""
    if conn.execute("SELECT to_regclass(%s)", (f"{table}_snap",)).fetchone() == (None,):
        conn.execute(f"CREATE TABLE {table}_snap_phase (phase int PRIMARY KEY, upto bigint NOT NULL)")
        conn.execute(f"CREATE TABLE {table}_snap AS SELECT 0 AS snap_phase, * FROM {table} WITH NO DATA")
    conn.execute(f"INSERT INTO {table}_snap_phase SELECT coalesce(max(phase), 0) + 1, "
                 f"(SELECT coalesce(max(id), 0) FROM pgaudit_kit.event) FROM {table}_snap_phase")
    conn.execute(f"INSERT INTO {table}_snap SELECT (SELECT max(phase) FROM {table}_snap_phase), * FROM {table}")


def _summary(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    order = ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]
    got = [(e["operation"], e["table_name"], e["partition_name"], e["pk"], e["old_row"], e["new_row"], e["changed_columns"])
           for e in events(conn, f"relid = '{table}'::regclass AND operation IN ('INSERT','UPDATE','DELETE','TRUNCATE')")]
    return sorted(got, key=lambda e: (order.index(e[0]), int((e[3] or e[4] or e[5])["id"])))


def _accept(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """*actual* with each value that is one of several accepted spellings replaced by the expected tuple of them,
    so that a plain == (and pytest's diff) compares the rest exactly."""
    out = []
    for a, e in zip(actual, expected, strict=False):
        fields = list(a)
        for i in (4, 5):
            if isinstance(fields[i], dict) and isinstance(e[i], dict):
                fields[i] = {k: (e[i][k] if isinstance(e[i].get(k), tuple) and v in e[i][k] else v)
                             for k, v in fields[i].items()}
        out.append(tuple(fields))
    return out + actual[len(expected):]


def _canon(value: Expected) -> str | None:
    return value[0] if isinstance(value, tuple) else value


def exactness_mismatches(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    """Every recorded image of *table* re-parsed column by column and compared with the snapshot of the row it
    stands for (see _snapshot). Returns one row per difference; [] when every value is exact."""
    columns = conn.execute(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typsend::regproc::text, t.typoutput::regproc::text "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (table,)).fetchall()
    assert columns
    checks = []
    for name, type_sql, send, output in columns:
        col = sql.Literal(name).as_string(conn)
        ident = sql.Identifier(name).as_string(conn)
        parsed = f"(i.img ->> {col})::{type_sql}"
        live = f"s.{ident}"
        checks.append(f"""
          SELECT i.event_id, i.operation, i.side, {col} AS col, i.img -> {col} AS recorded,
                 {output}({live})::text AS live_output, s.snap_phase IS NULL AS no_live_row
            FROM imgs i LEFT JOIN {table}_snap s ON s.id = (i.img ->> 'id')::int AND s.snap_phase = i.phase
           WHERE s.snap_phase IS NULL
              OR NOT (i.img ? {col})
              OR pg_catalog.jsonb_typeof(i.img -> {col}) NOT IN ('string', 'null')
              OR (pg_catalog.jsonb_typeof(i.img -> {col}) = 'null') <> ({output}({live}) IS NULL)
              OR {send}({parsed}) IS DISTINCT FROM {send}({live})
              OR {output}({parsed})::text IS DISTINCT FROM {output}({live})::text
              OR ({parsed})::text IS DISTINCT FROM ({live})::text""")
    query = f"""
      WITH imgs AS (
        SELECT e.id AS event_id, e.operation, x.side, x.img,
               CASE x.side WHEN 'new' THEN (SELECT min(p.phase) FROM {table}_snap_phase p WHERE p.upto >= e.id)
                           ELSE (SELECT max(p.phase) FROM {table}_snap_phase p WHERE p.upto < e.id) END AS phase
          FROM pgaudit_kit.change e
         CROSS JOIN LATERAL (VALUES ('old', e.old_row), ('new', e.new_row)) AS x(side, img)
         WHERE e.relid = '{table}'::regclass AND e.operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
           AND x.img IS NOT NULL)
      {" UNION ALL ".join(checks)}
      ORDER BY 1, 3, 4"""
    conn.execute(CAPTURE_SETTINGS)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.execute("RESET ALL")


def _write_rotate_delete(conn: Conn, table: str, values: Sequence[str]) -> None:
    """INSERT the values as rows 1..n, UPDATE each row i to the value of row i % n + 1, DELETE them all."""
    n = len(values)
    conn.execute(f"INSERT INTO {table} (id, v) VALUES " + ", ".join(f"({i}, {v})" for i, v in enumerate(values, 1)))
    _snapshot(conn, table)
    conn.execute(f"UPDATE {table} SET v = s.v FROM {table}_snap s WHERE s.snap_phase = 1 AND s.id = {table}.id % {n} + 1")
    _snapshot(conn, table)
    conn.execute(f"DELETE FROM {table}")


def _expected_rotate_delete(table: str, partition: str | None, texts: Sequence[Expected]) -> list[tuple[Any, ...]]:
    n = len(texts)

    def image(i: int, k: int) -> dict[str, Expected]:
        return {"id": str(i), "v": texts[k - 1]}

    inserts = [("INSERT", table, partition, {"id": str(i)}, None, image(i, i), None) for i in range(1, n + 1)]
    updates = [("UPDATE", table, partition, {"id": str(i)}, image(i, i), image(i, i % n + 1),
                [] if _canon(texts[i - 1]) == _canon(texts[i % n]) else ["v"]) for i in range(1, n + 1)]
    deletes = [("DELETE", table, partition, {"id": str(i)}, image(i, i % n + 1), None, None) for i in range(1, n + 1)]
    return inserts + updates + deletes


# --- one test per type and capture mode ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["statement", "row"])
@pytest.mark.parametrize("case_id", list(CASES))
def test_values_are_recorded_exactly(cluster: Cluster, conn: Conn, case_id: str, mode: str) -> None:
    case = CASES[case_id]
    table = f"ty_{case_id}_{mode}"
    if cluster.major < case.min_major:
        with pytest.raises((psycopg.errors.DataError, psycopg.errors.UndefinedObject)), conn.transaction():
            conn.execute(f"SELECT {case.values[0][0]}::{case.type_sql}")
        return
    partition = _create_enrolled(conn, table, f"id int PRIMARY KEY, v {case.type_sql}", mode)
    _write_rotate_delete(conn, table, [v for v, _ in case.values])
    expected = _expected_rotate_delete(table, partition, [t for _, t in case.values])
    assert _accept(_summary(conn, table), expected) == expected
    assert exactness_mismatches(conn, table) == []


# Output settings unlike the ones capture pins, every one of them (lc_monetary has no other locale here).
HOSTILE_SETTINGS = ("SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'; "
                    "SET extra_float_digits = -3; SET bytea_output = 'escape'")


@pytest.mark.parametrize("case_id", list(CASES))
def test_images_do_not_follow_the_writers_output_settings(cluster: Cluster, conn: Conn, case_id: str) -> None:
    """A capture function pins only the output settings its column types need (revision 0005). The same
    values written to twin tables, one under the pinned settings and one under settings unlike them all,
    are recorded with the very same images: whatever a type's output depends on is pinned."""
    case = CASES[case_id]
    if cluster.major < case.min_major:  # the type does not exist there (test_values_are_recorded_exactly checks)
        return
    conn.execute(CAPTURE_SETTINGS)
    conn.execute(f"CREATE TABLE src_{case_id} (id int, v {case.type_sql})")
    conn.execute(f"INSERT INTO src_{case_id} VALUES "
                 + ", ".join(f"({i}, {v})" for i, (v, _) in enumerate(case.values, 1)))
    images = {}
    for side, settings in (("calm", CAPTURE_SETTINGS), ("hostile", HOSTILE_SETTINGS)):
        table = f"tw_{case_id}_{side}"
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v {case.type_sql})")
        enable(conn, table)
        conn.execute(settings)
        conn.execute(f"INSERT INTO {table} SELECT * FROM src_{case_id}")
        conn.execute(f"UPDATE {table} SET v = s.v FROM src_{case_id} s WHERE s.id = {table}.id % {len(case.values)} + 1")
        conn.execute(f"DELETE FROM {table}")
        conn.execute("RESET ALL")
        images[side] = conn.execute(
            "SELECT op, pk, row_data, old_values FROM pgaudit_kit.event WHERE relid = %s::regclass AND op IN ('I', 'U', 'D') ORDER BY id",
            (table,)).fetchall()
    assert len(images["calm"]) == 3 * len(case.values)
    assert images["hostile"] == images["calm"]


ALL_OUTPUT_SETTINGS = ["TimeZone=UTC", "DateStyle=ISO, YMD", "IntervalStyle=postgres", "extra_float_digits=1",
                       "bytea_output=hex", "lc_monetary=C"]


@pytest.mark.parametrize(("columns", "pinned"), [
    ("a text, b numeric, c jsonb, d int[], e uuid, f bpchar(3), g boolean", []),
    ("t timestamp", ["DateStyle=ISO, YMD"]),
    ("r tstzrange", ["TimeZone=UTC", "DateStyle=ISO, YMD"]),
    ("i interval, f float4[], b bytea, m money",
     ["IntervalStyle=postgres", "extra_float_digits=1", "bytea_output=hex", "lc_monetary=C"]),
    ("p point", ["extra_float_digits=1"]),
    ("c pin_pair", ALL_OUTPUT_SETTINGS),  # a composite type can gain attributes later: everything is pinned
], ids=["none", "timestamp", "tstzrange", "mixed", "geometric", "composite"])
def test_capture_functions_pin_the_settings_their_column_types_need(conn: Conn, columns: str, pinned: list[str]) -> None:
    conn.execute("CREATE TYPE pin_pair AS (a int, b int)")
    conn.execute(f"CREATE TABLE pins (id int PRIMARY KEY, {columns})")
    enable(conn, "pins")
    proconfig = "SELECT proconfig FROM pg_proc WHERE oid = format('pgaudit_kit.capture_%s()', 'pins'::regclass::oid)::regprocedure"
    assert _one(conn, proconfig) == ['search_path=""', *pinned, "enable_nestloop=off"]
    # a column added later brings what it needs: the capture function is regenerated with the table
    conn.execute("ALTER TABLE pins ADD COLUMN added_later timestamptz")
    expected = [s for s in ALL_OUTPUT_SETTINGS if s in pinned or s.startswith(("TimeZone", "DateStyle"))]
    assert _one(conn, proconfig) == ['search_path=""', *expected, "enable_nestloop=off"]
    assert conn.execute("SELECT * FROM pgaudit_kit.invariant_problems()").fetchall() == []


def _one(conn: Conn, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_float_signed_zero_nan_and_subnormals_survive_the_round_trip(conn: Conn) -> None:
    _create_enrolled(conn, "floats", "id int PRIMARY KEY, f8 float8, f4 float4, n numeric", "statement")
    conn.execute("INSERT INTO floats VALUES (1, '-0', '-0', 'NaN'), (2, 'NaN', 'NaN', '-0'), (3, '1e-310', '1e-40', '0.1')")
    got = conn.execute("""
        SELECT new_row, float8send((new_row->>'f8')::float8), float4send((new_row->>'f4')::float4),
               (new_row->>'f8')::float8 = 'NaN', (new_row->>'f4')::float4 = 'NaN', numeric_send((new_row->>'n')::numeric)
          FROM pgaudit_kit.change WHERE relid = 'floats'::regclass AND operation = 'INSERT' ORDER BY id""").fetchall()
    assert [g[0] for g in got] == [
        {"id": "1", "f8": "-0", "f4": "-0", "n": "NaN"},
        {"id": "2", "f8": "NaN", "f4": "NaN", "n": "0"},  # numeric has no negative zero
        {"id": "3", "f8": "1e-310", "f4": "1e-40", "n": "0.1"},
    ]
    # -0 keeps its sign bit; NaN stays NaN; subnormals keep every mantissa bit
    assert (got[0][1], got[0][2]) == (bytes.fromhex("8000000000000000"), bytes.fromhex("80000000"))
    assert [(g[3], g[4]) for g in got] == [(False, False), (True, True), (False, False)]
    assert got[0][5] == _one(conn, "SELECT numeric_send('NaN')")
    assert (got[2][1], got[2][2]) == (_one(conn, "SELECT float8send('1e-310')"), _one(conn, "SELECT float4send('1e-40')"))
    assert got[2][1][:2] == b"\x00\x00" and got[2][1] != bytes(8)  # exponent bits all zero, yet not zero
    assert (got[0][1] == _one(conn, "SELECT float8send('0')"), got[1][1] == _one(conn, "SELECT float8send('NaN')")) == (False, True)


def test_changed_columns_are_found_by_bytewise_comparison_of_their_recorded_text(conn: Conn) -> None:
    # Under a nondeterministic collation (ICU, case-insensitive) 'Abc' = 'abc': compared under the column's own
    # collation, a change of case alone would record no old value. The wheels' servers have no ICU, so the
    # generated comparison itself is checked: every column is compared under COLLATE "C".
    generated = conn.execute(
        "SELECT pgaudit_kit.old_values_sql('{id,name,code}', '{code}', '{}', '{}', 'o', 'n', 'NULL', 'NULL')").fetchone()
    assert generated is not None
    comparisons = str(generated[0]).split("CASE WHEN ")[1:]
    assert len(comparisons) == 3
    assert all(' COLLATE pg_catalog."C" THEN ' in c for c in comparisons), comparisons
    conn.execute("CREATE TABLE names (id int PRIMARY KEY, name text COLLATE \"POSIX\", code char(3))")
    enable(conn, "names")
    conn.execute("INSERT INTO names VALUES (1, 'abc', 'x')")
    conn.execute("UPDATE names SET name = 'ABC'")
    assert conn.execute("SELECT old_row, new_row FROM pgaudit_kit.change WHERE relid = 'names'::regclass "
                        "AND operation = 'UPDATE'").fetchall() == [
        ({"id": "1", "name": "abc", "code": "x  "}, {"id": "1", "name": "ABC", "code": "x  "})]



def test_update_compares_as_values_only_types_whose_equality_is_equality_of_their_text(conn: Conn) -> None:
    # An UPDATE decides which columns changed (old_values) by comparing them. Integers, booleans, uuid, bytea, dates
    # and timestamps are compared as values (no cast to text per column at every captured row): for them equal
    # values print the same. Every other type is compared by its text: 1.0 = 1.00, 0 = -0, '1 day' = '24 hours',
    # 'a' = 'a ' (bpchar) and {"a": 1.0} = {"a": 1.00} are equal values with different recorded texts, and the
    # old value must be kept.
    conn.execute("CREATE DOMAIN small_count AS int4 CHECK (VALUE >= 0)")
    conn.execute("""CREATE TABLE cmp (id int PRIMARY KEY, i int8, b bool, u uuid, y bytea, d date, t timestamptz,
                                      c small_count, n numeric, f float8, iv interval, ch bpchar, j jsonb, tx text)""")
    enable(conn, "cmp")
    source = _one(conn, "SELECT pg_get_functiondef(format('pgaudit_kit.capture_%s', 'cmp'::regclass::oid)::regproc)")
    by_value = sorted(set(re.findall(r"WHEN (?:OLD|o)\.(\w+) IS NOT DISTINCT FROM (?:NEW|n)\.\1 THEN", source)))
    assert by_value == sorted(["id", "i", "b", "u", "y", "d", "t", "c"])
    conn.execute("""INSERT INTO cmp VALUES (1, 7, true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '2024-02-29',
                    '2024-01-01 00:00:00+00', 3, 1.0, 0, '1 day', 'a', '{"a": 1.0}', 'x')""")
    # equal values, different texts: every one keeps its old value
    conn.execute("""UPDATE cmp SET n = 1.00, f = '-0', iv = '24 hours', ch = 'a '::bpchar, j = '{"a": 1.00}'""")
    # the same values written again (b compared as true = true): no old value at all
    conn.execute("UPDATE cmp SET i = 7, b = true, u = u, y = y, d = d, t = '2024-01-01 01:00:00+01', c = 3")
    # each by-value column changed
    conn.execute("""UPDATE cmp SET i = 8, b = false, u = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', y = '\\x00fe',
                    d = '2024-03-01', t = '2024-01-01 00:00:00.000001+00', c = 4""")
    got = [row[0] for row in conn.execute(
        "SELECT old_values FROM pgaudit_kit.event WHERE relid = 'cmp'::regclass AND op = 'U' ORDER BY id")]
    assert got == [
        {"n": "1.0", "f": "0", "iv": "1 day", "ch": "a", "j": '{"a": 1.0}'},
        {},
        {"i": "7", "b": "true", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "y": "\\x00ff", "d": "2024-02-29",
         "t": "2024-01-01 00:00:00+00", "c": "3"},
    ]


# --- settings of the writer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["statement", "row"])
def test_timestamptz_written_under_different_settings(conn: Conn, mode: str) -> None:
    table = f"tz_{mode}"
    partition = _create_enrolled(conn, table, "id int PRIMARY KEY, at timestamptz, d date, ts timestamp, i interval, m money", mode)
    writes = [
        # (writer settings, values as the writer spells them, recorded texts)
        ("SET TimeZone = 'America/New_York'; SET DateStyle = 'ISO, MDY'",
         "'2024-03-10 02:30:00', '2024-03-10', '2024-03-10 02:30', '1 day -1 hour', 1.5",
         ("2024-03-10 07:30:00+00", "2024-03-10", "2024-03-10 02:30:00", "1 day -01:00:00", "$1.50")),
        ("SET TimeZone = 'Asia/Kathmandu'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'",
         "'01/02/2024 10:00', '01/02/2024', '01/02/2024 10:00', '-1 2:03:04', '-0.5'",
         ("2024-02-01 04:15:00+00", "2024-02-01", "2024-02-01 10:00:00", "-1 days -02:03:04", "-$0.50")),
        ("SET TimeZone = 'Europe/Amsterdam'; SET DateStyle = 'SQL, MDY'; SET IntervalStyle = 'iso_8601'",
         "'01/02/2024 10:00', '01/02/2024', '01/02/2024 10:00', 'P1Y2M3DT4H5M6.5S', 1000000",
         ("2024-01-02 09:00:00+00", "2024-01-02", "2024-01-02 10:00:00", "1 year 2 mons 3 days 04:05:06.5", "$1,000,000.00")),
        ("SET TimeZone = 'Pacific/Kiritimati'; SET DateStyle = 'German'; SET IntervalStyle = 'postgres_verbose'",
         "'31.12.1999 23:59:59.999999', '29.02.2000', '29.02.2000 00:00', '@ 1 hour ago', '0.01'",
         ("1999-12-31 09:59:59.999999+00", "2000-02-29", "2000-02-29 00:00:00", "-01:00:00", "$0.01")),
        ("SET TimeZone = 'UTC+03:00'; SET DateStyle = 'Postgres, YMD'",  # POSIX: 3 hours *west* of UTC
         "'1883-11-18 12:00:00', 'epoch', 'epoch', '0', 0",
         ("1883-11-18 15:00:00+00", "1970-01-01", "1970-01-01 00:00:00", "00:00:00", "$0.00")),
    ]
    for n, (settings, values, _) in enumerate(writes, 1):
        conn.execute(settings)
        conn.execute(f"INSERT INTO {table} VALUES ({n}, {values})")
        conn.execute("RESET ALL")
    _snapshot(conn, table)
    # the UPDATE and DELETE happen under yet another writer setting
    conn.execute("SET TimeZone = 'Australia/Lord_Howe'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'")
    conn.execute(f"UPDATE {table} SET at = at + interval '1 microsecond'")
    conn.execute("RESET ALL")
    _snapshot(conn, table)
    conn.execute("SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'German'")
    conn.execute(f"DELETE FROM {table}")
    conn.execute("RESET ALL")

    def image(n: int, at: str | None = None) -> dict[str, Expected]:
        texts = writes[n - 1][2]
        return {"id": str(n), "at": at or texts[0], "d": texts[1], "ts": texts[2], "i": texts[3], "m": texts[4]}

    def bumped(n: int) -> str:
        at = writes[n - 1][2][0]
        return at.replace(":00+00", ":00.000001+00").replace(".999999+00", "+00").replace("09:59:59+00", "10:00:00+00")

    expected: list[tuple[Any, ...]] = [("INSERT", table, partition, {"id": str(n)}, None, image(n), None) for n in range(1, 6)]
    expected += [("UPDATE", table, partition, {"id": str(n)}, image(n), image(n, bumped(n)), ["at"]) for n in range(1, 6)]
    expected += [("DELETE", table, partition, {"id": str(n)}, image(n, bumped(n)), None, None) for n in range(1, 6)]
    assert _summary(conn, table) == expected
    assert exactness_mismatches(conn, table) == []


# --- whole rows: NULL everywhere, generated and identity columns, TOAST ---------------------------------------------


def test_nulls_in_every_column(cluster: Cluster, conn: Conn) -> None:
    cases = {k: c for k, c in CASES.items() if cluster.major >= c.min_major}
    columns = ", ".join(f"c_{k} {c.type_sql}" for k, c in cases.items())
    _create_enrolled(conn, "all_null", f"id int PRIMARY KEY, {columns}", "statement")
    conn.execute("INSERT INTO all_null (id) VALUES (1)")
    _snapshot(conn, "all_null")
    sets = ", ".join(f"c_{k} = {c.values[c.sample][0]}" for k, c in cases.items())
    conn.execute(f"UPDATE all_null SET {sets}")
    _snapshot(conn, "all_null")
    conn.execute("UPDATE all_null SET " + ", ".join(f"c_{k} = NULL" for k in cases))
    _snapshot(conn, "all_null")

    nulls: dict[str, Expected] = {"id": "1", **{f"c_{k}": None for k in cases}}
    values: dict[str, Expected] = {"id": "1", **{f"c_{k}": c.values[c.sample][1] for k, c in cases.items()}}
    changed = sorted(f"c_{k}" for k, c in cases.items() if c.values[c.sample][1] is not None)
    got = _summary(conn, "all_null")
    expected: list[tuple[Any, ...]] = [
        ("INSERT", "all_null", None, {"id": "1"}, None, nulls, None),
        ("UPDATE", "all_null", None, {"id": "1"}, nulls, values, changed),
        ("UPDATE", "all_null", None, {"id": "1"}, values, nulls, changed),
    ]
    got = [g[:6] + (sorted(g[6]) if g[6] is not None else None,) for g in got]
    assert _accept(got, expected) == expected
    assert exactness_mismatches(conn, "all_null") == []


@pytest.mark.parametrize("mode", ["statement", "row"])
def test_generated_and_identity_columns(conn: Conn, mode: str) -> None:
    table = f"gen_{mode}"
    partition = _create_enrolled(conn, table, """
        id int GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5) PRIMARY KEY,
        price numeric NOT NULL,
        qty int NOT NULL,
        total numeric GENERATED ALWAYS AS (price * qty) STORED,
        label text GENERATED ALWAYS AS (qty::text || ' x ' || price::text) STORED,
        ref bigint GENERATED BY DEFAULT AS IDENTITY""", mode)
    conn.execute(f"INSERT INTO {table} (price, qty) VALUES (1.50, 2), (0.1, 3)")
    conn.execute(f"INSERT INTO {table} (price, qty, ref) VALUES (2, 2, -7)")
    _snapshot(conn, table)
    conn.execute(f"UPDATE {table} SET qty = qty + 1 WHERE id = 10")
    _snapshot(conn, table)
    conn.execute(f"DELETE FROM {table} WHERE id = 10")

    def row(id_: int, price: str, qty: int, total: str, ref: str) -> dict[str, Expected]:
        return {"id": str(id_), "price": price, "qty": str(qty), "total": total, "label": f"{qty} x {price}", "ref": ref}

    assert _summary(conn, table) == [
        ("INSERT", table, partition, {"id": "10"}, None, row(10, "1.50", 2, "3.00", "1"), None),
        ("INSERT", table, partition, {"id": "15"}, None, row(15, "0.1", 3, "0.3", "2"), None),
        ("INSERT", table, partition, {"id": "20"}, None, row(20, "2", 2, "4", "-7"), None),
        ("UPDATE", table, partition, {"id": "10"}, row(10, "1.50", 2, "3.00", "1"), row(10, "1.50", 3, "4.50", "1"),
         ["qty", "label", "total"]),
        ("DELETE", table, partition, {"id": "10"}, row(10, "1.50", 3, "4.50", "1"), None, None),
    ]
    assert exactness_mismatches(conn, table) == []


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize("mode", ["statement", "row"])
def test_toasted_20mb_value_inserted_updated_deleted(conn: Conn, mode: str) -> None:
    table = f"toast_{mode}"
    partition = _create_enrolled(conn, table, "id int PRIMARY KEY, small text, v text", mode)
    chunk = "".join(_md5(str(g)) for g in range(1, 65)) + "Größe"
    big = chunk * 10240  # 20 MiB (21,043,200 bytes), 2 KiB period: compresses, and is still stored out of line
    big2 = "Größe" + big + "end"
    conn.execute(f"INSERT INTO {table} SELECT 1, 'a', repeat((SELECT string_agg(md5(g::text), '') "
                 "FROM generate_series(1, 64) g) || 'Größe', 10240)")
    assert conn.execute(f"SELECT octet_length(v), md5(v), pg_column_size(v) > 100000 FROM {table}").fetchone() == (
        len(big.encode()), _md5(big), True)
    conn.execute(f"UPDATE {table} SET small = 'b'")  # the big value is unchanged: still recorded whole in the image
    conn.execute(f"UPDATE {table} SET v = 'Größe' || v || 'end'")
    conn.execute(f"DELETE FROM {table}")
    got = conn.execute(f"""
        SELECT operation, table_name, partition_name, pk, changed_columns, old_row ->> 'small', new_row ->> 'small',
               md5(old_row ->> 'v'), md5(new_row ->> 'v'), octet_length(old_row ->> 'v'), octet_length(new_row ->> 'v'),
               array(SELECT jsonb_object_keys(coalesce(new_row, old_row)) k ORDER BY k)
          FROM pgaudit_kit.change WHERE relid = '{table}'::regclass AND operation IN ('INSERT', 'UPDATE', 'DELETE') ORDER BY id""").fetchall()
    n1, n2 = len(big.encode()), len(big2.encode())
    keys = ["id", "small", "v"]
    pk = {"id": "1"}
    assert got == [
        ("INSERT", table, partition, pk, None, None, "a", None, _md5(big), None, n1, keys),
        ("UPDATE", table, partition, pk, ["small"], "a", "b", _md5(big), _md5(big), n1, n1, keys),
        ("UPDATE", table, partition, pk, ["v"], "b", "b", _md5(big), _md5(big2), n1, n2, keys),
        ("DELETE", table, partition, pk, None, "b", None, _md5(big2), None, n2, None, keys),
    ]
