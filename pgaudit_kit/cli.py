"""The ``pgaudit-kit`` command line: parse, call the library, render, map errors to exit codes.

Exit codes: 0 ok, 1 a check found problems, 2 usage, 3 environment (cannot connect, wrong password,
insufficient privilege, not installed, read-only standby), 4 internal error.
"""

from __future__ import annotations

import traceback
from typing import Any

import click

from . import __version__, db, enrolment, installer, render
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
@click.pass_context
def install(ctx: click.Context, print_sql: bool) -> None:
    """Create or upgrade the kit's schema to the newest revision.

    Needs a superuser (it creates roles and event triggers). Idempotent: a second run changes nothing.

    \b
    Example:
      pgaudit-kit --dsn 'host=db1 dbname=shop user=postgres' install
      pgaudit-kit --dsn 'host=db1 dbname=shop user=postgres' install --sql > review.sql
    """
    if print_sql:
        from_revision = None
        try:
            with db.connect(_dsn(ctx)) as conn:
                from_revision = installer.current_revision(conn)
        except KitError:
            pass  # no database at hand: print the full install
        click.echo(installer.install_sql(from_revision), nl=False)
        return
    result = installer.install(_dsn(ctx))
    if result.changed:
        click.echo(f"pgaudit-kit installed: revision {result.before or '(none)'} -> {result.after}")
    else:
        click.echo(f"pgaudit-kit already at revision {result.after}; nothing to do")


@main.command()
@render.format_option
@click.pass_context
def status(ctx: click.Context, output_format: str) -> None:
    """Report installed and newest revision, server, enrolled tables and anything wrong.

    Exits 1 when a problem is found (outdated schema, capture triggers missing or not ALWAYS), 3 when
    the kit is not installed in the database.

    \b
    Example:
      pgaudit-kit status
      pgaudit-kit status --format json
    """
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
        if report.auto_enrol_schemas:
            click.echo("auto-enrol schemas: " + ", ".join(s["schema_name"] for s in report.auto_enrol_schemas))
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

