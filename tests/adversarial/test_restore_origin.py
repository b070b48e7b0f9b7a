"""A logical restore into another database (or cluster) changes the checkpoint origin. `install` records the
change (issue 14 false alarm: before, every earlier checkpoint reported checkpoint_origin forever), and verify
then checks the earlier origin's checkpoints, anchors and trusted state against the restored log's roots, so
that a restored log that was also edited is still caught."""

from __future__ import annotations

import json
import uuid

from psycopg import sql

from tests.adversarial.test_integrity_adversarial import (
    Audited,
    F,
    _pg_tool,
    _reseal_in_one_block,
    assert_clean,
    findings,
)
from tests.support.helpers import cli, guards_off


def restore_into_new_database(audited: Audited) -> str:
    """pg_dump the audited database and restore it under another name; returns the new DSN (and points
    *audited* at it)."""
    dump = audited.tmp / "copy.dump"
    audited.seal()
    _pg_tool(audited.cluster, "pg_dump", "-Fc", "-f", str(dump), "-d", audited.dsn)
    name = f"restored_{uuid.uuid4().hex[:8]}"
    with audited.cluster.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    dsn = audited.cluster.dsn(name)
    _pg_tool(audited.cluster, "pg_restore", "--exit-on-error", "-d", dsn, str(dump))
    audited.conn.close()
    audited.dsn, audited.dbname = dsn, name
    audited.reconnect()
    return dsn


def test_restore_into_another_database_verifies_clean_after_install_records_the_origin_change(
        audited: Audited) -> None:
    old_origin = audited.origin()
    restore_into_new_database(audited)
    new_origin = audited.origin()
    assert new_origin != old_origin
    installed = cli("install", dsn=audited.dsn)
    assert installed.exit_code == 0, installed.output
    assert f"recorded the change of checkpoint origin from {old_origin}" in installed.stdout
    changes = audited.conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'K' "
                                   "AND row_data->>'action' = 'origin_change'").fetchall()
    assert [r[0] for r in changes] == [{"action": "origin_change", "from": old_origin, "to": new_origin}]
    again = cli("install", dsn=audited.dsn)  # recorded once
    assert again.exit_code == 0 and "origin" not in again.stdout
    code, report = audited.verify()  # at once: the change need not be sealed yet
    assert (code, report["findings"]) == (0, []), json.dumps(report["findings"], indent=1)
    assert report["checkpoints_checked"] == 2 and report["anchored_checkpoints_checked"] == 2
    assert json.loads(audited.state.read_text())["origin"] == new_origin  # the trusted state moves over
    assert_clean(audited)


def test_earlier_origins_checkpoints_still_catch_a_rewrite_of_the_restored_log(audited: Audited) -> None:
    """The earlier origin's checkpoints are compared, not waved through: a rewrite of the restored log that is
    self-consistent (an edited event, the log sealed anew) shows against each of them."""
    (target,) = audited.events_of("carol")
    sizes = [int(p.name.split("-")[0]) for p in audited.notes]
    restore_into_new_database(audited)
    assert cli("install", dsn=audited.dsn).exit_code == 0
    with guards_off(audited.conn), audited.conn.transaction():
        audited.conn.execute("UPDATE pgaudit_kit.event SET row_data = jsonb_set(row_data, '{balance}', '\"9\"') "
                             "WHERE id = %s", (target,))
        _reseal_in_one_block(audited)
    expected = [F("checkpoint_root", seq=size - 1, object=f"#{i} in the database") for i, size in enumerate(sizes, 1)]
    expected += [F("checkpoint_root", seq=size - 1, object=str(note))
                 for note, size in zip(audited.notes, sizes, strict=True)]
    code, report = audited.verify(full=True, state=False)
    assert code == 1
    assert [f for f in findings(report) if f[0].startswith("checkpoint")] == expected, report["findings"]
