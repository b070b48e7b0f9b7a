"""`pgaudit-kit history`: a row's timeline with field-level diffs between consecutive images, who and
when, and `--as-of` reconstruction, across a column type change and a dropped column, for composite keys,
renamed tables, deleted and truncated rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from pgaudit_kit.review.timeparse import format_time
from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable
from tests.support.review import History, history_database

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def hist(cluster: Cluster) -> Iterator[History]:
    with history_database(cluster) as history:
        yield history


def history_json(*args: str, dsn: str) -> dict[str, Any]:
    result = cli("history", *args, "--format", "json", dsn=dsn)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def writes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's writes, without seal status (each command's own review commit may seal more)."""
    return [{k: v for k, v in e.items() if k != "seal"} for e in document["events"] if e["op"] != "S"]


@pytest.fixture
def evolving(kit_conn: Conn) -> dict[str, datetime]:
    """One row through an INSERT, UPDATEs, a column type change, a dropped column and a DELETE; returns the
    time just after each step (as recorded by the server, so --as-of can name it exactly)."""
    kit_conn.execute("CREATE TABLE item (id int PRIMARY KEY, price int, note text, qty smallint)")
    enable(kit_conn, "item")
    marks: dict[str, datetime] = {}

    def step(name: str, *statements: str) -> None:
        with kit_conn.transaction():
            kit_conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true)", (f"actor-{name}",))
            for statement in statements:
                kit_conn.execute(statement)
        row = kit_conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        marks[name] = row[0]

    step("insert", "INSERT INTO item VALUES (1, 5, 'first', 1), (2, 1, 'other', 1)")
    step("price", "UPDATE item SET price = 6 WHERE id = 1")
    step("retype", "ALTER TABLE item ALTER COLUMN price TYPE numeric(10,2)", "ALTER TABLE item ALTER COLUMN qty TYPE bigint")
    step("note", "UPDATE item SET note = 'second' WHERE id = 1")
    step("drop", "ALTER TABLE item DROP COLUMN note")
    step("after drop", "UPDATE item SET price = 7.5, qty = 3 WHERE id = 1")
    step("delete", "DELETE FROM item WHERE id = 1")
    step("again", "INSERT INTO item VALUES (1, 9, 4)")
    return marks


def test_diffs_between_consecutive_images_across_type_change_and_dropped_column(kit_db: str,
                                                                                evolving: dict[str, datetime]) -> None:
    document = history_json("public.item", "1", dsn=kit_db)
    assert document["table"] == "public.item" and document["pk"] == {"id": "1"}
    rows = writes(document)
    assert [(e["op"], e["actor"]) for e in rows] == [
        ("I", "actor-insert"), ("U", "actor-price"), ("U", "actor-note"), ("U", "actor-after drop"),
        ("D", "actor-delete"), ("I", "actor-again")]
    assert [e["changes"] for e in rows] == [
        [{"column": "id", "new": "1"}, {"column": "qty", "new": "1"}, {"column": "note", "new": "first"},
         {"column": "price", "new": "5"}],
        [{"column": "price", "old": "5", "new": "6"}],
        [{"column": "note", "old": "first", "new": "second"}],
        [{"column": "qty", "old": "1", "new": "3"}, {"column": "price", "old": "6.00", "new": "7.50"}],
        [{"column": "id", "old": "1"}, {"column": "qty", "old": "3"}, {"column": "price", "old": "7.50"}],
        [{"column": "id", "new": "1"}, {"column": "qty", "new": "4"}, {"column": "price", "new": "9.00"}],
    ]
    # what no recorded write of the row explains: the retype (price 6 -> 6.00) and the dropped column
    assert [e["gap"] for e in rows] == [[], [], [{"column": "price", "old": "6", "new": "6.00"}],
                                        [{"column": "note", "old": "second"}], [], []]
    ddl = [e for e in document["events"] if e["op"] == "S"]
    statements = {e["statement"] for e in ddl}
    assert any("ALTER COLUMN price TYPE numeric" in (s or "") for s in statements)
    assert any("DROP COLUMN note" in (s or "") for s in statements)
    ids = [e["id"] for e in document["events"]]
    assert ids == sorted(ids)
    retype_ids = [e["id"] for e in ddl if "TYPE numeric" in (e["statement"] or "")]
    assert rows[1]["id"] < min(retype_ids) and max(retype_ids) < rows[2]["id"]  # shown where it happened
    assert all(e["seal"]["status"] in ("sealed", "pending") for e in document["events"])
    assert cli("seal", dsn=kit_db).exit_code == 0
    assert all(e["seal"]["status"] == "sealed" for e in history_json("item", "1", dsn=kit_db)["events"])


