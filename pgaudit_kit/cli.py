"""The ``pgaudit-kit`` command line: parse, call the library, render, map errors to exit codes.

Exit codes: 0 ok, 1 a check found problems, 2 usage, 3 environment (cannot connect, wrong password,
insufficient privilege, not installed, read-only standby), 4 internal error.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

import click

# installer is imported by the commands that use it: it loads Alembic and SQLAlchemy, a third of a second
# that every other command (verify on a cron schedule, log, watch) would otherwise pay at start-up.
from . import __version__, db, enrolment, lockdown, render, roles, signing
from .errors import EXIT_ENVIRONMENT, EXIT_FINDINGS, EXIT_INTERNAL, KitError


class KitGroup(click.Group):
    """Turns expected errors into one line on stderr and the right exit code; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KitError as exc:
            self._report(ctx, str(exc))
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug: say so, keep the exit code distinct
            first_line = (str(exc).strip().splitlines() or [""])[0]
            self._report(ctx, f"internal error: {type(exc).__name__}: {first_line} "
                              "(rerun with --debug for the traceback)")
            ctx.exit(EXIT_INTERNAL)

    @staticmethod
    def _report(ctx: click.Context, message: str) -> None:
        if ctx.obj and ctx.obj.get("debug"):
            traceback.print_exc()
        click.echo(f"pgaudit-kit: error: {message}", err=True)


def _dsn(ctx: click.Context) -> str | None:
    value = ctx.obj.get("dsn")
    return str(value) if value else None


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--dsn", envvar="PGAUDIT_KIT_DSN", metavar="DSN",
              help="libpq connection string or URI (env PGAUDIT_KIT_DSN; default: PG* variables, as psql).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="pgaudit-kit")
@click.pass_context
def main(ctx: click.Context, dsn: str | None, debug: bool) -> None:
    """Tamper-evident, fail-closed auditing for PostgreSQL.

    \b
    Example:
      pgaudit-kit --dsn postgresql://admin@db1/shop install
      pgaudit-kit --dsn postgresql://admin@db1/shop enable public.orders
    """
    ctx.ensure_object(dict)
    ctx.obj.update(dsn=dsn, debug=debug)


@main.command()
@click.option("--sql", "print_sql", is_flag=True, help="Print the SQL instead of running it (for review).")
@click.option("--overwrite-drift", is_flag=True,
              help="Upgrade even though kit functions were changed behind the kit's back; what is overwritten "
                   "is recorded in the audit log first.")
@click.pass_context
def install(ctx: click.Context, print_sql: bool, overwrite_drift: bool) -> None:
    """Create or upgrade the kit's schema to the newest revision.

    Needs a superuser (it creates roles and event triggers). Idempotent: a second run changes nothing.
    An upgrade is refused (exit 1) while kit or capture functions differ from what the installed
    revision put there, since it would overwrite them and the evidence with them.

    \b
    Example:
      pgaudit-kit --dsn 'host=db1 dbname=shop user=postgres' install
      pgaudit-kit --dsn 'host=db1 dbname=shop user=postgres' install --sql > review.sql
      pgaudit-kit --dsn 'host=db1 dbname=shop user=postgres' install --overwrite-drift
    """
    from . import installer

    if print_sql:
        from_revision = None
        try:
            with db.connect(_dsn(ctx)) as conn:
                from_revision = installer.current_revision(conn)
        except KitError:
            pass  # no database at hand: print the full install
        click.echo(installer.install_sql(from_revision), nl=False)
        return
    result = installer.install(_dsn(ctx), overwrite_drift=overwrite_drift)
    for drift in result.overwritten:
        click.echo(f"overwritten, and recorded in the audit log (control event overwrite_drift): {drift.message}")
    if result.rebound:
        click.echo(f"re-bound capture of {result.rebound} enrolled tables to their new OIDs (restored database)")
    if result.before != result.after:
        click.echo(f"pgaudit-kit installed: revision {result.before or '(none)'} -> {result.after}")
    else:
        click.echo(f"pgaudit-kit already at revision {result.after}" + ("" if result.rebound else "; nothing to do"))


