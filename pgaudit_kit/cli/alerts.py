"""alerts: run a rules file over new events and the kit's health, delivering to its sinks; or try it on
recorded history (--test), or only check it (--check)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core.errors import EnvironmentProblem, UsageError
from .group import format_option, main, target_dsn
from .metrics import listen_address, prometheus_client_module
from .review import follow_options

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prometheus_client.metrics_core import Metric

    from ..alerts.alert import Alert
    from ..alerts.engine import Stats

TEST_FORMATS = ("table", "json", "ocsf", "ecs", "cef")


@main.command("alerts")
@click.option("--rules", "rules_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The rules file (TOML; see docs/ALERTS.md).")
@click.option("--check", is_flag=True, help="Check the rules file, list its rules and exit (reads no database).")
@click.option("--test", "dry_run", is_flag=True,
              help="Print what the rules would have fired on recorded history (--since, else all of it) and the "
                   "health rules now; delivers nothing.")
@click.option("--since", help="--test: from this time (2026-05-01, 10m, 2h, 1d); live: first catch up from it.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Position file: alerts resume after it after a restart (required when running live).")
@follow_options
@click.option("--metrics-textfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Write this process's counters (alerts fired, deliveries, failures) here for node_exporter.")
@click.option("--metrics-listen", metavar="HOST:PORT", callback=listen_address,
              help="Serve this process's counters on HOST:PORT/metrics.")
@format_option(TEST_FORMATS)
@click.pass_context
def alerts_command(ctx: click.Context, rules_path: Path, check: bool, dry_run: bool, since: str | None,
                   state_path: Path | None, heartbeat: float, poll_interval: float, reconnect_timeout: float,
                   metrics_textfile: Path | None, metrics_listen: tuple[str, int] | None,
                   output_format: str) -> None:
    """Alerts on recorded events and on the kit's health, delivered at least once to stdout, files, webhooks
    and syslog, in the kit's JSON, OCSF, ECS or CEF.

    Live (the default), it follows new events as they commit (woken by notification, like watch) and delivers
    every alert its rules fire; an alert that cannot be delivered holds the position until it can, and --state
    keeps the position across restarts, so nothing is lost and a repeat carries the same key. The follow is
    recorded as a review (command alerts); needs the reader or admin role. --format applies to --test.

    \b
    Example:
      pgaudit-kit alerts --rules /etc/pgaudit-kit/alerts.toml --check
      pgaudit-kit alerts --rules alerts.toml --test --since 7d
      pgaudit-kit alerts --rules /etc/pgaudit-kit/alerts.toml --state /var/lib/pgaudit-kit/alerts.state
    """
    from ..alerts import rulefile

    if check and dry_run:
        raise UsageError("give --check or --test, not both")
    ruleset = rulefile.load(rules_path)
    if check:
        for line in rulefile.describe(ruleset.rules):
            click.echo(line)
        click.echo(f"{len(ruleset.rules)} rules, {len(ruleset.sinks)} sinks: {rules_path} is valid")
        return
    if not dry_run and state_path is None:
        raise UsageError("alerts needs --state FILE when running live: the position it keeps is what makes "
                         "delivery at least once across restarts")
    from ..alerts.engine import Alerter
    from ..pg import db
    from ..review import watch
    from ..review.timeparse import parse_time

    bound = parse_time(since, "--since") if since else None
    options = watch.WatchOptions(heartbeat=heartbeat, poll_interval=poll_interval,
                                 reconnect_timeout=reconnect_timeout, state_path=None if dry_run else state_path,
                                 once=dry_run, review_command="alerts",
                                 review_extra={"rules": str(rules_path), **({"test": True} if dry_run else {})})
    dsn = target_dsn(ctx)
    name = "pgaudit-kit alerts"

    def connect() -> Any:
        return db.connect(dsn, autocommit=True, application_name=name)

    def note(message: str) -> None:
        print(f"pgaudit-kit: alerts: {message}", file=sys.stderr, flush=True)

    if dry_run:
        found: list[Alert] = []
        alerter = Alerter(connect, ruleset, options, note, deliver=found.append, since=bound)
        with db.translated_errors():
            alerter.run()
            with connect() as conn:
                found.extend(alerter.check_health(conn))
        _print(found, output_format)
        return
    alerter = Alerter(connect, ruleset, options, note, since=bound)
    exporter = _Exporter(lambda: alerter.stats, metrics_textfile, metrics_listen)
    alerter.watcher.idle = _chain(alerter.watcher.idle, exporter.tick)
    signal.signal(signal.SIGTERM, _stop)
    try:
        with db.translated_errors():
            alerter.run()
    except KeyboardInterrupt:
        ctx.exit(0)
    finally:
        exporter.tick(None, force=True)
        exporter.close()
        ruleset.close()


def _stop(*_: Any) -> None:
    raise KeyboardInterrupt  # the position is saved after every batch; SIGTERM ends the process cleanly


def _chain(first: Any, second: Any) -> Any:
    def both(conn: Any) -> None:
        if first is not None:
            first(conn)
        second(conn)
    return both


def _print(found: list[Alert], output_format: str) -> None:
    from ..alerts import formats

    if output_format != "table":
        for alert in found:
            click.echo(formats.render(alert, output_format))
        return
    for alert in found:
        event = f"event {alert.event_id}" if alert.event_id is not None else "health"
        click.echo(f"{alert.time:%Y-%m-%d %H:%M:%S%z}  {alert.severity:<8}  {alert.rule}  {event}: {alert.summary}")
    click.echo(f"{len(found)} alerts would have fired", err=True)


class _Exporter:
    """The alerts process's own counters as Prometheus metrics: a textfile rewritten at most every 10 s, and/or
    an HTTP endpoint."""

    def __init__(self, stats: Callable[[], Stats], textfile: Path | None, listen: tuple[str, int] | None) -> None:
        self.stats, self.textfile = stats, textfile  # a function: the state file's counters replace them at start
        self._written = 0.0
        self._server: Any = None
        self._registry: Any = None
        if textfile is None and listen is None:
            return
        client = prometheus_client_module()
        self._registry = client.CollectorRegistry(auto_describe=False)
        self._registry.register(self)
        if listen is not None:
            try:
                self._server, _ = client.start_http_server(listen[1], addr=listen[0], registry=self._registry)
            except OSError as exc:
                raise EnvironmentProblem(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror}") from None

    def collect(self) -> Iterator[Metric]:
        from ..alerts.metrics import families

        yield from families(self.stats())

    def tick(self, conn: Any, force: bool = False) -> None:
        if self.textfile is None or self._registry is None:
            return
        if not force and time.monotonic() - self._written < 10:
            return
        try:
            prometheus_client_module().write_to_textfile(str(self.textfile), self._registry)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {self.textfile}: {exc.strerror}") from None
        self._written = time.monotonic()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
