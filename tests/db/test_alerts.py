"""`pgaudit-kit alerts` against a real kit database: every rule kind fires on what it should and stays quiet
otherwise (`--test` over recorded history), and delivery is at least once: the alerts process killed, the
receiving webhook down and the database restarted, mid-stream, and still every matching event arrives, any
repeat with the same key. Its counters come out as Prometheus exposition."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import Cluster
from tests.support.helpers import cli, enable
from tests.support.processes import KitProcess, wait_until

Conn = psycopg.Connection[Any]
SECRET = "s3cret-for-tests"


@pytest.fixture
def shop(kit_conn: Conn) -> Conn:
    kit_conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int); CREATE TABLE salaries (id int "
                     "PRIMARY KEY, amount int); INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g")
    enable(kit_conn, "accounts")
    enable(kit_conn, "salaries")
    return kit_conn


def rules_file(tmp_path: Path, body: str, sink: str = '[sink.out]\ntype = "stdout"\n') -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(sink + body)
    return path


def dry_run(kit_db: str, path: Path, *extra: str) -> list[dict[str, Any]]:
    result = cli("alerts", "--rules", str(path), "--test", "--format", "json", *extra, dsn=kit_db)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def fired(alerts: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["rule"] == rule]


def test_every_rule_kind_fires_when_it_should_and_only_then(kit_db: str, shop: Conn, tmp_path: Path) -> None:
    hour = datetime.now(UTC).hour
    shop.execute("CREATE ROLE alerts_intruder")
    try:
        check_every_kind(kit_db, shop, tmp_path, hour)
    finally:
        shop.execute("REVOKE pgaudit_kit_reader FROM alerts_intruder")
        shop.execute("DROP OWNED BY alerts_intruder; DROP ROLE alerts_intruder")


def check_every_kind(kit_db: str, shop: Conn, tmp_path: Path, hour: int) -> None:
    """Writes something for each rule kind to fire on (and something for it not to), then the dry run."""
    # DDL and a privilege change in an audited schema
    shop.execute("ALTER TABLE accounts ADD COLUMN note text")
    shop.execute("GRANT SELECT ON accounts TO alerts_intruder")
    assert cli("grant", "reader", "alerts_intruder", dsn=kit_db).exit_code == 0
    # a mass UPDATE (6 rows in one statement) and two small ones in one transaction (3 + 3 rows)
    shop.execute("UPDATE accounts SET balance = balance + 1 WHERE id <= 6")
    with shop.transaction():
        shop.execute("UPDATE accounts SET balance = 0 WHERE id IN (7, 8, 9)")
        shop.execute("UPDATE accounts SET balance = 0 WHERE id IN (1, 2, 3)")
    # a write with an actor outside the allow-list, and one inside it
    with shop.transaction():
        shop.execute("SELECT set_config('pgaudit_kit.actor', 'mallory@example.com', true)")
        shop.execute("INSERT INTO salaries VALUES (1, 5000)")
    with shop.transaction():
        shop.execute("SELECT set_config('pgaudit_kit.actor', 'svc-payroll', true)")
        shop.execute("INSERT INTO salaries VALUES (2, 6000)")
    # a review of salaries, one of accounts only, and a control action
    assert cli("history", "public.salaries", "1", dsn=kit_db).exit_code == 0
    assert cli("log", "--table", "public.accounts", dsn=kit_db).exit_code == 0
    assert cli("disable", "public.salaries", "--reason", "test", dsn=kit_db).exit_code == 0
    # a verify result that found something, as verify records it
    shop.execute("SELECT pgaudit_kit.record_review('verify-result', %s)",
                 (json.dumps({"clean": False, "mode": "full", "finding_counts": {"leaf_mismatch": 1}}),))
    path = rules_file(tmp_path, f"""