@main.command()
@render.format_option
@click.pass_context
def status(ctx: click.Context, output_format: str) -> None:
    """Report installed and newest revision, server, enrolled tables and anything wrong.

    Exits 1 when a problem is found (outdated schema, capture or guards weakened, a lockdown in force),
    3 when the kit is not installed in the database.

    \b
    Example:
      pgaudit-kit status
      pgaudit-kit status --format json
    """
    from . import installer

    report = installer.status(_dsn(ctx))
    if output_format == "json":
        render.emit_json(report.as_dict())
    else:
        click.echo(f"database:           {report.database}")
        click.echo(f"server version:     {report.server_version}")
        click.echo(f"installed revision: {report.installed_revision or '(not installed)'}")
        click.echo(f"newest revision:    {report.newest_revision}")
        click.echo(f"enrolled tables:    {len(report.enrolled_tables)}")
        if report.enrolled_tables:
            click.echo(render.table(
                ["table", "mode", "primary key", "excluded", "redacted", "truncate", "statement"],
                [[f"{t['schema_name']}.{t['table_name']}", t["capture_mode"],
                  ",".join(t["pk_columns"] or []) or "(none)",
                  ",".join(t["excluded_columns"]), ",".join(t["redacted_columns"]), t["truncate_policy"],
                  "yes" if t["capture_statement"] else "no"] for t in report.enrolled_tables],
            ))
        if report.sealed_log:
            log = report.sealed_log
            age = log["oldest_unsealed_age_seconds"]
            click.echo(f"sealed log:         {log['tree_size']} events; {log['unsealed_events']} not yet sealed"
                       + (f" (oldest {age:.1f}s)" if age is not None else ""))
        if report.auto_enrol_schemas:
            click.echo("auto-enrol schemas: " + ", ".join(s["schema_name"] for s in report.auto_enrol_schemas))
        if report.lockdown is not None:
            click.echo("lockdown:           " + ("LOCKED" if report.lockdown["locked"] else "no"))
        if report.problems:
            click.echo("problems:")
            for problem in report.problems:
                click.echo(f"  - {problem}")
        else:
            click.echo("problems:           none")
    if report.installed_revision is None:
        ctx.exit(EXIT_ENVIRONMENT)
    if report.problems:
        ctx.exit(EXIT_FINDINGS)


@main.command()
@click.option("--discard-history", is_flag=True, help="Also destroy recorded audit history.")
@click.pass_context
def uninstall(ctx: click.Context, discard_history: bool) -> None:
    """Remove everything the kit created: schema, capture triggers, event triggers, unused roles.

    Refuses while audit history exists unless --discard-history is given.

    \b
    Example:
      pgaudit-kit --dsn postgresql://postgres@db1/shop uninstall --discard-history
    """
    from . import installer

    result = installer.uninstall(_dsn(ctx), discard_history)
    click.echo(f"pgaudit-kit uninstalled ({result.discarded_events} recorded events discarded)")
    if result.kept_roles:
        click.echo("roles kept (still used by another database of the cluster): " + ", ".join(result.kept_roles))


