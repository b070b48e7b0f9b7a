"""retention and retire: archived history leaves the database only when it is archived, verified, covered by a
signed checkpoint and older than a minimum retention period that the database enforces (raise-only, for every
role); verify then checks what remains from the retired history's end and tells a retirement from a deletion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import reference_agreement
from tests.support.helpers import cli, enable, guards_off, spread_over_partitions

Conn = psycopg.Connection[Any]


@pytest.fixture
def history(kit_conn: Conn, kit_db: str, tmp_path: Path) -> dict[str, Any]:
    """A log with two checkpoints (after 36 writes, and after 20 more), and the signer's keys."""
    return _write_history(kit_conn, kit_db, tmp_path)


@pytest.fixture
def partitioned_history(kit_conn: Conn, kit_db: str, tmp_path: Path) -> dict[str, Any]:
    """The same log spread over partitions of the event table four events wide."""
    spread_over_partitions(kit_conn, events_each=4, ahead=60)
    return _write_history(kit_conn, kit_db, tmp_path)


def _write_history(kit_conn: Conn, kit_db: str, tmp_path: Path) -> dict[str, Any]:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    enable(kit_conn, "t", redact=["v"])
    assert cli("keygen", "--name", "shop-audit", "--out", str(tmp_path / "shop")).exit_code == 0
    for i in range(30):
        kit_conn.execute("INSERT INTO t (id, v) VALUES (%s, %s)", (i, f"row {i}"))
    kit_conn.execute("UPDATE t SET v = v || ' again' WHERE id < 8")
    kit_conn.execute("DELETE FROM t WHERE id >= 28")
    # control records whose events are retired with the rest: a maintenance window, a lockdown and its end
    kit_conn.execute("SELECT pgaudit_kit.begin_maintenance('a test window')")
    assert cli("lockdown", "--reason", "drill", dsn=kit_db).exit_code == 0
    assert cli("unlock", "--reason", "drill over", dsn=kit_db).exit_code == 0
    kit_conn.execute("SELECT pgaudit_kit.seal()")
    first = _checkpoint(kit_db, tmp_path)
    for i in range(30, 50):
        kit_conn.execute("INSERT INTO t (id, v) VALUES (%s, 'later')", (i,))
    second = _checkpoint(kit_db, tmp_path)
    assert 0 < first["tree_size"] < second["tree_size"]
    return {"public": tmp_path / "shop.pub", "key": tmp_path / "shop.key", "first": first, "second": second,
            "dsn": kit_db, "tmp": tmp_path}


def _checkpoint(dsn: str, tmp: Path) -> dict[str, Any]:
    result = cli("checkpoint", "--key", str(tmp / "shop.key"), "--format", "json", dsn=dsn)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _archive(history: dict[str, Any], through: int, name: str) -> Path:
    out: Path = history["tmp"] / name
    result = cli("archive", "--through", str(through - 1), "--out", str(out), "--public-key", str(history["public"]),
                 dsn=history["dsn"])
    assert result.exit_code == 0, result.output
    return out


def _retire(history: dict[str, Any], archive: Path, *extra: str) -> Any:
    return cli("retire", "--archive", str(archive), "--public-key", str(history["public"]), "--format", "json",
               *extra, dsn=history["dsn"])


def _verify(history: dict[str, Any], *extra: str) -> dict[str, Any]:
    reference = reference_agreement.reference_report(history["dsn"], history["public"], None)
    result = cli("verify", "--public-key", str(history["public"]), "--format", "json", *extra, dsn=history["dsn"])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    reference_agreement.assert_agrees(reference, report)
    return report


def _counts(conn: Conn) -> tuple[int, ...]:
    """The recorded changes of t, the first block, checkpoints and the transaction records of those changes
    (reviews, verify among them, add events of their own, and the commit of their record may seal a block: so
    what must stay is the oldest block, not the number)."""
    row = conn.execute("SELECT (SELECT count(*) FROM pgaudit_kit.event WHERE table_name = 't'), "
                       "(SELECT min(block_no) FROM pgaudit_kit.block), (SELECT count(*) FROM pgaudit_kit.checkpoint), "
                       "(SELECT count(DISTINCT xid) FROM pgaudit_kit.event WHERE table_name = 't')").fetchone()
    assert row is not None
    return tuple(int(v) for v in row)