[[rule]]
name = "ddl"
kind = "ddl"
schemas = ["public"]
[[rule]]
name = "ddl elsewhere"
kind = "ddl"
schemas = ["finance"]
[[rule]]
name = "privileges"
kind = "privilege"
[[rule]]
name = "mass update"
kind = "mass_change"
tables = ["public.accounts"]
rows = 5
[[rule]]
name = "mass update per transaction"
kind = "mass_change"
tables = ["public.accounts"]
operations = ["UPDATE"]
per = "transaction"
rows = 5
[[rule]]
name = "unknown actor"
kind = "actor"
tables = ["public.salaries"]
allow_actors = ["svc-*"]
[[rule]]
name = "salary reviews"
kind = "review"
tables = ["public.salaries"]
unfiltered = false
[[rule]]
name = "control"
kind = "control"
[[rule]]
name = "night"
kind = "hours"
tables = ["public.salaries"]
allowed = ["{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"]
[[rule]]
name = "office hours"
kind = "hours"
tables = ["public.salaries"]
allowed = ["00:00-24:00"]
[[rule]]
name = "health"
kind = "health"
checkpoint_age = "1h"
""")
    alerts = dry_run(kit_db, path)
    by_statement = {(a["rule"], a["event"]["statement"] if a["event"] else None) for a in alerts}
    # one alert per transaction: the ALTER TABLE (and the capture triggers it made the kit regenerate), the
    # enrolment of each table, the disabling of salaries; none in another schema
    ddl = fired(alerts, "ddl")
    assert ("ddl", "ALTER TABLE accounts ADD COLUMN note text") in by_statement
    assert len({a["event"]["xid"] for a in ddl}) == len(ddl) and all(a["facts"]["per"] == "transaction" for a in ddl)
    assert any("disable_table" in a["event"]["statement"] for a in ddl)
    assert fired(alerts, "ddl elsewhere") == []
    privileges = fired(alerts, "privileges")
    assert ("privileges", "GRANT SELECT ON accounts TO alerts_intruder") in by_statement
    assert any(a["facts"].get("action") == "grant" and a["facts"]["role"] == "alerts_intruder" for a in privileges)
    mass = fired(alerts, "mass update")
    assert len(mass) == 1 and mass[0]["event"]["op"] == "U" and mass[0]["facts"]["per"] == "statement"
    per_tx = fired(alerts, "mass update per transaction")
    assert len(per_tx) == 2  # the 6-row statement's transaction, and the 3 + 3 one
    actor = fired(alerts, "unknown actor")
    assert [a["event"]["actor"] for a in actor] == ["mallory@example.com"]
    reviews = fired(alerts, "salary reviews")
    assert [a["facts"]["command"] for a in reviews] == ["history"]
    assert [a["facts"]["action"] for a in fired(alerts, "control")] == ["disable"]
    assert len(fired(alerts, "night")) == 2 and fired(alerts, "office hours") == []
    health = fired(alerts, "health")
    assert {a["kind"] for a in health} == {"health"}
    assert any(a["event"] is None and a["facts"]["condition"] == "checkpoint_age" for a in health)  # none signed
    assert any(a["event"] is not None and a["event"]["op"] == "R" for a in health)  # the failed verify
    for alert in alerts:
        assert alert["origin"]["database"] == shop.info.dbname
        if alert["event"] is not None:
            assert alert["event_id"] == alert["event"]["id"] and alert["key"].startswith(f"event:{alert['event_id']}:")
            assert alert["seal"]["status"] in ("sealed", "pending")
    # the dry run is itself recorded as a review
    row = shop.execute("SELECT row_data FROM pgaudit_kit.event WHERE op = 'R' AND row_data->>'command' = 'alerts' "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None and row[0]["filter"]["test"] is True


def test_check_lists_rules_and_live_needs_a_state_file(kit_db: str, tmp_path: Path) -> None:
    path = rules_file(tmp_path, '[[rule]]\nname = "ddl"\nkind = "ddl"\nseverity = "high"\n')
    checked = cli("alerts", "--rules", str(path), "--check")
    assert checked.exit_code == 0 and "ddl: ddl, high, to out" in checked.stdout
    live = cli("alerts", "--rules", str(path), dsn=kit_db)
    assert live.exit_code == 2 and "--state" in live.stderr
    broken = rules_file(tmp_path, '[[rule]]\nname = "ddl"\nkind = "dll"\n')
    bad = cli("alerts", "--rules", str(broken), "--check")
    assert bad.exit_code == 2 and f"{broken}:5: rule 'ddl': kind must be one of" in bad.stderr


class Receiver:
    """A webhook receiver on a fixed local port: checks each request's signature, keeps (key, event id,
    body) of those it accepts; can answer 503 (``failing``) or be shut down and started again."""

    def __init__(self) -> None:
        self.received: list[tuple[str, int | None, bytes]] = []
        self.failing = False
        self.bad_signatures = 0
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Pgaudit-Kit-Signature", ""), expected):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.failing:
                    self.send_response(503)
                else:
                    record = json.loads(body)
                    receiver.received.append((record["key"], record["event_id"], body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self) -> set[int]:
        return {event_id for _, event_id, _ in self.received if event_id is not None}


class AlertsProcess(KitProcess):
    def __init__(self, dsn: str, *args: str) -> None:
        super().__init__(dsn, "alerts", *args, env={**os.environ, "ALERTS_TEST_SECRET": SECRET})


def write_salaries(dsn: str, ids: range) -> list[int]:
    """One transaction per row, without an actor; returns their event ids."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in ids:
            conn.execute("INSERT INTO salaries VALUES (%s, 1)", (i,))
        return [int(r[0]) for r in conn.execute(
            "SELECT id FROM pgaudit_kit.recorded_event WHERE table_name = 'salaries' AND op = 'I' "
            "AND (pk->>'id')::int = ANY(%s) ORDER BY id", (list(ids),))]


