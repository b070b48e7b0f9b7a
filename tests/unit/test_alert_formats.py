"""Alert formats (pgaudit_kit.alerts.formats): each format carries the fields its own documentation requires,
the event id and the seal, the severity in the format's scale; CEF escapes so that a strict parser reads the
values back; hostile recorded data (line breaks, pipes, quotes, non-ASCII, megabytes) stays one line."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from pgaudit_kit import __version__
from pgaudit_kit.alerts import formats
from pgaudit_kit.alerts.alert import SEVERITIES, Alert, Origin
from pgaudit_kit.review.events import Event, RawJson, SealStatus

WHEN = datetime(2026, 12, 7, 3, 14, 15, 926535, tzinfo=UTC)
ORIGIN = Origin(install_id="0f4c2a9e-7d1b-4e53-9a51-2b8f3c6d1e70", database="billing", host="db1.example.com",
                port=5432)


def recorded(**changes: Any) -> Event:
    """An UPDATE as the review layer reads it: bound actor, context, client address, sealed at seq 1200."""
    event = Event(id=4711, xid=90210, time=WHEN, op="U", relid=16384, schema="public", table="accounts",
                  partition=None, pk={"id": 42}, row_data={"id": "42", "balance": "100.00", "owner": "alice"},
                  old_values={"balance": "250.00"}, statement="UPDATE accounts SET balance = 100 WHERE id = 42",
                  has_transaction=True, actor="alice@example.com", acting_role="app_writer", session_role="app",
                  context=RawJson('{"request_id": "r-17", "route": "/transfer"}'), context_raw=None,
                  application_name="billing-api", client_addr="192.0.2.10", client_port=53122, backend_pid=31337,
                  xact_start=WHEN - timedelta(milliseconds=40), seal=SealStatus("sealed", 1200, 7))
    return replace(event, **changes)


def alert(event: Event | None = None, **changes: Any) -> Alert:
    event = event if event is not None else recorded()
    fields: dict[str, Any] = {
        "rule": "balance change at night", "severity": "high", "kind": "hours",
        "summary": "UPDATE on public.accounts at 03:14 by alice@example.com", "key": f"event:{event.id}:night",
        "time": event.time, "origin": ORIGIN, "event": event.as_dict(), "facts": {"allowed": ["08:00-18:00"]}}
    return Alert(**{**fields, **changes})


def health_alert() -> Alert:
    return Alert(rule="sealing backlog", severity="critical", kind="health", summary="52000 events wait to be sealed",
                 key="health:sealing backlog:2026-12-07T03:00:00Z", time=WHEN, origin=Origin("id-1", "billing"),
                 facts={"backlog_events": 52000, "threshold": 50000})


def ddl_alert() -> Alert:
    event = recorded(op="S", table=None, pk=None, old_values=None, seal=SealStatus("pending"),
                     row_data={"command_tag": "ALTER TABLE", "object_identity": "public.accounts"},
                     statement="ALTER TABLE accounts ADD COLUMN note text", actor=None, client_addr=None,
                     client_port=None, context=None)
    return alert(event, rule="schema change", kind="ddl", key="event:4711:schema change", severity="medium")


def parsed(alert_: Alert, fmt: str) -> dict[str, Any]:
    text = formats.render(alert_, fmt)
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


ALERTS = {"write": alert, "ddl": ddl_alert, "health": health_alert}


# -- what every format guarantees ----------------------------------------------------------------------------

def test_the_formats_and_their_media_types() -> None:
    assert formats.FORMATS == ("json", "ocsf", "ecs", "cef")
    assert [formats.media_type(f) for f in formats.FORMATS] == ["application/json"] * 3 + ["text/plain"]
    with pytest.raises(ValueError, match="choose from json, ocsf, ecs, cef"):
        formats.media_type("xml")
    with pytest.raises(ValueError, match="unknown alert format"):
        formats.render(alert(), "xml")


@pytest.mark.parametrize("fmt", formats.FORMATS)
@pytest.mark.parametrize("which", ALERTS)
def test_every_format_renders_one_deterministic_line(fmt: str, which: str) -> None:
    first, second = formats.render(ALERTS[which](), fmt), formats.render(ALERTS[which](), fmt)
    assert first == second
    assert len(first.splitlines()) == 1 and not first.endswith("\n")
    first.encode("utf-8")


def test_an_unknown_severity_or_a_fact_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        formats.render(alert(severity="urgent"), "cef")
    with pytest.raises(ValueError):
        formats.render(alert(facts={"ratio": float("nan")}), "json")


def test_facts_of_other_types_are_shown_as_text() -> None:
    facts = {"since": WHEN, "rate": Decimal("0.125"), "tables": ("a", "b")}
    assert parsed(alert(facts=facts), "json")["facts"] == {"since": "2026-12-07T03:14:15.926535Z", "rate": "0.125",
                                                           "tables": ["a", "b"]}


# -- json: the kit's record ----------------------------------------------------------------------------------

def test_the_record_has_every_field_in_a_fixed_order() -> None:
    record = parsed(alert(), "json")
    assert list(record) == ["format", "key", "rule", "severity", "kind", "summary", "time", "event_id", "seal",
                            "origin", "facts", "event"]
    assert record["format"] == "pgaudit-kit-alert/1"
    assert record["time"] == "2026-12-07T03:14:15.926535Z"
    assert (record["event_id"], record["seal"]) == (4711, {"status": "sealed", "seq": 1200, "block": 7})
    assert record["origin"] == {"install_id": ORIGIN.install_id, "database": "billing", "host": "db1.example.com",
                                "port": 5432}
    # the event as `log --format json` shows it: context (jsonb text from the database) nested as JSON
    assert record["event"]["context"] == {"request_id": "r-17", "route": "/transfer"}
    assert list(record["event"]) == list(recorded().as_dict())
    assert record["event"]["old"] == {"id": "42", "balance": "250.00", "owner": "alice"}


def test_the_record_time_is_utc_whatever_the_offset_given() -> None:
    tokyo = WHEN.astimezone(timezone(timedelta(hours=9)))
    assert parsed(alert(time=tokyo), "json")["time"] == "2026-12-07T03:14:15.926535Z"
    assert parsed(alert(time=WHEN.replace(tzinfo=None)), "json")["time"] == "2026-12-07T03:14:15.926535Z"


def test_a_health_record_has_no_event() -> None:
    record = parsed(health_alert(), "json")
    assert (record["event_id"], record["seal"], record["event"]) == (None, None, None)
    assert record["facts"] == {"backlog_events": 52000, "threshold": 50000}


# -- OCSF ----------------------------------------------------------------------------------------------------

# OCSF 1.3.0 (schema.ocsf.io/1.3.0, github.com/ocsf/ocsf-schema): attributes with requirement "required".
OCSF_BASE_REQUIRED = ("activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid")
OCSF_DATASTORE_REQUIRED = ("actor", "src_endpoint")  # events/application/datastore_activity.json
OCSF_DATASTORE_AT_LEAST_ONE = ("database", "databucket", "table")  # its constraint
OCSF_METADATA_REQUIRED = ("product", "version")  # objects/metadata.json
OCSF_ACTOR_AT_LEAST_ONE = ("process", "user", "invoked_by", "session", "app_name", "app_uid")  # objects/actor.json
OCSF_ENDPOINT_AT_LEAST_ONE = ("ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid",
                              "interface_name")  # objects/network_endpoint.json
OCSF_SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}  # 0 Unknown ... 6 Fatal
# Datastore Activity activity_id: 1 Read, 2 Update, 3 Connect, 4 Query, 5 Write, 6 Create, 7 Delete, 99 Other
OCSF_ACTIVITIES = {"I": (6, "Create"), "U": (2, "Update"), "D": (7, "Delete"), "T": (7, "Delete"),
                   "S": (99, "DDL"), "K": (99, "CONTROL"), "R": (99, "REVIEW")}


@pytest.mark.parametrize("which", ALERTS)
def test_ocsf_carries_the_required_attributes(which: str) -> None:
    document = parsed(ALERTS[which](), "ocsf")
    assert all(document.get(name) is not None for name in OCSF_BASE_REQUIRED + OCSF_DATASTORE_REQUIRED)
    assert any(name in document for name in OCSF_DATASTORE_AT_LEAST_ONE)
    assert all(name in document["metadata"] for name in OCSF_METADATA_REQUIRED)
    assert document["metadata"]["version"] == "1.3.0"
    assert document["metadata"]["product"] == {"name": "pgaudit-kit", "vendor_name": "pgaudit-kit",
                                               "version": __version__}
    assert any(name in document["actor"] for name in OCSF_ACTOR_AT_LEAST_ONE)
    assert any(name in document["src_endpoint"] for name in OCSF_ENDPOINT_AT_LEAST_ONE)
    assert (document["class_uid"], document["category_uid"]) == (6005, 6)
    assert document["type_uid"] == document["class_uid"] * 100 + document["activity_id"]
    assert document["time"] == 1796613255926  # ms since the epoch
    assert all(value is not None for value in document.values())  # absent attributes are left out


def test_ocsf_names_who_from_where_and_the_kit_specifics() -> None:
    document = parsed(alert(), "ocsf")
    assert document["actor"] == {"user": {"name": "alice@example.com"}, "app_name": "billing-api"}
    assert document["src_endpoint"] == {"ip": "192.0.2.10", "port": 53122}
    assert document["dst_endpoint"] == {"hostname": "db1.example.com", "port": 5432, "svc_name": "postgresql"}
    assert document["database"] == {"name": "billing", "uid": ORIGIN.install_id, "type": "PostgreSQL"}
    assert document["table"] == {"name": "public.accounts"}
    assert document["metadata"]["uid"] == "event:4711:night" and document["metadata"]["sequence"] == 1200
    unmapped = document["unmapped"]
    assert (unmapped["event_id"], unmapped["seal"]) == (4711, {"status": "sealed", "seq": 1200, "block": 7})
    assert unmapped["key"] == "event:4711:night" and unmapped["event"]["id"] == 4711


def test_ocsf_without_a_bound_actor_or_a_client_address() -> None:
    document = parsed(ddl_alert(), "ocsf")
    assert document["actor"]["user"] == {"name": "app"}  # the session role
    assert document["src_endpoint"] == {"name": "[local]"}  # a Unix-socket client
    assert "table" not in document and document["query_info"] == {"query_string": "ALTER TABLE accounts ADD "
                                                                                   "COLUMN note text"}
    assert document["unmapped"]["seal"] == {"status": "pending"} and "sequence" not in document["metadata"]


@pytest.mark.parametrize(("op", "expected"), OCSF_ACTIVITIES.items())
def test_ocsf_activity_follows_the_operation(op: str, expected: tuple[int, str]) -> None:
    document = parsed(alert(recorded(op=op)), "ocsf")
    assert (document["activity_id"], document["activity_name"]) == expected
    assert document["type_uid"] == 600500 + expected[0]
    assert document["type_name"] == f"Datastore Activity: {expected[1]}"


@pytest.mark.parametrize("severity", SEVERITIES)
def test_severity_in_each_scale(severity: str) -> None:
    a = alert(severity=severity)
    assert parsed(a, "ocsf")["severity_id"] == OCSF_SEVERITY_IDS[severity]
    assert parsed(a, "ecs")["event"]["severity"] == OCSF_SEVERITY_IDS[severity]
    assert parse_cef(formats.render(a, "cef"))[0][6] == str({"info": 1, "low": 3, "medium": 5, "high": 8,
                                                               "critical": 10}[severity])
    assert parsed(a, "json")["severity"] == severity


# -- ECS -----------------------------------------------------------------------------------------------------

# ECS 8.17 (elastic.co/guide/en/ecs/8.17): the required fields (base @timestamp, ecs.version) and the
# categorization this kit uses: event.kind "alert", category "database", whose expected types are these.
ECS_REQUIRED = ("@timestamp", "ecs")
ECS_DATABASE_TYPES = {"access", "change", "info", "error"}


@pytest.mark.parametrize("which", ALERTS)
def test_ecs_carries_the_required_fields(which: str) -> None:
    document = parsed(ALERTS[which](), "ecs")
    assert all(name in document for name in ECS_REQUIRED) and document["ecs"] == {"version": "8.17.0"}
    assert datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00")) == WHEN
    event = document["event"]
    assert (event["kind"], event["category"]) == ("alert", ["database"])
    assert set(event["type"]) <= ECS_DATABASE_TYPES
    assert event["id"] == ALERTS[which]().key and document["rule"]["name"] == ALERTS[which]().rule
    assert document["message"] == ALERTS[which]().summary


def test_ecs_names_who_from_where_and_the_kit_specifics() -> None:
    document = parsed(alert(), "ecs")
    assert document["user"] == {"name": "alice@example.com", "roles": ["app", "app_writer"]}
    assert document["client"] == {"ip": "192.0.2.10", "port": 53122}
    assert document["server"] == {"address": "db1.example.com", "port": 5432}
    assert (document["event"]["action"], document["event"]["type"]) == ("update", ["change"])
    kit = document["pgaudit_kit"]
    assert (kit["key"], kit["event_id"], kit["seq"], kit["block"]) == ("event:4711:night", 4711, 1200, 7)
    assert kit["event"]["pk"] == {"id": 42} and kit["table"] == "public.accounts"


def test_ecs_for_health_and_reviews() -> None:
    document = parsed(health_alert(), "ecs")
    assert (document["event"]["action"], document["event"]["type"]) == ("health", ["info"])
    assert "user" not in document and "client" not in document
    assert document["pgaudit_kit"]["event_id"] is None
    assert parsed(alert(recorded(op="R")), "ecs")["event"]["type"] == ["access"]


# -- CEF -----------------------------------------------------------------------------------------------------

_CEF_KEY = re.compile(r"([A-Za-z0-9_]+)=")


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A strict CEF:0 reader: 7 header fields (escapes \\\\ and \\| only), then key=value pairs separated by
    spaces, whose values admit only the escapes \\\\, \\=, \\n and \\r and no bare '='."""
    assert "\n" not in line and "\r" not in line
    fields: list[str] = []
    current: list[str] = []
    pos = 0
    while len(fields) < 7:
        char = line[pos]
        if char == "\\":
            assert line[pos + 1] in "\\|", f"bad header escape at {pos}"
            current.append(line[pos + 1])
            pos += 2
        elif char == "|":
            fields.append("".join(current))
            current = []
            pos += 1
        else:
            current.append(char)
            pos += 1
    assert fields[0] == "CEF:0"
    extension = line[pos:]
    pairs: dict[str, str] = {}
    match = _CEF_KEY.match(extension)
    while match:
        key, pos, value = match.group(1), match.end(), []
        while pos < len(extension):
            char = extension[pos]
            if char == "\\":
                escaped = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
                assert extension[pos + 1] in escaped, f"bad extension escape at {pos}"
                value.append(escaped[extension[pos + 1]])
                pos += 2
                continue
            assert char != "=", f"bare '=' in the value of {key}"
            if char == " " and _CEF_KEY.match(extension, pos + 1):
                break
            value.append(char)
            pos += 1
        assert key not in pairs, f"{key} twice"
        pairs[key] = "".join(value)
        match = _CEF_KEY.match(extension, pos + 1) if pos < len(extension) else None
    assert pos >= len(extension), "trailing text after the extension"
    return fields, pairs


