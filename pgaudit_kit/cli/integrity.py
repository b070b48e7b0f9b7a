"""seal, keygen, checkpoint, verify, prove, verify-proof, archive, verify-archive: the sealed log, its signed
checkpoints, proofs and archives."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core.errors import EXIT_FINDINGS
from ..core.progress import Progress
from . import render
from .group import REPORT_FORMATS, connect, connector, format_option, main, target_dsn

if TYPE_CHECKING:
    import psycopg

    from ..verify.bundle import BundleReport
    from ..verify.verification import Findings


@main.command()
@click.option("--follow", is_flag=True,
              help="Keep sealing until stopped (SIGTERM or Ctrl-C), every --interval seconds while there is work "
                   "and at once when an idle database's next commit notifies; meanwhile writers do not seal at "
                   "their commit.")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=0.5, show_default=True,
              help="With --follow: seconds between seals while there is work, and the longest an idle follower "
                   "waits for a commit's notification.")
@click.pass_context
def seal(ctx: click.Context, follow: bool, interval: float) -> None:
    """Seal recorded events into the hash-chained Merkle log now, or continuously with --follow.

    Without a follower, sealing also happens by itself at commit (piggy-backed on the writers, at most every
    200 ms); run `seal` from cron to bound the unsealed window on an idle database. `seal --follow` (a
    systemd service or a Kubernetes sidecar) takes sealing out of the writers' commit path: while it runs,
    audited transactions commit without sealing, and if it dies they take sealing back within its lease
    (at least 10 s). An idle follower asks the next commits to notify it (a watch lease) and seals at once;
    under load it never idles, and writers pay nothing for it. Prints a line a minute; exits 0 when stopped.
    Without --follow, shows its progress through a backlog on a terminal (nothing in a pipe). Needs the admin
    role.

    \b
    Examples:
      pgaudit-kit seal
      pgaudit-kit seal --follow --interval 0.5
    """
    from ..log import sealing
    from ..pg import db

    if not follow and ctx.get_parameter_source("interval") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--interval needs --follow")
    with db.connect(target_dsn(ctx), autocommit=True, application_name="pgaudit-kit seal") as conn:
        db.require_writable(conn)
        db.require_installed(conn)
        if follow:
            _follow(conn, interval)
            return
        with Progress() as progress:
            waiting = sealing.backlog(conn).count if progress.enabled else 0  # a query only when someone watches

            def shown(sealed: int) -> bool:
                progress.show(f"sealed {sealed:,} of about {waiting:,} events ({progress.rate(sealed):,.0f}/s)")
                return True

            count = sealing.seal(conn, between=shown)
        state = sealing.backlog(conn)
        created = sealing.partitions_ahead(conn, lambda line: click.echo(line, err=True))
    click.echo(f"sealed {count} events; log size {state.tree_size}; {state.count} events not yet sealable"
               + (f"; created {created} partitions of the event table ahead" if created else ""))


def _follow(conn: psycopg.Connection[Any], interval: float) -> None:
    from ..log import sealing

    stop = threading.Event()
    # SIGTERM (systemd, Kubernetes) and Ctrl-C end the current round, give the lease back and exit 0
    previous = {signum: signal.signal(signum, lambda _signum, _frame: stop.set())
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        sealing.Follower(conn, interval, stop, lambda line: click.echo(line)).run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@main.command()
@click.option("--name", default="pgaudit-kit", show_default=True, help="Key name (appears in signatures).")
@click.option("--out", "prefix", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Writes PREFIX.key (private, mode 0600) and PREFIX.pub.")
def keygen(name: str, prefix: Path) -> None:
    """Create an Ed25519 signing key pair for checkpoints. Refuses to overwrite.

    Keep the private key off the database server; give the .pub file to verifiers.

    \b
    Example:
      pgaudit-kit keygen --name shop-audit --out /etc/pgaudit-kit/shop
    """
    from ..core import signing

    key = signing.generate(name)
    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    signing.write_key_pair(key, private, public)
    click.echo(f"wrote {private} (private, 0600) and {public}: {key.verifier().encode()}")


@main.command()
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file from keygen.")
@click.option("--anchor-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Append-only directory outside the database that receives a copy.")
@format_option(REPORT_FORMATS)
@click.pass_context
def checkpoint(ctx: click.Context, key_path: Path, anchor_dir: Path | None, output_format: str) -> None:
    """Seal, then sign the log's tree head here (the key never reaches the server), store and anchor it.

    \b
    Example:
      pgaudit-kit checkpoint --key /etc/pgaudit-kit/shop.key --anchor-dir /mnt/worm/pgaudit
    """
    from ..core import signing
    from ..log import sealing
    from ..pg import db

    key = signing.read_private_key(key_path)
    with db.connect(target_dsn(ctx)) as conn:
        result = sealing.checkpoint(conn, key, anchor_dir)
    if output_format == "json":
        render.emit_json({"origin": result.origin, "tree_size": result.tree_size, "note": result.note,
                          "anchored_at": str(result.anchored_at) if result.anchored_at else None})
    else:
        click.echo(result.note, nl=False)
        if result.anchored_at:
            click.echo(f"anchored: {result.anchored_at}")


@main.command()
@click.option("--anchor-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Anchor directory to check the database against.")
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), help="Verifier key (.pub).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted state file: verify from it, refuse to go backwards, update it when clean.")
@click.option("--full", is_flag=True, help="Re-check everything, not only what is new since the trusted state.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Database connections recomputing leaves side by side (default: CPU cores, at most 2).")
@click.option("--lockdown-on-failure", is_flag=True,
              help="On any finding, lock down audited writes (needs the admin role; recorded).")
@format_option(REPORT_FORMATS)
@click.pass_context
def verify(ctx: click.Context, anchor_dir: Path | None, public_key: Path | None, state_path: Path | None,
           full: bool, jobs: int | None, lockdown_on_failure: bool, output_format: str) -> None:
    """Recompute the sealed log from the stored events and check it, its checkpoints and coverage.

    Exit 0 when clean, 1 with findings (each names the event, seq or object and expected vs calculated).
    The run is recorded as a review event. With --lockdown-on-failure, findings also lock down every
    audited write until an admin runs `pgaudit-kit unlock`.

    \b
    Example:
      pgaudit-kit verify --anchor-dir /mnt/worm/pgaudit --public-key shop.pub --state /var/lib/pgaudit-kit/shop.state
      pgaudit-kit verify --lockdown-on-failure --anchor-dir /mnt/worm/pgaudit --public-key shop.pub
    """
    from ..verify.runner import verify as run_verify

    report = run_verify(connector(ctx), anchor_dir=anchor_dir, public_key=public_key, state_path=state_path,
                        full=full, jobs=jobs, lockdown_on_failure=lockdown_on_failure)
    if output_format == "json":
        render.emit_json(report.as_dict())
    else:
        click.echo(f"{report.mode} verification of {report.origin}: {report.events_checked} events in "
                   f"{report.blocks_checked} blocks, log size {report.tree_size}, {report.checkpoints_checked} "
                   f"checkpoints, {report.anchored_checked} anchored; {report.unsealed_events} not yet sealed "
                   f"({report.seconds:.2f}s)")
        if report.retired_through:
            click.echo(f"history through tree size {report.retired_through} was retired to an archive; checked "
                       "from there" + (f" ({report.anchored_retired} anchored checkpoints of it: signatures only)"
                                       if report.anchored_retired else ""))
        if not report.signatures_checked:
            click.echo("note: checkpoint signatures were not checked (no --public-key)")
        echo_findings(report.findings)
        if report.locked_down:
            click.echo("audited writes are now locked down (lift with: pgaudit-kit unlock --reason TEXT)")
    if report.findings:
        ctx.exit(EXIT_FINDINGS)


@main.command()
@click.argument("event_id", type=int, required=False)
@click.option("--consistency", "old_size", type=int, help="Prove that tree size OLD_SIZE is a prefix of a newer one.")
@click.option("--to", "new_size", type=int, help="With --consistency: the newer tree size (default: newest).")
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Prove an archived event from this archive, with no database.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_context
def prove(ctx: click.Context, event_id: int | None, old_size: int | None, new_size: int | None,
          archive_dir: Path | None, out: Path | None) -> None:
    """Write a proof that an event is in the signed log (or that two checkpoints are consistent).

    \b
    Examples:
      pgaudit-kit prove 4711 --out event-4711.proof.json
      pgaudit-kit prove --consistency 1000 --to 5000 --out c.json
      pgaudit-kit prove 4711 --archive /mnt/archive/shop-2026h1 --out event-4711.proof.json
    """
    from ..log import proofs

    if (event_id is None) == (old_size is None):
        raise click.UsageError("give an EVENT_ID or --consistency OLD_SIZE")
    if archive_dir is not None:
        from ..verify import bundle

        if event_id is None:
            raise click.UsageError("--archive proves an EVENT_ID")
        document = bundle.prove(archive_dir, event_id)
    else:
        with connect(ctx) as conn:
            document = (proofs.prove_inclusion(conn, event_id) if event_id is not None
                        else proofs.prove_consistency(conn, int(old_size or 0), new_size))
    text = json.dumps(document, indent=2)
    if out:
        out.write_text(text + "\n")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@main.command("verify-proof")
@click.argument("proof_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--public-key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Verifier key (.pub) of the checkpoint signer.")
@click.pass_context
def verify_proof(ctx: click.Context, proof_file: Path, public_key: Path) -> None:
    """Check a proof file with no database: recompute the leaf, check the path and the signature.

    \b
    Example:
      pgaudit-kit verify-proof event-4711.proof.json --public-key shop.pub
    """
    from ..core import merkle, signing
    from ..log import proofs

    key = signing.read_public_key(public_key)
    try:
        document = json.loads(proof_file.read_text())
        click.echo("valid: " + proofs.verify_proof(document, key))
    except (merkle.ProofError, signing.SignatureError, KeyError, TypeError, ValueError) as exc:
        click.echo(f"INVALID: {exc}")
        ctx.exit(EXIT_FINDINGS)


def _through(value: str) -> int | datetime:
    """--through: a tree position (the last seq to archive), a date (through its end, UTC) or a time."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a seq, a date or a time: {value!r} (examples: 41999, 2026-06-30, "
                                 "2026-06-30T12:00:00+00:00)") from None
    if len(value) == len("2026-06-30"):  # a whole day: through its end
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def echo_findings(findings: Findings) -> None:
    """Each listed finding on its line, how many more there are, and the verdict (verify's text form)."""
    for finding in findings.items:
        click.echo(f"FINDING {finding.kind}: {finding.message}")
    hidden = sum(findings.counts.values()) - len(findings.items)
    if hidden:
        click.echo(f"... and {hidden} more findings (counts by kind: {dict(findings.counts)})")
    click.echo("clean" if not findings else f"{sum(findings.counts.values())} findings")


