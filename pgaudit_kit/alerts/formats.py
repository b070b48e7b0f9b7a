"""An alert as one line of text in the format a receiver reads: the kit's own JSON record, OCSF, ECS or CEF.

Every format is rendered deterministically (fixed key order, the same alert gives the same text) as exactly
one line: whatever recorded data holds (newlines, pipes, quotes, NULs, U+2028, lone surrogates, megabytes), the
text has no line break (``str.splitlines()`` finds one line) and encodes to UTF-8. The JSON based formats
are lossless; CEF is flat and cut to the lengths of the CEF dictionary, the JSON record has everything.

Versions followed (the tests keep each format's required fields, from the same sources):

* OCSF 1.3.0, class Datastore Activity (6005) in category Application Activity (6) — schema.ocsf.io and
  github.com/ocsf/ocsf-schema ``events/application/datastore_activity.json``.
* ECS 8.17 (Elastic Common Schema) — elastic.co/guide/en/ecs/8.17.
* CEF:0 — "ArcSight Common Event Format (CEF) Implementation Standard", revision 25.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import __version__
from .alert import SEVERITIES, Alert

FORMATS = ("json", "ocsf", "ecs", "cef")
RECORD_FORMAT = "pgaudit-kit-alert/1"
PRODUCT = "pgaudit-kit"
OCSF_VERSION = "1.3.0"
ECS_VERSION = "8.17.0"

_MEDIA_TYPES = {"json": "application/json", "ocsf": "application/json", "ecs": "application/json",
                "cef": "text/plain"}

# Severity in each format's own scale, indexed like SEVERITIES (info, low, medium, high, critical).
OCSF_SEVERITY = ((1, "Informational"), (2, "Low"), (3, "Medium"), (4, "High"), (5, "Critical"))
ECS_SEVERITY = (1, 2, 3, 4, 5)  # ECS leaves the scale to the source: the same numbers as OCSF severity_id
CEF_SEVERITY = (1, 3, 5, 8, 10)  # CEF bands: 0-3 low, 4-6 medium, 7-8 high, 9-10 very high

# Recorded operation (Event.op) -> OCSF Datastore Activity activity_id (1.3.0: 1 Read, 2 Update, 3 Connect,
# 4 Query, 5 Write, 6 Create, 7 Delete, 99 Other). A truncate removes rows: Delete. DDL, the kit's control
# changes and recorded reviews have no datastore verb: Other, with the operation in activity_name.
OCSF_ACTIVITY = {"I": (6, "Create"), "U": (2, "Update"), "D": (7, "Delete"), "T": (7, "Delete")}
OCSF_OTHER = 99
OCSF_CLASS_UID, OCSF_CATEGORY_UID = 6005, 6

# ECS event.type for the database category (whose expected types are access, change, info and error): the
# changes are "change", a recorded review read history ("access"), the kit's health is "info".
_ECS_TYPE = {"I": "change", "U": "change", "D": "change", "T": "change", "S": "change", "K": "change",
             "R": "access"}

# JSON leaves these raw inside strings, yet str.splitlines() and some log shippers split lines on them; lone
# surrogates cannot be encoded to UTF-8. As \\u escapes they read back as the same string.
_JSON_UNSAFE = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029",
                **{code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)}}

# PostgreSQL shows a Unix-socket client as [local] (log_line_prefix %h): no address was involved.
LOCAL_CLIENT = "[local]"


def media_type(fmt: str) -> str:
    """The HTTP media type of *fmt*'s text; ValueError for an unknown format."""
    try:
        return _MEDIA_TYPES[fmt]
    except KeyError:
        raise ValueError(f"unknown alert format {fmt!r}: choose from {', '.join(FORMATS)}") from None


def render(alert: Alert, fmt: str) -> str:
    """*alert* as one line (no trailing newline) in *fmt*, one of FORMATS.

    Raises ValueError for an unknown format, an unknown severity, or facts holding NaN or infinities (not
    JSON). Values of other non-JSON types in facts or images are rendered as their ``str()``."""
    media_type(fmt)  # an unknown format: ValueError naming the known ones
    if alert.severity not in SEVERITIES:
        raise ValueError(f"unknown severity {alert.severity!r}: choose from {', '.join(SEVERITIES)}")
    if fmt == "cef":
        return cef(alert)
    documents = {"json": record, "ocsf": ocsf, "ecs": ecs}
    return _dumps(documents[fmt](alert))