def test_delivery_is_at_least_once_through_crashes(cluster: Cluster, kit_db: str, shop: Conn,
                                                   tmp_path: Path) -> None:
    if cluster.server is None:
        pytest.fail("this test restarts the server: it needs the suite's own (unset PGAUDIT_KIT_TEST_DSN)")
    receiver = Receiver()
    path = rules_file(tmp_path, '[[rule]]\nname = "no actor"\nkind = "actor"\ntables = ["public.salaries"]\n'
                                'allow_actors = ["svc-*"]\n',
                      sink=f'[sink.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:{receiver.port}/alerts"\n'
                           'secret_env = "ALERTS_TEST_SECRET"\ntimeout = 2\nretries = 0\n')
    state, textfile = tmp_path / "alerts.state", tmp_path / "alerts.prom"
    args = ("--rules", str(path), "--state", str(state), "--heartbeat", "1", "--metrics-textfile", str(textfile))
    alerts = AlertsProcess(kit_db, *args)
    try:
        alerts.wait_for_note("following new events")
        expected = write_salaries(kit_db, range(1, 21))
        wait_until(lambda: receiver.event_ids() >= set(expected), "the first 20 alerts")
        # the receiver fails: the alerts wait, then the process is killed while it waits
        receiver.failing = True
        expected += write_salaries(kit_db, range(21, 31))
        alerts.wait_for_note("not delivered")
        alerts.kill()
        # the receiver goes away altogether; more writes; the database restarts
        receiver.stop()
        expected += write_salaries(kit_db, range(31, 41))
        shop.close()
        cluster.server.restart()
        expected += write_salaries(kit_db, range(41, 46))
        # all back
        receiver.failing = False
        receiver.start()
        alerts = AlertsProcess(kit_db, *args)
        wait_until(lambda: receiver.event_ids() >= set(expected), "every alert after the restarts", timeout=90)
        expected += write_salaries(kit_db, range(46, 51))  # and it goes on following
        wait_until(lambda: receiver.event_ids() >= set(expected), "alerts after the resume")
        alerts.proc.send_signal(signal.SIGTERM)
        assert alerts.proc.wait(timeout=30) == 0
    finally:
        if alerts.proc.poll() is None:
            alerts.kill()
        receiver.stop()
    assert receiver.bad_signatures == 0
    assert receiver.event_ids() == set(expected) and len(expected) == 50
    bodies: dict[str, bytes] = {}
    for key, event_id, body in receiver.received:  # a repeat is the same alert: same key, same event, same body
        assert key == f"event:{event_id}:no actor"
        assert bodies.setdefault(key, body) == body
    # the counters, kept in the state file across the restart: in the process's own textfile, written when it
    # stopped, and from `pgaudit-kit metrics --alerts-state`
    own = counters(textfile.read_text())
    assert own["fired"] == own["delivered"] >= 50 and own["failed"] >= 1
    scraped = cli("metrics", "--alerts-state", str(state), dsn=kit_db)
    assert scraped.exit_code == 0, scraped.stderr
    assert counters(scraped.stdout) == own
    wrong = cli("metrics", "--alerts-state", str(textfile), dsn=kit_db)
    assert wrong.exit_code == 2 and "not an alerts state file" in wrong.stderr