def _echo_bundle_report(report: BundleReport, output_format: str) -> None:
    if output_format == "json":
        render.emit_json(report.as_dict())
        return
    click.echo(f"archive {report.digest} of {report.origin}: {report.events_checked} events in "
               f"{report.blocks_checked} blocks, log size {report.tree_size}, {report.checkpoints_checked} "
               "checkpoints")
    echo_findings(report.findings)


@main.command()
@click.option("--through", "through_text", required=True, metavar="SEQ|DATE|TIME",
              help="Archive up to this seq, or history sealed by this date (its end, UTC) or time.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New folder to write the archive into.")
@click.option("--public-key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Verifier key (.pub) of the checkpoint signer: the archive is checked once written.")
@format_option(REPORT_FORMATS)
@click.pass_context
def archive(ctx: click.Context, through_text: str, out: Path, public_key: Path, output_format: str) -> None:
    """Write sealed, checkpointed history into a self-contained bundle, then check it (as verify-archive).

    The archive ends at the newest signed checkpoint within --through; it holds the events with their
    transaction records, the blocks, the checkpoints and a consistency proof to the newest checkpoint.
    Its digest (SHA-256 of its manifest) is printed. Exit 1 if the check has findings. Recorded as a review.

    \b
    Example:
      pgaudit-kit archive --through 2026-06-30 --out /mnt/archive/shop-2026h1 --public-key shop.pub
    """
    from ..verify.archive import archive as run_archive

    report = run_archive(connector(ctx), _through(through_text), out, public_key)
    _echo_bundle_report(report, output_format)
    if report.findings:
        ctx.exit(EXIT_FINDINGS)


@main.command("verify-archive")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--public-key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Verifier key (.pub) of the checkpoint signer.")
@format_option(REPORT_FORMATS)
@click.pass_context
def verify_archive(ctx: click.Context, folder: Path, public_key: Path, output_format: str) -> None:
    """Check an archive with no database: every file's digest, every leaf recomputed from its event, the
    tree, the block chain, and the roots against the signed checkpoints. Exit 0 clean, 1 with findings.

    \b
    Example:
      pgaudit-kit verify-archive /mnt/archive/shop-2026h1 --public-key shop.pub
    """
    from ..core import signing
    from ..verify import bundle

    report = bundle.check(folder, signing.read_public_key(public_key))
    _echo_bundle_report(report, output_format)
    if report.findings:
        ctx.exit(EXIT_FINDINGS)