def test_cef_header_and_dictionary_keys() -> None:
    header, pairs = parse_cef(formats.render(alert(), "cef"))
    assert header == ["CEF:0", "pgaudit-kit", "pgaudit-kit", __version__, "hours", "balance change at night", "8"]
    assert pairs == {
        "rt": "1796613255926", "act": "update", "msg": "UPDATE on public.accounts at 03:14 by alice@example.com",
        "suser": "alice@example.com", "src": "192.0.2.10", "spt": "53122", "sproc": "billing-api",
        "dhost": "db1.example.com", "dpt": "5432", "dpid": "31337", "externalId": "4711",
        "cs1Label": "key", "cs1": "event:4711:night", "cs2Label": "table", "cs2": "public.accounts",
        "cs3Label": "database", "cs3": "billing", "cs4Label": "installId", "cs4": ORIGIN.install_id,
        "cs5Label": "actingRole", "cs5": "app_writer", "cs6Label": "seal", "cs6": "sealed",
        "cn1Label": "seq", "cn1": "1200", "cn2Label": "block", "cn2": "7", "cn3Label": "xid", "cn3": "90210"}


def test_cef_leaves_out_what_a_health_alert_has_not() -> None:
    header, pairs = parse_cef(formats.render(health_alert(), "cef"))
    assert header[4:] == ["health", "sealing backlog", "10"]
    assert set(pairs) == {"rt", "act", "msg", "cs1Label", "cs1", "cs3Label", "cs3", "cs4Label", "cs4"}
    assert pairs["cs1"] == "health:sealing backlog:2026-12-07T03:00:00Z"


