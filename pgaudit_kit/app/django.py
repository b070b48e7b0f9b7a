"""Django: bind who acts for each request (a middleware), and make every query Django runs on PostgreSQL carry
it, local to its transaction (an execute wrapper on each connection: Django has no "transaction began" hook).

    INSTALLED_APPS = [..., "pgaudit_kit.app.django.PgauditKitConfig"]      # the ORM hook, in every process
    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "pgaudit_kit.app.django.AuditMiddleware", ...]          # after the user is known
    PGAUDIT_KIT_ACTOR = "myproject.audit.actor"               # optional: request -> str | None
    PGAUDIT_KIT_CONTEXT = "pgaudit_kit.app.django.request_id"  # optional: request -> dict

Outside requests (management commands, task queues) bind with :func:`.context.acting`: the hook records
whatever is bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.apps import AppConfig
from django.conf import settings
from django.db import connections, transaction
from django.db.backends.signals import connection_created
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string
from psycopg import pq

from .context import SET_SQL, Acting, bound, current, joined

_NOTHING_BOUND = Acting()
_IDLE = pq.TransactionStatus.IDLE  # libpq's PQTRANS_IDLE, 0 for psycopg2's connections too
_DISPATCH_UID = "pgaudit_kit.app.django.record_actor"


def _carry_actor(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    """The execute wrapper: the statement runs in a transaction whose first statement set the actor and context
    bound when that transaction began.

    Whether a transaction is open is asked of libpq (the status the server reported after the last command),
    not inferred from Django's atomic blocks: IDLE means none is, so the statement about to run opens one (the
    driver sends BEGIN before it when autocommit is off). Any way of opening and ending transactions is seen
    alike (atomic blocks and their savepoints, AUTOCOMMIT = False with commit(), a rollback after an error), and
    there is no marker that could outlive its transaction."""
    who = current()
    connection = context["connection"]
    if who == _NOTHING_BOUND or connection.connection.info.transaction_status != _IDLE:
        # nothing to set, or a transaction is open: it was given the settings before its first statement
        return execute(sql, params, many, context)
    values = who.settings()  # a context that is not JSON fails here, before anything is sent
    if connection.get_autocommit():
        # each statement is its own transaction: make it one of two statements, so that the settings and the
        # write share it (one transaction as before: it commits, or rolls back on error, with the statement)
        with transaction.atomic(using=connection.alias):
            _set(connection, values)
            return execute(sql, params, many, context)
    _set(connection, values)
    return execute(sql, params, many, context)


def _set(connection: Any, values: tuple[str, str]) -> None:
    # on the driver's connection: not through Django's cursor, whose execute wrappers would call us again
    with connection.connection.cursor() as cursor:
        cursor.execute(SET_SQL, values)


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    # first in the list: connection.execute_wrapper() pops the last one when its block ends, so that a connection
    # opened inside such a block must not put us last
    if connection.vendor == "postgresql" and _carry_actor not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _carry_actor)


def record_actor() -> None:
    """Make every query Django runs on a PostgreSQL connection carry what is bound (:func:`.context.acting`, the
    middleware), set with ``set_config(..., true)`` at the start of its transaction; a query in autocommit mode
    runs in a transaction of its own with them. Installed on this thread's open connections and on every
    connection created from now on; idempotent. :class:`PgauditKitConfig` and :class:`AuditMiddleware` call it.

    A transaction keeps what was bound when it began. With nothing bound, queries run untouched. Statements that
    cannot run in a transaction block (``CREATE INDEX CONCURRENTLY``, ``VACUUM``) must run with nothing bound."""
    connection_created.connect(_install, dispatch_uid=_DISPATCH_UID)
    for connection in connections.all(initialized_only=True):
        _install(sender=type(connection), connection=connection)


def forget_actor() -> None:
    """Undo :func:`record_actor`: no new connection gets the hook, and this thread's open ones lose it."""
    connection_created.disconnect(dispatch_uid=_DISPATCH_UID)
    for connection in connections.all(initialized_only=True):
        if _carry_actor in connection.execute_wrappers:
            connection.execute_wrappers.remove(_carry_actor)


class PgauditKitConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """``"pgaudit_kit.app.django.PgauditKitConfig"`` in INSTALLED_APPS installs the ORM hook in every process
    that sets Django up: web servers, management commands, task workers."""

    name = "pgaudit_kit.app.django"
    label = "pgaudit_kit"
    verbose_name = "pgaudit-kit"

    def ready(self) -> None:
        record_actor()


def username(request: HttpRequest) -> str | None:
    """The default actor: the signed-in user's username (``request.user``, from AuthenticationMiddleware)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.get_username())


def request_id(request: HttpRequest) -> dict[str, Any]:
    """A context function: {"request_id": the X-Request-Id header} when the request has one."""
    value = request.headers.get("X-Request-Id")
    return {"request_id": value} if value else {}


def _no_context(request: HttpRequest) -> dict[str, Any]:
    return {}


def _function(setting: str, default: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    value = getattr(settings, setting, None)
    if value is None:
        return default
    function = import_string(value) if isinstance(value, str) else value
    if not callable(function):
        raise TypeError(f"{setting} must be a function of the request or its dotted path, not {value!r}")
    return function  # type: ignore[no-any-return]  # callable() narrows to a callable returning Any


class AuditMiddleware:
    """Binds the actor and context of each request while its view runs, and while a streamed response body is
    produced. The actor is ``PGAUDIT_KIT_ACTOR(request)`` (default: :func:`username`), the context
    ``PGAUDIT_KIT_CONTEXT(request)`` (default: none); each setting is a function or its dotted path. Place it
    after AuthenticationMiddleware. Works in sync and async stacks (in an async one the two functions run in a
    thread, where they may use the ORM). Installs the ORM hook (:func:`record_actor`) if the app did not."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.actor = _function("PGAUDIT_KIT_ACTOR", username)
        self.context = _function("PGAUDIT_KIT_CONTEXT", _no_context)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # Django awaits what __call__ returns
        record_actor()

    def who(self, request: HttpRequest) -> Acting:
        """Who acts for *request*."""
        return joined(self.actor(request), self.context(request))

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._async_call(request)
        who = self.who(request)
        with bound(who):
            response = self.get_response(request)
        return _bind_stream(response, who)

    async def _async_call(self, request: HttpRequest) -> Any:
        who = await sync_to_async(self.who)(request)
        with bound(who):
            response = await self.get_response(request)
        return _bind_stream(response, who)


def _bind_stream(response: HttpResponseBase, who: Acting) -> HttpResponseBase:
    """A streamed body is produced after the view returned: bind *who* around each piece (never across a yield,
    so that it cannot outlive the request). Files are left alone: reading them writes nothing, and replacing
    their content would lose the server's sendfile."""
    if response.streaming and not isinstance(response, FileResponse):
        if response.is_async:
            response.streaming_content = _bound_async_pieces(response.streaming_content, who)
        else:
            response.streaming_content = _bound_pieces(response.streaming_content, who)
    return response


def _bound_pieces(pieces: Iterator[bytes], who: Acting) -> Iterator[bytes]:
    while True:
        with bound(who):
            piece = next(pieces, None)
        if piece is None:
            return
        yield piece


async def _bound_async_pieces(pieces: AsyncIterator[bytes], who: Acting) -> AsyncIterator[bytes]:
    while True:
        with bound(who):
            piece = await anext(pieces, None)
        if piece is None:
            return
        yield piece
