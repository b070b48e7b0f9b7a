"""`pgaudit-kit metrics` against a real kit database: the numbers follow what happened (writes, sealing, a
checkpoint, a verify, a lockdown), each collection is recorded as a review, the textfile is written whole, and the
HTTP endpoint keeps serving (pgaudit_kit_up 0) while the database is away, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pgaudit_kit.doctor.items import ITEM_IDS
from pgaudit_kit.pg.tempserver import free_port
from tests.support.helpers import cli, enable

Conn = psycopg.Connection[Any]


def _values(text: str) -> dict[str, float]:
    """Sample name (with labels, as key=value in braces) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def test_metrics_follow_the_log(kit_conn: Conn, kit_db: str, tmp_path: Path) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    first = _values(cli("metrics", dsn=kit_db).stdout)
    assert first["pgaudit_kit_up"] == 1 and first["pgaudit_kit_locked_down"] == 0
    assert "pgaudit_kit_last_checkpoint_age_seconds" not in first and "pgaudit_kit_last_verify_clean" not in first
    assert sum(v for k, v in first.items() if k.startswith("pgaudit_kit_doctor_items")) == len(ITEM_IDS)

    kit_conn.execute("INSERT INTO t SELECT generate_series(1, 10)")
    assert cli("seal", dsn=kit_db).exit_code == 0
    assert cli("keygen", "--name", "m", "--out", str(tmp_path / "m")).exit_code == 0
    assert cli("checkpoint", "--key", str(tmp_path / "m.key"), dsn=kit_db).exit_code == 0
    assert cli("verify", "--public-key", str(tmp_path / "m.pub"), dsn=kit_db).exit_code == 0
    assert cli("lockdown", "--reason", "INC-7", dsn=kit_db).exit_code == 0
    textfile = tmp_path / "pgaudit_kit.prom"
    assert cli("metrics", "--textfile", str(textfile), dsn=kit_db).exit_code == 0
    after = _values(textfile.read_text())
    sealed = kit_conn.execute("SELECT max(tree_size) FROM pgaudit_kit.block").fetchone()
    checkpointed = kit_conn.execute("SELECT max(tree_size) FROM pgaudit_kit.checkpoint").fetchone()
    assert sealed is not None and checkpointed is not None
    assert after["pgaudit_kit_sealed_events"] == sealed[0] >= first["pgaudit_kit_sealed_events"] + 10
    assert after["pgaudit_kit_last_checkpoint_tree_size"] == checkpointed[0]
    assert 0 <= after["pgaudit_kit_last_checkpoint_age_seconds"] < 60
    assert 0 <= after["pgaudit_kit_last_seal_age_seconds"] < 60
    assert after["pgaudit_kit_last_verify_clean"] == 1 and after["pgaudit_kit_locked_down"] == 1
    assert after["pgaudit_kit_unsealed_events"] >= 1  # this collection's own review, at least
    recorded = kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE op = 'R' "
                                "AND row_data->>'command' = 'metrics'").fetchone()
    assert recorded == (2,)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pgaudit_kit.prom")] == ["pgaudit_kit.prom"]


@pytest.mark.parametrize(("args", "message"), [
    (["--textfile", "x.prom", "--listen", ":9"], "not both"),
    (["--listen", "localhost"], "not HOST:PORT"),
    (["--listen", ":70000"], "not HOST:PORT"),
    (["--interval", "0"], "--interval"),
])
def test_bad_options_exit_2_before_any_work(kit_conn: Conn, kit_db: str, args: list[str], message: str) -> None:
    result = cli("metrics", *args, dsn=kit_db)
    assert result.exit_code == 2 and message in result.output, result.output
    assert kit_conn.execute("SELECT count(*) FROM pgaudit_kit.event WHERE row_data->>'command' = 'metrics'"
                            ).fetchone() == (0,)


def test_a_role_without_a_kit_role_is_told_which_to_grant(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE ROLE nobody_here LOGIN PASSWORD 'pw'")
    dsn = psycopg.conninfo.make_conninfo(kit_db, user="nobody_here", password="pw")
    result = cli("metrics", dsn=dsn)
    assert result.exit_code == 3 and "reader" in result.stderr, result.output


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:  # noqa: S310
            return str(response.read().decode())
    except OSError:
        return None


def _serve(dsn: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pgaudit_kit", "--dsn", dsn, "metrics", "--listen",
                             f"127.0.0.1:{port}", "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for(port: int, predicate: Any, seconds: float = 20) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = _scrape(port)
        if text is not None and predicate(values := _values(text)):
            return values
        time.sleep(0.2)
    raise AssertionError(f"no scrape of port {port} satisfied the condition in {seconds}s")


def test_http_endpoint_serves_collects_again_and_stops_on_sigterm(kit_conn: Conn, kit_db: str) -> None:
    kit_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    enable(kit_conn, "t")
    kit_conn.execute("INSERT INTO t SELECT generate_series(1, 5)")
    assert cli("seal", dsn=kit_db).exit_code == 0
    inserted = "pgaudit_kit_sealed_events_by_table_total{op=I,table=public.t}"
    port = free_port()
    server = _serve(kit_db, port)
    try:
        first = _wait_for(port, lambda v: v.get("pgaudit_kit_up") == 1)
        assert first["pgaudit_kit_locked_down"] == 0 and first[inserted] == 5
        assert cli("lockdown", "--reason", "INC-8", dsn=kit_db).exit_code == 0
        _wait_for(port, lambda v: v.get("pgaudit_kit_locked_down") == 1)  # the next collection saw it
        assert cli("unlock", "--reason", "INC-8 over", dsn=kit_db).exit_code == 0
        kit_conn.execute("INSERT INTO t SELECT generate_series(6, 8)")
        kit_conn.execute("DELETE FROM t WHERE id = 1")
        assert cli("seal", dsn=kit_db).exit_code == 0
        counted = _wait_for(port, lambda v: v.get(inserted) == 8)  # counted on from where it was
        assert counted["pgaudit_kit_sealed_events_by_table_total{op=D,table=public.t}"] == 1
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "serving metrics on http://127.0.0.1:" in err


def test_http_endpoint_reports_a_database_that_is_away(kit_db: str) -> None:
    port, away = free_port(), free_port()
    dsn = psycopg.conninfo.make_conninfo(kit_db, port=str(away), connect_timeout="1")
    server = _serve(dsn, port)
    try:
        values = _wait_for(port, lambda v: "pgaudit_kit_up" in v)
        assert values == {"pgaudit_kit_up": 0}
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=20)
    assert server.returncode == 0 and "pgaudit-kit: metrics:" in err, err
