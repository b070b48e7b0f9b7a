"""Review commands, the parts that need no database: parsing of times, filters and cursors, field diffs,
watch positions, and the output helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pgaudit_kit.core.errors import UsageError
from pgaudit_kit.core.images import ABSENT, FieldChange, diff
from pgaudit_kit.review.events import RawJson
from pgaudit_kit.review.query import (
    ALL_OPS,
    DEFAULT_OPS,
    ContextMatch,
    Cursor,
    EventFilter,
    parse_context,
    parse_cursor,
    parse_ops,
    parse_pk,
    parse_txid,
)
from pgaudit_kit.review.render import cut, dumps, printable
from pgaudit_kit.review.timeparse import format_time, parse_time
from pgaudit_kit.review.watch import Snapshot


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
    ("2026-11-27T10:00:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),  # no offset: UTC
    ("2026-11-27 11:30+01:30", datetime(2026, 11, 27, 10, tzinfo=UTC)),
    ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
    ("2026-11-27T10:00:00.123456Z", datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)),
])
def test_iso_times_are_utc_instants(text: str, expected: datetime) -> None:
    bound = parse_time(text, "--since")
    assert bound.instant == expected and bound.ago is None


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800),
                                               ("2w", 1209600), ("0m", 0)])
def test_relative_times(text: str, seconds: int) -> None:
    bound = parse_time(text, "--since")
    assert bound.ago == timedelta(seconds=seconds) and bound.instant is None


@pytest.mark.parametrize("text", ["yesterday", "5 minutes", "-1h", "1.5h", "2026-13-01", "2026-02-30T00:00:00",
                                  "1e9d", "999999999w", "", "10:00", "2026-11-27T25:00:00Z", "'; DROP TABLE x; --",
                                  "\x00", "x" * 1_000_000, "0001-01-01T00:00:00+05:00"])
def test_invalid_times_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_time(text, "--until")
    assert "--until" in str(caught.value)
    assert len(str(caught.value)) < 400  # a 1 MB value is not echoed back whole


def test_format_time_round_trips_through_parse_time() -> None:
    instant = datetime(2026, 11, 27, 10, 1, 2, 345678, tzinfo=UTC)
    text = format_time(instant)
    assert text == "2026-11-27T10:01:02.345678Z"
    assert parse_time(text, "--as-of").instant == instant


def test_ops() -> None:
    assert parse_ops([]) == DEFAULT_OPS and "R" not in DEFAULT_OPS
    assert parse_ops(["U"]) == {"U"}
    assert parse_ops(["insert,delete", "t"]) == {"I", "D", "T"}
    assert parse_ops(["review"]) == {"R"}
    assert parse_ops(["all"]) == ALL_OPS
    assert parse_ops(["DDL", "control"]) == {"S", "K"}
    for bad in ("X", "upsert", "I;D"):
        with pytest.raises(UsageError):
            parse_ops([bad])


def test_context_match() -> None:
    match = parse_context("request_id=r=42")
    assert match == ContextMatch("request_id", "r=42")
    assert [json.loads(c) for c in match.candidates] == [{"request_id": "r=42"}]
    number = parse_context("attempt=2")
    assert [json.loads(c) for c in number.candidates] == [{"attempt": "2"}, {"attempt": 2}]
    assert [json.loads(c) for c in parse_context("flag=true").candidates] == [{"flag": "true"}, {"flag": True}]
    assert [json.loads(c) for c in parse_context("k'\"=ü").candidates] == [{"k'\"": "ü"}]
    assert parse_context("empty=").candidates == ['{"empty": ""}']
    for bad in ("no-equals", "=value", "a\x00=b"):
        with pytest.raises(UsageError):
            parse_context(bad)


def test_pk_values() -> None:
    assert parse_pk("7").scalar == "7"
    assert parse_pk("it's; \\ ü").scalar == "it's; \\ ü"
    composite = parse_pk('{"order_id": 7, "line": 2.50, "code": "x"}')
    assert composite.scalar is None and dict(composite.columns) == {"order_id": "7", "line": "2.50", "code": "x"}
    assert json.loads(composite.documents([("order_id", "line", "code")], "t")[0]) == dict(composite.columns)
    assert parse_pk("{not json").scalar == "{not json"  # a text key that merely starts with a brace
    assert parse_pk("7").documents([("id",)], "t") == ['{"id": "7"}']
    with pytest.raises(UsageError, match="several columns"):
        parse_pk("7").documents([("a", "b")], "t")
    assert composite.documents([("a",)], "t") == composite.documents([], "t")  # taken as given (renamed keys)
    with pytest.raises(UsageError):
        parse_pk('{"a": null}')
    with pytest.raises(UsageError):
        parse_pk('{"a": [1]}')


def test_txids_and_cursors() -> None:
    assert parse_txid("734211") == 734211
    for bad in ("abc", "-1", "1.0", "99999999999999999999", "", "٣"):
        with pytest.raises(UsageError):
            parse_txid(bad)
    assert parse_cursor("newest:42") == Cursor("newest", 42) and str(Cursor("oldest", 7)) == "oldest:7"
    for bad in ("42", "newest:", "sideways:1", "newest:-1", "newest:1;drop"):
        with pytest.raises(UsageError):
            parse_cursor(bad)


def test_filter_validation() -> None:
    with pytest.raises(UsageError, match="--pk needs --table"):
        EventFilter(pk=parse_pk("1"))
    with pytest.raises(UsageError, match="NUL"):
        EventFilter(actors=("a\x00b",))
    with pytest.raises(UsageError, match="UTF-8"):
        EventFilter(tables=("bad\udcff",))
    flt = EventFilter(tables=("public.t",), actors=("alice",), since=parse_time("1h", "--since"),
                      context=(parse_context("request_id=r-1"),), changed=("status",))
    assert flt.as_review() == {"table": ["public.t"], "actor": ["alice"], "since": "1h",
                               "changed": ["status"], "context": ["request_id=r-1"]}


def test_diff() -> None:
    assert diff(None, {"id": "1", "a": None}) == [FieldChange("id", ABSENT, "1"), FieldChange("a", ABSENT, None)]
    assert diff({"id": "1", "a": "x"}, {"id": "1", "a": "y"}) == [FieldChange("a", "x", "y")]
    assert diff({"id": "1", "gone": "x"}, {"id": "1", "new": None}) == [FieldChange("gone", "x", ABSENT),
                                                                          FieldChange("new", ABSENT, None)]
    assert diff({"a": None}, {"a": "null"}) == [FieldChange("a", None, "null")]  # NULL is not the text 'null'
    assert diff({"a": "1"}, None) == [FieldChange("a", "1", ABSENT)]
    assert FieldChange("a", ABSENT, None).as_dict() == {"column": "a", "new": None}
    assert FieldChange("a", "x", ABSENT).as_dict() == {"column": "a", "old": "x"}


def test_snapshot_text() -> None:
    snap = Snapshot.parse("100:105:101,103")
    assert snap == Snapshot(100, 105, (101, 103)) and str(snap) == "100:105:101,103"
    assert Snapshot.parse("7:7:") == Snapshot(7, 7, ())
    with pytest.raises(UsageError):
        Snapshot.parse("garbage")


def test_output_helpers() -> None:
    assert dumps({"a": RawJson('{"n": 1.10}'), "b": [1, "ü"]}) == '{"a": {"n": 1.10}, "b": [1, "ü"]}'
    assert printable("ok\x1b[31m\nnext\u2028") == "ok\\x1b[31m\\nnext\\u2028"
    assert cut("x" * 50, 10) == "x" * 9 + "…"
