"""SQLAlchemy: every session transaction records who acts (the actor and context bound with context.acting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from .context import SET_SQL, current


def _set(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    # after_begin runs once per connection a session transaction starts using, before its first statement
    connection.exec_driver_sql(SET_SQL.replace("%s", "%(actor)s", 1).replace("%s", "%(context)s", 1),
                               dict(zip(("actor", "context"), current().settings(), strict=True)))


def record_actor(target: sessionmaker[Any] | type[Session] | Session = Session) -> None:
    """Set pgaudit_kit.actor and pgaudit_kit.context, local to the transaction, whenever a session transaction
    begins on a connection: for one sessionmaker, one session, or (the default) every Session. With PgBouncer in
    transaction mode nothing leaks between clients: the settings end with the transaction.

        record_actor(SessionLocal)
        with acting(actor=current_user.email, request_id=request_id), SessionLocal.begin() as session:
            session.add(order)
    """
    if not event.contains(target, "after_begin", _set):
        event.listen(target, "after_begin", _set)