def _may_retire_now(history: dict[str, Any]) -> None:
    """The shortest retention period there is: history sealed before this transaction began is older."""
    assert cli("retention", "--set", "1 microsecond", dsn=history["dsn"]).exit_code == 0


def test_retention_period_can_be_raised_never_lowered(kit_conn: Conn, kit_db: str) -> None:
    shown = cli("retention", dsn=kit_db)
    assert shown.exit_code == 0 and "no minimum retention period is set" in shown.stdout
    assert cli("retention", "--set", "30 days", dsn=kit_db).stdout.startswith("minimum retention period is now 30 days")
    lowered = cli("retention", "--set", "10 days", dsn=kit_db)
    assert lowered.exit_code != 0 and "it can be raised, never lowered" in lowered.stderr, lowered.output
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="never lowered"):  # the database refuses it
        kit_conn.execute("SELECT pgaudit_kit.set_retention('1 day')")
    assert "already 30 days" in cli("retention", "--set", "720 hours", dsn=kit_db).stdout  # the same period
    assert cli("retention", "--set", "1 year", dsn=kit_db).exit_code == 0
    # a row written past the function (the owner may insert) cannot shorten the longest period
    kit_conn.execute("SET ROLE pgaudit_kit_owner")
    kit_conn.execute("INSERT INTO pgaudit_kit.retention (min_age, set_by) VALUES ('1 second', 'forger')")
    kit_conn.execute("RESET ROLE")
    report = json.loads(cli("retention", "--format", "json", dsn=kit_db).stdout)
    assert report["min_age"] == "1 year" and report["retired_through"] == 0
    bad = cli("retention", "--set", "soon", dsn=kit_db)
    assert bad.exit_code == 2 and "not a period" in bad.stderr
    recorded = kit_conn.execute("SELECT row_data->>'min_age', row_data->>'previous' FROM pgaudit_kit.event "
                                "WHERE op = 'K' AND row_data->>'action' = 'retention' ORDER BY id").fetchall()
    assert recorded == [("30 days", None), ("1 year", "30 days")]


def test_nothing_is_retired_without_a_retention_period(history: dict[str, Any], kit_conn: Conn) -> None:
    archive = _archive(history, history["first"]["tree_size"], "a1")
    before = _counts(kit_conn)
    result = _retire(history, archive)
    assert result.exit_code == 3 and "no retention period is set" in result.stderr, result.output
    assert _counts(kit_conn) == before


