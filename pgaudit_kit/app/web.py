"""WSGI and ASGI middleware: bind who acts for each request (Flask, Django, FastAPI, Starlette, ...).

How the actor and context are found is the application's: functions of the WSGI environ or the ASGI scope.
The binding lasts exactly the request; transactions begun through the psycopg or SQLAlchemy helpers inside
it record it.

    app.wsgi_app = AuditWSGIMiddleware(app.wsgi_app, actor=lambda environ: environ.get("REMOTE_USER"))  # Flask
    app.add_middleware(AuditASGIMiddleware, actor=user_from_scope, context=request_id_from_scope)       # FastAPI
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from .context import Acting, bound, joined

Environ = dict[str, Any]
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def request_id_header(name: str = "x-request-id") -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A context function for either kind: {"request_id": value of header *name*} when the request has it."""
    wsgi_key = "HTTP_" + name.upper().replace("-", "_")
    asgi_key = name.lower().encode("latin-1")

    def context(request: Mapping[str, Any]) -> dict[str, Any]:
        if wsgi_key in request:
            return {"request_id": request[wsgi_key]}
        for key, value in request.get("headers") or ():
            if key.lower() == asgi_key:
                return {"request_id": value.decode("latin-1")}
        return {}
    return context


class AuditWSGIMiddleware:
    """Binds ``actor(environ)`` and ``context(environ)`` while the wrapped WSGI application handles a request:
    while it is called and while each piece of its response body is produced (which may still write)."""

    def __init__(self, app: Callable[[Environ, Callable[..., Any]], Iterable[bytes]],
                 actor: Callable[[Environ], str | None] = lambda environ: None,
                 context: Callable[[Environ], Mapping[str, Any]] = lambda environ: {}) -> None:
        self.app, self.actor, self.context = app, actor, context

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        who = joined(self.actor(environ), self.context(environ))
        with bound(who):
            body = self.app(environ, start_response)
        return _BoundBody(body, who)


class _BoundBody:
    """A response body produced with *who* bound; the binding is set and reset around each piece (never held
    across a yield, so that it cannot outlive the request in the server's thread)."""

    def __init__(self, body: Iterable[bytes], who: Acting) -> None:
        self._body, self._who = body, who

    def __iter__(self) -> Iterator[bytes]:
        pieces = iter(self._body)
        while True:
            with bound(self._who):
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece

    def close(self) -> None:  # PEP 3333: the server calls it; pass it on
        close = getattr(self._body, "close", None)
        if close is not None:
            with bound(self._who):
                close()


class AuditASGIMiddleware:
    """Binds ``actor(scope)`` and ``context(scope)`` for each HTTP or WebSocket connection the wrapped ASGI
    application handles (a context variable: each request's task has its own)."""

    def __init__(self, app: ASGIApp, actor: Callable[[Scope], str | None] = lambda scope: None,
                 context: Callable[[Scope], Mapping[str, Any]] = lambda scope: {}) -> None:
        self.app, self.actor, self.context = app, actor, context

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with bound(joined(self.actor(scope), self.context(scope))):
            await self.app(scope, receive, send)
