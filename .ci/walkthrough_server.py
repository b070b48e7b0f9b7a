"""The throwaway server .ci/walkthrough runs the README's walkthrough against.

Starts a PostgreSQL with pgaudit_kit.pg.tempserver (as ``nobody`` when run as root), creates the
"existing" application database the walkthrough assumes, and prints two lines on stdout: a superuser
DSN of that database and the server's bin directory (where psql is). Then it waits until its stdin is
closed, or for SIGTERM or SIGINT, and removes the server with everything in it.

The database: ``shop``, owned by ``shop_owner`` (the role the application's schema migrations run as,
owner of its tables), with ``public.customers`` and ``public.orders`` holding a few rows and written by
``shop_app`` (the application). Neither role can log in with a password: the walkthrough acts as them
with SET ROLE from its superuser connection.
"""

from __future__ import annotations

import signal
import sys

import psycopg

from pgaudit_kit.pg.tempserver import TempServer

ROLES = """
CREATE ROLE shop_owner LOGIN;
CREATE ROLE shop_app LOGIN;
CREATE DATABASE shop OWNER shop_owner;
"""

APPLICATION_SCHEMA = """
SET ROLE shop_owner;
CREATE TABLE public.customers (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL,
    phone         text,
    password_hash text
);
CREATE TABLE public.orders (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES public.customers,
    status      text NOT NULL DEFAULT 'new',
    total       numeric(12,2) NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.customers, public.orders TO shop_app;
INSERT INTO public.customers (name, email, phone, password_hash) VALUES
    ('Ada', 'ada@example.com', '+44 20 7946 0001', 'scrypt:1'),
    ('Grace', 'grace@example.com', NULL, 'scrypt:2');
INSERT INTO public.orders (customer_id, total) VALUES (1, 25.50), (2, 12.00), (1, 7.25);
RESET ROLE;
"""


def main() -> None:
    # Turn SIGTERM into KeyboardInterrupt so that the with-block below removes the server.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with TempServer() as server:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            for statement in ROLES.strip().split(";\n"):
                conn.execute(statement.rstrip(";"))
        with psycopg.connect(server.dsn("shop"), autocommit=True) as conn:
            conn.execute(APPLICATION_SCHEMA)
        print(server.dsn("shop"), flush=True)
        print(server.bindir, flush=True)
        try:
            sys.stdin.read()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