def test_younger_history_cannot_be_removed_by_anyone(history: dict[str, Any], kit_conn: Conn) -> None:
    """With a retention period of a day, nothing here may leave: not through retire, not by calling the
    database function as a superuser, not by a DELETE, not by forging the retirement row that lets one pass."""
    size = history["first"]["tree_size"]
    archive = _archive(history, size, "a1")
    assert cli("retention", "--set", "1 day", dsn=history["dsn"]).exit_code == 0
    before = _counts(kit_conn)
    result = _retire(history, archive)
    assert result.exit_code == 3 and "within the retention period of 1 day" in result.stderr, result.output
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="within the retention period"):
        kit_conn.execute("SELECT pgaudit_kit.retire(%s, repeat('0', 64))", (size,))
    for table in ("event", "transaction", "block", "checkpoint"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            kit_conn.execute(f"DELETE FROM pgaudit_kit.{table}")
    block = kit_conn.execute("SELECT block_no, block_hash FROM pgaudit_kit.block WHERE tree_size = %s",
                             (size,)).fetchone()
    assert block is not None
    with kit_conn.transaction() as forging:  # the owner forges the row retire would write, then deletes
        kit_conn.execute("SET LOCAL ROLE pgaudit_kit_owner")
        kit_conn.execute("INSERT INTO pgaudit_kit.retirement (block_no, tree_size, block_hash, archive_sha256, "
                         "min_age, retired_by) VALUES (%s, %s, %s, repeat('0', 64), '1 day', 'forger')",
                         (block[0], size, block[1]))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"), kit_conn.transaction():
            kit_conn.execute("DELETE FROM pgaudit_kit.event WHERE id < 100")
        raise psycopg.Rollback(forging)
    assert _counts(kit_conn) == before


def test_retire_removes_archived_history_and_verify_still_checks_the_rest(history: dict[str, Any], kit_conn: Conn,
                                                                        tmp_path: Path) -> None:
    first, second = history["first"]["tree_size"], history["second"]["tree_size"]
    state = tmp_path / "shop.state"
    assert _verify(history, "--state", str(state))["clean"]  # a trusted state at the second checkpoint
    archive = _archive(history, first, "a1")
    digest = json.loads(cli("verify-archive", str(archive), "--public-key", str(history["public"]), "--format",
                            "json").stdout)["digest"]
    retired_ids = [r[0] for r in kit_conn.execute(
        "SELECT unnest(event_ids) FROM pgaudit_kit.block WHERE tree_size <= %s", (first,))]
    kept_id = kit_conn.execute("SELECT event_ids[1] FROM pgaudit_kit.block WHERE first_seq = %s",
                               (first,)).fetchone()
    assert kept_id is not None
    _may_retire_now(history)
    result = _retire(history, archive, "--state", str(state))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["retired"] and report["tree_size"] == first and report["events_removed"] == len(retired_ids)
    assert report["archive"] == digest
    # the retired rows are gone; the last retired block stays, as the start of what remains
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE id = ANY(%s)",
                            (retired_ids,)).fetchone() == (0,)
    assert kit_conn.execute("SELECT min(tree_size) FROM pgaudit_kit.block").fetchone() == (first,)
    assert kit_conn.execute("SELECT min(tree_size) FROM pgaudit_kit.checkpoint").fetchone() == (first,)
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.transaction t WHERE NOT EXISTS "
                            "(SELECT FROM pgaudit_kit.event e WHERE e.xid = t.xid)").fetchone() == (0,)
    # recorded first: who, what range, which archive; and the enrolment restated after the boundary
    event = kit_conn.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'K' "
                             "AND row_data->>'action' = 'retire'").fetchone()
    assert event is not None and event[0]["tree_size"] == first and event[0]["archive_sha256"] == digest
    assert event[0]["min_age"] == "00:00:00.000001"
    assert kit_conn.execute("SELECT tree_size, archive_sha256, retired_by FROM pgaudit_kit.retirement").fetchall() \
        == [(first, digest, kit_conn.info.user)]
    restated = kit_conn.execute("SELECT table_name, row_data->'options'->'redacted_columns' FROM pgaudit_kit.event "
                                "WHERE op = 'K' AND row_data->>'action' = 'enrolled'").fetchall()
    assert restated == [("t", ["v"])]
    # verify checks what remains, from the retired tree's end, incrementally and in full
    for extra in (("--state", str(state)), ("--full",)):
        verified = _verify(history, *extra)
        assert verified["clean"], verified["findings"]
        assert verified["retired_through"] == first and verified["tree_size"] >= second
    assert json.loads(cli("retention", "--format", "json", dsn=history["dsn"]).stdout)["retired_through"] == first
    doctor = cli("doctor", "--format", "json", dsn=history["dsn"])
    assert "lockdown" not in json.dumps([i for i in json.loads(doctor.stdout)["items"]
                                         if i["severity"] != "ok"]), doctor.stdout
    assert cli("reconcile", "t", dsn=history["dsn"]).exit_code == 0
    # proofs: a remaining event from the database, a retired one from the archive, both checked offline
    proof = tmp_path / "kept.json"
    assert cli("prove", str(kept_id[0]), "--out", str(proof), dsn=history["dsn"]).exit_code == 0
    assert cli("verify-proof", str(proof), "--public-key", str(history["public"])).stdout.startswith("valid: ")
    gone = cli("prove", str(retired_ids[0]), dsn=history["dsn"])
    assert gone.exit_code == 2 and "prove --archive" in gone.stderr
    archived = tmp_path / "retired.json"
    assert cli("prove", str(retired_ids[0]), "--archive", str(archive), "--out", str(archived)).exit_code == 0
    assert cli("verify-proof", str(archived), "--public-key", str(history["public"])).stdout.startswith("valid: ")
    consistency = tmp_path / "consistency.json"
    assert cli("prove", "--consistency", str(first), "--out", str(consistency), dsn=history["dsn"]).exit_code == 0
    assert cli("verify-proof", str(consistency), "--public-key", str(history["public"])).stdout.startswith("valid")
    # nothing is retired twice
    again = _retire(history, archive)
    assert again.exit_code == 2 and "retired already" in again.stderr


