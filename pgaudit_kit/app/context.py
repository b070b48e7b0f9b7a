"""Who acts in the current request or task: a context variable, so each thread and asyncio task has its own."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UsageError


@dataclass(frozen=True)
class Acting:
    """The claimed actor (e.g. the signed-in user) and context (request id, tenant, ...) of a unit of work."""

    actor: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> tuple[str, str]:
        """The values of pgaudit_kit.actor and pgaudit_kit.context (empty: not set, recorded as NULL)."""
        try:
            context = json.dumps(dict(self.context), ensure_ascii=False, separators=(",", ":"), default=str) \
                if self.context else ""
        except (TypeError, ValueError) as exc:  # a circular structure: say so, never record half of it
            raise UsageError(f"the audit context is not JSON: {exc}") from exc
        return self.actor or "", context


_current: ContextVar[Acting | None] = ContextVar("pgaudit_kit_acting", default=None)


def current() -> Acting:
    """Who acts now (no actor and an empty context when nothing was bound)."""
    return _current.get() or Acting()


def joined(actor: str | None, context: Mapping[str, Any]) -> Acting:
    """What is bound now, with *actor* (when given) instead of its actor and *context* added to its context."""
    outer = current()
    return Acting(actor if actor is not None else outer.actor, {**outer.context, **context})


@contextmanager
def bound(who: Acting) -> Iterator[Acting]:
    """*who* is the one acting for the block."""
    token = _current.set(who)
    try:
        yield who
    finally:
        _current.reset(token)


def acting(actor: str | None = None, **context: Any) -> AbstractContextManager[Acting]:
    """Bind *actor* and *context* for the block (nested bindings add to the outer context and may replace its
    actor); every audited transaction begun inside by these helpers records them.

        with acting(actor="alice@example.com", request_id="r-42"):
            ...
    """
    return bound(joined(actor, context))


SET_SQL = ("SELECT pg_catalog.set_config('pgaudit_kit.actor', %s, true), "
           "pg_catalog.set_config('pgaudit_kit.context', %s, true)")
