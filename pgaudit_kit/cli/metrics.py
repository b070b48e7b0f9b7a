"""metrics: Prometheus metrics of the log's health, once (stdout or a textfile) or as an HTTP endpoint."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core.errors import EnvironmentProblem, KitError
from .group import connect, main

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from ..doctor.metrics import Gauge, SealedCounts


def prometheus_client_module() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise EnvironmentProblem("metrics needs the Prometheus client library: pip install 'pgaudit-kit[metrics]'") \
            from None
    return prometheus_client


def listen_address(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    """--listen HOST:PORT (":PORT": every interface), checked before anything is loaded or read."""
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (for example 127.0.0.1:9187 or :9187)")
    return host or "0.0.0.0", int(port)  # noqa: S104 -- ":9187" means every interface, as exporters read it


class _Latest:
    """The gauges of the newest collection, served to every scrape until the next one (a scrape never waits for
    the database, and scrapes at any rate cost one collection per interval)."""

    def __init__(self) -> None:
        from ..doctor.metrics import SealedCounts

        self.gauges: list[Gauge] = []
        self.up = False
        self.sealed = SealedCounts()
        self._lock = threading.Lock()

    def next_counts(self) -> SealedCounts:
        """A copy of the counts for the next collection to advance (swapped in only if it succeeds)."""
        with self._lock:
            return self.sealed.copy()

    def update(self, gauges: list[Gauge] | None, sealed: SealedCounts | None = None) -> None:
        with self._lock:
            if gauges is not None:
                self.gauges = gauges
            if sealed is not None:
                self.sealed = sealed
            self.up = gauges is not None

    def collect(self) -> Iterator[Metric]:
        from ..doctor.metrics import families

        with self._lock:
            yield from families(self.gauges if self.up else [], self.up, self.sealed if self.up else None)


@main.command()
@click.option("--textfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the metrics to this file (atomically) for node_exporter's textfile collector, once.")
@click.option("--listen", metavar="HOST:PORT", callback=listen_address,
              help="Serve /metrics over HTTP on HOST:PORT until stopped.")
@click.option("--interval", type=click.FloatRange(1, 86400), default=60.0, show_default=True,
              help="With --listen: seconds between collections (each one is recorded as a review).")
@click.option("--alerts-state", type=click.Path(dir_okay=False, path_type=Path),
              help="Also the counters of the alerts process whose --state file this is (alerts fired, deliveries, "
                   "delivery failures).")
@click.pass_context
def metrics(ctx: click.Context, textfile: Path | None, listen: tuple[str, int] | None, interval: float,
            alerts_state: Path | None) -> None:
    """Prometheus metrics: unsealed backlog and its age, sealed events, the newest checkpoint's age and size,
    the last verify's age and result, lockdown, doctor's items by severity.

    Without options, prints them once (Prometheus text format). Each collection reads what doctor reads and
    is recorded as a review event (command metrics); needs the reader or admin role. --alerts-state adds the
    counters of the alerts process, read from its state file.

    \b
    Example:
      pgaudit-kit metrics --textfile /var/lib/node_exporter/textfile/pgaudit_kit.prom
      pgaudit-kit metrics --listen 127.0.0.1:9187 --interval 60
    """
    if textfile and listen:
        raise click.UsageError("give --textfile or --listen, not both")
    from ..doctor.metrics import collect, families

    client = prometheus_client_module()
    if listen is None:
        with connect(ctx) as conn:
            gauges = collect(conn)
        registry = client.CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(families(gauges, True) + _alert_families(alerts_state)))
        if textfile is None:
            click.echo(client.generate_latest(registry).decode(), nl=False)
            return
        try:
            client.write_to_textfile(str(textfile), registry)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {textfile}: {exc.strerror}") from None
        return
    latest = _Latest()
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(latest)
    if alerts_state is not None:
        _alert_families(alerts_state)  # a wrong file is an error now, not at the first scrape
        registry.register(_AlertsState(alerts_state))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server, _ = client.start_http_server(listen[1], addr=listen[0], registry=registry)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror}") from None
    click.echo(f"pgaudit-kit: serving metrics on http://{listen[0]}:{listen[1]}/metrics every {interval:g}s", err=True)
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                counts = latest.next_counts()
                with connect(ctx) as conn:
                    latest.update(collect(conn, sealed=counts), counts)
            except KitError as exc:  # the database is away: say so in pgaudit_kit_up, keep serving
                latest.update(None)
                click.echo(f"pgaudit-kit: metrics: {exc}", err=True)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


def _alert_families(path: Path | None) -> list[Metric]:
    if path is None:
        return []
    from ..alerts.metrics import families, read_stats

    return families(read_stats(path))


class _AlertsState:
    """The alerts process's counters, read from its state file at each scrape (it rewrites the file atomically);
    a scrape while the file cannot be read has none of them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        try:
            yield from _alert_families(self.path)
        except KitError as exc:
            click.echo(f"pgaudit-kit: metrics: {exc}", err=True)


class _Fixed:
    """A collector of metric families collected once."""

    def __init__(self, metric_families: list[Metric]) -> None:
        self._families = metric_families

    def collect(self) -> Iterator[Metric]:
        yield from self._families