def test_the_next_archive_starts_where_retired_history_ends(history: dict[str, Any], kit_conn: Conn,
                                                          tmp_path: Path) -> None:
    first, second = history["first"]["tree_size"], history["second"]["tree_size"]
    a1 = _archive(history, first, "a1")
    _may_retire_now(history)
    assert _retire(history, a1).exit_code == 0
    for i in range(50, 60):
        kit_conn.execute("INSERT INTO t (id, v) VALUES (%s, 'newest')", (i,))
    third = _checkpoint(history["dsn"], tmp_path)["tree_size"]
    a2 = _archive(history, third, "a2")
    checked = json.loads(cli("verify-archive", str(a2), "--public-key", str(history["public"]), "--format",
                             "json").stdout)
    assert checked["clean"], checked["findings"]
    assert checked["start_size"] == first and checked["tree_size"] == third
    assert checked["events_checked"] == third - first
    manifest = json.loads((a2 / "manifest.json").read_text())
    a1_digest = json.loads(cli("verify-archive", str(a1), "--public-key", str(history["public"]),
                               "--format", "json").stdout)["digest"]
    assert manifest["previous_archive"] == a1_digest and manifest["start"]["tree_size"] == first
    # an archive that starts before the retired end still covers it; one that starts after it would leave a gap
    assert _retire(history, a2).exit_code == 0
    assert kit_conn.execute("SELECT min(tree_size) FROM pgaudit_kit.block").fetchone() == (third,)
    verified = _verify(history, "--full")
    assert verified["clean"], verified["findings"]
    assert verified["retired_through"] == third and second < third
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.retirement").fetchone() == (2,)


def test_an_edited_start_of_an_archive_is_caught(history: dict[str, Any], kit_conn: Conn, tmp_path: Path) -> None:
    a1 = _archive(history, history["first"]["tree_size"], "a1")
    _may_retire_now(history)
    assert _retire(history, a1).exit_code == 0
    third = _checkpoint(history["dsn"], tmp_path)["tree_size"]
    a2 = _archive(history, third, "a2")
    manifest = a2 / "manifest.json"
    data = json.loads(manifest.read_text())
    data["start"]["frontier"] = data["start"]["frontier"][:-1] + ["A" * 43 + "="]
    data["start"]["root"] = None
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(data))
    checked = json.loads(cli("verify-archive", str(a2), "--public-key", str(history["public"]), "--format",
                             "json").stdout)
    assert not checked["clean"] and "archive_manifest" in checked["finding_counts"], checked


def test_a_deletion_without_retire_is_a_finding(history: dict[str, Any], kit_conn: Conn) -> None:
    """A superuser past the guards deletes the oldest history the way retire would, but records no retirement:
    verify names what is missing. After a real retirement, a deletion beyond its range is named too."""
    first = history["first"]["tree_size"]
    boundary = kit_conn.execute("SELECT block_no, last_xid::text, last_event_id FROM pgaudit_kit.block "
                                "WHERE tree_size = %s", (first,)).fetchone()
    assert boundary is not None
    with guards_off(kit_conn):
        kit_conn.execute("DELETE FROM pgaudit_kit.event WHERE (xid, id) <= (%s::xid8, %s)", boundary[1:])
        kit_conn.execute("DELETE FROM pgaudit_kit.block WHERE block_no < %s", (boundary[0],))
        kit_conn.execute("DELETE FROM pgaudit_kit.checkpoint WHERE tree_size < %s", (first,))
    report = _verify(history, "--full")
    assert not report["clean"] and report["retired_through"] == 0
    assert {"block_sequence", "event_missing"} <= set(report["finding_counts"]), report["finding_counts"]