def test_as_of_reconstructs_the_row_at_each_point(kit_db: str, evolving: dict[str, datetime]) -> None:
    def row_at(when: datetime) -> dict[str, Any]:
        return history_json("item", "1", "--as-of", format_time(when) or "", dsn=kit_db)

    before = row_at(evolving["insert"] - timedelta(seconds=30))
    assert before["state"] == "unknown" and before["row"] is None and before["first_event"]["op"] == "I"
    assert row_at(evolving["insert"])["row"] == {"id": "1", "qty": "1", "note": "first", "price": "5"}
    assert row_at(evolving["price"])["row"] == {"id": "1", "qty": "1", "note": "first", "price": "6"}
    # the retype rewrote no row: the image stays the last recorded write's until the row is written again
    assert row_at(evolving["retype"])["row"] == {"id": "1", "qty": "1", "note": "first", "price": "6"}
    assert row_at(evolving["note"])["row"] == {"id": "1", "qty": "1", "note": "second", "price": "6.00"}
    assert row_at(evolving["drop"])["row"] == {"id": "1", "qty": "1", "note": "second", "price": "6.00"}
    after_drop = row_at(evolving["after drop"])
    assert after_drop["state"] == "exists" and after_drop["row"] == {"id": "1", "qty": "3", "price": "7.50"}
    assert after_drop["event"]["actor"] == "actor-after drop"
    deleted = row_at(evolving["delete"])
    assert deleted["state"] == "deleted" and deleted["row"] is None and deleted["event"]["op"] == "D"
    assert row_at(evolving["again"])["row"] == {"id": "1", "qty": "4", "price": "9.00"}
    exact = history_json("item", "1", "--as-of", writes(history_json("item", "1", dsn=kit_db))[1]["time"], dsn=kit_db)
    assert exact["row"]["price"] == "6"  # a write's own time includes it
    text = cli("history", "item", "1", "--as-of", format_time(evolving["note"]) or "", dsn=kit_db)
    assert text.exit_code == 0
    assert "as written by #" in text.stdout and any(line.split() == ["note", "second"] for line in text.stdout.splitlines())


def test_history_table_text(kit_db: str, evolving: dict[str, datetime]) -> None:
    result = cli("history", "public.item", "1", dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("public.item id=1: recorded history, oldest first\n")
    assert "~ price: 5 → 6" in text and "~ note: first → second" in text
    assert "not by a recorded write of this row" in text and "~ price: 6 → 6.00" in text and "- note: second" in text
    assert "ALTER TABLE item DROP COLUMN note" in text
    assert text.rstrip().endswith("(6 writes)")
    lines = cli("history", "public.item", "1", "--format", "jsonl", dsn=kit_db)
    assert [json.loads(line)["id"] for line in lines.stdout.splitlines()] == [
        e["id"] for e in history_json("public.item", "1", dsn=kit_db)["events"]]


def test_limit_shows_the_newest_writes_with_their_gaps(kit_db: str, evolving: dict[str, datetime]) -> None:
    full = writes(history_json("item", "1", dsn=kit_db))
    last = writes(history_json("item", "1", "--limit", "3", dsn=kit_db))
    assert last == full[-3:]
    two = history_json("item", "1", "--limit", "4", dsn=kit_db)
    assert writes(two) == full[-4:] and writes(two)[0]["gap"] == [{"column": "price", "old": "6", "new": "6.00"}]
    assert two["events"][0]["op"] == "S"  # the retype before the first write shown explains its gap


def test_composite_key_and_renamed_table(hist: History) -> None:
    line = history_json("public.lines", '{"line": 2, "order_id": 1}', dsn=hist.dsn)
    assert [(e["op"], e["xid"]) for e in writes(line)] == [("I", hist.xids["a"]), ("D", hist.xids["c"])]
    truncated = writes(history_json("lines", '{"order_id": "1", "line": "1"}', dsn=hist.dsn))
    assert [e["op"] for e in truncated] == ["I", "T"] and truncated[-1]["changes"][0].get("new", "absent") == "absent"
    renamed = writes(history_json("public.renamed_to", "1", dsn=hist.dsn))
    assert [(e["table"], e["op"]) for e in renamed] == [("renamed_from", "I"), ("renamed_to", "U")]
    assert renamed == writes(history_json("public.renamed_from", "1", dsn=hist.dsn))
    order = writes(history_json("orders", "1", dsn=hist.dsn))
    assert [e["actor"] for e in order] == ["alice", "bob", "carol"]
    assert order[2]["gap"] == [{"column": "price", "old": "5", "new": "5.00"}]


def test_history_answers_and_errors(hist: History) -> None:
    nothing = cli("history", "public.orders", "424242", dsn=hist.dsn)
    assert nothing.exit_code == 0 and nothing.stdout == "public.orders id=424242: no recorded writes\n"
    assert history_json("public.orders", "424242", dsn=hist.dsn)["events"] == []
    for args in (["public.*", "1"], ["public.lines", "1"], ["public.nope", "1"], ["public.orders", "1", "--as-of", "soon"],
                 ["public.orders", "1", "--limit", "-2"], ["public.orders", '{"id": [1]}'], ["a b", "1"]):
        result = cli("history", *args, dsn=hist.dsn)
        assert result.exit_code == 2, (args, result.stderr)
    with psycopg.connect(hist.dsn) as conn:
        row = conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None and row[0]["command"] == "history" and row[0]["filter"]["table"] == "a b"
    cli("history", "public.orders", "1", "--as-of", "2026-01-01T00:00:00Z", dsn=hist.dsn)
    with psycopg.connect(hist.dsn) as conn:
        row = conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None and row[0] == {"command": "history", "filter": {"table": "public.orders", "pk": "1",
                                                                          "as_of": "2026-01-01T00:00:00Z"}}
    # a key that is not the table's primary key matches nothing: an error that names the key, not "no writes"
    wrong_key = cli("history", "public.orders", '{"x": 1}', dsn=hist.dsn)
    assert wrong_key.exit_code == 2, wrong_key.stdout
    assert "--pk names x, not the primary key of public.orders (its key columns: id)" in wrong_key.stderr
    part_key = cli("history", "public.lines", '{"line": 2}', dsn=hist.dsn)
    assert part_key.exit_code == 2 and "(its key columns: order_id, line)" in part_key.stderr

