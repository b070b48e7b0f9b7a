"""``pgaudit-kit demo``: the whole kit on a throwaway server, start to finish, then cleaned up."""

from __future__ import annotations

import json
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import psycopg
from psycopg import sql

from ..control import enrolment
from ..pg import db
from ..pg.tempserver import TempServer
from ..schema import installer
from ..verify.verification import Findings
from . import render

SAMPLE_SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.customer (
    id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name    text NOT NULL,
    email   text NOT NULL,
    balance numeric(12,2) NOT NULL DEFAULT 0
);
CREATE TABLE shop.orders (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES shop.customer ON DELETE CASCADE,
    total       numeric(12,2) NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now()
);
"""

SAMPLE_TRANSACTIONS: list[tuple[str, str, list[str]]] = [
    ("alice@example.com", '{"request_id": "req-1001"}', [
        "INSERT INTO shop.customer (name, email, balance) VALUES ('Ada', 'ada@example.com', 100), "
        "('Grace', 'grace@example.com', 50)",
        "INSERT INTO shop.orders (customer_id, total) VALUES (1, 25.50), (2, 12.00)",
    ]),
    ("bob@example.com", '{"request_id": "req-1002"}', [
        "UPDATE shop.customer SET balance = balance - 25.50 WHERE id = 1",
    ]),
    ("carol@example.com", '{"request_id": "req-1003", "ticket": "GDPR-7"}', [
        "DELETE FROM shop.customer WHERE id = 2",  # cascades to Grace's order: recorded too
    ]),
]


def _say(text: str) -> None:
    click.secho(text, bold=True)


@contextmanager
def _guards_off(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """As an attacking superuser would: disable the kit's event triggers and the guard triggers of its tables,
    then put every one back (ENABLE ALWAYS). The kit refuses DDL on its objects and any change to its history,
    but PostgreSQL runs no event trigger for ALTER EVENT TRIGGER: only a superuser gets past the guards, and
    verify is what reports what was done meanwhile. *conn* must be in autocommit mode."""
    event_triggers = [r[0] for r in conn.execute(
        "SELECT evtname::text FROM pg_event_trigger WHERE evtname::text LIKE 'pgaudit\\_kit\\_%' AND evtenabled = 'A' "
        "ORDER BY 1")]
    guarded = [(sql.Identifier(r[0], r[1]), sql.Identifier(r[2])) for r in conn.execute(
        "SELECT n.nspname::text, c.relname::text, t.tgname::text FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE t.tgname IN ('pgaudit_kit_guard', 'pgaudit_kit_retire_only') AND t.tgenabled = 'A' ORDER BY 1, 2, 3")]
    for name in event_triggers:
        conn.execute(sql.SQL("ALTER EVENT TRIGGER {} DISABLE").format(sql.Identifier(name)))
    for table, trigger in guarded:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(table, trigger))
    try:
        yield
    finally:
        for table, trigger in guarded:
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(table, trigger))
        for name in event_triggers:
            conn.execute(sql.SQL("ALTER EVENT TRIGGER {} ENABLE ALWAYS").format(sql.Identifier(name)))


def _show_changes(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        """
        SELECT id, operation, schema_name || '.' || table_name, pk::text, actor, acting_role,
               context->>'request_id', changed_columns,
               CASE operation WHEN 'INSERT' THEN new_row WHEN 'UPDATE' THEN new_row ELSE old_row END
          FROM pgaudit_kit.change WHERE operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
         ORDER BY id
        """
    ).fetchall()
    click.echo("  event ids order the whole log, which also holds the enrolments and schema changes recorded "
               "before these writes; they are not consecutive")
    click.echo(render.table(
        ["event", "operation", "table", "pk", "actor", "db role", "request", "changed", "row"],
        [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], ",".join(r[7] or []), json.dumps(r[8], sort_keys=True)[:60]]
         for r in rows],
    ))


def _show_checkpoint(note: str) -> None:
    """The signed note, each line labelled: origin, tree size, root, then the signature."""
    body, _, signatures = note.partition("\n\n")
    for label, line in zip(("origin", "tree size", "root"), body.splitlines(), strict=False):
        click.echo(f"  {label + ':':11} {line}")
    for line in signatures.splitlines():
        click.echo(f"  {'signature:':11} {line}")


def _show_integrity(dsn: str) -> Findings:
    """Seal, sign, verify; then a superuser's rewrite, and what verify finds (returned)."""
    from ..core import signing
    from ..log import sealing
    from ..verify.runner import verify

    with tempfile.TemporaryDirectory(prefix="pgaudit-kit-demo-") as tmp:
        folder = Path(tmp)
        _say("Sealing the log and signing a checkpoint outside the database ...")
        key = signing.generate("demo-key")
        signing.write_key_pair(key, folder / "demo.key", folder / "demo.pub")
        with psycopg.connect(dsn) as conn:
            result = sealing.checkpoint(conn, key, folder / "anchors")
        _show_checkpoint(result.note)
        report = verify(db.connector(dsn), anchor_dir=folder / "anchors", public_key=folder / "demo.pub",
                        state_path=folder / "state")
        click.echo(f"  verify: {report.events_checked} events, {'clean' if not report.findings else 'FINDINGS'}")

        _say("A superuser quietly rewrites history (Grace's order total) ...")
        click.echo("  the kit refuses any change to recorded history, so the superuser first disables its guards "
                   "(event triggers and the guard triggers of its tables), rewrites, then re-enables them")
        with psycopg.connect(dsn, autocommit=True) as conn, _guards_off(conn):
            conn.execute("UPDATE pgaudit_kit.event SET row_data = row_data || '{\"total\": \"1.00\"}' "
                         "WHERE table_name = 'orders' AND op = 'I' AND pk->>'id' = '2'")
        # Incremental runs check what is new since the trusted state; --full re-reads all history.
        report = verify(db.connector(dsn), anchor_dir=folder / "anchors", public_key=folder / "demo.pub",
                        state_path=folder / "state",
                        full=True)
        for finding in report.findings.items:
            click.echo(f"  verify finds {finding.kind}: {finding.message}")
        return report.findings


