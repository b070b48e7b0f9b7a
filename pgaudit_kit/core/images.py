"""Row images compared field by field: what a recorded write changed, and what changed a row between two
recorded writes of it that the log did not record. Pure: images are dicts of column name to the column's
recorded text (None: no row); used by row history and by reconcile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _Absent:
    """The column is not in the image (the row did not exist, or the column did not)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: Any = ABSENT
    new: Any = ABSENT

    def as_dict(self) -> dict[str, Any]:
        """{"column", "old", "new"}; a side the column was absent from is left out (JSON null is SQL NULL)."""
        found: dict[str, Any] = {"column": self.column}
        if self.old is not ABSENT:
            found["old"] = self.old
        if self.new is not ABSENT:
            found["new"] = self.new
        return found


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """Field-level differences between two images (None: no row). Columns in the before image's order,
    then columns only the after image has."""
    before, after = before or {}, after or {}
    changes = []
    for column in [*before, *(c for c in after if c not in before)]:
        old, new = before.get(column, ABSENT), after.get(column, ABSENT)
        if old is ABSENT or new is ABSENT or old != new:
            changes.append(FieldChange(column, old, new))
    return changes


def write_gap(previous_after: dict[str, Any] | None, before: dict[str, Any] | None) -> list[FieldChange]:
    """What happened to a row between two consecutive recorded writes of it that the log did not record:
    the earlier write's after image (None: it removed the row) against the later write's before image.
    Empty when the two agree. Not a write of the row the log recorded: a schema change of the table in
    between, or a write that capture did not see."""
    return diff(previous_after, before)