def test_history_removed_beyond_a_retirement_or_slipped_into_it_is_a_finding(history: dict[str, Any],
                                                                            kit_conn: Conn) -> None:
    first = history["first"]["tree_size"]
    a1 = _archive(history, first, "a1")
    _may_retire_now(history)
    assert _retire(history, a1).exit_code == 0
    victim = kit_conn.execute("SELECT event_ids[2] FROM pgaudit_kit.block WHERE first_seq = %s",
                              (first,)).fetchone()
    assert victim is not None
    with guards_off(kit_conn):
        kit_conn.execute("DELETE FROM pgaudit_kit.event WHERE id = %s", victim)
        # and a forged event placed inside the retired range, where nothing is checked any more
        kit_conn.execute("INSERT INTO pgaudit_kit.event (id, xid, statement_ts, op, relid, schema_name, table_name, "
                         "row_data) OVERRIDING SYSTEM VALUE VALUES (3, '5'::xid8, now(), 'I', 't'::regclass, "
                         "'public', 't', '{\"id\": \"999\"}')")
    report = _verify(history, "--full")
    kinds = {(f["kind"], f.get("event_id")) for f in report["findings"]}
    assert ("event_missing", victim[0]) in kinds and ("event_inserted", 3) in kinds, report["findings"]


def test_a_rewritten_retirement_boundary_is_a_finding(history: dict[str, Any], kit_conn: Conn) -> None:
    first = history["first"]["tree_size"]
    a1 = _archive(history, first, "a1")
    _may_retire_now(history)
    assert _retire(history, a1).exit_code == 0
    with guards_off(kit_conn):
        kit_conn.execute("UPDATE pgaudit_kit.block SET frontier = frontier[1:1] || frontier WHERE tree_size = %s",
                         (first,))
    report = _verify(history, "--full")
    assert "retirement_boundary" in report["finding_counts"], report["finding_counts"]


def test_retire_refuses_an_archive_with_findings(history: dict[str, Any], kit_conn: Conn,
                                                                 tmp_path: Path) -> None:
    a1 = _archive(history, history["first"]["tree_size"], "a1")
    _may_retire_now(history)
    edited = tmp_path / "edited"
    edited.mkdir()
    for path in a1.iterdir():
        (edited / path.name).write_bytes(path.read_bytes())
    events_file = next(edited.glob("events-*.jsonl"))
    events_file.write_text(events_file.read_text().replace('"public"', '"privat"', 1))
    before = _counts(kit_conn)
    result = _retire(history, edited)
    assert result.exit_code == 1 and not json.loads(result.stdout)["retired"]
    assert _counts(kit_conn) == before
    assert _verify(history)["clean"]


def test_a_deletion_passed_off_as_a_retirement_is_a_finding(history: dict[str, Any], kit_conn: Conn) -> None:
    """A superuser past the guards deletes the oldest history and writes the retire event that retire would,
    but the database never let it through: no retirement row matches it, and no retention period allowed it."""
    first = history["first"]["tree_size"]
    boundary = kit_conn.execute("SELECT block_no, last_xid::text, last_event_id, encode(block_hash, 'hex') "
                                "FROM pgaudit_kit.block WHERE tree_size = %s", (first,)).fetchone()
    assert boundary is not None
    with guards_off(kit_conn):
        kit_conn.execute("DELETE FROM pgaudit_kit.event WHERE (xid, id) <= (%s::xid8, %s)", boundary[1:3])
        kit_conn.execute("DELETE FROM pgaudit_kit.block WHERE block_no < %s", (boundary[0],))
        kit_conn.execute("DELETE FROM pgaudit_kit.checkpoint WHERE tree_size < %s", (first,))
        kit_conn.execute(
            "INSERT INTO pgaudit_kit.event (xid, statement_ts, op, row_data) VALUES (pg_current_xact_id(), now(), 'K', "
            "jsonb_build_object('action', 'retire', 'block_no', %s::int8, 'tree_size', %s::int8, 'block_hash', %s::text, "
            "'archive_sha256', repeat('0', 64), 'min_age', '1 day'))", (boundary[0], first, boundary[3]))
    report = _verify(history, "--full")
    assert report["retired_through"] == first
    assert {"retirement_unrecorded", "retirement_early"} <= set(report["finding_counts"]), report["findings"]


def test_uninstall_cannot_discard_history_within_the_retention_period(history: dict[str, Any],
                                                                     kit_conn: Conn) -> None:
    assert cli("retention", "--set", "1 day", dsn=history["dsn"]).exit_code == 0
    result = cli("uninstall", "--discard-history", dsn=history["dsn"])
    assert result.exit_code == 2 and "younger than the minimum retention period (1 day)" in result.stderr, \
        result.output
    assert kit_conn.execute("SELECT to_regnamespace('pgaudit_kit') IS NOT NULL").fetchone() == (True,)