HOSTILE = "a|b\\c=d\ne\rf\r\n\"quoted\" 'x' ü 日本 🚀 key=value ] end"


def test_cef_escaping_reads_back_exactly() -> None:
    event = recorded(actor=HOSTILE, schema="we|ird", table="t=1\\", application_name=HOSTILE)
    line = formats.render(alert(event, rule="rule|with\\pipes", summary=HOSTILE, key="event:4711:" + HOSTILE), "cef")
    header, pairs = parse_cef(line)
    assert header[5] == "rule|with\\pipes"
    assert pairs["msg"] == pairs["suser"] == pairs["sproc"] == HOSTILE
    assert pairs["cs1"] == "event:4711:" + HOSTILE and pairs["cs2"] == "we|ird.t=1\\"


def test_cef_header_line_breaks_become_spaces() -> None:
    header, _ = parse_cef(formats.render(alert(rule="two\nlines\r"), "cef"))
    assert header[5] == "two lines "


def test_cef_values_are_cut_to_the_dictionary_lengths() -> None:
    event = recorded(actor="u" * 5000, statement="x" * 10_000)
    _, pairs = parse_cef(formats.render(alert(event, summary="m" * 5000, key="k" * 9000), "cef"))
    assert (len(pairs["msg"]), len(pairs["suser"]), len(pairs["cs1"])) == (1023, 1023, 4000)


