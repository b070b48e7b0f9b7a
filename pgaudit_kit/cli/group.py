"""The ``pgaudit-kit`` group and what every command shares: the global options, the connection target,
the --format option and the mapping of errors to exit codes.

Exit codes: 0 ok, 1 a check found problems, 2 usage, 3 environment (cannot connect, wrong password,
insufficient privilege, not installed, read-only standby), 4 internal error.

The command families (install, enrol, integrity, review, ...) register their commands on :data:`main`;
this module imports none of them.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__
from ..core.errors import EXIT_INTERNAL, KitError
from ..review.vocabulary import FORMATS

if TYPE_CHECKING:
    import psycopg

    from ..pg.db import Connector

F = TypeVar("F", bound=Callable[..., Any])

# The --format vocabularies, each command's exactly as it has always been; the first is the default.
REPORT_FORMATS: tuple[str, ...] = ("text", "json")  # status, checkpoint, verify, reconcile, doctor
LISTING_FORMATS: tuple[str, ...] = FORMATS  # log, tx: table, json, jsonl, csv
TIMELINE_FORMATS: tuple[str, ...] = ("table", "json", "jsonl")  # history


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
        # messages raised in SQL carry the kit's name already (a psql user sees them too): say it once
        click.echo(f"pgaudit-kit: error: {message.removeprefix('pgaudit-kit: ')}", err=True)


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


def target_dsn(ctx: click.Context) -> str | None:
    """The database a command works on: --dsn, else PGAUDIT_KIT_DSN; None (an empty value too) leaves it to
    libpq's PG* variables and defaults, as psql does."""
    value = ctx.obj.get("dsn")
    return str(value) if value else None


def connect(ctx: click.Context) -> psycopg.Connection[Any]:
    """A connection to the command's database (the command closes it): library operations take one."""
    from ..pg import db  # here: --help and --version never load the driver

    return db.connect(target_dsn(ctx))


def connector(ctx: click.Context) -> Connector:
    """How operations that open connections of their own (install, verify's parallel readers) reach it."""
    from ..pg import db

    return db.connector(target_dsn(ctx))


def format_option(choices: Sequence[str]) -> Callable[[F], F]:
    """The --format option, shared by every command that has one: one of *choices*, the first by default.
    The command receives it as ``output_format``."""
    return click.option("--format", "output_format", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="Output format.")
