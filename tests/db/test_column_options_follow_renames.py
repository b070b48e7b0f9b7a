"""A redacted or excluded column keeps its option when it is renamed: capture is regenerated after the
rename, and without this it would no longer know the column and record the value in clear."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.helpers import enable, events

Conn = psycopg.Connection[Any]


def test_renamed_redacted_and_excluded_columns_stay_so(kit_conn: Conn) -> None:
    kit_conn.execute("CREATE TABLE people (id int PRIMARY KEY, email text, secret text, note text)")
    enable(kit_conn, "people", exclude=["secret"], redact=["email"])
    kit_conn.execute('ALTER TABLE people RENAME COLUMN email TO "E-Mail"')
    kit_conn.execute("ALTER TABLE people RENAME COLUMN secret TO pin")
    kit_conn.execute("ALTER TABLE people RENAME COLUMN note TO remark")  # an ordinary column: nothing to carry
    kit_conn.execute("INSERT INTO people VALUES (1, 'alice@example.com', '1234', 'hi')")
    (inserted,) = events(kit_conn)
    assert set(inserted["new_row"]) == {"id", "E-Mail", "remark"}
    assert inserted["new_row"]["E-Mail"].startswith("hmac-sha256:")
    assert "alice@example.com" not in str(inserted) and "1234" not in str(inserted)
    assert kit_conn.execute("SELECT excluded_columns, redacted_columns FROM pgaudit_kit.enrolled_table").fetchone() \
        == (["pin"], ["E-Mail"])
    options = [row[0] for row in kit_conn.execute(
        "SELECT row_data->'options' FROM pgaudit_kit.event WHERE op = 'K' AND row_data->>'action' = 'options' "
        "ORDER BY id")]
    assert [(o["excluded_columns"], o["redacted_columns"]) for o in options] == [
        (["secret"], ["E-Mail"]), (["pin"], ["E-Mail"])]
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.invariant_problems()").fetchone() == (0,)