# -- hostile values --------------------------------------------------------------------------------------------

BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # everything str.splitlines() breaks on
NASTY = f"{BREAKERS}|\\=\"'<>]{{}}\x00\x1b[31m ü 日本 🚀 \ud800"


def hostile_alert() -> Alert:
    huge = "Z" * 1_000_000 + NASTY
    event = recorded(actor=NASTY, schema=NASTY, table=NASTY, pk={NASTY: NASTY},
                     row_data={"note": huge, NASTY: NASTY}, old_values={"note": NASTY},
                     statement=f"UPDATE t SET note = '{NASTY}'", context=RawJson(json.dumps({"who": NASTY})),
                     context_raw=NASTY, application_name=NASTY, acting_role=NASTY, session_role=NASTY)
    return alert(event, rule=NASTY, summary=NASTY, key=f"event:4711:{NASTY}", kind=NASTY,
                 facts={NASTY: [NASTY, 1, None]}, origin=Origin(NASTY, NASTY, NASTY, 5432))


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_hostile_values_stay_one_line(fmt: str) -> None:
    text = formats.render(hostile_alert(), fmt)
    assert len(text.splitlines()) == 1 and not any(c in text for c in BREAKERS)
    text.encode("utf-8")  # lone surrogates are escaped or replaced


@pytest.mark.parametrize("fmt", ["json", "ocsf", "ecs"])
def test_the_json_formats_keep_hostile_values_exactly(fmt: str) -> None:
    a = hostile_alert()
    document = parsed(a, fmt)
    event = {"json": lambda d: d["event"], "ocsf": lambda d: d["unmapped"]["event"],
             "ecs": lambda d: d["pgaudit_kit"]["event"]}[fmt](document)
    assert a.event is not None
    assert event["new"] == a.event["new"] and event["actor"] == NASTY and event["context"] == {"who": NASTY}
    assert event["pk"] == {NASTY: NASTY} and event["context_raw"] == NASTY


