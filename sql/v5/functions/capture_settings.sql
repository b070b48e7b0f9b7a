-- pgaudit-kit v5: pgaudit_kit.output_settings(type) and pgaudit_kit.capture_settings(table) -> text[]
-- A capture function records each column as its text output, so it pins every setting that output
-- could depend on. v1 pinned all six on every capture function; each SET clause is applied and undone at
-- every call (setting lc_monetary runs setlocale), about 9 us of a 43 us captured UPDATE. v5 pins only
-- what the table's column types need:
--   TimeZone         timestamptz               DateStyle     date, time, timetz, timestamp, timestamptz
--   IntervalStyle    interval                  extra_float_digits   float4, float8, geometric types
--   bytea_output     bytea                     lc_monetary   money
-- Domains, arrays, ranges and multiranges count as their base, element or subtype (none of these can
-- change afterwards). Types whose output depends on none of them are listed; any other type (composite
-- types, which ALTER TYPE can extend without changing the table, and types from extensions) pins all six.
-- The search_path = '' every kit function has is not among these: the generator always writes it.
-- The kit's objects change only in a maintenance window (revision 0003's DDL guards). The migration opens
-- one for the revision; applied file by file (the MANIFEST), each file opens its own.
DO $maintenance$
BEGIN
  IF NOT pgaudit_kit.in_maintenance() THEN
    PERFORM pgaudit_kit.begin_maintenance('pgaudit-kit schema change: v5');
  END IF;
END
$maintenance$;
CREATE FUNCTION pgaudit_kit.output_settings(p_type oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  WITH RECURSIVE unwrapped(typid) AS (
      SELECT p_type
    UNION
      SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype
                  WHEN t.typtype = 'r' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)
                  WHEN t.typtype = 'm' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)
                  ELSE t.typelem END
        FROM unwrapped u JOIN pg_catalog.pg_type t ON t.oid = u.typid
       WHERE t.typtype IN ('d', 'r', 'm')
          OR (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)),
  leaf AS (
    SELECT u.typid, t.typtype FROM unwrapped u JOIN pg_catalog.pg_type t ON t.oid = u.typid
     WHERE NOT (t.typtype IN ('d', 'r', 'm')
                OR (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)))
  SELECT COALESCE(pg_catalog.array_agg(DISTINCT s.setting), '{}')
    FROM leaf l
   CROSS JOIN LATERAL pg_catalog.unnest(CASE
      WHEN l.typtype = 'e' OR l.typid = ANY ('{bool,int2,int4,int8,oid,numeric,text,varchar,bpchar,name,char,uuid,
                                              json,jsonb,xml,inet,cidr,macaddr,macaddr8,bit,varbit,tsvector,tsquery,
                                              xid,xid8,cid,tid,pg_lsn}'::pg_catalog.regtype[]::oid[])
        THEN '{}'::text[]
      WHEN l.typid = 'pg_catalog.timestamptz'::pg_catalog.regtype THEN '{TimeZone,DateStyle}'
      WHEN l.typid = ANY ('{date,time,timetz,timestamp}'::pg_catalog.regtype[]::oid[]) THEN '{DateStyle}'
      WHEN l.typid = 'pg_catalog.interval'::pg_catalog.regtype THEN '{IntervalStyle}'
      WHEN l.typid = ANY ('{float4,float8,point,lseg,line,box,path,polygon,circle}'::pg_catalog.regtype[]::oid[])
        THEN '{extra_float_digits}'
      WHEN l.typid = 'pg_catalog.bytea'::pg_catalog.regtype THEN '{bytea_output}'
      WHEN l.typid = 'pg_catalog.money'::pg_catalog.regtype THEN '{lc_monetary}'
      ELSE '{TimeZone,DateStyle,IntervalStyle,extra_float_digits,bytea_output,lc_monetary}' END) AS s(setting)
$fn$;
ALTER FUNCTION pgaudit_kit.output_settings(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.output_settings(oid) IS
    'pgaudit-kit: the settings a type''s text output depends on';

-- pgaudit_kit.capture_settings(table) -> text[]: the SET clauses of a table's capture function, exactly
-- as pg_proc.proconfig stores them (name=value, in this order): search_path first, then what its column
-- types need, then enable_nestloop = off in statement mode (a cached generic plan assumes one-row
-- transition tables; its nested-loop join of old and new rows would make a later bulk UPDATE in the same
-- session quadratic). The generator writes them from this list and the invariants compare it.
CREATE FUNCTION pgaudit_kit.capture_settings(p_relid oid) RETURNS text[]
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT ARRAY['search_path=""'] OPERATOR(pg_catalog.||) ARRAY(
    SELECT s.name OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||) s.value
      FROM (VALUES (1, 'TimeZone', 'UTC'), (2, 'DateStyle', 'ISO, YMD'), (3, 'IntervalStyle', 'postgres'),
                   (4, 'extra_float_digits', '1'), (5, 'bytea_output', 'hex'), (6, 'lc_monetary', 'C'),
                   (7, 'enable_nestloop', 'off')) AS s(ord, name, value)
     WHERE s.name IN (SELECT pg_catalog.unnest(pgaudit_kit.output_settings(a.atttypid))
                        FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped)
        OR (s.name = 'enable_nestloop'
            AND EXISTS (SELECT FROM pgaudit_kit.enrolled_table e
                         WHERE e.relid = p_relid AND e.capture_mode = 'statement'))
     ORDER BY s.ord)
$fn$;
ALTER FUNCTION pgaudit_kit.capture_settings(oid) OWNER TO pgaudit_kit_owner;
COMMENT ON FUNCTION pgaudit_kit.capture_settings(oid) IS
    'pgaudit-kit: the settings a table''s capture function pins (as pg_proc.proconfig stores them)';