# -- shared helpers ------------------------------------------------------------------------------------------

def _dumps(document: dict[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_not_json)
    # the translated characters only occur inside strings (JSON's own syntax is ASCII)
    return text.translate(_JSON_UNSAFE)


def _not_json(value: Any) -> str:
    # a rule's fact of another type (a time, a Decimal...) must not cost the alert: it is shown as text
    return iso_time(value) if isinstance(value, datetime) else str(value)


def utc(moment: datetime) -> datetime:
    """*moment* in UTC; a naive time is taken as UTC (as the kit's time options do)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_time(moment: datetime) -> str:
    """ISO 8601 / RFC 3339 in UTC, 'Z' for the offset and microseconds when there are any (as the event's own
    ``time`` is shown, so equal instants compare equal as text)."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    return (utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def event_document(alert: Alert) -> dict[str, Any] | None:
    """The alert's event with its ``context`` (jsonb text from the database in ``Event.as_dict()``) as JSON
    values, so the record nests it as ``log --format json`` does; text that is not JSON stays text."""
    if alert.event is None:
        return None
    event = dict(alert.event)
    context = event.get("context")
    if isinstance(context, str):
        try:
            event["context"] = json.loads(context)
        except (ValueError, RecursionError):
            pass
    return event


def _field(alert: Alert, name: str) -> Any:
    return alert.event.get(name) if alert.event is not None else None


def _user_name(alert: Alert) -> str | None:
    """Who acted: the person the application bound (actor), else the database login (session role)."""
    name = _field(alert, "actor") or _field(alert, "session_role")
    return str(name) if name is not None else None


def _seq(alert: Alert) -> tuple[int | None, int | None]:
    seal = alert.seal or {}
    if seal.get("status") != "sealed":
        return None, None
    return seal.get("seq"), seal.get("block")


def _operation(alert: Alert) -> str:
    """The recorded operation in lower case (insert, update, ddl, review...), ``health`` without an event."""
    if alert.event is None:
        return "health"
    return str(alert.event.get("operation") or alert.event.get("op") or "unknown").lower()


def _table(alert: Alert) -> str | None:
    """The qualified table acted on; None for a health alert or an event on no table (a schema's DDL...)."""
    schema, table = _field(alert, "schema"), _field(alert, "table")
    if table is None:
        return None
    return f"{schema}.{table}" if schema else str(table)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _compact(document: dict[str, Any]) -> dict[str, Any]:
    """*document* without the keys whose value is None (formats that omit absent attributes)."""
    return {key: value for key, value in document.items() if value is not None}


def _origin(alert: Alert) -> dict[str, Any]:
    o = alert.origin
    return {"install_id": o.install_id, "database": o.database, "host": o.host, "port": o.port}


# -- json: the kit's own record ------------------------------------------------------------------------------

def record(alert: Alert) -> dict[str, Any]:
    """The kit's own record (``pgaudit-kit-alert/1``): every field of the alert, the event as ``log --format
    json`` shows it. Absent values are null, so every record has the same keys."""
    return {
        "format": RECORD_FORMAT, "key": alert.key, "rule": alert.rule, "severity": alert.severity,
        "kind": alert.kind, "summary": alert.summary, "time": iso_time(alert.time), "event_id": alert.event_id,
        "seal": alert.seal, "origin": _origin(alert), "facts": alert.facts, "event": event_document(alert),
    }


# -- OCSF ------------------------------------------------------------------------------------------------------

def ocsf(alert: Alert) -> dict[str, Any]:
    """An OCSF 1.3.0 Datastore Activity event: the base event's required attributes (activity_id,
    category_uid, class_uid, metadata.product / version, severity_id, time, type_uid), the class's required
    actor and src_endpoint, the database (and table) acted on; the kit's specifics in ``unmapped``."""
    op = _field(alert, "op")
    activity_id, activity = OCSF_ACTIVITY.get(str(op), (OCSF_OTHER, _operation(alert).upper()))
    severity_id, severity = OCSF_SEVERITY[SEVERITIES.index(alert.severity)]
    seq, _ = _seq(alert)
    table = _table(alert)
    statement = _field(alert, "statement")
    return _compact({
        "class_uid": OCSF_CLASS_UID, "class_name": "Datastore Activity",
        "category_uid": OCSF_CATEGORY_UID, "category_name": "Application Activity",
        "activity_id": activity_id, "activity_name": activity,
        "type_uid": OCSF_CLASS_UID * 100 + activity_id, "type_name": f"Datastore Activity: {activity}",
        "severity_id": severity_id, "severity": severity,
        "time": epoch_ms(alert.time), "timezone_offset": 0,
        "message": alert.summary,
        "metadata": _compact({
            "version": OCSF_VERSION,
            # product.name is required in later 1.x, vendor_name was in 1.0: both, so either validator passes
            "product": {"name": PRODUCT, "vendor_name": PRODUCT, "version": __version__},
            "uid": alert.key,  # stable across re-deliveries: what a receiver de-duplicates on
            "event_code": alert.kind,
            "sequence": seq,
        }),
        "actor": _ocsf_actor(alert),
        "src_endpoint": _ocsf_source(alert),
        "dst_endpoint": _ocsf_server(alert),
        "database": _compact({"name": alert.origin.database, "uid": alert.origin.install_id, "type": "PostgreSQL"}),
        "table": {"name": table} if table is not None else None,
        "query_info": {"query_string": str(statement)} if statement is not None else None,
        "unmapped": {
            "key": alert.key, "rule": alert.rule, "kind": alert.kind, "severity": alert.severity,
            "event_id": alert.event_id, "seal": alert.seal, "origin": _origin(alert), "facts": alert.facts,
            "event": event_document(alert),
        },
    })


def _ocsf_actor(alert: Alert) -> dict[str, Any]:
    if alert.event is None:
        return {"app_name": PRODUCT}  # a health alert: the kit itself reports
    user = _user_name(alert)
    # the Actor object needs one of user, process, session, app_name...: a recorded event always has an actor
    actor: dict[str, Any] = {"user": {"name": user if user is not None else "[unknown]"}}
    if _field(alert, "application_name"):
        actor["app_name"] = str(_field(alert, "application_name"))
    return actor


def _ocsf_source(alert: Alert) -> dict[str, Any]:
    if alert.event is None:
        return {"svc_name": PRODUCT}
    address = _field(alert, "client_addr")
    if address is None:
        return {"name": LOCAL_CLIENT}
    return _compact({"ip": str(address), "port": _field(alert, "client_port")})


def _ocsf_server(alert: Alert) -> dict[str, Any] | None:
    host = alert.origin.host
    if host is None:
        return None
    where = "ip" if _is_ip(host) else "name" if host.startswith(("/", "@")) else "hostname"  # IP, socket dir, name
    return _compact({where: host, "port": alert.origin.port, "svc_name": "postgresql"})


# -- ECS -------------------------------------------------------------------------------------------------------

def ecs(alert: Alert) -> dict[str, Any]:
    """An ECS 8.17 document: @timestamp and ecs.version (required), event.kind "alert" in category database,
    the rule, who (user) and from where (client), the database server (server); the kit's specifics in the
    ``pgaudit_kit`` object. event.id is the alert key: an index can use it as document id to de-duplicate."""
    seq, block = _seq(alert)
    op = _field(alert, "op")
    address = _field(alert, "client_addr")
    roles = [r for r in dict.fromkeys((_field(alert, "session_role"), _field(alert, "acting_role"))) if r]
    user = _user_name(alert)
    host = alert.origin.host
    return _compact({
        "@timestamp": iso_time(alert.time),
        "ecs": {"version": ECS_VERSION},
        "message": alert.summary,
        "event": {
            "kind": "alert", "category": ["database"],
            "type": [_ECS_TYPE.get(str(op), "info")] if alert.event is not None else ["info"],
            "action": _operation(alert), "severity": ECS_SEVERITY[SEVERITIES.index(alert.severity)],
            "id": alert.key, "code": alert.kind, "reason": alert.summary,
            "module": "pgaudit_kit", "dataset": "pgaudit_kit.alert", "provider": PRODUCT,
        },
        "rule": {"name": alert.rule, "category": alert.kind, "ruleset": PRODUCT},
        "user": _compact({"name": user, "roles": [str(r) for r in roles] or None}) if user or roles else None,
        "client": _compact({"ip": str(address), "port": _field(alert, "client_port")}) if address else None,
        "server": _compact({"address": host, "ip": host if _is_ip(host) else None, "port": alert.origin.port})
        if host else None,
        "service": {"type": "postgresql"},
        "observer": {"vendor": PRODUCT, "product": PRODUCT, "version": __version__},
        "pgaudit_kit": {
            "key": alert.key, "severity": alert.severity, "event_id": alert.event_id, "seq": seq, "block": block,
            "seal": alert.seal, "table": _table(alert),
            "origin": _origin(alert), "facts": alert.facts, "event": event_document(alert),
        },
    })


# -- CEF -------------------------------------------------------------------------------------------------------

# Lengths from the CEF dictionary (characters); longer values are cut so that receivers do not reject the line.
_CEF_HEADER_LENGTHS = (63, 63, 31, 1023, 512)  # vendor, product, version, signature id, name
_CEF_LENGTHS = {"act": 63, "msg": 1023, "suser": 1023, "sproc": 1023, "dhost": 1023, "externalId": 40}
_CEF_CUSTOM_LENGTH = 4000  # cs1..cs6
# Characters other than \n and \r that end a line for someone (str.splitlines(), NEL, U+2028...) or are not
# text: CEF has no escape for them, so they are replaced.
_CEF_REPLACED = {code: "\ufffd" for code in [*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f,
                                             *range(0x80, 0xa0), 0x2028, 0x2029, *range(0xD800, 0xE000)]}


def cef(alert: Alert) -> str:
    """``CEF:0|pgaudit-kit|pgaudit-kit|<version>|<rule kind>|<rule>|<severity 0-10>|<extension>``.

    The signature id is the rule's kind (a fixed vocabulary that SIEM content can match), the name the rule's
    name. The header escapes \\ and |, the extension \\, = and line breaks (as \\n, \\r); control characters
    are replaced by U+FFFD."""
    header = [PRODUCT, PRODUCT, __version__, alert.kind, alert.rule]
    fields = [_cef_header(value, length) for value, length in zip(header, _CEF_HEADER_LENGTHS, strict=True)]
    severity = CEF_SEVERITY[SEVERITIES.index(alert.severity)]
    extension = " ".join(f"{key}={_cef_value(value, _cef_length(key))}" for key, value in _cef_extension(alert))
    return "|".join(["CEF:0", *fields, str(severity), extension])


def _cef_length(key: str) -> int:
    if key.startswith("cs") and not key.endswith("Label"):
        return _CEF_CUSTOM_LENGTH
    return _CEF_LENGTHS.get(key, 1023)


def _cef_extension(alert: Alert) -> list[tuple[str, Any]]:
    """(key, value) pairs in a fixed order, keys from the CEF dictionary; pairs without a value are left out."""
    seq, block = _seq(alert)
    address = _field(alert, "client_addr")
    seal = alert.seal
    pairs: list[tuple[str, Any]] = [
        ("rt", epoch_ms(alert.time)), ("act", _operation(alert)), ("msg", alert.summary),
        ("suser", _user_name(alert)),
        ("src", address if address is not None and _is_ip(str(address)) else None),
        ("spt", _field(alert, "client_port")), ("sproc", _field(alert, "application_name")),
        ("dhost", alert.origin.host), ("dpt", alert.origin.port), ("dpid", _field(alert, "backend_pid")),
        ("externalId", alert.event_id),
    ]
    custom = [("cs", "key", alert.key), ("cs", "table", _table(alert)),
              ("cs", "database", alert.origin.database), ("cs", "installId", alert.origin.install_id),
              ("cs", "actingRole", _field(alert, "acting_role")),
              ("cs", "seal", seal.get("status") if seal else None),
              ("cn", "seq", seq), ("cn", "block", block), ("cn", "xid", _field(alert, "xid"))]
    numbers = {"cs": 0, "cn": 0}
    for prefix, label, value in custom:
        numbers[prefix] += 1  # fixed slots: cs1 is always the key, cn1 always the seq
        if value is not None:
            key = f"{prefix}{numbers[prefix]}"
            pairs += [(f"{key}Label", label), (key, value)]
    return [(key, value) for key, value in pairs if value is not None]


def _cef_clean(value: Any, length: int) -> str:
    return str(value)[:length].translate(_CEF_REPLACED)


def _cef_header(value: Any, length: int) -> str:
    # a header field cannot hold a line break at all (no escape is defined there): a space stands for it
    text = _cef_clean(value, length).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: Any, length: int) -> str:
    text = _cef_clean(value, length).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\n", "\\n").replace("\r", "\\r")


__all__ = ["FORMATS", "OCSF_VERSION", "ECS_VERSION", "RECORD_FORMAT", "media_type", "render"]
