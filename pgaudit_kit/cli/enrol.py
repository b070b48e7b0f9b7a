"""enable, disable, grant, revoke: which tables are audited, and who holds the kit's roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..core.names import CAPTURE_MODES, GRANTABLE_ROLES, TRUNCATE_POLICIES
from .group import connect, main, target_dsn

if TYPE_CHECKING:
    from ..control import enrolment


def _split_columns(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


OPTION_LABELS = {"excluded_columns": "excluded columns", "redacted_columns": "redacted columns",
                 "truncate_policy": "TRUNCATE", "capture_statement": "statement text", "capture_mode": "capture"}


def _shown(option: str, value: Any) -> str:
    if option == "capture_statement":
        return "recorded" if value else "not recorded"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return "none" if value is None else str(value)


def _describe(result: enrolment.Enrolled) -> str:
    """One line per table: what it is enrolled with now, and each option that changed as before -> after."""
    if result.before is None:
        return f"{result.name}: enrolled (" + "; ".join(
            f"{OPTION_LABELS[k]} {_shown(k, v)}" for k, v in result.after.items()) + ")"
    if not result.changes:
        return f"{result.name}: already enrolled with these options"
    return f"{result.name}: options changed: " + "; ".join(
        f"{OPTION_LABELS[k]} {_shown(k, b)} -> {_shown(k, a)}" for k, (b, a) in result.changes.items())


@main.command()
@click.argument("tables", nargs=-1)
@click.option("--schema", "schema", metavar="SCHEMA", help="Auto-enrol tables created in SCHEMA from now on.")
@click.option("--all", "all_existing", is_flag=True, help="With --schema: also enrol every table SCHEMA has now.")
@click.option("--exclude-columns", metavar="[TABLE.]COL,...", help="Columns never recorded from now on.")
@click.option("--redact-columns", metavar="[TABLE.]COL,...",
              help="Columns recorded as a keyed digest from now on, never the value.")
@click.option("--include-columns", metavar="[TABLE.]COL,...",
              help="Excluded columns to record again (in clear unless also redacted); needs --reason.")
@click.option("--unredact-columns", metavar="[TABLE.]COL,...",
              help="Redacted columns to record in clear again; needs --reason.")
@click.option("--truncate", type=click.Choice(TRUNCATE_POLICIES),
              help="TRUNCATE records every removed row (capture), or is refused. Default: unchanged; capture for "
                   "a new enrolment.")
@click.option("--capture-statement/--no-capture-statement", default=None,
              help="Also record the DML statement text (may hold secrets). Default: unchanged; off for a new one.")
@click.option("--capture-mode", type=click.Choice(CAPTURE_MODES),
              help="row: row triggers, cheapest for single-row writes; statement: set-based, cheapest for "
                   "bulk writes. Default: the table's current mode, statement for a new enrolment.")
@click.option("--reason", metavar="TEXT", help="Why the options change (recorded); required to record a column "
                                                "in clear again.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="SECONDS",
              help="Longest wait for each table's lock (0: no limit); then exit 3 naming who holds it.")
@click.pass_context
def enable(ctx: click.Context, tables: tuple[str, ...], schema: str | None, all_existing: bool,
           exclude_columns: str | None, redact_columns: str | None, include_columns: str | None,
           unredact_columns: str | None, truncate: str | None, capture_statement: bool | None,
           capture_mode: str | None, reason: str | None, lock_timeout: float) -> None:
    """Enrol tables: every change to them is recorded inside the writing transaction.

    Names resolve as in SQL (search_path, quoting). All-or-nothing: an unknown name changes nothing.
    Run again, it changes only the options given and prints each change as before -> after (recorded);
    an option not given keeps its setting. Column options name COL (every table named) or TABLE.COL.
    A column that was excluded or redacted is recorded in clear again only with --include-columns /
    --unredact-columns and a --reason. It waits --lock-timeout seconds at most for each table's lock.

    \b
    Examples:
      pgaudit-kit enable public.orders '"Customer Accounts"'
      pgaudit-kit enable public.users --redact-columns email,phone --exclude-columns avatar
      pgaudit-kit enable public.orders public.customers --redact-columns customers.email
      pgaudit-kit enable public.users --unredact-columns phone --reason "CHG-77: phone is not personal data here"
      pgaudit-kit enable --schema billing --all --truncate refuse
      pgaudit-kit enable public.accounts --capture-mode row
    """
    from ..control import enrolment
    from ..pg import db

    if not tables and not schema:
        raise click.UsageError("name at least one TABLE, or --schema SCHEMA")
    if tables and schema:
        raise click.UsageError("give TABLEs or --schema, not both")
    if all_existing and not schema:
        raise click.UsageError("--all goes with --schema")
    if capture_mode and schema:
        raise click.UsageError("--capture-mode goes with named TABLEs (auto-enrolled tables get statement capture)")
    if schema and (include_columns or unredact_columns):
        raise click.UsageError("--include-columns and --unredact-columns go with named TABLEs")
    with db.connect(target_dsn(ctx)) as conn:
        if schema:
            options = enrolment.CaptureOptions(
                excluded_columns=_split_columns(exclude_columns), redacted_columns=_split_columns(redact_columns),
                truncate=truncate or "capture", capture_statement=bool(capture_statement))
            count = enrolment.enable_schema(conn, schema, all_existing, options)
            click.echo(f"schema {schema}: new tables are enrolled automatically"
                       + (f"; {count} existing tables enrolled" if all_existing else ""))
            return
        changes = enrolment.OptionChanges(
            exclude=_split_columns(exclude_columns), redact=_split_columns(redact_columns),
            include=_split_columns(include_columns), unredact=_split_columns(unredact_columns), truncate=truncate,
            capture_statement=capture_statement, capture_mode=capture_mode, reason=reason)
        for result in enrolment.enable(conn, tables, changes, lock_timeout):
            click.echo(_describe(result))


@main.command()
@click.argument("table", required=False)
@click.option("--schema", metavar="SCHEMA", help="Stop auto-enrolling new tables of SCHEMA.")
@click.option("--reason", metavar="TEXT", help="Why auditing stops (required; recorded with who and when).")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="SECONDS",
              help="Longest wait for the table's lock (0: no limit); then exit 3 naming who holds it.")
@click.pass_context
def disable(ctx: click.Context, table: str | None, schema: str | None, reason: str | None,
            lock_timeout: float) -> None:
    """Stop auditing a table (or auto-enrolment of a schema). Needs the admin role and a reason.

    \b
    Example:
      pgaudit-kit disable public.scratch --reason "table retired, CHG-1234"
    """
    from ..control import enrolment
    from ..pg import db

    if bool(table) == bool(schema):
        raise click.UsageError("name exactly one TABLE, or --schema SCHEMA")
    with db.connect(target_dsn(ctx)) as conn:
        if schema:
            enrolment.disable_schema(conn, schema, reason)
            click.echo(f"schema {schema}: auto-enrolment stopped (its enrolled tables stay enrolled)")
        else:
            assert table is not None
            name = enrolment.disable_table(conn, table, reason, lock_timeout)
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
    from ..control import roles

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
    from ..control import roles

    with connect(ctx) as conn:
        changed = roles.change_membership(conn, kind, role, grant=False)
    click.echo(f"{role} {'is no longer' if changed else 'was not'} a member of {GRANTABLE_ROLES[kind]}")