def counters(exposition: str) -> dict[str, float]:
    """Totals of the alerts counters in Prometheus exposition text (parsed by the client library's parser)."""
    metrics = {f.name: f for f in text_string_to_metric_families(exposition)}
    assert all(s.labels.get("sink") == "hook" for s in metrics["pgaudit_kit_alert_deliveries"].samples)
    assert {s.labels["rule"] for s in metrics["pgaudit_kit_alerts_fired"].samples} == {"no actor"}

    def total(name: str) -> float:
        return sum(s.value for s in metrics[name].samples if s.name.endswith("_total"))

    return {"fired": total("pgaudit_kit_alerts_fired"), "delivered": total("pgaudit_kit_alert_deliveries"),
            "failed": total("pgaudit_kit_alert_delivery_failures"),
            "read": total("pgaudit_kit_alerts_events_read")}


def test_health_alerts_fire_once_per_episode(kit_db: str, shop: Conn, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    path = rules_file(tmp_path, '[[rule]]\nname = "stale"\nkind = "health"\nverify_failed = false\n'
                                'checkpoint_age = "1h"\ncheck_every = 0.2\n',
                      sink=f'[sink.file]\ntype = "file"\npath = "{out}"\n')
    alerts = AlertsProcess(kit_db, "--rules", str(path), "--state", str(tmp_path / "s"), "--heartbeat", "0.2")
    try:
        wait_until(lambda: out.exists() and out.read_text().count("\n") >= 1, "the health alert")
        time.sleep(1.5)  # several more checks: the condition lasts, the episode fired once
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(lines) == 1 and lines[0]["facts"]["condition"] == "checkpoint_age"
        assert lines[0]["key"].startswith("health:stale:checkpoint_age:")
    finally:
        alerts.kill()
    # a new process resumes the episode from its state file: no repeat
    alerts = AlertsProcess(kit_db, "--rules", str(path), "--state", str(tmp_path / "s"), "--heartbeat", "0.2")
    try:
        alerts.wait_for_note("following new events")
        time.sleep(1.5)
        assert out.read_text().count("\n") == 1
    finally:
        alerts.kill()


def test_test_reads_history_since(kit_db: str, shop: Conn, tmp_path: Path) -> None:
    row = shop.execute("SELECT now()").fetchone()
    assert row is not None
    time.sleep(0.01)
    shop.execute("ALTER TABLE accounts ADD COLUMN a int")
    path = rules_file(tmp_path, '[[rule]]\nname = "ddl"\nkind = "ddl"\n')
    everything = dry_run(kit_db, path)
    assert len(everything) > 1  # the enrolments of the fixture's tables too
    since = dry_run(kit_db, path, "--since", row[0].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert [a["event"]["statement"] for a in since] == ["ALTER TABLE accounts ADD COLUMN a int"]
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert dry_run(kit_db, path, "--since", future) == []
