"""enable, disable, grant, revoke: which tables are audited, and who holds the kit's roles."""

from __future__ import annotations

import click

from ..control import enrolment, roles
from ..core.names import GRANTABLE_ROLES
from ..pg import db
from .group import connect, main, target_dsn


def _split_columns(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _capture_options(
    exclude: str | None, redact: str | None, truncate: str, statement: bool, mode: str | None = None
) -> enrolment.CaptureOptions:
    return enrolment.CaptureOptions(
        excluded_columns=_split_columns(exclude), redacted_columns=_split_columns(redact), truncate=truncate,
        capture_statement=statement, capture_mode=mode,
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
@click.option("--capture-mode", type=click.Choice(enrolment.CAPTURE_MODES),
              help="row: row triggers, cheapest for single-row writes; statement: set-based, cheapest for "
                   "bulk writes. Default: the table's current mode, statement for a new enrolment.")
@click.pass_context
def enable(ctx: click.Context, tables: tuple[str, ...], schema: str | None, all_existing: bool,
           exclude_columns: str | None, redact_columns: str | None, truncate: str, capture_statement: bool,
           capture_mode: str | None) -> None:
    """Enrol tables: every change to them is recorded inside the writing transaction.

    Names resolve as in SQL (search_path, quoting). Idempotent and all-or-nothing: an unknown name
    changes nothing. Running it again with other options changes the options (and records that).

    \b
    Examples:
      pgaudit-kit enable public.orders '"Customer Accounts"'
      pgaudit-kit enable public.users --redact-columns email,phone --exclude-columns avatar
      pgaudit-kit enable --schema billing --all --truncate refuse
      pgaudit-kit enable public.accounts --capture-mode row
    """
    if not tables and not schema:
        raise click.UsageError("name at least one TABLE, or --schema SCHEMA")
    if tables and schema:
        raise click.UsageError("give TABLEs or --schema, not both")
    if all_existing and not schema:
        raise click.UsageError("--all goes with --schema")
    if capture_mode and schema:
        raise click.UsageError("--capture-mode goes with named TABLEs (auto-enrolled tables get statement capture)")
    options = _capture_options(exclude_columns, redact_columns, truncate, capture_statement, capture_mode)
    with db.connect(target_dsn(ctx)) as conn:
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
    with db.connect(target_dsn(ctx)) as conn:
        if schema:
            enrolment.disable_schema(conn, schema, reason)
            click.echo(f"schema {schema}: auto-enrolment stopped (its enrolled tables stay enrolled)")
        else:
            assert table is not None
            name = enrolment.disable_table(conn, table, reason)
            click.echo(f"{name}: no longer audited (recorded with reason)")


@main.command()
@click.argument("kind", metavar="admin|reader", type=click.Choice(sorted(GRANTABLE_ROLES)))
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
    with connect(ctx) as conn:
        changed = roles.change_membership(conn, kind, role, grant=True)
    click.echo(f"{role} {'is now' if changed else 'already was'} a member of {GRANTABLE_ROLES[kind]}")


@main.command()
@click.argument("kind", metavar="admin|reader", type=click.Choice(sorted(GRANTABLE_ROLES)))
@click.argument("role")
@click.pass_context
def revoke(ctx: click.Context, kind: str, role: str) -> None:
    """Take a kit role (admin or reader) away from ROLE. Recorded in the audit log.

    \b
    Example:
      pgaudit-kit revoke reader auditor_alice
    """
    with connect(ctx) as conn:
        changed = roles.change_membership(conn, kind, role, grant=False)
    click.echo(f"{role} {'is no longer' if changed else 'was not'} a member of {GRANTABLE_ROLES[kind]}")
