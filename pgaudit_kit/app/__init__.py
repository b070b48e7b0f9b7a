"""The application side: naming who acts, per transaction, the way each ecosystem expects.

The kit records, with every audited transaction, the claimed application actor and a JSON context from the
transaction-local settings ``pgaudit_kit.actor`` and ``pgaudit_kit.context``. These helpers set them:

* :mod:`.context`: the acting user and context of the current request or task (a context variable: each
  thread and each asyncio task has its own), bound with :func:`acting`;
* :mod:`.psycopg`: :func:`audited_transaction` (and its async twin), a transaction that carries them;
* :mod:`.sqlalchemy`: :func:`record_actor`, a hook that sets them at the start of every session transaction;
* :mod:`.web`: WSGI and ASGI middleware (Flask, FastAPI, Starlette, ...) that binds them per request;
* :mod:`.django`: Django's middleware and an ORM hook that sets them in every transaction Django runs (the
  ``django`` extra).

Settings are always set with ``set_config(..., true)``, local to the transaction: nothing leaks to the next
transaction on a pooled connection, which is what PgBouncer's transaction mode requires. Apart from
:mod:`.django`, no web framework is imported: the middleware speaks WSGI and ASGI.
"""