def test_context_that_is_not_json_stays_text() -> None:
    event = {**recorded().as_dict(), "context": "not json {"}
    a = Alert(rule="r", severity="low", kind="actor", summary="s", key="k", time=WHEN, origin=ORIGIN, event=event)
    assert parsed(a, "json")["event"]["context"] == "not json {"


def test_hostile_cef_reads_back_with_controls_replaced() -> None:
    _, pairs = parse_cef(formats.render(hostile_alert(), "cef"))
    expected = NASTY.replace("\ud800", "\ufffd")
    for char in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b":
        expected = expected.replace(char, "\ufffd")
    assert pairs["msg"] == pairs["suser"] == expected


@pytest.mark.parametrize("line", [
    "CEF:0|v|p|1|sig|name|5|msg=a=b",  # a bare '=' in a value
    "CEF:0|v|p|1|sig|name|5|msg=a\\tb",  # an escape CEF does not define
    "CEF:0|v|p|1|sig|na\\=me|5|msg=a",  # '=' needs no escape in the header
    "CEF:0|v|p|1|sig|name|5|msg=a msg=b",  # a key twice
    "CEF:0|v|p|1|sig|name|5|msg=a\nb",  # a line break
    "CEF:1|v|p|1|sig|name|5|msg=a",  # another version
])
def test_the_strict_cef_reader_refuses_malformed_lines(line: str) -> None:
    with pytest.raises(AssertionError):
        parse_cef(line)
