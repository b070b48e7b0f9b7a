"""The application-side helpers (pgaudit_kit.app) against a real kit database: the actor and context they bind
are what the audited transaction records, they end with the transaction (nothing leaks to the next one on the
same connection, as PgBouncer's transaction mode needs), and each thread, task and request has its own."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.orm import sessionmaker

from pgaudit_kit.app import context as app_context
from pgaudit_kit.app.psycopg import audited_async_transaction, audited_transaction
from pgaudit_kit.app.sqlalchemy import record_actor
from pgaudit_kit.app.web import AuditASGIMiddleware, AuditWSGIMiddleware, request_id_header
from pgaudit_kit.core.errors import UsageError
from tests.support.orders import create_orders, recorded

Conn = psycopg.Connection[Any]


@pytest.fixture
def orders(kit_conn: Conn) -> Conn:
    create_orders(kit_conn)
    return kit_conn



def test_psycopg_transaction_records_the_actor_and_ends_with_it(orders: Conn, kit_db: str) -> None:
    with psycopg.connect(kit_db) as conn:
        with audited_transaction(conn, actor="alice@example.com", request_id="r-1"):
            conn.execute("INSERT INTO orders VALUES (1, 'new')")
            settings = conn.execute("SELECT current_setting('pgaudit_kit.actor', true)").fetchone()
        assert settings == ("alice@example.com",)
        # the next transaction on the same connection (a pooled one, behind PgBouncer) carries nothing
        with conn.transaction():
            conn.execute("UPDATE orders SET status = 'paid' WHERE id = 1")
            assert conn.execute("SELECT current_setting('pgaudit_kit.actor', true)").fetchone() in ((None,), ("",))
        with app_context.acting(actor="bob", tenant="t-9"), audited_transaction(conn, request_id="r-2"):
            conn.execute("UPDATE orders SET status = 'shipped' WHERE id = 1")
    assert recorded(orders, 1) == [("I", "alice@example.com", {"request_id": "r-1"}), ("U", None, None),
                                    ("U", "bob", {"tenant": "t-9", "request_id": "r-2"})]


def test_a_context_that_is_not_json_is_refused_before_anything_is_written(orders: Conn, kit_db: str) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with psycopg.connect(kit_db) as conn:
        with pytest.raises(UsageError, match="not JSON"), audited_transaction(conn, actor="x", loop=loop):
            conn.execute("INSERT INTO orders VALUES (2, 'new')")
    assert recorded(orders, 2) == []


def test_async_psycopg_transaction(orders: Conn, kit_db: str) -> None:
    async def write(order_id: int, actor: str) -> None:
        async with await psycopg.AsyncConnection.connect(kit_db) as conn:
            with app_context.acting(actor=actor):
                await asyncio.sleep(0.01)  # the other task runs here, with its own binding
                async with audited_async_transaction(conn, order=order_id):
                    await conn.execute("INSERT INTO orders VALUES (%s, 'new')", (order_id,))

    async def both() -> None:
        await asyncio.gather(write(3, "carol"), write(4, "dave"))

    asyncio.run(both())
    assert recorded(orders, 3) == [("I", "carol", {"order": 3})]
    assert recorded(orders, 4) == [("I", "dave", {"order": 4})]


def test_sqlalchemy_sessions_record_the_actor_of_their_thread(orders: Conn, kit_db: str) -> None:
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(kit_db), pool_size=1)
    Session = sessionmaker(engine)  # noqa: N806 -- a class factory, named as SQLAlchemy's documentation does
    record_actor(Session)
    record_actor(Session)  # idempotent: installed once
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(order_id: int, actor: str) -> None:
        try:
            with app_context.acting(actor=actor, request_id=f"r-{order_id}"):
                barrier.wait(5)
                with Session.begin() as session:
                    session.execute(sqlalchemy.text("INSERT INTO orders VALUES (:id, 'new')"), {"id": order_id})
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n, f"user-{n}")) for n in (5, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with Session.begin() as session:  # nothing bound: recorded without an actor, on the same pooled connection
        session.execute(sqlalchemy.text("UPDATE orders SET status = 'paid' WHERE id = 5"))
    engine.dispose()
    assert failures == []
    assert recorded(orders, 5) == [("I", "user-5", {"request_id": "r-5"}), ("U", None, None)]
    assert recorded(orders, 6) == [("I", "user-6", {"request_id": "r-6"})]


def test_wsgi_middleware_binds_each_request(orders: Conn, kit_db: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with psycopg.connect(kit_db) as conn, audited_transaction(conn):
            conn.execute("INSERT INTO orders VALUES (%s, 'new')", (int(environ["PATH_INFO"].strip("/")),))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = AuditWSGIMiddleware(app, actor=lambda environ: environ.get("REMOTE_USER"),
                                  context=request_id_header())
    for order_id, user in ((7, "erin"), (8, None)):
        environ: dict[str, Any] = {"PATH_INFO": f"/{order_id}", "HTTP_X_REQUEST_ID": f"req-{order_id}",
                                   "wsgi.input": io.BytesIO()}
        if user:
            environ["REMOTE_USER"] = user
        setup_testing_defaults(environ)
        assert b"".join(wrapped(environ, lambda status, headers: None)) == b"ok"
    assert app_context.current() == app_context.Acting()  # nothing outlives the request
    assert recorded(orders, 7) == [("I", "erin", {"request_id": "req-7"})]
    assert recorded(orders, 8) == [("I", None, {"request_id": "req-8"})]


def test_asgi_middleware_binds_each_request_and_passes_other_scopes(orders: Conn, kit_db: str) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            seen.append(f"lifespan:{app_context.current().actor}")
            return
        await asyncio.sleep(0.01)
        async with await psycopg.AsyncConnection.connect(kit_db) as conn, audited_async_transaction(conn):
            await conn.execute("INSERT INTO orders VALUES (%s, 'new')", (int(scope["path"].strip("/")),))
        await send({"type": "http.response.start", "status": 200, "headers": []})

    wrapped = AuditASGIMiddleware(app, actor=lambda scope: scope.get("user"), context=request_id_header())

    async def request(order_id: int, user: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            return None

        await wrapped({"type": "http", "path": f"/{order_id}", "user": user,
                       "headers": [(b"X-Request-Id", f"q-{order_id}".encode())]}, receive, send)

    async def run() -> None:
        await wrapped({"type": "lifespan", "user": "nobody"}, None, None)  # type: ignore[arg-type]
        await asyncio.gather(request(9, "frank"), request(10, "grace"))

    asyncio.run(run())
    assert seen == ["lifespan:None"]
    assert recorded(orders, 9) == [("I", "frank", {"request_id": "q-9"})]
    assert recorded(orders, 10) == [("I", "grace", {"request_id": "q-10"})]
