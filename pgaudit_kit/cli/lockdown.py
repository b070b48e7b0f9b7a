"""lockdown, unlock: refuse every audited write until an admin lifts it."""

from __future__ import annotations

import click

from .group import connect, main


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
    from ..control import lockdown

    lockdown.check_reason(reason)
    with connect(ctx) as conn:
        changed = lockdown.set_locked(conn, True, reason)
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
    from ..control import lockdown

    lockdown.check_reason(reason)
    with connect(ctx) as conn:
        changed = lockdown.set_locked(conn, False, reason)
    click.echo("audited writes are unlocked" if changed else "audited writes were not locked down")
