"""install, status, uninstall: the kit's schema in a database."""

from __future__ import annotations

import click

from ..core.errors import EXIT_ENVIRONMENT, EXIT_FINDINGS, KitError

# installer is imported by the commands that use it: it loads Alembic and SQLAlchemy, a third of a second
# that every other command (verify on a cron schedule, log, watch) would otherwise pay at start-up.
from . import render
from .group import REPORT_FORMATS, connect, connector, format_option, main, target_dsn


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
    from ..pg import db
    from ..schema import installer

    if print_sql:
        from_revision = None
        try:
            with db.connect(target_dsn(ctx)) as conn:
                from_revision = installer.current_revision(conn)
        except KitError as exc:  # no database at hand: print the full install, and say why
            click.echo(f"pgaudit-kit: note: {exc}; printing the whole install, as for a database without the kit",
                       err=True)
        click.echo(installer.install_sql(from_revision), nl=False)
        return
    result = installer.install(connector(ctx), overwrite_drift=overwrite_drift)
    for drift in result.overwritten:
        click.echo(f"overwritten, and recorded in the audit log (control event overwrite_drift): {drift.message}")
    if result.rebound:
        click.echo(f"re-bound capture of {result.rebound} enrolled tables to their new OIDs (restored database)")
    if result.origin_changed_from:
        click.echo(f"recorded the change of checkpoint origin from {result.origin_changed_from} (a restore into "
                   "another database or cluster): verify checks its checkpoints against this log")
    if result.before != result.after:
        click.echo(f"pgaudit-kit installed: revision {result.before or '(none)'} -> {result.after}")
    else:
        click.echo(f"pgaudit-kit already at revision {result.after}" + ("" if result.rebound else "; nothing to do"))


@main.command()
@format_option(REPORT_FORMATS)
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
    from ..schema import installer

    with connect(ctx) as conn:
        report = installer.status(conn)
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
                [[render.qualified_name(t["schema_name"], t["table_name"]), t["capture_mode"],
                  ",".join(t["pk_columns"] or []) or "(none)",
                  ",".join(t["excluded_columns"]), ",".join(t["redacted_columns"]), t["truncate_policy"],
                  "yes" if t["capture_statement"] else "no"] for t in report.enrolled_tables],
            ))
        if report.sealed_log:
            log = report.sealed_log
            age = log["oldest_unsealed_age_seconds"]
            click.echo(f"sealed log:         {log['tree_size']} events; {log['unsealed_events']} not yet sealed"
                       + (f" (oldest {age:.1f}s)" if age is not None else ""))
            until = log["follower_lease_until"]
            click.echo("sealed by:          " + (f"a follower (seal --follow), lease until {until}" if until
                                                 else "writers at their commit (no seal --follow running)"))
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

    Refuses while audit history exists unless --discard-history is given, and always while history is younger
    than the minimum retention period (see `retention`).

    \b
    Example:
      pgaudit-kit --dsn postgresql://postgres@db1/shop uninstall --discard-history
    """
    from ..schema import installer

    with connect(ctx) as conn:
        result = installer.uninstall(conn, discard_history)
    click.echo(f"pgaudit-kit uninstalled ({result.discarded_events} recorded events discarded)")
    if result.kept_roles:
        click.echo(f"roles kept: {', '.join(result.kept_roles)} (still used in "
                   + (", ".join(result.kept_for) if result.kept_for else "another database of the cluster") + ")")