def _partitions(conn: Conn) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT name FROM pgaudit_kit.event_partitions()")]


def test_retire_drops_the_partitions_that_hold_only_retired_history(partitioned_history: dict[str, Any],
                                                                    kit_conn: Conn) -> None:
    """Whole partitions leave by DROP (no row deleted, no dead tuple); the partition the boundary falls in keeps
    what is not retired; verify checks the rest as after any retirement."""
    history = partitioned_history
    first = history["first"]["tree_size"]
    retired_ids = [r[0] for r in kit_conn.execute(
        "SELECT unnest(event_ids) FROM pgaudit_kit.block WHERE tree_size <= %s", (first,))]
    holding = {str(r[0]) for r in kit_conn.execute(
        "SELECT DISTINCT tableoid::regclass::text FROM pgaudit_kit.event WHERE id = ANY(%s)", (retired_ids,))}
    before = _partitions(kit_conn)
    empty = {f"pgaudit_kit.{name}" for name in before} - {str(r[0]) for r in kit_conn.execute(
        "SELECT DISTINCT tableoid::regclass::text FROM pgaudit_kit.event")}
    archive = _archive(history, first, "a1")
    _may_retire_now(history)
    result = _retire(history, archive)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events_removed"] == len(retired_ids)
    dropped = {f"pgaudit_kit.{name}" for name in set(before) - set(_partitions(kit_conn))}
    # those of retired events only, and the empty ones left behind by the ids (event_p0 to event_p2 here)
    assert len(dropped & holding) >= 5 and dropped <= holding | empty, (dropped, holding)
    assert {"pgaudit_kit.event_p0", "pgaudit_kit.event_p1"} <= dropped
    assert "event_overflow" in _partitions(kit_conn)
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE id = ANY(%s)",
                            (retired_ids,)).fetchone() == (0,)
    assert kit_conn.execute("SELECT n_tup_del FROM pg_stat_xact_user_tables WHERE relname = 'event_p0'"
                            ).fetchone() in (None, (0,))
    for extra in ((), ("--full",)):
        verified = _verify(history, *extra)
        assert verified["clean"], verified["findings"]
        assert verified["retired_through"] == first


def test_retire_deletes_instead_when_readers_hold_the_event_table(partitioned_history: dict[str, Any],
                                                                  kit_conn: Conn) -> None:
    """A long reader of the whole event table (an export, a verify --full) holds every partition: dropping one
    would wait for it while every audited writer queued behind. Retire waits lock_timeout (200 ms by default),
    then deletes those partitions' rows instead; the retirement is the same."""
    history = partitioned_history
    first = history["first"]["tree_size"]
    retired = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event e JOIN pgaudit_kit.block b "
                               "ON e.id = ANY (b.event_ids) WHERE b.tree_size <= %s", (first,)).fetchone()
    before = _partitions(kit_conn)
    whole = {str(r[0]) for r in kit_conn.execute(  # partitions of retired events only
        "SELECT p.name FROM pgaudit_kit.event_partitions() p WHERE EXISTS (SELECT FROM pgaudit_kit.event e "
        "WHERE e.tableoid = p.partition) AND NOT EXISTS (SELECT FROM pgaudit_kit.event e WHERE e.tableoid = "
        "p.partition AND NOT e.id IN (SELECT unnest(event_ids) FROM pgaudit_kit.block WHERE tree_size <= %s))",
        (first,))}
    archive = _archive(history, first, "a1")
    _may_retire_now(history)
    with psycopg.connect(history["dsn"]) as reader:
        reader.execute("SELECT count(*) FROM pgaudit_kit.event")  # open: holds the table
        result = _retire(history, archive)
        assert result.exit_code == 0, result.output
        reader.rollback()
    assert retired is not None and json.loads(result.stdout)["events_removed"] == retired[0]
    assert _partitions(kit_conn) == before
    verified = _verify(history, "--full")
    assert verified["clean"], verified["findings"]
    # and the partitions emptied by deletes go with the next retirement (their ranges are long behind the ids)
    assert len(whole) >= 5
    second = history["second"]["tree_size"]
    assert _retire(history, _archive(history, second, "a2")).exit_code == 0
    assert whole.isdisjoint(_partitions(kit_conn))
    assert _verify(history, "--full")["clean"]
