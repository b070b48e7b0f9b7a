"""demo: the kit at work on a throwaway server."""

from __future__ import annotations

import click

from .group import main


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
    from .demo_session import run_demo

    run_demo(keep=keep)
