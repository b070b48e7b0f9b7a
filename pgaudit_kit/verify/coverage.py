"""Coverage: is capture still in place exactly as shipped? Reads the catalog, returns findings.

The invariants (every enrolled table has its capture function, as generated, and its capture triggers
enabled ALWAYS; the guard, sealing and event triggers are in place; nobody else may write the kit's
tables) come from pgaudit_kit.invariant_problems(), the same check the DDL guard runs at commit. On top
of that, every function in the kit's schemas must be identical to the shipped SQL and executable by
exactly the roles it grants (pgaudit_kit.schema.shipped: what each revision shipped, as data), and no unknown
function may hide there. ``pgaudit_kit.schema.drift`` answers the
same question against an older revision's SQL, before `install` upgrades over it.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from ..pg.catalog import capture_problems
from ..schema.drift import kit_function_sources, shipped_functions
from ..schema.shipped import source_digest
from .verification import Finding, Findings

_CAPTURE = re.compile(r"pgaudit_kit\.capture_\d+")


def check(conn: psycopg.Connection[Any], findings: Findings, retired_xid: int = 0) -> None:
    """*retired_xid*: the last transaction of history retired from the database (0: none), whose control
    events left with it."""
    for problem in capture_problems(conn):
        findings.add(Finding(problem.kind, problem.message, object=problem.object))
    shipped = shipped_functions()
    found = kit_function_sources(conn)
    for name, source in found.items():
        if name not in shipped:
            findings.add(Finding("coverage_unknown_function", f"{name} is not a function the kit ships", object=name))
        elif shipped[name].source_sha256 != source_digest(source):
            findings.add(Finding("coverage_function_modified", f"{name} differs from the shipped SQL", object=name))
    for name in sorted(set(shipped) - set(found)):
        findings.add(Finding("coverage_function_missing", f"{name} is missing", object=name))
    _check_function_privileges(conn, findings)
    _check_owner_reads_audited_tables(conn, findings)
    _check_enrolment_against_log(conn, findings)
    _check_names_of_audited_tables(conn, findings)
    _check_maintenance_windows(conn, findings, retired_xid)


def _check_function_privileges(conn: psycopg.Connection[Any], findings: Findings) -> None:
    """Who may execute each kit function must be exactly what the shipped SQL grants. The commit-time
    invariants already refuse EXECUTE for roles outside the kit (those findings come with capture_problems);
    this also catches a grant to one of the kit's own roles beyond what the kit gives it (an admin who may
    open maintenance windows or lock down directly), and a grant taken away."""
    reported = {f.object for f in findings.items if f.kind == "coverage_privilege"}
    shipped = shipped_functions()
    found: dict[str, tuple[str, str, dict[str, bool]]] = {}
    for name, signature, owner, grantee, grantable in conn.execute(
            "SELECT p.pronamespace::regnamespace::text || '.' || p.proname::text, p.oid::regprocedure::text, "
            "pg_get_userbyid(p.proowner)::text, "
            "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.is_grantable "
            "FROM pg_proc p LEFT JOIN LATERAL aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a "
            "ON a.grantee <> p.proowner "
            "WHERE p.pronamespace IN ('pgaudit_kit'::regnamespace, to_regnamespace('pgaudit_kit_guard')) "
            "ORDER BY 2, 4"):
        if _CAPTURE.fullmatch(name) or name not in shipped:
            continue  # capture functions: their table's owner may hold EXECUTE; unknown ones are reported as such
        entry = found.setdefault(name, (signature, owner, {}))
        if grantee is not None:
            entry[2][grantee] = grantable
    for name, (signature, owner, grantees) in sorted(found.items()):
        if signature in reported:
            continue
        expected = set(shipped[name].grantees) - {owner}
        for grantee in sorted(set(grantees) - expected):
            findings.add(Finding("coverage_privilege", f"{grantee} may execute {signature}, which the kit does not "
                                 "grant", object=signature))
        for grantee in sorted(expected - set(grantees)):
            findings.add(Finding("coverage_privilege", f"{grantee} may no longer execute {signature}, which the kit "
                                 "grants", object=signature))
        for grantee in sorted(g for g in set(grantees) & expected if grantees[g]):
            findings.add(Finding("coverage_privilege", f"{grantee} may grant EXECUTE on {signature} to others, which "
                                 "the kit never allows", object=signature))


def _check_owner_reads_audited_tables(conn: psycopg.Connection[Any], findings: Findings) -> None:
    """The kit's owner must read every audited table and partition (enable grants it SELECT and USAGE on the
    schema): TRUNCATE capture copies the rows as that role and reconcile compares them. A table's owner can
    revoke that without a superuser; it blinds both."""
    for name, schema_usage, table_select in conn.execute(
            """SELECT format('%I.%I', n.nspname, c.relname),
                      has_schema_privilege('pgaudit_kit_owner', n.oid, 'USAGE'),
                      has_table_privilege('pgaudit_kit_owner', c.oid, 'SELECT')
                 FROM pgaudit_kit.enrolled_table e
                 CROSS JOIN LATERAL (SELECT e.relid UNION SELECT p.relid FROM pg_partition_tree(e.relid) p) t
                 JOIN pg_class c ON c.oid = t.relid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                ORDER BY 1"""):
        if not (schema_usage and table_select):
            missing = "USAGE on its schema" if not schema_usage else "SELECT"
            findings.add(Finding("coverage_privilege", f"pgaudit_kit_owner may no longer read {name} ({missing} "
                                 "revoked): TRUNCATE capture fails and reconcile cannot compare it", object=name))


# Control events that say a table is enrolled with these options: enable, a change of options, and the
# restatement a retirement records (its earlier enable events leave the database)
ENROLLING = ("enable", "options", "enrolled")


def _options(options: Any) -> tuple[Any, ...]:
    return (sorted(options.get("excluded_columns") or []), sorted(options.get("redacted_columns") or []),
            options.get("truncate"), bool(options.get("capture_statement")))


def _check_enrolment_against_log(conn: psycopg.Connection[Any], findings: Findings) -> None:
    """Enrolment must be what the recorded control events say: every enrolled table has an `enable` (or
    `options`) event with its current options and no later end, and every table the log says is enrolled
    still is. This is how an edit of pgaudit_kit.enrolled_table behind the kit's back shows (a superuser
    can disable the guard first), e.g. a column quietly added to the excluded ones."""
    enrolled = {relid: (name, (sorted(excluded), sorted(redacted), truncate, statement)) for relid, name, excluded,
                redacted, truncate, statement in conn.execute(
                    "SELECT relid::int8, format('%I.%I', schema_name, table_name), excluded_columns, redacted_columns, "
                    "truncate_policy, capture_statement FROM pgaudit_kit.enrolled_table")}
    last: dict[int, tuple[str, Any, str]] = {}
    rebound: set[int] = set()
    for relid, action, options, name in conn.execute(
            """
            SELECT e.relid::int8, COALESCE(e.row_data->>'action', e.row_data->>'command_tag'), e.row_data->'options',
                   COALESCE(quote_ident(e.schema_name) || '.' || quote_ident(e.table_name),
                            e.row_data->>'object_identity', e.relid::text)
              FROM pgaudit_kit.event e
             WHERE e.relid IS NOT NULL AND (
                   (e.op = 'K'
                    AND e.row_data->>'action' IN ('enable', 'options', 'enrolled', 'disable', 'absorbed', 'rebind'))
                   OR (e.op = 'S' AND e.row_data->>'command_tag' = 'DROP TABLE'))
             ORDER BY e.id"""):
        if action == "rebind":
            continue
        last[relid] = (action, options, name)
    for (old_relid,) in conn.execute(
            # a hostile value that is no OID is simply not one (an OID has at most 10 digits)
            "SELECT (row_data->>'old_relid')::int8 FROM pgaudit_kit.event "
            "WHERE op = 'K' AND row_data->>'action' = 'rebind' AND row_data->>'old_relid' ~ '^[0-9]{1,10}$'"):
        rebound.add(old_relid)
    for relid, (name, current) in sorted(enrolled.items()):
        recorded = last.get(relid)
        if recorded is None or recorded[0] not in ENROLLING:
            findings.add(Finding("coverage_enrolment", f"{name} is enrolled, but no recorded enable says so: its "
                                 "enrolment was written behind the kit's back, or its record was destroyed",
                                 object=name))
        elif _options(recorded[1] or {}) != current:
            findings.add(Finding("coverage_enrolment", f"capture options of {name} differ from the last recorded ones: "
                                 "changed behind the kit's back", object=name,
                                 expected=str(_options(recorded[1] or {})), calculated=str(current)))
    for relid, (action, _options_recorded, name) in sorted(last.items()):
        if action in ENROLLING and relid not in enrolled and relid not in rebound:
            findings.add(Finding("coverage_enrolment", f"{name} is no longer enrolled, but no recorded disable says "
                                 "so: its enrolment was removed behind the kit's back", object=name))


def _check_names_of_audited_tables(conn: psycopg.Connection[Any], findings: Findings) -> None:
    """A table that now holds a name an audited table was enrolled under, but is not audited itself: the
    audited one was renamed away (or dropped by its disable) and another created in its place, so the
    application's writes to that name go unrecorded. An audited table whose enrolment ended by a recorded
    disable leaves its name free."""
    for name, relid, former in conn.execute(
            # the audited tables' control events, through the partial index of DDL and control events
            """SELECT DISTINCT ON (c.oid) format('%I.%I', n.nspname, c.relname), c.oid::int8,
                      format('%I.%I', t.schema_name, t.table_name)
                 FROM pgaudit_kit.enrolled_table t
                 JOIN pgaudit_kit.event k ON k.relid = t.relid AND k.op IN ('S', 'K') AND k.op = 'K'
                 JOIN pg_namespace n ON n.nspname = k.schema_name
                 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = k.table_name
                WHERE k.row_data->>'action' IN ('enable', 'options', 'enrolled') AND c.oid <> t.relid
                  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND NOT EXISTS (SELECT FROM pgaudit_kit.enrolled_table e WHERE e.relid = c.oid)
                  -- after a restore, before install re-binds, enrolment names OIDs that are gone (its own finding)
                  AND EXISTS (SELECT FROM pg_class a WHERE a.oid = t.relid)
                ORDER BY c.oid, k.id DESC"""):
        findings.add(Finding("coverage_enrolment", f"{name} is not audited, but the audited table {former} was "
                             "enrolled under that name: writes meant for it may land here unrecorded (enrol it, "
                             "or rename it)", object=name, calculated=str(relid)))


def _check_maintenance_windows(conn: psycopg.Connection[Any], findings: Findings, retired_xid: int) -> None:
    """Every maintenance window (a pass past the DDL guards) must have been opened by begin_maintenance,
    which records it; a row written into pgaudit_kit.maintenance directly is a hidden one. A window of retired
    history had its record retired with it (the archive holds it)."""
    for (xid,) in conn.execute(
            "SELECT m.xid::text FROM pgaudit_kit.maintenance m WHERE m.xid > %s::text::xid8 "
            "AND NOT EXISTS (SELECT FROM pgaudit_kit.event e "
            "WHERE e.xid = m.xid AND e.op = 'K' AND e.row_data->>'action' = 'maintenance') "
            # the install transaction's own window (later revisions of a fresh install): nothing to record yet.
            # Recognised by its xmin, or, once a dump/restore has rewritten the rows (new xmin), by the same
            # transaction start time (both columns default to now()).
            "AND NOT EXISTS (SELECT FROM pgaudit_kit.install i "
            "WHERE i.xmin::text = (m.xid::text::numeric %% 4294967296)::text OR i.installed_at = m.started_at) "
            "ORDER BY m.xid", (retired_xid,)):
        findings.add(Finding("coverage_guard", f"maintenance window of transaction {xid} was not opened through "
                             "pgaudit_kit.begin_maintenance: nothing recorded it", object="pgaudit_kit.maintenance"))