DEMO_RULES = """
[sink.screen]
type = "stdout"

[[rule]]
name = "schema change in shop"
kind = "ddl"
schemas = ["shop"]
severity = "high"
"""


def _show_live_alert(dsn: str, conn: psycopg.Connection[Any]) -> None:
    """An alerts process (in a thread here) follows new events; a schema change fires its rule at once."""
    import threading
    import time

    from ..alerts import rulefile
    from ..alerts.alert import Alert
    from ..alerts.engine import Alerter
    from ..review.watch import WatchOptions

    _say("A live alert: `pgaudit-kit alerts` follows new events with a rule on schema changes in shop ...")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "alerts.toml"
        path.write_text(DEMO_RULES, encoding="utf-8")
        ruleset = rulefile.load(path)
        ready, committed = threading.Event(), [0.0]
        arrived: list[tuple[Alert, float]] = []

        def note(message: str) -> None:
            if message.startswith("following"):
                ready.set()

        class Enough(Exception):
            """The one alert the demo waits for has arrived: the follow ends."""

        def deliver(alert: Alert) -> None:
            arrived.append((alert, time.monotonic()))
            raise Enough

        def follow() -> None:
            try:
                alerter.run()
            except Enough:
                pass

        alerter = Alerter(lambda: db.connect(dsn, autocommit=True, application_name="pgaudit-kit alerts"), ruleset,
                          WatchOptions(heartbeat=1.0, state_path=Path(scratch) / "alerts.state",
                                       review_command="alerts"), note, deliver=deliver)
        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        if not ready.wait(30):
            click.echo("  (the alerts follower did not start; skipped)")
            return
        statement = "ALTER TABLE shop.customer ADD COLUMN vip boolean NOT NULL DEFAULT false"
        committed[0] = time.monotonic()
        conn.execute(statement)
        click.echo(f"  [a DBA] {statement}")
        follower.join(30)
        for alert, at in arrived:
            click.echo(f"  ALERT [{alert.severity}] {alert.rule}: {alert.summary} (event {alert.event_id}, "
                       f"delivered {at - committed[0]:.2f} s after the commit)")
        if not arrived:
            click.echo("  (no alert arrived within 30 s)")