def _split_columns(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _capture_options(
    exclude: str | None, redact: str | None, truncate: str, statement: bool
) -> enrolment.CaptureOptions:
    return enrolment.CaptureOptions(
        excluded_columns=_split_columns(exclude), redacted_columns=_split_columns(redact), truncate=truncate,
        capture_statement=statement,
    )


@main.command()
@click.argument("tables", nargs=-1)
@click.option("--schema", "schema", metavar="SCHEMA", help="Auto-enrol tables created in SCHEMA from now on.")
@click.option("--all", "all_existing", is_flag=True, help="With --schema: also enrol every table SCHEMA has now.")
@click.option("--exclude-columns", metavar="COL,...", help="Columns never recorded.")
@click.option("--redact-columns", metavar="COL,...", help="Columns recorded as a keyed digest, never the value.")
@click.option("--truncate", type=click.Choice(enrolment.TRUNCATE_POLICIES), default="capture", show_default=True,
              help="TRUNCATE records every removed row, or is refused.")
@click.option("--capture-statement", is_flag=True, help="Also record the DML statement text (may hold secrets).")
@click.pass_context
def enable(ctx: click.Context, tables: tuple[str, ...], schema: str | None, all_existing: bool,
           exclude_columns: str | None, redact_columns: str | None, truncate: str, capture_statement: bool) -> None:
    """Enrol tables: every change to them is recorded inside the writing transaction.

    Names resolve as in SQL (search_path, quoting). Idempotent and all-or-nothing: an unknown name
    changes nothing. Running it again with other options changes the options (and records that).

    \b
    Examples:
      pgaudit-kit enable public.orders '"Customer Accounts"'
      pgaudit-kit enable public.users --redact-columns email,phone --exclude-columns avatar
      pgaudit-kit enable --schema billing --all --truncate refuse
    """
    if not tables and not schema:
        raise click.UsageError("name at least one TABLE, or --schema SCHEMA")
    if tables and schema:
        raise click.UsageError("give TABLEs or --schema, not both")
    if all_existing and not schema:
        raise click.UsageError("--all goes with --schema")
    options = _capture_options(exclude_columns, redact_columns, truncate, capture_statement)
    with db.connect(_dsn(ctx)) as conn:
        if schema:
            count = enrolment.enable_schema(conn, schema, all_existing, options)
            click.echo(f"schema {schema}: new tables are enrolled automatically"
                       + (f"; {count} existing tables enrolled" if all_existing else ""))
            return
        for name, changed in enrolment.enable_tables(conn, tables, options):
            click.echo(f"{name}: {'enrolled' if changed else 'already enrolled with these options'}")


@main.command()
@click.argument("table", required=False)
@click.option("--schema", metavar="SCHEMA", help="Stop auto-enrolling new tables of SCHEMA.")
@click.option("--reason", metavar="TEXT", help="Why auditing stops (required; recorded with who and when).")
@click.pass_context
def disable(ctx: click.Context, table: str | None, schema: str | None, reason: str | None) -> None:
    """Stop auditing a table (or auto-enrolment of a schema). Needs the admin role and a reason.

    \b
    Example:
      pgaudit-kit disable public.scratch --reason "table retired, CHG-1234"
    """
    if bool(table) == bool(schema):
        raise click.UsageError("name exactly one TABLE, or --schema SCHEMA")
    with db.connect(_dsn(ctx)) as conn:
        if schema:
            enrolment.disable_schema(conn, schema, reason)
            click.echo(f"schema {schema}: auto-enrolment stopped (its enrolled tables stay enrolled)")
        else:
            assert table is not None
            name = enrolment.disable_table(conn, table, reason)
            click.echo(f"{name}: no longer audited (recorded with reason)")


@main.command()
@click.option("--keep", is_flag=True, help="Leave the server running and print its DSN; stop it with Ctrl-C.")
def demo(keep: bool) -> None:
    """Start a throwaway PostgreSQL, install the kit into a sample database and show it at work.

    Everything is removed afterwards. Needs server binaries: the 'server' extra, PGAUDIT_KIT_PG_BINDIR,
    or pg_config on PATH.

    \b
    Example:
      pgaudit-kit demo
    """
    from .demo import run_demo

    run_demo(keep=keep)



@main.command()
@click.pass_context
def seal(ctx: click.Context) -> None:
    """Seal recorded events into the hash-chained Merkle log now.

    Sealing also happens by itself at commit (piggy-backed, at most every 200 ms); run this from cron
    to bound the unsealed window on an idle database. Needs the admin role.

    \b
    Example:
      pgaudit-kit seal
    """
    from . import sealing

    with db.connect(_dsn(ctx)) as conn:
        db.require_writable(conn)
        db.require_installed(conn)
        count = sealing.seal(conn)
        state = sealing.backlog(conn)
    click.echo(f"sealed {count} events; log size {state.tree_size}; {state.count} events not yet sealable")


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
    key = signing.generate(name)
    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    signing.write_key_pair(key, private, public)
    click.echo(f"wrote {private} (private, 0600) and {public}: {key.verifier().encode()}")


@main.command()
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file from keygen.")
@click.option("--anchor-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Append-only directory outside the database that receives a copy.")
@render.format_option
@click.pass_context
def checkpoint(ctx: click.Context, key_path: Path, anchor_dir: Path | None, output_format: str) -> None:
    """Seal, then sign the log's tree head here (the key never reaches the server), store and anchor it.

    \b
    Example:
      pgaudit-kit checkpoint --key /etc/pgaudit-kit/shop.key --anchor-dir /mnt/worm/pgaudit
    """
    from . import sealing

    key = signing.read_private_key(key_path)
    with db.connect(_dsn(ctx)) as conn:
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
@render.format_option
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
    from .verify import verify as run_verify

    report = run_verify(_dsn(ctx), anchor_dir=anchor_dir, public_key=public_key, state_path=state_path, full=full,
                        jobs=jobs)
    if lockdown_on_failure and report.findings:
        kinds = ", ".join(sorted(report.findings.counts))
        reason = f"verify found {sum(report.findings.counts.values())} findings ({kinds})"
        report.locked_down = lockdown.set_locked(_dsn(ctx), True, reason)
    if output_format == "json":
        render.emit_json(report.as_dict())
    else:
        click.echo(f"{report.mode} verification of {report.origin}: {report.events_checked} events in "
                   f"{report.blocks_checked} blocks, log size {report.tree_size}, {report.checkpoints_checked} "
                   f"checkpoints, {report.anchored_checked} anchored; {report.unsealed_events} not yet sealed "
                   f"({report.seconds:.2f}s)")
        if not report.signatures_checked:
            click.echo("note: checkpoint signatures were not checked (no --public-key)")
        for finding in report.findings.items:
            click.echo(f"FINDING {finding.kind}: {finding.message}")
        hidden = sum(report.findings.counts.values()) - len(report.findings.items)
        if hidden:
            click.echo(f"... and {hidden} more findings (counts by kind: {dict(report.findings.counts)})")
        click.echo("clean" if not report.findings else f"{sum(report.findings.counts.values())} findings")
        if report.locked_down:
            click.echo("audited writes are now locked down (lift with: pgaudit-kit unlock --reason TEXT)")
    if report.findings:
        ctx.exit(EXIT_FINDINGS)


@main.command()
@click.argument("event_id", type=int, required=False)
@click.option("--consistency", "old_size", type=int, help="Prove that tree size OLD_SIZE is a prefix of a newer one.")
@click.option("--to", "new_size", type=int, help="With --consistency: the newer tree size (default: newest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_context
def prove(ctx: click.Context, event_id: int | None, old_size: int | None, new_size: int | None,
          out: Path | None) -> None:
    """Write a proof that an event is in the signed log (or that two checkpoints are consistent).

    \b
    Examples:
      pgaudit-kit prove 4711 --out event-4711.proof.json
      pgaudit-kit prove --consistency 1000 --to 5000 --out c.json
    """
    from . import proofs

    if (event_id is None) == (old_size is None):
        raise click.UsageError("give an EVENT_ID or --consistency OLD_SIZE")
    document = (proofs.prove_inclusion(_dsn(ctx), event_id) if event_id is not None
                else proofs.prove_consistency(_dsn(ctx), int(old_size or 0), new_size))
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
    from . import merkle, proofs

    key = signing.read_public_key(public_key)
    try:
        document = json.loads(proof_file.read_text())
        click.echo("valid: " + proofs.verify_proof(document, key))
    except (merkle.ProofError, signing.SignatureError, KeyError, TypeError, ValueError) as exc:
        click.echo(f"INVALID: {exc}")
        ctx.exit(EXIT_FINDINGS)


@main.command()
@click.argument("kind", metavar="admin|reader", type=click.Choice(sorted(roles.KIT_ROLES)))
@click.argument("role")
@click.pass_context
def grant(ctx: click.Context, kind: str, role: str) -> None:
    """Give ROLE a kit role: admin (enable, disable, seal, checkpoint, lockdown) or reader (review only).

    Needs a superuser or ADMIN OPTION on the kit role. Recorded in the audit log with who granted it.

    \b
    Example:
      pgaudit-kit grant reader auditor_alice
      pgaudit-kit grant admin dba_bob
    """
    changed = roles.change_membership(_dsn(ctx), kind, role, grant=True)
    click.echo(f"{role} {'is now' if changed else 'already was'} a member of {roles.KIT_ROLES[kind]}")


@main.command()
@click.argument("kind", metavar="admin|reader", type=click.Choice(sorted(roles.KIT_ROLES)))
@click.argument("role")
@click.pass_context
def revoke(ctx: click.Context, kind: str, role: str) -> None:
    """Take a kit role (admin or reader) away from ROLE. Recorded in the audit log.

    \b
    Example:
      pgaudit-kit revoke reader auditor_alice
    """
    changed = roles.change_membership(_dsn(ctx), kind, role, grant=False)
    click.echo(f"{role} {'is no longer' if changed else 'was not'} a member of {roles.KIT_ROLES[kind]}")


@main.command("lockdown")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded, and shown to refused writers).")
@click.pass_context
def lockdown_command(ctx: click.Context, reason: str) -> None:
    """Refuse every audited write until an admin unlocks (needs the admin role; recorded).

    Each transaction that starts writing to an audited table is refused with the reason and who locked.
    Reviewing (verify, log, ...) still works.

    \b
    Example:
      pgaudit-kit lockdown --reason "verify reported a rewritten block; investigating (INC-4711)"
    """
    changed = lockdown.set_locked(_dsn(ctx), True, reason)
    click.echo("audited writes are now locked down" if changed else "audited writes were already locked down")


@main.command()
@click.option("--reason", required=True, metavar="TEXT", help="Why the lockdown ends (recorded).")
@click.pass_context
def unlock(ctx: click.Context, reason: str) -> None:
    """Lift a lockdown (needs the admin role; recorded with who and why).

    \b
    Example:
      pgaudit-kit unlock --reason "INC-4711: restored block verified clean"
    """
    changed = lockdown.set_locked(_dsn(ctx), False, reason)
    click.echo("audited writes are unlocked" if changed else "audited writes were not locked down")


# Commands kept in modules of their own register themselves on `main` when imported.
from . import cli_doctor, cli_reconcile, cli_review  # noqa: E402,F401
