"""Any server encoding: the kit works in a LATIN1 database end to end (install, capture, sealing, checkpoints,
verify, review, proofs, archives), and refuses a SQL_ASCII one before changing anything (its text is unchecked
bytes: nothing the kit records could be read back or hashed the same way by every client)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgaudit_kit.schema import installer
from tests.support import reference_agreement
from tests.support.cluster import Cluster
from tests.support.helpers import cli


@pytest.fixture
def encoded_db(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database of the encoding given as the parameter (C locale, so that every encoding is allowed)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING {} LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0").format(
            sql.Identifier(name), sql.Literal(request.param)))
    yield cluster.dsn(name)
    cluster.drop_database(name)


@pytest.mark.parametrize("encoded_db", ["LATIN1"], indirect=True)
def test_the_kit_works_end_to_end_in_a_latin1_database(encoded_db: str, tmp_path: Path) -> None:
    dsn = encoded_db
    assert cli("install", dsn=dsn).exit_code == 0
    with psycopg.connect(dsn, autocommit=True, client_encoding="UTF8") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        assert cli("enable", "t", dsn=dsn).exit_code == 0
        conn.execute("INSERT INTO t VALUES (1, 'café crème'), (2, 'Ærø Øl ½')")
        conn.execute("UPDATE t SET v = 'naïve façade' WHERE id = 1")
    # the application's own client encoding does not matter either
    with psycopg.connect(dsn, autocommit=True, client_encoding="LATIN1") as conn:
        conn.execute("INSERT INTO t VALUES (3, 'déjà vu')")
    assert cli("keygen", "--out", str(tmp_path / "k")).exit_code == 0
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    checkpoint = cli("checkpoint", "--key", str(tmp_path / "k.key"), "--anchor-dir", str(anchors), dsn=dsn)
    assert checkpoint.exit_code == 0, checkpoint.output
    public = str(tmp_path / "k.pub")
    reference = reference_agreement.reference_report(dsn, Path(public), anchors)
    verified = cli("verify", "--public-key", public, "--anchor-dir", str(anchors), "--full", "--format", "json",
                   dsn=dsn)
    report = json.loads(verified.stdout)
    assert verified.exit_code == 0 and report["clean"], report["findings"]
    reference_agreement.assert_agrees(reference, report)
    assert report["checkpoints_checked"] == 1 and report["anchored_checkpoints_checked"] == 1
    log = cli("log", "--table", "t", "--format", "jsonl", dsn=dsn)
    assert log.exit_code == 0, log.output
    values = {(json.loads(line).get("new") or {}).get("v") for line in log.stdout.splitlines()}
    assert {"café crème", "Ærø Øl ½", "naïve façade", "déjà vu"} <= values, values
    history = cli("history", "t", "1", dsn=dsn)
    assert history.exit_code == 0 and "naïve façade" in history.stdout, history.output
    with psycopg.connect(dsn, client_encoding="UTF8") as conn:
        event_id, note = conn.execute(
            "SELECT (SELECT max(id) FROM pgaudit_kit.event WHERE table_name = 't'), "
            "(SELECT note FROM pgaudit_kit.checkpoint)").fetchone() or (None, None)
    assert isinstance(note, bytes) and "\u2014".encode() in note  # stored as the note's UTF-8 bytes
    proof = tmp_path / "p.json"
    assert cli("prove", str(event_id), "--out", str(proof), dsn=dsn).exit_code == 0
    assert cli("verify-proof", str(proof), "--public-key", public).stdout.startswith("valid: ")
    archived = cli("archive", "--through", "999999", "--out", str(tmp_path / "a"), "--public-key", public,
                   "--format", "json", dsn=dsn)
    assert archived.exit_code == 0 and json.loads(archived.stdout)["clean"], archived.output
    doctor = cli("doctor", "--key", str(tmp_path / "k.key"), "--anchor-dir", str(anchors), "--format", "json",
                 dsn=dsn)
    (key_file,) = [i for i in json.loads(doctor.stdout)["items"] if i["id"] == "key_file"]
    assert key_file["severity"] == "ok" and "signed the newest checkpoint" in key_file["finding"], key_file


@pytest.mark.parametrize("encoded_db", ["SQL_ASCII"], indirect=True)
def test_install_refuses_a_sql_ascii_database_before_changing_anything(encoded_db: str) -> None:
    result = cli("install", dsn=encoded_db)
    assert result.exit_code == 3 and "SQL_ASCII" in result.stderr and "nothing was installed" in result.stderr
    with psycopg.connect(encoded_db, autocommit=True, client_encoding="UTF8") as conn:
        assert conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)
        # the script of `install --sql`, run as psql would run it, stops there too
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="SQL_ASCII"):
            conn.execute(installer.install_sql(None))
        conn.execute("ROLLBACK")  # the script's own BEGIN left its failed transaction open, as psql would
        assert conn.execute("SELECT to_regnamespace('pgaudit_kit')").fetchone() == (None,)
