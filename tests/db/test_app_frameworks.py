"""The application helpers used from each framework's own test client against a real kit database: Flask's test
client with AuditWSGIMiddleware, FastAPI's and Starlette's TestClient with AuditASGIMiddleware, Django's test
Client with pgaudit_kit.app.django (its middleware and ORM hook). Each request's writes record its user and
context; the next transaction on the same connection records nothing (as PgBouncer's transaction mode needs).

Django's settings and app registry are process-wide and cannot be unconfigured: this module is the only one of the
suite that configures Django (once per process, in a module fixture, logging left alone); each test points its
connection at the test's own database, and the module removes the hook and closes its connections when it ends.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import django
import flask
import psycopg
import pytest
import sqlalchemy
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connection as django_connection
from django.db import connections, models, transaction
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.test import AsyncClient
from django.test import Client as DjangoClient
from django.test.utils import override_settings
from django.urls import path
from fastapi import FastAPI
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.orm import sessionmaker
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from pgaudit_kit.app import context as app_context
from pgaudit_kit.app import django as django_app
from pgaudit_kit.app.psycopg import audited_async_transaction, audited_transaction
from pgaudit_kit.app.sqlalchemy import record_actor
from pgaudit_kit.app.web import AuditASGIMiddleware, AuditWSGIMiddleware, request_id_header
from tests.support.helpers import enable
from tests.support.orders import create_orders, recorded, recorded_with_xid

Conn = psycopg.Connection[Any]
NOT_SET = ((None,), ("",))  # current_setting of a placeholder never set in the session: NULL, or '' once seen


@pytest.fixture
def orders(kit_conn: Conn) -> Conn:
    create_orders(kit_conn)
    return kit_conn




def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


# -- Flask: the WSGI middleware around app.wsgi_app, writes through a SQLAlchemy session with record_actor ------

def test_flask_test_client_records_each_requests_user(orders: Conn, kit_db: str) -> None:
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(kit_db),
                                      pool_size=1, max_overflow=0)  # one connection: every request reuses it
    Session = sessionmaker(engine)  # noqa: N806 -- a class factory, named as SQLAlchemy's documentation does
    record_actor(Session)
    app = flask.Flask(__name__)

    @app.post("/orders/<int:order_id>")
    def create(order_id: int) -> dict[str, Any]:
        with Session.begin() as session:
            session.execute(sqlalchemy.text("INSERT INTO orders VALUES (:id, 'new')"), {"id": order_id})
            pid = session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()
        return {"pid": pid}

    app.wsgi_app = AuditWSGIMiddleware(  # type: ignore[method-assign]  # Flask's documented way to wrap it
        app.wsgi_app, actor=lambda environ: environ.get("REMOTE_USER"), context=request_id_header())
    client = app.test_client()

    def pid(*args: Any, **kwargs: Any) -> int:
        body = client.post(*args, **kwargs).get_json()
        assert body is not None
        return int(body["pid"])

    pids = {pid("/orders/1", headers={"X-Request-Id": "f-1"}, environ_base={"REMOTE_USER": "erin"}),
            pid("/orders/2", headers={"X-Request-Id": "f-2"}, environ_base={"REMOTE_USER": "frank"}),
            pid("/orders/3")}
    with Session.begin() as session:  # outside any request, on the same pooled connection
        session.execute(sqlalchemy.text("UPDATE orders SET status = 'paid' WHERE id = 1"))
        pids.add(session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one())
    engine.dispose()
    assert len(pids) == 1
    assert recorded(orders, 1) == [("I", "erin", {"request_id": "f-1"}), ("U", None, None)]
    assert recorded(orders, 2) == [("I", "frank", {"request_id": "f-2"})]
    assert recorded(orders, 3) == [("I", None, None)]


# -- FastAPI: the ASGI middleware, a sync endpoint (run in a worker thread) writing through psycopg ---------------

def test_fastapi_test_client_records_each_requests_user(orders: Conn, kit_db: str) -> None:
    with psycopg.connect(kit_db) as conn:  # the application's one connection, shared by its requests
        app = FastAPI()

        @app.post("/orders/{order_id}")
        def create(order_id: int) -> dict[str, Any]:
            with audited_transaction(conn):
                conn.execute("INSERT INTO orders VALUES (%s, 'new')", (order_id,))
            return {"pid": conn.info.backend_pid}

        app.add_middleware(AuditASGIMiddleware, actor=lambda scope: _header(scope, b"x-user"),
                           context=request_id_header())
        with TestClient(app) as client:
            pids = {client.post("/orders/4", headers={"X-User": "grace", "X-Request-Id": "q-4"}).json()["pid"],
                    client.post("/orders/5", headers={"X-User": "heidi"}).json()["pid"]}
        with conn.transaction():  # after the requests, on the same connection: nothing carried over
            conn.execute("UPDATE orders SET status = 'paid' WHERE id = 4")
            assert conn.execute("SELECT current_setting('pgaudit_kit.actor', true)").fetchone() in NOT_SET
        assert pids == {conn.info.backend_pid}
    assert recorded(orders, 4) == [("I", "grace", {"request_id": "q-4"}), ("U", None, None)]
    assert recorded(orders, 5) == [("I", "heidi", None)]


# -- Starlette: its AuthenticationMiddleware finds the user, the ASGI middleware binds it, async psycopg -------

class _HeaderAuthentication(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user = conn.headers.get("x-user")
        return (AuthCredentials(["authenticated"]), SimpleUser(user)) if user else None


def _starlette_user(scope: Any) -> str | None:
    user = scope["user"]
    return str(user.display_name) if user.is_authenticated else None


def test_starlette_test_client_records_each_requests_user(orders: Conn, kit_db: str) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with await psycopg.AsyncConnection.connect(kit_db) as conn:
            app.state.conn = conn
            yield

    async def create(request: Request) -> JSONResponse:
        conn = request.app.state.conn
        async with audited_async_transaction(conn, route="create"):
            await conn.execute("INSERT INTO orders VALUES (%s, 'new')", (int(request.path_params["order_id"]),))
        return JSONResponse({"pid": conn.info.backend_pid})

    async def pay(request: Request) -> JSONResponse:  # a plain transaction: no helper sets anything
        conn = request.app.state.conn
        async with conn.transaction():
            await conn.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (int(request.path_params["order_id"]),))
            setting = await (await conn.execute("SELECT current_setting('pgaudit_kit.actor', true)")).fetchone()
        return JSONResponse({"pid": conn.info.backend_pid, "actor": setting[0] if setting else None})

    app = Starlette(routes=[Route("/orders/{order_id}", create, methods=["POST"]),
                            Route("/orders/{order_id}/pay", pay, methods=["POST"])],
                    middleware=[Middleware(AuthenticationMiddleware, backend=_HeaderAuthentication()),
                                Middleware(AuditASGIMiddleware, actor=_starlette_user, context=request_id_header())],
                    lifespan=lifespan)
    with TestClient(app) as client:
        responses = [client.post("/orders/6", headers={"X-User": "ivan", "X-Request-Id": "s-6"}).json(),
                     client.post("/orders/7", headers={"X-User": "judy"}).json(),
                     client.post("/orders/8").json(),
                     client.post("/orders/6/pay", headers={"X-User": "ivan"}).json()]
    assert len({r["pid"] for r in responses}) == 1
    assert responses[-1]["actor"] in (None, "")
    assert recorded(orders, 6) == [("I", "ivan", {"request_id": "s-6", "route": "create"}), ("U", None, None)]
    assert recorded(orders, 7) == [("I", "judy", {"route": "create"})]
    assert recorded(orders, 8) == [("I", None, {"route": "create"})]


# -- Django: the middleware binds request.user, the ORM hook sets it in each transaction ---------------------------

@dataclass
class DjangoSite:
    order: Any  # the Order model (table "orders")
    user: Any  # django.contrib.auth's User model


def service_header(request: HttpRequest) -> str | None:
    """An actor function named by PGAUDIT_KIT_ACTOR in a test."""
    value = request.headers.get("X-Service")
    return f"service:{value}" if value else None


def _backend_pid() -> int:
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _django_urls(order: Any) -> types.ModuleType:
    def autocommit_writes(request: HttpRequest, order_id: int) -> JsonResponse:
        order.objects.create(id=order_id, status="new")  # autocommit: each statement its own transaction
        order.objects.filter(id=order_id).update(status="paid")
        return JsonResponse({"pid": _backend_pid()})

    def atomic_writes(request: HttpRequest, order_id: int) -> JsonResponse:
        with transaction.atomic():
            order.objects.create(id=order_id, status="new")
            order.objects.filter(id=order_id).update(status="paid")
        return JsonResponse({"pid": _backend_pid()})

    def streamed_write(request: HttpRequest, order_id: int) -> StreamingHttpResponse:
        def body() -> Iterator[bytes]:
            yield b"exporting "
            order.objects.create(id=order_id, status="exported")  # after the view returned
            yield b"done"
        return StreamingHttpResponse(body())

    async def async_writes(request: HttpRequest, order_id: int) -> JsonResponse:
        await order.objects.acreate(id=order_id, status="new")
        return JsonResponse({"ok": True})

    urls = types.ModuleType("pgaudit_kit_test_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("orders/<int:order_id>/autocommit", autocommit_writes),
        path("orders/<int:order_id>/atomic", atomic_writes),
        path("orders/<int:order_id>/streamed", streamed_write),
        path("orders/<int:order_id>/async", async_writes),
    ]
    return urls


@pytest.fixture(scope="module")
def django_site() -> Iterator[DjangoSite]:
    """Django configured in this process: auth with signed-cookie sessions, the kit's app and middleware, an
    Order model and views that write it. The database is named per test (django_db)."""
    if not django_settings.configured:
        django_settings.configure(
            DEBUG=False, SECRET_KEY="pgaudit-kit tests", ALLOWED_HOSTS=["testserver"], USE_TZ=True,
            LOGGING_CONFIG=None,  # leave the process's logging as pytest set it
            DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "named-by-each-test"}},
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                            "pgaudit_kit.app.django.PgauditKitConfig"],
            MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                        "django.contrib.auth.middleware.AuthenticationMiddleware",
                        "pgaudit_kit.app.django.AuditMiddleware"],
            SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
            PGAUDIT_KIT_CONTEXT="pgaudit_kit.app.django.request_id",
        )
        django.setup()

    class Order(models.Model):  # type: ignore[misc]  # Django ships no type hints
        id = models.IntegerField(primary_key=True)
        status = models.TextField()

        class Meta:
            app_label = "pgaudit_kit_tests"
            db_table = "orders"

    from django.contrib.auth.models import User

    django_settings.ROOT_URLCONF = _django_urls(Order)
    try:
        yield DjangoSite(order=Order, user=User)
    finally:
        connections.close_all()
        django_app.forget_actor()


@pytest.fixture
def django_db(django_site: DjangoSite, kit_db: str, kit_conn: Conn) -> Iterator[DjangoSite]:
    """Django's connection pointed at this test's kit database (as Django's own test runner does: by editing the
    connection's settings), its tables created there and orders enrolled."""
    params: dict[str, Any] = conninfo_to_dict(kit_db)
    connections.close_all()
    database = connections["default"].settings_dict
    database["NAME"], database["OPTIONS"] = params.pop("dbname"), params
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    with django_connection.schema_editor() as editor:
        for model in (ContentType, Permission, Group, django_site.user, django_site.order):
            editor.create_model(model)
    enable(kit_conn, "orders")
    try:
        yield django_site
    finally:
        connections.close_all()


def _signed_in(site: DjangoSite, username: str) -> DjangoClient:
    client = DjangoClient()
    client.force_login(site.user.objects.create_user(username))
    return client


def test_django_client_records_each_users_orm_writes(django_db: DjangoSite, kit_conn: Conn) -> None:
    alice, bob = _signed_in(django_db, "alice"), _signed_in(django_db, "bob")
    pids = {alice.post("/orders/1/autocommit", headers={"X-Request-Id": "d-1"}).json()["pid"],
            bob.post("/orders/2/atomic", headers={"X-Request-Id": "d-2"}).json()["pid"],
            DjangoClient().post("/orders/3/autocommit").json()["pid"]}
    assert pids == {_backend_pid()}  # one connection served every request
    written_by_alice = recorded_with_xid(kit_conn, 1)
    assert [row[:3] for row in written_by_alice] == [("I", "alice", {"request_id": "d-1"}),
                                                     ("U", "alice", {"request_id": "d-1"})]
    assert written_by_alice[0][3] != written_by_alice[1][3]  # autocommit: still a transaction per statement
    written_by_bob = recorded_with_xid(kit_conn, 2)
    assert [row[:3] for row in written_by_bob] == [("I", "bob", {"request_id": "d-2"}),
                                                   ("U", "bob", {"request_id": "d-2"})]
    assert written_by_bob[0][3] == written_by_bob[1][3]  # atomic: one transaction
    assert recorded(kit_conn, 3) == [("I", None, None), ("U", None, None)]  # anonymous: nothing bound


def test_django_nothing_leaks_to_the_connection_after_a_request(django_db: DjangoSite, kit_conn: Conn) -> None:
    order = django_db.order
    pid = _signed_in(django_db, "carol").post("/orders/4/atomic", headers={"X-Request-Id": "d-4"}).json()["pid"]
    assert app_context.current() == app_context.Acting()
    assert _backend_pid() == pid
    order.objects.filter(id=4).update(status="shipped")  # the ORM, autocommit, outside any request
    with transaction.atomic():
        order.objects.filter(id=4).update(status="delivered")
        with django_connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('pgaudit_kit.actor', true)")
            assert cursor.fetchone() in NOT_SET
    with django_connection.cursor() as cursor:  # raw SQL through Django's connection
        cursor.execute("UPDATE orders SET status = 'returned' WHERE id = 4")
    assert recorded(kit_conn, 4) == [("I", "carol", {"request_id": "d-4"}), ("U", "carol", {"request_id": "d-4"}),
                                      ("U", None, None), ("U", None, None), ("U", None, None)]


def test_django_hook_sets_each_transaction_outside_requests(django_db: DjangoSite, kit_conn: Conn) -> None:
    order = django_db.order
    with app_context.acting(actor="nightly", job="j-1"):
        order.objects.create(id=5, status="new")  # autocommit
        with transaction.atomic():  # the transaction's first statement is a savepoint, rolled back
            try:
                with transaction.atomic():
                    order.objects.create(id=6, status="new")
                    raise LookupError
            except LookupError:
                pass
            order.objects.create(id=7, status="new")
            with app_context.acting(actor="someone-else"):  # a transaction keeps what was bound when it began
                order.objects.filter(id=7).update(status="paid")
                with django_connection.cursor() as cursor:
                    cursor.execute("SELECT current_setting('pgaudit_kit.actor', true)")
                    assert cursor.fetchone() == ("nightly",)
        transaction.set_autocommit(False)  # AUTOCOMMIT = False: transactions end with commit() or rollback()
        try:
            order.objects.filter(id=5).update(status="paid")
            transaction.rollback()
            with app_context.acting(actor="nightly-2"):
                order.objects.filter(id=5).update(status="shipped")
            transaction.commit()
            order.objects.filter(id=5).update(status="delivered")
            transaction.commit()
        finally:
            transaction.set_autocommit(True)
    order.objects.filter(id=5).update(status="returned")  # nothing bound
    assert recorded(kit_conn, 5) == [("I", "nightly", {"job": "j-1"}), ("U", "nightly-2", {"job": "j-1"}),
                                      ("U", "nightly", {"job": "j-1"}), ("U", None, None)]
    assert recorded(kit_conn, 6) == []
    assert recorded(kit_conn, 7) == [("I", "nightly", {"job": "j-1"}), ("U", "nightly", {"job": "j-1"})]


def test_django_hook_outlives_an_execute_wrapper_block_that_connected(django_db: DjangoSite, kit_conn: Conn) -> None:
    seen: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    def in_a_new_thread() -> None:  # its own Django connection, not yet opened
        try:
            with django_connection.execute_wrapper(spy):  # connects inside the block: the hook is installed then
                django_db.order.objects.count()
            with app_context.acting(actor="after-the-block"):
                django_db.order.objects.create(id=12, status="new")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(in_a_new_thread).result(30)
    assert len(seen) == 1  # the block removed its own wrapper, not the kit's
    assert recorded(kit_conn, 12) == [("I", "after-the-block", None)]


def test_django_actor_and_context_from_settings_and_a_streamed_body(django_db: DjangoSite, kit_conn: Conn) -> None:
    with override_settings(PGAUDIT_KIT_ACTOR=f"{__name__}.service_header", PGAUDIT_KIT_CONTEXT=None):
        client = DjangoClient()  # its handler loads the middleware, which reads the settings, on first use
        client.post("/orders/8/autocommit", headers={"X-Service": "billing"})
        response = client.get("/orders/9/streamed", headers={"X-Service": "export"})
        assert app_context.current() == app_context.Acting()  # the view returned; the body is not produced yet
        assert b"".join(response.streaming_content) == b"exporting done"
    assert app_context.current() == app_context.Acting()
    assert recorded(kit_conn, 8) == [("I", "service:billing", None), ("U", "service:billing", None)]
    assert recorded(kit_conn, 9) == [("I", "service:export", None)]


def test_django_async_client(django_db: DjangoSite, kit_conn: Conn) -> None:
    client = AsyncClient()
    client.force_login(django_db.user.objects.create_user("dave"))

    async def requests() -> None:
        try:
            await asyncio.gather(client.post("/orders/10/async", headers={"X-Request-Id": "a-10"}),
                                 AsyncClient().post("/orders/11/async", headers={"X-Request-Id": "a-11"}))
        finally:  # the ORM ran in asgiref's thread: close its connection there
            await sync_to_async(connections.close_all)()

    asyncio.run(requests())
    assert recorded(kit_conn, 10) == [("I", "dave", {"request_id": "a-10"})]
    assert recorded(kit_conn, 11) == [("I", None, {"request_id": "a-11"})]
