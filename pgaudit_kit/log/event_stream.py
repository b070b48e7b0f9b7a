"""The recomputed events, as verification consumes them: in (xid, id) order, arriving in pages.

No database access here (leaf_reader.py reads the pages). A clean block is taken in one comparison of
its event ids and one of its leaves; anything else is handed out one event at a time."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.merkle import HASH_SIZE

Page = tuple[list[int], list[int], bytes]  # xids, event ids, their recomputed leaf hashes concatenated


class EventStream:
    """The recomputed events in (xid, id) order, arriving in pages (xids, ids, leaf hashes concatenated):
    one by one for the careful path, or a block's worth at once for the fast one."""

    def __init__(self, pages: Iterable[Page]) -> None:
        self._pages = iter(pages)
        self._xids: list[int] = []
        self._ids: list[int] = []
        self._leaves = b""
        self._next = 0

    def _have(self, count: int) -> int:
        """Buffer up to *count* events beyond the position; returns how many there are (fewer at the end)."""
        while len(self._ids) - self._next < count:
            page = next(self._pages, None)
            if page is None:
                break
            rest = self._next
            self._xids, self._ids = self._xids[rest:] + page[0], self._ids[rest:] + page[1]
            self._leaves = self._leaves[rest * HASH_SIZE:] + page[2]
            self._next = 0
        return len(self._ids) - self._next

    def _position(self, index: int) -> tuple[int, int]:
        return self._xids[index], self._ids[index]

    def peek(self) -> tuple[int, int, bytes] | None:
        """(xid, id, leaf hash) of the next event."""
        if not self._have(1):
            return None
        at = self._next
        return self._xids[at], self._ids[at], self._leaves[at * HASH_SIZE:(at + 1) * HASH_SIZE]

    def pop(self) -> tuple[int, int, bytes] | None:
        event = self.peek()
        if event is not None:
            self._next += 1
        return event

    def take_block(self, event_ids: list[int], leaves: bytes, end: tuple[int, int]) -> bool:
        """Consume the next events if they are exactly what a block sealed: its event ids in its order,
        nothing else up to its end (xid, id), and leaves equal to its leaves. Otherwise consume nothing.

        One comparison of ids and one of concatenated leaves, so that a clean block costs no Python per
        event; a block that differs in any way is left to the event-by-event check, which names what."""
        count = len(event_ids)
        if len(leaves) != count * HASH_SIZE or self._have(count + 1) < count:
            return False
        first, after = self._next, self._next + count
        if count and self._position(after - 1) > end:
            return False
        if len(self._ids) > after and self._position(after) <= end:
            return False
        if (self._ids[first:after] != event_ids
                or self._leaves[first * HASH_SIZE:after * HASH_SIZE] != leaves):
            return False
        self._next = after
        return True