def run_demo(keep: bool = False) -> None:
    _say("Starting a throwaway PostgreSQL server ...")
    with TempServer() as server:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE demo_shop")
        dsn = server.dsn("demo_shop")
        click.echo(f"  PostgreSQL {server.major_version} on 127.0.0.1:{server.port}, database demo_shop")

        _say("Installing pgaudit-kit (schema pgaudit_kit, Alembic-versioned) ...")
        result = installer.install(db.connector(dsn))
        click.echo(f"  revision {result.after}")

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SAMPLE_SCHEMA)
            _say("Enrolling shop.customer (email redacted) and shop.orders ...")
            enrolment.enable_tables(conn, ["shop.customer"], enrolment.CaptureOptions(redacted_columns=("email",)))
            enrolment.enable_tables(conn, ["shop.orders"], enrolment.CaptureOptions())

            _say("Running application transactions with pgaudit_kit.actor and pgaudit_kit.context set ...")
            for actor, context, statements in SAMPLE_TRANSACTIONS:
                with conn.transaction():
                    conn.execute("SELECT set_config('pgaudit_kit.actor', %s, true), "
                                 "set_config('pgaudit_kit.context', %s, true)", (actor, context))
                    for statement in statements:
                        conn.execute(statement)
                        click.echo(f"  [{actor}] {statement}")

            _say("A failed audit write fails the business write (fail-closed):")
            # The kit refuses DDL on its own objects: a superuser first disables its guards, then takes the
            # kit's right to write its event table away.
            click.echo("  a superuser disables the kit's guards (event triggers and the guard triggers of its "
                       "tables) and revokes the kit's INSERT on its event table")
            with _guards_off(conn):
                conn.execute("REVOKE INSERT ON pgaudit_kit.event FROM pgaudit_kit_owner")
                try:
                    conn.execute("UPDATE shop.customer SET balance = 0")
                except psycopg.Error as exc:
                    click.echo(f"  UPDATE refused: {exc.diag.message_primary}")
                    click.echo(f"  context: {(exc.diag.context or '').splitlines()[-1]}")
                finally:
                    conn.execute("GRANT INSERT ON pgaudit_kit.event TO pgaudit_kit_owner")
            row = conn.execute("SELECT balance FROM shop.customer WHERE id = 1").fetchone()
            click.echo(f"  balance of customer 1 is still {row[0] if row else '?'}")

            _say("Recorded changes (pgaudit_kit.change):")
            _show_changes(conn)

            _show_live_alert(dsn, conn)

        findings = _show_integrity(dsn)

        with db.connect(dsn) as conn:
            report = installer.status(conn)
        _say("Status:")
        click.echo(f"  enrolled: {', '.join(t['schema_name'] + '.' + t['table_name'] for t in report.enrolled_tables)}")
        click.echo(f"  capture and guards: {', '.join(report.problems) or 'intact'} (status checks coverage)")
        click.echo("  history: " + (f"TAMPERED: verify --full found {', '.join(sorted(findings.counts))}"
                                    if findings else "verified clean"))

        if keep:
            click.echo(f"\nServer left running: PGAUDIT_KIT_DSN='{dsn}'\nPress Ctrl-C to stop and remove it.")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        _say("Stopping and removing the throwaway server.")
    _say("Next steps:")
    click.echo("  pgaudit-kit demo --keep                  # the same, with the server left running to explore\n"
               "  README.md, \"Use it on your database\"    # install, enrol, grant roles, schedule seal/verify\n"
               "  docs/OPERATIONS.md                       # follower, checkpoints, archives, retention")
